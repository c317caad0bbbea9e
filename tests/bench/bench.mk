# Benchmark helpers beyond the plain $(BUILD)/bench/% programs; included from
# the Makefile (uses its BUILD, GEN, bpf_object, bpf_skeleton, CFLAGS, LIBA,
# LIBS, Q, msg).
#
# uprobe_floor (tests/bench/heap.sh's floor rows): empty uprobes at bpprof's
# own heap attach points. Its BPF object (tests/bench/floor.bpf.c) becomes a
# skeleton under $(GEN)/bench; the program links as every bench program does,
# through the $(BUILD)/bench/% rule.
BENCH_FLOOR_BPF  := $(BUILD)/bench/bpf/floor.bpf.o
BENCH_FLOOR_SKEL := $(GEN)/bench/floor.skel.h
BENCH_BINS       += $(BUILD)/bench/uprobe_floor

$(BENCH_FLOOR_BPF): tests/bench/floor.bpf.c $(GEN)/vmlinux.h
	$(bpf_object)

$(BENCH_FLOOR_SKEL): $(BENCH_FLOOR_BPF)
	$(bpf_skeleton)

# Compiled by the Makefile's $(BUILD)/%.o rule; it includes the skeleton.
$(BUILD)/tests/bench/uprobe_floor.o: $(BENCH_FLOOR_SKEL)

# libinterpose.so (tests/bench/heap.sh's floor-preload row): an LD_PRELOAD
# heap wrapper that only passes each call on, built as the preload library.
BENCH_INTERPOSE := $(BUILD)/bench/libinterpose.so
BENCH_BINS      += $(BENCH_INTERPOSE)

$(BENCH_INTERPOSE): tests/bench/interpose.c
	$(call msg,SO,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(PRELOAD_CFLAGS) -fno-plt -shared -Wl,-z,defs -Wl,-z,now -o $@ $<

# switch_floor (tests/bench/offcpu.sh's floor row): programs that only read
# the clock on the two tracepoints bpprof's off-CPU programs use.
BENCH_SWITCH_BPF  := $(BUILD)/bench/bpf/switch_floor.bpf.o
BENCH_SWITCH_SKEL := $(GEN)/bench/switch_floor.skel.h
BENCH_BINS        += $(BUILD)/bench/switch_floor

$(BENCH_SWITCH_BPF): tests/bench/switch_floor.bpf.c $(GEN)/vmlinux.h
	$(bpf_object)

$(BENCH_SWITCH_SKEL): $(BENCH_SWITCH_BPF)
	$(bpf_skeleton)

$(BUILD)/tests/bench/switch_floor.o: $(BENCH_SWITCH_SKEL)


# walk (tests/bench/unwind.sh): walk_user_stack() alone, by the kernel's
# statistics, with the unwind tables or with frame pointers.
BENCH_WALK_BPF  := $(BUILD)/bench/bpf/walk.bpf.o
BENCH_WALK_SKEL := $(GEN)/bench/walk.skel.h
BENCH_BINS      += $(BUILD)/bench/walk

$(BENCH_WALK_BPF): tests/bench/walk.bpf.c $(GEN)/vmlinux.h
	$(bpf_object)

$(BENCH_WALK_SKEL): $(BENCH_WALK_BPF)
	$(bpf_skeleton)

$(BUILD)/tests/bench/walk.o: $(BENCH_WALK_SKEL)

-include $(wildcard $(BENCH_FLOOR_BPF:.o=.d) $(BUILD)/tests/bench/uprobe_floor.d \
  $(BENCH_SWITCH_BPF:.o=.d) $(BUILD)/tests/bench/switch_floor.d \
  $(BENCH_WALK_BPF:.o=.d) $(BUILD)/tests/bench/walk.d)
