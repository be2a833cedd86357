# libFuzzer targets (tests/fuzz/README.md). Included by the top-level
# Makefile after BASE_CFLAGS, PKG_LIBS and LIB_SRC are defined.
#
#   make fuzz            build every target into build/fuzz/fuzz_NAME
#   make fuzz-smoke      build, then run each for FUZZ_SECS seconds over a
#                        scratch copy of its seed corpus plus its regression
#                        inputs; one JSON line per target and a total
#
# The library is compiled here, with clang, into build/fuzz/obj (never into
# build/rel or build/asan).

FUZZ_CC		?= clang-14
FUZZ_OUT	?= build/fuzz
FUZZ_SECS	?= 15
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS	:= $(filter-out -MMD -MP,$(BASE_CFLAGS)) -MMD -MP -g -O1 \
		   -fno-omit-frame-pointer $(FUZZ_SAN)
FUZZ_TARGETS	:= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS	:= $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)
FUZZ_LIB_OBJ	:= $(LIB_SRC:%.c=$(FUZZ_OUT)/obj/%.o)

.PHONY: fuzz fuzz-smoke
fuzz: $(FUZZ_BINS)

$(FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/librmail.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_OUT)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/tests/fuzz/fuzz_%.o $(FUZZ_OUT)/librmail.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_OUT)/librmail.a \
	    $(PKG_LIBS)

fuzz-smoke: fuzz
	@FUZZ_OUT=$(FUZZ_OUT) FUZZ_SECS=$(FUZZ_SECS) sh tests/fuzz/run.sh \
	    $(FUZZ_TARGETS)

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_OUT)/obj/tests/fuzz/fuzz_%.d)

# Keep the targets' objects (make would delete them as intermediate).
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_OUT)/obj/tests/fuzz/fuzz_%.o)
