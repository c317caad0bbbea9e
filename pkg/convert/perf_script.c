/* `perf script` text in its default fields to pprof: a sample per header and
 * call chain of one event, pid/tid/comm labels, one mapping per DSO, inlined
 * functions as the leading lines of their caller's location, addresses kept
 * so that unsymbolized frames can be symbolized later. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/parse.h"
#include "convert/convert.h"
#include "convert/internal.h"
#include "pprof/builder.h"

#define NSEC_PER_SEC 1000000000ull
#define PERF_UNKNOWN "[unknown]"
#define PERF_MODIFIERS "ukhIGHpPSDWe"	/* event modifier letters, as in cycles:uk */
#define PERF_QUOTE 60			/* bytes of a bad line quoted in errors */
#define PERF_INLINED "inlined"		/* perf's DSO text for an inlined function */
#define PERF_SIDEBAND "PERF_RECORD_"	/* --show-task-events, --show-mmap-events, ... */
#define PERF_MAX_INLINES 256u		/* inlined functions held for one address */
#define PERF_MAX_INLINE_TEXT (4u << 20)	/* their frame text together */

struct perf_dso {
	uint64_t mapping_id;
	uint64_t lo, hi;		/* addresses seen */
	bool symbolized;		/* every frame in it had a symbol */
	bool inlines;			/* some frame in it had inlined functions */
};

struct perf_frame {
	uint64_t addr;
	const char *sym, *dso;
	size_t sym_len, dso_len;	/* 0: unknown */
};

struct perf_reader {
	struct pprof_builder *b;
	struct strmap frames;		/* frame text (inlined frames first) -> location id */
	struct strmap dsos;		/* DSO path -> index in dso */
	struct strmap periods;		/* period (raw bytes) -> samples */
	struct perf_dso *dso;
	size_t n_dso, cap_dso;
	struct buf scratch;		/* NUL-terminated copies for the builder */
	struct buf key;			/* frame cache key when inlined frames lead */

	/* Fixed by the first sample: a profile holds one event. */
	const char *event;
	size_t event_len;
	bool cpu;			/* a clock event with periods: cpu/nanoseconds too */

	uint64_t t_min, t_max, last_period;
	size_t samples;
	struct tally other, deep, frameless;

	bool in_sideband;		/* lines may continue a side-band record */

	/* The sample being read. */
	bool in_sample, skip, truncated;
	struct perf_header h;
	size_t h_line;
	size_t n_locs;
	uint64_t locs[CONVERT_MAX_FRAMES];

	/* Inlined frames waiting for the frame of their address: their text,
	 * one per line, and the lines of the location being made. */
	struct buf inl;
	size_t n_inl;
	uint64_t inl_addr;
	struct pprof_line lines[PERF_MAX_INLINES + 1];
};

struct perf_tok {
	const char *p;
	size_t len;
};

static bool perf__is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t perf__hex_run(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && perf__is_hex(s[i]))
		i++;
	return i;
}

static bool perf__next_tok(const char *s, size_t len, size_t *pos, struct perf_tok *t)
{
	size_t i = *pos;

	while (i < len && text__is_space(s[i]))
		i++;
	if (i >= len)
		return false;
	t->p = s + i;
	while (i < len && !text__is_space(s[i]))
		i++;
	t->len = (size_t)(s + i - t->p);
	*pos = i;
	return true;
}

/* SECONDS.FRACTION: as perf prints sample times. */
static bool perf__time(const struct perf_tok *t, uint64_t *ns)
{
	const char *dot;
	uint64_t sec, frac;
	size_t n, i;

	if (t->len < 4 || t->p[t->len - 1] != ':')
		return false;
	dot = memchr(t->p, '.', t->len);
	if (!dot)
		return false;
	n = t->len - 2 - (size_t)(dot - t->p);
	if (n == 0 || n > 9 || parse__u64n(t->p, (size_t)(dot - t->p), 10, &sec) ||
	    parse__u64n(dot + 1, n, 10, &frac))
		return false;
	for (i = n; i < 9; i++)
		frac *= 10;
	if (sec > (UINT64_MAX - frac) / NSEC_PER_SEC)
		return false;
	*ns = sec * NSEC_PER_SEC + frac;
	return true;
}

/* perf prints an unknown thread as -1. */
static bool perf__id(const char *s, size_t len, int64_t *v)
{
	bool neg = len && *s == '-';
	uint64_t u;

	if (parse__u64n(s + neg, len - neg, 10, &u) || u > INT64_MAX)
		return false;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return true;
}

/* "[CPU]" optionally, before it "TID" or "PID/TID". */
static bool perf__ids(const struct perf_tok *prev, size_t n, struct perf_header *h,
		      const char **id_start)
{
	const struct perf_tok *t = &prev[0];
	const char *slash;
	uint64_t cpu;

	if (t->len > 2 && t->p[0] == '[' && t->p[t->len - 1] == ']' &&
	    parse__u64n(t->p + 1, t->len - 2, 10, &cpu) == 0) {
		if (n < 2)
			return false;
		t = &prev[1];
	}
	slash = memchr(t->p, '/', t->len);
	h->has_pid = slash != NULL;
	if (slash && !perf__id(t->p, (size_t)(slash - t->p), &h->pid))
		return false;
	if (slash && !perf__id(slash + 1, t->len - (size_t)(slash - t->p) - 1, &h->tid))
		return false;
	if (!slash && !perf__id(t->p, t->len, &h->tid))
		return false;
	*id_start = t->p;
	return true;
}

/* Find the time (the first "S.F:" token with ids before it) from the left:
 * the command name before it is at most 15 bytes but may hold blanks, while
 * what follows the event is free text for tracepoints. */
int perf_script__parse_header(const char *s, size_t len, struct perf_header *h)
{
	struct perf_tok prev[2] = { { 0 } }, t;
	size_t pos = 0, n = 0, mark;
	const char *ids = NULL;

	memset(h, 0, sizeof(*h));
	while (perf__next_tok(s, len, &pos, &t)) {
		if (n && perf__time(&t, &h->time_ns) && perf__ids(prev, n, h, &ids))
			break;
		prev[1] = prev[0];
		prev[0] = t;
		n++;
	}
	if (!ids)
		return -EBADMSG;
	h->comm = s;
	h->comm_len = (size_t)(ids - s);
	text__trim(&h->comm, &h->comm_len);

	mark = pos;
	if (perf__next_tok(s, len, &pos, &t) && parse__u64n(t.p, t.len, 10, &h->period) == 0 &&
	    h->period <= INT64_MAX) {
		h->has_period = true;
		mark = pos;
	} else {
		h->period = 0;
	}
	pos = mark;
	if (perf__next_tok(s, len, &pos, &t) && t.len > 1 && t.p[t.len - 1] == ':') {
		h->event = t.p;
		h->event_len = t.len - 1;
		mark = pos;
	}
	h->rest = s + mark;
	h->rest_len = len - mark;
	text__trim(&h->rest, &h->rest_len);
	return 0;
}

bool perf_script__is_srcline(const char *s, size_t len)
{
	return len > 2 && s[0] == ' ' && s[1] == ' ' && !text__is_space(s[2]) &&
	       !perf_script__is_frame(s, len);
}

bool perf_script__is_frame(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len && text__is_space(s[i]))
		i++;
	n = perf__hex_run(s + i, len - i);
	return i && n && (i + n == len || text__is_space(s[i + n]));
}

/* "ADDRESS [SYMBOL[+0xOFF]] [(DSO)]", trimmed; the DSO is the last
 * parenthesised group after a blank, since symbols may hold parentheses
 * and blanks and DSOs may end "(deleted)". */
static int perf__parse_frame(const char *s, size_t len, struct perf_frame *f)
{
	const char *rest, *plus;
	size_t i, n, j;

	memset(f, 0, sizeof(*f));
	i = perf__hex_run(s, len);
	if (i == 0 || (i < len && !text__is_space(s[i])) || parse__u64n(s, i, 16, &f->addr))
		return -EBADMSG;
	rest = s + i;
	n = len - i;
	text__trim(&rest, &n);
	f->sym = rest;
	f->sym_len = n;
	if (n && rest[n - 1] == ')') {
		size_t depth = 0;

		for (j = n; j-- > 0;) {
			if (rest[j] == ')')
				depth++;
			else if (rest[j] == '(' && --depth == 0)
				break;
		}
		if (j < n && (j == 0 || text__is_space(rest[j - 1]))) {
			f->dso = rest + j + 1;
			f->dso_len = n - j - 2;
			f->sym_len = j;
			text__trim(&f->sym, &f->sym_len);
		}
	}
	/* perf adds +0xOFFSET to the symbol; the address already says it. */
	plus = f->sym_len ? memrchr(f->sym, '+', f->sym_len) : NULL;
	if (plus && f->sym + f->sym_len - plus > 3 && plus[1] == '0' && plus[2] == 'x') {
		for (j = 3; plus + j < f->sym + f->sym_len && perf__is_hex(plus[j]); j++)
			;
		if (plus + j == f->sym + f->sym_len)
			f->sym_len = (size_t)(plus - f->sym);
	}
	if (f->sym_len == strlen(PERF_UNKNOWN) && memcmp(f->sym, PERF_UNKNOWN, f->sym_len) == 0)
		f->sym_len = 0;
	if (f->dso_len == strlen(PERF_UNKNOWN) && memcmp(f->dso, PERF_UNKNOWN, f->dso_len) == 0)
		f->dso_len = 0;
	return 0;
}

static const char *perf__cstr(struct perf_reader *r, const char *s, size_t len)
{
	static const char nul;

	r->scratch.len = 0;
	if (buf__append(&r->scratch, s, len) || buf__append(&r->scratch, &nul, 1))
		return NULL;
	return (const char *)r->scratch.data;
}

static int perf__dso(struct perf_reader *r, const char *path, size_t len, size_t *di)
{
	struct pprof_mapping m = { 0 };
	struct perf_dso *d;
	size_t idx;
	int err;

	err = strmap__intern(&r->dsos, path, len, &idx);
	if (err < 0)
		return err;
	if (err == 0) {
		*di = (size_t)r->dsos.items[idx].val;
		return err;
	}
	err = BUF_GROW_ARRAY(r->dso, r->cap_dso, r->n_dso + 1);
	if (err)
		return err;
	/* Placeholder range: the real one is known at the end (perf__patch). */
	m.filename = strmap__key(&r->dsos, idx);
	d = &r->dso[r->n_dso];
	err = pprof_builder__mapping(r->b, &m, &d->mapping_id);
	if (err)
		return err;
	d->lo = UINT64_MAX;
	d->hi = 0;
	d->symbolized = true;
	d->inlines = false;
	r->dsos.items[idx].val = (int64_t)r->n_dso;
	*di = r->n_dso++;
	return 0;
}

static int perf__function(struct perf_reader *r, const struct perf_frame *f, uint64_t *id)
{
	const char *name = perf__cstr(r, f->sym, f->sym_len);

	if (!name)
		return -ENOMEM;
	return pprof_builder__function(r->b, name, name, NULL, 0, id);
}

/* The location of frame f (NULL: inlined frames whose own frame perf did not
 * print), with the held inlined functions as its leading lines: innermost
 * first and the caller last, pprof's order and perf's alike. */
static int perf__location(struct perf_reader *r, const struct perf_frame *f, uint64_t *loc)
{
	uint64_t mapping_id = 0;
	size_t n = 0, pos = 0;
	int err;

	while (pos < r->inl.len) {
		const char *s = (const char *)r->inl.data + pos;
		const char *nl = memchr(s, '\n', r->inl.len - pos);
		struct perf_frame in;

		if (!nl || perf__parse_frame(s, (size_t)(nl - s), &in))
			return -EPROTO;		/* it parsed when it was held */
		pos += (size_t)(nl - s) + 1;
		if (!in.sym_len)
			continue;
		err = perf__function(r, &in, &r->lines[n].function_id);
		if (err)
			return err;
		r->lines[n++].line = 0;
	}
	if (f && f->dso_len) {
		struct perf_dso *d;
		size_t di;

		err = perf__dso(r, f->dso, f->dso_len, &di);
		if (err)
			return err;
		d = &r->dso[di];
		d->lo = f->addr < d->lo ? f->addr : d->lo;
		d->hi = f->addr > d->hi ? f->addr : d->hi;
		d->symbolized &= f->sym_len != 0;
		d->inlines |= n != 0;
		mapping_id = d->mapping_id;
	}
	if (f && f->sym_len) {
		err = perf__function(r, f, &r->lines[n].function_id);
		if (err)
			return err;
		r->lines[n++].line = 0;
	}
	/* Without a symbol, keep mapping and address and no line: pprof and
	 * servers can symbolize it later from the binary. */
	return pprof_builder__location(r->b, mapping_id, f ? f->addr : r->inl_addr, r->lines, n, loc);
}

/* Keep the leaf end of an over-deep stack, as stack walkers do. */
static void perf__cut(struct perf_reader *r, size_t line_no)
{
	if (!r->truncated)
		tally__add(&r->deep, line_no);
	r->truncated = true;
	r->inl.len = 0;
	r->n_inl = 0;
}

/* The location of the frame text s (trimmed; NULL: the held inlined frames
 * alone) added to the stack. The same text recurs in most samples, so it
 * is looked up by one hash instead of being parsed again; held inlined
 * frames lead the key, since they make another location of the same frame. */
static int perf__push(struct perf_reader *r, const char *s, size_t len, size_t line_no,
		      struct errmsg *e)
{
	const char *key = s;
	size_t key_len = len, idx;
	struct perf_frame f;
	int err;

	if (r->n_locs == CONVERT_MAX_FRAMES) {
		perf__cut(r, line_no);
		return 0;
	}
	if (r->n_inl) {
		r->key.len = 0;
		err = buf__append(&r->key, r->inl.data, r->inl.len);
		if (!err && s)
			err = buf__append(&r->key, s, len);
		if (err)
			return errmsg__set(e, err, "line %zu: %s", line_no, strerror(-err));
		key = (const char *)r->key.data;
		key_len = r->key.len;
	}
	err = strmap__intern(&r->frames, key, key_len, &idx);
	if (err < 0)
		return errmsg__set(e, err, "line %zu: %s", line_no, strerror(-err));
	if (err == 1) {
		uint64_t loc;

		if (s && perf__parse_frame(s, len, &f))
			return errmsg__set(e, -EBADMSG, "line %zu: expected a stack frame "
					   "'ADDRESS SYMBOL (DSO)', got '%.*s'", line_no,
					   len > PERF_QUOTE ? PERF_QUOTE : (int)len, s);
		err = perf__location(r, s ? &f : NULL, &loc);
		if (err)
			return errmsg__set(e, err, "line %zu: %s", line_no, strerror(-err));
		r->frames.items[idx].val = (int64_t)loc;
	}
	r->locs[r->n_locs++] = (uint64_t)r->frames.items[idx].val;
	r->inl.len = 0;
	r->n_inl = 0;
	return 0;
}

/* Inlined frames perf printed without the frame they were inlined into
 * (its symbol had another name than the outermost DWARF function, as
 * __libc_start_main_impl in libc) stand alone: their address, no mapping,
 * since perf did not say which binary holds it. */
static int perf__flush_inlines(struct perf_reader *r, size_t line_no, struct errmsg *e)
{
	return r->n_inl ? perf__push(r, NULL, 0, line_no, e) : 0;
}

static bool perf__is_inline(const struct perf_frame *f)
{
	return f->dso_len == strlen(PERF_INLINED) && memcmp(f->dso, PERF_INLINED, f->dso_len) == 0;
}

static int perf__hold_inline(struct perf_reader *r, const struct perf_frame *f, const char *s,
			     size_t len, size_t line_no, struct errmsg *e)
{
	int err;

	if (r->n_inl && f->addr != r->inl_addr) {
		err = perf__flush_inlines(r, line_no, e);
		if (err || r->truncated)
			return err;
	}
	if (r->n_inl == PERF_MAX_INLINES)
		return errmsg__set(e, -EBADMSG, "line %zu: more than %u inlined functions at one "
				   "address", line_no, PERF_MAX_INLINES);
	err = buf__append(&r->inl, s, len);
	if (!err)
		err = buf__append(&r->inl, "\n", 1);
	if (err == -E2BIG)
		return errmsg__set(e, -EBADMSG, "line %zu: inlined frames at one address longer "
				   "than %u bytes", line_no, PERF_MAX_INLINE_TEXT);
	if (err)
		return errmsg__set(e, err, "line %zu: %s", line_no, strerror(-err));
	r->n_inl++;
	r->inl_addr = f->addr;
	return 0;
}

static int perf__frame(struct perf_reader *r, const char *s, size_t len, size_t line_no,
		       struct errmsg *e)
{
	static const char inl_tail[] = "(" PERF_INLINED ")";
	struct perf_frame f;
	uint64_t addr;
	size_t n;

	text__trim(&s, &len);
	if (r->truncated)
		return 0;
	/* Frames of a skipped sample are still checked, so that whether input
	 * is refused does not depend on which event came first. */
	if (r->skip || (len >= sizeof(inl_tail) - 1 &&
			memcmp(s + len - (sizeof(inl_tail) - 1), inl_tail, sizeof(inl_tail) - 1) == 0)) {
		if (perf__parse_frame(s, len, &f))
			return errmsg__set(e, -EBADMSG, "line %zu: expected a stack frame "
					   "'ADDRESS SYMBOL (DSO)', got '%.*s'", line_no,
					   len > PERF_QUOTE ? PERF_QUOTE : (int)len, s);
		if (r->skip)
			return 0;
		if (perf__is_inline(&f))
			return perf__hold_inline(r, &f, s, len, line_no, e);
	}
	/* Held inlined frames belong to this frame only at their address. */
	n = perf__hex_run(s, len);
	if (r->n_inl && (n == 0 || parse__u64n(s, n, 16, &addr) || addr != r->inl_addr)) {
		int err = perf__flush_inlines(r, line_no, e);

		if (err || r->truncated)
			return err;
	}
	return perf__push(r, s, len, line_no, e);
}

static bool perf__is_clock(const char *ev, size_t len)
{
	const char *colon = len ? memchr(ev, ':', len) : NULL;
	size_t n = colon ? (size_t)(colon - ev) : len;

	return (n == 9 && memcmp(ev, "cpu-clock", 9) == 0) ||
	       (n == 10 && memcmp(ev, "task-clock", 10) == 0);
}

/* The length of an event name without its modifiers: cycles:u counts cycles. */
static size_t perf__event_base(const char *ev, size_t len)
{
	const char *colon = len ? memrchr(ev, ':', len) : NULL, *c;

	for (c = colon ? colon + 1 : NULL; c && c < ev + len; c++) {
		if (!*c || !strchr(PERF_MODIFIERS, *c))
			break;
	}
	return colon && c == ev + len ? (size_t)(colon - ev) : len;
}

/* SUBSYSTEM:NAME: its header ends in a free-text payload. */
static bool perf__is_tracepoint(const char *ev, size_t len)
{
	size_t n = perf__event_base(ev, len);

	return n && memchr(ev, ':', n) != NULL;
}

/* Without call chains perf prints the sampled IP on the header line, as
 * "IP [SYMBOL] [(DSO)]" with the fields -F selects. A tracepoint's payload
 * is free text there instead, so for tracepoints only "IP SYMBOL (DSO)"
 * counts as a frame. */
static bool perf__header_ip(const struct perf_header *h)
{
	size_t n = perf__hex_run(h->rest, h->rest_len);

	if (n == 0 || (n < h->rest_len && !text__is_space(h->rest[n])))
		return false;
	if (!perf__is_tracepoint(h->event, h->event_len))
		return true;
	return n < h->rest_len && h->rest[h->rest_len - 1] == ')';
}

static bool perf__same_event(const struct perf_reader *r, const struct perf_header *h)
{
	return h->event_len == r->event_len &&
	       (!h->event_len || memcmp(h->event, r->event, h->event_len) == 0);
}

static int perf__begin(struct perf_reader *r, const struct perf_header *h, size_t line_no,
		       struct errmsg *e)
{
	static const struct pprof_value_type types[] = {
		{ "samples", "count" }, { "cpu", "nanoseconds" },
	};
	size_t idx;
	int err;

	if (!r->b) {
		r->event = h->event;
		r->event_len = h->event_len;
		r->cpu = perf__is_clock(h->event, h->event_len) && h->has_period;
		r->b = pprof_builder__new(types, r->cpu ? 2 : 1);
		if (!r->b)
			return errmsg__set(e, convert__builder_err(), "out of memory");
		r->t_min = r->t_max = h->time_ns;
	}
	r->h = *h;
	r->h_line = line_no;
	r->in_sample = true;
	r->truncated = false;
	r->n_locs = 0;
	/* Values of different events do not add up (a page fault is no CPU
	 * time), and pprof has one period type: other events are left out. */
	r->skip = !perf__same_event(r, h);
	if (r->skip) {
		tally__add(&r->other, line_no);
		return 0;
	}
	r->t_min = h->time_ns < r->t_min ? h->time_ns : r->t_min;
	r->t_max = h->time_ns > r->t_max ? h->time_ns : r->t_max;
	if (h->has_period) {
		r->last_period = h->period;
		err = strmap__intern(&r->periods, &h->period, sizeof(h->period), &idx);
		if (err < 0)
			return errmsg__set(e, err, "line %zu: %s", line_no, strerror(-err));
		r->periods.items[idx].val++;
	}
	if (perf__header_ip(h))
		return perf__frame(r, h->rest, h->rest_len, line_no, e);
	return 0;
}

static int perf__end(struct perf_reader *r, size_t line_no, struct errmsg *e)
{
	const struct perf_header *h = &r->h;
	struct pprof_label labels[3];
	int64_t values[2] = { 1, 0 };
	size_t n = 0;
	int err;

	r->in_sample = false;
	if (r->skip) {
		r->skip = false;
		return 0;
	}
	err = perf__flush_inlines(r, line_no, e);
	if (err)
		return err;
	if (r->n_locs == 0)
		tally__add(&r->frameless, r->h_line);
	if (r->cpu)
		values[1] = (int64_t)(h->has_period ? h->period : r->last_period);
	if (h->has_pid)
		labels[n++] = (struct pprof_label){ .key = "pid", .num = h->pid };
	labels[n++] = (struct pprof_label){ .key = "tid", .num = h->tid };
	if (h->comm_len) {
		const char *comm = perf__cstr(r, h->comm, h->comm_len);

		if (!comm)
			return errmsg__set(e, -ENOMEM, "out of memory");
		labels[n++] = (struct pprof_label){ .key = "comm", .str = comm };
	}
	err = pprof_builder__add_sample(r->b, r->locs, r->n_locs, values, labels, n);
	if (err == -ERANGE)
		return errmsg__set(e, -EBADMSG, "line %zu: the periods of one stack add up past "
				   "64 bits", line_no);
	if (err)
		return errmsg__set(e, err, "cannot add a sample: %s", strerror(-err));
	r->samples++;
	return 0;
}

/* pprof names the first mapping as the profile's binary. perf does not say
 * which binary is the main one, so take the user-space binary that holds the
 * innermost user frame of the most samples (gzip, not the dynamic loader
 * that happened to run first). */
static int perf__main_binary_first(struct pprof_profile *p)
{
	const pprof_pb *pb = p->pb;
	int64_t *weight, best = 0;
	size_t i, j, main = 0;
	int err;

	if (pb->n_mapping < 2)
		return 0;
	weight = calloc(pb->n_mapping, sizeof(*weight));
	if (!weight)
		return -ENOMEM;
	for (i = 0; i < pb->n_sample; i++) {
		const pprof_sample_pb *s = pb->sample[i];

		for (j = 0; j < s->n_location_id; j++) {
			uint64_t mid = pb->location[s->location_id[j] - 1]->mapping_id;

			if (mid && pprof__str(pb, pb->mapping[mid - 1]->filename)[0] != '[') {
				weight[mid - 1] += s->value[0];
				break;
			}
		}
	}
	for (i = 0; i < pb->n_mapping; i++)
		if (weight[i] > best) {
			best = weight[i];
			main = i;
		}
	free(weight);
	err = main ? pprof__move_mapping_first(p, main) : 0;
	return err;
}

/* Mappings were made before their address range was known; they are ours
 * alone, so fill the range in on the finished profile. file_offset =
 * memory_start makes pprof read each address as the file address perf
 * printed. */
static int perf__patch(struct perf_reader *r, struct pprof_profile *p)
{
	size_t i;

	for (i = 0; i < r->n_dso; i++) {
		const struct perf_dso *d = &r->dso[i];
		pprof_mapping_pb *m;

		if (d->mapping_id > p->pb->n_mapping ||
		    p->pb->mapping[d->mapping_id - 1]->id != d->mapping_id)
			return -EPROTO;
		m = p->pb->mapping[d->mapping_id - 1];
		m->memory_start = d->lo;
		m->memory_limit = d->hi == UINT64_MAX ? d->hi : d->hi + 1;
		m->file_offset = d->lo;
		m->has_functions = d->symbolized;
		m->has_inline_frames = d->inlines;
	}
	return perf__main_binary_first(p);
}

static uint64_t perf__common_period(const struct perf_reader *r)
{
	uint64_t period = 0;
	int64_t best = 0;
	size_t i;

	for (i = 0; i < r->periods.n; i++) {
		if (r->periods.items[i].val > best) {
			best = r->periods.items[i].val;
			memcpy(&period, strmap__key(&r->periods, i), sizeof(period));
		}
	}
	return period;
}

static int perf__finish(struct perf_reader *r, struct pprof_profile **out, struct errmsg *e)
{
	uint64_t period = perf__common_period(r);
	uint64_t duration = r->t_max - r->t_min;
	int err;

	if (r->cpu) {
		pprof_builder__set_period(r->b, "cpu", "nanoseconds", (int64_t)period);
		/* the last sample's period is part of the window, unless absurd */
		if (__builtin_add_overflow(duration, period, &duration))
			duration = r->t_max - r->t_min;
	} else if (period && r->event_len) {
		const char *ev = perf__cstr(r, r->event, perf__event_base(r->event, r->event_len));

		if (!ev)
			return errmsg__set(e, -ENOMEM, "out of memory");
		pprof_builder__set_period(r->b, ev, "count", (int64_t)period);
	}
	if (duration <= INT64_MAX)
		pprof_builder__set_time(r->b, 0, (int64_t)duration);
	if (r->other.n)
		pr_warn("perf script: %zu samples of other events than '%.*s' skipped, the first at "
			"line %zu; a profile holds one event", r->other.n, (int)r->event_len,
			r->event, r->other.first);
	if (r->frameless.n)
		pr_warn("perf script: samples without any stack frame (no ip field?): %zu, the "
			"first at line %zu", r->frameless.n, r->frameless.first);
	tally__warn_deep(&r->deep, "perf script");
	*out = pprof_builder__finish(r->b);
	if (!*out)
		return errmsg__set(e, convert__builder_err(), "cannot finish the profile");
	err = perf__patch(r, *out);
	if (err) {
		pprof__free(*out);
		*out = NULL;
		return errmsg__set(e, err, "mapping ids are not 1..N");
	}
	return 0;
}

/* A last line without its newline is whole only if it ends like a frame or
 * a header does; anything else means the input was cut short. */
static bool perf__ends_whole(const struct text_line *l)
{
	const char *s = l->p;
	size_t len = l->len;
	struct perf_header h;

	text__trim(&s, &len);
	if (l->complete || len == 0 || s[len - 1] == ')')
		return true;
	return perf_script__parse_header(s, len, &h) == 0 && h.event_len && !h.rest_len;
}

/* --show-task-events, --show-mmap-events and friends print side-band
 * records in the shape of a sample header: "PERF_RECORD_COMM: ..." where
 * the event goes, or "PERF_RECORD_MMAP2 PID/TID: ..." after it. */
bool perf_script__is_sideband(const struct perf_header *h)
{
	size_t n = strlen(PERF_SIDEBAND);

	return (h->event_len >= n && memcmp(h->event, PERF_SIDEBAND, n) == 0) ||
	       (h->rest_len >= n && memcmp(h->rest, PERF_SIDEBAND, n) == 0);
}

static int perf__line(struct perf_reader *r, const struct text_line *l, struct errmsg *e)
{
	struct perf_header h;
	int err;

	if (l->len > CONVERT_MAX_LINE)
		return errmsg__set(e, -EBADMSG, "line %zu: longer than %u bytes", l->no,
				   CONVERT_MAX_LINE);
	if (memchr(l->p, '\0', l->len))
		return errmsg__set(e, -EBADMSG, "line %zu: NUL byte in text", l->no);
	if (!perf__ends_whole(l))
		return errmsg__set(e, -EBADMSG, "line %zu: input ends mid-line (truncated?)", l->no);
	if (text__is_blank(l->p, l->len)) {
		r->in_sideband = false;
		return r->in_sample ? perf__end(r, l->no, e) : 0;
	}
	if (!r->in_sample && l->p[0] == '#')
		return 0;		/* perf script --header */
	/* Call chain lines start with a tab; padded command names with spaces. */
	if (r->in_sample && l->p[0] == '\t')
		return perf__frame(r, l->p, l->len, l->no, e);
	/* -F +srcline: "  file.c:12" after a frame (or the header's IP); the
	 * source line is not kept */
	if (r->in_sample && perf_script__is_srcline(l->p, l->len))
		return 0;
	/* PERF_RECORD_NAMESPACES goes on over tab-led lines. */
	if (r->in_sideband && l->p[0] == '\t')
		return 0;
	if (perf_script__parse_header(l->p, l->len, &h) == 0) {
		err = r->in_sample ? perf__end(r, l->no, e) : 0;
		r->in_sideband = perf_script__is_sideband(&h);
		if (err || r->in_sideband)
			return err;
		return perf__begin(r, &h, l->no, e);
	}
	if (r->in_sample && text__is_space(l->p[0]))
		return perf__frame(r, l->p, l->len, l->no, e);
	return errmsg__set(e, -EBADMSG, "line %zu: expected a %ssample header "
			   "'COMM [PID/]TID [CPU] TIME: [PERIOD] EVENT:', got '%.*s'", l->no,
			   r->in_sample ? "stack frame or a " : "",
			   l->len > PERF_QUOTE ? PERF_QUOTE : (int)l->len, l->p);
}

int perf_script__read(const char *data, size_t len, struct pprof_profile **out, struct errmsg *e)
{
	struct text_iter it = { .data = data, .len = len };
	struct perf_reader *r;
	struct text_line l;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return errmsg__set(e, -ENOMEM, "out of memory");
	r->scratch = BUF_INIT(0);
	r->inl = BUF_INIT(PERF_MAX_INLINE_TEXT);
	r->key = BUF_INIT(PERF_MAX_INLINE_TEXT + CONVERT_MAX_LINE);
	err = strmap__init(&r->frames, 0);
	if (!err)
		err = strmap__init(&r->dsos, 0);
	if (!err)
		err = strmap__init(&r->periods, 0);
	if (err) {
		err = errmsg__set(e, err, "out of memory");
		goto free_reader;
	}
	while (text__next(&it, &l)) {
		err = perf__line(r, &l, e);
		if (err)
			goto free_reader;
	}
	if (r->in_sample) {
		err = perf__end(r, it.line_no, e);
		if (err)
			goto free_reader;
	}
	if (!r->samples) {
		/* An empty profile would only hide that the input was something else. */
		err = errmsg__set(e, -EBADMSG, "no samples found: not perf script output?");
		goto free_reader;
	}
	err = perf__finish(r, out, e);
free_reader:
	pprof_builder__free(r->b);
	strmap__free(&r->frames);
	strmap__free(&r->dsos);
	strmap__free(&r->periods);
	buf__free(&r->scratch);
	buf__free(&r->inl);
	buf__free(&r->key);
	free(r->dso);
	free(r);
	return err;
}
