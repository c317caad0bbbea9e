/* sender: where windows go when the endpoint is slow or never answers.
 * With a spool none is dropped and at most one waits in memory; without
 * one the queue is bounded by count and by bytes and says what it drops;
 * stopping spools what waits first and ends within the stop timeout. The
 * endpoints are a loopback server that answers late, and a socket that
 * listens and never accepts (a black hole). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
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

#include "export/sender.h"
#include "pprof/builder.h"
#include "pprof/builder_test.h"
#include "pprof/codec.h"

#define NS 1000000000ll

struct server {
	struct MHD_Daemon *d;
	char url[64];
	unsigned delay_ms;
	int fail;		/* this many 503s first */
	volatile int stop;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *data_size, void **con_cls)
{
	struct server *s = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned waited;

	if (!*con_cls) {
		*con_cls = s;
		return MHD_YES;
	}
	if (*data_size) {
		*data_size = 0;
		return MHD_YES;
	}
	for (waited = 0; waited < s->delay_ms && !s->stop; waited += 10)
		usleep(10000);
	r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (__atomic_fetch_sub(&s->fail, 1, __ATOMIC_SEQ_CST) > 0)
		MHD_add_response_header(r, "Retry-After", "1");
	ret = MHD_queue_response(c, s->fail >= 0 ? 503 : 200, r);
	MHD_destroy_response(r);
	return ret;
}

static void slow_server(struct server *s, unsigned delay_ms)
{
	const union MHD_DaemonInfo *info;

	memset(s, 0, sizeof(*s));
	s->delay_ms = delay_ms;
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
				NULL, NULL, handle, s, MHD_OPTION_END);
	assert_non_null(s->d);
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", info->port);
}

static void server_stop(struct server *s)
{
	s->stop = 1;
	MHD_stop_daemon(s->d);
}

/* Listens, never accepts: a request is sent into the backlog and never
 * answered. */
static int black_hole(char *url, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, n, "http://127.0.0.1:%u", ntohs(sa.sin_port));
	return fd;
}

/* What the reports said, from whichever thread. */
struct tally {
	pthread_mutex_t lock;
	unsigned outcome[4], from_spool;
	char last_error[4][256];
};

static void on_report(void *ctx, const struct sender_report *r)
{
	struct tally *t = ctx;

	pthread_mutex_lock(&t->lock);
	if (r->from_spool)
		t->from_spool += r->outcome == SENT_PUSHED;
	else
		t->outcome[r->outcome]++;
	snprintf(t->last_error[r->outcome], sizeof(t->last_error[0]), "%s", r->error);
	pthread_mutex_unlock(&t->lock);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A CPU window of n samples, started i seconds ago. */
static struct pprof_profile *window(size_t n, int i)
{
	static const struct pprof_value_type types[] = {
		{ "samples", "count" }, { "cpu", "nanoseconds" },
	};
	struct pprof_builder *b = pprof_builder__new(types, 2);
	int64_t values[2] = { 1, 10000000 };
	struct pprof_line line;
	struct pprof_profile *p;
	uint64_t loc;
	size_t k;

	assert_non_null(b);
	line = (struct pprof_line){ builder_test__function(b, "spin", NULL, "a.c", 1), 3 };
	loc = builder_test__location(b, 0, 0, &line, 1);
	for (k = 0; k < n; k++) {
		struct pprof_label l = { .key = "tid", .num = (int64_t)k + 1 };

		assert_int_equal(pprof_builder__add_sample(b, &loc, 1, values, &l, 1), 0);
	}
	pprof_builder__set_period(b, "cpu", "nanoseconds", 10000000);
	pprof_builder__set_time(b, now_ns() - (int64_t)i * NS, NS);
	p = pprof_builder__finish(b);
	pprof_builder__free(b);
	assert_non_null(p);
	return p;
}

static char spool_dir[64];

static int make_dir(void **state)
{
	snprintf(spool_dir, sizeof(spool_dir), "/tmp/bpprof-sender-XXXXXX");
	return mkdtemp(spool_dir) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int remove_dir(void **state)
{
	return nftw(spool_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static unsigned spool_files(void)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(spool_dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".pb.zst") != NULL;
	closedir(d);
	return n;
}

/* 200 after 600 ms, a window every 50 ms: once dropped after 64, while
 * the spool was empty. Now none is lost: pushed or in the spool, and a
 * window waits in memory only while one push is under way. */
static void test_slow_endpoint_spools(void **state)
{
	struct tally t = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sender_opts o = { .spool_dir = spool_dir, .spool_max = 64 << 20, .stop_timeout = 1,
				 .on_report = on_report, .ctx = &t };
	struct server srv;
	struct errmsg e;
	struct sender *s;
	int i;

	slow_server(&srv, 600);
	o.push.url = srv.url;
	o.push.api = PUSH_API_HTTP;
	o.push.timeout = 5;
	s = sender__new(&o, &e);
	if (!s)
		fail_msg("%s", e.text);
	for (i = 0; i < 30; i++) {
		assert_int_equal(sender__submit(s, window(20, 30 - i), "cpu", "w"), 0);
		usleep(50 * 1000);
	}
	sender__free(s);
	assert_int_equal(t.outcome[SENT_DROPPED], 0);
	assert_int_equal(t.outcome[SENT_REFUSED], 0);
	assert_int_equal(t.outcome[SENT_PUSHED] + t.outcome[SENT_SPOOLED], 30);
	/* one push at a time for 1.5 s, then a first spooled window keeps the rest behind it */
	assert_true(t.outcome[SENT_SPOOLED] >= 25);
	assert_int_equal(t.outcome[SENT_PUSHED] + t.from_spool + spool_files(), 30);
	server_stop(&srv);
}

/* With a spool a window whose push fails goes there at once, not retried
 * in memory (where a kill would take it), and out from there later, after
 * the server's Retry-After. */
static void test_failure_spooled_not_retried(void **state)
{
	struct tally t = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sender_opts o = { .spool_dir = spool_dir, .spool_max = 64 << 20, .stop_timeout = 3,
				 .on_report = on_report, .ctx = &t };
	struct server srv;
	struct errmsg e;
	struct sender *s;
	double t0;

	slow_server(&srv, 0);
	srv.fail = 1;
	o.push.url = srv.url;
	o.push.api = PUSH_API_HTTP;
	o.push.retries = 4;
	o.push.retry_wait = 0.01;
	s = sender__new(&o, &e);
	assert_non_null(s);
	t0 = mono();
	assert_int_equal(sender__submit(s, window(5, 1), "cpu", "w"), 0);
	while (!t.from_spool && mono() - t0 < 5)
		usleep(10000);
	assert_int_equal(t.outcome[SENT_SPOOLED], 1);
	assert_int_equal(t.outcome[SENT_PUSHED], 0);
	assert_int_equal(t.from_spool, 1);
	assert_true(mono() - t0 >= 0.95);	/* Retry-After: 1, not retry_wait */
	assert_non_null(strstr(t.last_error[SENT_SPOOLED], "HTTP 503"));
	sender__free(s);
	assert_int_equal(spool_files(), 0);
	server_stop(&srv);
}

/* Without a spool the queue is bounded: by SENDER_QUEUE_MAX windows, and
 * by SENDER_QUEUE_MAX_BYTES of their profiles, the oldest dropped and
 * said. */
static void test_no_spool_bounded(void **state)
{
	struct tally t = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sender_opts o = { .on_report = on_report, .ctx = &t, .stop_timeout = 0.5 };
	struct errmsg e;
	struct sender *s;
	char url[64];
	int fd = black_hole(url, sizeof(url)), i;

	o.push.url = url;
	o.push.api = PUSH_API_HTTP;
	o.push.timeout = 30;
	s = sender__new(&o, &e);
	assert_non_null(s);
	assert_int_equal(sender__submit(s, window(1, 1), "cpu", "small"), 0);
	usleep(200 * 1000);	/* under way */
	for (i = 0; i < (int)SENDER_QUEUE_MAX + 5; i++)
		assert_int_equal(sender__submit(s, window(1, 1), "cpu", "small"), 0);
	/* one in the black hole, 64 waiting: the rest dropped, and said */
	pthread_mutex_lock(&t.lock);
	assert_int_equal(t.outcome[SENT_DROPPED], 5);
	assert_non_null(strstr(t.last_error[SENT_DROPPED], "already wait to be sent"));
	pthread_mutex_unlock(&t.lock);
	sender__free(s);
	close(fd);

	/* by bytes: windows of ~16 MiB each (200k samples), four fit */
	memset(t.outcome, 0, sizeof(t.outcome));
	fd = black_hole(url, sizeof(url));
	s = sender__new(&o, &e);
	assert_non_null(s);
	for (i = 0; i < 8; i++)
		assert_int_equal(sender__submit(s, window(200000, 1), "cpu", "big"), 0);
	pthread_mutex_lock(&t.lock);
	assert_true(t.outcome[SENT_DROPPED] >= 2);
	assert_non_null(strstr(t.last_error[SENT_DROPPED], "MiB) already wait"));
	pthread_mutex_unlock(&t.lock);
	sender__free(s);
	close(fd);
}

/* SIGTERM with an endpoint that never answers once took three request
 * timeouts and more. Stopping spools what waits first and ends within the
 * stop timeout, the window under way spooled too: none lost. */
static void test_stop_bounded(void **state)
{
	struct tally t = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct sender_opts o = { .spool_dir = spool_dir, .spool_max = 64 << 20, .stop_timeout = 1.5,
				 .on_report = on_report, .ctx = &t };
	struct errmsg e;
	struct sender *s;
	char url[64];
	double t0;
	int fd = black_hole(url, sizeof(url)), i;

	o.push.url = url;
	o.push.api = PUSH_API_HTTP;
	o.push.timeout = 30;
	o.push.retries = 4;
	s = sender__new(&o, &e);
	assert_non_null(s);
	for (i = 0; i < 3; i++)
		assert_int_equal(sender__submit(s, window(10, 3 - i), "cpu", "w"), 0);
	usleep(200 * 1000);
	t0 = mono();
	sender__free(s);
	assert_true(mono() - t0 < 1.5 + 1.5);	/* the timeout, and curl's second to notice */
	assert_int_equal(t.outcome[SENT_DROPPED], 0);
	assert_int_equal(t.outcome[SENT_SPOOLED], 3);
	assert_int_equal(spool_files(), 3);
	close(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, make_dir, remove_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_slow_endpoint_spools),
		T(test_failure_spooled_not_retried),
		T(test_no_spool_bounded),
		T(test_stop_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
