/* The heap sampler's countdown draw, shared by heap.bpf.c and user space (its
 * tests): bytes until the next sampled allocation, exponentially distributed
 * with mean `rate`, as Go's and tcmalloc's samplers draw it. BPF has no
 * floating point, so −ln U is taken in fixed point from a 32-bit random r:
 * U = 2^−k · m with m in [½, 1), −ln U = k·ln 2 − ln m, and −ln m comes
 * from a table user space fills before load (heap__fill_log_table). */
#ifndef BPPROF_BPF_HEAP_SAMPLE_H
#define BPPROF_BPF_HEAP_SAMPLE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define HEAP_LOG_BITS	10				/* of m's fraction looked up */
#define HEAP_LOG_TABLE	(1u << HEAP_LOG_BITS)
#define HEAP_LOG_SHIFT	24				/* table values: Q24 */
#define HEAP_LN2_Q24	11629080ull			/* ln 2 · 2^24 */
#define HEAP_MAX_RATE	(1ull << 32)			/* keeps q · rate in 64 bits */

/* table[i] = −ln((HEAP_LOG_TABLE + i + ½) / (2 · HEAP_LOG_TABLE)) · 2^24:
 * the middle of the i-th slice of [½, 1). */
static __always_inline __u64 heap_sample_draw(__u32 r, __u64 rate, const volatile __u32 *table)
{
	__u64 q;
	__u32 k = 0;

	if (!r)
		r = 1;
	/* normalise r so its top bit is set, counting the shifts (clz) */
	if (!(r & 0xffff0000u)) {
		k += 16;
		r <<= 16;
	}
	if (!(r & 0xff000000u)) {
		k += 8;
		r <<= 8;
	}
	if (!(r & 0xf0000000u)) {
		k += 4;
		r <<= 4;
	}
	if (!(r & 0xc0000000u)) {
		k += 2;
		r <<= 2;
	}
	if (!(r & 0x80000000u)) {
		k += 1;
		r <<= 1;
	}
	q = (__u64)k * HEAP_LN2_Q24 + table[(r >> (31 - HEAP_LOG_BITS)) & (HEAP_LOG_TABLE - 1)];
	return (q * rate) >> HEAP_LOG_SHIFT;
}

#ifndef __bpf__
/* The table, for user space: bpprof fills the BPF program's with it, the
 * preload library its own. No libm (the library must not pull it into the
 * programs it is loaded into): ln m = 2 atanh z with z = (m − 1)/(m + 1) in
 * [−⅓, 0), whose series gains a factor 9 a term; 24 terms are exact to
 * double precision. */
static inline void heap_sample_fill_table(__u32 *table)
{
	unsigned i, k;

	for (i = 0; i < HEAP_LOG_TABLE; i++) {
		double m = (HEAP_LOG_TABLE + i + 0.5) / (2.0 * HEAP_LOG_TABLE);
		double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;

		for (k = 0; k < 24; k++) {
			sum += term / (2 * k + 1);
			term *= z2;
		}
		table[i] = (__u32)(-2 * sum * (double)(1u << HEAP_LOG_SHIFT) + 0.5);
	}
}
#endif

#endif
