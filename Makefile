# rmail: one binary, one loop. See README.md and ../shared/DESIGN.md.
#
#   make            build ./rmail (objects under build/rel)
#   make run        build, create ./run (dev instance) once, serve in the foreground
#   make test       unit + e2e tests, then again on an ASan+UBSan build
#   make bench      figures as JSON lines
#   make fuzz       libFuzzer targets (build/fuzz); make fuzz-smoke runs each briefly
#   make asan       build build/asan/rmail only
#   make install    PREFIX=/usr/local DESTDIR= (binary, man pages, docs, unit)
#   make deb        build/deb/rmail_VERSION_ARCH.deb with dpkg-deb

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

.PHONY: all asan deps run test unit e2e bench clean test-one install deb
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
	@$(MAKE) --no-print-directory -j$$(nproc) fuzz-smoke FUZZ_SECS=10
	@echo "make test: all suites passed (rel, asan, fuzz smoke)"

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
	@RMAIL_BIN=$(abspath rmail) /usr/bin/python3 tests/bench/bench_reliability.py
	@$(MAKE) --no-print-directory -s fuzz-smoke FUZZ_SECS=30

# ---- install and package ----
PREFIX	?= /usr/local
SBINDIR	?= $(PREFIX)/sbin
MANDIR	?= $(PREFIX)/share/man
DOCDIR	?= $(PREFIX)/share/doc/rmail
UNITDIR	?= $(PREFIX)/lib/systemd/system
# The config path is compiled in (/etc/rmail/rmail.json, or -c): not PREFIX's.
CONFDIR	:= /etc/rmail
DOCS	:= docs/config.md docs/operations.md

install: rmail
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(CONFDIR)
	install -m 0755 rmail $(DESTDIR)$(SBINDIR)/rmail
	install -m 0644 packaging/man/rmail.8 $(DESTDIR)$(MANDIR)/man8/rmail.8
	install -m 0644 packaging/man/rmail.json.5 $(DESTDIR)$(MANDIR)/man5/rmail.json.5
	@# README's links into docs/ hold in the installed copy too.
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/docs/
	sed 's|@SBINDIR@|$(SBINDIR)|g' packaging/rmail.service.in \
	    > $(DESTDIR)$(UNITDIR)/rmail.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/rmail.service
	@# Never over a config someone made.
	test -e $(DESTDIR)$(CONFDIR)/rmail.json || \
	    install -m 0644 packaging/rmail.json.sample $(DESTDIR)$(CONFDIR)/rmail.json

# A .deb from the tree with dpkg-deb alone (no debhelper): the Debian
# layout, stripped binary, compressed man pages and changelog, md5sums.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB	:= build/deb/rmail_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT := build/deb/root

deb: $(DEB)

$(DEB): rmail packaging/rmail.service.in packaging/rmail.json.sample \
    packaging/debian/* packaging/man/* README.md $(DOCS) Makefile
	rm -rf $(DEB_ROOT) && mkdir -p $(DEB_ROOT)/DEBIAN
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) \
	    PREFIX=/usr UNITDIR=/lib/systemd/system
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	    $(DEB_ROOT)/usr/sbin/rmail
	gzip -9n $(DEB_ROOT)/usr/share/man/man8/rmail.8 \
	    $(DEB_ROOT)/usr/share/man/man5/rmail.json.5
	install -m 0644 packaging/debian/copyright $(DEB_ROOT)/usr/share/doc/rmail/
	printf 'rmail ($(VERSION)) unstable; urgency=medium\n\n  * Built from the rmail tree.\n\n -- rmail developers <rmail-dev@rmail.invalid>  %s\n' \
	    "$$(date -R -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)})" \
	    | gzip -9n > $(DEB_ROOT)/usr/share/doc/rmail/changelog.Debian.gz
	install -m 0644 packaging/debian/conffiles $(DEB_ROOT)/DEBIAN/
	install -m 0755 packaging/debian/postinst packaging/debian/prerm \
	    packaging/debian/postrm $(DEB_ROOT)/DEBIAN/
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' \
	    -e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)|" \
	    packaging/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' \
	    -printf '%P\0' | sort -z | xargs -0 md5sum > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $@

clean:
	rm -rf build rmail

# make fuzz, make fuzz-smoke
-include tests/fuzz/fuzz.mk

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_BIN:=.d)
