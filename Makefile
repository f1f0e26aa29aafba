# mailu-cert-agent — see README.md. `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := all

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
SRCS := $(wildcard agent/*.c)
LIB_SRCS := $(filter-out agent/main.c,$(SRCS))

WARN := -std=c17 -Wall -Wextra -Werror -Wshadow -Wconversion -Wno-sign-conversion \
	-Wformat=2 -Wstrict-prototypes -Wmissing-prototypes -Wvla
DEFS := -D_GNU_SOURCE -DMCA_VERSION='"$(VERSION)"'
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
HARDEN_LD := -pie -Wl,-z,relro,-z,now
LIBS := -lcurl -lssl -lcrypto -lcares -ljansson -lresolv -lpthread

# dev: glibc, optimised, hardened
DEV := build/dev
DEV_CFLAGS := $(WARN) $(DEFS) -O2 -g $(HARDEN) -MMD -MP
# asan: what the tests run
ASAN := build/asan
ASAN_CFLAGS := $(WARN) $(DEFS) -DMCA_TEST_HOOKS -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all -MMD -MP
# static: the release binary, musl + our static OpenSSL/libcurl/jansson
STATIC := build/static

.SECONDARY:
.PHONY: all static image test unit integration bench demo deps clean install fuzz fuzz-smoke \
	docs docs-check
all: $(DEV)/mailu-cert-agent

$(DEV)/%.o: agent/%.c | $(DEV)
	$(CC) $(DEV_CFLAGS) -c $< -o $@
$(DEV)/mailu-cert-agent: $(SRCS:agent/%.c=$(DEV)/%.o)
	$(CC) $(HARDEN_LD) -o $@ $^ $(LIBS)

$(ASAN)/%.o: agent/%.c | $(ASAN)
	$(CC) $(ASAN_CFLAGS) -c $< -o $@
$(ASAN)/mailu-cert-agent: $(SRCS:agent/%.c=$(ASAN)/%.o)
	$(CC) -fsanitize=address,undefined -o $@ $^ $(LIBS)

# Unit tests: one program per module, linked with the asan objects.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(ASAN)/%)
$(ASAN)/test_%.o: tests/unit/test_%.c tests/unit/harness.h | $(ASAN)
	$(CC) $(ASAN_CFLAGS) -Wno-missing-prototypes -Iagent -c $< -o $@
$(ASAN)/test_%: $(ASAN)/test_%.o $(LIB_SRCS:agent/%.c=$(ASAN)/%.o)
	$(CC) -fsanitize=address,undefined -o $@ $^ $(LIBS)

# The Engine API driver of tests/integration/08-docker-api.sh.
$(ASAN)/docker-driver: tests/tools/docker-driver.c $(LIB_SRCS:agent/%.c=$(ASAN)/%.o) | $(ASAN)
	$(CC) $(ASAN_CFLAGS) -Iagent -o $@ $< $(LIB_SRCS:agent/%.c=$(ASAN)/%.o) $(LIBS)

# acme-select: the Traefik source's pick, timed (tests/tools/acme-select.c);
# dev flags, and a static musl one that behaves as the release binary does.
$(DEV)/acme-select: tests/tools/acme-select.c $(LIB_SRCS:agent/%.c=$(DEV)/%.o) | $(DEV)
	$(CC) $(DEV_CFLAGS) -Iagent $(HARDEN_LD) -o $@ $< $(LIB_SRCS:agent/%.c=$(DEV)/%.o) $(LIBS)
$(STATIC)/acme-select: tests/tools/acme-select.c $(LIB_SRCS) $(wildcard agent/*.h) | $(STATIC)
	P=$$(scripts/static-deps.sh) && musl-gcc -static $(WARN) $(DEFS) -O2 \
		-fstack-protector-strong -D_FORTIFY_SOURCE=2 -ffunction-sections -fdata-sections -Wl,--gc-sections \
		-idirafter $$P/kernel-include -I$$P/include -Iagent -o $@ $< $(LIB_SRCS) \
		-L$$P/lib $(LIBS)

# The TLS load generator of tests/integration/61-zero-downtime.sh: optimised
# (it shares 2 cores with the front), and an ASan build to check the tool.
$(DEV)/tls-load: tests/tools/tls-load.c | $(DEV)
	$(CC) $(DEV_CFLAGS) $(HARDEN_LD) -o $@ $< -lssl -lcrypto -lpthread
$(ASAN)/tls-load: tests/tools/tls-load.c | $(ASAN)
	$(CC) $(ASAN_CFLAGS) -o $@ $< -lssl -lcrypto -lpthread

$(DEV) $(ASAN) $(STATIC):
	mkdir -p $@

static: $(STATIC)/mailu-cert-agent
$(STATIC)/mailu-cert-agent: $(SRCS) $(wildcard agent/*.h) scripts/static-deps.sh Makefile | $(STATIC)
	@P=$$(scripts/static-deps.sh) && set -x && \
	musl-gcc -static $(WARN) $(DEFS) -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
		-ffunction-sections -fdata-sections -Wl,--gc-sections \
		-idirafter $$P/kernel-include -I$$P/include -o $@ $(SRCS) \
		-L$$P/lib $(LIBS) && strip $@
	@file $@

image: static
	tests/lib/image-build.sh $(STATIC)/mailu-cert-agent

unit: $(UNIT_BINS)
	tests/run-unit.sh $(UNIT_BINS)

# docs/reference.md's Settings are printed by the binary from the table
# --help prints (agent/config_table.c), so --help and the docs cannot
# drift: docs-check fails when the committed text differs from what the
# binary prints; `make docs` writes it (scripts/docs-check.sh).
docs-check: $(DEV)/mailu-cert-agent
	scripts/docs-check.sh $(DEV)/mailu-cert-agent
docs: $(DEV)/mailu-cert-agent
	scripts/docs-check.sh --update $(DEV)/mailu-cert-agent

# the dev build too: tests/integration/64-valgrind.sh runs it under valgrind;
# tls-load is the load generator of tests/integration/61-zero-downtime.sh
integration: $(ASAN)/mailu-cert-agent $(ASAN)/docker-driver $(DEV)/mailu-cert-agent \
	$(DEV)/tls-load
	tests/run-integration.sh

# Benchmarks (tests/bench/bench.sh): one table of measured values against
# issue 8's targets, also in build/bench/results.md. Not part of `test`;
# a missed target never fails it.
bench:
	scripts/install-deps.sh
	$(MAKE) static
	tests/bench/bench.sh

# test and demo install what they need first (fast when already there)
test:
	scripts/install-deps.sh
	$(MAKE) unit
	$(MAKE) docs-check
	$(MAKE) fuzz-smoke
	$(MAKE) integration

demo:
	scripts/install-deps.sh
	$(MAKE) all
	scripts/demo.sh

deps:
	scripts/install-deps.sh

clean:
	rm -rf build

# ---------------------------------------------------------------------------
# Fuzzing: libFuzzer targets tests/fuzz/fuzz_NAME.c over the parsers of
# outside input, linked with the agent objects built for fuzzing (clang-14,
# ASan + UBSan + LeakSanitizer) in build/fuzz. `make fuzz` runs each target
# for FUZZ_SECONDS over build/fuzz/corpus-NAME (a copy of the committed
# seeds in tests/fuzz/corpus/NAME, which it never writes to); `make
# fuzz-smoke` (part of `make test`) runs each for FUZZ_SMOKE_SECONDS and
# fails on any crash, leak or timeout. See tests/fuzz/run.sh.
FUZZ := build/fuzz
FUZZ_CC := clang-14
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := $(WARN) $(DEFS) -O1 -g -fno-omit-frame-pointer -MMD -MP
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ):
	mkdir -p $@
$(FUZZ)/%.o: agent/%.c | $(FUZZ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@
$(FUZZ)/fuzz_%.o: tests/fuzz/fuzz_%.c | $(FUZZ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -Iagent -c $< -o $@
$(FUZZ)/fuzz_%: $(FUZZ)/fuzz_%.o $(LIB_SRCS:agent/%.c=$(FUZZ)/%.o)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LIBS)

fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)
fuzz-smoke: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BINS)

-include $(wildcard $(FUZZ)/*.d)
# ---------------------------------------------------------------------------

-include $(wildcard $(DEV)/*.d $(ASAN)/*.d)
