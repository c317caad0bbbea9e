/* The legacy text profiles of gperftools, tcmalloc and Go's debug=1
 * handlers: heap ("heap profile:": heapprofile, heapz_v2/heap_v2, heap,
 * growthz, fragmentationz), contention ("--- contentionz", "--- mutex:",
 * "--- contention:"), Go's counts ("goroutine profile: total N",
 * "threadcreate profile: ...") and threadz. Every line must be what the
 * format writes there; values, units and unsampling are google/pprof's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "convert/legacy.h"

#define HEAP_SENTINEL_1		"--- Memory map: ---"
#define HEAP_SENTINEL_2		"MAPPED_LIBRARIES:"
#define MAX_ADDRS		(CONVERT_MAX_FRAMES + 1)	/* one more says: cut */
#define NSEC_PER_MSEC		1000000

struct text_reader {
	struct legacy lg;
	struct text_iter it;
	struct text_line l;
	uint64_t addrs[MAX_ADDRS];
};

static bool has_sentinel(const char *s, size_t len)
{
	return memmem(s, len, HEAP_SENTINEL_1, strlen(HEAP_SENTINEL_1)) ||
	       memmem(s, len, HEAP_SENTINEL_2, strlen(HEAP_SENTINEL_2));
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

static size_t digits(const char *s, size_t len, size_t i)
{
	size_t j = i;

	while (j < len && s[j] >= '0' && s[j] <= '9')
		j++;
	return j - i;
}

static size_t spaces(const char *s, size_t len, size_t i)
{
	size_t j = i;

	while (j < len && s[j] == ' ')
		j++;
	return j - i;
}

/* The header line, whole: a profile cut inside it is no profile. */
static bool reader__header(struct text_reader *r)
{
	return legacy__first_line(&r->it, &r->l) && r->l.complete;
}

static int reader__new(struct text_reader **out, const char *data, size_t len, const char *what)
{
	struct text_reader *r = calloc(1, sizeof(*r));

	*out = r;
	if (!r)
		return -ENOMEM;
	r->it = (struct text_iter){ .data = data, .len = len };
	return legacy__init(&r->lg, what);
}

static void reader__free(struct text_reader *r)
{
	if (!r)
		return;
	legacy__free(&r->lg);
	free(r);
}

/* Lines past the limit are refused, not cut: a profile line is short. */
static bool reader__next(struct text_reader *r, struct errmsg *e, int *err)
{
	if (!text__next(&r->it, &r->l))
		return false;
	if (r->l.len > CONVERT_MAX_LINE || memchr(r->l.p, '\0', r->l.len) || !r->l.complete) {
		*err = errmsg__set(e, -EBADMSG, "line %zu: %s", r->l.no,
				   r->l.len > CONVERT_MAX_LINE ? "too long" :
				   !r->l.complete ? "input ends mid-line (cut short?)" : "NUL byte in text");
		return false;
	}
	return true;
}

/* The map after the sentinel line, the mappings of the locations, the
 * profile. */
static int reader__finish(struct text_reader *r, bool maps, bool duplicate_leaves,
			  struct pprof_profile **out, struct errmsg *e)
{
	int err = 0;

	if (maps)
		err = legacy__parse_maps(&r->lg, r->it.data + r->it.pos, r->it.len - r->it.pos,
					 r->it.line_no + 1, e);
	if (!err) {
		err = legacy__assign_mappings(&r->lg);
		if (err)
			err = errmsg__set(e, err, "%s", strerror(-err));
	}
	if (!err && duplicate_leaves)
		legacy__drop_duplicate_leaves(&r->lg);
	if (!err)
		err = legacy__finish(&r->lg, out, e);
	return err;
}

/* " 0x1 0x2 ..." after '@': addresses on the call instruction (each one a
 * return address: -1), -EINVAL for anything else there. */
static int parse_addrs(struct text_reader *r, const char *s, size_t len, size_t *n, bool adjust)
{
	size_t i = 0, j, k;
	int err;

	for (;;) {
		i += spaces(s, len, i);
		if (i == len)
			break;
		if (len - i < 3 || s[i] != '0' || s[i + 1] != 'x')
			return -EINVAL;
		for (j = i + 2; j < len && ((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'a' && s[j] <= 'f'));
		     j++)
			;
		if (j == i + 2 || (j < len && s[j] != ' '))
			return -EINVAL;
		i = j;
	}
	err = legacy__hex_addrs(s, len, r->addrs, MAX_ADDRS, n);
	if (err)
		return err;
	for (k = 0; adjust && k < *n && k < MAX_ADDRS; k++)
		r->addrs[k]--;
	if (*n > MAX_ADDRS)
		*n = MAX_ADDRS;
	return 0;
}

/* --- heap --- */

struct heap_header {
	const char *num[4];		/* inuse count, size, alloc count, size: as written */
	size_t num_len[4];
	bool v2, has_alloc;
	int64_t period;
};

/* "N: M [ A: B]" with pprof's spacing (blanks only): the index past ']'. */
static size_t heap__counts(const char *s, size_t len, size_t i, struct heap_header *h)
{
	size_t k, n;

	for (k = 0; k < 4; k++) {
		if (k == 2) {
			if (i >= len || s[i] != '[')
				return 0;
			i++;
			i += spaces(s, len, i);
		}
		n = digits(s, len, i);
		if (!n)
			return 0;
		h->num[k] = s + i;
		h->num_len[k] = n;
		i += n;
		if (k % 2 == 0) {
			if (i >= len || s[i] != ':')
				return 0;
			i++;
		}
		i += spaces(s, len, i);
	}
	return i < len && s[i] == ']' ? i + 1 : 0;
}

static bool same_text(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

static int heap__header(const char *s, size_t len, struct heap_header *h)
{
	static const char head[] = "heap profile:";
	size_t i = sizeof(head) - 1, n, kind_len;
	const char *kind;
	int64_t rate = 0;

	memset(h, 0, sizeof(*h));
	if (!has_prefix(s, len, head))
		return -EINVAL;
	i += spaces(s, len, i);
	i = heap__counts(s, len, i, h);
	if (!i)
		return -EINVAL;
	if (has_prefix(s + i, len - i, " @ growth") || has_prefix(s + i, len - i, " @ fragmentation")) {
		i += s[i + 3] == 'g' ? 9 : 16;
		i += i < len && s[i] == 'z';
		h->period = 1;
		return i == len ? 0 : -EINVAL;
	}
	i += spaces(s, len, i);
	if (i >= len || s[i] != '@')
		return -EINVAL;
	i++;
	i += spaces(s, len, i);
	if (!has_prefix(s + i, len - i, "heap"))
		return -EINVAL;
	for (n = i + 4; n < len && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
				    s[n] == '_'); n++)
		;
	kind = s + i;
	kind_len = n - i;
	/* the kind, and the sampling rate its numbers were taken at */
#define KIND(k) same_text(kind, kind_len, k, strlen(k))
	h->v2 = KIND("heapz_v2") || KIND("heap_v2") || KIND("heap");
	if (!h->v2 && !KIND("heapprofile"))
		return -ENOENT;
	i = n;
	i += i < len && s[i] == '/';
	n = digits(s, len, i);
	if (n && legacy__parse_int(s + i, n, 10, &rate))
		return -EINVAL;
	if (i + n != len)
		return -EINVAL;
	/* Go's heap/RATE counts every other sample twice: half the rate */
	h->period = KIND("heapprofile") ? 1 : KIND("heap") ? rate / 2 : rate;
#undef KIND
	h->has_alloc = (!same_text(h->num[2], h->num_len[2], h->num[0], h->num_len[0]) &&
			!same_text(h->num[2], h->num_len[2], "0", 1)) ||
		       (!same_text(h->num[3], h->num_len[3], h->num[1], h->num_len[1]) &&
			!same_text(h->num[3], h->num_len[3], "0", 1));
	return 0;
}

/* A count and a size of one sample: unsampled when the profile is. */
static int heap__values(const char *what, int64_t count, int64_t size, const struct heap_header *h,
			int64_t *v, int64_t *block, struct errmsg *e, size_t line_no)
{
	if (count == 0 && size != 0)
		return errmsg__set(e, -EBADMSG, "line %zu: %s count is 0 but its bytes are %lld",
				   line_no, what, (long long)size);
	if (count != 0) {
		/* Go's division: MinInt64 / -1 is MinInt64 */
		*block = count == -1 ? (int64_t)(0 - (uint64_t)size) : size / count;
		if (h->v2 && legacy__unsample(&count, &size, h->period))
			return errmsg__set(e, -EBADMSG, "line %zu: unsampled values out of range",
					   line_no);
	}
	v[0] = count;
	v[1] = size;
	return 0;
}

/* "N: M [A: B] @ 0x..." as pprof reads it (blanks only, "] @" exactly). */
static int heap__sample(struct text_reader *r, const char *s, size_t len,
			const struct heap_header *h, struct errmsg *e)
{
	int64_t num[4], v[4], block = 0;
	size_t i = 0, k, n, at, no = r->l.no;
	int err;

	for (k = 0; k < 4; k++) {
		size_t start;

		if (k == 2) {
			if (i >= len || s[i] != '[')
				goto bad;
			i++;
			i += spaces(s, len, i);
		}
		/* in-use numbers may be negative, allocation numbers not */
		start = i;
		i += k < 2 && i < len && s[i] == '-';
		n = digits(s, len, i);
		if (!n)
			goto bad;
		i += n;
		if (legacy__parse_int(s + start, i - start, 10, &num[k]))
			return errmsg__set(e, -EBADMSG, "line %zu: number out of range", no);
		if (k % 2 == 0) {
			if (i >= len || s[i] != ':')
				goto bad;
			i++;
		}
		i += spaces(s, len, i);
	}
	if (!has_prefix(s + i, len - i, "] @"))
		goto bad;
	at = i + 3;
	k = 0;
	if (h->has_alloc) {
		err = heap__values("allocation", num[2], num[3], h, v, &block, e, no);
		if (err)
			return err;
		k = 2;
	}
	err = heap__values("inuse", num[0], num[1], h, v + k, &block, e, no);
	if (err)
		return err;
	err = parse_addrs(r, s + at, len - at, &n, true);
	if (err == -EINVAL)
		goto bad;
	if (err)
		return errmsg__set(e, -EBADMSG, "line %zu: address past 64 bits", no);
	err = legacy__add_sample(&r->lg, r->addrs, n, v, &block, no);
	return err ? errmsg__set(e, err, "line %zu: %s", no, strerror(-err)) : 0;
bad:
	return errmsg__set(e, -EBADMSG, "line %zu: expected a heap sample 'INUSE: BYTES [ALLOC: "
			   "BYTES] @ 0xADDRESS...', got '%.*s'", no, LEGACY_Q(s, len));
}

static int heap__begin(struct text_reader *r, struct heap_header *h, struct errmsg *e)
{
	static const char *const alloc_types[] = { "alloc_objects", "alloc_space", "inuse_objects",
						   "inuse_space" };
	static const char *const alloc_units[] = { "count", "bytes", "count", "bytes" };
	static const char *const types[] = { "objects", "space" };
	static const char *const units[] = { "count", "bytes" };
	const char *s;
	size_t len;
	int err;

	if (!reader__header(r))
		return errmsg__set(e, -EBADMSG, "no whole 'heap profile:' header line");
	s = r->l.p;
	len = r->l.len;
	legacy__trim(&s, &len);
	err = heap__header(s, len, h);
	if (err)
		return errmsg__set(e, -EBADMSG, "line %zu: %s, got '%.*s'", r->l.no,
				   err == -ENOENT ? "unknown kind of heap profile (heapprofile, "
				   "heap_v2, heapz_v2, heap, growthz, fragmentationz)"
				   : "expected 'heap profile: N: M [ A: B] @ KIND[/RATE]'",
				   LEGACY_Q(s, len));
	/* alloc before inuse, so that pprof shows inuse_space by default */
	err = h->has_alloc ? legacy__set_types(&r->lg, alloc_types, alloc_units, 4)
			   : legacy__set_types(&r->lg, types, units, 2);
	if (!err)
		err = legacy__set_period_type(&r->lg, "space", "bytes");
	r->lg.period = h->period;
	r->lg.drop = legacy__drop_alloc;
	r->lg.keep = legacy__keep_alloc;
	return err ? errmsg__set(e, err, "%s", strerror(-err)) : 0;
}

int legacy_heap__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e)
{
	struct text_reader *r;
	struct heap_header h;
	bool maps = false;
	int err;

	*out = NULL;
	err = reader__new(&r, data, len, "heap profile");
	if (err) {
		err = errmsg__set(e, err, "out of memory");
		goto out;
	}
	err = heap__begin(r, &h, e);
	while (!err && !maps && reader__next(r, e, &err)) {
		const char *s = r->l.p;
		size_t n = r->l.len;

		legacy__trim(&s, &n);
		if (!n || s[0] == '#')
			continue;
		maps = has_sentinel(s, n);
		if (!maps)
			err = heap__sample(r, s, n, &h, e);
	}
	if (!err)
		err = reader__finish(r, maps, false, out, e);
out:
	reader__free(r);
	return err;
}

/* --- contention --- */

struct contention {
	int64_t cpu_hz;
	bool section;		/* a "---" line ended the samples */
};

/* "key = value" lines: 1 when l was one, 0 when the samples begin. */
static int contention__attr(struct text_reader *r, struct contention *c, const char *s,
			    size_t len, struct errmsg *e)
{
	const char *eq = memchr(s, '=', len), *k = s, *v;
	size_t kl, vl;
	int64_t ms, *dst = NULL;

	if (!eq)
		return 0;
	kl = (size_t)(eq - s);
	v = eq + 1;
	vl = len - kl - 1;
	legacy__trim(&k, &kl);
	legacy__trim(&v, &vl);
#define KEY(name) (kl == strlen(name) && !memcmp(k, name, kl))
	if (KEY("cycles/second"))
		dst = &c->cpu_hz;
	else if (KEY("sampling period"))
		dst = &r->lg.period;
	else if (KEY("ms since reset"))
		dst = &ms;
	else if (KEY("format") || KEY("resolution"))
		return errmsg__set(e, -EBADMSG, "line %zu: '%.*s' says this is a Java contention "
				   "profile (--from java)", r->l.no, LEGACY_Q(s, len));
	else if (!KEY("discarded samples"))
		return errmsg__set(e, -EBADMSG, "line %zu: unknown attribute '%.*s' (cycles/second, "
				   "sampling period, ms since reset, discarded samples)", r->l.no,
				   LEGACY_Q(k, kl));
#undef KEY
	if (dst && legacy__parse_int(v, vl, 0, dst))
		return errmsg__set(e, -EBADMSG, "line %zu: bad number '%.*s'", r->l.no,
				   LEGACY_Q(v, vl));
	if (dst == &ms && __builtin_mul_overflow(ms, NSEC_PER_MSEC, &r->lg.duration))
		return errmsg__set(e, -EBADMSG, "line %zu: time out of range", r->l.no);
	return 1;
}

/* "DELAY COUNT @ 0x...": delays in cycles become nanoseconds and both are
 * multiplied up by the sampling period, as pprof does. */
static int contention__sample(struct text_reader *r, const struct contention *c, const char *s,
			      size_t len, struct errmsg *e)
{
	size_t n1 = digits(s, len, 0), sp = spaces(s, len, n1), n2 = digits(s, len, n1 + sp), at, n;
	int64_t v1, v2, v[2], period = r->lg.period;
	double d;
	int err;

	at = n1 + sp + n2;
	if (!n1 || !sp || !n2 || !has_prefix(s + at, len - at, " @"))
		goto bad;
	if (legacy__parse_int(s, n1, 10, &v1) || legacy__parse_int(s + n1 + sp, n2, 10, &v2))
		return errmsg__set(e, -EBADMSG, "line %zu: number out of range", r->l.no);
	if (period > 0) {
		if (c->cpu_hz > 0) {
			d = (double)v1 * (double)period / ((double)c->cpu_hz / 1e9);
			if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
				return errmsg__set(e, -EBADMSG, "line %zu: delay out of range", r->l.no);
			v1 = (int64_t)d;
		}
		if (__builtin_mul_overflow(v2, period, &v2))
			return errmsg__set(e, -EBADMSG, "line %zu: count out of range", r->l.no);
	}
	v[0] = v2;
	v[1] = v1;
	err = parse_addrs(r, s + at + 2, len - at - 2, &n, true);
	if (err == -EINVAL)
		goto bad;
	if (err)
		return errmsg__set(e, -EBADMSG, "line %zu: address past 64 bits", r->l.no);
	err = legacy__add_sample(&r->lg, r->addrs, n, v, NULL, r->l.no);
	return err ? errmsg__set(e, err, "line %zu: %s", r->l.no, strerror(-err)) : 0;
bad:
	return errmsg__set(e, -EBADMSG, "line %zu: expected a contention sample 'DELAY COUNT @ "
			   "0xADDRESS...', got '%.*s'", r->l.no, LEGACY_Q(s, len));
}

static int contention__begin(struct text_reader *r, struct errmsg *e)
{
	static const char *const types[] = { "contentions", "delay" };
	static const char *const units[] = { "count", "nanoseconds" };
	const struct text_line *l = &r->l;
	int err;

	if (!reader__header(r) ||
	    !(has_prefix(l->p, l->len, "--- contentionz ") || has_prefix(l->p, l->len, "--- mutex:") ||
	      has_prefix(l->p, l->len, "--- contention:")))
		return errmsg__set(e, -EBADMSG, "no '--- contentionz', '--- mutex:' or "
				   "'--- contention:' header");
	err = legacy__set_types(&r->lg, types, units, 2);
	if (!err)
		err = legacy__set_period_type(&r->lg, "contentions", "count");
	r->lg.period = 1;
	r->lg.drop = legacy__drop_lock;
	return err ? errmsg__set(e, err, "%s", strerror(-err)) : 0;
}

int legacy_contention__read(const char *data, size_t len, struct pprof_profile **out,
			    struct errmsg *e)
{
	struct contention c = { 0, false };
	struct text_reader *r;
	bool attrs = true;
	int err;

	*out = NULL;
	err = reader__new(&r, data, len, "contention profile");
	if (err) {
		err = errmsg__set(e, err, "out of memory");
		goto out;
	}
	err = contention__begin(r, e);
	while (!err && !c.section && reader__next(r, e, &err)) {
		const char *s = r->l.p;
		size_t n = r->l.len;

		legacy__trim(&s, &n);
		if (!n || s[0] == '#')
			continue;
		c.section = has_prefix(s, n, "---");
		if (c.section)
			break;
		err = attrs ? contention__attr(r, &c, s, n, e) : 0;
		if (err == 1) {
			err = 0;
			continue;
		}
		attrs = false;
		if (!err)
			err = contention__sample(r, &c, s, n, e);
	}
	if (!err && c.section && !has_sentinel(r->l.p, r->l.len))
		err = errmsg__set(e, -EBADMSG, "line %zu: unknown section '%.*s' (only '"
				  HEAP_SENTINEL_1 "' may follow the samples)", r->l.no,
				  LEGACY_Q(r->l.p, r->l.len));
	if (!err)
		err = reader__finish(r, c.section, false, out, e);
out:
	reader__free(r);
	return err;
}

/* --- Go's count profiles: goroutine, threadcreate (debug=1) --- */

static int count__begin(struct text_reader *r, struct errmsg *e)
{
	static const char mid[] = " profile: total ";
	struct legacy *lg = &r->lg;
	const char *s, *sp;
	size_t len, name, i;
	int err = 0;

	if (!reader__header(r))
		return errmsg__set(e, -EBADMSG, "no whole 'NAME profile: total N' header line");
	s = r->l.p;
	len = r->l.len;
	sp = memmem(s, len, mid, sizeof(mid) - 1);
	name = sp ? (size_t)(sp - s) : 0;
	for (i = 0; i < name && !legacy__is_space(s[i]); i++)
		;
	if (!sp || !name || i != name || !digits(s, len, name + sizeof(mid) - 1) ||
	    name + sizeof(mid) - 1 + digits(s, len, name + sizeof(mid) - 1) != len)
		return errmsg__set(e, -EBADMSG, "line %zu: expected 'NAME profile: total N', got "
				   "'%.*s'", r->l.no, LEGACY_Q(s, len));
	/* the profile's name is its sample type: goroutine/count */
	lg->type[0] = lg->period_type = legacy__text(lg, s, name, &err);
	lg->unit[0] = lg->period_unit = legacy__text(lg, "count", 5, &err);
	lg->n_types = 1;
	lg->period = 1;
	lg->drop = legacy__drop_cpu;
	return err ? errmsg__set(e, err, "%s", strerror(-err)) : 0;
}

/* "N @ 0x1 0x2": exactly, as pprof's expression says. */
static int count__sample(struct text_reader *r, struct errmsg *e)
{
	const char *s = r->l.p;
	size_t len = r->l.len, n = digits(s, len, 0), k;
	int64_t v;
	int err;

	if (!n || !has_prefix(s + n, len - n, " @ ") || s[len - 1] == ' ' || memmem(s, len, "  ", 2))
		goto bad;
	err = parse_addrs(r, s + n + 2, len - n - 2, &k, true);
	if (err == -EINVAL || (!err && !k))
		goto bad;
	if (err)
		return errmsg__set(e, -EBADMSG, "line %zu: address past 64 bits", r->l.no);
	if (legacy__parse_int(s, n, 0, &v))
		return errmsg__set(e, -EBADMSG, "line %zu: bad count '%.*s'", r->l.no, (int)n, s);
	err = legacy__add_sample(&r->lg, r->addrs, k, &v, NULL, r->l.no);
	return err ? errmsg__set(e, err, "line %zu: %s", r->l.no, strerror(-err)) : 0;
bad:
	return errmsg__set(e, -EBADMSG, "line %zu: expected 'COUNT @ 0xADDRESS...', got '%.*s'",
			   r->l.no, LEGACY_Q(s, len));
}

int legacy_count__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e)
{
	struct text_reader *r;
	bool section = false;
	int err;

	*out = NULL;
	err = reader__new(&r, data, len, "Go count profile");
	if (err) {
		err = errmsg__set(e, err, "out of memory");
		goto out;
	}
	err = count__begin(r, e);
	while (!err && !section && reader__next(r, e, &err)) {
		const char *s = r->l.p;
		size_t n = r->l.len;

		legacy__trim(&s, &n);
		if (!n || s[0] == '#')
			continue;
		section = has_prefix(r->l.p, r->l.len, "---");
		if (!section)
			err = count__sample(r, e);
	}
	if (!err && section && !has_sentinel(r->l.p, r->l.len))
		err = errmsg__set(e, -EBADMSG, "line %zu: unknown section '%.*s' (only '"
				  HEAP_SENTINEL_1 "' may follow the samples)", r->l.no,
				  LEGACY_Q(r->l.p, r->l.len));
	if (!err)
		err = reader__finish(r, section, false, out, e);
out:
	reader__free(r);
	return err;
}

/* --- threadz --- */

/* "--- Thread HEX (name: NAME/TID) stack: ---" */
static bool threadz__header(const char *s, size_t len)
{
	static const char head[] = "--- Thread ", name[] = " (name: ", tail[] = ") stack: ---";
	size_t i = sizeof(head) - 1, j;
	const char *slash;

	if (!has_prefix(s, len, head))
		return false;
	for (j = i; j < len && ((s[j] >= '0' && s[j] <= '9') || ((s[j] | 0x20) >= 'a' &&
								 (s[j] | 0x20) <= 'f')); j++)
		;
	if (j == i || !has_prefix(s + j, len - j, name) || len < sizeof(tail) - 1 ||
	    memcmp(s + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1))
		return false;
	i = j + sizeof(name) - 1;
	len -= sizeof(tail) - 1;
	if (len <= i)
		return false;
	slash = memrchr(s + i, '/', len - i);
	return slash && digits(s, len, (size_t)(slash + 1 - s)) == (size_t)(s + len - slash - 1) &&
	       slash + 1 < s + len;
}

/* One thread's lines up to the next "---" line: its addresses (the
 * creator's stack too, as pprof reads it), or none when it is the same as
 * the previous thread. */
static int threadz__block(struct text_reader *r, size_t *n, bool *more, struct errmsg *e)
{
	size_t k;
	bool same = false;
	int err = 0;

	*n = 0;
	*more = false;
	while (reader__next(r, e, &err)) {
		const char *s = r->l.p;
		size_t len = r->l.len;

		legacy__trim(&s, &len);
		if (!len)
			continue;
		if (has_prefix(s, len, "---")) {
			*more = true;
			break;
		}
		if (memmem(s, len, "same as previous thread", 23)) {
			same = true;
			continue;
		}
		if (legacy__hex_addrs(s, len, r->addrs + *n, MAX_ADDRS - *n, &k))
			return errmsg__set(e, -EBADMSG, "line %zu: address past 64 bits", r->l.no);
		*n = *n + k > MAX_ADDRS ? MAX_ADDRS : *n + k;
	}
	if (same)
		*n = 0;
	return err;
}

static int threadz__threads(struct text_reader *r, bool *maps, struct errmsg *e)
{
	int64_t one = 1;
	bool more = true, no_stack = false;
	size_t n, i, no;
	int err = 0;

	while (!err && more) {
		const char *s = r->l.p;
		size_t len = r->l.len;

		legacy__trim(&s, &len);
		if (has_sentinel(r->l.p, r->l.len)) {
			*maps = true;
			return 0;
		}
		if (has_prefix(s, len, "---- no stack trace for")) {
			/* the rest up to the memory map, if any, says nothing
			 * pprof keeps */
			no_stack = true;
			while (!err && reader__next(r, e, &err))
				if (has_sentinel(r->l.p, r->l.len)) {
					*maps = true;
					return 0;
				}
			break;
		}
		if (!threadz__header(s, len))
			return errmsg__set(e, -EBADMSG, "line %zu: expected '--- Thread ID (name: "
					   "NAME/TID) stack: ---', got '%.*s'", r->l.no, LEGACY_Q(s, len));
		no = r->l.no;
		err = threadz__block(r, &n, &more, e);
		if (err)
			return err;
		/* "same as previous thread": one more of the last stack */
		if (!n && r->lg.n_samples) {
			r->lg.samples[r->lg.n_samples - 1].v[0]++;
			continue;
		}
		for (i = 1; i < n; i++)
			r->addrs[i]--;
		if (n) {
			err = legacy__add_sample(&r->lg, r->addrs, n, &one, NULL, no);
			if (err)
				return errmsg__set(e, err, "line %zu: %s", no, strerror(-err));
		}
	}
	if (!err && !*maps && !no_stack)
		err = errmsg__set(e, -EBADMSG, "ends without a '" HEAP_SENTINEL_1 "' section, which "
				  "pprof requires of threadz profiles");
	return err;
}

int legacy_threadz__read(const char *data, size_t len, struct pprof_profile **out,
			 struct errmsg *e)
{
	static const char *const type[] = { "thread" }, *const unit[] = { "count" };
	struct text_reader *r;
	bool maps = false;
	int err;

	*out = NULL;
	err = reader__new(&r, data, len, "threadz profile");
	if (!err)
		err = legacy__set_types(&r->lg, type, unit, 1);
	if (!err)
		err = legacy__set_period_type(&r->lg, "thread", "count");
	if (err) {
		err = errmsg__set(e, err, "out of memory");
		goto out;
	}
	r->lg.period = 1;
	r->lg.drop = legacy__drop_cpu;
	if (!reader__header(r)) {
		err = errmsg__set(e, -EBADMSG, "no whole '--- threadz N ---' header line");
		goto out;
	}
	if (has_prefix(r->l.p, r->l.len, "--- threadz ")) {
		/* the header's own lines, up to the first thread */
		while (reader__next(r, e, &err) && !has_sentinel(r->l.p, r->l.len) &&
		       !(r->l.len && r->l.p[0] == '-'))
			;
		if (!err && r->it.pos >= r->it.len && !has_sentinel(r->l.p, r->l.len) &&
		    !(r->l.len && r->l.p[0] == '-'))
			err = errmsg__set(e, -EBADMSG, "no threads");
	}
	if (!err)
		err = threadz__threads(r, &maps, e);
	if (!err)
		err = reader__finish(r, maps, true, out, e);
out:
	reader__free(r);
	return err;
}
