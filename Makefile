# mailu-cert-agent — see README.md. `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := all

# --abbrev: the auto length grows with the repository's object count, so a
# fresh clone could name the same commit shorter (and give other bytes)
VERSION := $(shell git describe --tags --always --abbrev=12 --dirty 2>/dev/null || echo 0.0.0-dev)
# sorted: the link order, so the release bytes, never follow the directory's
SRCS := $(sort $(wildcard agent/*.c))
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
# static: the release binaries, musl + our static OpenSSL/libcurl/jansson/
# c-ares (scripts/static-deps.sh ARCH). Reproducible: the prefix maps keep
# the clone's and the deps cache's paths out, the deps embed none, and the
# sources link in a fixed order (make test-repro builds twice and compares).
STATIC := build/static
STATIC_ARM64 := build/static-arm64
STATIC_CFLAGS := $(WARN) $(DEFS) -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	-ffunction-sections -fdata-sections -ffile-prefix-map=$(CURDIR)/=

.SECONDARY:
.PHONY: all static image test unit integration bench demo deps clean install fuzz fuzz-smoke \
	docs docs-check static-arm64 image-arm64 test-release test-repro test-arm64 test-docker-build
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

$(DEV) $(ASAN) $(STATIC) $(STATIC_ARM64):
	mkdir -p $@

# static_link ARCH: $@ from the agent's sources and ARCH's deps, stripped;
# prints file(1) and the sha256 (README, "Reproduce the release binary")
define static_link
	@P=$$(scripts/static-deps.sh $(1)) && set -x && \
	$(1)-linux-musl-gcc -static $(STATIC_CFLAGS) \
		-ffile-prefix-map=$$P/=/usr/local/lib/mailu-cert-agent/ \
		-idirafter $$P/kernel-include -I$$P/include -o $@ $(SRCS) \
		-Wl,--gc-sections -L$$P/lib $(LIBS) && $(1)-linux-gnu-strip $@
	@file $@ && sha256sum $@
endef

static: $(STATIC)/mailu-cert-agent
$(STATIC)/mailu-cert-agent: $(SRCS) $(wildcard agent/*.h) scripts/static-deps.sh Makefile | $(STATIC)
	$(call static_link,x86_64)
# aarch64, cross-built on x86_64 (Debian's gcc-aarch64-linux-gnu, musl-dev:arm64)
static-arm64: $(STATIC_ARM64)/mailu-cert-agent
$(STATIC_ARM64)/mailu-cert-agent: $(SRCS) $(wildcard agent/*.h) scripts/static-deps.sh Makefile \
		| $(STATIC_ARM64)
	@command -v aarch64-linux-musl-gcc >/dev/null || \
		{ echo "static-arm64: no aarch64-linux-musl-gcc: scripts/install-deps.sh --arm64 (as root)" >&2; exit 1; }
	$(call static_link,aarch64)

image: static
	tests/lib/image-build.sh $(STATIC)/mailu-cert-agent
# mailu-cert-agent:arm64 (linux/arm64), never :latest
image-arm64: static-arm64
	tests/lib/image-build.sh --arch arm64 $(STATIC_ARM64)/mailu-cert-agent

# The release checks (tests/release/), not in `make test`: slow, and
# test-arm64 needs the cross toolchain and qemu-user (install-deps.sh
# --arm64). Times in docs/testing.md. test-repro: two cold builds from
# other clone and cache folders give the same bytes; test-docker-build:
# `docker build` of a fresh clone gives make static's bytes; test-arm64:
# the arm64 binary under qemu-user against the front, and its image.
test-release:
	$(MAKE) test-repro
	$(MAKE) test-docker-build
	$(MAKE) test-arm64
test-repro:
	scripts/install-deps.sh
	tests/release/repro.sh
test-docker-build:
	scripts/install-deps.sh
	$(MAKE) static
	MCA_AGENT=$(CURDIR)/$(STATIC)/mailu-cert-agent \
		tests/run-integration.sh $(CURDIR)/tests/release/docker-build.sh
test-arm64:
	scripts/install-deps.sh --arm64
	$(MAKE) static-arm64
	MCA_AGENT=$(CURDIR)/$(STATIC_ARM64)/mailu-cert-agent \
		tests/run-integration.sh $(CURDIR)/tests/release/arm64.sh

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
