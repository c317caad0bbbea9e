/* Flag parsing the commands share, and config files (libinih). */
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

#include "base/log.h"
#include "base/parse.h"
#include "cmd/bpprof/cli.h"
#include "collect/collect.h"
#include "collect/heap.h"
#include "collect/offcpu.h"
#include "unwind/maps.h"

/* The config file's settings, as the flags config_args made of them:
 * where each came from is told by its bytes (a flag's argument points into
 * one of these, or into the command line). */
static char **config_strings;
static int n_config_strings;

bool config_gave(const char *arg)
{
	int i;

	for (i = 0; arg && i < n_config_strings; i++)
		if (arg >= config_strings[i] && arg <= config_strings[i] + strlen(config_strings[i]))
			return true;
	return false;
}

/* Options set by the config file, to say when the command line overrides one. */
#define CONFIG_NOTES 64
static struct {
	int code;
	const char *value;
} notes[CONFIG_NOTES];
static size_t n_notes;

void config_note(const struct option *opts, int c, const char *arg)
{
	const struct option *o;
	size_t i;

	if (!arg || c == OPT_LABEL || c == OPT_HEADER || c == 'p')
		return;	/* switches, and repeated flags (their handlers say) */
	for (i = 0; i < n_notes && notes[i].code != c; i++)
		;
	if (config_gave(arg)) {
		if (i == n_notes && n_notes < CONFIG_NOTES)
			n_notes++;
		if (i < CONFIG_NOTES)
			notes[i] = (typeof(notes[0])){ c, arg };
		return;
	}
	if (i == n_notes)
		return;
	for (o = opts; o->name && o->val != c; o++)
		;
	/* a credential, or a URL that may hold one, is named, never shown */
	if (o->name && (c == OPT_BASIC || c == OPT_BEARER || !strcmp(o->name, "url") ||
			!strcmp(o->name, "push")))
		pr_debug("--%s on the command line overrides the config's", o->name);
	else if (o->name)
		pr_debug("--%s %s overrides the config's %s = %s", o->name, arg, o->name,
			 notes[i].value);
	notes[i] = notes[--n_notes];
}

void usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bpprof %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'bpprof help %s'.\n", cmd);
}

int usage_getopt(const char *cmd, int c, char **argv, const struct option *opts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	size_t len = strcspn(arg, "=");
	const struct option *o;
	bool is_long = false;

	/* a long option's own element, not a short one further on in a
	 * cluster after it */
	if (!strncmp(arg, "--", 2)) {
		is_long = !optopt;
		for (o = opts; o->name && !is_long; o++)
			is_long = o->val == optopt && strlen(o->name) == len - 2 &&
				  !strncmp(o->name, arg + 2, len - 2);
	}
	if (c == ':' && is_long)
		usage_error(cmd, "option '%.*s' needs a value", (int)len, arg);
	else if (c == ':')
		usage_error(cmd, "option '-%c' needs a value", optopt);
	else if (is_long && optopt)
		usage_error(cmd, "option '%.*s' takes no value", (int)len, arg);
	else if (is_long)
		usage_error(cmd, "unknown option '%.*s'", (int)len, arg);
	else
		usage_error(cmd, "unknown option '-%c'", optopt);
	return EXIT_USAGE;
}

int parse_out_format(const char *cmd, const char *arg, enum convert_format *f)
{
	if (convert__parse_format(arg, f) || (*f != FORMAT_PPROF && *f != FORMAT_FOLDED)) {
		usage_error(cmd, "cannot write format '%s' (pprof, folded)", arg);
		return 2;
	}
	return 0;
}

int parse_compress(const char *cmd, const char *arg, enum compress_kind *k)
{
	if (compress__parse_kind(arg, k)) {
		usage_error(cmd, "unknown compression '%s' (gzip, zstd, none)", arg);
		return 2;
	}
	return 0;
}

int parse_level(const char *cmd, const char *arg, int *level)
{
	int64_t v;

	if (parse__int64(arg, -131072, 22, &v)) {
		usage_error(cmd, "bad compression level '%s'", arg);
		return 2;
	}
	*level = (int)v;
	return 0;
}

int parse_pids(const char *cmd, const char *list, uint32_t *pids, size_t max, size_t n)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int64_t v;

	if (!copy)
		return -1;
	/* commas, or blanks: -p "$(pidof server)" gives several pids so */
	for (tok = strtok_r(copy, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save)) {
		if (parse__int64(tok, 1, INT32_MAX, &v)) {
			usage_error(cmd, "bad pid '%s' in -p %s", tok, list);
			free(copy);
			return -1;
		}
		if (n == max) {
			usage_error(cmd, "at most %zu pids", max);
			free(copy);
			return -1;
		}
		pids[n++] = (uint32_t)v;
	}
	free(copy);
	if (n == 0) {
		usage_error(cmd, "-p needs a pid");
		return -1;
	}
	return (int)n;
}

static bool pids_from_config;

/* capture_flag's choices of how: the heap's mode, the unwinder's and its
 * memory. */
static int capture_how_flag(const char *cmd, int c, const char *arg, struct capture_opts *o)
{
	uint64_t size;

	switch (c) {
	case OPT_HEAP_MODE:
		if (!strcmp(arg, "preload")) {
			o->heap_mode = HEAP_MODE_PRELOAD;
		} else if (!strcmp(arg, "uprobe")) {
			o->heap_mode = HEAP_MODE_UPROBE;
		} else {
			usage_error(cmd, "unknown --heap-mode '%s' (preload, uprobe)", arg);
			return 2;
		}
		return 1;
	case OPT_UNWIND:
		if (!strcmp(arg, "auto")) {
			o->unwind = CAPTURE_UNWIND_AUTO;
		} else if (!strcmp(arg, "dwarf")) {
			o->unwind = CAPTURE_UNWIND_DWARF;
		} else if (!strcmp(arg, "fp")) {
			o->unwind = CAPTURE_UNWIND_FP;
		} else {
			usage_error(cmd, "unknown --unwind '%s' (auto, dwarf, fp)", arg);
			return 2;
		}
		return 1;
	case OPT_UNWIND_MEMORY:
		if (parse__size(arg, UNWIND_MAX_BYTES, &size) || size < UNWIND_CHUNK_BYTES) {
			usage_error(cmd, "bad --unwind-memory '%s' (512k to %um of kernel memory for "
				    "unwind tables)", arg, UNWIND_MAX_BYTES >> 20);
			return 2;
		}
		o->unwind_bytes = size;
		return 1;
	}
	return 0;
}

int capture_flag(const char *cmd, int c, const char *arg, struct capture_opts *o, uint32_t *pids)
{
	uint64_t size;
	double d;
	int64_t v;
	int n;

	switch (c) {
	case 'F':
		if (parse__int64(arg, 1, COLLECT_MAX_FREQ, &v)) {
			usage_error(cmd, "bad frequency '%s' (1-%u Hz)", arg, COLLECT_MAX_FREQ);
			return 2;
		}
		o->freq = (unsigned)v;
		return 1;
	case 'p':
		/* the command line's -p replaces the config's pids */
		if (pids_from_config && !config_gave(arg)) {
			pr_debug("-p %s replaces the config's pids", arg);
			o->n_pids = 0;
		}
		pids_from_config = config_gave(arg);
		n = parse_pids(cmd, arg, pids, CAPTURE_MAX_PIDS, o->n_pids);
		if (n < 0)
			return 2;
		o->n_pids = (size_t)n;
		return 1;
	case OPT_CGROUP:
		o->cgroup = arg;
		return 1;
	case OPT_KERNEL:
		o->user_stacks = false;
		return 1;
	case OPT_USER:
		o->kernel_stacks = false;
		return 1;
	case OPT_GROUP:
		if (strcmp(arg, "process")) {
			usage_error(cmd, "cannot group by '%s' (process)", arg);
			return 2;
		}
		o->group_by_process = true;
		return 1;
	case OPT_EVENT:
		if (!strcmp(arg, "cycles")) {
			o->event = COLLECT_CYCLES;
		} else if (!strcmp(arg, "cpu-clock")) {
			o->event = COLLECT_CPU_CLOCK;
		} else {
			usage_error(cmd, "unknown event '%s' (cpu-clock, cycles)", arg);
			return 2;
		}
		return 1;
	case OPT_CPU:
		o->cpu = true;
		return 1;
	case OPT_HEAP:
		o->heap = true;
		return 1;
	case OPT_HEAP_RATE:
		if (parse__size(arg, HEAP_MAX_RATE, &o->heap_rate)) {
			usage_error(cmd, "bad --heap-rate '%s' (bytes, or 512k, 1m; 0 records every "
				    "allocation)", arg);
			return 2;
		}
		return 1;
	case OPT_HEAP_LIVE:
		if (parse__size(arg, HEAP_MAX_LIVE, &size) || !size) {
			usage_error(cmd, "bad --heap-live '%s' (1-%u blocks)", arg, HEAP_MAX_LIVE);
			return 2;
		}
		o->heap_live = (uint32_t)size;
		return 1;
	case OPT_HEAP_MMAP:
		o->heap_mmap = true;
		return 1;
	case OPT_OFFCPU:
		o->offcpu = true;
		return 1;
	case OPT_OFFCPU_MIN:
		if (!strcmp(arg, "0")) {
			o->offcpu_min_ns = 0;
		} else if (parse__duration(arg, OFFCPU_MAX_MIN_NS / 1e9, &d)) {
			usage_error(cmd, "bad --off-cpu-min '%s' (0, or such as 100us, 1ms, 2s)", arg);
			return 2;
		} else {
			o->offcpu_min_ns = (uint64_t)llround(d * 1e9);
		}
		return 1;
	case OPT_NO_LINES:
		o->no_lines = true;
		return 1;
	case OPT_CACHE_DIR:
		if (!*arg) {
			usage_error(cmd, "--cache-dir needs a directory, or off");
			return 2;
		}
		o->cache_dir = strcmp(arg, "off") ? arg : NULL;
		o->cache_dir_set = true;
		return 1;
	}
	return capture_how_flag(cmd, c, arg, o);
}

/* Where decompressed debug sections are kept by default: root's in
 * /var/cache, anyone else's in their own cache directory; NULL: nowhere. */
static const char *default_cache_dir(void)
{
	static char dir[4096];
	const char *base = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (!geteuid())
		return "/var/cache/bpprof";
	if (base && base[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/bpprof", base);
	else if (home && home[0] == '/')
		n = snprintf(dir, sizeof(dir), "%s/.cache/bpprof", home);
	else
		return NULL;
	return n > 0 && (size_t)n < sizeof(dir) ? dir : NULL;
}

int capture_check(const char *cmd, struct capture_opts *o)
{
	if (!o->kernel_stacks && !o->user_stacks) {
		usage_error(cmd, "--kernel-only and --user-only exclude each other");
		return 2;
	}
	if (o->command && o->n_pids) {
		usage_error(cmd, "-p and a command exclude each other");
		return 2;
	}
	if (!o->heap && !o->offcpu)
		o->cpu = true;
	if (o->offcpu_min_ns != OFFCPU_DEFAULT_MIN_NS && !o->offcpu) {
		usage_error(cmd, "--off-cpu-min needs --off-cpu");
		return 2;
	}
	if (getenv("BPPROF_OFFCPU_WALK") && *getenv("BPPROF_OFFCPU_WALK")) {
		if (strcmp(getenv("BPPROF_OFFCPU_WALK"), "switch-out")) {
			usage_error(cmd, "BPPROF_OFFCPU_WALK='%s': switch-out, or unset",
				    getenv("BPPROF_OFFCPU_WALK"));
			return 2;
		}
		o->offcpu_switch_out = true;
	}
	if ((o->heap_mmap || o->heap_rate != HEAP_DEFAULT_RATE || o->heap_live != HEAP_DEFAULT_LIVE ||
	     o->heap_mode != HEAP_MODE_AUTO) && !o->heap) {
		usage_error(cmd, "--heap-rate, --heap-live, --heap-mmap and --heap-mode need --heap");
		return 2;
	}
	if (o->heap_mode == HEAP_MODE_PRELOAD && !o->command) {
		usage_error(cmd, "--heap-mode preload needs a command to start (-- COMMAND): a "
			    "running process cannot load the library");
		return 2;
	}
	if (o->heap_mode == HEAP_MODE_PRELOAD && o->heap_mmap) {
		usage_error(cmd, "--heap-mmap needs --heap-mode uprobe (mmap is probed, not wrapped)");
		return 2;
	}
	if (o->heap && !o->command && !o->n_pids) {
		usage_error(cmd, "--heap needs a target: -p PID or -- COMMAND");
		return 2;
	}
	if (o->heap && o->cgroup) {
		usage_error(cmd, "--heap follows processes, not a cgroup: use -p PID or a command");
		return 2;
	}
	if (!o->cache_dir_set)
		o->cache_dir = default_cache_dir();
	return 0;
}

/* The first line of a file holding a secret, without its newline. */
static int read_secret(const char *cmd, const char *flag, const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		usage_error(cmd, "%s %s: %s", flag, path, strerror(errno));
		return 2;
	}
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	fclose(f);
	n = strcspn(out, "\r\n");
	if (out[n] == '\0' && n == len - 1) {
		usage_error(cmd, "%s %s: longer than %zu bytes", flag, path, len - 2);
		return 2;
	}
	out[n] = '\0';
	if (!n) {
		usage_error(cmd, "%s %s: empty", flag, path);
		return 2;
	}
	return 0;
}

/* --label K=V: a name given again replaces the config file's value (flags
 * win); given twice on the command line (or in the config) it is a mistake. */
static int label_flag(const char *cmd, char *arg, struct push_opts *o)
{
	struct errmsg e = { "" };
	char *eq = strchr(arg, '=');
	size_t i;

	if (!eq) {
		usage_error(cmd, "--label '%s': expected KEY=VALUE", arg);
		return 2;
	}
	*eq = '\0';	/* argv's own bytes: they outlive the command */
	if (push__check_label(arg, eq + 1, &e)) {
		usage_error(cmd, "%s", e.text);
		return 2;
	}
	for (i = 0; i < o->n_labels && strcmp(o->labels[i].name, arg); i++)
		;
	if (i < o->n_labels && (!config_gave(o->labels[i].name) || config_gave(arg))) {
		usage_error(cmd, "label '%s' given twice%s", arg,
			    config_gave(arg) ? " in the config file" : "");
		return 2;
	}
	if (i < o->n_labels) {
		pr_debug("--label %s=%s overrides the config's %s=%s", arg, eq + 1, arg,
			 o->labels[i].value);
		o->labels[i] = (struct push_label){ arg, eq + 1 };
		return 1;
	}
	if (o->n_labels == PUSH_MAX_LABELS) {
		usage_error(cmd, "at most %u labels", PUSH_MAX_LABELS);
		return 2;
	}
	o->labels[o->n_labels++] = (struct push_label){ arg, eq + 1 };
	return 1;
}

/* --header 'Name: value': the command line's replaces the config's of the
 * same name (case aside); otherwise headers add up, as HTTP allows. */
static int header_flag(const char *cmd, const char *arg, struct push_opts *o)
{
	size_t i, n = strcspn(arg, ":");

	for (i = 0; !config_gave(arg) && i < o->n_headers; i++)
		if (config_gave(o->headers[i]) && !strncasecmp(o->headers[i], arg, n) &&
		    o->headers[i][n] == ':') {
			pr_debug("--header '%.*s: ...' replaces the config's", (int)n, arg);
			o->headers[i] = arg;
			return 1;
		}
	if (o->n_headers == PUSH_MAX_HEADERS) {
		usage_error(cmd, "at most %u headers", PUSH_MAX_HEADERS);
		return 2;
	}
	o->headers[o->n_headers++] = arg;
	return 1;
}

int push_flag(const char *cmd, int c, const char *arg, struct push_opts *o, struct push_secrets *s)
{
	struct errmsg e = { "" };
	double d;
	int64_t v;

	switch (c) {
	case OPT_API:
		if (push__parse_api(arg, &o->api)) {
			usage_error(cmd, "unknown API '%s' (ingest, push, http)", arg);
			return 2;
		}
		return 1;
	case OPT_RAW:
		o->ingest_raw = true;
		return 1;
	case OPT_APP:
		if (push__check_app(arg, &e)) {
			usage_error(cmd, "%s", e.text);
			return 2;
		}
		o->app = arg;
		return 1;
	case OPT_LABEL:
		return label_flag(cmd, (char *)arg, o);
	case OPT_TENANT:
		o->tenant = arg;
		return 1;
	case OPT_BASIC:
		o->basic_auth = arg;
		return 1;
	case OPT_BASIC_FILE:
		if (read_secret(cmd, "--basic-auth-file", arg, s->basic, sizeof(s->basic)))
			return 2;
		o->basic_auth = s->basic;
		return 1;
	case OPT_BEARER:
		o->bearer = arg;
		return 1;
	case OPT_BEARER_FILE:
		if (read_secret(cmd, "--bearer-file", arg, s->bearer, sizeof(s->bearer)))
			return 2;
		o->bearer = s->bearer;
		return 1;
	case OPT_HEADER:
		return header_flag(cmd, arg, o);
	case OPT_CONTENT_TYPE:
		o->content_type = arg;
		return 1;
	case OPT_CA:
		o->ca_file = arg;
		return 1;
	case OPT_CERT:
		o->cert = arg;
		return 1;
	case OPT_KEY:
		o->key = arg;
		return 1;
	case OPT_INSECURE:
		o->insecure = true;
		return 1;
	case OPT_TIMEOUT:
		if (parse__duration(arg, 3600, &o->timeout)) {
			usage_error(cmd, "bad --timeout '%s' (seconds, or 500ms, 2m)", arg);
			return 2;
		}
		return 1;
	case OPT_RETRIES:
		if (parse__int64(arg, 0, 100, &v)) {
			usage_error(cmd, "bad --retries '%s' (0-100)", arg);
			return 2;
		}
		o->retries = (unsigned)v;
		return 1;
	case OPT_RETRY_WAIT:
		if (parse__duration(arg, PUSH_MAX_BACKOFF, &d)) {
			usage_error(cmd, "bad --retry-wait '%s' (seconds, or 500ms; at most %.0f s)", arg,
				    PUSH_MAX_BACKOFF);
			return 2;
		}
		o->retry_wait = d;
		return 1;
	}
	return 0;
}

int push_check(const char *cmd, struct push_opts *o)
{
	if (!o->basic_auth && getenv("BPPROF_BASIC_AUTH") && *getenv("BPPROF_BASIC_AUTH"))
		o->basic_auth = getenv("BPPROF_BASIC_AUTH");
	if (!o->bearer && getenv("BPPROF_BEARER_TOKEN") && *getenv("BPPROF_BEARER_TOKEN"))
		o->bearer = getenv("BPPROF_BEARER_TOKEN");
	if (o->basic_auth && o->bearer) {
		usage_error(cmd, "basic auth and a bearer token exclude each other");
		return 2;
	}
	if (o->basic_auth && !strchr(o->basic_auth, ':')) {
		usage_error(cmd, "basic auth: expected USER:PASSWORD");
		return 2;
	}
	if ((o->cert != NULL) != (o->key != NULL)) {
		usage_error(cmd, "--cert and --key go together");
		return 2;
	}
	if (o->api == PUSH_API_HTTP && (o->n_labels || o->app || o->ingest_raw)) {
		usage_error(cmd, "--app, --label and --ingest-raw are for --api ingest or push; a "
			    "generic endpoint gets the profile only");
		return 2;
	}
	if (o->api != PUSH_API_HTTP && o->content_type) {
		usage_error(cmd, "--content-type is for --api http");
		return 2;
	}
	if (o->api != PUSH_API_INGEST && o->ingest_raw) {
		usage_error(cmd, "--ingest-raw is for --api ingest");
		return 2;
	}
	return 0;
}

/* Config files. */

struct config {
	const char *cmd;
	const struct option *opts;
	char **args;
	int n, cap;
	bool oom;
	struct errmsg why;	/* the first bad line's problem; ini_parse says which line */
};

/* Append arg; on failure the caller still owns it (argv's are not ours
 * to free). */
static int config_add(struct config *c, char *arg)
{
	char **grown;

	if (!arg)
		return -ENOMEM;
	if (c->n + 1 >= c->cap) {
		grown = realloc(c->args, (size_t)(c->cap ? c->cap * 2 : 32) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		c->args = grown;
		c->cap = c->cap ? c->cap * 2 : 32;
	}
	c->args[c->n++] = arg;
	return 0;
}

static int truth(const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
		return 1;
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
		return 0;
	return -1;
}

/* One `key = value` line as the flag it stands for; 0 makes ini_parse
 * report the line. */
static int on_setting(void *user, const char *section, const char *key, const char *value)
{
	struct config *c = user;
	const struct option *o;
	char *arg = NULL;
	int t;

	if (c->why.text[0])
		return 0;
	if (section[0] && strcmp(section, c->cmd)) {
		errmsg__set(&c->why, -EINVAL, "section [%s] (only [%s], or none)", section, c->cmd);
		return 0;
	}
	for (o = c->opts; o->name; o++)
		if (!strcmp(o->name, key))
			break;
	if (!o->name || !strcmp(key, "config") || !strcmp(key, "help")) {
		errmsg__set(&c->why, -EINVAL, "unknown setting '%s'", key);
		return 0;
	}
	if (o->has_arg == no_argument) {
		t = truth(value);
		if (t < 0) {
			errmsg__set(&c->why, -EINVAL, "%s = %s: expected true or false", key, value);
			return 0;
		}
		if (!t)
			return 1;
		if (asprintf(&arg, "--%s", key) < 0)
			arg = NULL;
	} else if (asprintf(&arg, "--%s=%s", key, value) < 0) {
		arg = NULL;
	}
	if (config_add(c, arg)) {
		free(arg);
		c->oom = true;
		return 0;
	}
	return 1;
}

/* Lines for libinih, each as bpprof reads it: leading blanks are
 * indentation (inih would glue the line to the previous value), and a '#'
 * after a blank starts a comment, as ';' does for inih. A value holding
 * " #" cannot be written in a config file (on the command line it can). */
static char *config_line(char *str, int num, void *stream)
{
	char *line = fgets(str, num, stream), *start, *hash;

	if (!line)
		return NULL;
	start = line + strspn(line, " \t");
	for (hash = strchr(start, '#'); hash; hash = strchr(hash + 1, '#'))
		if (hash > start && (hash[-1] == ' ' || hash[-1] == '\t')) {
			hash[0] = '\n';
			hash[1] = '\0';
			break;
		}
	memmove(line, start, strlen(start) + 1);
	return line;
}

/* The config file, as flags in c: ini_parse's result (0, -1 cannot read,
 * -2 out of memory, N the first bad line). */
static int config_read(const char *path, struct config *c)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	int rc;

	if (!f)
		return -1;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		errno = EISDIR;
		return -1;
	}
	rc = ini_parse_stream(config_line, f, on_setting, c);
	fclose(f);
	return rc;
}

/* A config that came to nothing: the settings' own copies go (argv's
 * strings are not ours). */
static int config_drop(struct config *c, int owned, int rc)
{
	while (owned > 0)
		free(c->args[--owned]);
	free(c->args);
	return rc;
}

int config_args(const char *cmd, const struct option *opts, int *argc, char ***argv)
{
	struct config c = { .cmd = cmd, .opts = opts };
	const char *path = NULL;
	char *self;
	int i, rc, owned;

	for (i = 1; i < *argc && strcmp((*argv)[i], "--"); i++) {
		if (!strcmp((*argv)[i], "--config") && i + 1 < *argc)
			path = (*argv)[i + 1];
		else if (!strncmp((*argv)[i], "--config=", 9))
			path = (*argv)[i] + 9;
	}
	if (!path)
		return 0;
	self = strdup((*argv)[0]);
	if (config_add(&c, self)) {
		free(self);
		goto oom;
	}
	rc = config_read(path, &c);
	if (rc == -1) {
		usage_error(cmd, "cannot read config file %s: %s", path, strerror(errno));
		return config_drop(&c, c.n, EXIT_USAGE);
	}
	if (rc == -2 || c.oom)
		goto oom;
	if (rc > 0) {
		usage_error(cmd, "%s:%d: %s", path, rc, c.why.text[0] ? c.why.text :
			    "not a `key = value` line");
		return config_drop(&c, c.n, EXIT_USAGE);
	}
	owned = c.n;
	config_strings = c.args + 1;
	n_config_strings = c.n - 1;
	for (i = 1; i < *argc; i++)
		if (config_add(&c, (*argv)[i])) {
			pr_err("out of memory");
			return config_drop(&c, owned, 1);
		}
	config_strings = c.args + 1;	/* moved by the growth */
	c.args[c.n] = NULL;
	*argc = c.n;
	*argv = c.args;	/* lives as long as the command */
	return 0;
oom:
	pr_err("out of memory");
	return config_drop(&c, c.n, 1);
}
