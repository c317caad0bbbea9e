/* Format names and content sniffing for `bpprof convert`. */
#include <errno.h>
#include <string.h>

#include "convert/convert.h"
#include "convert/internal.h"
#include "convert/legacy.h"

/* Enough for a perf script header and its first frames, or a dozen folded
 * lines; detection must stay cheap on gigabyte inputs. */
#define DETECT_WINDOW 8192u
/* Leading comment and blank lines skipped before the window: `perf script
 * --header` (-I) writes hundreds of "# ..." lines, a few dozen KiB on large
 * machines. Past this the input is judged on what follows anyway. */
#define DETECT_MAX_PREAMBLE (1u << 20)
/* Text may hold a stray control byte (one NUL in a text file is still
 * text); protobuf is full of them: more than one per this many bytes. */
#define DETECT_TEXT_CONTROLS 64u
/* Attribute lines after "--- contentionz" looked at for Java's. */
#define DETECT_MAX_ATTRS 16u

static const struct {
	const char *name;
	enum convert_format format;
} format_names[] = {
	{ "auto", FORMAT_AUTO },
	{ "pprof", FORMAT_PPROF },
	{ "folded", FORMAT_FOLDED },
	{ "collapsed", FORMAT_FOLDED },	/* FlameGraph's name for it */
	{ "perf-script", FORMAT_PERF_SCRIPT },
	{ "perf", FORMAT_PERF_SCRIPT },
	{ "gperftools-cpu", FORMAT_GPERFTOOLS_CPU },
	{ "heap-text", FORMAT_HEAP_TEXT },
	{ "contention-text", FORMAT_CONTENTION_TEXT },
	{ "go-count", FORMAT_GO_COUNT },
	{ "threadz", FORMAT_THREADZ },
	{ "java", FORMAT_JAVA },
};

int convert__parse_format(const char *name, enum convert_format *format)
{
	size_t i;

	if (!name)
		return -EINVAL;
	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(name, format_names[i].name) == 0) {
			*format = format_names[i].format;
			return 0;
		}
	}
	return -EINVAL;
}

const char *convert__format_name(enum convert_format format)
{
	switch (format) {
	case FORMAT_AUTO: return "auto";
	case FORMAT_PPROF: return "pprof";
	case FORMAT_FOLDED: return "folded";
	case FORMAT_PERF_SCRIPT: return "perf-script";
	case FORMAT_GPERFTOOLS_CPU: return "gperftools-cpu";
	case FORMAT_HEAP_TEXT: return "heap-text";
	case FORMAT_CONTENTION_TEXT: return "contention-text";
	case FORMAT_GO_COUNT: return "go-count";
	case FORMAT_THREADZ: return "threadz";
	case FORMAT_JAVA: return "java";
	}
	return "unknown";
}

const char *convert__format_list(void)
{
	return "pprof, folded, perf-script, gperftools-cpu, heap-text, contention-text, go-count, "
	       "threadz, java";
}

const char *convert__format_what(enum convert_format format)
{
	switch (format) {
	case FORMAT_PPROF: return "a pprof profile";
	case FORMAT_FOLDED: return "folded stacks";
	case FORMAT_PERF_SCRIPT: return "perf script output";
	case FORMAT_GPERFTOOLS_CPU: return "a gperftools binary CPU profile";
	case FORMAT_HEAP_TEXT: return "a heap profile ('heap profile:')";
	case FORMAT_CONTENTION_TEXT: return "a contention profile ('--- contentionz')";
	case FORMAT_GO_COUNT: return "a Go count profile ('NAME profile: total N')";
	case FORMAT_THREADZ: return "a threadz profile";
	case FORMAT_JAVA: return "a Java profile";
	case FORMAT_AUTO: break;
	}
	return "unknown input";
}

/* Protobuf is full of small field tags and lengths; text has none of them,
 * or a stray one. */
static bool detect__is_text(const unsigned char *p, size_t len)
{
	size_t i, controls = 0;

	for (i = 0; i < len; i++)
		controls += (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') ||
			    p[i] == 0x7f;
	return controls <= 1 + len / DETECT_TEXT_CONTROLS;
}

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

static bool same(const char *s, size_t len, const char *text)
{
	return len == strlen(text) && !memcmp(s, text, len);
}

/* "--- contentionz" of Java's agent says "format = java" (or gives a
 * resolution) among the attributes that follow. */
static bool detect__java_contention(struct text_iter *it)
{
	struct text_line l;
	size_t n;

	for (n = 0; n < DETECT_MAX_ATTRS && text__next(it, &l); n++) {
		const char *s = l.p, *eq = memchr(l.p, '=', l.len);
		size_t len = eq ? (size_t)(eq - s) : 0;

		if (!eq)
			return false;
		text__trim(&s, &len);
		if (same(s, len, "format") || same(s, len, "resolution"))
			return true;
	}
	return false;
}

/* The legacy text formats by their first line, as google/pprof knows them. */
static enum convert_format detect__legacy(const char *data, size_t len)
{
	struct text_iter it = { .data = data, .len = len };
	struct text_line l;
	const char *s, *sp;
	size_t n;

	if (!text__next(&it, &l))
		return FORMAT_AUTO;
	s = l.p;
	n = l.len;
	text__trim(&s, &n);
	if (starts(s, n, "heap profile:"))
		return FORMAT_HEAP_TEXT;
	if (same(s, n, "--- heapz 1 ---"))
		return FORMAT_JAVA;
	if (starts(l.p, l.len, "--- contentionz "))
		return detect__java_contention(&it) ? FORMAT_JAVA : FORMAT_CONTENTION_TEXT;
	if (starts(l.p, l.len, "--- mutex:") || starts(l.p, l.len, "--- contention:"))
		return FORMAT_CONTENTION_TEXT;
	if (starts(s, n, "--- threadz ") || starts(s, n, "--- Thread "))
		return FORMAT_THREADZ;
	sp = memmem(l.p, l.len, " profile: total ", 16);
	if (sp && sp > l.p && !memchr(l.p, ' ', (size_t)(sp - l.p)))
		return FORMAT_GO_COUNT;
	return FORMAT_AUTO;
}

static bool detect__perf_script(const char *data, size_t len, bool whole)
{
	struct text_iter it = { .data = data, .len = len };
	struct perf_header h;
	struct text_line l;

	/* The first content line must be a sample header... */
	for (;;) {
		if (!text__next(&it, &l) || (!l.complete && !whole))
			return false;
		if (!text__is_blank(l.p, l.len) && l.p[0] != '#')
			break;
	}
	if (perf_script__parse_header(l.p, l.len, &h))
		return false;
	/* PERF_RECORD_* after a header's ids and time is perf's alone, and
	 * some (NAMESPACES) go on over lines that are no frames. */
	if (perf_script__is_sideband(&h))
		return true;
	/* ...followed by its frames, a blank line ending a frameless sample, or
	 * the next header when perf printed no call chains. */
	if (!text__next(&it, &l) || (!l.complete && !whole))
		return true;
	return text__is_blank(l.p, l.len) || perf_script__is_frame(l.p, l.len) ||
	       perf_script__is_srcline(l.p, l.len) || perf_script__parse_header(l.p, l.len, &h) == 0;
}

/* Bytes of whole "#" comment and blank text lines at the start: they say
 * nothing about the format, and would fill the window. */
static size_t detect__preamble(const char *data, size_t len)
{
	struct text_iter it = { .data = data,
				.len = len < DETECT_MAX_PREAMBLE ? len : DETECT_MAX_PREAMBLE };
	struct text_line l;
	size_t end = 0;

	while (text__next(&it, &l) && l.complete &&
	       (text__is_blank(l.p, l.len) || l.p[0] == '#') &&
	       detect__is_text((const unsigned char *)l.p, l.len))
		end = it.pos;
	return end;
}

enum convert_format convert__detect(const void *data, size_t len)
{
	size_t skip, n;
	struct legacy_cpu_format f;
	enum convert_format legacy;

	if (len == 0)
		return FORMAT_PPROF;
	/* Its header starts with zero bytes, which no protobuf field tag is. */
	if (legacy_cpu__header(data, len, &f))
		return FORMAT_GPERFTOOLS_CPU;
	skip = detect__preamble(data, len);
	/* Nothing but comments: text, which the folded reader refuses with a
	 * message saying it found no stacks. */
	if (skip == len)
		return FORMAT_FOLDED;
	data = (const char *)data + skip;
	len -= skip;
	n = len < DETECT_WINDOW ? len : DETECT_WINDOW;
	if (!detect__is_text(data, n))
		return FORMAT_PPROF;
	legacy = detect__legacy(data, n);
	if (legacy != FORMAT_AUTO)
		return legacy;
	if (detect__perf_script(data, n, n == len))
		return FORMAT_PERF_SCRIPT;
	/* Any other text is read as folded stacks, whose reader says precisely
	 * what is wrong with it. */
	return FORMAT_FOLDED;
}
