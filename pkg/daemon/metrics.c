/* Self-metrics: atomic counters, gauges and the push-latency histogram,
 * their Prometheus text rendering, and the libmicrohttpd server for it. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "daemon/mhd_dl.h"
#include "base/log.h"
#include "base/parse.h"

#define METRICS_RENDER_LIMIT (64u << 10)
/* A scrape takes milliseconds, so connections are many and short-lived:
 * idle ones (a stalled or hostile client, a scraper's keep-alive) cannot
 * take every slot, and one is closed after METRICS_CONN_TIMEOUT idle
 * seconds. Each costs at most METRICS_CONN_MEMORY of buffers. */
#define METRICS_CONN_LIMIT 256u
#define METRICS_CONN_TIMEOUT 5u	/* seconds */
#define METRICS_CONN_MEMORY (16u << 10)
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const double push_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define PUSH_BUCKETS (sizeof(push_bounds) / sizeof(push_bounds[0]))

struct metrics {
	_Atomic uint64_t counters[MC__COUNT];
	_Atomic uint64_t gauges[MG__COUNT];
	_Atomic uint64_t push_hist[PUSH_BUCKETS + 1];	/* per bucket, last is +Inf */
	_Atomic uint64_t push_sum_ns;
	char *version;		/* escaped for a label value */
	time_t created;		/* start time when procfs cannot say */
	struct MHD_Daemon *httpd;
	unsigned port;
};

/* In render order: a series whose help is NULL belongs to the family above. */
struct series {
	const char *name, *label, *help;
	int idx;
};

static const struct series counter_series[MC__COUNT] = {
	{ "bpprof_samples_total", "cpu", "Samples read from the kernel, by profile type.", MC_CPU_SAMPLES },
	{ "bpprof_samples_total", "heap", NULL, MC_HEAP_SAMPLES },
	{ "bpprof_samples_total", "offcpu", NULL, MC_OFFCPU_SAMPLES },
	{ "bpprof_samples_lost_total", "cpu", "Samples lost before reaching user space, by profile type.", MC_CPU_LOST },
	{ "bpprof_samples_lost_total", "heap", NULL, MC_HEAP_LOST },
	{ "bpprof_samples_lost_total", "offcpu", NULL, MC_OFFCPU_LOST },
	{ "bpprof_windows_total", NULL, "Capture windows completed.", MC_WINDOWS },
	{ "bpprof_windows_written_total", NULL, "Profiles written to the output directory.", MC_WINDOWS_WRITTEN },
	{ "bpprof_windows_pushed_total", NULL, "Profiles accepted by the push endpoint.", MC_WINDOWS_PUSHED },
	{ "bpprof_windows_failed_total", NULL, "Profiles refused for good or not written.", MC_WINDOWS_FAILED },
	{ "bpprof_windows_spooled_total", NULL, "Profiles put in the disk spool for a later retry.", MC_WINDOWS_SPOOLED },
	{ "bpprof_windows_dropped_total", NULL, "Profiles lost: spool full or no spool.", MC_WINDOWS_DROPPED },
	{ "bpprof_push_requests_total", NULL, "HTTP push requests sent.", MC_PUSH_REQUESTS },
	{ "bpprof_push_errors_total", NULL, "HTTP push requests that failed.", MC_PUSH_ERRORS },
	{ "bpprof_push_bytes_total", NULL, "Request body bytes sent by push requests.", MC_PUSH_BYTES },
	{ "bpprof_spool_unreadable_total", NULL, "Spool entries found corrupt or gone, removed.", MC_SPOOL_UNREADABLE },
	{ "bpprof_unwind_fallback_total", NULL, "Stacks walked with frame pointers (in part) "
	  "because their process's or a file's unwind tables were not loaded yet.", MC_UNWIND_FALLBACK },
	{ "bpprof_unwind_cut_total", NULL, "Stacks that ended at a frame no unwind rule covers "
	  "(kept, flagged truncated).", MC_UNWIND_CUT },
	{ "bpprof_unwind_limit_hits_total", "file_rows", "Files, processes or mappings walked with "
	  "frame pointers because an unwind table limit was hit, by limit.", MC_UNWIND_FILE_ROWS },
	{ "bpprof_unwind_limit_hits_total", "kernel_memory", NULL, MC_UNWIND_KERNEL_MEMORY },
	{ "bpprof_unwind_limit_hits_total", "rules", NULL, MC_UNWIND_RULES },
	{ "bpprof_unwind_limit_hits_total", "processes", NULL, MC_UNWIND_PROCESSES },
	{ "bpprof_unwind_limit_hits_total", "mappings", NULL, MC_UNWIND_MAPPINGS },
};

static const struct series gauge_series[MG__COUNT] = {
	{ "bpprof_spool_bytes", NULL, "Bytes held in the disk spool.", MG_SPOOL_BYTES },
	{ "bpprof_spool_entries", NULL, "Profiles held in the disk spool.", MG_SPOOL_ENTRIES },
	{ "bpprof_last_window_timestamp_seconds", NULL, "Unix time the last capture window ended.", MG_LAST_WINDOW },
	{ "bpprof_unwind_tables", NULL, "Files whose unwind tables are in the kernel.", MG_UNWIND_TABLES },
	{ "bpprof_unwind_kernel_bytes", NULL, "Kernel memory of the unwind tables' BPF maps.", MG_UNWIND_BYTES },
};

struct metrics *metrics__new(const char *version)
{
	struct metrics *m = calloc(1, sizeof(*m));
	const char *s = version ? version : "";
	char *d;

	if (!m)
		goto err_alloc;
	/* Worst case every byte doubles: \\, \" and \n are the escapes. */
	m->version = d = malloc(2 * strlen(s) + 1);
	if (!d)
		goto err_version;
	for (; *s; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			*d++ = '\\';
		*d++ = *s == '\n' ? 'n' : *s;
	}
	*d = '\0';
	m->created = time(NULL);
	return m;

err_version:
	free(m);
err_alloc:
	errno = ENOMEM;
	return NULL;
}

void metrics__free(struct metrics *m)
{
	if (!m)
		return;
	if (m->httpd)
		MHD_stop_daemon(m->httpd);	/* joins its thread, closes the socket */
	free(m->version);
	free(m);
}

void metrics__add(struct metrics *m, enum metric_counter c, uint64_t n)
{
	if (m && (unsigned)c < MC__COUNT)
		atomic_fetch_add_explicit(&m->counters[c], n, memory_order_relaxed);
}

void metrics__set(struct metrics *m, enum metric_gauge g, uint64_t v)
{
	if (m && (unsigned)g < MG__COUNT)
		atomic_store_explicit(&m->gauges[g], v, memory_order_relaxed);
}

void metrics__observe_push(struct metrics *m, double seconds)
{
	size_t i = 0;

	if (!m)
		return;
	if (!(seconds >= 0))	/* NaN too */
		seconds = 0;
	while (i < PUSH_BUCKETS && seconds > push_bounds[i])
		i++;
	atomic_fetch_add_explicit(&m->push_hist[i], 1, memory_order_relaxed);
	/* Clamped so the nanosecond sum cannot overflow on a bogus value. */
	atomic_fetch_add_explicit(&m->push_sum_ns, (uint64_t)llround(fmin(seconds, 1e6) * 1e9),
				  memory_order_relaxed);
}

/* The first line of procfs/name that starts with prefix: malloc'd or NULL. */
static char *procfs__line(const char *procfs, const char *name, const char *prefix)
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", procfs, name);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0)
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			goto out;
	free(line);
	line = NULL;
out:
	fclose(f);
	return line;
}

/* statm's second field: resident pages. */
static int procfs__rss(const char *procfs, uint64_t *bytes)
{
	char *line = procfs__line(procfs, "self/statm", ""), *p, *end;
	unsigned long long pages;

	if (!line)
		return -ENOENT;
	strtoull(line, &p, 10);
	pages = strtoull(p, &end, 10);
	free(line);
	if (end == p)
		return -EINVAL;
	*bytes = pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

/* Field 22 of self/stat (clock ticks after boot) plus btime from stat. */
static int procfs__start(const char *procfs, double *seconds)
{
	char *line = procfs__line(procfs, "self/stat", ""), *btime, *p, *save, *end = NULL;
	unsigned long long ticks = 0, boot;
	int field = 3;

	/* comm (field 2) may hold spaces and parentheses: count after the last ')'. */
	p = line ? strrchr(line, ')') : NULL;
	for (p = p ? strtok_r(p + 1, " ", &save) : NULL; p; p = strtok_r(NULL, " ", &save))
		if (field++ == 22)
			break;
	if (p)
		ticks = strtoull(p, &end, 10);
	free(line);
	if (!p || end == p)
		return -EINVAL;
	btime = procfs__line(procfs, "stat", "btime ");
	if (!btime)
		return -ENOENT;
	boot = strtoull(btime + 6, NULL, 10);
	free(btime);
	if (boot == 0)
		return -EINVAL;
	*seconds = (double)boot + (double)ticks / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

#define EMIT(...) do { if (!err) err = buf__appendf(out, __VA_ARGS__); } while (0)

static int render_series(struct buf *out, const struct series *s, size_t n,
			 _Atomic uint64_t *values, const char *type)
{
	int err = 0;

	for (; n--; s++) {
		uint64_t v = atomic_load_explicit(&values[s->idx], memory_order_relaxed);

		if (s->help)
			EMIT("# HELP %s %s\n# TYPE %s %s\n", s->name, s->help, s->name, type);
		if (s->label)
			EMIT("%s{type=\"%s\"} %" PRIu64 "\n", s->name, s->label, v);
		else
			EMIT("%s %" PRIu64 "\n", s->name, v);
	}
	return err;
}

int metrics__render(struct metrics *m, const char *procfs, struct buf *out)
{
	const char *h = "bpprof_push_duration_seconds";
	uint64_t cum = 0, rss, ns;
	double start;
	size_t i;
	int err;

	if (!m || !out)
		return -EINVAL;
	err = render_series(out, counter_series, MC__COUNT, m->counters, "counter");
	if (!err)
		err = render_series(out, gauge_series, MG__COUNT, m->gauges, "gauge");
	EMIT("# HELP %s Latency of HTTP push requests.\n# TYPE %s histogram\n", h, h);
	for (i = 0; i <= PUSH_BUCKETS; i++) {
		cum += atomic_load_explicit(&m->push_hist[i], memory_order_relaxed);
		if (i < PUSH_BUCKETS)
			EMIT("%s_bucket{le=\"%g\"} %" PRIu64 "\n", h, push_bounds[i], cum);
		else
			EMIT("%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", h, cum);
	}
	ns = atomic_load_explicit(&m->push_sum_ns, memory_order_relaxed);
	EMIT("%s_sum %" PRIu64 ".%09" PRIu64 "\n%s_count %" PRIu64 "\n",
	     h, ns / 1000000000, ns % 1000000000, h, cum);

	procfs = procfs ? procfs : "/proc";
	/* Without procfs there is no honest RSS: leave the series out. */
	if (procfs__rss(procfs, &rss) == 0)
		EMIT("# HELP process_resident_memory_bytes Resident memory of this process.\n"
		     "# TYPE process_resident_memory_bytes gauge\n"
		     "process_resident_memory_bytes %" PRIu64 "\n", rss);
	if (procfs__start(procfs, &start))
		start = (double)m->created;
	EMIT("# HELP process_start_time_seconds Unix time this process started.\n"
	     "# TYPE process_start_time_seconds gauge\n"
	     "process_start_time_seconds %.2f\n", start);
	EMIT("# HELP bpprof_build_info Always 1; the version label names the build.\n"
	     "# TYPE bpprof_build_info gauge\n"
	     "bpprof_build_info{version=\"%s\"} 1\n", m->version);
	return err;
}

static enum MHD_Result metrics__reply(struct MHD_Connection *c, unsigned status, struct buf *b)
{
	static char empty[] = "";
	struct MHD_Response *r;
	enum MHD_Result ret;
	void *bytes = NULL;
	size_t len;

	if (b) {
		bytes = buf__take(b, &len);
		r = MHD_create_response_from_buffer(len, bytes, MHD_RESPMEM_MUST_FREE);
	} else {
		r = MHD_create_response_from_buffer(0, empty, MHD_RESPMEM_PERSISTENT);
	}
	if (!r) {
		free(bytes);
		return MHD_NO;
	}
	if (status == MHD_HTTP_OK)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result metrics__answer(void *cls, struct MHD_Connection *c, const char *url,
				       const char *method, const char *version,
				       const char *upload, size_t *upload_size, void **ctx)
{
	struct buf b = BUF_INIT(METRICS_RENDER_LIMIT);

	if (strcmp(url, "/metrics") != 0)
		return metrics__reply(c, MHD_HTTP_NOT_FOUND, NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics__reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL);
	if (metrics__render(cls, NULL, &b) || b.len == 0) {
		buf__free(&b);
		return metrics__reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	}
	return metrics__reply(c, MHD_HTTP_OK, &b);
}

__attribute__((format(printf, 2, 0)))
static void metrics__log(void *cls, const char *fmt, va_list ap)
{
	log__vprintf(LOG_WARN, fmt, ap);
}

/* "HOST:PORT", "[V6]:PORT", "PORT", ":PORT"; name gets HOST:PORT for messages. */
static int metrics__parse_addr(const char *addr, struct sockaddr_storage *ss,
			       char *name, size_t name_size, struct errmsg *e)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	const char *host = addr, *port = addr, *colon = strrchr(addr, ':');
	char text[INET6_ADDRSTRLEN] = "";
	int v6 = addr[0] == '[';
	uint64_t num;

	if (v6) {
		colon = strchr(++host, ']');
		if (!colon || colon[1] != ':')
			goto err_form;
	} else if (colon && colon != strchr(addr, ':')) {
		goto err_form;	/* a bare IPv6 address needs brackets */
	}
	if (colon) {
		if ((size_t)(colon - host) >= sizeof(text))
			goto err_host;
		memcpy(text, host, (size_t)(colon - host));
		port = colon + 1 + v6;
	}
	host = text;
	if (!v6 && (!text[0] || strcmp(text, "localhost") == 0))
		host = "127.0.0.1";
	if (parse__u64n(port, strlen(port), 10, &num) || num > 65535)
		return errmsg__set(e, -EINVAL, "metrics address '%s': port '%s' is not a number in 0..65535",
				   addr, port);
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = v6 ? AF_INET6 : AF_INET;
	if (v6 ? inet_pton(AF_INET6, host, &s6->sin6_addr) != 1 :
		 inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		goto err_host;
	if (v6)
		s6->sin6_port = htons((uint16_t)num);
	else
		s4->sin_port = htons((uint16_t)num);
	snprintf(name, name_size, v6 ? "[%s]:%" PRIu64 : "%s:%" PRIu64, host, num);
	return 0;
err_host:
	return errmsg__set(e, -EINVAL, "metrics address '%s': expected HOST:PORT with a numeric host", addr);
err_form:
	return errmsg__set(e, -EINVAL, "metrics address '%s': expected HOST:PORT, [IPV6]:PORT or PORT", addr);
}

int metrics__serve(struct metrics *m, const char *addr, struct errmsg *e)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char name[INET6_ADDRSTRLEN + 16];
	int fd, one = 1, err;
	const char *why;

	if (!m || !addr)
		return errmsg__set(e, -EINVAL, "metrics address: none given");
	if (m->httpd)
		return errmsg__set(e, -EALREADY, "metrics: already serving on port %u", m->port);
	err = metrics__parse_addr(addr, &ss, name, sizeof(name), e);
	if (err)
		return err;
	why = mhd_dl__missing();
	if (why)
		return errmsg__set(e, -ELIBACC, "metrics address %s: %s", name, why);
	/* Our own socket, so a bind failure reports its real errno. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errmsg__set(e, -errno, "metrics address %s: %s", name, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, ss.ss_family == AF_INET6 ?
		 sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) ||
	    listen(fd, (int)METRICS_CONN_LIMIT) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		err = -errno;
		close(fd);
		return errmsg__set(e, err, "metrics address %s: %s", name, strerror(-err));
	}
	/* epoll (MHD_USE_AUTO), not select: the profiler may hold more than
	 * FD_SETSIZE descriptors. MHD owns fd from here: it closes it on stop
	 * and on failures once it has taken it; closing it again could close a
	 * reused descriptor, so a failed start leaks one fd at worst. */
	m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG,
				    0, NULL, NULL, metrics__answer, m,
				    MHD_OPTION_EXTERNAL_LOGGER, metrics__log, NULL,
				    MHD_OPTION_LISTEN_SOCKET, fd,
				    MHD_OPTION_CONNECTION_LIMIT, METRICS_CONN_LIMIT,
				    MHD_OPTION_CONNECTION_TIMEOUT, METRICS_CONN_TIMEOUT,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
				    MHD_OPTION_END);
	if (!m->httpd)
		return errmsg__set(e, -EIO, "metrics address %s: cannot start the HTTP server", name);
	m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

unsigned metrics__port(const struct metrics *m)
{
	return m ? m->port : 0;
}
