/* Input bytes to a profile: decompression, detection and the reader of
 * each format, for every command that takes profiles (convert, push). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "convert/convert.h"
#include "convert/internal.h"
#include "pprof/codec.h"

typedef int reader_fn(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e);

static reader_fn *reader_of(enum convert_format f)
{
	switch (f) {
	case FORMAT_PERF_SCRIPT: return perf_script__read;
	case FORMAT_GPERFTOOLS_CPU: return legacy_cpu__read;
	case FORMAT_HEAP_TEXT: return legacy_heap__read;
	case FORMAT_CONTENTION_TEXT: return legacy_contention__read;
	case FORMAT_GO_COUNT: return legacy_count__read;
	case FORMAT_THREADZ: return legacy_threadz__read;
	case FORMAT_JAVA: return legacy_java__read;
	default: return NULL;
	}
}

static int read_format(const char *data, size_t len, enum convert_format f, bool detected,
		       struct pprof_profile **out, struct errmsg *e)
{
	reader_fn *read = reader_of(f);
	char why[ERRMSG_MAX];
	int err;

	if (f == FORMAT_PPROF)
		return pprof__decode(data, len, out, e);
	err = f == FORMAT_FOLDED ? folded__read_mode(data, len, detected, out, e)
				 : read(data, len, out, e);
	/* Detection guessed from the start: say what it took the input for,
	 * so that a refusal of the rest reads as what it is. */
	if (err && detected) {
		snprintf(why, sizeof(why), "%s", e->text);
		errmsg__set(e, err, "looks like %s, but %s", convert__format_what(f), why);
	}
	return err;
}

int convert__read(const void *data, size_t len, enum convert_format from,
		  struct pprof_profile **out, enum convert_format *got, struct errmsg *e)
{
	struct buf raw = BUF_INIT(PPROF_MAX_DECODED_BYTES);
	enum convert_format f;
	int err;

	*out = NULL;
	if (len == 0)
		return errmsg__set(e, -EBADMSG, "empty file");
	if (compress__detect(data, len) != COMPRESS_NONE) {
		err = compress__decode(data, len, &raw, e);
		if (err)
			goto out;
		data = raw.data;
		len = raw.len;
	}
	f = from != FORMAT_AUTO ? from : convert__detect(data, len);
	if (got)
		*got = f;
	err = read_format(data, len, f, from == FORMAT_AUTO, out, e);
	/* What yields no samples would only hide that the input was
	 * something else, or that nothing was profiled: refused, for pprof
	 * as for the text formats (the README has always said so). */
	if (!err && !(*out)->pb->n_sample) {
		pprof__free(*out);
		*out = NULL;
		err = errmsg__set(e, -EBADMSG, "a profile without samples: nothing to convert");
	}
out:
	buf__free(&raw);
	return err;
}
