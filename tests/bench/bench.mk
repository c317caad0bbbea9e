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

-include $(wildcard $(BENCH_FLOOR_BPF:.o=.d) $(BUILD)/tests/bench/uprobe_floor.d)
