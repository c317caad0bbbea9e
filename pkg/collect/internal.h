/* What the collect sources share: libbpf's log hook, the error for missing
 * privileges, the BTF check, counter sums, ring sizes and the CPU list parser. */
#ifndef BPPROF_COLLECT_INTERNAL_H
#define BPPROF_COLLECT_INTERNAL_H
#include <stdarg.h>
#include <stddef.h>

#include <bpf/libbpf.h>
#include <libelf.h>

#include "base/errmsg.h"
#include "collect/collect.h"

int collect__libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap);
/* Sets e to say which privileges are needed; returns err. */
int collect__permission_error(struct errmsg *e, int err, const char *what);
/* Sets e for a failed skeleton load (privileges, or where the verifier's
 * log is); returns err. */
int collect__load_error(struct errmsg *e, int err);
/* 0, or negative errno with e saying the kernel lacks BTF. */
int collect__check_btf(struct errmsg *e);
/* Put the cgroup v2 directory path (absolute, or under the cgroup v2 mount)
 * into slot 0 of a cgroup array map: 0, or negative errno with e naming
 * the path and the problem. */
int collect__set_cgroup(int map_fd, const char *path, struct errmsg *e);
/* pid into a target.bpf.h `pids` set: 0 or -errno. */
int collect__add_pid(int map_fd, uint32_t pid);
/* The first n counters of a per-CPU array map, summed over CPUs into out->v
 * (collect__sum_counters) or out->unwind (collect__sum_unwind, the
 * unwind_counters map). */
int collect__sum_counters(int fd, unsigned n, int possible_cpus, struct collect_counters *out);
int collect__sum_unwind(int fd, int possible_cpus, struct collect_counters *out);
/* Before load: obj walks user stacks from u's tables (its unwind maps are
 * u's, *mode set), or with frame pointers. 0 or -errno. */
int collect__unwind_setup(const struct collect_unwind *u, struct bpf_object *obj, __u32 *mode);
/* The maps every program following a pid set has (common.bpf.h's events
 * ring, target.bpf.h's pids and seen) sized, and its user-stack walker set
 * up (collect__unwind_setup), before load: 0 or -errno. */
int collect__size_target_maps(struct bpf_object *obj, size_t ring_bytes, bool filter_pids,
			      const struct collect_unwind *u, __u32 *unwind_mode);
/* Frames bpf_get_stack can return: BPPROF_MAX_STACK, or less when
 * kernel.perf_event_max_stack is lower (said once). */
unsigned collect__max_frames(void);
/* The smallest power-of-two multiple of page holding want bytes, within [min, max]. */
size_t collect__pow2_size(uint64_t want, size_t page, size_t min, size_t max);

/* The file offset of virtual address vaddr of an executable segment
 * (where a uprobe on it goes): 0, -ENOENT, or -ENOEXEC. */
int collect__elf_offset(Elf *elf, uint64_t vaddr, uint64_t *off);

/* The online CPUs in a sysfs list ("0-3,8,10-11") as a bitmap of at most
 * max entries: the count, or -EINVAL. */
int collect__parse_cpulist(const char *text, bool *online, unsigned max);
/* About one second of records at freq on ncpus, a power of two of pages
 * within [COLLECT_MIN_RING, COLLECT_MAX_RING]. */
size_t collect__ring_size(unsigned freq, unsigned ncpus, size_t record, size_t page);

/* Entries of the pids map: room for COLLECT_MAX_PIDS when processes are
 * followed, one when not (a hash map's entries are all allocated, and
 * zeroed, when it is created: 64 Ki of them cost every whole-system
 * capture milliseconds of CPU for a map it never reads). */
static inline __u32 collect__pids_room(bool filter_pids)
{
	return filter_pids ? COLLECT_MAX_PIDS : 1;
}

#endif
