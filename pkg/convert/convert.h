/* Readers of the formats people already have: folded stacks, `perf script`
 * text and the legacy profiles google/pprof reads (gperftools' binary CPU
 * profile, heap, contention, Go's debug=1 counts, threadz, Java's). pprof
 * itself, and the folded writer, live in pprof/. */
#ifndef BPPROF_CONVERT_CONVERT_H
#define BPPROF_CONVERT_CONVERT_H

#include <stddef.h>

#include "base/errmsg.h"
#include "compress/compress.h"
#include "pprof/profile.h"

enum convert_format {
	FORMAT_AUTO, FORMAT_PPROF, FORMAT_FOLDED, FORMAT_PERF_SCRIPT,
	FORMAT_GPERFTOOLS_CPU,	/* binary CPU profile: gperftools, Go < 1.9, Java agents */
	FORMAT_HEAP_TEXT,	/* "heap profile:": gperftools, tcmalloc, Go debug=1 */
	FORMAT_CONTENTION_TEXT,	/* "--- contentionz", Go debug=1 mutex and block */
	FORMAT_GO_COUNT,	/* "goroutine profile: total N", threadcreate */
	FORMAT_THREADZ,		/* "--- threadz" */
	FORMAT_JAVA,		/* Java heapz and contentionz text (and its CPU profile) */
};

#define CONVERT_MAX_LINE	(1u << 20)	/* longest text line accepted */
#define CONVERT_MAX_FRAMES	4096u		/* deepest stack accepted */

/* "auto", "pprof", "folded" (also "collapsed"), "perf-script" (also
 * "perf"), "gperftools-cpu", "heap-text", "contention-text", "go-count",
 * "threadz", "java": 0 or -EINVAL. */
int convert__parse_format(const char *name, enum convert_format *format);
const char *convert__format_name(enum convert_format format);
/* Every name --from takes, for messages: "pprof, folded, ...". */
const char *convert__format_list(void);
/* What a format is, in words: "a gperftools heap profile". */
const char *convert__format_what(enum convert_format format);

/* Guess the format of decompressed input from its first bytes: the binary
 * CPU profile's header; else, after any leading '#' and blank lines, binary
 * is pprof; a legacy text header names its format; a sample header then a
 * frame (or a side-band record) is perf script; other text folded. */
enum convert_format convert__detect(const void *data, size_t len);

/* Decompress (gzip, zstd) if need be, detect the format unless from says
 * it, and read: the one way from input bytes to a profile (convert, push).
 * Detected text must be that format throughout: a line that does not fit
 * is refused, saying what the input was taken for (folded named with
 * --from skips a few such lines instead). Input that yields no samples,
 * pprof too, is refused. *got says which format it was. */
int convert__read(const void *data, size_t len, enum convert_format from,
		  struct pprof_profile **out, enum convert_format *got, struct errmsg *e);

/* Names for the addresses of locations that have none, from the ELF files
 * their mappings name (by path, checked against the build-id when there is
 * one): a function and a line each, has_functions on mappings whose every
 * address got a name. Files that cannot be read here, or are another
 * build, leave their addresses as they are (counted in a warning). 0, or
 * -ENOMEM. */
int convert__symbolize(struct pprof_profile *p, struct errmsg *e);

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

/* The legacy formats, as google/pprof's profile.Parse reads them (sample
 * types, units, period, values, unsampling, mappings from the memory map,
 * drop/keep frames), but every line must be what the format writes there:
 * what pprof would skip or half-read is refused. Stacks keep their
 * addresses; C++ and Go ones are unsymbolized (convert --symbolize). */
int legacy_cpu__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);
int legacy_heap__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);
int legacy_contention__read(const char *data, size_t len, struct pprof_profile **out,
			    struct errmsg *e);
int legacy_count__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);
int legacy_threadz__read(const char *data, size_t len, struct pprof_profile **out,
			 struct errmsg *e);
int legacy_java__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);

#endif
