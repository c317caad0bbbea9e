/* Pyroscope's protocols and limits over an http_client: /ingest (multipart
 * or raw), push.v1 Push, or a plain pprof endpoint; which __name__ a
 * profile gets, the label rules, the time window, and the split of a big
 * profile into requests that each carry a range of its samples (encoded
 * from that range, the profile untouched).
 *
 * pusher__push returns 0 when the server accepted every part; -EAGAIN when
 * transient failures (network, TLS, timeout, 408, 429, 5xx) outlasted the
 * retries; -EPROTO when the server refused the profile for good (other 3xx
 * and 4xx); -EINVAL when the profile itself cannot go (undecodable, outside
 * Pyroscope's time window, too big even when split); -ECANCELED when the
 * wait function cut a backoff short (e keeps the last failure).
 *
 * Strings in push_opts are borrowed, not copied: the caller keeps them alive
 * as long as the pusher. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/buf.h"
#include "compress/compress.h"
#include "export/http.h"
#include "export/push.h"
#include "pprof/codec.h"
#include "proto/push.pb-c.h"

#define PUSH_MAX_INPUT		(256u << 20)	/* a decoded profile we take */
#define PUSH_INGEST_PATH	"/ingest"
#define PUSH_PUSH_PATH		"/push.v1.PusherService/Push"
#define NS			1000000000ll

/* Used by one thread at a time (one http_client). */
struct pusher {
	struct push_opts o;		/* strings borrowed from the caller */
	struct http_client *http;
	char *name;			/* ingest: name=app{k=v,...} */
	char *label_names[PUSH_MAX_LABELS];	/* '.' made '_' */
};

/* What Pyroscope will call the profile. */
struct kind {
	char name[64];			/* __name__ */
	bool memory, alloc;		/* alloc: has alloc_* (per-window) types */
};

/* The requests one profile goes in: request i holds samples
 * [first[i], first[i + 1]). */
struct plan {
	size_t n;
	size_t *first;			/* n + 1 bounds: one[] or malloc'd */
	size_t one[2];
};

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, cp, min;

		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		for (; n; n--, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*s & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

int push__check_label(const char *name, const char *value, struct errmsg *e)
{
	const char *c;

	if (!name || !*name)
		return errmsg__set(e, -EINVAL, "label with an empty name");
	if (!isalpha((unsigned char)*name) && *name != '_')
		return errmsg__set(e, -EINVAL, "label '%s': a name starts with a letter or '_'", name);
	for (c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.')
			return errmsg__set(e, -EINVAL, "label '%s': a name holds only letters, "
					   "digits, '_' and '.'", name);
	if (starts_with(name, "__"))
		return errmsg__set(e, -EINVAL, "label '%s': names starting '__' are reserved", name);
	if (!strcmp(name, "service_name"))
		return errmsg__set(e, -EINVAL, "label 'service_name': set it as the app name");
	if (!value || !*value)
		return errmsg__set(e, -EINVAL, "label '%s': empty value", name);
	if (!utf8_valid((const unsigned char *)value))
		return errmsg__set(e, -EINVAL, "label '%s': value is not valid UTF-8", name);
	/* /ingest's name=app{k=v,...} has no escapes for these. */
	if (strpbrk(value, ",{}="))
		return errmsg__set(e, -EINVAL, "label '%s': a value cannot hold , { } or =", name);
	for (c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return errmsg__set(e, -EINVAL, "label '%s': value holds a control character",
					   name);
	return 0;
}

int push__check_app(const char *app, struct errmsg *e)
{
	const char *c;

	if (!app || !*app)
		return errmsg__set(e, -EINVAL, "empty app name");
	for (c = app; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_./-", *c))
			return errmsg__set(e, -EINVAL, "app name '%s': only letters, digits and "
					   "_ . / - are allowed", app);
	return 0;
}

static const char *const api_names[] = {
	[PUSH_API_INGEST] = "ingest", [PUSH_API_PUSH] = "push", [PUSH_API_HTTP] = "http",
};

int push__parse_api(const char *s, enum push_api *api)
{
	size_t i;

	for (i = 0; s && i < sizeof(api_names) / sizeof(api_names[0]); i++)
		if (!strcmp(s, api_names[i])) {
			*api = (enum push_api)i;
			return 0;
		}
	return -EINVAL;
}

const char *push__api_name(enum push_api api)
{
	return (unsigned)api < sizeof(api_names) / sizeof(api_names[0]) ? api_names[api] : "?";
}

/* What pusher__new checks before there is a client. */
static int pusher__check_opts(const struct push_opts *o, struct errmsg *e)
{
	if ((unsigned)o->api > PUSH_API_HTTP)
		return errmsg__set(e, -EINVAL, "unknown push API %d", (int)o->api);
	if (o->n_labels > PUSH_MAX_LABELS || o->n_headers > PUSH_MAX_HEADERS)
		return errmsg__set(e, -EINVAL, "more than %u labels or %u headers",
				   PUSH_MAX_LABELS, PUSH_MAX_HEADERS);
	if ((o->tenant && strpbrk(o->tenant, "\r\n")) || (o->bearer && strpbrk(o->bearer, "\r\n")))
		return errmsg__set(e, -EINVAL, "tenant or bearer token holds a line break");
	return 0;
}

/* The app and labels (once the client can redact what they say). */
static int pusher__check_labels(struct pusher *p, struct errmsg *e)
{
	const struct push_opts *o = &p->o;
	size_t i, j;
	int err;

	err = push__check_app(o->app, e);
	for (i = 0; !err && i < o->n_labels; i++)
		err = push__check_label(o->labels[i].name, o->labels[i].value, e);
	if (err)
		return err;
	/* Pyroscope turns '.' into '_': two names that meet there are one label. */
	for (i = 0; i < o->n_labels; i++) {
		p->label_names[i] = strdup(o->labels[i].name);
		if (!p->label_names[i])
			return errmsg__set(e, -ENOMEM, "out of memory");
		for (char *c = p->label_names[i]; *c; c++)
			*c = *c == '.' ? '_' : *c;
		if (!strcmp(p->label_names[i], "service_name"))
			return errmsg__set(e, -EINVAL, "label '%s' is service_name once '.' is '_': "
					   "set it as the app name", o->labels[i].name);
		for (j = 0; j < i; j++)
			if (!strcmp(p->label_names[i], p->label_names[j]))
				return errmsg__set(e, -EINVAL, "labels '%s' and '%s' are the same "
						   "label once '.' is '_'", o->labels[j].name,
						   o->labels[i].name);
	}
	return 0;
}

/* The client: the API's path and headers, the user's headers, auth, TLS. */
static int pusher__connect(struct pusher *p, struct errmsg *e)
{
	const struct push_opts *o = &p->o;
	bool multipart = o->api == PUSH_API_INGEST && !o->ingest_raw;
	struct http_opts h = {
		.url = o->url,
		.path = o->api == PUSH_API_INGEST ? PUSH_INGEST_PATH :
			o->api == PUSH_API_PUSH ? PUSH_PUSH_PATH : NULL,
		.basic_auth = o->basic_auth,
		.bearer = o->bearer,
		/* multipart: curl's own Content-Type carries the boundary */
		.content_type = multipart ? NULL : o->api == PUSH_API_PUSH ? "application/proto" :
				o->content_type ? o->content_type : "application/octet-stream",
		.ca_file = o->ca_file,
		.cert = o->cert,
		.key = o->key,
		.insecure = o->insecure,
		.timeout = o->timeout,
		.retry_wait = o->retry_wait,
	};
	char *tenant = NULL;
	size_t i;

	if (o->tenant) {
		if (asprintf(&tenant, "X-Scope-OrgID: %s", o->tenant) < 0)
			return errmsg__set(e, -ENOMEM, "out of memory");
		h.headers[h.n_headers++] = tenant;
	}
	for (i = 0; i < o->n_headers; i++)
		h.headers[h.n_headers++] = o->headers[i];
	if (o->api == PUSH_API_PUSH)
		h.headers[h.n_headers++] = "Connect-Protocol-Version: 1";
	p->http = http_client__new(&h, e);
	free(tenant);
	return p->http ? 0 : -errno;
}

struct pusher *pusher__new(const struct push_opts *o, struct errmsg *e)
{
	struct pusher *p;
	struct buf name = BUF_INIT(0);
	size_t i;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p) {
		errmsg__set(e, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	p->o = *o;
	p->o.app = o->app ? o->app : "bpprof";
	p->o.timeout = o->timeout ? o->timeout : PUSH_DEFAULT_TIMEOUT;
	p->o.retry_wait = o->retry_wait ? o->retry_wait : PUSH_DEFAULT_RETRY_WAIT;
	err = pusher__check_opts(&p->o, e);
	if (!err)
		err = pusher__connect(p, e);
	if (!err)
		err = pusher__check_labels(p, e);
	if (!err && p->o.api == PUSH_API_INGEST) {
		err = buf__appendf(&name, "name=%s{", p->o.app);
		for (i = 0; !err && i < p->o.n_labels; i++)
			err = buf__appendf(&name, "%s%s=%s", i ? "," : "", p->o.labels[i].name,
					   p->o.labels[i].value);
		if (!err)
			err = buf__appendf(&name, "}");
		p->name = (char *)name.data;
		if (err)
			errmsg__set(e, err, "out of memory");
	}
	if (err) {
		http_client__redact(p->http, e);
		pusher__free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

void pusher__free(struct pusher *p)
{
	size_t i;

	if (!p)
		return;
	http_client__free(p->http);
	for (i = 0; i < PUSH_MAX_LABELS; i++)
		free(p->label_names[i]);
	free(p->name);
	free(p);
}

const char *pusher__url(const struct pusher *p)
{
	return http_client__url(p->http);
}

/* Pyroscope's __name__ for these sample types. */
static void profile_kind(const pprof_pb *pb, struct kind *k)
{
	const char *first = pb->n_sample_type ? pprof__str(pb, pb->sample_type[0]->type) : "";
	bool cpu = false, wall = false;
	size_t i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < pb->n_sample_type; i++) {
		const char *t = pprof__str(pb, pb->sample_type[i]->type);

		cpu |= strstr(t, "cpu") != NULL;
		wall |= strstr(t, "wall") != NULL;
		k->alloc |= starts_with(t, "alloc_");
		k->memory |= k->alloc || starts_with(t, "inuse_");
	}
	if (cpu || k->memory || wall) {
		k->memory &= !cpu;
		k->alloc &= k->memory;
		snprintf(k->name, sizeof(k->name), "%s",
			 cpu ? "process_cpu" : k->memory ? "memory" : "wall");
		return;
	}
	snprintf(k->name, sizeof(k->name), "%s%s", isdigit((unsigned char)*first) ? "_" : "",
		 *first ? first : "unknown");
	for (i = 0; k->name[i]; i++)
		if (!isalnum((unsigned char)k->name[i]))
			k->name[i] = '_';
}

/* Heap values are per-window, not running totals; inuse is a level. */
static int type_config(const pprof_pb *pb, struct buf *out)
{
	const char *sep = "";
	size_t i;
	int err = buf__appendf(out, "{");

	for (i = 0; !err && i < pb->n_sample_type; i++) {
		const char *t = pprof__str(pb, pb->sample_type[i]->type);
		const char *unit = pprof__str(pb, pb->sample_type[i]->unit);
		bool inuse = starts_with(t, "inuse_");

		if ((!inuse && !starts_with(t, "alloc_")) || t[strspn(t, "abcdefghijklmnopqrstuvwxyz_")])
			continue;
		err = buf__appendf(out, "%s\"%s\":{\"units\":\"%s\",%s\"cumulative\":false}", sep, t,
				   strcmp(unit, "bytes") ? "objects" : "bytes",
				   inuse ? "\"aggregation\":\"average\"," : "");
		sep = ",";
	}
	return err ? err : buf__appendf(out, "}");
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* Samples [first, first + n) of prof with all its tables, gzip, into out. */
static int gzip_samples(const struct pprof_profile *prof, size_t first, size_t n,
			struct buf *out, const char *what, struct errmsg *e)
{
	struct compress_writer *w = compress_writer__new(COMPRESS_GZIP, COMPRESS_LEVEL_DEFAULT,
							 buf_sink, out);
	int err;

	if (!w)
		return errmsg__set(e, -ENOMEM, "out of memory");
	err = pprof__encode_samples(prof, first, n, w, e);
	if (!err && (err = compress_writer__finish(w)))
		errmsg__set(e, err, "%s: gzip: %s", what, strerror(-err));
	compress_writer__free(w);
	return err;
}

static size_t varint_size(size_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* The last sample (exclusive) of the request starting at sample start:
 * as many as the limits let in (sum: bytes each prefix of samples adds). */
static size_t fill_request(const size_t *sum, size_t n, size_t start, size_t room)
{
	size_t lo = start, hi = n - start > PUSH_MAX_SAMPLES ? start + PUSH_MAX_SAMPLES : n;

	while (lo < hi) {	/* the largest end with sum[end] - sum[start] <= room */
		size_t mid = lo + (hi - lo + 1) / 2;

		if (sum[mid] - sum[start] <= room)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* How many requests prof needs, and which samples go in each: one unless
 * Pyroscope's limits say otherwise, else the fewest that fit, split evenly
 * by samples when that fits and otherwise each filled in turn. Every
 * request repeats the tables, so a profile whose tables and one sample are
 * over the byte limit cannot go. */
static int plan_parts(const struct pusher *p, const pprof_pb *pb, struct plan *plan,
		      const char *what, struct errmsg *e)
{
	size_t n = pb->n_sample, base, room, k, i, start, *sum = NULL;
	pprof_pb bare;
	bool even = true;
	int err = 0;

	*plan = (struct plan){ .n = 1, .one = { 0, n } };
	plan->first = plan->one;
	if (p->o.api == PUSH_API_HTTP || (n <= PUSH_MAX_SAMPLES &&
	    protobuf_c_message_get_packed_size(&pb->base) <= PUSH_MAX_PROFILE_BYTES))
		return 0;
	/* a copy without samples: what every request carries */
	bare = *pb;
	bare.sample = NULL;
	bare.n_sample = 0;
	base = protobuf_c_message_get_packed_size(&bare.base);
	if (base >= PUSH_MAX_PROFILE_BYTES)
		return errmsg__set(e, -EINVAL, "%s: does not fit Pyroscope's %u MiB limit: its "
				   "tables alone are %zu bytes", what, PUSH_MAX_PROFILE_BYTES >> 20,
				   base);
	room = PUSH_MAX_PROFILE_BYTES - base;
	sum = malloc((n + 1) * sizeof(*sum));
	if (!sum)
		return errmsg__set(e, -ENOMEM, "out of memory");
	sum[0] = 0;
	for (i = 0; i < n; i++) {
		size_t len = protobuf_c_message_get_packed_size(&pb->sample[i]->base);

		sum[i + 1] = sum[i] + 1 + varint_size(len) + len;	/* tag, length, sample */
	}
	for (k = 0, start = 0; start < n; k++) {
		size_t end = fill_request(sum, n, start, room);

		if (end == start) {
			err = errmsg__set(e, -EINVAL, "%s: does not fit Pyroscope's %u MiB limit even "
					  "split into %zu requests", what,
					  PUSH_MAX_PROFILE_BYTES >> 20, n);
			goto out;
		}
		start = end;
	}
	plan->first = malloc((k + 1) * sizeof(*plan->first));
	if (!plan->first) {
		plan->first = plan->one;
		err = errmsg__set(e, -ENOMEM, "out of memory");
		goto out;
	}
	plan->n = k;
	for (i = 0; i <= k; i++)
		plan->first[i] = i * n / k;
	for (i = 0; i < k && even; i++)
		even = sum[plan->first[i + 1]] - sum[plan->first[i]] <= room;
	for (i = 0; !even && i < k; i++)	/* greedy: each as full as it may be */
		plan->first[i + 1] = fill_request(sum, n, plan->first[i], room);
out:
	free(sum);
	return err;
}

static void plan__free(struct plan *plan)
{
	if (plan->first != plan->one)
		free(plan->first);
}

static int uuid4(char out[37])
{
	uint8_t u[16];
	size_t i, o = 0;

	if (getrandom(u, sizeof(u), 0) != sizeof(u))
		return -EIO;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		o += (size_t)snprintf(out + o, 3, "%02x", u[i]);
	}
	return 0;
}

static void add_pair(Push__V1__LabelPair *pairs, Push__V1__LabelPair **lp, size_t *n,
		     const char *name, const char *value)
{
	push__v1__label_pair__init(&pairs[*n]);
	pairs[*n].name = (char *)name;
	pairs[*n].value = (char *)value;
	lp[*n] = &pairs[*n];
	(*n)++;
}

/* The Push API's body: one series, one sample. */
static int push_request(const struct pusher *p, const struct kind *k, const void *gz,
			size_t gz_len, struct buf *out)
{
	Push__V1__LabelPair pairs[PUSH_MAX_LABELS + 3], *lp[PUSH_MAX_LABELS + 3];
	Push__V1__RawSample sample = PUSH__V1__RAW_SAMPLE__INIT, *sp = &sample;
	Push__V1__RawProfileSeries series = PUSH__V1__RAW_PROFILE_SERIES__INIT, *ser = &series;
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
	size_t n = 0, i;
	char id[37];
	int err;

	add_pair(pairs, lp, &n, "__name__", k->name);
	add_pair(pairs, lp, &n, "service_name", p->o.app);
	for (i = 0; i < p->o.n_labels; i++)
		add_pair(pairs, lp, &n, p->label_names[i], p->o.labels[i].value);
	if (k->alloc)
		add_pair(pairs, lp, &n, "__delta__", "false");
	err = uuid4(id);
	if (err)
		return err;
	sample.raw_profile.data = (uint8_t *)gz;
	sample.raw_profile.len = gz_len;
	sample.id = id;
	series.labels = lp;
	series.n_labels = n;
	series.samples = &sp;
	series.n_samples = 1;
	req.series = &ser;
	req.n_series = 1;
	err = buf__reserve(out, push__v1__push_request__get_packed_size(&req));
	if (!err)
		out->len = push__v1__push_request__pack(&req, out->data);
	return err;
}

static bool pusher__wait(struct pusher *p, double seconds)
{
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };

	if (p->o.wait)
		return p->o.wait(p->o.wait_ctx, seconds);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	return false;
}

/* Send one request's profile (gzip) with retries. */
static int pusher__send(struct pusher *p, const struct kind *k, const pprof_pb *pb,
			const void *gz, size_t gz_len, const char *what, unsigned retries,
			struct push_result *r, struct errmsg *e)
{
	/* no time_nanos: the server stamps it now */
	int64_t start = pb->time_nanos ? pb->time_nanos : (int64_t)time(NULL) * NS;
	int64_t from = start / NS, until = (start + pb->duration_nanos + NS - 1) / NS;
	struct buf body = BUF_INIT(0), config = BUF_INIT(0);
	struct http_request rq = { .what = what, .body = gz, .len = gz_len };
	char from_q[32], until_q[32];
	const char *query[5];
	struct http_part parts[2];
	struct http_result hr;
	unsigned n;
	int err = 0;

	if (p->o.api == PUSH_API_INGEST) {
		snprintf(from_q, sizeof(from_q), "from=%lld", (long long)from);
		snprintf(until_q, sizeof(until_q), "until=%lld",
			 (long long)(until > from ? until : from + 1));
		query[rq.n_query++] = p->name;
		query[rq.n_query++] = from_q;
		query[rq.n_query++] = until_q;
		query[rq.n_query++] = "spyName=bpprof";
		if (p->o.ingest_raw)
			query[rq.n_query++] = "format=pprof";
		rq.query = query;
	}
	if (p->o.api == PUSH_API_INGEST && !p->o.ingest_raw) {
		/* a part without filename= is silently ignored by Pyroscope */
		parts[rq.n_parts++] = (struct http_part){ "profile", "profile.pprof",
							  "application/octet-stream", gz, gz_len };
		if (k->memory) {
			err = type_config(pb, &config);
			parts[rq.n_parts++] = (struct http_part){ "sample_type_config",
								  "sample_type_config.json",
								  "application/json", config.data,
								  config.len };
		}
		rq.parts = parts;
	} else if (p->o.api == PUSH_API_PUSH) {
		err = push_request(p, k, gz, gz_len, &body);
		rq.body = body.data;
		rq.len = body.len;
	}
	if (err) {
		err = errmsg__set(e, err == -EIO ? err : -ENOMEM, "%s", err == -EIO ?
				  "no random bytes for the request's id" : "out of memory building the request");
		goto out;
	}
	for (n = 0;; n++) {
		err = http_client__post(p->http, &rq, &hr, e);
		if (err == -ENOMEM)	/* nothing was sent */
			break;
		r->attempts++;
		r->status = hr.status;
		r->transient = hr.transient;
		r->bytes = hr.bytes;
		r->seconds = hr.seconds;
		if (err != -EAGAIN || n >= retries)
			break;
		if (pusher__wait(p, http_client__backoff(p->http, n, &hr))) {
			err = -ECANCELED;
			break;
		}
	}
out:
	buf__free(&body);
	buf__free(&config);
	return err;
}

/* What Pyroscope would refuse, refused here without a request. */
static int check_limits(const pprof_pb *pb, const char *what, struct errmsg *e)
{
	struct timespec now;
	int64_t t = pb->time_nanos, now_ns;
	size_t i;

	for (i = 0; i < pb->n_sample_type; i++)
		if (strchr(pprof__str(pb, pb->sample_type[i]->type), '-'))
			return errmsg__set(e, -EINVAL, "%s: sample type '%s' holds '-', which "
					   "Pyroscope refuses", what,
					   pprof__str(pb, pb->sample_type[i]->type));
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (int64_t)now.tv_sec * NS + now.tv_nsec;
	/* no time: the server stamps it on arrival */
	if (t && t < now_ns - PUSH_MAX_AGE_NS)
		return errmsg__set(e, -EINVAL, "%s: profile is %lld min old, too old for "
				   "Pyroscope's window (1 h back to 10 min ahead)", what,
				   (long long)((now_ns - t) / (60 * NS)));
	if (t > now_ns + PUSH_MAX_AHEAD_NS)
		return errmsg__set(e, -EINVAL, "%s: profile is %lld min in the future, too new "
				   "for Pyroscope's window (1 h back to 10 min ahead)", what,
				   (long long)((t - now_ns) / (60 * NS)));
	return 0;
}

/* Send prof in as many requests as it needs; gz, when not NULL, is prof
 * already encoded (gzip), sent as it is if one request will do. */
static int pusher__deliver(struct pusher *p, const struct pprof_profile *prof, const void *gz,
			   size_t gz_len, const char *what, unsigned retries,
			   struct push_result *r, struct errmsg *e)
{
	struct buf part = BUF_INIT(0);
	struct plan plan = { 0 };
	struct kind k;
	size_t i;
	int err;

	plan.first = plan.one;
	profile_kind(prof->pb, &k);
	if (p->o.api != PUSH_API_HTTP && (err = check_limits(prof->pb, what, e)))
		goto out;
	err = plan_parts(p, prof->pb, &plan, what, e);
	if (err)
		goto out;
	r->parts = (unsigned)plan.n;
	/* one request encoded at a time: a split profile is never held whole
	 * in gzip */
	for (i = 0; !err && i < plan.n; i++) {
		uint64_t sent = r->bytes;

		part.len = 0;
		if (!gz || plan.n > 1)
			err = gzip_samples(prof, plan.first[i], plan.first[i + 1] - plan.first[i],
					   &part, what, e);
		if (!err)
			err = pusher__send(p, &k, prof->pb, gz && plan.n == 1 ? gz : part.data,
					   gz && plan.n == 1 ? gz_len : part.len, what, retries, r, e);
		r->bytes += sent;
	}
out:
	if (err)
		http_client__redact(p->http, e);
	plan__free(&plan);
	buf__free(&part);
	return err;
}

int pusher__push_profile(struct pusher *p, const struct pprof_profile *prof, const char *what,
			 unsigned retries, struct push_result *r, struct errmsg *e)
{
	struct errmsg why;
	int err;

	memset(r, 0, sizeof(*r));
	what = what ? what : "profile";
	/* once here: each request's range of samples is then valid too */
	err = pprof__validate(prof->pb, 1, &why);
	if (err) {
		errmsg__set(e, err == -ENOMEM ? err : -EINVAL, "%s: not a valid pprof profile: %s",
			    what, why.text);
		http_client__redact(p->http, e);
		return err == -ENOMEM ? err : -EINVAL;
	}
	return pusher__deliver(p, prof, NULL, 0, what, retries, r, e);
}

int pusher__push(struct pusher *p, const void *pprof, size_t len, const char *what,
		 unsigned retries, struct push_result *r, struct errmsg *e)
{
	struct buf plain = BUF_INIT(PUSH_MAX_INPUT);
	struct pprof_profile *prof = NULL;
	const void *gz = NULL;
	struct errmsg why;
	int err;

	memset(r, 0, sizeof(*r));
	what = what ? what : "profile";
	err = compress__decode(pprof, len, &plain, &why);
	if (!err)
		err = pprof__decode(plain.data, plain.len, &prof, &why);
	if (err) {
		err = errmsg__set(e, err == -ENOMEM ? err : -EINVAL, "%s: not a pprof profile: %s",
				  what, why.text);
		http_client__redact(p->http, e);
		goto out;
	}
	/* Decoding adopted it (strictly valid now). The bytes as they came
	 * go out when they are gzip and, as given, within the limits. */
	if (compress__detect(pprof, len) == COMPRESS_GZIP &&
	    (p->o.api == PUSH_API_HTTP || plain.len <= PUSH_MAX_PROFILE_BYTES))
		gz = pprof;
	buf__free(&plain);
	err = pusher__deliver(p, prof, gz, len, what, retries, r, e);
out:
	pprof__free(prof);
	buf__free(&plain);
	return err;
}
