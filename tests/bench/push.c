/* What one daemon window costs from its profile being handed to on_window
 * until the endpoint accepts it: the capture thread's part and the sender
 * thread's (encode, compress, send), as this process's CPU time (every
 * thread; the receiver is another process) and as wall time to the report;
 * and the capture thread's own CPU time in on_window (what sampling waits).
 * Each window is a fresh copy of FILE's profile, decoded before the clock
 * starts, as the capture would have built it; it goes through the sender
 * (export/sender.h) exactly as daemon.c's on_window sends it.
 *   push URL FILE [WINDOWS]      prints key=value lines (medians)
 * Built with -DBENCH_BYTES_HANDOFF it takes the path before the decoded
 * hand-off (commit 5a9c83e: on_window encodes plain protobuf, the sender
 * decodes and re-encodes gzip), to compare the two in one session. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "fileio/fileio.h"
#include "export/sender.h"
#include "pprof/codec.h"

#define MAX_WINDOWS 200
/* After the report the sender still frees the window: give it this long
 * (idle, so it costs no CPU time) before the clock stops. */
#define SETTLE_NS 30000000L

struct state {
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned reports;
	int outcome;
	char error[256];
};

static void on_report(void *ctx, const struct sender_report *r)
{
	struct state *st = ctx;

	pthread_mutex_lock(&st->lock);
	st->outcome = r->outcome;
	snprintf(st->error, sizeof(st->error), "%s", r->error);
	st->reports++;
	pthread_cond_signal(&st->done);
	pthread_mutex_unlock(&st->lock);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double thread_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#ifdef BENCH_BYTES_HANDOFF
static int to_buf(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* daemon.c's on_window at 5a9c83e, push only: encode plain, submit the
 * bytes; record.c then freed the profile. */
static int hand_over(struct sender *s, struct pprof_profile *p, struct errmsg *e)
{
	struct buf pb = BUF_INIT(0);
	struct compress_writer *w = compress_writer__new(COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT,
							 to_buf, &pb);
	int err = w ? pprof__encode(p, w, e) : -ENOMEM;

	if (!err)
		err = compress_writer__finish(w);
	compress_writer__free(w);
	if (!err)
		err = sender__submit(s, pb.data, pb.len, "cpu", "window");
	else
		buf__free(&pb);
	pprof__free(p);
	return err;
}
#else
/* daemon.c's on_window, push only: the size for its log line, then the
 * profile itself to the sender. */
static int hand_over(struct sender *s, struct pprof_profile *p, struct errmsg *e)
{
	char what[64];

	snprintf(what, sizeof(what), "window, %zu bytes", pprof__encoded_size(p));
	return sender__submit(s, p, "cpu", what);
}
#endif

int main(int argc, char **argv)
{
	struct state st = { .lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };
	struct sender_opts so = { .on_report = on_report, .ctx = &st };
	struct timespec settle = { 0, SETTLE_NS };
	double cpu[MAX_WINDOWS], wall[MAX_WINDOWS], capture[MAX_WINDOWS];
	struct buf file = BUF_INIT(0);
	unsigned n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 21, i;
	struct sender *s;
	struct errmsg e;
	size_t samples = 0;

	if (argc < 3 || !n || n > MAX_WINDOWS) {
		fprintf(stderr, "usage: push URL FILE [WINDOWS <= %u]\n", MAX_WINDOWS);
		return 2;
	}
	if (fileio__read_all(argv[2], &file, &e)) {
		fprintf(stderr, "push: %s\n", e.text);
		return 1;
	}
	so.push.url = argv[1];
	so.push.api = PUSH_API_INGEST;
	so.push.app = "bench";
	s = sender__new(&so, &e);
	if (!s) {
		fprintf(stderr, "push: %s\n", e.text);
		return 1;
	}
	/* one more than measured: the first opens the connection */
	for (i = 0; i <= n; i++) {
		struct pprof_profile *p;
		double c0, w0, w1, t0, t1;

		if (pprof__decode_any(file.data, file.len, &p, &e)) {
			fprintf(stderr, "push: %s: %s\n", argv[2], e.text);
			return 1;
		}
		samples = p->pb->n_sample;
		c0 = cpu_seconds();
		w0 = wall_seconds();
		t0 = thread_seconds();
		if (hand_over(s, p, &e)) {
			fprintf(stderr, "push: hand-over failed\n");
			return 1;
		}
		t1 = thread_seconds();
		pthread_mutex_lock(&st.lock);
		while (st.reports <= i)
			pthread_cond_wait(&st.done, &st.lock);
		pthread_mutex_unlock(&st.lock);
		w1 = wall_seconds();
		if (st.outcome != SENT_PUSHED) {
			fprintf(stderr, "push: window %u not pushed: %s\n", i, st.error);
			return 1;
		}
		nanosleep(&settle, NULL);
		if (i) {
			cpu[i - 1] = cpu_seconds() - c0;
			wall[i - 1] = w1 - w0;
			capture[i - 1] = t1 - t0;
		}
	}
	sender__free(s);
	buf__free(&file);
	printf("samples=%zu windows=%u cpu_ms=%.2f wall_ms=%.2f capture_ms=%.3f\n", samples, n,
	       median(cpu, n) * 1e3, median(wall, n) * 1e3, median(capture, n) * 1e3);
	return 0;
}
