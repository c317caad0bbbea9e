/* metrics: exact totals under concurrent updates, every family with HELP and
 * TYPE, cumulative histogram buckets, procfs reads from fixtures and the real
 * /proc, and the HTTP endpoint (paths, methods, address forms, bind errors). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
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
#include <curl/curl.h>

#include "daemon/metrics.h"
#include "base/buf.h"
#include "base/errmsg.h"

#define THREADS 4
#define ADDS 100000

/* Render m and return it as a NUL-terminated string (caller frees). */
static char *render(struct metrics *m, const char *procfs)
{
	struct buf b = BUF_INIT(64u << 10);
	char *s;

	assert_int_equal(metrics__render(m, procfs, &b), 0);
	assert_int_equal(buf__append(&b, "", 1), 0);
	s = (char *)b.data;
	return s;
}

/* The value on the line that starts with "series ", or -1 when absent. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* Lines of text that start with prefix. */
static int lines_with(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p;
	int count = 0;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		count += strncmp(p, prefix, n) == 0;
	return count;
}

/* Exactly one HELP and one TYPE line per family. */
static void assert_family(const char *text, const char *name, const char *type)
{
	char line[256];

	snprintf(line, sizeof(line), "# HELP %s ", name);
	assert_int_equal(lines_with(text, line), 1);
	snprintf(line, sizeof(line), "# TYPE %s %s\n", name, type);
	assert_int_equal(lines_with(text, line), 1);
}

static void *adder(void *arg)
{
	struct metrics *m = arg;
	int i;

	for (i = 0; i < ADDS; i++) {
		metrics__add(m, MC_CPU_SAMPLES, 1);
		metrics__add(m, MC_PUSH_BYTES, 3);
		metrics__observe_push(m, 0.02);
	}
	return NULL;
}

static void test_concurrent_totals(void **state)
{
	struct metrics *m = metrics__new("1.2.3");
	pthread_t t[THREADS];
	char *text;
	int i;

	assert_non_null(m);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, m), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	metrics__add(m, MC_HEAP_SAMPLES, 7);
	metrics__add(m, MC_CPU_LOST, 2);
	metrics__add(m, MC_HEAP_LOST, 5);
	metrics__add(m, MC_WINDOWS, 11);
	metrics__add(m, MC_WINDOWS_WRITTEN, 12);
	metrics__add(m, MC_WINDOWS_PUSHED, 13);
	metrics__add(m, MC_WINDOWS_FAILED, 14);
	metrics__add(m, MC_WINDOWS_SPOOLED, 15);
	metrics__add(m, MC_WINDOWS_DROPPED, 16);
	metrics__add(m, MC_PUSH_REQUESTS, 17);
	metrics__add(m, MC_PUSH_ERRORS, 18);
	metrics__add(m, MC_SPOOL_UNREADABLE, 19);
	metrics__set(m, MG_SPOOL_BYTES, 1000);
	metrics__set(m, MG_SPOOL_BYTES, 4096);
	metrics__set(m, MG_SPOOL_ENTRIES, 3);
	metrics__set(m, MG_LAST_WINDOW, 1700000000);
	metrics__add(m, MC_UNWIND_FALLBACK, 19);
	metrics__add(m, MC_UNWIND_CUT, 20);
	metrics__add(m, MC_UNWIND_KERNEL_MEMORY, 21);
	metrics__set(m, MG_UNWIND_TABLES, 22);
	metrics__set(m, MG_UNWIND_BYTES, 2 << 20);
	text = render(m, NULL);

	assert_family(text, "bpprof_samples_total", "counter");
	assert_family(text, "bpprof_samples_lost_total", "counter");
	assert_family(text, "bpprof_windows_total", "counter");
	assert_family(text, "bpprof_windows_written_total", "counter");
	assert_family(text, "bpprof_windows_pushed_total", "counter");
	assert_family(text, "bpprof_windows_failed_total", "counter");
	assert_family(text, "bpprof_windows_spooled_total", "counter");
	assert_family(text, "bpprof_windows_dropped_total", "counter");
	assert_family(text, "bpprof_push_requests_total", "counter");
	assert_family(text, "bpprof_push_errors_total", "counter");
	assert_family(text, "bpprof_push_bytes_total", "counter");
	assert_family(text, "bpprof_spool_unreadable_total", "counter");
	assert_family(text, "bpprof_push_duration_seconds", "histogram");
	assert_family(text, "bpprof_spool_bytes", "gauge");
	assert_family(text, "bpprof_spool_entries", "gauge");
	assert_family(text, "bpprof_last_window_timestamp_seconds", "gauge");
	assert_family(text, "process_resident_memory_bytes", "gauge");
	assert_family(text, "process_start_time_seconds", "gauge");
	assert_family(text, "bpprof_build_info", "gauge");
	assert_family(text, "bpprof_unwind_fallback_total", "counter");
	assert_family(text, "bpprof_unwind_cut_total", "counter");
	assert_family(text, "bpprof_unwind_limit_hits_total", "counter");
	assert_family(text, "bpprof_unwind_tables", "gauge");
	assert_family(text, "bpprof_unwind_kernel_bytes", "gauge");
	/* every line is a comment or a sample: 24 families, 20 + 5 + 15 + 3 samples */
	assert_int_equal(lines_with(text, "# HELP "), 24);
	assert_int_equal(lines_with(text, "# TYPE "), 24);

	assert_true(value_of(text, "bpprof_samples_total{type=\"cpu\"}") == THREADS * ADDS);
	assert_true(value_of(text, "bpprof_samples_total{type=\"heap\"}") == 7);
	assert_true(value_of(text, "bpprof_samples_lost_total{type=\"cpu\"}") == 2);
	assert_true(value_of(text, "bpprof_samples_lost_total{type=\"heap\"}") == 5);
	assert_true(value_of(text, "bpprof_windows_total") == 11);
	assert_true(value_of(text, "bpprof_windows_written_total") == 12);
	assert_true(value_of(text, "bpprof_windows_pushed_total") == 13);
	assert_true(value_of(text, "bpprof_windows_failed_total") == 14);
	assert_true(value_of(text, "bpprof_windows_spooled_total") == 15);
	assert_true(value_of(text, "bpprof_windows_dropped_total") == 16);
	assert_true(value_of(text, "bpprof_push_requests_total") == 17);
	assert_true(value_of(text, "bpprof_push_errors_total") == 18);
	assert_true(value_of(text, "bpprof_spool_unreadable_total") == 19);
	assert_true(value_of(text, "bpprof_push_bytes_total") == 3.0 * THREADS * ADDS);
	assert_true(value_of(text, "bpprof_spool_bytes") == 4096);
	assert_true(value_of(text, "bpprof_spool_entries") == 3);
	assert_true(value_of(text, "bpprof_last_window_timestamp_seconds") == 1700000000);
	assert_true(value_of(text, "bpprof_unwind_fallback_total") == 19);
	assert_true(value_of(text, "bpprof_unwind_cut_total") == 20);
	assert_true(value_of(text, "bpprof_unwind_limit_hits_total{type=\"kernel_memory\"}") == 21);
	assert_true(value_of(text, "bpprof_unwind_limit_hits_total{type=\"file_rows\"}") == 0);
	assert_true(value_of(text, "bpprof_unwind_tables") == 22);
	assert_true(value_of(text, "bpprof_unwind_kernel_bytes") == 2 << 20);
	assert_true(value_of(text, "bpprof_push_duration_seconds_count") == THREADS * ADDS);
	assert_true(value_of(text, "bpprof_push_duration_seconds_bucket{le=\"0.01\"}") == 0);
	assert_true(value_of(text, "bpprof_push_duration_seconds_bucket{le=\"0.025\"}") == THREADS * ADDS);
	/* 400000 × 0.02 s, exact in integer nanoseconds */
	assert_non_null(strstr(text, "\nbpprof_push_duration_seconds_sum 8000.000000000\n"));
	assert_non_null(strstr(text, "\nbpprof_build_info{version=\"1.2.3\"} 1\n"));
	assert_true(value_of(text, "process_resident_memory_bytes") > 0);
	assert_true(value_of(text, "process_start_time_seconds") > 1e9);
	assert_int_equal(text[strlen(text) - 1], '\n');
	free(text);
	metrics__free(m);
}

static void test_histogram(void **state)
{
	static const struct { const char *le; double want; } b[] = {
		{ "0.005", 2 }, { "0.01", 2 }, { "0.025", 2 }, { "0.05", 2 }, { "0.1", 2 },
		{ "0.25", 2 }, { "0.5", 3 }, { "1", 3 }, { "2.5", 4 }, { "5", 4 },
		{ "10", 5 }, { "30", 5 }, { "+Inf", 6 },
	};
	struct metrics *m = metrics__new("v");
	char series[128], *text;
	const char *prev, *p;
	size_t i;

	metrics__observe_push(m, 0.001);
	metrics__observe_push(m, 0.005);	/* le is inclusive */
	metrics__observe_push(m, 0.3);
	metrics__observe_push(m, 2.5);
	metrics__observe_push(m, 7);
	metrics__observe_push(m, 100);
	metrics__observe_push(NULL, 1);
	text = render(m, NULL);
	prev = text;
	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		snprintf(series, sizeof(series), "bpprof_push_duration_seconds_bucket{le=\"%s\"}", b[i].le);
		assert_true(value_of(text, series) == b[i].want);
		p = strstr(text, series);
		assert_true(p > prev);	/* in increasing le order */
		prev = p;
	}
	assert_true(value_of(text, "bpprof_push_duration_seconds_count") == 6);
	assert_non_null(strstr(text, "\nbpprof_push_duration_seconds_sum 109.806000000\n"));
	/* the count and sum follow the buckets */
	assert_true(strstr(text, "bpprof_push_duration_seconds_sum") > prev);
	free(text);

	/* nonsense observations land in the first bucket and add nothing */
	metrics__free(m);
	m = metrics__new(NULL);
	metrics__observe_push(m, -1);
	metrics__observe_push(m, 0.0 / 0.0);
	text = render(m, NULL);
	assert_true(value_of(text, "bpprof_push_duration_seconds_bucket{le=\"0.005\"}") == 2);
	assert_non_null(strstr(text, "\nbpprof_push_duration_seconds_sum 0.000000000\n"));
	assert_non_null(strstr(text, "\nbpprof_build_info{version=\"\"} 1\n"));
	free(text);
	metrics__free(m);
}

static void test_null_safe(void **state)
{
	struct buf b = BUF_INIT(0);
	struct errmsg e = { "" };

	metrics__add(NULL, MC_WINDOWS, 1);
	metrics__set(NULL, MG_SPOOL_BYTES, 1);
	metrics__observe_push(NULL, 1);
	metrics__free(NULL);
	assert_int_equal(metrics__port(NULL), 0);
	assert_int_equal(metrics__render(NULL, NULL, &b), -EINVAL);
	assert_int_equal(metrics__serve(NULL, "0", &e), -EINVAL);
	assert_int_equal(metrics__serve(NULL, "0", NULL), -EINVAL);
}

static void test_version_escaped(void **state)
{
	struct metrics *m = metrics__new("a\"b\\c\nd");
	char *text = render(m, NULL);

	assert_non_null(strstr(text, "\nbpprof_build_info{version=\"a\\\"b\\\\c\\nd\"} 1\n"));
	free(text);
	metrics__free(m);
}

static void test_render_limit(void **state)
{
	struct metrics *m = metrics__new("v");
	struct buf b = BUF_INIT(100);

	assert_int_equal(metrics__render(m, NULL, &b), -E2BIG);
	buf__free(&b);
	metrics__free(m);
}

static char fixture[64];

static int make_fixture(void **state)
{
	snprintf(fixture, sizeof(fixture), "/tmp/bpprof-metrics-XXXXXX");
	return mkdtemp(fixture) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int remove_fixture(void **state)
{
	return nftw(fixture, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixture, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_procfs_fixture(void **state)
{
	struct metrics *m = metrics__new("v");
	char path[PATH_MAX], stat[512], *text;
	double want = 1600000000.0 + 1234.0 / (double)sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "%s/self", fixture);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file("self/statm", "5000 250 30 10 0 100 0\n");
	/* comm with spaces and a ')' inside; field 22 (starttime) is 1234 */
	snprintf(stat, sizeof(stat), "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 "
		 "1234 10000 250 18446744073709551615\n");
	write_file("self/stat", stat);
	write_file("stat", "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 1 2 3\nctxt 99\nbtime 1600000000\n"
		   "processes 7\n");
	text = render(m, fixture);
	assert_true(value_of(text, "process_resident_memory_bytes") == 250.0 * (double)sysconf(_SC_PAGESIZE));
	assert_true(value_of(text, "process_start_time_seconds") > want - 0.01);
	assert_true(value_of(text, "process_start_time_seconds") < want + 0.01);
	free(text);

	/* Broken files: no RSS series at all, start time from metrics__new. */
	write_file("self/statm", "5000\n");
	write_file("self/stat", "42 (a) S 1\n");
	text = render(m, fixture);
	assert_null(strstr(text, "process_resident_memory_bytes"));
	assert_true(value_of(text, "process_start_time_seconds") > 1e9);
	free(text);

	/* No procfs at all: the rest still renders. */
	snprintf(path, sizeof(path), "%s/missing", fixture);
	text = render(m, path);
	assert_null(strstr(text, "process_resident_memory_bytes"));
	assert_true(value_of(text, "bpprof_windows_total") == 0);
	free(text);
	metrics__free(m);
}

/* --- HTTP --- */

struct reply {
	long status;
	char type[128];
	struct buf body;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	return buf__append(&r->body, p, size * n) ? 0 : size * n;
}

/* method: "GET", "HEAD" or "POST"; returns curl's result. */
static CURLcode fetch(const char *url, const char *method, struct reply *r)
{
	CURL *c = curl_easy_init();
	char *type = NULL;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	r->body = BUF_INIT(1u << 20);
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=1");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
		snprintf(r->type, sizeof(r->type), "%s", type);
	curl_easy_cleanup(c);
	return rc;
}

static void expect(const char *host, unsigned port, const char *path, const char *method, long status)
{
	char url[256];
	struct reply r;

	snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
	assert_int_equal(fetch(url, method, &r), CURLE_OK);
	assert_int_equal(r.status, status);
	if (status == 200) {
		assert_string_equal(r.type, "text/plain; version=0.0.4; charset=utf-8");
		if (strcmp(method, "GET") == 0) {
			assert_int_equal(buf__append(&r.body, "", 1), 0);
			assert_non_null(strstr((char *)r.body.data, "# TYPE bpprof_windows_total counter\n"));
			assert_true(value_of((char *)r.body.data, "bpprof_windows_total") == 3);
		} else {
			assert_int_equal(r.body.len, 0);
		}
	}
	buf__free(&r.body);
}

static void test_serve(void **state)
{
	struct metrics *m = metrics__new("v");
	struct errmsg e = { "" };
	unsigned port;

	assert_int_equal(metrics__port(m), 0);
	metrics__add(m, MC_WINDOWS, 3);
	assert_int_equal(metrics__serve(m, "127.0.0.1:0", &e), 0);
	port = metrics__port(m);
	assert_true(port > 0);
	expect("127.0.0.1", port, "/metrics", "GET", 200);
	expect("127.0.0.1", port, "/metrics?x=1", "GET", 200);
	expect("127.0.0.1", port, "/metrics", "HEAD", 200);
	expect("127.0.0.1", port, "/other", "GET", 404);
	expect("127.0.0.1", port, "/", "GET", 404);
	expect("127.0.0.1", port, "/metrics/", "GET", 404);
	expect("127.0.0.1", port, "/metrics", "POST", 405);
	/* still serving after the refusals */
	expect("127.0.0.1", port, "/metrics", "GET", 200);
	assert_int_equal(metrics__serve(m, "127.0.0.1:0", &e), -EALREADY);
	metrics__free(m);
}

/* Idle connections (a slow or hostile client, scrapers that keep theirs
 * open) once took all 16 slots for 10 s: /metrics must still answer. */
static void test_idle_connections(void **state)
{
	struct metrics *m = metrics__new("v");
	struct errmsg e = { "" };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timespec t0, t1;
	int idle[64];
	char url[128];
	struct reply r;
	CURL *c;
	size_t i;

	metrics__add(m, MC_WINDOWS, 3);
	assert_int_equal(metrics__serve(m, "127.0.0.1:0", &e), 0);
	sa.sin_port = htons((uint16_t)metrics__port(m));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 64; i++) {
		idle[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(idle[i] >= 0);
		assert_int_equal(connect(idle[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
		if (i % 2)	/* half of them start a request and stall */
			assert_true(write(idle[i], "GET /metrics HTTP/1.1\r\n", 23) == 23);
	}
	usleep(100 * 1000);	/* the server has taken them all */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", metrics__port(m));
	memset(&r, 0, sizeof(r));
	r.body = BUF_INIT(1u << 20);
	c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 3L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	assert_int_equal(r.status, 200);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	curl_easy_cleanup(c);
	buf__free(&r.body);
	for (i = 0; i < 64; i++)
		close(idle[i]);
	metrics__free(m);
}

static double scrape(unsigned port, const char *series)
{
	char url[128];
	struct reply r;
	double v;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	assert_int_equal(fetch(url, "GET", &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(buf__append(&r.body, "", 1), 0);
	v = value_of((char *)r.body.data, series);
	/* buckets and count come from one pass, so they always agree */
	assert_true(value_of((char *)r.body.data, "bpprof_push_duration_seconds_bucket{le=\"+Inf\"}") ==
		    value_of((char *)r.body.data, "bpprof_push_duration_seconds_count"));
	buf__free(&r.body);
	return v;
}

/* Scrapes from the server thread while four threads count. */
static void test_scrape_while_adding(void **state)
{
	const char *cpu = "bpprof_samples_total{type=\"cpu\"}";
	struct metrics *m = metrics__new("v");
	struct errmsg e = { "" };
	pthread_t t[THREADS];
	double prev = 0, v;
	int i;

	assert_int_equal(metrics__serve(m, "127.0.0.1:0", &e), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, m), 0);
	for (i = 0; i < 20; i++) {
		v = scrape(metrics__port(m), cpu);
		assert_true(v >= prev);
		prev = v;
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_true(scrape(metrics__port(m), cpu) == THREADS * ADDS);
	metrics__free(m);
}

/* The listening socket of this process on port: its bound address. */
static int listening_addr(unsigned port, struct sockaddr_storage *ss)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = 0;

	assert_non_null(d);
	while (!found && (de = readdir(d))) {
		int fd = (int)strtol(de->d_name, NULL, 10), acc = 0;
		socklen_t len = sizeof(*ss), alen = sizeof(acc);

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) || !acc ||
		    getsockname(fd, (struct sockaddr *)ss, &len))
			continue;
		if ((ss->ss_family == AF_INET && ntohs(((struct sockaddr_in *)ss)->sin_port) == port) ||
		    (ss->ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)ss)->sin6_port) == port))
			found = 1;
	}
	closedir(d);
	return found;
}

static void expect_loopback(const char *addr)
{
	struct metrics *m = metrics__new("v");
	struct errmsg e = { "" };
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	metrics__add(m, MC_WINDOWS, 3);
	assert_int_equal(metrics__serve(m, addr, &e), 0);
	assert_true(listening_addr(metrics__port(m), &ss));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
	expect("127.0.0.1", metrics__port(m), "/metrics", "GET", 200);
	metrics__free(m);
	/* metrics__free closed the socket */
	assert_false(listening_addr(ntohs(in->sin_port), &ss));
}

static void test_port_forms_loopback(void **state)
{
	expect_loopback("0");
	expect_loopback(":0");
	expect_loopback("localhost:0");
}

static void test_ipv6(void **state)
{
	struct metrics *m = metrics__new("v");
	struct errmsg e = { "" };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 probe = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int ok = fd >= 0 && bind(fd, (struct sockaddr *)&probe, sizeof(probe)) == 0;

	if (fd >= 0)
		close(fd);
	if (!ok) {
		metrics__free(m);
		skip();	/* no IPv6 loopback here */
	}
	metrics__add(m, MC_WINDOWS, 3);
	assert_int_equal(metrics__serve(m, "[::1]:0", &e), 0);
	expect("[::1]", metrics__port(m), "/metrics", "GET", 200);
	metrics__free(m);
}

static void test_port_in_use(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct metrics *m = metrics__new("v");
	struct errmsg e = { "" };
	char addr[64], want[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));
	snprintf(want, sizeof(want), "metrics address 127.0.0.1:%u: Address already in use",
		 ntohs(a.sin_port));
	assert_int_equal(metrics__serve(m, addr, &e), -EADDRINUSE);
	assert_string_equal(e.text, want);
	assert_int_equal(metrics__port(m), 0);

	/* the bare port means the same address */
	snprintf(addr, sizeof(addr), "%u", ntohs(a.sin_port));
	memset(&e, 0, sizeof(e));
	assert_int_equal(metrics__serve(m, addr, &e), -EADDRINUSE);
	assert_string_equal(e.text, want);
	/* and the failure left it able to serve elsewhere */
	assert_int_equal(metrics__serve(m, "127.0.0.1:0", &e), 0);
	close(fd);
	metrics__free(m);
}

static void expect_bad(const char *addr, const char *want)
{
	struct metrics *m = metrics__new("v");
	struct errmsg e = { "" };

	assert_int_equal(metrics__serve(m, addr, &e), -EINVAL);
	if (strcmp(e.text, want) != 0)
		fail_msg("'%s': got \"%s\", want \"%s\"", addr, e.text, want);
	assert_int_equal(metrics__port(m), 0);
	metrics__free(m);
}

static void test_bad_addresses(void **state)
{
	expect_bad("abc", "metrics address 'abc': port 'abc' is not a number in 0..65535");
	expect_bad("1.2.3.4:99999", "metrics address '1.2.3.4:99999': port '99999' is not a number in 0..65535");
	expect_bad("example.com:80", "metrics address 'example.com:80': expected HOST:PORT with a numeric host");
	expect_bad("", "metrics address '': port '' is not a number in 0..65535");
	expect_bad("127.0.0.1:", "metrics address '127.0.0.1:': port '' is not a number in 0..65535");
	expect_bad("127.0.0.1:+80", "metrics address '127.0.0.1:+80': port '+80' is not a number in 0..65535");
	expect_bad("127.0.0.1:-1", "metrics address '127.0.0.1:-1': port '-1' is not a number in 0..65535");
	expect_bad("127.0.0.1:8 0", "metrics address '127.0.0.1:8 0': port '8 0' is not a number in 0..65535");
	expect_bad("1.2.3:80", "metrics address '1.2.3:80': expected HOST:PORT with a numeric host");
	expect_bad("::1:80", "metrics address '::1:80': expected HOST:PORT, [IPV6]:PORT or PORT");
	expect_bad("[::1]80", "metrics address '[::1]80': expected HOST:PORT, [IPV6]:PORT or PORT");
	expect_bad("[::1:80", "metrics address '[::1:80': expected HOST:PORT, [IPV6]:PORT or PORT");
	expect_bad("[127.0.0.1]:80", "metrics address '[127.0.0.1]:80': expected HOST:PORT with a numeric host");
	expect_bad("[]:80", "metrics address '[]:80': expected HOST:PORT with a numeric host");
	expect_bad("[::1]:x", "metrics address '[::1]:x': port 'x' is not a number in 0..65535");
	expect_bad("0123456789012345678901234567890123456789012345678901234567890123456789:80",
		   "metrics address '0123456789012345678901234567890123456789012345678901234567890123456789:80': "
		   "expected HOST:PORT with a numeric host");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_totals),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_null_safe),
		cmocka_unit_test(test_version_escaped),
		cmocka_unit_test(test_render_limit),
		cmocka_unit_test_setup_teardown(test_procfs_fixture, make_fixture, remove_fixture),
		cmocka_unit_test(test_serve),
		cmocka_unit_test(test_idle_connections),
		cmocka_unit_test(test_scrape_while_adding),
		cmocka_unit_test(test_port_forms_loopback),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_bad_addresses),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
