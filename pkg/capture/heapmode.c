/* The heap mode a capture runs in. Preload mode costs a command a few per
 * cent where uprobes cost it hundreds of times (README, Benchmarks), so it
 * is chosen whenever the command can load the library; anything else falls
 * back to uprobe mode, and the reason is kept for the summary line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "capture/heapmode.h"

extern char **environ;

const char *heap_mode__name(enum heap_mode m)
{
	return m == HEAP_MODE_PRELOAD ? "preload" : "uprobe";
}

/* Uprobe mode for a reason; refused when preload mode was asked for. */
static int uprobe_mode(const struct capture_opts *o, struct heap_mode_choice *c, struct errmsg *e)
{
	c->mode = HEAP_MODE_UPROBE;
	if (o->heap_mode == HEAP_MODE_PRELOAD)
		return errmsg__set(e, -EINVAL, "--heap-mode preload: %s", c->why);
	return 0;
}

static int token(uint64_t *t)
{
	do {
		if (getrandom(t, sizeof(*t), 0) != (ssize_t)sizeof(*t))
			return -errno;
	} while (!*t);
	return 0;
}

int heap_mode__choose(const struct capture_opts *o, struct heap_mode_choice *c, struct errmsg *e)
{
	int err;

	memset(c, 0, sizeof(*c));
	if (o->heap_mode == HEAP_MODE_UPROBE) {
		c->mode = HEAP_MODE_UPROBE;
		snprintf(c->why, sizeof(c->why), "--heap-mode uprobe");
		return 0;
	}
	if (!o->command) {
		snprintf(c->why, sizeof(c->why), "a running process (-p) cannot be preloaded");
		return uprobe_mode(o, c, e);
	}
	if (o->heap_mmap) {
		snprintf(c->why, sizeof(c->why), "--heap-mmap needs uprobes on mmap");
		return uprobe_mode(o, c, e);
	}
	if (preload__find_lib(c->lib, sizeof(c->lib))) {
		snprintf(c->why, sizeof(c->why), "%s is not installed beside bpprof", PRELOAD_LIB);
		return uprobe_mode(o, c, e);
	}
	if (preload__check_lib(c->lib, c->why, sizeof(c->why)) > 0)
		return uprobe_mode(o, c, e);
	/* A command that cannot be found or read is left to the exec, which
	 * says so as it would in either mode. */
	if (preload__check_command(o->command[0], c->why, sizeof(c->why)) > 0)
		return uprobe_mode(o, c, e);
	c->why[0] = '\0';
	c->mode = HEAP_MODE_PRELOAD;
	err = token(&c->token);
	if (err)
		return errmsg__set(e, err, "getrandom: %s", strerror(-err));
	c->env = preload__env(environ, c->lib, c->token, o->heap_rate, o->heap_live);
	return c->env ? 0 : errmsg__set(e, -ENOMEM, "out of memory");
}

void heap_mode__release(struct heap_mode_choice *c)
{
	preload__free_env(c->env);
	c->env = NULL;
}
