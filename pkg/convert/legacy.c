/* What every legacy reader shares: the raw profile over addresses, the
 * memory map text and the heuristics google/pprof applies to it (adjacent
 * pieces merged, the main binary first, the 0x400000 fix, a catch-all
 * mapping), the Go number syntax these formats were written in, and the
 * final pprof. The reference is google/pprof's profile/legacy_profile.go:
 * a file it reads must come out meaning the same. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/parse.h"
#include "convert/legacy.h"

#define LEGACY_SEED		0x6c656779ull
#define LEGACY_MAIN_START	0x400000ull	/* where a non-PIE x86-64 binary is linked */
#define LEGACY_MAX_LINE_GROWTH	(4u * CONVERT_MAX_LINE)	/* a map line after substitutions */
#define LEGACY_PERMS		"-rwxp"
#define LEGACY_MAX_PATH		4096u	/* of a mapped file, when judging its name */
#define LEGACY_DELETED		"(deleted)"

/* The drop_frames and keep_frames pprof writes for each kind of legacy
 * profile: allocator, lock and profiler-signal frames it hides. */
const char legacy__drop_alloc[] =
	"calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|"
	"realloc|tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|"
	"tc_posix_memalign|tc_pvalloc|tc_valloc|tc_realloc|tc_new|tc_delete|tc_newarray|"
	"tc_deletearray|tc_new_nothrow|tc_newarray_nothrow|malloc_zone_malloc|"
	"malloc_zone_calloc|malloc_zone_valloc|malloc_zone_realloc|malloc_zone_memalign|"
	"malloc_zone_free|runtime\\..*|BaseArena::.*|(::)?do_malloc_no_errno|"
	"(::)?do_malloc_pages|(::)?do_malloc|DoSampledAllocation|"
	"MallocedMemBlock::MallocedMemBlock|_M_allocate|__builtin_(vec_)?delete|"
	"__builtin_(vec_)?new|__gnu_cxx::new_allocator::allocate|__libc_malloc|"
	"__malloc_alloc_template::allocate|allocate|cpp_alloc|operator new(\\[\\])?|"
	"simple_alloc::allocate";
const char legacy__keep_alloc[] = "runtime\\.panic|runtime\\.reflectcall|runtime\\.call[0-9]*";
const char legacy__drop_lock[] =
	"RecordLockProfileData|(base::)?RecordLockProfileData.*|"
	"(base::)?SubmitMutexProfileData.*|(base::)?SubmitSpinLockProfileData.*|"
	"(base::Mutex::)?AwaitCommon.*|(base::Mutex::)?Unlock.*|(base::Mutex::)?UnlockSlow.*|"
	"(base::Mutex::)?ReaderUnlock.*|(base::MutexLock::)?~MutexLock.*|(Mutex::)?AwaitCommon.*|"
	"(Mutex::)?Unlock.*|(Mutex::)?UnlockSlow.*|(Mutex::)?ReaderUnlock.*|"
	"(MutexLock::)?~MutexLock.*|(SpinLock::)?Unlock.*|(SpinLock::)?SlowUnlock.*|"
	"(SpinLockHolder::)?~SpinLockHolder.*";
const char legacy__drop_cpu[] =
	"ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|"
	"__pthread_sighandler|__restore";

int legacy__init(struct legacy *lg, const char *what)
{
	int err;

	memset(lg, 0, sizeof(*lg));
	lg->what = what;
	lg->period_type = lg->period_unit = LEGACY_NONE;
	err = strmap__init(&lg->text, LEGACY_MAX_TEXT);
	if (!err)
		err = strmap__init(&lg->func_names, LEGACY_MAX_TEXT);
	if (!err)
		err = htab__init(&lg->loc_index, 1024);
	return err;
}

void legacy__free(struct legacy *lg)
{
	strmap__free(&lg->text);
	strmap__free(&lg->func_names);
	htab__free(&lg->loc_index);
	free(lg->locs);
	free(lg->stack);
	free(lg->samples);
	free(lg->maps);
	free(lg->funcs);
	memset(lg, 0, sizeof(*lg));
}

uint32_t legacy__text(struct legacy *lg, const char *s, size_t len, int *err)
{
	size_t idx;
	int r = strmap__intern(&lg->text, s, len, &idx);

	if (r < 0) {
		*err = r;
		return LEGACY_NONE;
	}
	return (uint32_t)idx;
}

int legacy__set_types(struct legacy *lg, const char *const *types, const char *const *units,
		      size_t n)
{
	int err = 0;
	size_t i;

	if (n > LEGACY_MAX_TYPES)
		return -E2BIG;
	for (i = 0; i < n && !err; i++) {
		lg->type[i] = legacy__text(lg, types[i], strlen(types[i]), &err);
		lg->unit[i] = legacy__text(lg, units[i], strlen(units[i]), &err);
	}
	lg->n_types = n;
	return err;
}

int legacy__set_period_type(struct legacy *lg, const char *type, const char *unit)
{
	int err = 0;

	lg->period_type = legacy__text(lg, type, strlen(type), &err);
	lg->period_unit = legacy__text(lg, unit, strlen(unit), &err);
	return err;
}

/* --- locations and samples --- */

static bool loc__eq(const void *ctx, uint32_t idx, const void *key)
{
	return ((const struct legacy_loc *)ctx)[idx].addr == *(const uint64_t *)key;
}

int64_t legacy__find_loc(const struct legacy *lg, uint64_t addr)
{
	return htab__find(&lg->loc_index, htab__hash(&addr, sizeof(addr), LEGACY_SEED), loc__eq,
			  lg->locs, &addr);
}

int64_t legacy__loc(struct legacy *lg, uint64_t addr)
{
	uint32_t h = htab__hash(&addr, sizeof(addr), LEGACY_SEED);
	int64_t idx = htab__find(&lg->loc_index, h, loc__eq, lg->locs, &addr);
	struct legacy_loc *l;

	if (idx >= 0)
		return idx;
	if (lg->n_locs >= LEGACY_MAX_LOCATIONS)
		return -E2BIG;
	if (BUF_GROW_ARRAY(lg->locs, lg->cap_locs, lg->n_locs + 1) ||
	    htab__insert(&lg->loc_index, h, (uint32_t)lg->n_locs))
		return -ENOMEM;
	l = &lg->locs[lg->n_locs];
	memset(l, 0, sizeof(*l));
	l->addr = addr;
	l->mapping = l->func = LEGACY_NONE;
	return (int64_t)lg->n_locs++;
}

int legacy__add_sample(struct legacy *lg, const uint64_t *addrs, size_t n, const int64_t *v,
		       const int64_t *bytes, size_t line_no)
{
	struct legacy_sample *s;
	size_t i;

	if (lg->n_samples >= LEGACY_MAX_SAMPLES)
		return -E2BIG;
	/* Keep the leaf end of an over-deep stack, as stack walkers do. */
	if (n > CONVERT_MAX_FRAMES) {
		tally__add(&lg->deep, line_no);
		n = CONVERT_MAX_FRAMES;
	}
	if (BUF_GROW_ARRAY(lg->samples, lg->cap_samples, lg->n_samples + 1) ||
	    BUF_GROW_ARRAY(lg->stack, lg->cap_stack, lg->n_stack + n))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int64_t loc = legacy__loc(lg, addrs[i]);

		if (loc < 0)
			return (int)loc;
		lg->stack[lg->n_stack + i] = (uint32_t)loc;
	}
	s = &lg->samples[lg->n_samples++];
	memset(s, 0, sizeof(*s));
	s->first = lg->n_stack;
	s->n = (uint32_t)n;
	memcpy(s->v, v, lg->n_types * sizeof(*v));
	s->has_bytes = bytes != NULL;
	s->bytes = bytes ? *bytes : 0;
	lg->n_stack += n;
	return 0;
}

int64_t legacy__func(struct legacy *lg, const char *name, size_t name_len, const char *file,
		     size_t file_len)
{
	struct legacy_func *f;
	size_t idx;
	int err = 0, r = strmap__intern(&lg->func_names, name, name_len, &idx);

	if (r < 0)
		return r;
	if (r == 0)
		return lg->func_names.items[idx].val;
	if (BUF_GROW_ARRAY(lg->funcs, lg->cap_funcs, lg->n_funcs + 1))
		return -ENOMEM;
	f = &lg->funcs[lg->n_funcs];
	f->name = legacy__text(lg, name, name_len, &err);
	f->file = legacy__text(lg, file, file_len, &err);
	if (err)
		return err;
	lg->func_names.items[idx].val = (int64_t)lg->n_funcs;
	return (int64_t)lg->n_funcs++;
}

/* --- Go's number syntax --- */

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* Base 0 lets '_' separate digits: each one has a digit (or the base
 * prefix) right before it and a digit right after it. */
static bool underscores_ok(const char *s, size_t len, size_t prefix, int base)
{
	size_t i;

	for (i = prefix; i < len; i++) {
		if (s[i] != '_')
			continue;
		if ((i == prefix && prefix < 2) ||
		    (i > prefix && (s[i - 1] == '_' || digit_value(s[i - 1]) >= base)))
			return false;
		if (i + 1 >= len || digit_value(s[i + 1]) >= base)
			return false;
	}
	return true;
}

int legacy__parse_int(const char *s, size_t len, int base, int64_t *out)
{
	size_t i = 0, prefix = 0;
	bool neg = false, underscore = false, base0 = base == 0;
	uint64_t v = 0;

	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		s++, len--;
	}
	if (len == 0)
		return -EINVAL;
	if (base0) {
		base = 10;
		if (s[0] == '0') {
			char c = len >= 3 ? (char)(s[1] | 0x20) : 0;

			base = c == 'b' ? 2 : c == 'x' ? 16 : 8;
			prefix = c == 'b' || c == 'o' || c == 'x' ? 2 : 1;
		}
	}
	for (i = prefix; i < len; i++) {
		int d = digit_value(s[i]);

		if (s[i] == '_' && base0) {
			underscore = true;
			continue;
		}
		if (d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return -ERANGE;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (underscore && !underscores_ok(s, len, prefix == 1 ? 0 : prefix, base))
		return -EINVAL;
	if (v > (uint64_t)INT64_MAX + neg)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int legacy__hex_addrs(const char *s, size_t len, uint64_t *addrs, size_t max, size_t *n)
{
	size_t i = 0, j;
	uint64_t v;

	*n = 0;
	while (i + 2 < len) {
		if (s[i] != '0' || s[i + 1] != 'x' || digit_value(s[i + 2]) >= 16 ||
		    (s[i + 2] >= 'A' && s[i + 2] <= 'F')) {
			i++;
			continue;
		}
		for (j = i + 2; j < len && digit_value(s[j]) < 16 && !(s[j] >= 'A' && s[j] <= 'F');
		     j++)
			;
		if (parse__u64n(s + i + 2, j - i - 2, 16, &v))
			return -ERANGE;
		if (*n < max)
			addrs[*n] = v;
		++*n;
		i = j;
	}
	return 0;
}

/* A double that fits int64 (NaN does not). */
static int to_int64(double d, int64_t *out)
{
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return -ERANGE;
	*out = (int64_t)d;
	return 0;
}

int legacy__unsample(int64_t *count, int64_t *size, int64_t rate)
{
	double avg, scale;

	if (*count == 0 || *size == 0) {
		*count = *size = 0;
		return 0;
	}
	/* rate 1: every allocation was recorded; below: unknown, left as is */
	if (rate <= 1)
		return 0;
	/* A block of s bytes is sampled with probability 1 - e^(-s/rate). */
	avg = (double)*size / (double)*count;
	scale = 1 / (1 - exp(-avg / (double)rate));
	if (to_int64((double)*count * scale, count) || to_int64((double)*size * scale, size))
		return -ERANGE;
	return 0;
}

/* --- the memory map --- */

bool legacy__is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

void legacy__trim(const char **s, size_t *len)
{
	while (*len && (legacy__is_space(**s) || **s == '\v'))
		(*s)++, (*len)--;
	while (*len && (legacy__is_space((*s)[*len - 1]) || (*s)[*len - 1] == '\v'))
		(*len)--;
}

bool legacy__first_line(struct text_iter *it, struct text_line *l)
{
	while (text__next(it, l)) {
		const char *s = l->p;
		size_t len = l->len;

		legacy__trim(&s, &len);
		if (len && s[0] != '#')
			return true;
	}
	return false;
}

static bool is_hex(char c)
{
	return digit_value(c) < 16;
}

struct map_tok {
	const char *p;
	size_t len;
};

#define MAP_MAX_TOKS 6	/* more than a brief line has; a maps line's path may go on */

/* Whitespace-separated tokens of s[i..]: how many (MAP_MAX_TOKS + 1 when
 * there are more). */
static size_t map__tokens(const char *s, size_t len, size_t i, struct map_tok *t)
{
	size_t n = 0;

	for (;;) {
		while (i < len && legacy__is_space(s[i]))
			i++;
		if (i == len)
			return n;
		if (n == MAP_MAX_TOKS)
			return n + 1;
		t[n].p = s + i;
		while (i < len && !legacy__is_space(s[i]))
			i++;
		t[n].len = (size_t)(s + i - t[n].p);
		n++;
	}
}

static bool map__hex_run(const char *s, size_t len, size_t *i, uint64_t *v)
{
	size_t start;

	if (*i + 2 < len && s[*i] == '0' && s[*i + 1] == 'x' && is_hex(s[*i + 2]))
		*i += 2;
	for (start = *i; *i < len && is_hex(s[*i]); ++*i)
		;
	return *i > start && !parse__u64n(s + start, *i - start, 16, v);
}

static bool tok__all(const struct map_tok *t, bool (*ok)(char))
{
	size_t i;

	for (i = 0; i < t->len; i++)
		if (!ok(t->p[i]))
			return false;
	return t->len > 0;
}

static bool is_perm(char c) { return c && strchr(LEGACY_PERMS, c); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool tok__dev(const struct map_tok *t)
{
	const char *colon = memchr(t->p, ':', t->len);
	struct map_tok a, b;

	if (!colon)
		return false;
	a = (struct map_tok){ t->p, (size_t)(colon - t->p) };
	b = (struct map_tok){ colon + 1, t->len - a.len - 1 };
	return tok__all(&a, is_hex) && tok__all(&b, is_hex);
}

struct map_entry {
	uint64_t start, end, offset;
	struct map_tok file, build_id, perm;
};

/* The brief form after the range: [PERMS] [FILE] [(@OFFSET)] [BUILD-ID]. */
static int map__brief(const struct map_tok *t, size_t n, struct map_entry *m)
{
	size_t i = 0, p;

	if (n > 4)
		return -1;
	if (n) {
		for (p = 0; p < t[0].len && is_perm(t[0].p[p]); p++)
			;
		/* pprof would read the perms as far as they go and drop the
		 * rest of the line: "pprof_main" as perms "ppr" */
		if (p && p < t[0].len)
			return -1;
		if (p)
			m->perm = t[i++];
	}
	if (i < n)
		m->file = t[i++];
	/* as in /proc/PID/maps, the file's first word is its name; pprof
	 * reads nothing after "(deleted)", so nothing may follow it */
	if (i + 1 == n && t[i].len == strlen(LEGACY_DELETED) &&
	    !memcmp(t[i].p, LEGACY_DELETED, t[i].len))
		i++;
	if (i < n && t[i].len > 3 && !memcmp(t[i].p, "(@", 2) && t[i].p[t[i].len - 1] == ')') {
		struct map_tok off = { t[i].p + 2, t[i].len - 3 };

		if (!tok__all(&off, is_hex) || parse__u64n(off.p, off.len, 16, &m->offset))
			return -1;
		i++;
	}
	if (i < n && tok__all(&t[i], is_hex))
		m->build_id = t[i++];
	return i == n ? 1 : -1;
}

/* One map line (glog prefix and substitutions done): 1 and *m, 0 for a
 * mapping that is not executable, -1 when the line is no mapping. */
static int map__entry(const char *s, size_t len, struct map_entry *m)
{
	struct map_tok t[MAP_MAX_TOKS];
	size_t i = 0, n;

	memset(m, 0, sizeof(*m));
	while (i < len && legacy__is_space(s[i]))
		i++;
	if (!map__hex_run(s, len, &i, &m->start) || i == len)
		return -1;
	if (s[i] == '-')
		i++;
	else if (!legacy__is_space(s[i]))
		return -1;
	while (i < len && legacy__is_space(s[i]))
		i++;
	if (!map__hex_run(s, len, &i, &m->end))
		return -1;
	if (i < len && s[i] == ':')
		i++;
	if (i < len && !legacy__is_space(s[i]))
		return -1;
	n = map__tokens(s, len, i, t);
	/* /proc/PID/maps: PERMS OFFSET DEV INODE [PATH...]; only the path's
	 * first word counts, as for pprof ("(deleted)" and all) */
	if (n >= 4 && tok__all(&t[0], is_perm) && tok__all(&t[1], is_hex) &&
	    tok__dev(&t[2]) && tok__all(&t[3], is_digit)) {
		if (parse__u64n(t[1].p, t[1].len, 16, &m->offset))
			return -1;
		m->perm = t[0];
		if (n > 4)
			m->file = t[4];
	} else if (n >= 4 && t[0].len == 4 && t[0].p[3] == 's' &&
		   is_perm(t[0].p[0]) && is_perm(t[0].p[1]) && is_perm(t[0].p[2]) &&
		   tok__all(&t[1], is_hex) && tok__dev(&t[2]) && tok__all(&t[3], is_digit)) {
		/* a shared mapping ("r-xs"): pprof reads only the perms it
		 * knows and nothing after them */
		m->perm = (struct map_tok){ t[0].p, 3 };
	} else if (map__brief(t, n, m) < 0) {
		return -1;
	}
	if (m->perm.len && !memchr(m->perm.p, 'x', m->perm.len))
		return 0;
	return 1;
}

/* glog's "I0102 15:04:05.000000 123 file.cc:45] " in front of a line. */
static size_t map__log_prefix(const char *s, size_t len)
{
	size_t i, d;

	for (i = 0; i < len && s[i] != '[' && s[i] != ']'; i++)
		;
	if (i == len || s[i] != ']' || i + 1 >= len || !legacy__is_space(s[i + 1]))
		return 0;
	for (d = i; d > 0 && is_digit(s[d - 1]); d--)
		;
	if (d == i || d < 2 || s[d - 1] != ':')
		return 0;
	return i + 2;
}

struct map_attr {
	size_t key, key_len, val, val_len;	/* offsets into the attribute text */
};

struct map_reader {
	struct legacy *lg;
	struct buf line, attr_text;
	struct map_attr attrs[LEGACY_MAX_ATTRS];
	size_t n_attrs;
};

/* "$name" replaced by its value, at each position the first name defined
 * that matches, as Go's strings.Replacer does. */
static int map__substitute(struct map_reader *mr, const char *s, size_t len)
{
	const char *text = (const char *)mr->attr_text.data;
	size_t i = 0, a;
	int err = 0;

	mr->line.len = 0;
	while (i < len && !err) {
		for (a = 0; a < mr->n_attrs; a++) {
			const struct map_attr *at = &mr->attrs[a];

			if (len - i >= at->key_len && !memcmp(s + i, text + at->key, at->key_len))
				break;
		}
		if (a < mr->n_attrs) {
			err = buf__append(&mr->line, text + mr->attrs[a].val, mr->attrs[a].val_len);
			i += mr->attrs[a].key_len;
		} else {
			err = buf__append(&mr->line, s + i, 1);
			i++;
		}
	}
	return err;
}

/* "name = value": "$name" stands for value in later lines. */
static int map__attr(struct map_reader *mr, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len), *k = s, *v = eq + 1;
	size_t kl = (size_t)(eq - s), vl = len - kl - 1;
	struct map_attr *at;
	int err;

	if (mr->n_attrs == LEGACY_MAX_ATTRS)
		return -E2BIG;
	legacy__trim(&k, &kl);
	legacy__trim(&v, &vl);
	at = &mr->attrs[mr->n_attrs];
	at->key = mr->attr_text.len;
	at->key_len = kl + 1;
	err = buf__append(&mr->attr_text, "$", 1);
	if (!err)
		err = buf__append(&mr->attr_text, k, kl);
	at->val = mr->attr_text.len;
	at->val_len = vl;
	if (!err)
		err = buf__append(&mr->attr_text, v, vl);
	if (!err)
		mr->n_attrs++;
	return err;
}

static int map__add(struct legacy *lg, const struct map_entry *me)
{
	struct legacy_map *m;
	int err = 0;

	if (lg->n_maps >= LEGACY_MAX_MAPPINGS)
		return -E2BIG;
	if (BUF_GROW_ARRAY(lg->maps, lg->cap_maps, lg->n_maps + 1))
		return -ENOMEM;
	m = &lg->maps[lg->n_maps];
	m->start = me->start;
	m->limit = me->end;
	m->offset = me->offset;
	m->file = me->file.len ? legacy__text(lg, me->file.p, me->file.len, &err) : LEGACY_NONE;
	m->build_id = me->build_id.len ? legacy__text(lg, me->build_id.p, me->build_id.len, &err)
				       : LEGACY_NONE;
	if (!err)
		lg->n_maps++;
	return err;
}

static int map__line(struct map_reader *mr, const struct text_line *l, struct errmsg *e)
{
	const char *s = l->p;
	size_t len = l->len, skip = map__log_prefix(s, len);
	struct map_entry me;
	int err, r;

	if (memchr(s, '\0', len))
		return errmsg__set(e, -EBADMSG, "line %zu: NUL byte in the memory map", l->no);
	err = map__substitute(mr, s + skip, len - skip);
	if (err)
		return errmsg__set(e, err == -E2BIG ? -EBADMSG : err, "line %zu: %s", l->no,
				   err == -E2BIG ? "too long after $name substitutions" : strerror(-err));
	s = (const char *)mr->line.data;
	len = mr->line.len;
	if (text__is_blank(s, len))
		return 0;
	r = map__entry(s, len, &me);
	if (r > 0)
		err = map__add(mr->lg, &me);
	else if (r < 0 && memchr(s, '=', len))
		err = map__attr(mr, s, len);
	else if (r < 0)
		return errmsg__set(e, -EBADMSG, "line %zu: expected a memory map line "
				   "'START-END PERMS OFFSET DEV INODE PATH' or 'START-END: PATH', got "
				   "'%.*s'", l->no, LEGACY_Q(s, len));
	if (err)
		return errmsg__set(e, err == -E2BIG ? -EBADMSG : err, "line %zu: %s", l->no,
				   err == -E2BIG ? "memory map too large" : strerror(-err));
	return 0;
}

/* Two pieces of one mapping: nothing tells them apart and they touch. */
static bool map__adjacent(const struct legacy_map *a, const struct legacy_map *b)
{
	if (a->file != LEGACY_NONE && b->file != LEGACY_NONE && a->file != b->file)
		return false;
	if (a->build_id != LEGACY_NONE && b->build_id != LEGACY_NONE && a->build_id != b->build_id)
		return false;
	if (a->limit != b->start)
		return false;
	return !a->offset || !b->offset || a->offset + (a->limit - a->start) == b->offset;
}

/* A shared library by its name: ".so" at the end, or ".so." or ".so_" and
 * a digit. */
static bool map__is_lib(const char *f)
{
	const char *p;
	size_t n = strlen(f);

	if (n >= 3 && !strcmp(f + n - 3, ".so"))
		return true;
	for (p = strstr(f, ".so"); p; p = strstr(p + 1, ".so"))
		if ((p[3] == '.' || p[3] == '_') && is_digit(p[4]))
			return true;
	return false;
}

/* What pprof takes for the main binary: named, not a library, not "[...]". */
static bool map__is_main(const struct legacy *lg, const struct legacy_map *m)
{
	const char *f = legacy__str(lg, m->file), *d;
	char name[LEGACY_MAX_PATH];
	size_t n = 0, len;

	/* the name without any "(deleted)", trimmed */
	while (*f && n < sizeof(name) - 1) {
		d = strstr(f, LEGACY_DELETED);
		len = d ? (size_t)(d - f) : strlen(f);
		if (len > sizeof(name) - 1 - n)
			len = sizeof(name) - 1 - n;
		memcpy(name + n, f, len);
		n += len;
		f += len + (d ? strlen(LEGACY_DELETED) : 0);
	}
	name[n] = '\0';
	f = name;
	legacy__trim(&f, &n);
	if (!n || f[0] == '[')
		return false;
	name[f - name + n] = '\0';
	return !map__is_lib(f);
}

static void map__massage(struct legacy *lg)
{
	struct legacy_map tmp;
	size_t i, n = 0;

	for (i = 0; i < lg->n_maps; i++) {
		struct legacy_map *last = n ? &lg->maps[n - 1] : NULL;

		if (last && map__adjacent(last, &lg->maps[i])) {
			last->limit = lg->maps[i].limit;
			if (lg->maps[i].file != LEGACY_NONE)
				last->file = lg->maps[i].file;
			if (lg->maps[i].build_id != LEGACY_NONE)
				last->build_id = lg->maps[i].build_id;
			continue;
		}
		lg->maps[n++] = lg->maps[i];
	}
	lg->n_maps = n;
	for (i = 0; i < n; i++)
		if (map__is_main(lg, &lg->maps[i])) {
			tmp = lg->maps[0];
			lg->maps[0] = lg->maps[i];
			lg->maps[i] = tmp;
			break;
		}
}

int legacy__parse_maps(struct legacy *lg, const char *text, size_t len, size_t first_line,
		       struct errmsg *e)
{
	struct text_iter it = { .data = text, .len = len, .line_no = first_line - 1 };
	struct map_reader *mr = calloc(1, sizeof(*mr));
	struct text_line l;
	int err = 0;

	if (!mr)
		return errmsg__set(e, -ENOMEM, "out of memory");
	mr->lg = lg;
	mr->line = BUF_INIT(LEGACY_MAX_LINE_GROWTH);
	mr->attr_text = BUF_INIT(LEGACY_MAX_LINE_GROWTH);
	while (!err && text__next(&it, &l)) {
		if (l.len > CONVERT_MAX_LINE)
			err = errmsg__set(e, -EBADMSG, "line %zu: longer than %u bytes", l.no,
					  CONVERT_MAX_LINE);
		else if (!l.complete)
			err = errmsg__set(e, -EBADMSG, "line %zu: input ends mid-line (cut short?)", l.no);
		else
			err = map__line(mr, &l, e);
	}
	if (!err)
		map__massage(lg);
	buf__free(&mr->line);
	buf__free(&mr->attr_text);
	free(mr);
	return err;
}

/* --- from samples over addresses to locations in mappings --- */

static int legacy__fake_map(struct legacy *lg, uint32_t *idx)
{
	if (!lg->fake_map) {
		if (BUF_GROW_ARRAY(lg->maps, lg->cap_maps, lg->n_maps + 1))
			return -ENOMEM;
		lg->maps[lg->n_maps++] = (struct legacy_map){ 0, UINT64_MAX, 0, LEGACY_NONE,
							      LEGACY_NONE };
		lg->fake_map = true;
	}
	*idx = (uint32_t)(lg->n_maps - 1);
	return 0;
}

/* The mapping of one address: the first that holds it; else one whose
 * file offset says it starts lower (a legacy handler wrote the first piece
 * of a split mapping without its start: widen it); else the catch-all. */
static int legacy__map_of(struct legacy *lg, struct legacy_loc *l)
{
	size_t n = lg->n_maps - lg->fake_map, i;

	for (i = 0; i < n; i++)
		if (lg->maps[i].start <= l->addr && l->addr < lg->maps[i].limit) {
			l->mapping = (uint32_t)i;
			return 0;
		}
	for (i = 0; i < n; i++) {
		struct legacy_map *m = &lg->maps[i];

		if (m->offset && m->start - m->offset <= l->addr && l->addr < m->start) {
			m->start -= m->offset;
			m->offset = 0;
			l->mapping = (uint32_t)i;
			return 0;
		}
	}
	return legacy__fake_map(lg, &l->mapping);
}

int legacy__assign_mappings(struct legacy *lg)
{
	size_t i, j;
	int err;

	/* a huge-page copy of the text mapped just below it is no binary */
	if (lg->n_maps > 1 && !strncmp(legacy__str(lg, lg->maps[0].file), "/anon_hugepage", 14) &&
	    lg->maps[0].limit == lg->maps[1].start) {
		memmove(lg->maps, lg->maps + 1, (lg->n_maps - 1) * sizeof(*lg->maps));
		lg->n_maps--;
	}
	/* a main binary at the classic link address: its addresses are its own */
	if (lg->n_maps && lg->maps[0].start - lg->maps[0].offset == LEGACY_MAIN_START) {
		lg->maps[0].start = LEGACY_MAIN_START;
		lg->maps[0].offset = 0;
	}
	for (i = 0; i < lg->n_locs; i++)
		lg->locs[i].used = false;
	/* in the order samples first reach them, since widening a mapping
	 * changes where later addresses land */
	for (i = 0; i < lg->n_samples; i++) {
		const struct legacy_sample *s = &lg->samples[i];

		for (j = 0; j < s->n; j++) {
			struct legacy_loc *l = &lg->locs[lg->stack[s->first + j]];

			if (l->used)
				continue;
			l->used = true;
			if (l->mapping != LEGACY_NONE || l->addr == 0 || l->resolved)
				continue;
			err = legacy__map_of(lg, l);
			if (err)
				return err;
		}
	}
	return 0;
}

void legacy__drop_duplicate_leaves(struct legacy *lg)
{
	size_t i;

	for (i = 0; i < lg->n_samples; i++) {
		struct legacy_sample *s = &lg->samples[i];
		uint32_t *st = lg->stack + s->first;

		if (s->n > 1 && lg->locs[st[0]].addr == lg->locs[st[1]].addr + 1) {
			memmove(st + 1, st + 2, (s->n - 2) * sizeof(*st));
			s->n--;
		}
	}
}

/* --- the profile --- */

struct legacy_build {
	struct legacy *lg;
	struct pprof_builder *b;
	uint64_t *map_ids, *loc_ids;	/* builder ids by index, 0 until made */
	size_t frameless;		/* samples dropped for want of a frame */
	uint64_t locs[CONVERT_MAX_FRAMES];
};

/* The builder's location of locs[idx], made at its first use: 0 or the
 * builder's error. */
static int build__loc(struct legacy_build *lb, uint32_t idx, uint64_t *id)
{
	struct legacy *lg = lb->lg;
	const struct legacy_loc *l = &lg->locs[idx];
	struct pprof_line line = { 0, l->line };
	uint64_t mapping = 0;
	int err = 0;

	if (lb->loc_ids[idx]) {
		*id = lb->loc_ids[idx];
		return 0;
	}
	if (l->mapping != LEGACY_NONE) {
		const struct legacy_map *m = &lg->maps[l->mapping];
		struct pprof_mapping pm = {
			.memory_start = m->start, .memory_limit = m->limit, .file_offset = m->offset,
			.filename = legacy__str(lg, m->file), .build_id = legacy__str(lg, m->build_id),
		};

		if (!lb->map_ids[l->mapping])
			err = pprof_builder__mapping(lb->b, &pm, &lb->map_ids[l->mapping]);
		mapping = lb->map_ids[l->mapping];
	}
	if (!err && l->func != LEGACY_NONE) {
		const struct legacy_func *f = &lg->funcs[l->func];
		const char *name = legacy__str(lg, f->name);

		err = pprof_builder__function(lb->b, name, name, legacy__str(lg, f->file), 0,
					      &line.function_id);
	}
	if (!err)
		err = pprof_builder__location(lb->b, mapping, lg->no_addresses ? 0 : l->addr, &line,
					      l->func != LEGACY_NONE, &lb->loc_ids[idx]);
	*id = lb->loc_ids[idx];
	return err;
}

static int build__samples(struct legacy_build *lb)
{
	struct legacy *lg = lb->lg;
	size_t i, j;
	int err;

	for (i = 0; i < lg->n_samples; i++) {
		const struct legacy_sample *s = &lg->samples[i];
		struct pprof_label bytes = { .key = "bytes", .num = s->bytes };

		/* pprof drops samples whose values are all 0 when it merges
		 * profiles, and those without a frame when it filters them */
		for (j = 0; j < lg->n_types && !s->v[j]; j++)
			;
		if (j == lg->n_types)
			continue;
		if (!s->n) {
			lb->frameless++;
			continue;
		}
		for (j = 0; j < s->n; j++) {
			err = build__loc(lb, lg->stack[s->first + j], &lb->locs[j]);
			if (err)
				return err;
		}
		err = pprof_builder__add_sample(lb->b, lb->locs, s->n, s->v, &bytes, s->has_bytes);
		if (err)
			return err;
	}
	return 0;
}

static int build__begin(struct legacy_build *lb)
{
	struct legacy *lg = lb->lg;
	struct pprof_value_type types[LEGACY_MAX_TYPES];
	size_t i;

	for (i = 0; i < lg->n_types; i++)
		types[i] = (struct pprof_value_type){ legacy__str(lg, lg->type[i]),
						      legacy__str(lg, lg->unit[i]) };
	lb->b = pprof_builder__new(types, lg->n_types);
	lb->map_ids = calloc(lg->n_maps + 1, sizeof(*lb->map_ids));
	lb->loc_ids = calloc(lg->n_locs + 1, sizeof(*lb->loc_ids));
	if (!lb->b || !lb->map_ids || !lb->loc_ids)
		return -ENOMEM;
	/* every mapping, in order (the first is the main binary), as pprof
	 * keeps them; the catch-all one only when used */
	for (i = 0; i < lg->n_maps - lg->fake_map; i++) {
		const struct legacy_map *m = &lg->maps[i];
		struct pprof_mapping pm = {
			.memory_start = m->start, .memory_limit = m->limit, .file_offset = m->offset,
			.filename = legacy__str(lg, m->file), .build_id = legacy__str(lg, m->build_id),
		};
		int err = pprof_builder__mapping(lb->b, &pm, &lb->map_ids[i]);

		if (err)
			return err;
	}
	if (lg->period_type != LEGACY_NONE)
		pprof_builder__set_period(lb->b, legacy__str(lg, lg->period_type),
					  legacy__str(lg, lg->period_unit), lg->period);
	else if (lg->period)
		pprof_builder__set_period(lb->b, NULL, NULL, lg->period);
	pprof_builder__set_time(lb->b, 0, lg->duration);
	return pprof_builder__set_frames(lb->b, lg->drop, lg->keep);
}

int legacy__finish(struct legacy *lg, struct pprof_profile **out, struct errmsg *e)
{
	struct legacy_build *lb;
	int err;

	if (!lg->n_samples)
		return errmsg__set(e, -EBADMSG, "%s without samples", lg->what);
	if (!lg->n_types)
		return errmsg__set(e, -EBADMSG, "%s without sample types", lg->what);
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return errmsg__set(e, -ENOMEM, "out of memory");
	lb->lg = lg;
	err = build__begin(lb);
	if (!err)
		err = build__samples(lb);
	if (err == -ERANGE)
		err = errmsg__set(e, -EBADMSG, "the values of one stack add up past 64 bits");
	else if (err)
		err = errmsg__set(e, err, "cannot build the profile: %s", strerror(-err));
	if (!err && lb->frameless)
		pr_warn("%s: %zu samples without any frame dropped, as pprof drops them", lg->what,
			lb->frameless);
	if (!err && pprof_builder__sample_count(lb->b) == 0)
		err = errmsg__set(e, -EBADMSG, "%s: no sample has both a frame and a value", lg->what);
	if (!err) {
		tally__warn_deep(&lg->deep, lg->what);
		*out = pprof_builder__finish(lb->b);
		if (!*out)
			err = errmsg__set(e, convert__builder_err(), "cannot finish the profile");
	}
	pprof_builder__free(lb->b);
	free(lb->map_ids);
	free(lb->loc_ids);
	free(lb);
	return err;
}
