# bpprof build: everything generated or compiled lands under $(BUILD).
#   make            build build/bpprof
#   make deps       install missing Debian packages (quiet when all present)
#   make test       deps, build, unit tests (cmocka) and end-to-end tests
#   make run        deps, build, run the main job on its embedded default
#   make bench      deps, build, benchmarks side by side with the named peers
#   make check      includes point downwards, no banned functions or long functions
#   make V=1        show commands;  make SANITIZE=1  ASan+UBSan in build/sanitize

ifeq ($(SANITIZE),1)
BUILD    ?= build/sanitize
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD    ?= build
SANFLAGS :=
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

CC       ?= cc
CLANG    ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL  ?= bpftool
PROTOC_C ?= protoc-c
GO       ?= go

VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
GEN      := $(BUILD)/gen
LIBS     := -lbpf -ldw -lelf -ldeflate -liberty -lprotobuf-c -linih -lzstd -lz -lxxhash -lm -lpthread
CFLAGS   ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing \
            -D_GNU_SOURCE \
            -Ipkg -I$(GEN) -iquote . $(SANFLAGS)
DEPFLAGS  = -MMD -MP
override LDFLAGS += $(SANFLAGS)

# Debian packages needed to build, test and benchmark on a fresh machine.
DEPS_PKGS := gcc g++ make pkg-config clang llvm bpftool libbpf-dev libelf-dev libdw-dev \
             zlib1g-dev libzstd-dev libxxhash-dev libprotobuf-c-dev protobuf-c-compiler \
             libiberty-dev libcurl4-openssl-dev libcmocka-dev golang-go golang-github-google-pprof-dev \
             hyperfine zstd linux-perf time bc libjemalloc-dev bpftrace \
             libmicrohttpd-dev libinih-dev curl jq golang-google-protobuf-dev golang-github-robfig-cron-dev \
             python3-minimal \
             libgoogle-perftools-dev libbpf-tools binutils libc6-dbg libdeflate-dev

PROTO_SRCS := $(wildcard proto/*.proto)
PROTO_C    := $(PROTO_SRCS:%.proto=$(GEN)/%.pb-c.c)
PROTO_H    := $(PROTO_SRCS:%.proto=$(GEN)/%.pb-c.h)
LIB_SRCS   := $(filter-out %_test.c pkg/preload/%,$(wildcard pkg/*/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(PROTO_C:$(GEN)/%.c=$(BUILD)/gen/%.o)
CMD_SRCS   := $(wildcard cmd/bpprof/*.c)
CMD_OBJS   := $(CMD_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS  := $(wildcard pkg/*/*_test.c)
TEST_BINS  := $(TEST_SRCS:pkg/%.c=$(BUILD)/test/%)
LIBA       := $(BUILD)/libbpprof.a

# BPF programs (bpf/*.bpf.c) become skeletons under $(GEN)/bpf.
BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_SKELS  := $(BPF_SRCS:bpf/%.bpf.c=$(GEN)/bpf/%.skel.h)
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
# The kernel types the programs use, pinned per architecture and kept by
# hand (bpf/README.md), so what is built does not depend on the build
# host's kernel. VMLINUX_H=FILE builds against another, e.g. a full dump
# from `make vmlinux-dump BTF=FILE`.
VMLINUX_H  ?= bpf/vmlinux/$(ARCH)/vmlinux.h
BTF        ?= /sys/kernel/btf/vmlinux

GOENV      := GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(abspath $(BUILD))/gocache GOFLAGS=
PPROFCHECK := $(BUILD)/pprofcheck

# Programs the record tests profile: known hot functions, frame pointers,
# -O1 and no sibling calls so the loops and calls the tests look for stay
# as written.
WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOADS     := $(WORKLOAD_SRCS:tests/workloads/%.c=$(BUILD)/workloads/%)
# C++ ones (the heap benchmark's std::map churn): optimised as shipped code is
CXX           ?= g++
WORKLOADS     += $(patsubst tests/workloads/%.cc,$(BUILD)/workloads/%,$(wildcard tests/workloads/*.cc))

# The heap preload library, loaded into commands (LD_PRELOAD), never linked
# into bpprof: no sanitizers (they must come first in a process), hidden
# symbols but the wrapped functions and markers, initial-exec TLS (one load
# on the fast path, nothing allocated on a thread's first use).
PRELOAD_SO     := $(BUILD)/libbpprof-heap.so
PRELOAD_CFLAGS := -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -ftls-model=initial-exec \
                  -fno-omit-frame-pointer -fno-stack-protector -Wall -Wextra -Werror -Wshadow \
                  -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE \
                  -Ipkg -iquote .

.PHONY: all deps check test test-fresh unit e2e e2e-record e2e-heap e2e-unwind e2e-offcpu e2e-lines e2e-push e2e-run e2e-faults cron-peer workloads run bench fuzz clean tools vmlinux-dump FORCE
.DEFAULT_GOAL := all
all: $(BUILD)/bpprof $(PRELOAD_SO)

deps:
	@missing=$$(for p in $(DEPS_PKGS); do \
	    dpkg-query -W -f='$${db:Status-Status}\n' $$p 2>/dev/null | grep -qx installed || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null \
	    || { echo "make deps: apt-get install failed (are you root?)" >&2; exit 1; }; \
	fi

$(BUILD)/bpprof: $(CMD_OBJS) $(LIBA)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CMD_OBJS) $(LIBA) $(LIBS)

$(PRELOAD_SO): pkg/preload/preload.c
	$(call msg,SO,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(PRELOAD_CFLAGS) -MMD -MP -MF $@.d -shared -Wl,-z,defs \
	  -Wl,-z,now -o $@ $<

$(LIBA): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto
	$(call msg,PROTOC,$<)
	$(Q)mkdir -p $(GEN) && $(PROTOC_C) --c_out=$(GEN) $<

$(BUILD)/gen/%.o: $(GEN)/%.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -Wno-missing-prototypes $(DEPFLAGS) -c -o $@ $<

# Rewritten only when the version changes: a new commit relinks with the
# right `bpprof version`, and nothing else rebuilds.
$(GEN)/version.h: FORCE
	$(Q)mkdir -p $(@D) && echo '#define BPPROF_VERSION "$(VERSION)"' >$@.tmp && \
	  { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }
$(CMD_OBJS) $(BUILD)/pkg/daemon/daemon.o: $(GEN)/version.h
FORCE:

# Every object may include generated headers: build them first.
$(BUILD)/%.o: %.c | $(PROTO_H) $(BPF_SKELS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

# The programs include "vmlinux.h": this one line naming $(VMLINUX_H),
# rewritten only when VMLINUX_H names another file (objects then rebuild;
# edits to the header itself are tracked by -MMD).
$(GEN)/vmlinux.h: FORCE
	$(Q)test -f $(VMLINUX_H) || { echo "$(VMLINUX_H): no such file: add it (bpf/README.md)" \
	  "or build with VMLINUX_H=FILE (make vmlinux-dump BTF=FILE writes one)" >&2; exit 1; }
	$(Q)mkdir -p $(@D) && echo '#include "$(abspath $(VMLINUX_H))"' >$@.tmp && \
	  { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }

# Every type of a kernel's BTF (this machine's by default), to look one up
# before adding it to bpf/vmlinux/, or to build against (VMLINUX_H=).
vmlinux-dump:
	$(call msg,BTF,$(GEN)/vmlinux.full.h)
	$(Q)mkdir -p $(GEN) && $(BPFTOOL) btf dump file $(BTF) format c >$(GEN)/vmlinux.full.h.tmp && \
	  mv $(GEN)/vmlinux.full.h.tmp $(GEN)/vmlinux.full.h

# A BPF object and its skeleton, for bpf/ and tests/bench/. clang emits BTF
# and CO-RE's .BTF.ext only with -g; the DWARF that comes along is stripped
# (llvm-strip -g keeps .BTF and .BTF.ext), since libbpf never reads it and
# the skeleton, so bpprof, embeds the whole object.
define bpf_object
	$(call msg,BPF,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) \
	  -I$(GEN) -Ibpf $(DEPFLAGS) -c $< -o $@ && $(LLVM_STRIP) -g $@
endef
define bpf_skeleton
	$(call msg,SKEL,$@)
	$(Q)mkdir -p $(@D) && $(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@
endef

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(GEN)/vmlinux.h
	$(bpf_object)

$(GEN)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(bpf_skeleton)

$(BUILD)/test/%: $(BUILD)/pkg/%.o $(LIBA)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS) -lcmocka

# google/pprof's own parser, built offline from Debian's source package.
$(PPROFCHECK): tests/pprofcheck/main.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(BUILD) && $(GOENV) $(GO) build -o $@ ./tests/pprofcheck

# The loopback Pyroscope/pprof receiver the push and run tests deliver to,
# and robfig/cron as the peer the schedule parser is checked against.
RECEIVER := $(BUILD)/receiver
CRONPEER := $(BUILD)/cronpeer
$(RECEIVER): $(wildcard tests/receiver/*.go)
	$(call msg,GO,$@)
	$(Q)mkdir -p $(BUILD) && $(GOENV) $(GO) build -o $@ ./tests/receiver
$(CRONPEER): tests/cronpeer/main.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(BUILD) && $(GOENV) $(GO) build -o $@ ./tests/cronpeer

# The schedule parser's next times, for the comparison with robfig/cron.
CRONNEXT := $(BUILD)/cron-next
$(CRONNEXT): tests/cron/next.c $(LIBA)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS)

# The symbolizer checked against this machine's kernel, libc and vDSO.
SYMCHECK := $(BUILD)/symcheck
$(SYMCHECK): tests/symcheck/symcheck.c $(LIBA)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS) -ldl

# The kernel types file CO-RE loads use, checked against libbpf's own
# relocation on this machine's kernel.
COREBTFCHECK := $(BUILD)/corebtf_check
$(COREBTFCHECK): tests/corebtf/corebtf_check.c $(LIBA)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS)

tools: $(PPROFCHECK) $(RECEIVER) $(CRONPEER) $(CRONNEXT) $(SYMCHECK) $(COREBTFCHECK)

cron-peer: $(CRONNEXT) $(CRONPEER)
	$(Q)BUILD=$(BUILD) tests/cron/peer.sh

$(BUILD)/workloads/%: tests/workloads/%.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -D_GNU_SOURCE \
	  -Wall -Wextra -Werror -o $@ $< -lpthread

$(BUILD)/workloads/%: tests/workloads/%.cc
	$(call msg,CXX,$<)
	$(Q)mkdir -p $(@D) && $(CXX) -std=gnu++17 -O2 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -o $@ $<

# The allocation workload again, statically linked (malloc in its own
# .symtab) and linked with jemalloc (a second allocator library).
WORKLOADS += $(BUILD)/workloads/alloc-static $(BUILD)/workloads/alloc-jemalloc
$(BUILD)/workloads/alloc-static: tests/workloads/alloc.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -D_GNU_SOURCE \
	  -Wall -Wextra -Werror -DALLOC_STATIC -static -o $@ $< -lpthread
$(BUILD)/workloads/alloc-jemalloc: tests/workloads/alloc.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls -D_GNU_SOURCE \
	  -Wall -Wextra -Werror -o $@ $< -ljemalloc -lpthread

# The source-line workload: -O2, so its always_inline functions are
# inlined as in released code (this rule wins over the pattern's -O1).
$(BUILD)/workloads/inline: tests/workloads/inline.c
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) -std=gnu11 -O2 -g -fno-omit-frame-pointer -fno-shrink-wrap \
	  -fno-optimize-sibling-calls -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ $<

# The unwinding tests' programs: -O2 without frame pointers, so only unwind
# tables walk them; the same without .eh_frame (.debug_frame only); and the
# library it dlopens. The table unit test reads them too.
UNWIND_WL := $(BUILD)/workloads/unwind $(BUILD)/workloads/unwind-nocfi \
             $(BUILD)/workloads/libunwind-dl.so
WORKLOADS += $(UNWIND_WL)
UNWIND_CFLAGS := -std=gnu11 -O2 -g -fomit-frame-pointer -Wall -Wextra -Werror
$(BUILD)/workloads/unwind: tests/workloads/unwind/uw.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(UNWIND_CFLAGS) -o $@ $< -ldl -lpthread
$(BUILD)/workloads/unwind-nocfi: tests/workloads/unwind/uw.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(UNWIND_CFLAGS) -fno-asynchronous-unwind-tables -fno-unwind-tables \
	  -o $@ $< -ldl -lpthread
$(BUILD)/workloads/libunwind-dl.so: tests/workloads/unwind/dl.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(UNWIND_CFLAGS) -shared -fPIC -o $@ $<
$(BUILD)/test/unwind/unwind_test: | $(UNWIND_WL)

# Profiled by gperftools itself (CPUPROFILE, HEAPPROFILE, tcmalloc's sampled
# heap) for the legacy readers; --no-as-needed keeps libprofiler, which the
# program never calls, loaded.
LEGACY_WORKLOAD := $(BUILD)/legacy/gperf
$(LEGACY_WORKLOAD): tests/legacy/gperf.cc
	$(call msg,CXX,$<)
	$(Q)mkdir -p $(@D) && $(CXX) -std=gnu++11 -O1 -g -fno-omit-frame-pointer -fno-optimize-sibling-calls \
	  -Wall -Wextra -Werror -o $@ $< -Wl,--no-as-needed -lprofiler -ltcmalloc

workloads: $(WORKLOADS) $(LEGACY_WORKLOAD)

unit: $(TEST_BINS)
	$(Q)tests/run-unit.sh $(TEST_BINS)

e2e: $(BUILD)/bpprof $(PPROFCHECK) $(LEGACY_WORKLOAD)
	$(Q)BUILD=$(BUILD) tests/e2e.sh

# Profiles real processes: needs root (skipped without it).
e2e-record: $(BUILD)/bpprof $(PPROFCHECK) $(SYMCHECK) $(COREBTFCHECK) workloads
	$(Q)BUILD=$(BUILD) tests/e2e-record.sh

e2e-heap: $(BUILD)/bpprof $(PRELOAD_SO) $(PPROFCHECK) workloads
	$(Q)BUILD=$(BUILD) tests/e2e-heap.sh

e2e-offcpu: $(BUILD)/bpprof $(PPROFCHECK) $(RECEIVER) workloads
	$(Q)BUILD=$(BUILD) tests/e2e-offcpu.sh

# Source lines against addr2line and llvm-symbolizer: needs root too.
e2e-lines: $(BUILD)/bpprof $(PPROFCHECK) workloads
	$(Q)BUILD=$(BUILD) tests/e2e-lines.sh

# Stacks without frame pointers, against readelf and perf's DWARF mode (root).
e2e-unwind: $(BUILD)/bpprof $(PPROFCHECK) $(BUILD)/test/unwind/unwind_test workloads
	$(Q)BUILD=$(BUILD) tests/e2e-unwind.sh

# Pushes to the loopback receiver; e2e-run needs root too (the daemon).
e2e-push: $(BUILD)/bpprof $(PPROFCHECK) $(RECEIVER) $(LEGACY_WORKLOAD)
	$(Q)BUILD=$(BUILD) tests/e2e-push.sh

e2e-run: $(BUILD)/bpprof $(PRELOAD_SO) $(PPROFCHECK) $(RECEIVER) workloads
	$(Q)BUILD=$(BUILD) tests/e2e-run.sh

# The daemon through endpoint faults, SIGTERM and SIGKILL (root; ~4 min).
e2e-faults: $(BUILD)/bpprof $(PPROFCHECK) $(RECEIVER) workloads
	$(Q)BUILD=$(BUILD) tests/e2e-faults.sh

# Includes point downwards, no banned functions, no overlong function.
check:
	$(Q)tests/check.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all tools $(TEST_BINS) workloads
	$(Q)tests/check.sh && tests/run-unit.sh $(TEST_BINS) && BUILD=$(BUILD) tests/cron/peer.sh && \
	  BUILD=$(BUILD) tests/e2e.sh && BUILD=$(BUILD) tests/e2e-record.sh && \
	  BUILD=$(BUILD) tests/e2e-heap.sh && BUILD=$(BUILD) tests/e2e-unwind.sh && \
	  BUILD=$(BUILD) tests/e2e-offcpu.sh && BUILD=$(BUILD) tests/e2e-lines.sh && \
	  BUILD=$(BUILD) tests/e2e-push.sh && BUILD=$(BUILD) tests/e2e-run.sh && \
	  BUILD=$(BUILD) tests/e2e-faults.sh

# The suites that load BPF again, as on a fresh machine: tracefs and debugfs
# unmounted in a private mount namespace (the host's mounts stay).
test-fresh: deps
	$(Q)$(MAKE) --no-print-directory all tools workloads $(BUILD)/test/unwind/unwind_test
	$(Q)BUILD=$(BUILD) tests/fresh.sh

# The main job: 10 s of the whole system at 99 Hz, then its top functions.
run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BUILD)/bpprof record -d 10 -o $(BUILD)/cpu.pb.gz
	$(Q)$(GOENV) $(GO) tool pprof -top -nodecount=15 $(BUILD)/cpu.pb.gz

BENCH_BINS := $(BUILD)/bench/ingest $(BUILD)/bench/push $(BUILD)/bench/lines $(BUILD)/bench/cputime
# The uprobe floor: empty programs at the points bpprof's heap probes use.
include tests/bench/bench.mk
$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIBA)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LIBS)

bench: deps
	$(Q)$(MAKE) --no-print-directory all tools workloads $(BENCH_BINS)
	$(Q)BUILD=$(BUILD) tests/bench/record.sh
	$(Q)BUILD=$(BUILD) tests/bench/unwind.sh
	$(Q)BUILD=$(BUILD) tests/bench/heap.sh
	$(Q)BUILD=$(BUILD) GOENV="$(GOENV)" tests/bench/convert.sh
	$(Q)BUILD=$(BUILD) tests/bench/push.sh
	$(Q)BUILD=$(BUILD) tests/bench/offcpu.sh
	$(Q)BUILD=$(BUILD) tests/bench/lines.sh

# libFuzzer over every reader of untrusted bytes; FUZZ_SECONDS=60 by default.
# Its own clang build of the library sources: sanitizer and coverage flags
# must reach every object.
FUZZ_BIN := $(BUILD)/fuzz/fuzz_input
$(FUZZ_BIN): tests/fuzz/fuzz_input.c $(LIB_SRCS) $(PROTO_C) $(BPF_SKELS) $(GEN)/version.h $(wildcard pkg/*/*.h bpf/*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE \
	  -Ipkg -I$(GEN) -iquote . -o $@ tests/fuzz/fuzz_input.c $(LIB_SRCS) $(PROTO_C) $(LIBS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BIN)
	$(Q)FUZZ_BIN=$(FUZZ_BIN) tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

clean:
	rm -rf build

# Generated sources are kept between runs, not deleted as intermediates;
# a rule that fails leaves no half-written target that looks up to date.
.SECONDARY:
.DELETE_ON_ERROR:

-include $(wildcard $(PRELOAD_SO).d $(patsubst %.o,%.d,$(LIB_OBJS) $(CMD_OBJS) $(BENCH_BINS:$(BUILD)/bench/%=$(BUILD)/tests/bench/%.o)) \
  $(TEST_BINS:$(BUILD)/test/%=$(BUILD)/pkg/%.d) $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.d))
