/* Output files that appear whole or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "compress/compress.h"
#include "fileio/out_file.h"

#define OUT_FILE_BUFFER (256u << 10)
#define OUT_FILE_LINK_TRIES 100
#define OUT_FILE_MAX_LINKS 40	/* as the kernel's MAXSYMLINKS */

/* Three shapes: written directly (path NULL: stdout, a device, a FIFO);
 * an unnamed O_TMPFILE (tmp NULL until commit links it); a named mkstemp
 * file where O_TMPFILE or /proc is missing. */
struct out_file {
	FILE *fp;
	char *name;		/* for messages: as given, or "standard output" */
	char *path;		/* final name, symlinks resolved; NULL when direct */
	char *tmp;		/* temporary name beside path, once it has one */
	int err;		/* first write error */
	char iobuf[OUT_FILE_BUFFER];
};

static void out_file__release(struct out_file *f)
{
	if (f->fp && f->fp != stdout)
		fclose(f->fp);
	free(f->tmp);
	free(f->path);
	free(f->name);
	free(f);
}

/* The mkstemp fallback: a name that a kill leaves behind, so only where
 * the kernel or filesystem has no O_TMPFILE, or /proc cannot link one. */
static int out_file__mkstemp(struct out_file *f)
{
	mode_t mask;
	int fd;

	if (asprintf(&f->tmp, "%s.tmp.XXXXXX", f->path) < 0) {
		f->tmp = NULL;
		return -ENOMEM;
	}
	fd = mkostemp(f->tmp, O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		free(f->tmp);
		f->tmp = NULL;
		return fd;
	}
	/* mkstemp makes 0600; a profile is an ordinary file, so honour umask. */
	mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	return fd;
}

/* An unnamed file in path's directory: nothing to clean up if we die. */
static int out_file__tmpfile(struct out_file *f)
{
	char *slash = strrchr(f->path, '/');
	char proc[64];
	char *dir;
	int fd;

	if (!slash)
		dir = strdup(".");
	else
		dir = strndup(f->path, slash == f->path ? 1 : (size_t)(slash - f->path));
	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (fd < 0)
		fd = -errno;
	free(dir);
	if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL)
		return out_file__mkstemp(f);
	if (fd < 0)
		return fd;
	/* Commit names it by linking /proc/self/fd/N; without /proc it never could. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (access(proc, F_OK)) {
		close(fd);
		return out_file__mkstemp(f);
	}
	return fd;
}

/* Where a symlink leads, as a path the temporary file can go beside: its
 * target resolved, or, for a link to a file that does not exist yet (a
 * shell's `>` creates it), that file's path, following a chain of links.
 * malloc'd, or NULL with errno set (ELOOP after OUT_FILE_MAX_LINKS). */
static char *out_file__resolve(const char *path)
{
	char *cur = strdup(path), *next = NULL, target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int hops;

	for (hops = 0; cur && hops < OUT_FILE_MAX_LINKS; hops++) {
		if (lstat(cur, &st))
			return errno == ENOENT ? cur : (free(cur), NULL);
		if (!S_ISLNK(st.st_mode)) {
			next = realpath(cur, NULL);
			free(cur);
			return next;
		}
		n = readlink(cur, target, sizeof(target) - 1);
		if (n < 0) {
			free(cur);
			return NULL;
		}
		target[n] = '\0';
		/* relative to the link's own directory */
		if (target[0] == '/' || !strrchr(cur, '/'))
			next = strdup(target);
		else if (asprintf(&next, "%.*s/%s", (int)(strrchr(cur, '/') - cur), cur, target) < 0)
			next = NULL;
		free(cur);
		cur = next;
	}
	if (cur) {
		free(cur);
		errno = ELOOP;
	}
	return NULL;
}

/* The descriptor to write path through, or -errno with e set. */
static int out_file__fd(struct out_file *f, const char *path, struct errmsg *e)
{
	struct stat st;
	int fd, err;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return errmsg__set(e, -EISDIR, "%s is a directory", path);
		/* A device or FIFO cannot be replaced by renaming over it
		 * (that would swap /dev/null for a file): write it as is. */
		if (!S_ISREG(st.st_mode)) {
			fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
			if (fd < 0) {
				err = -errno;
				return errmsg__set(e, err, "cannot open %s: %s", path, strerror(-err));
			}
			return fd;
		}
	} else if ((err = -errno) != -ENOENT) {
		return errmsg__set(e, err, "cannot create %s: %s", path, strerror(-err));
	}
	/* Rename over a symlink's target, not the link, so it stays a link. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		f->path = out_file__resolve(path);
		if (!f->path) {
			err = -errno;
			return errmsg__set(e, err, "cannot resolve %s: %s", path, strerror(-err));
		}
	} else if (!(f->path = strdup(path))) {
		return errmsg__set(e, -ENOMEM, "out of memory");
	}
	fd = out_file__tmpfile(f);
	if (fd < 0)
		return errmsg__set(e, fd, "cannot create %s: %s", path, strerror(-fd));
	return fd;
}

struct out_file *out_file__open(const char *path, struct errmsg *e)
{
	struct out_file *f = calloc(1, sizeof(*f));
	int fd, err;

	if (!f || !(f->name = strdup(strcmp(path, "-") ? path : "standard output"))) {
		err = errmsg__set(e, -ENOMEM, "out of memory");
		goto free_file;
	}
	if (!strcmp(path, "-")) {
		f->fp = stdout;
		return f;
	}
	fd = out_file__fd(f, path, e);
	if (fd < 0) {
		err = fd;
		goto free_file;
	}
	f->fp = fdopen(fd, "wb");
	if (!f->fp) {
		err = -errno;
		errmsg__set(e, err, "cannot open %s: %s", path, strerror(-err));
		goto close_fd;
	}
	setvbuf(f->fp, f->iobuf, _IOFBF, sizeof(f->iobuf));
	return f;

close_fd:
	close(fd);
free_file:
	out_file__abort(f);	/* unlinks a mkstemp name */
	errno = -err;
	return NULL;
}

int out_file__write(void *ctx, const void *data, size_t len)
{
	struct out_file *f = ctx;

	if (f->err)
		return f->err;
	errno = 0;
	if (fwrite(data, 1, len, f->fp) != len)
		f->err = errno ? -errno : -EIO;
	return f->err;
}

/* Give an O_TMPFILE a name beside path: linkat cannot replace a file, so
 * this name is new and rename then swaps it in. */
static int out_file__link(struct out_file *f)
{
	char proc[64];
	int i, err = -EEXIST;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fileno(f->fp));
	for (i = 0; i < OUT_FILE_LINK_TRIES && err == -EEXIST; i++) {
		if (asprintf(&f->tmp, "%s.tmp.%d.%d", f->path, (int)getpid(), i) < 0) {
			f->tmp = NULL;
			return -ENOMEM;
		}
		if (!linkat(AT_FDCWD, proc, AT_FDCWD, f->tmp, AT_SYMLINK_FOLLOW))
			return 0;
		err = -errno;
		/* Not ours: abort must not unlink it. */
		free(f->tmp);
		f->tmp = NULL;
	}
	return err;
}

int out_file__commit(struct out_file *f, struct errmsg *e)
{
	int err = f->err;

	if (!err && fflush(f->fp))
		err = -errno;
	if (!err && f->path && !f->tmp)
		err = out_file__link(f);
	if (!err && f->fp != stdout) {
		FILE *fp = f->fp;

		f->fp = NULL;	/* closed even if fclose fails */
		if (fclose(fp))
			err = -errno;
	}
	if (!err && f->path && rename(f->tmp, f->path))
		err = -errno;
	if (err) {
		errmsg__set(e, err, "cannot write %s: %s", f->name, strerror(-err));
		out_file__abort(f);
		return err;
	}
	free(f->tmp);	/* renamed: nothing left to unlink */
	f->tmp = NULL;
	out_file__release(f);
	return 0;
}

void out_file__abort(struct out_file *f)
{
	if (!f)
		return;
	if (f->tmp)
		unlink(f->tmp);
	out_file__release(f);
}

/* One message naming the file: a write error (ENOSPC, EFBIG, EIO) beats
 * whatever the fill made of it; any other failure keeps its own words. */
static int out_file__explain(struct out_file *f, int err, struct errmsg *e)
{
	char why[ERRMSG_MAX];

	if (f->err)
		err = f->err;
	snprintf(why, sizeof(why), "%s",
		 (!f->err && e && e->text[0]) ? e->text : strerror(-err));
	return errmsg__set(e, err, "cannot write %s: %s", f->name, why);
}

int out_file__write_compressed(const char *path, enum compress_kind kind, int level, out_file_fill_fn *fill,
			       void *arg, struct errmsg *e)
{
	struct compress_writer *w;
	struct out_file *f;
	int err;

	f = out_file__open(path, e);
	if (!f)
		return -errno;
	w = compress_writer__new(kind, level, out_file__write, f);
	if (!w) {
		err = -errno;
		errmsg__set(e, err, "cannot start %s compression", compress__name(kind));
		goto abort_file;
	}
	if (e)
		e->text[0] = '\0';	/* so out_file__explain sees only fill's words */
	err = fill(arg, w, e);
	if (!err)
		err = compress_writer__finish(w);
	compress_writer__free(w);
	if (err) {
		err = out_file__explain(f, err, e);
		goto abort_file;
	}
	return out_file__commit(f, e);

abort_file:
	out_file__abort(f);
	return err;
}
