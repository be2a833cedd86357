# rmail: one binary, one loop. See README.md and ../shared/DESIGN.md.
#
#   make            build ./rmail (objects under build/rel)
#   make run        build, create ./run (dev instance) once, serve in the foreground
#   make test       unit + e2e tests, then again on an ASan+UBSan build
#   make bench      figures as JSON lines
#   make asan       build build/asan/rmail only

VERSION	:= 0.1.0
CC	?= cc
PKGS	:= openssl libcares jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lev -lpthread
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN	:= -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes
DEFS	:= -D_GNU_SOURCE -DRMAIL_VERSION='"$(VERSION)"'
BASE_CFLAGS := $(WARN) $(DEFS) -I. $(PKG_CFLAGS) -MMD -MP

# Build variant: rel (default) or asan.
BUILD	?= rel
ifeq ($(BUILD),asan)
OPT	:= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDOPT	:= -fsanitize=address,undefined
else
OPT	:= -O2 -g
LDOPT	:=
endif
# OUT and BIN may be overridden to build a private copy (parallel work).
OUT	?= build/$(BUILD)

LIB_SRC	:= $(wildcard core/*.c config/*.c store/*.c relay/*.c smtp/*.c imap/*.c)
CMD_SRC	:= $(wildcard cmd/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)

LIB_OBJ	:= $(LIB_SRC:%.c=$(OUT)/%.o)
CMD_OBJ	:= $(CMD_SRC:%.c=$(OUT)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
BIN	?= $(if $(filter rel,$(BUILD)),rmail,$(OUT)/rmail)

.PHONY: all asan deps run test unit e2e bench clean test-one
all: $(BIN)

$(OUT)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT) $(CFLAGS) -c $< -o $@

$(OUT)/librmail.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(OUT)/librmail.a
	$(CC) $(LDOPT) $(LDFLAGS) -o $@ $(CMD_OBJ) $(OUT)/librmail.a $(PKG_LIBS)

$(OUT)/bench/%: tests/bench/%.c $(OUT)/librmail.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT) $(CFLAGS) $(LDOPT) -o $@ $< $(OUT)/librmail.a $(PKG_LIBS)

$(OUT)/tests/%: tests/unit/%.c $(OUT)/librmail.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(OPT) $(CFLAGS) $(LDOPT) -o $@ $< $(OUT)/librmail.a $(PKG_LIBS) $(CMOCKA_LIBS)

asan:
	@$(MAKE) --no-print-directory BUILD=asan all

deps:
	@sh packaging/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@sh packaging/dev-run.sh

# One variant: unit tests, then e2e against that variant's binary.
test-one: $(BIN) $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)
	@RMAIL_BIN=$(abspath $(BIN)) RMAIL_BUILD=$(BUILD) /usr/bin/python3 tests/e2e/run.py

test: deps
	@$(MAKE) --no-print-directory BUILD=rel test-one
	@$(MAKE) --no-print-directory BUILD=asan test-one
	@echo "make test: all suites passed (rel and asan)"

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

e2e: $(BIN)
	@RMAIL_BIN=$(abspath $(BIN)) RMAIL_BUILD=$(BUILD) /usr/bin/python3 tests/e2e/run.py $(T)

bench: deps
	@$(MAKE) --no-print-directory all build/rel/bench/bench_store
	@RMAIL_BIN=$(abspath rmail) /usr/bin/python3 tests/bench/bench.py
	@d=$$(mktemp -d /tmp/rmail-bench-XXXXXX) && build/rel/bench/bench_store $$d; \
	    rc=$$?; rm -rf $$d; exit $$rc
	@RMAIL_BIN=$(abspath rmail) /usr/bin/python3 tests/bench/bench_smtp.py
	@RMAIL_BIN=$(abspath rmail) /usr/bin/python3 tests/bench/bench_imap.py
	@RMAIL_BIN=$(abspath rmail) /usr/bin/python3 tests/bench/bench_relay.py

clean:
	rm -rf build rmail

# make fuzz, make fuzz-smoke
-include tests/fuzz/fuzz.mk

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_BIN:=.d)
