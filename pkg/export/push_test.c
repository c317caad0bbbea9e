/* pusher: what a loopback Pyroscope (libmicrohttpd in-process, scripted
 * answers) receives from each API, and how failures, retries, limits and
 * credentials come out to the user. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "base/buf.h"
#include "compress/compress.h"
#include "export/push.h"
#include "pprof/builder.h"
#include "pprof/codec.h"
#include "proto/push.pb-c.h"
#include "pprof/builder_test.h"

#define MAX_REQS	96	/* a 1.1M-sample profile takes 69 requests */
#define MAX_PAIRS	48
#define NS		1000000000ll

struct request {
	char method[16], path[256];
	char *args[MAX_PAIRS][2], *headers[MAX_PAIRS][2];
	size_t n_args, n_headers;
	struct buf body;
};

struct answer {
	unsigned status;
	const char *body, *retry_after;
	unsigned delay_ms;
};

#define ANS(st, b) { .status = (st), .body = (b) }

struct server {
	struct MHD_Daemon *d;
	unsigned port;
	char url[64];
	pthread_mutex_t lock;
	struct answer script[8];	/* then 200 */
	size_t n_script;
	struct request reqs[MAX_REQS];
	size_t n_reqs;
	int connections;
};

static enum MHD_Result record_pair(void *ctx, enum MHD_ValueKind kind, const char *k,
				   const char *v)
{
	struct request *rq = ctx;
	char *(*pairs)[2] = kind == MHD_HEADER_KIND ? rq->headers : rq->args;
	size_t *n = kind == MHD_HEADER_KIND ? &rq->n_headers : &rq->n_args;

	if (*n < MAX_PAIRS) {
		pairs[*n][0] = strdup(k);
		pairs[*n][1] = strdup(v ? v : "");
		(*n)++;
	}
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *data_size, void **con_cls)
{
	struct server *s = cls;
	struct request *rq = *con_cls;
	struct MHD_Response *resp;
	struct answer a = { 200, "", NULL, 0 };
	enum MHD_Result ret;
	size_t i;

	if (!rq) {
		pthread_mutex_lock(&s->lock);
		if (s->n_reqs >= MAX_REQS)	/* no cmocka asserts off the test's thread */
			abort();
		rq = &s->reqs[s->n_reqs];
		memset(rq, 0, sizeof(*rq));
		rq->body = BUF_INIT(0);
		snprintf(rq->method, sizeof(rq->method), "%s", method);
		snprintf(rq->path, sizeof(rq->path), "%s", url);
		MHD_get_connection_values(c, MHD_HEADER_KIND, record_pair, rq);
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, record_pair, rq);
		pthread_mutex_unlock(&s->lock);
		*con_cls = rq;
		return MHD_YES;
	}
	if (*data_size) {
		if (buf__append(&rq->body, data, *data_size))
			abort();
		*data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->lock);
	i = s->n_reqs++;
	if (i < s->n_script)
		a = s->script[i];
	pthread_mutex_unlock(&s->lock);
	if (a.delay_ms)
		usleep(a.delay_ms * 1000);
	resp = MHD_create_response_from_buffer(strlen(a.body), (void *)a.body,
					       MHD_RESPMEM_MUST_COPY);
	if (a.retry_after)
		MHD_add_response_header(resp, "Retry-After", a.retry_after);
	if (a.status == 302)
		MHD_add_response_header(resp, "Location", "http://u:hidden@other.example/ingest");
	ret = MHD_queue_response(c, a.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct server *s = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&s->lock);
		s->connections++;
		pthread_mutex_unlock(&s->lock);
	}
}

static struct server *server_start(const struct answer *script, size_t n)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const union MHD_DaemonInfo *info;

	assert_non_null(s);
	assert_true(n <= 8);
	pthread_mutex_init(&s->lock, NULL);
	if (n)
		memcpy(s->script, script, n * sizeof(*script));
	s->n_script = n;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, s,
				MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
	assert_non_null(s->d);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	s->port = info->port;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
	return s;
}

static void server_stop(struct server *s)
{
	size_t i, j;

	MHD_stop_daemon(s->d);
	for (i = 0; i < s->n_reqs; i++) {
		for (j = 0; j < s->reqs[i].n_args; j++)
			free(s->reqs[i].args[j][0]), free(s->reqs[i].args[j][1]);
		for (j = 0; j < s->reqs[i].n_headers; j++)
			free(s->reqs[i].headers[j][0]), free(s->reqs[i].headers[j][1]);
		buf__free(&s->reqs[i].body);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const char *arg(const struct request *rq, const char *name)
{
	size_t i;

	for (i = 0; i < rq->n_args; i++)
		if (!strcmp(rq->args[i][0], name))
			return rq->args[i][1];
	return NULL;
}

static const char *header(const struct request *rq, const char *name)
{
	size_t i;

	for (i = 0; i < rq->n_headers; i++)
		if (!strcasecmp(rq->headers[i][0], name))
			return rq->headers[i][1];
	return NULL;
}

static const void *memstr(const struct buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s));
}

/* The bytes of the multipart part whose headers hold `disposition`. */
static const uint8_t *part(const struct request *rq, const char *disposition, size_t *len)
{
	const char *ct = header(rq, "Content-Type"), *bd;
	const uint8_t *start, *end;
	char delim[128];

	assert_non_null(ct);
	bd = strstr(ct, "boundary=");
	assert_non_null(bd);
	snprintf(delim, sizeof(delim), "\r\n--%s", bd + 9);
	start = memstr(&rq->body, disposition);
	if (!start)
		return NULL;
	start = memmem(start, rq->body.len - (size_t)(start - rq->body.data), "\r\n\r\n", 4);
	assert_non_null(start);
	start += 4;
	end = memmem(start, rq->body.len - (size_t)(start - rq->body.data), delim, strlen(delim));
	assert_non_null(end);
	*len = (size_t)(end - start);
	return start;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* n distinct samples (a numeric tid label apart) of the given types. */
static struct pprof_profile *build_profile(const struct pprof_value_type *types, size_t n_types,
					   size_t n, int64_t time_nanos)
{
	struct pprof_builder *b = pprof_builder__new(types, n_types);
	struct pprof_profile *p;
	struct pprof_line line;
	int64_t values[4] = { 1, 10000000, 1, 4096 };
	uint64_t locs[2];
	size_t i;

	assert_non_null(b);
	line = (struct pprof_line){ builder_test__function(b, "leaf", NULL, "a.c", 1), 3 };
	locs[0] = builder_test__location(b, 0, 0, &line, 1);
	line = (struct pprof_line){ builder_test__function(b, "main", NULL, "a.c", 10), 12 };
	locs[1] = builder_test__location(b, 0, 0, &line, 1);
	for (i = 0; i < n; i++) {
		struct pprof_label l = { .key = "tid", .num = (int64_t)i + 1 };

		assert_int_equal(pprof_builder__add_sample(b, locs, 2, values, &l, 1), 0);
	}
	pprof_builder__set_period(b, types[0].type, types[0].unit, 10000000);
	pprof_builder__set_time(b, time_nanos, 10 * NS);
	p = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_non_null(p);
	return p;
}

static struct buf make_profile(const struct pprof_value_type *types, size_t n_types, size_t n,
			       int64_t time_nanos, enum compress_kind kind)
{
	struct pprof_profile *p = build_profile(types, n_types, n, time_nanos);
	struct buf out = BUF_INIT(0);
	struct compress_writer *w;
	struct errmsg e;

	w = compress_writer__new(kind, COMPRESS_LEVEL_DEFAULT, buf_sink, &out);
	assert_non_null(w);
	if (pprof__encode(p, w, &e))
		fail_msg("%s", e.text);
	assert_int_equal(compress_writer__finish(w), 0);
	compress_writer__free(w);
	pprof__free(p);
	return out;
}

static const struct pprof_value_type cpu_types[] = {
	{ "samples", "count" }, { "cpu", "nanoseconds" },
};
static const struct pprof_value_type heap_types[] = {
	{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
	{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
};

static struct buf cpu_profile(size_t n)
{
	return make_profile(cpu_types, 2, n, now_ns() - 10 * NS, COMPRESS_GZIP);
}

static size_t sample_count(const void *data, size_t len)
{
	struct pprof_profile *p = NULL;
	struct errmsg e;
	size_t n;

	assert_true(len >= 2);
	assert_int_equal(((const uint8_t *)data)[0], 0x1f);	/* always sent gzip */
	if (pprof__decode_any(data, len, &p, &e))
		fail_msg("%s", e.text);
	n = p->pb->n_sample;
	pprof__free(p);
	return n;
}

/* The injected backoff: records what it was asked to wait. */
struct waits {
	double seconds[8];
	unsigned n;
	bool cancel;
};

static bool record_wait(void *ctx, double seconds)
{
	struct waits *w = ctx;

	if (w->n < 8)
		w->seconds[w->n] = seconds;
	w->n++;
	return w->cancel;
}

static struct pusher *new_pusher(struct push_opts *o, const char *url, enum push_api api)
{
	struct pusher *p;
	struct errmsg e;

	o->url = url;
	o->api = api;
	p = pusher__new(o, &e);
	if (!p)
		fail_msg("pusher__new: %s", e.text);
	return p;
}

static void test_checks(void **state)
{
	static const char *const bad_names[] = { "", "1x", "a-b", "__x", "service_name", "a b" };
	static const char *const bad_values[] = { "", "a,b", "{", "a}", "k=v", "\xc0\xaf", "\xff",
						  "\xed\xa0\x80", "a\nb" };
	enum push_api api;
	struct errmsg e;
	size_t i;

	assert_int_equal(push__check_label("env", "prod", &e), 0);
	assert_int_equal(push__check_label("_k8s.pod", "ünïcode-ok/1", &e), 0);
	for (i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++)
		assert_int_equal(push__check_label(bad_names[i], "v", &e), -EINVAL);
	for (i = 0; i < sizeof(bad_values) / sizeof(*bad_values); i++)
		assert_int_equal(push__check_label("k", bad_values[i], &e), -EINVAL);
	assert_int_equal(push__check_label("env", "a,b", &e), -EINVAL);
	assert_non_null(strstr(e.text, "env"));
	assert_int_equal(push__check_app("my-app/v1.2_x", &e), 0);
	assert_int_equal(push__check_app("", &e), -EINVAL);
	assert_int_equal(push__check_app("my app", &e), -EINVAL);
	assert_int_equal(push__check_app("a{b}", &e), -EINVAL);
	assert_int_equal(push__parse_api("push", &api), 0);
	assert_int_equal(api, PUSH_API_PUSH);
	assert_int_equal(push__parse_api("http", &api), 0);
	assert_int_equal(api, PUSH_API_HTTP);
	assert_int_equal(push__parse_api("grpc", &api), -EINVAL);
	assert_string_equal(push__api_name(PUSH_API_INGEST), "ingest");
}

static void refused_at_new(struct push_opts *o, const char *needle)
{
	struct errmsg e = { "" };

	assert_null(pusher__new(o, &e));
	assert_int_equal(errno, EINVAL);
	if (!strstr(e.text, needle))
		fail_msg("'%s' does not say '%s'", e.text, needle);
	assert_null(strstr(e.text, "s3cret"));
}

static void test_new_refuses(void **state)
{
	struct push_opts o = { .url = "http://127.0.0.1:4040" };
	struct pusher *p;
	struct errmsg e;

	o.url = "ftp://127.0.0.1/";
	refused_at_new(&o, "bad URL 'ftp://127.0.0.1/'");
	o.url = "http://user:s3cret@[::1";
	refused_at_new(&o, "bad URL 'http://***@[::1'");
	o.url = "127.0.0.1:4040";
	refused_at_new(&o, "bad URL");
	o.url = "http://127.0.0.1:4040";
	o.labels[0] = (struct push_label){ "env", "a,b" };
	o.n_labels = 1;
	refused_at_new(&o, "env");
	o.labels[0] = (struct push_label){ "k8s.pod", "x" };
	o.labels[1] = (struct push_label){ "k8s_pod", "y" };
	o.n_labels = 2;
	refused_at_new(&o, "same label");
	o.n_labels = 0;
	o.app = "bad app";
	refused_at_new(&o, "app");
	o.app = NULL;
	o.headers[0] = "X-Ok: 1";
	o.headers[1] = "X-Bad: a\r\nInjected: s3cret";
	o.n_headers = 2;
	refused_at_new(&o, "X-Bad");
	o.headers[1] = "No colon here";
	refused_at_new(&o, "Name: value");
	o.headers[1] = "Authorization: Bearer s3cret";
	o.bearer = "other";
	refused_at_new(&o, "Authorization");
	o.n_headers = 0;
	o.bearer = NULL;
	o.ca_file = "/nonexistent/ca.pem";
	refused_at_new(&o, "/nonexistent/ca.pem");
	o.ca_file = NULL;

	/* credentials in the URL never show in the URL we log */
	o.url = "http://user:s3cret@127.0.0.1:4040/base/";
	o.api = PUSH_API_PUSH;
	p = pusher__new(&o, &e);
	assert_non_null(p);
	assert_string_equal(pusher__url(p), "http://127.0.0.1:4040/base/push.v1.PusherService/Push");
	pusher__free(p);
	o.url = "https://example.com/pyroscope/ingest";
	o.api = PUSH_API_INGEST;
	p = pusher__new(&o, &e);
	assert_non_null(p);
	assert_string_equal(pusher__url(p), "https://example.com/pyroscope/ingest");
	pusher__free(p);
	pusher__free(NULL);
}

static void test_ingest_multipart(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { .app = "my-app", .labels = { { "env", "prod" }, { "k8s.ns", "a b" } },
			       .n_labels = 2 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	struct buf prof = cpu_profile(3);
	struct push_result r;
	struct errmsg e;
	const struct request *rq = &s->reqs[0];
	const uint8_t *data;
	long long from, until;
	size_t len;

	if (pusher__push(p, prof.data, prof.len, "cpu.pb.gz", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.parts, 1);
	assert_true(r.bytes > prof.len);
	assert_int_equal(s->n_reqs, 1);
	assert_string_equal(rq->method, "POST");
	assert_string_equal(rq->path, "/ingest");
	assert_string_equal(arg(rq, "name"), "my-app{env=prod,k8s.ns=a b}");
	assert_string_equal(arg(rq, "spyName"), "bpprof");
	assert_null(arg(rq, "format"));
	from = strtoll(arg(rq, "from"), NULL, 10);
	until = strtoll(arg(rq, "until"), NULL, 10);
	assert_true(from > 1600000000 && from < 9999999999);
	assert_true(until >= from + 10);
	assert_non_null(strstr(header(rq, "Content-Type"), "multipart/form-data"));
	assert_non_null(memstr(&rq->body, "name=\"profile\"; filename=\"profile.pprof\""));
	assert_null(memstr(&rq->body, "sample_type_config"));
	data = part(rq, "name=\"profile\"", &len);
	assert_non_null(data);
	assert_int_equal(sample_count(data, len), 3);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_ingest_heap(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { 0 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	/* zstd in: Pyroscope reads no zstd, so it goes out gzip */
	struct buf prof = make_profile(heap_types, 4, 5, now_ns(), COMPRESS_ZSTD);
	struct push_result r;
	struct errmsg e;
	const struct request *rq = &s->reqs[0];
	const uint8_t *data;
	char *json;
	size_t len;

	if (pusher__push(p, prof.data, prof.len, "heap", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_string_equal(arg(rq, "name"), "bpprof{}");
	data = part(rq, "name=\"profile\"; filename=\"profile.pprof\"", &len);
	assert_non_null(data);
	assert_int_equal(sample_count(data, len), 5);
	data = part(rq, "name=\"sample_type_config\"; filename=\"sample_type_config.json\"", &len);
	assert_non_null(data);
	json = strndup((const char *)data, len);
	assert_non_null(strstr(json, "\"alloc_space\":{\"units\":\"bytes\",\"cumulative\":false}"));
	assert_non_null(strstr(json, "\"alloc_objects\":{\"units\":\"objects\",\"cumulative\":false}"));
	assert_non_null(strstr(json, "\"inuse_space\":{\"units\":\"bytes\",\"aggregation\":"
				     "\"average\",\"cumulative\":false}"));
	assert_non_null(strstr(json, "\"inuse_objects\":{\"units\":\"objects\""));
	free(json);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_ingest_raw(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { .app = "raw", .ingest_raw = true };
	struct pusher *p;
	struct buf prof = make_profile(cpu_types, 2, 4, now_ns(), COMPRESS_NONE);
	struct push_result r;
	struct errmsg e;
	const struct request *rq = &s->reqs[0];
	char url[96];

	snprintf(url, sizeof(url), "%s/pyroscope/ingest", s->url);
	p = new_pusher(&o, url, PUSH_API_INGEST);
	if (pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_string_equal(rq->path, "/pyroscope/ingest");
	assert_string_equal(arg(rq, "format"), "pprof");
	assert_string_equal(arg(rq, "name"), "raw{}");
	assert_string_equal(header(rq, "Content-Type"), "application/octet-stream");
	assert_int_equal(sample_count(rq->body.data, rq->body.len), 4);
	assert_int_equal(r.bytes, rq->body.len);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void check_push_body(const struct request *rq, const char *name, bool delta, size_t n)
{
	Push__V1__PushRequest *req;
	Push__V1__RawProfileSeries *ser;
	const char *id;
	size_t i;

	assert_string_equal(rq->path, "/push.v1.PusherService/Push");
	assert_string_equal(header(rq, "Content-Type"), "application/proto");
	assert_string_equal(header(rq, "Connect-Protocol-Version"), "1");
	req = push__v1__push_request__unpack(NULL, rq->body.len, rq->body.data);
	assert_non_null(req);
	assert_int_equal(req->n_series, 1);
	ser = req->series[0];
	assert_int_equal(ser->n_labels, 4 + delta);
	assert_string_equal(ser->labels[0]->name, "__name__");
	assert_string_equal(ser->labels[0]->value, name);
	assert_string_equal(ser->labels[1]->name, "service_name");
	assert_string_equal(ser->labels[1]->value, "svc");
	assert_string_equal(ser->labels[2]->name, "k8s_namespace");
	assert_string_equal(ser->labels[2]->value, "default");
	assert_string_equal(ser->labels[3]->name, "env");
	if (delta) {
		assert_string_equal(ser->labels[4]->name, "__delta__");
		assert_string_equal(ser->labels[4]->value, "false");
	}
	assert_int_equal(ser->n_samples, 1);
	id = ser->samples[0]->id;
	assert_int_equal(strlen(id), 36);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(id[i], '-');
		else
			assert_non_null(strchr("0123456789abcdef", id[i]));
	}
	assert_int_equal(id[14], '4');
	assert_non_null(strchr("89ab", id[19]));
	assert_int_equal(sample_count(ser->samples[0]->raw_profile.data,
				      ser->samples[0]->raw_profile.len), n);
	push__v1__push_request__free_unpacked(req, NULL);
}

static void test_push_api(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { .app = "svc", .labels = { { "k8s.namespace", "default" },
							 { "env", "prod" } }, .n_labels = 2 };
	struct pusher *p;
	struct buf cpu = cpu_profile(7);
	struct buf heap = make_profile(heap_types, 4, 2, now_ns(), COMPRESS_GZIP);
	struct push_result r;
	struct errmsg e;
	char url[96];

	snprintf(url, sizeof(url), "%s/", s->url);
	p = new_pusher(&o, url, PUSH_API_PUSH);
	if (pusher__push(p, cpu.data, cpu.len, "cpu", 0, &r, &e) ||
	    pusher__push(p, heap.data, heap.len, "heap", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_int_equal(s->n_reqs, 2);
	check_push_body(&s->reqs[0], "process_cpu", false, 7);
	check_push_body(&s->reqs[1], "memory", true, 2);
	buf__free(&cpu);
	buf__free(&heap);
	pusher__free(p);
	server_stop(s);
}

static void test_http_api(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { .content_type = "application/x-pprof" };
	struct pusher *p;
	/* old and plain: http has no time window and still gets gzip */
	struct buf prof = make_profile(cpu_types, 2, 2, now_ns() - 3 * 3600 * NS, COMPRESS_NONE);
	struct push_result r;
	struct errmsg e;
	char url[96];

	snprintf(url, sizeof(url), "%s/api/profile?x=1", s->url);
	p = new_pusher(&o, url, PUSH_API_HTTP);
	if (pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_string_equal(s->reqs[0].path, "/api/profile");
	assert_string_equal(arg(&s->reqs[0], "x"), "1");
	assert_null(arg(&s->reqs[0], "name"));
	assert_string_equal(header(&s->reqs[0], "Content-Type"), "application/x-pprof");
	assert_int_equal(sample_count(s->reqs[0].body.data, s->reqs[0].body.len), 2);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_auth_headers(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { .tenant = "team-a", .basic_auth = "user:s3cret",
			       .headers = { "X-Extra: one", "X-Other:two" }, .n_headers = 2 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	struct buf prof = cpu_profile(1);
	struct push_result r;
	struct errmsg e;

	if (pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e))
		fail_msg("%s", e.text);
	pusher__free(p);
	o.basic_auth = NULL;
	o.bearer = "tok3n";
	p = new_pusher(&o, s->url, PUSH_API_PUSH);
	if (pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e))
		fail_msg("%s", e.text);
	pusher__free(p);
	assert_string_equal(header(&s->reqs[0], "X-Scope-OrgID"), "team-a");
	assert_string_equal(header(&s->reqs[0], "Authorization"), "Basic dXNlcjpzM2NyZXQ=");
	assert_string_equal(header(&s->reqs[0], "X-Extra"), "one");
	assert_string_equal(header(&s->reqs[0], "X-Other"), "two");
	assert_string_equal(header(&s->reqs[1], "Authorization"), "Bearer tok3n");
	assert_string_equal(header(&s->reqs[1], "X-Scope-OrgID"), "team-a");
	assert_null(header(&s->reqs[1], "Expect"));
	buf__free(&prof);
	server_stop(s);
}

static void test_retry_then_accept(void **state)
{
	static const struct answer script[] = { ANS(503, "busy"), ANS(503, ""), ANS(200, "") };
	struct server *s = server_start(script, 3);
	struct waits w = { 0 };
	struct push_opts o = { .wait = record_wait, .wait_ctx = &w, .retry_wait = 0.5 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_PUSH);
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;

	if (pusher__push(p, prof.data, prof.len, "cpu", 4, &r, &e))
		fail_msg("%s", e.text);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.status, 200);
	assert_false(r.transient);
	assert_int_equal(w.n, 2);
	assert_true(w.seconds[0] >= 0.25 && w.seconds[0] <= 0.5);
	assert_true(w.seconds[1] >= 0.5 && w.seconds[1] <= 1.0);
	assert_true(s->reqs[2].body.len == s->reqs[0].body.len);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_retry_after(void **state)
{
	static const struct answer script[] = { { 429, "{\"message\":\"slow down\"}", "2", 0 } };
	struct server *s = server_start(script, 1);
	struct waits w = { 0 };
	struct push_opts o = { .wait = record_wait, .wait_ctx = &w };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;

	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 3, &r, &e), 0);
	assert_int_equal(r.attempts, 2);
	assert_int_equal(w.n, 1);
	assert_true(w.seconds[0] > 1.9 && w.seconds[0] < 2.1);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_give_up_and_cancel(void **state)
{
	static const struct answer script[] = {
		ANS(503, "{\"code\":\"unavailable\",\"message\":\"ingester down\"}"),
		ANS(502, "bad gateway\nmore"), ANS(500, ""), ANS(503, ""),
	};
	struct server *s = server_start(script, 4);
	struct waits w = { 0 };
	struct push_opts o = { .wait = record_wait, .wait_ctx = &w };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;

	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 1, &r, &e), -EAGAIN);
	assert_int_equal(r.attempts, 2);
	assert_true(r.transient);
	assert_int_equal(r.status, 502);
	assert_non_null(strstr(e.text, "HTTP 502: bad gateway"));
	assert_null(strstr(e.text, "more"));
	/* shutting down: the wait is cut short, no more attempts */
	w.cancel = true;
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 5, &r, &e), -ECANCELED);
	assert_int_equal(r.attempts, 1);
	assert_non_null(strstr(e.text, "HTTP 500"));
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_refused(void **state)
{
	static const struct answer script[] = {
		ANS(400, "{\"code\":\"invalid_argument\",\"message\":\"bad label\"}"),
		ANS(401, "{\"code\":\"unauthenticated\",\"message\":\"token s3cret is \\\"invalid\\\"\"}"),
		ANS(302, ""),
	};
	struct server *s = server_start(script, 3);
	struct waits w = { 0 };
	struct push_opts o = { .basic_auth = "user:s3cret", .wait = record_wait, .wait_ctx = &w };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_PUSH);
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;

	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu.pb.gz", 4, &r, &e), -EPROTO);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.status, 400);
	assert_false(r.transient);
	assert_int_equal(w.n, 0);
	assert_non_null(strstr(e.text, "refused cpu.pb.gz: HTTP 400: bad label"));
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu.pb.gz", 4, &r, &e), -EPROTO);
	assert_non_null(strstr(e.text, "HTTP 401: token *** is \"invalid\""));
	assert_null(strstr(e.text, "s3cret"));
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu.pb.gz", 4, &r, &e), -EPROTO);
	assert_non_null(strstr(e.text, "HTTP 302"));
	assert_non_null(strstr(e.text, "not followed"));
	assert_null(strstr(e.text, "hidden"));
	assert_int_equal(s->n_reqs, 3);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_connection_refused(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct waits w = { 0 };
	struct push_opts o = { .wait = record_wait, .wait_ctx = &w };
	struct pusher *p;
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;
	char url[64], want[96];

	/* bound, never listening: connecting is refused */
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	p = new_pusher(&o, url, PUSH_API_INGEST);
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 2, &r, &e), -EAGAIN);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.status, 0);
	assert_true(r.transient);
	assert_int_equal(w.n, 2);
	snprintf(want, sizeof(want), "cannot reach 127.0.0.1:%u: Connection refused",
		 ntohs(sa.sin_port));
	assert_string_equal(e.text, want);
	close(fd);
	buf__free(&prof);
	pusher__free(p);
}

static void test_timeout(void **state)
{
	static const struct answer script[] = { { 200, "", NULL, 1200 } };
	struct server *s = server_start(script, 1);
	struct push_opts o = { .timeout = 0.3 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;

	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e), -EAGAIN);
	assert_true(r.transient);
	assert_true(r.seconds >= 0.25 && r.seconds < 1.15);
	assert_non_null(strstr(e.text, "timed out after 0.3 s"));
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

/* https to a plain HTTP server: the handshake fails, worth another try. */
static void test_tls_failure(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { .timeout = 2 };
	struct pusher *p;
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;
	char url[64];

	snprintf(url, sizeof(url), "https://127.0.0.1:%u", s->port);
	p = new_pusher(&o, url, PUSH_API_PUSH);
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e), -EAGAIN);
	assert_true(r.transient);
	assert_int_equal(r.status, 0);
	assert_true(strncmp(e.text, "TLS with 127.0.0.1:", 19) == 0);
	assert_int_equal(s->n_reqs, 0);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_split(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { 0 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	struct buf prof = cpu_profile(20000);
	struct push_result r;
	struct errmsg e;
	const uint8_t *data;
	size_t i, n, len, total = 0;

	if (pusher__push(p, prof.data, prof.len, "big", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_int_equal(r.parts, 2);
	assert_int_equal(r.attempts, 2);
	assert_int_equal(s->n_reqs, 2);
	for (i = 0; i < 2; i++) {
		data = part(&s->reqs[i], "name=\"profile\"", &len);
		assert_non_null(data);
		n = sample_count(data, len);
		assert_true(n <= PUSH_MAX_SAMPLES);
		total += n;
	}
	assert_int_equal(total, 20000);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

/* Few samples, big stacks: over 4 MiB uncompressed, so split by size; and
 * tables alone over 4 MiB, which no split can help. */
static void test_split_by_size(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { 0 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_PUSH);
	struct pprof_builder *b = pprof_builder__new(cpu_types, 2);
	struct buf big = BUF_INIT(0), huge = BUF_INIT(0);
	struct compress_writer *w;
	struct pprof_profile *prof;
	struct pprof_line line;
	uint64_t locs[1000], stack[250];
	int64_t values[2] = { 1, 1000 };
	struct push_result r;
	struct errmsg e;
	char *value;
	size_t i, j, total = 0;

	for (i = 0; i < 1000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%zu", i);
		line = (struct pprof_line){ builder_test__function(b, name, NULL, NULL, 0), 1 };
		locs[i] = builder_test__location(b, 0, 0, &line, 1);
	}
	for (i = 0; i < 10000; i++) {
		struct pprof_label l = { .key = "tid", .num = (int64_t)i };

		for (j = 0; j < 250; j++)
			stack[j] = locs[(i + j * 7) % 1000];
		assert_int_equal(pprof_builder__add_sample(b, stack, 250, values, &l, 1), 0);
	}
	pprof_builder__set_time(b, now_ns(), NS);
	prof = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_true(protobuf_c_message_get_packed_size(&prof->pb->base) > PUSH_MAX_PROFILE_BYTES);
	w = compress_writer__new(COMPRESS_GZIP, 1, buf_sink, &big);
	assert_int_equal(pprof__encode(prof, w, &e), 0);
	assert_int_equal(compress_writer__finish(w), 0);
	compress_writer__free(w);
	pprof__free(prof);
	if (pusher__push(p, big.data, big.len, "deep", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_true(r.parts >= 2);
	assert_int_equal(s->n_reqs, r.parts);
	for (i = 0; i < s->n_reqs; i++) {
		Push__V1__PushRequest *req = push__v1__push_request__unpack(
			NULL, s->reqs[i].body.len, s->reqs[i].body.data);
		ProtobufCBinaryData *raw = &req->series[0]->samples[0]->raw_profile;
		struct buf plain = BUF_INIT(0);

		assert_int_equal(compress__decode(raw->data, raw->len, &plain, &e), 0);
		assert_true(plain.len <= PUSH_MAX_PROFILE_BYTES);
		total += sample_count(raw->data, raw->len);
		buf__free(&plain);
		push__v1__push_request__free_unpacked(req, NULL);
	}
	assert_int_equal(total, 10000);

	/* two samples, each with a 3 MiB string label: every part holds both */
	value = malloc(3u << 20);
	memset(value, 'x', 3u << 20);
	value[(3u << 20) - 1] = 0;
	b = pprof_builder__new(cpu_types, 2);
	line = (struct pprof_line){ builder_test__function(b, "f", NULL, NULL, 0), 1 };
	locs[0] = builder_test__location(b, 0, 0, &line, 1);
	for (i = 0; i < 2; i++) {
		struct pprof_label l = { .key = "blob", .str = value };

		value[i] = 'y';
		assert_int_equal(pprof_builder__add_sample(b, locs, 1, values, &l, 1), 0);
	}
	pprof_builder__set_time(b, now_ns(), NS);
	prof = pprof_builder__finish(b);
	pprof_builder__free(b);
	w = compress_writer__new(COMPRESS_GZIP, 1, buf_sink, &huge);
	assert_int_equal(pprof__encode(prof, w, &e), 0);
	assert_int_equal(compress_writer__finish(w), 0);
	compress_writer__free(w);
	pprof__free(prof);
	assert_int_equal(pusher__push(p, huge.data, huge.len, "blob", 3, &r, &e), -EINVAL);
	assert_non_null(strstr(e.text, "4 MiB"));
	assert_false(r.transient);
	free(value);
	buf__free(&big);
	buf__free(&huge);
	pusher__free(p);
	server_stop(s);
}

/* The decoded hand-off: split by ranges of samples, the profile untouched. */
static void test_push_profile(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { 0 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_INGEST);
	struct pprof_profile *prof = build_profile(cpu_types, 2, 20000, now_ns());
	pprof_sample_pb **samples = prof->pb->sample;
	size_t size = pprof__encoded_size(prof), i, len, total = 0;
	const uint8_t *data;
	struct push_result r;
	struct errmsg e;

	if (pusher__push_profile(p, prof, "window", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_int_equal(r.parts, 2);
	assert_int_equal(s->n_reqs, 2);
	for (i = 0; i < 2; i++) {
		data = part(&s->reqs[i], "name=\"profile\"", &len);
		assert_non_null(data);
		total += sample_count(data, len);
	}
	assert_int_equal(total, 20000);
	assert_ptr_equal(prof->pb->sample, samples);
	assert_int_equal(prof->pb->n_sample, 20000);
	assert_int_equal(pprof__encoded_size(prof), size);
	pprof__free(prof);
	pusher__free(p);
	server_stop(s);
}

/* Five samples of 1.5 MiB (stacks of 1.5M frames), then five small ones:
 * even thirds would put 4.5 MiB in the first request, so the requests are
 * filled in turn. */
static void test_split_uneven(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { 0 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_PUSH);
	struct pprof_builder *b = pprof_builder__new(cpu_types, 2);
	struct pprof_profile *prof;
	struct pprof_line line;
	int64_t values[2] = { 1, 1000 };
	size_t i, deep = 3u << 19, total = 0;
	uint64_t *stack = malloc(deep * sizeof(*stack));
	struct push_result r;
	struct errmsg e;

	assert_non_null(stack);
	line = (struct pprof_line){ builder_test__function(b, "f", NULL, NULL, 0), 1 };
	stack[0] = builder_test__location(b, 0, 0, &line, 1);
	for (i = 1; i < deep; i++)
		stack[i] = stack[0];
	for (i = 0; i < 10; i++) {
		struct pprof_label l = { .key = "tid", .num = (int64_t)i + 1 };

		assert_int_equal(pprof_builder__add_sample(b, stack, i < 5 ? deep : 1, values, &l, 1), 0);
	}
	pprof_builder__set_time(b, now_ns(), NS);
	prof = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_non_null(prof);
	if (pusher__push_profile(p, prof, "uneven", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_int_equal(r.parts, 3);
	assert_int_equal(s->n_reqs, 3);
	for (i = 0; i < s->n_reqs; i++) {
		Push__V1__PushRequest *req = push__v1__push_request__unpack(
			NULL, s->reqs[i].body.len, s->reqs[i].body.data);
		ProtobufCBinaryData *raw = &req->series[0]->samples[0]->raw_profile;
		struct buf plain = BUF_INIT(0);

		assert_int_equal(compress__decode(raw->data, raw->len, &plain, &e), 0);
		assert_true(plain.len <= PUSH_MAX_PROFILE_BYTES);
		total += sample_count(raw->data, raw->len);
		buf__free(&plain);
		push__v1__push_request__free_unpacked(req, NULL);
	}
	assert_int_equal(total, 10);
	free(stack);
	pprof__free(prof);
	pusher__free(p);
	server_stop(s);
}

/* Over 1,024,000 samples once overflowed a fixed array of 64 parts. */
static void test_split_many(void **state)
{
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { 0 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_PUSH);
	struct buf prof = cpu_profile(1100000);
	struct push_result r;
	struct errmsg e;
	size_t i, n, total = 0;

	if (pusher__push(p, prof.data, prof.len, "huge", 0, &r, &e))
		fail_msg("%s", e.text);
	assert_int_equal(r.parts, 69);	/* 1,100,000 / 16000, rounded up */
	assert_int_equal(r.attempts, 69);
	assert_int_equal(s->n_reqs, 69);
	for (i = 0; i < s->n_reqs; i++) {
		Push__V1__PushRequest *req = push__v1__push_request__unpack(
			NULL, s->reqs[i].body.len, s->reqs[i].body.data);
		ProtobufCBinaryData *raw;

		assert_non_null(req);
		raw = &req->series[0]->samples[0]->raw_profile;
		n = sample_count(raw->data, raw->len);
		assert_true(n <= PUSH_MAX_SAMPLES);
		total += n;
		push__v1__push_request__free_unpacked(req, NULL);
	}
	assert_int_equal(total, 1100000);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

static void test_refused_before_sending(void **state)
{
	static const struct pprof_value_type dashed[] = { { "cpu-time", "nanoseconds" } };
	struct server *s = server_start(NULL, 0);
	struct push_opts o = { 0 };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_PUSH);
	struct buf old = make_profile(cpu_types, 2, 2, now_ns() - 2 * 3600 * NS, COMPRESS_GZIP);
	struct buf ahead = make_profile(cpu_types, 2, 2, now_ns() + 3600 * NS, COMPRESS_GZIP);
	struct buf dash = make_profile(dashed, 1, 2, now_ns(), COMPRESS_GZIP);
	struct push_result r;
	struct errmsg e;

	assert_int_equal(pusher__push(p, old.data, old.len, "old", 3, &r, &e), -EINVAL);
	assert_non_null(strstr(e.text, "too old"));
	assert_false(r.transient);
	assert_int_equal(r.attempts, 0);
	assert_int_equal(pusher__push(p, ahead.data, ahead.len, "ahead", 3, &r, &e), -EINVAL);
	assert_non_null(strstr(e.text, "too new"));
	assert_int_equal(pusher__push(p, dash.data, dash.len, "dash", 3, &r, &e), -EINVAL);
	assert_non_null(strstr(e.text, "cpu-time"));
	assert_int_equal(pusher__push(p, "garbage!", 8, "junk", 3, &r, &e), -EINVAL);
	assert_non_null(strstr(e.text, "junk: not a pprof profile"));
	assert_int_equal(s->n_reqs, 0);
	buf__free(&old);
	buf__free(&ahead);
	buf__free(&dash);
	pusher__free(p);
	server_stop(s);
}

static void test_one_connection(void **state)
{
	static const struct answer script[] = { ANS(200, ""), ANS(503, ""), ANS(200, ""),
						ANS(400, "no"), ANS(200, "") };
	struct server *s = server_start(script, 5);
	struct waits w = { 0 };
	struct push_opts o = { .wait = record_wait, .wait_ctx = &w };
	struct pusher *p = new_pusher(&o, s->url, PUSH_API_PUSH);
	struct buf prof = cpu_profile(2);
	struct push_result r;
	struct errmsg e;

	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e), 0);
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 1, &r, &e), 0);
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e), -EPROTO);
	assert_int_equal(pusher__push(p, prof.data, prof.len, "cpu", 0, &r, &e), 0);
	assert_int_equal(s->n_reqs, 5);
	assert_int_equal(s->connections, 1);
	buf__free(&prof);
	pusher__free(p);
	server_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_new_refuses),
		cmocka_unit_test(test_ingest_multipart),
		cmocka_unit_test(test_ingest_heap),
		cmocka_unit_test(test_ingest_raw),
		cmocka_unit_test(test_push_api),
		cmocka_unit_test(test_http_api),
		cmocka_unit_test(test_auth_headers),
		cmocka_unit_test(test_retry_then_accept),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_give_up_and_cancel),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_tls_failure),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_by_size),
		cmocka_unit_test(test_push_profile),
		cmocka_unit_test(test_split_uneven),
		cmocka_unit_test(test_split_many),
		cmocka_unit_test(test_refused_before_sending),
		cmocka_unit_test(test_one_connection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
