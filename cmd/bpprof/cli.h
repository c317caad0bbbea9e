/* What the commands share: usage errors, flag parsers, the capture and push
 * flags that record, run and push have in common, and config files. */
#ifndef BPPROF_CMD_CLI_H
#define BPPROF_CMD_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "compress/compress.h"
#include "convert/convert.h"
#include "export/push.h"

int cmd_help(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Exit statuses, the same for every command: 0 done; 1 the command ran and
 * failed (bad input, a write or network error); 2 the command line cannot be
 * used as given (unknown flag, bad value, missing argument, unreadable
 * --config): nothing was done. */
#define EXIT_USAGE 2

void usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* getopt_long's errors (the optstring starts with ':', after any '+', so
 * that getopt itself says nothing) in bpprof's words, with the hint:
 * returns EXIT_USAGE. */
int usage_getopt(const char *cmd, int c, char **argv, const struct option *opts);

/* Each: 0, or 2 after a usage error. */
int parse_out_format(const char *cmd, const char *arg, enum convert_format *f);
int parse_compress(const char *cmd, const char *arg, enum compress_kind *k);
int parse_level(const char *cmd, const char *arg, int *level);
/* "1234,5678" (or "1234 5678", as pidof prints them) appended to
 * pids[n..max): the new count, or -1 after a usage error. */
int parse_pids(const char *cmd, const char *list, uint32_t *pids, size_t max, size_t n);

/* Flags of what to capture, shared by record and run (ids from 300). */
enum {
	OPT_CGROUP = 300, OPT_KERNEL, OPT_USER, OPT_GROUP, OPT_EVENT, OPT_CPU, OPT_HEAP,
	OPT_HEAP_RATE, OPT_HEAP_LIVE, OPT_HEAP_MMAP, OPT_OFFCPU, OPT_OFFCPU_MIN, OPT_NO_LINES,
	OPT_HEAP_MODE, OPT_UNWIND, OPT_UNWIND_MEMORY, OPT_CACHE_DIR,
};
#define CAPTURE_LONG_OPTS \
	{ "freq", required_argument, NULL, 'F' }, \
	{ "pid", required_argument, NULL, 'p' }, \
	{ "cgroup", required_argument, NULL, OPT_CGROUP }, \
	{ "kernel-only", no_argument, NULL, OPT_KERNEL }, \
	{ "user-only", no_argument, NULL, OPT_USER }, \
	{ "group-by", required_argument, NULL, OPT_GROUP }, \
	{ "event", required_argument, NULL, OPT_EVENT }, \
	{ "cpu", no_argument, NULL, OPT_CPU }, \
	{ "heap", no_argument, NULL, OPT_HEAP }, \
	{ "heap-rate", required_argument, NULL, OPT_HEAP_RATE }, \
	{ "heap-live", required_argument, NULL, OPT_HEAP_LIVE }, \
	{ "heap-mmap", no_argument, NULL, OPT_HEAP_MMAP }, \
	{ "off-cpu", no_argument, NULL, OPT_OFFCPU }, \
	{ "off-cpu-min", required_argument, NULL, OPT_OFFCPU_MIN }, \
	{ "no-lines", no_argument, NULL, OPT_NO_LINES }, \
	{ "heap-mode", required_argument, NULL, OPT_HEAP_MODE }, \
	{ "unwind", required_argument, NULL, OPT_UNWIND }, \
	{ "unwind-memory", required_argument, NULL, OPT_UNWIND_MEMORY }, \
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR }

/* pids: CAPTURE_MAX_PIDS of room behind o->pids. 1 when c was a capture
 * flag, 0 when it is not one, 2 after a usage error. */
int capture_flag(const char *cmd, int c, const char *arg, struct capture_opts *o, uint32_t *pids);
/* The checks once all flags are in (the default kind is CPU; the default
 * cache directory is root's /var/cache/bpprof, or $XDG_CACHE_HOME/bpprof,
 * else ~/.cache/bpprof): 0 or 2.
 * BPPROF_OFFCPU_WALK=switch-out walks off-CPU stacks as on kernels before
 * 6.16 (for the tests and the benchmark). */
int capture_check(const char *cmd, struct capture_opts *o);

/* Flags of where profiles go, shared by push and run (ids from 400). */
enum {
	OPT_API = 400, OPT_RAW, OPT_APP, OPT_LABEL, OPT_TENANT, OPT_BASIC, OPT_BASIC_FILE,
	OPT_BEARER, OPT_BEARER_FILE, OPT_HEADER, OPT_CONTENT_TYPE, OPT_CA, OPT_CERT, OPT_KEY,
	OPT_INSECURE, OPT_TIMEOUT, OPT_RETRIES, OPT_RETRY_WAIT,
};
#define PUSH_LONG_OPTS \
	{ "api", required_argument, NULL, OPT_API }, \
	{ "ingest-raw", no_argument, NULL, OPT_RAW }, \
	{ "app", required_argument, NULL, OPT_APP }, \
	{ "label", required_argument, NULL, OPT_LABEL }, \
	{ "tenant", required_argument, NULL, OPT_TENANT }, \
	{ "basic-auth", required_argument, NULL, OPT_BASIC }, \
	{ "basic-auth-file", required_argument, NULL, OPT_BASIC_FILE }, \
	{ "bearer", required_argument, NULL, OPT_BEARER }, \
	{ "bearer-file", required_argument, NULL, OPT_BEARER_FILE }, \
	{ "header", required_argument, NULL, OPT_HEADER }, \
	{ "content-type", required_argument, NULL, OPT_CONTENT_TYPE }, \
	{ "ca-file", required_argument, NULL, OPT_CA }, \
	{ "cert", required_argument, NULL, OPT_CERT }, \
	{ "key", required_argument, NULL, OPT_KEY }, \
	{ "insecure-skip-verify", no_argument, NULL, OPT_INSECURE }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "retries", required_argument, NULL, OPT_RETRIES }, \
	{ "retry-wait", required_argument, NULL, OPT_RETRY_WAIT }

/* Secrets read from files live here, for the life of the command. */
struct push_secrets {
	char basic[1024], bearer[4096];
};

/* 1 when c was a push flag, 0 when not, 2 after a usage error. */
int push_flag(const char *cmd, int c, const char *arg, struct push_opts *o, struct push_secrets *s);
/* After all flags: credentials from BPPROF_BASIC_AUTH / BPPROF_BEARER_TOKEN
 * when no flag gave them, and the checks. 0 or 2. */
int push_check(const char *cmd, struct push_opts *o);

/* --config FILE: the INI file's settings (long flag names; `flag = true`
 * for a switch; any key may repeat; leading blanks ignored; `;` or `#`
 * after a blank starts a comment) become flags in front of the command
 * line's, so the command line wins: a later value replaces an earlier one,
 * a --label or --header replaces the config's of the same name, -p the
 * config's pids. *argv is replaced by a new array. 0, 1 when memory runs
 * out (said), 2 after a usage error (an unreadable file included). */
int config_args(const char *cmd, const struct option *opts, int *argc, char ***argv);
/* Whether a flag's argument came from the config file (it points into one
 * of its settings) rather than the command line. */
bool config_gave(const char *arg);
/* Call for each option getopt_long returns: when the command line sets
 * again what the config file set, says so at LOG_DEBUG (-v). Repeated flags
 * (--label, --header, -p) are merged by their own handlers. */
void config_note(const struct option *opts, int c, const char *arg);

#endif
