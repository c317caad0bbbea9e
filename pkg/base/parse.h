/* Strict number parsing for flags and text formats (no atoi). */
#ifndef BPPROF_BASE_PARSE_H
#define BPPROF_BASE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Whole string must be a number in [min, max]: 0, -EINVAL or -ERANGE. */
int parse__int64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Decimal or hex digits of s[0..len) (no prefix, no sign): 0 or -EINVAL/-ERANGE. */
int parse__u64n(const char *s, size_t len, int base, uint64_t *out);

/* A positive duration: a number (decimals allowed) and an optional unit
 * ns, us, ms, s, m, h or d (bare: seconds), at most max seconds: 0, -EINVAL
 * or -ERANGE. */
int parse__duration(const char *s, double max, double *seconds);

/* A byte count: digits and an optional unit k/K/KiB, m/M/MiB, g/G/GiB
 * (powers of 1024), at most max: 0, -EINVAL or -ERANGE. */
int parse__size(const char *s, uint64_t max, uint64_t *bytes);

#endif
