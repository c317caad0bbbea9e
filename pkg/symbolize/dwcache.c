/* Decompressed debug images kept on disk between runs. Inflating a debug
 * file's compressed sections is nearly all a capture pays for source lines
 * (Debian's libc: 8 MiB out of 2.7 MiB, 14–17 ms here, every run), and the
 * result depends on nothing but the file: an image dwimage.c builds from
 * compressed sections is inflated straight into a new file, DIR/<key>.img
 * once whole, and later runs map that file instead. The key is a hash of
 * the file's build-id and where and how each wanted section is stored; the
 * file repeats it in a trailer, checked before use. Files without a
 * build-id are not cached.
 *
 * The directory is used only when it belongs to this user and no one else
 * may write to it (root's default is /var/cache/bpprof). Files appear by
 * rename, whole (their blocks allocated before any is written), and are
 * never rewritten in place: a run holding one mapped keeps its pages while
 * another replaces or evicts it. Past the budget the least recently used
 * files go (a hit touches its file's mtime). Nothing here fails a lookup: a
 * file that cannot be read or written is a miss. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "base/log.h"
#include "fileio/fileio.h"
#include "symbolize/internal.h"

#define TRAILER_MAGIC	"BPDWIMG1"

/* After the image: what it is the image of. */
struct trailer {
	char magic[8];
	uint64_t size;			/* the image's bytes, before this */
	unsigned char key[DWCACHE_KEY_BYTES];
};

void dwcache__key(struct dwcache_key *k, const void *what, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(what, len);

	XXH128_canonicalFromHash((XXH128_canonical_t *)k->bytes, h);
}

int dwcache__load(const char *dir, const struct dwcache_key *k, size_t size, struct dwimage *img)
{
	const size_t total = size + sizeof(struct trailer);
	char name[FILEIO_CACHE_NAME];
	struct trailer t;
	struct stat st;
	void *p;
	int dfd, fd;

	fileio__cache_name(k->bytes, "img", name);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	close(dfd);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (uint64_t)st.st_size != total) {
		close(fd);
		return -ENOEXEC;
	}
	/* private and writable: libelf may write to an image, never to disk */
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p != MAP_FAILED)
		futimens(fd, NULL);	/* used: evicted last (the owner may, read-only) */
	close(fd);
	if (p == MAP_FAILED)
		return -ENOMEM;
	memcpy(&t, (char *)p + size, sizeof(t));
	if (memcmp(t.magic, TRAILER_MAGIC, sizeof(t.magic)) || t.size != size ||
	    memcmp(t.key, k->bytes, sizeof(t.key))) {
		munmap(p, total);
		return -ENOEXEC;
	}
	img->data = p;
	img->size = size;
	img->map_size = total;
	img->mapped = true;
	return 0;
}

int dwcache__create(const char *dir, const struct dwcache_key *k, size_t size, struct dwimage *img,
		    struct dwcache_new *nw)
{
	const size_t total = size + sizeof(struct trailer);
	void *p;

	fileio__cache_name(k->bytes, "img", nw->name);
	snprintf(nw->tmp, sizeof(nw->tmp), ".%s.%d.tmp", nw->name, (int)getpid());
	nw->fd = -1;
	nw->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nw->dfd < 0)
		return -errno;
	nw->fd = openat(nw->dfd, nw->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (nw->fd < 0)
		goto fail;
	/* the blocks now, or no file: a write to a page of a sparse file on a
	 * full disk would be a SIGBUS */
	if (fallocate(nw->fd, 0, 0, (off_t)total))
		goto fail;
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, nw->fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	img->data = p;
	img->size = size;
	img->map_size = total;
	img->mapped = true;
	return 0;
fail:
	dwcache__abort(nw);
	return -errno;
}

void dwcache__abort(struct dwcache_new *nw)
{
	int err = errno;

	if (nw->fd >= 0) {
		unlinkat(nw->dfd, nw->tmp, 0);
		close(nw->fd);
	}
	if (nw->dfd >= 0)
		close(nw->dfd);
	nw->fd = nw->dfd = -1;
	errno = err;
}

void dwcache__commit(struct dwcache_new *nw, const struct dwcache_key *k, struct dwimage *img,
		     uint64_t budget)
{
	struct trailer t = { .size = img->size };
	void *p;

	memcpy(t.magic, TRAILER_MAGIC, sizeof(t.magic));
	memcpy(t.key, k->bytes, sizeof(t.key));
	memcpy(img->data + img->size, &t, sizeof(t));
	/* from here on a private view of the same pages: whatever reads the
	 * image cannot write to the file */
	p = mmap(NULL, img->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, nw->fd, 0);
	if (p == MAP_FAILED) {
		dwcache__abort(nw);	/* this run keeps the unlinked file's pages */
		return;
	}
	munmap(img->data, img->map_size);
	img->data = p;
	if (renameat(nw->dfd, nw->tmp, nw->dfd, nw->name)) {
		pr_debug("symbolize: debug image cache: cannot keep %s: %s\n", nw->name, strerror(errno));
		dwcache__abort(nw);
		return;
	}
	close(nw->fd);
	nw->fd = -1;
	fileio__cache_trim(nw->dfd, nw->name, budget);
	dwcache__abort(nw);	/* closes the directory */
}
