/* Window files in a directory, and their retention. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "fileio/fileio.h"
#include "export/outdir.h"
#include "export/sink.h"
#include "pprof/codec.h"

#define STAMP_LEN 20	/* 20261123T101500.000Z */

int outdir__open(const char *dir, struct errmsg *e)
{
	int err = fileio__make_dir(dir, 0755, e);

	return err ? err : fileio__lock_dir(dir, OUTDIR_LOCK_NAME, "output directory", e);
}

int outdir__write(const struct outdir_opts *o, const struct pprof_profile *profile,
		  const char *kind, int64_t time_nanos, char *path, size_t path_len,
		  struct errmsg *e)
{
	time_t t = (time_t)(time_nanos / 1000000000);
	struct timespec now;
	struct tm tm;
	char stamp[32];
	int err;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if ((size_t)snprintf(path, path_len, "%s/%s-%s.%03dZ%s", o->dir, kind, stamp,
			     (int)(time_nanos / 1000000 % 1000), compress__pprof_suffix(o->compress)) >= path_len)
		return errmsg__set(e, -ENAMETOOLONG, "%s: path too long", o->dir);
	err = sink__write(profile, path, SINK_PPROF, o->compress, o->level, NULL, e);
	if (err)
		return err;
	clock_gettime(CLOCK_REALTIME, &now);
	err = outdir__prune(o, kind, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
	if (err < 0)
		pr_warn("pruning %s: %s", o->dir, strerror(-err));
	return 0;
}

/* KIND-YYYYmmddTHHMMSS.mmmZ.pb[.gz|.zst]: the window's start, or -1. */
static int64_t name_time(const char *name, const char *kind)
{
	size_t k = strlen(kind);
	const char *rest;
	struct tm tm = { 0 };
	char *end;
	long ms;

	if (strncmp(name, kind, k) || name[k] != '-')
		return -1;
	rest = name + k + 1;
	if (strlen(rest) < STAMP_LEN || (strcmp(rest + STAMP_LEN, ".pb") &&
	    strcmp(rest + STAMP_LEN, ".pb.gz") && strcmp(rest + STAMP_LEN, ".pb.zst")))
		return -1;
	end = strptime(rest, "%Y%m%dT%H%M%S", &tm);
	if (!end || *end != '.' || end[4] != 'Z')
		return -1;
	ms = strtol(end + 1, &end, 10);
	if (*end != 'Z')
		return -1;
	return ((int64_t)timegm(&tm) * 1000 + ms) * 1000000;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*b)->d_name, (*a)->d_name);	/* newest first */
}

int outdir__prune(const struct outdir_opts *o, const char *kind, int64_t now_nanos)
{
	struct dirent **ents;
	int i, n, kept = 0, removed = 0;

	if (!o->retain && !o->retain_age)
		return 0;
	n = scandir(o->dir, &ents, NULL, by_name);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		int64_t t = name_time(ents[i]->d_name, kind);
		char path[4096];

		if (t < 0)
			continue;
		if ((!o->retain || kept < (int)o->retain) &&
		    (!o->retain_age || (double)(now_nanos - t) / 1e9 <= o->retain_age)) {
			kept++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", o->dir, ents[i]->d_name);
		if (!unlink(path))
			removed++;
		else if (errno != ENOENT)
			pr_warn("cannot remove %s: %s", path, strerror(errno));
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return removed;
}
