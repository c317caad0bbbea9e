/* http_client: one attempt per post, how answers are classified, the
 * Retry-After it hands on, the backoff's range and cap, and secrets
 * redacted from what a server echoes. The protocols on top are push_test's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "export/http.h"

struct answer {
	unsigned status;
	const char *body, *retry_after;
};

struct server {
	struct MHD_Daemon *d;
	char url[64];
	pthread_mutex_t lock;
	const struct answer *script;	/* one per request, then 200 */
	size_t n_script, n_reqs;
	char last_query[128];
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *data_size, void **con_cls)
{
	struct server *s = cls;
	struct answer a = { 200, "", NULL };
	struct MHD_Response *resp;
	const char *q;
	enum MHD_Result ret;

	if (!*con_cls) {
		*con_cls = s;
		return MHD_YES;
	}
	if (*data_size) {
		*data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->lock);
	if (s->n_reqs < s->n_script)
		a = s->script[s->n_reqs];
	s->n_reqs++;
	q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
	snprintf(s->last_query, sizeof(s->last_query), "%s", q ? q : "");
	pthread_mutex_unlock(&s->lock);
	resp = MHD_create_response_from_buffer(strlen(a.body), (void *)a.body,
					       MHD_RESPMEM_MUST_COPY);
	if (a.retry_after)
		MHD_add_response_header(resp, "Retry-After", a.retry_after);
	ret = MHD_queue_response(c, a.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void server_start(struct server *s, const struct answer *script, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	const union MHD_DaemonInfo *info;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->script = script;
	s->n_script = n;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, s,
				MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	assert_non_null(s->d);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", info->port);
}

static void server_stop(struct server *s)
{
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->lock);
}

static void test_one_attempt_per_post(void **state)
{
	static const struct answer script[] = {
		{ 503, "{\"message\":\"busy\"}", NULL }, { 429, "", "7" }, { 422, "bad", NULL },
	};
	const char *query[] = { "name=a{b=c d}" };
	struct http_request rq = { .query = query, .n_query = 1, .body = "hello", .len = 5 };
	struct http_opts o = { 0 };
	struct http_result r;
	struct http_client *h;
	struct server s;
	struct errmsg e;
	char url[320];

	server_start(&s, script, 3);
	o.url = s.url;
	o.path = "/api";
	h = http_client__new(&o, &e);
	assert_non_null(h);
	assert_int_equal(http_client__post(h, &rq, &r, &e), -EAGAIN);
	assert_int_equal(s.n_reqs, 1);
	assert_true(r.transient);
	assert_int_equal(r.status, 503);
	assert_true(r.retry_after == 0);
	assert_non_null(strstr(e.text, "HTTP 503: busy"));
	assert_int_equal(http_client__post(h, &rq, &r, &e), -EAGAIN);
	assert_int_equal(s.n_reqs, 2);
	assert_true(r.retry_after == 7);
	assert_true(http_client__backoff(h, 3, &r) == 7);
	assert_int_equal(http_client__post(h, &rq, &r, &e), -EPROTO);
	assert_false(r.transient);
	assert_true(!strncmp(e.text, "127.0.0.1:", 10));
	assert_non_null(strstr(e.text, " answered HTTP 422: bad"));
	assert_int_equal(http_client__post(h, &rq, &r, &e), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.bytes, 5);
	assert_int_equal(s.n_reqs, 4);
	assert_string_equal(s.last_query, "a{b=c d}");
	snprintf(url, sizeof(url), "%s/api", s.url);
	assert_string_equal(http_client__url(h), url);
	http_client__free(h);
	server_stop(&s);
}

static void test_backoff(void **state)
{
	unsigned i, n;

	for (i = 0; i < 200; i++) {
		double d0 = http__backoff(1.0, 0), d3 = http__backoff(1.0, 3);
		double cap = http__backoff(1.0, 40);

		n = i % 8;
		assert_true(d0 >= 0.5 && d0 <= 1.0);
		assert_true(d3 >= 4.0 && d3 <= 8.0);
		assert_true(cap >= HTTP_MAX_BACKOFF / 2 && cap <= HTTP_MAX_BACKOFF);
		assert_true(http__backoff(0.25, n) <= HTTP_MAX_BACKOFF);
	}
}

static void test_redacted(void **state)
{
	static const struct answer script[] = {
		{ 401, "{\"message\":\"user:pw-S3 and tok-S3 and url-S3 and hdr-S3\"}", NULL },
	};
	struct http_request rq = { .body = "", .len = 0 };
	struct http_opts o = { .basic_auth = "user:pw-S3" };
	struct http_result r;
	struct http_client *h;
	struct server s;
	struct errmsg e;
	char url[320];

	server_start(&s, script, 1);
	snprintf(url, sizeof(url), "http://u:url-S3@%s", s.url + 7);
	o.url = url;
	o.headers[0] = "X-Api-Key: other";
	o.n_headers = 1;
	h = http_client__new(&o, &e);
	assert_non_null(h);
	assert_null(strstr(http_client__url(h), "url-S3"));
	assert_int_equal(http_client__post(h, &rq, &r, &e), -EPROTO);
	assert_null(strstr(e.text, "pw-S3"));
	assert_null(strstr(e.text, "url-S3"));
	assert_non_null(strstr(e.text, "*** and tok-S3 and *** and hdr-S3"));
	http_client__free(h);
	server_stop(&s);

	/* a bearer and an Authorization header's value: refused together, and
	 * the refusal shows neither */
	o = (struct http_opts){ .url = "http://127.0.0.1:1", .bearer = "tok-S3",
				.headers = { "Authorization: Basic hdr-S3" }, .n_headers = 1 };
	assert_null(http_client__new(&o, &e));
	assert_null(strstr(e.text, "S3"));
	o.bearer = NULL;
	o.headers[0] = "Bad Header hdr-S3\r\n";
	assert_null(http_client__new(&o, &e));
	assert_int_equal(errno, EINVAL);
}

/* Every form a configured secret takes on the way back: base64 (a Basic
 * header echoed), URL-encoded (a URL's userinfo), a query's values (which
 * the URL shown masks too), and a secret cut in two where a long message is
 * shortened. */
static void test_redacted_forms(void **state)
{
	static char cut[512];
	static const struct answer script[] = {
		{ 400, "{\"message\":\"you sent: Basic YWxpY2U6cHctUzM=\"}", NULL },
		{ 400, "url p%40ss-S3 p@ss-S3 bob:p@ss-S3, key q-S3 q%2FS3 q/S3", NULL },
		{ 400, cut, NULL },
	};
	struct http_request rq = { .body = "", .len = 0 };
	struct http_opts o = { .basic_auth = "alice:pw-S3" };
	struct http_result r;
	struct http_client *h;
	struct server s;
	struct errmsg e;
	char url[320];
	int i;

	snprintf(cut, sizeof(cut), "{\"message\":\"%0190d Basic YWxpY2U6cHctUzM=\"}", 0);
	server_start(&s, script, 3);
	snprintf(url, sizeof(url), "http://bob:p%%40ss-S3@%s/?api_key=q-S3&other=q%%2FS3",
		 s.url + 7);
	o.url = url;
	h = http_client__new(&o, &e);
	assert_non_null(h);
	assert_null(strstr(http_client__url(h), "S3"));
	assert_non_null(strstr(http_client__url(h), "?api_key=***&other=***"));
	for (i = 0; i < 3; i++) {
		assert_int_equal(http_client__post(h, &rq, &r, &e), -EPROTO);
		if (strstr(e.text, "S3") || strstr(e.text, "YWxp"))
			fail_msg("a secret shows: %s", e.text);
	}
	assert_non_null(strstr(e.text, "Basic ***"));
	http_client__free(h);
	server_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_attempt_per_post),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_redacted),
		cmocka_unit_test(test_redacted_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
