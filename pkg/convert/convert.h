/* Readers of the formats people already have: folded stacks and `perf
 * script` text. pprof itself, and the folded writer, live in pprof/. */
#ifndef BPPROF_CONVERT_CONVERT_H
#define BPPROF_CONVERT_CONVERT_H

#include <stddef.h>

#include "base/errmsg.h"
#include "compress/compress.h"
#include "pprof/profile.h"

enum convert_format { FORMAT_AUTO, FORMAT_PPROF, FORMAT_FOLDED, FORMAT_PERF_SCRIPT };

#define CONVERT_MAX_LINE	(1u << 20)	/* longest text line accepted */
#define CONVERT_MAX_FRAMES	4096u		/* deepest stack accepted */

/* "auto", "pprof", "folded" (also "collapsed"), "perf-script" (also
 * "perf"): 0 or -EINVAL. */
int convert__parse_format(const char *name, enum convert_format *format);
const char *convert__format_name(enum convert_format format);

/* Guess the format of decompressed input from 8 KiB after any leading '#'
 * and blank lines: binary is pprof, a sample header then a frame (or a
 * side-band record) is perf script, other text folded. */
enum convert_format convert__detect(const void *data, size_t len);

/* Text readers: errors say "line N: what is wrong" (-EBADMSG); the caller
 * names the file. Stacks deeper than CONVERT_MAX_FRAMES keep their leaf end
 * and are counted in a warning; longer lines than CONVERT_MAX_LINE are errors.
 *
 * folded: one sample type samples/count, a function and a mapping-less
 * location per frame name; an empty frame ("a;;b") is a location with no
 * line. Lines that are not "STACK COUNT", '#' lines and counts of 0 are
 * skipped and counted in one warning; a count past INT64_MAX is an error.
 *
 * perf script: labels pid (when printed), tid, comm; a mapping per DSO
 * spanning its addresses with file_offset = memory_start; [unknown] symbols
 * keep mapping and address but no line. Clock events give samples/count and
 * cpu/nanoseconds, others samples/count only. One event per profile: the
 * first; other events' samples are skipped and counted in a warning.
 * Side-band records (PERF_RECORD_*) are no samples. "(inlined)" frames
 * become leading lines of their caller's location. Without call chains the
 * IP on the header line is the stack. Input cut mid-line is refused.
 *
 * Both refuse input that yields no samples at all. */
int folded__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);
int perf_script__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);

#endif
