/* Whole-file reads, bounded, and directories made and checked. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "fileio/fileio.h"

bool fileio__private_dir(const char *dir)
{
	static char warned[PATH_MAX];
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_debug("cache %s: %s: not used\n", dir, strerror(errno));
		return false;
	}
	if (!lstat(dir, &st) && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	    !(st.st_mode & 022))
		return true;
	if (strcmp(warned, dir)) {	/* the symbolizer and the collector both ask */
		snprintf(warned, sizeof(warned), "%s", dir);
		pr_warn("cache %s is not a directory of this user's alone: not used\n", dir);
	}
	return false;
}

int fileio__write_new(const char *dir, const char *name, const void *data, size_t len)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, err = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, name, (int)getpid()) >=
		    sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (len && !err) {
		ssize_t w = write(fd, data, len);

		if (w > 0) {
			data = (const char *)data + w;
			len -= (size_t)w;
		} else if (w < 0 && errno != EINTR) {
			err = -errno;
		} else if (w == 0) {
			err = -EIO;
		}
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

struct self_id {
	uint8_t id[64];
	size_t len;
};

/* The first object dl_iterate_phdr names is the program itself. */
static int find_self_id(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct self_id *s = arg;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *nh = (const void *)p;
			size_t name = (nh->n_namesz + 3) & ~3u, desc = (nh->n_descsz + 3) & ~3u;

			p += sizeof(*nh);
			if (name > (size_t)(end - p) || desc > (size_t)(end - p) - name)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(p, "GNU", 4) &&
			    nh->n_descsz <= sizeof(s->id)) {
				memcpy(s->id, p + name, nh->n_descsz);
				s->len = nh->n_descsz;
				return 1;
			}
			p += name + desc;
		}
	}
	return 1;	/* the program only */
}

size_t fileio__self_build_id(const uint8_t **id)
{
	static struct self_id self;
	static bool looked;

	if (!looked) {
		dl_iterate_phdr(find_self_id, &self);
		looked = true;
	}
	*id = self.id;
	return self.len;
}

#define STALE_TMP_S	3600	/* a run's unfinished cache file, past this: abandoned */
#define CACHE_KEY_HEX	(2 * FILEIO_CACHE_KEY)	/* cache files are <32 hex digits>.<ext> */

void fileio__cache_name(const unsigned char key[FILEIO_CACHE_KEY], const char *ext,
			char out[FILEIO_CACHE_NAME])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < FILEIO_CACHE_KEY; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	snprintf(out + CACHE_KEY_HEX, FILEIO_CACHE_NAME - CACHE_KEY_HEX, ".%s", ext);
}

struct old_file {
	char name[CACHE_KEY_HEX + 8];
	int64_t mtime;
	uint64_t size;
};

static int old__cmp(const void *a, const void *b)
{
	const struct old_file *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* A file a run was still writing when it died (.NAME.PID.tmp), an hour
 * on: gone. */
static void sweep_stale(int dfd, const char *name)
{
	size_t len = strlen(name);
	struct stat st;

	if (name[0] == '.' && len > 4 && !strcmp(name + len - 4, ".tmp") &&
	    !fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode) &&
	    st.st_mtim.tv_sec + STALE_TMP_S < time(NULL))
		unlinkat(dfd, name, 0);
}

/* <32 hex digits>.<ext of 1-7 letters>: a cache file. */
static bool cache_name(const char *name)
{
	size_t len = strlen(name), i;

	if (len < CACHE_KEY_HEX + 2 || len > CACHE_KEY_HEX + 8 || name[CACHE_KEY_HEX] != '.')
		return false;
	for (i = 0; i < CACHE_KEY_HEX; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

void fileio__cache_trim(int dfd, const char *keep, uint64_t budget)
{
	struct old_file *old = NULL, *grown;
	size_t n = 0, cap = 0, i;
	uint64_t total = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd = dup(dfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d))) {
		sweep_stale(dfd, de->d_name);
		if (!cache_name(de->d_name) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		total += (uint64_t)st.st_size;
		if (keep && !strcmp(de->d_name, keep))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(old, cap * sizeof(*old));
			if (!grown)
				break;
			old = grown;
		}
		snprintf(old[n].name, sizeof(old[n].name), "%s", de->d_name);
		old[n].mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		old[n++].size = (uint64_t)st.st_size;
	}
	closedir(d);
	if (total > budget && n) {
		qsort(old, n, sizeof(*old), old__cmp);
		for (i = 0; i < n && total > budget / 4 * 3; i++)
			if (!unlinkat(dfd, old[i].name, 0))
				total -= old[i].size;
	}
	free(old);
}

int fileio__make_dir(const char *dir, unsigned mode, struct errmsg *e)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i, n = strlen(dir);

	if (!n || n >= sizeof(path))
		return errmsg__set(e, -ENAMETOOLONG, "%s: bad path", dir);
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {	/* mkdir -p */
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		/* ENOTDIR: a file on the way, said below as it is */
		if (mkdir(path, (mode_t)mode) && errno != EEXIST && errno != ENOTDIR)
			return errmsg__set(e, -errno, "%s: cannot create: %s", dir, strerror(errno));
		path[i] = i < n ? '/' : '\0';
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return errmsg__set(e, -ENOTDIR, "%s: not a directory", dir);
	if (access(dir, W_OK | X_OK))
		return errmsg__set(e, -errno, "%s: not writable: %s", dir, strerror(errno));
	return 0;
}

int fileio__lock_dir(const char *dir, const char *name, const char *use, struct errmsg *e)
{
	char path[PATH_MAX], pid[32] = "";
	ssize_t n;
	int fd, err;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return errmsg__set(e, -ENAMETOOLONG, "%s %s: path too long", use, dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		return errmsg__set(e, err, "%s %s: cannot open its lock %s: %s", use, dir, path,
				   strerror(-err));
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		if (err != -EWOULDBLOCK) {
			close(fd);
			return errmsg__set(e, err, "%s %s: cannot lock %s: %s", use, dir, path,
					   strerror(-err));
		}
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		close(fd);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return errmsg__set(e, -EBUSY, "%s %s is in use by %s%s (another bpprof run?): give "
				   "each its own", use, dir, pid[0] ? "pid " : "another process", pid);
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	/* only for the message above: a failure here costs nothing else */
	if (!ftruncate(fd, 0) && pwrite(fd, pid, (size_t)n, 0) != n)
		errno = EIO;
	return fd;
}

int fileio__read_all(const char *path, struct buf *out, struct errmsg *e)
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
