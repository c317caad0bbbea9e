/* Self-metrics: counters the daemon updates from any thread, served as
 * Prometheus text at /metrics by libmicrohttpd (its own thread). */
#ifndef BPPROF_AGENT_METRICS_H
#define BPPROF_AGENT_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/errmsg.h"

enum metric_counter {
	MC_CPU_SAMPLES,		/* bpprof_samples_total{type="cpu"} */
	MC_CPU_LOST,		/* bpprof_samples_lost_total{type="cpu"} */
	MC_HEAP_SAMPLES,	/* bpprof_samples_total{type="heap"}: sampled allocations */
	MC_HEAP_LOST,		/* bpprof_samples_lost_total{type="heap"} */
	MC_OFFCPU_SAMPLES,	/* bpprof_samples_total{type="offcpu"}: waits recorded */
	MC_OFFCPU_LOST,		/* bpprof_samples_lost_total{type="offcpu"} */
	MC_WINDOWS,		/* bpprof_windows_total: windows captured */
	MC_WINDOWS_WRITTEN,	/* bpprof_windows_written_total: files in --output-dir */
	MC_WINDOWS_PUSHED,	/* bpprof_windows_pushed_total: accepted by the endpoint */
	MC_WINDOWS_FAILED,	/* bpprof_windows_failed_total: refused for good, or not written */
	MC_WINDOWS_SPOOLED,	/* bpprof_windows_spooled_total: put in the spool */
	MC_WINDOWS_DROPPED,	/* bpprof_windows_dropped_total: lost (spool full, no spool) */
	MC_PUSH_REQUESTS,	/* bpprof_push_requests_total */
	MC_PUSH_ERRORS,		/* bpprof_push_errors_total: requests that failed */
	MC_PUSH_BYTES,		/* bpprof_push_bytes_total: request bodies */
	MC_SPOOL_UNREADABLE,	/* bpprof_spool_unreadable_total: entries found corrupt */
	MC_UNWIND_FALLBACK,	/* bpprof_unwind_fallback_total: stacks walked with frame
				 * pointers (in part), tables not loaded yet */
	MC_UNWIND_CUT,		/* bpprof_unwind_cut_total: stacks ended at a frame no rule
				 * unwinds */
	MC_UNWIND_FILE_ROWS,	/* bpprof_unwind_limit_hits_total{type="file_rows"} */
	MC_UNWIND_KERNEL_MEMORY,	/* ...{type="kernel_memory"} */
	MC_UNWIND_RULES,	/* ...{type="rules"} */
	MC_UNWIND_PROCESSES,	/* ...{type="processes"} */
	MC_UNWIND_MAPPINGS,	/* ...{type="mappings"} */
	MC__COUNT
};

enum metric_gauge {
	MG_SPOOL_BYTES,		/* bpprof_spool_bytes */
	MG_SPOOL_ENTRIES,	/* bpprof_spool_entries */
	MG_LAST_WINDOW,		/* bpprof_last_window_timestamp_seconds */
	MG_UNWIND_TABLES,	/* bpprof_unwind_tables: files with a table in the kernel */
	MG_UNWIND_BYTES,	/* bpprof_unwind_kernel_bytes: the tables' BPF maps */
	MG__COUNT
};

struct metrics;

/* NULL with errno set. */
struct metrics *metrics__new(const char *version);
/* Stops the server first; NULL-safe. */
void metrics__free(struct metrics *m);

/* Thread-safe (atomics); NULL-safe, so callers need not check. */
void metrics__add(struct metrics *m, enum metric_counter c, uint64_t n);
void metrics__set(struct metrics *m, enum metric_gauge g, uint64_t v);
/* One push request's latency: bpprof_push_duration_seconds histogram. */
void metrics__observe_push(struct metrics *m, double seconds);

/* Prometheus text format 0.0.4: every metric above with HELP and TYPE,
 * plus process_resident_memory_bytes (from procfs, "/proc" when NULL),
 * process_start_time_seconds and bpprof_build_info{version}. */
int metrics__render(struct metrics *m, const char *procfs, struct buf *out);

/* Serve GET /metrics on addr: "HOST:PORT", "[V6]:PORT", or "PORT" /
 * ":PORT" (127.0.0.1). Anything else 404; only GET and HEAD. Port 0 picks
 * one: metrics__port says which. 0, or a negative errno with e set. */
int metrics__serve(struct metrics *m, const char *addr, struct errmsg *e);
unsigned metrics__port(const struct metrics *m);

#endif
