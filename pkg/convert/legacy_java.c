/* The legacy Java profiles: heapz and contentionz text ("--- heapz 1 ---",
 * "--- contentionz 1 ---" with "format = java"), whose samples name
 * location ids and whose last section names each location ("0x3
 * com.example.Foo.bar (Foo.java:12)"). The binary Java CPU profile shares
 * that last section (legacy_cpu.c). As in google/pprof, the ids are no
 * addresses: the profile keeps names, file and line only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "convert/convert.h"
#include "convert/legacy.h"

#define JAVA_HEAP_RATE		524288	/* the Java agent's heapz sampling interval, bytes */
#define JAVA_MAX_ADDRS		(CONVERT_MAX_FRAMES + 1)
#define NSEC_PER_MSEC		1000000
#define JAVA_STUB		"generated stub/JIT"	/* a location pprof names: */
#define JAVA_STUB_NAME		"STUB"
#define JAVA_HEAPZ		"--- heapz 1 ---"
#define JAVA_CONTENTIONZ	"--- contentionz 1 ---"

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* filepath.Base: the last element, "." for "", "/" for slashes only. */
static void java__base(const char **p, size_t *len)
{
	const char *s = *p, *slash;
	size_t n = *len;

	while (n > 1 && s[n - 1] == '/')
		n--;
	if (n == 0) {
		*p = ".";
		*len = 1;
		return;
	}
	if (n == 1 && s[0] == '/') {
		*len = 1;
		return;
	}
	slash = memrchr(s, '/', n);
	if (slash) {
		n -= (size_t)(slash + 1 - s);
		s = slash + 1;
	}
	*p = s;
	*len = n;
}

/* The rightmost " (" that leaves a non-empty name before it and at least
 * min bytes between it and the final ')': the split pprof's expressions
 * make ("NAME (FILE:LINE)", "NAME (PATH)"). */
static const char *java__paren(const char *s, size_t len, size_t min, size_t end)
{
	size_t k;

	for (k = end; k-- > 1;)
		if (s[k] == '(' && legacy__is_space(s[k - 1]) && end - k - 1 >= min)
			return s + k;
	return NULL;
}

struct java_frame {
	const char *name, *file;
	size_t name_len, file_len;
	int64_t line;
};

/* What a location line says after its id. */
static void java__frame(const char *s, size_t len, struct java_frame *f)
{
	const char *paren, *colon;
	size_t d, end = len - 1;
	int64_t n;

	memset(f, 0, sizeof(*f));
	f->name = s;
	f->name_len = len;
	if (!len || s[len - 1] != ')')
		goto other;
	/* "NAME (FILE:LINE)": LINE digits, maybe negative (then no line) */
	for (d = end; d > 0 && is_digit(s[d - 1]); d--)
		;
	colon = d < end ? s + d - (d > 0 && s[d - 1] == '-') - 1 : NULL;
	if (colon && colon >= s && *colon == ':' &&
	    (paren = java__paren(s, (size_t)(colon - s), 1, (size_t)(colon - s)))) {
		f->name_len = (size_t)(paren - s) - 1;
		f->file = paren + 1;
		f->file_len = (size_t)(colon - f->file);
		if (!legacy__parse_int(s + d, end - d, 10, &n) && n > 0 && s[d - 1] != '-')
			f->line = n;
		return;
	}
	/* "NAME (PATH)": the file's base name */
	paren = java__paren(s, len, 0, end);
	if (paren) {
		f->name_len = (size_t)(paren - s) - 1;
		f->file = paren + 1;
		f->file_len = end - (size_t)(paren + 1 - s);
		java__base(&f->file, &f->file_len);
		return;
	}
other:
	if (memmem(s, len, JAVA_STUB, strlen(JAVA_STUB))) {
		f->name = JAVA_STUB_NAME;
		f->name_len = strlen(JAVA_STUB_NAME);
	}
}

static int java__location(struct legacy *lg, const char *s, size_t len, size_t no,
			  struct errmsg *e)
{
	struct java_frame f;
	struct legacy_loc *l;
	uint64_t addr;
	int64_t loc, fn;
	size_t i = 2;

	while (i < len && !legacy__is_space(s[i]))
		i++;
	if (len < 3 || !has_prefix(s, len, "0x") || i == len ||
	    parse__u64n(s + 2, i - 2, 16, &addr) == -EINVAL)
		return errmsg__set(e, -EBADMSG, "line %zu: expected a location '0xID NAME (FILE:LINE)', "
				   "got '%.*s'", no, LEGACY_Q(s, len));
	if (parse__u64n(s + 2, i - 2, 16, &addr))
		return errmsg__set(e, -EBADMSG, "line %zu: location id past 64 bits", no);
	loc = legacy__find_loc(lg, addr);
	if (loc < 0)
		return 0;	/* no sample reaches it */
	while (i < len && legacy__is_space(s[i]))
		i++;
	java__frame(s + i, len - i, &f);
	fn = legacy__func(lg, f.name, f.name_len, f.file, f.file_len);
	if (fn < 0)
		return errmsg__set(e, (int)fn, "line %zu: %s", no, strerror((int)-fn));
	l = &lg->locs[loc];
	l->func = (uint32_t)fn;
	l->line = f.line;
	l->resolved = true;
	return 0;
}

int legacy_java__locations(struct legacy *lg, const char *text, size_t len, size_t first_line,
			   struct errmsg *e)
{
	struct text_iter it = { .data = text, .len = len, .line_no = first_line - 1 };
	struct text_line l;
	int err = 0;

	while (!err && text__next(&it, &l)) {
		const char *s = l.p;
		size_t n = l.len;

		if (n > CONVERT_MAX_LINE || memchr(s, '\0', n) || !l.complete)
			return errmsg__set(e, -EBADMSG, "line %zu: %s", l.no,
					   n > CONVERT_MAX_LINE ? "too long" : !l.complete ?
					   "input ends mid-line (cut short?)" : "NUL byte in text");
		legacy__trim(&s, &n);
		if (n)
			err = java__location(lg, s, n, l.no, e);
	}
	if (err)
		return err;
	lg->no_addresses = true;
	err = legacy__assign_mappings(lg);
	return err ? errmsg__set(e, err, "%s", strerror(-err)) : 0;
}

/* --- heapz and contentionz --- */

enum java_kind { JAVA_HEAP, JAVA_CONTENTION };

/* "key = value", both of letters, digits, '_' and blanks: 1 when s was
 * one, 0 when not. */
static int java__attr(struct legacy *lg, enum java_kind kind, const char *s, size_t len,
		      size_t no, struct errmsg *e)
{
	const char *eq = memchr(s, '=', len), *k = s, *v;
	size_t kl, vl, i;
	int64_t n;
	int err = 0;

	if (!eq)
		return 0;
	for (i = 0; i < len; i++)
		if (s + i != eq && !(is_digit(s[i]) || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
				     s[i] == '_' || s[i] == ' '))
			return 0;
	kl = (size_t)(eq - s);
	v = eq + 1;
	vl = len - kl - 1;
	legacy__trim(&k, &kl);
	legacy__trim(&v, &vl);
	if (!kl || !vl)
		return 0;
#define KEY(name) (kl == strlen(name) && !memcmp(k, name, kl))
	if (KEY("format")) {
		if (vl != 4 || memcmp(v, "java", 4))
			return errmsg__set(e, -EBADMSG, "line %zu: format '%.*s' (only java)", no,
					   LEGACY_Q(v, vl));
	} else if (KEY("resolution")) {
		lg->type[0] = legacy__text(lg, kind == JAVA_HEAP ? "inuse_objects" : "contentions",
					   kind == JAVA_HEAP ? 13 : 11, &err);
		lg->unit[0] = legacy__text(lg, "count", 5, &err);
		lg->type[1] = legacy__text(lg, kind == JAVA_HEAP ? "inuse_space" : "delay",
					   kind == JAVA_HEAP ? 11 : 5, &err);
		lg->unit[1] = legacy__text(lg, v, vl, &err);
		lg->n_types = 2;
	} else if (kind == JAVA_CONTENTION && (KEY("sampling period") || KEY("ms since reset"))) {
		if (legacy__parse_int(v, vl, 0, &n))
			return errmsg__set(e, -EBADMSG, "line %zu: bad number '%.*s'", no,
					   LEGACY_Q(v, vl));
		if (KEY("ms since reset") && __builtin_mul_overflow(n, NSEC_PER_MSEC, &lg->duration))
			return errmsg__set(e, -EBADMSG, "line %zu: time out of range", no);
		if (KEY("sampling period")) {
			lg->period = n;
			err = legacy__set_period_type(lg, "contentions", "count");
		}
	} else {
		return errmsg__set(e, -EBADMSG, "line %zu: unknown attribute '%.*s'", no,
				   LEGACY_Q(k, kl));
	}
#undef KEY
	return err ? errmsg__set(e, err, "%s", strerror(-err)) : 1;
}

/* "VALUE COUNT @ 0xID...": 1 when s was one, 0 when the locations begin,
 * negative on a bad sample. */
static int java__sample(struct legacy *lg, enum java_kind kind, const char *s, size_t len,
			size_t no, uint64_t *addrs, struct errmsg *e)
{
	size_t d1 = 0, sp1, d2, sp2, at, n, i;
	int64_t v[2], bytes;
	int err;

	while (d1 < len && is_digit(s[d1]))
		d1++;
	for (sp1 = d1; sp1 < len && s[sp1] == ' '; sp1++)
		;
	for (d2 = sp1; d2 < len && is_digit(s[d2]); d2++)
		;
	for (sp2 = d2; sp2 < len && s[sp2] == ' '; sp2++)
		;
	at = sp2;
	if (has_prefix(s, len, "0x"))
		return 0;
	if (!d1 || sp1 == d1 || d2 == sp1 || sp2 == d2 || at >= len || s[at] != '@' || at + 1 >= len ||
	    s[at + 1] != ' ')
		goto bad;
	for (i = at + 1; i < len; i++)
		if (s[i] != ' ' && s[i] != 'x' && !is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			goto bad;
	/* the count is the second number, the value the first */
	if (legacy__parse_int(s + sp1, d2 - sp1, 0, &v[0]) || legacy__parse_int(s, d1, 0, &v[1]))
		return errmsg__set(e, -EBADMSG, "line %zu: bad number in '%.*s'", no, LEGACY_Q(s, len));
	if (legacy__hex_addrs(s + at + 1, len - at - 1, addrs, JAVA_MAX_ADDRS, &n))
		return errmsg__set(e, -EBADMSG, "line %zu: location id past 64 bits", no);
	if (kind == JAVA_HEAP) {
		if (!v[0])
			return errmsg__set(e, -EBADMSG, "line %zu: a heap sample of 0 objects", no);
		bytes = v[1] / v[0];
		if (legacy__unsample(&v[0], &v[1], JAVA_HEAP_RATE))
			return errmsg__set(e, -EBADMSG, "line %zu: unsampled values out of range", no);
	} else if (lg->period && (__builtin_mul_overflow(v[0], lg->period, &v[0]) ||
				  __builtin_mul_overflow(v[1], lg->period, &v[1]))) {
		return errmsg__set(e, -EBADMSG, "line %zu: values out of range", no);
	}
	err = legacy__add_sample(lg, addrs, n > JAVA_MAX_ADDRS ? JAVA_MAX_ADDRS : n, v,
				 kind == JAVA_HEAP ? &bytes : NULL, no);
	return err ? errmsg__set(e, err, "line %zu: %s", no, strerror(-err)) : 1;
bad:
	return errmsg__set(e, -EBADMSG, "line %zu: expected a sample 'VALUE COUNT @ 0xID...' or a "
			   "location '0xID NAME', got '%.*s'", no, LEGACY_Q(s, len));
}

/* Header, attributes, samples; returns the offset where the locations
 * begin. */
static int java__text(struct legacy *lg, const char *data, size_t len, size_t *loc_at,
		      size_t *loc_line, struct errmsg *e)
{
	struct text_iter it = { .data = data, .len = len };
	uint64_t *addrs = calloc(JAVA_MAX_ADDRS, sizeof(*addrs));
	enum java_kind kind = JAVA_HEAP;
	struct text_line l;
	bool attrs = true;
	size_t pos = 0;
	int err = 0;

	if (!addrs)
		return errmsg__set(e, -ENOMEM, "out of memory");
	if (!legacy__first_line(&it, &l) || !l.complete) {
		err = errmsg__set(e, -EBADMSG, "no '--- heapz 1 ---' or '--- contentionz 1 ---' header");
		goto out;
	}
	legacy__trim(&l.p, &l.len);
	if (l.len == strlen(JAVA_CONTENTIONZ) && !memcmp(l.p, JAVA_CONTENTIONZ, l.len))
		kind = JAVA_CONTENTION;
	else if (l.len != strlen(JAVA_HEAPZ) || memcmp(l.p, JAVA_HEAPZ, l.len)) {
		err = errmsg__set(e, -EBADMSG, "line %zu: expected '--- heapz 1 ---' or "
				  "'--- contentionz 1 ---', got '%.*s'", l.no, LEGACY_Q(l.p, l.len));
		goto out;
	}
	lg->what = kind == JAVA_HEAP ? "Java heap profile" : "Java contention profile";
	lg->drop = kind == JAVA_HEAP ? legacy__drop_alloc : legacy__drop_lock;
	lg->keep = kind == JAVA_HEAP ? legacy__keep_alloc : NULL;
	for (pos = it.pos; err >= 0 && text__next(&it, &l); pos = it.pos) {
		const char *s = l.p;
		size_t n = l.len;

		if (n > CONVERT_MAX_LINE || memchr(s, '\0', n) || !l.complete) {
			err = errmsg__set(e, -EBADMSG, "line %zu: %s", l.no,
					  n > CONVERT_MAX_LINE ? "too long" : !l.complete ?
					  "input ends mid-line (cut short?)" : "NUL byte in text");
			break;
		}
		legacy__trim(&s, &n);
		if (!n)
			continue;
		if (attrs) {
			err = java__attr(lg, kind, s, n, l.no, e);
			if (err)
				continue;	/* 1: an attribute */
			attrs = false;
		}
		err = java__sample(lg, kind, s, n, l.no, addrs, e);
		if (err == 0)
			break;		/* the first location */
	}
	*loc_at = pos;
	*loc_line = it.line_no - (pos < it.pos);
out:
	free(addrs);
	return err < 0 ? err : 0;
}

int legacy_java__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e)
{
	struct legacy lg;
	size_t at = 0, line = 0;
	int err;

	*out = NULL;
	if (len && !data[0])	/* binary: the CPU profile */
		return legacy_cpu__parse(data, len, true, out, e);
	err = legacy__init(&lg, "Java profile");
	if (err) {
		err = errmsg__set(e, err, "out of memory");
		goto out;
	}
	err = java__text(&lg, data, len, &at, &line, e);
	if (!err)
		err = legacy_java__locations(&lg, data + at, len - at, line + 1, e);
	if (!err)
		err = legacy__finish(&lg, out, e);
out:
	legacy__free(&lg);
	return err;
}
