/* Atomic output files and bounded whole-file reads. */
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
#include "export/file.h"

#define OUT_FILE_BUFFER (256u << 10)

struct out_file {
	FILE *fp;
	char *path;		/* final name; NULL for stdout */
	char *tmp;		/* temporary name in the same directory */
	int err;		/* first write error */
	char iobuf[OUT_FILE_BUFFER];
};

struct out_file *out_file__open(const char *path, struct errmsg *e)
{
	struct out_file *f = calloc(1, sizeof(*f));
	int fd, err;

	if (!f) {
		errmsg__set(e, -ENOMEM, "out of memory");
		return NULL;
	}
	if (!strcmp(path, "-")) {
		f->fp = stdout;
		return f;
	}
	f->path = strdup(path);
	if (!f->path || asprintf(&f->tmp, "%s.tmp.XXXXXX", path) < 0) {
		f->tmp = NULL;
		errmsg__set(e, -ENOMEM, "out of memory");
		goto err_free;
	}
	fd = mkstemp(f->tmp);
	if (fd < 0) {
		err = -errno;
		errmsg__set(e, err, "cannot create %s: %s", path, strerror(-err));
		goto err_free;
	}
	/* mkstemp makes 0600; a profile is an ordinary file, so honour umask. */
	{
		mode_t mask = umask(0);

		umask(mask);
		fchmod(fd, 0666 & ~mask);
	}
	f->fp = fdopen(fd, "wb");
	if (!f->fp) {
		err = -errno;
		close(fd);
		unlink(f->tmp);
		errmsg__set(e, err, "cannot open %s: %s", f->tmp, strerror(-err));
		goto err_free;
	}
	setvbuf(f->fp, f->iobuf, _IOFBF, sizeof(f->iobuf));
	return f;

err_free:
	free(f->tmp);
	free(f->path);
	free(f);
	return NULL;
}

int out_file__write(void *ctx, const void *data, size_t len)
{
	struct out_file *f = ctx;

	if (f->err)
		return f->err;
	if (fwrite(data, 1, len, f->fp) != len)
		f->err = errno ? -errno : -EIO;
	return f->err;
}

static void out_file__release(struct out_file *f)
{
	if (f->fp && f->fp != stdout)
		fclose(f->fp);
	free(f->tmp);
	free(f->path);
	free(f);
}

int out_file__commit(struct out_file *f, struct errmsg *e)
{
	const char *name = f->path ? f->path : "standard output";
	int err = f->err;

	if (!err && fflush(f->fp))
		err = -errno;
	if (!err && f->path) {
		FILE *fp = f->fp;

		f->fp = NULL;
		if (fclose(fp))
			err = -errno;
		else if (rename(f->tmp, f->path))
			err = -errno;
	}
	if (err) {
		errmsg__set(e, err, "cannot write %s: %s", name, strerror(-err));
		out_file__abort(f);
		return err;
	}
	out_file__release(f);
	return 0;
}

void out_file__abort(struct out_file *f)
{
	if (!f)
		return;
	if (f->fp && f->fp != stdout) {
		fclose(f->fp);
		f->fp = NULL;
	}
	if (f->tmp)
		unlink(f->tmp);
	out_file__release(f);
}

int file__read_all(const char *path, struct buf *out, struct errmsg *e)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	struct stat st;
	int err = 0;

	if (fd < 0)
		return errmsg__set(e, -errno, "%s", strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		err = errmsg__set(e, -EISDIR, "is a directory");
		goto out;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if (out->limit && (uint64_t)st.st_size > out->limit) {
			err = errmsg__set(e, -E2BIG, "larger than the %zu MiB input limit",
					  out->limit >> 20);
			goto out;
		}
		err = buf__reserve(out, (size_t)st.st_size + 1);
	}
	while (!err) {
		size_t room;
		ssize_t n;
		char probe;

		room = 64u << 10;
		if (out->limit && room > out->limit - out->len)
			room = out->limit - out->len;
		if (room && out->cap == out->len && buf__reserve(out, room)) {
			err = errmsg__set(e, -ENOMEM, "out of memory");
			break;
		}
		room = out->cap - out->len;
		if (out->limit && room > out->limit - out->len)
			room = out->limit - out->len;
		/* At the limit, one more byte tells "exactly full" from "too big". */
		n = room ? read(fd, out->data + out->len, room) : read(fd, &probe, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errmsg__set(e, -errno, "read error: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (!room) {
			err = errmsg__set(e, -E2BIG, "larger than the %zu MiB input limit",
					  out->limit >> 20);
			break;
		}
		out->len += (size_t)n;
	}
out:
	if (fd != STDIN_FILENO)
		close(fd);
	return err;
}

int out_file__write_compressed(const char *path, enum compress_kind kind, int level, out_file_fill_fn *fill,
			       void *arg, struct errmsg *e)
{
	struct compress_writer *w = NULL;
	struct out_file *f;
	int err;

	f = out_file__open(path, e);
	if (!f)
		return -EIO;
	w = compress_writer__new(kind, level, out_file__write, f);
	if (!w) {
		err = errmsg__set(e, -errno, "cannot start %s compression", compress__name(kind));
		goto err_abort;
	}
	err = fill(arg, w, e);
	if (!err && (err = compress_writer__finish(w)))
		errmsg__set(e, err, "cannot write %s: %s", path, strerror(-err));
	if (err)
		goto err_abort;
	compress_writer__free(w);
	return out_file__commit(f, e);

err_abort:
	compress_writer__free(w);
	out_file__abort(f);
	return err;
}
