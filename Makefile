# tcp-forwarder: one non-recursive Makefile. The source lists below are the
# module map. `make` builds the binaries; `make test` installs what is
# missing, then runs units, sanitizer units, integration tests and fuzzers.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BUILD      ?= build
SAN        ?=
CC         ?= cc
OPT        ?= -O2

O          := $(BUILD)/obj
BIN        := $(BUILD)/bin

WARN    := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
           -Wshadow -Wpointer-arith -Wcast-qual -Wno-missing-field-initializers
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -pthread \
           -DTCPFWD_VERSION='"$(VERSION)"' \
           $(shell pkg-config --cflags yaml-0.1 jansson 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS  := -lnng $(shell pkg-config --libs yaml-0.1 jansson 2>/dev/null) -pthread -lm
LDFLAGS := $(EXTRA_LDFLAGS)

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

COMMON_SRCS := \
	common/log.c \
	common/notify.c \
	common/addr.c \
	common/conf.c \
	common/daemon.c \
	common/conf_types.c \
	common/config.c \
	common/evloop.c \
	common/ipc.c \
	common/iplist.c \
	common/state.c

PROTO_SRCS := \
	proto/proto.c \
	proto/proto_activeset.c \
	proto/proto_report.c

DP_LIB_SRCS := \
	dataplane/activeset.c \
	dataplane/backend.c \
	dataplane/dial.c \
	dataplane/handover.c \
	dataplane/lb.c \
	dataplane/limits.c \
	dataplane/listener.c \
	dataplane/pipes.c \
	dataplane/pool.c \
	dataplane/pool_sizing.c \
	dataplane/pump.c \
	dataplane/report.c \
	dataplane/session.c \
	dataplane/worker.c
DP_MAIN_SRCS := dataplane/dp_main.c dataplane/dp_upgrade.c

# The status page (controlplane/status_page.html) as a C array, generated
# with od and sed so the binary serves it with no file to install.
STATUS_PAGE_C := $(BUILD)/gen/status_page.c

CP_LIB_SRCS := \
	controlplane/admin.c \
	controlplane/admin_routes.c \
	controlplane/dataplanes.c \
	controlplane/metrics.c \
	controlplane/probe.c \
	controlplane/rounds.c \
	controlplane/sampler.c \
	controlplane/score.c \
	controlplane/scoreboard.c \
	controlplane/selection.c \
	controlplane/selector.c \
	$(STATUS_PAGE_C)
CP_MAIN_SRCS := $(if controlplane/admin.c,controlplane/cp_main.c)
CTL_SRCS := controlplane/ctl/tcpfwdctl.c

TOOL_SRCS := tests/tools/tfwd-backend.c tests/tools/tfwd-client.c \
             tests/tools/tfwd-cp.c

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

obj = $(patsubst %.c,$(O)/%.o,$(1))

LIBCOMMON := $(O)/libcommon.a
LIBDP     := $(O)/libdp.a
LIBCP     := $(O)/libcp.a

DAEMONS := $(BIN)/tcpfwd-dataplane
ifneq ($(CP_MAIN_SRCS),)
DAEMONS += $(BIN)/tcpfwd-controlplane
endif
ifneq ($(CTL_SRCS),)
DAEMONS += $(BIN)/tcpfwdctl
endif
TOOLS   := $(patsubst tests/tools/%.c,$(BIN)/%,$(TOOL_SRCS))
UNITS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all tools units test test-unit test-integration test-asan fuzz \
        fuzz-short bench demo install deps check clean format

all: $(DAEMONS) tools

tools: $(TOOLS)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRCS) $(PROTO_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBDP): $(call obj,$(DP_LIB_SRCS))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBCP): $(call obj,$(CP_LIB_SRCS)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $(call obj,$(CP_LIB_SRCS))

$(BIN)/tcpfwd-dataplane: $(call obj,$(DP_MAIN_SRCS)) $(LIBDP) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/tcpfwd-controlplane: $(call obj,$(CP_MAIN_SRCS)) $(LIBCP) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/tcpfwdctl: $(call obj,$(CTL_SRCS)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/tfwd-%: $(O)/tests/tools/tfwd-%.o $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(O)/tests/unit/%.o $(LIBCP) $(LIBDP) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(shell pkg-config --libs cmocka) -o $@

units: $(UNITS)

$(STATUS_PAGE_C): controlplane/status_page.html
	@mkdir -p $(dir $@)
	{ echo '/* generated from $< by the Makefile: do not edit */'; \
	  echo '#include <stddef.h>'; \
	  echo 'const unsigned char status_page_html[] = {'; \
	  od -An -v -tx1 $< | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00 };'; \
	  echo 'const size_t status_page_html_len ='; \
	  echo '    sizeof(status_page_html) - 1;'; } >$@.tmp && mv $@.tmp $@

# ---- tests ---------------------------------------------------------------

# Debian packages the build and the tests need; installed when missing and
# we are root (a fresh CI machine), otherwise reported. Services the
# packages bring (nginx, redis, haproxy) are not started: policy-rc.d.
DEB_PKGS := build-essential pkg-config libnng-dev libyaml-dev libjansson-dev \
            libcmocka-dev clang libclang-rt-14-dev iproute2 nftables procps \
            prometheus haproxy nginx libnginx-mod-stream psmisc curl \
            jq python3 redis-server redis-tools iperf3 chromium mandoc \
            systemd man-db groff-base valgrind

deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
			grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			rcd=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
				printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; \
				chmod 755 /usr/sbin/policy-rc.d; rcd=1; fi; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y \
				--no-install-recommends $$missing || \
			{ apt-get update && DEBIAN_FRONTEND=noninteractive \
			  apt-get install -y --no-install-recommends $$missing; }; \
			rc=$$?; [ -z "$$rcd" ] || rm -f /usr/sbin/policy-rc.d; \
			[ $$rc = 0 ] || exit $$rc; \
		else \
			echo "missing packages:$$missing (run as root or install them)"; \
			exit 1; \
		fi; \
	fi

check:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol)\s*\(' \
		common/*.c proto/*.c dataplane/*.c controlplane/*.c \
		controlplane/ctl/*.c 2>/dev/null || \
		{ echo "banned function used (see above)"; exit 1; }

test-unit: units
	@tests/run-units.sh $(BUILD)/tests

test-integration: all
	@tests/integration/run.sh $(BUILD)

# SPEC 7 and issue 5's faults, each in network namespaces of its own (root)
.PHONY: test-faults
test-faults: all
	@tests/faults/run.sh $(BUILD)

test-asan:
	$(MAKE) BUILD=build/asan SAN=1 OPT=-O1 all units
	tests/run-units.sh build/asan/tests
	tests/integration/run.sh build/asan
	tests/faults/run.sh build/asan

# The scenarios run once, on the ASan/UBSan build, which catches what the
# plain one would and more (a fresh clone took 1141 s with both, over the
# 15 min budget); `make test-release` runs them on the plain build. The
# plain build still runs its units and t_90 (valgrind needs it).
test: deps
	$(MAKE) check
	$(MAKE) all units
	tests/run-units.sh $(BUILD)/tests
	$(MAKE) test-asan
	tests/integration/run.sh $(BUILD) 't_90_'
	$(MAKE) test-tsan
	$(MAKE) fuzz-short

# Every scenario on the plain (-O2) build, as users run it.
.PHONY: test-release
test-release: all units
	tests/run-units.sh $(BUILD)/tests
	tests/integration/run.sh $(BUILD)
	tests/faults/run.sh $(BUILD)

# ---- fuzzing -------------------------------------------------------------

FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined \
	$(shell pkg-config --cflags yaml-0.1 jansson 2>/dev/null)
FUZZ_LIB_SRCS := $(COMMON_SRCS) $(PROTO_SRCS) $(CP_LIB_SRCS)
FUZZERS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 300

# An archive, so each fuzzer links only the objects it needs.
FUZZ_LIB := $(FUZZ_BUILD)/libfuzz.a

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

$(FUZZ_LIB): $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRCS))
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $^ -lnng $(shell pkg-config --libs yaml-0.1 jansson) \
		-pthread -lm -o $@

fuzz-build: $(FUZZERS)

fuzz-short: $(FUZZERS)
	tests/fuzz/run.sh $(FUZZ_BUILD) 20

fuzz: $(FUZZERS)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# ---- soak (issue 5; not in `make test`) -----------------------------------

.PHONY: soak

# make soak DURATION=600: mixed load with control-plane kills and data-plane
# upgrades for DURATION seconds; see tests/soak/soak.sh.
soak: all
	tests/soak/soak.sh $(BUILD) $(or $(DURATION),600)

# ---- ThreadSanitizer and valgrind (issue 5) --------------------------------

.PHONY: test-tsan test-valgrind

TSAN_UNITS := test_limits test_evloop test_ipc test_admin

# The threaded unit tests and the multi-worker scenarios under TSan (clang;
# nng is not instrumented: tests/tsan.supp); see tests/run-tsan.sh.
test-tsan:
	$(MAKE) BUILD=build/tsan CC=clang OPT=-O1 \
		EXTRA_CFLAGS='-fsanitize=thread -fno-omit-frame-pointer' \
		EXTRA_LDFLAGS=-fsanitize=thread \
		all $(patsubst %,build/tsan/tests/%,$(TSAN_UNITS))
	tests/run-tsan.sh build/tsan

# Both daemons under valgrind memcheck: t_90 (in make test too) and the
# scenarios of tests/run-valgrind.sh, no leak or error allowed.
test-valgrind: all
	tests/integration/run.sh $(BUILD) 't_90_'
	tests/run-valgrind.sh $(BUILD)

# ---- bench, demo, install ------------------------------------------------

bench: deps all
	tests/bench/run.sh $(BUILD)

demo: all
	deploy/demo.sh $(BUILD)

install: all
	deploy/install.sh "$(DESTDIR)" "$(PREFIX)" "$(BUILD)"

format:
	clang-format -i common/*.[ch] proto/*.[ch] dataplane/*.[ch]

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
