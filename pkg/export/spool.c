/* The bounded on-disk spool: an in-memory index (by sequence number) over a
 * directory of NNNNNNNNNNNNNNNNNNNN-KIND.pb.zst files, the lock that gives
 * the directory one owner, and the drop policy that keeps it within
 * max_bytes and SPOOL_MAX_ENTRIES. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "compress/compress.h"
#include "fileio/fileio.h"
#include "fileio/out_file.h"
#include "export/spool.h"

#define SPOOL_SEQ_DIGITS 20	/* UINT64_MAX has 20 digits */
#define SPOOL_KIND_MAX 16
#define SPOOL_SUFFIX ".pb.zst"
#define SPOOL_ZSTD_LEVEL 3
/* zstd's worst case for a SPOOL_MAX_ENTRY_BYTES input, with room to spare. */
#define SPOOL_MAX_FILE_BYTES (SPOOL_MAX_ENTRY_BYTES + (SPOOL_MAX_ENTRY_BYTES >> 7) + (1u << 20))

struct spool_entry {
	uint64_t seq;
	uint64_t size;	/* compressed, on disk */
	char kind[SPOOL_KIND_MAX + 1];
};

struct spool {
	char *dir;
	int lock_fd;			/* flock'd while we own dir */
	uint64_t max_bytes;
	uint64_t next_seq;
	struct spool_entry *items;	/* live entries are items[head..len) */
	size_t head, len, cap;
	struct spool_stats st;
};

/* "SEQ-KIND.pb.zst" then whatever follows (NULL when name is not ours). */
static const char *spool__parse(const char *name, struct spool_entry *en)
{
	const char *p = name;
	size_t k = 0;

	en->seq = 0;
	for (; p - name < SPOOL_SEQ_DIGITS; p++) {
		if (*p < '0' || *p > '9' || en->seq > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return NULL;
		en->seq = en->seq * 10 + (uint64_t)(*p - '0');
	}
	if (*p++ != '-')
		return NULL;
	while (k < SPOOL_KIND_MAX && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
		en->kind[k++] = *p++;
	en->kind[k] = '\0';
	if (!k || strncmp(p, SPOOL_SUFFIX, strlen(SPOOL_SUFFIX)))
		return NULL;
	return p + strlen(SPOOL_SUFFIX);
}

static void spool__path(const struct spool *s, const struct spool_entry *en, char *out, size_t n)
{
	snprintf(out, n, "%s/%0*llu-%s%s", s->dir, SPOOL_SEQ_DIGITS,
		 (unsigned long long)en->seq, en->kind, SPOOL_SUFFIX);
}

static int spool__cmp(const void *a, const void *b)
{
	const struct spool_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->kind, y->kind);
}

/* Room for one more entry at the end, so the append after it cannot fail. */
static int spool__reserve(struct spool *s)
{
	if (s->len == s->cap && s->head) {
		memmove(s->items, s->items + s->head, (s->len - s->head) * sizeof(*s->items));
		s->len -= s->head;
		s->head = 0;
	}
	return BUF_GROW_ARRAY(s->items, s->cap, s->len + 1);
}

static void spool__append(struct spool *s, const struct spool_entry *en)
{
	s->items[s->len++] = *en;
	s->st.entries++;
	s->st.bytes += en->size;
}

/* In sequence order (after spool__reserve); most land at the end. */
static void spool__insert(struct spool *s, const struct spool_entry *en)
{
	size_t i = s->len;

	while (i > s->head && s->items[i - 1].seq > en->seq)
		i--;
	memmove(s->items + i + 1, s->items + i, (s->len - i) * sizeof(*s->items));
	s->items[i] = *en;
	s->len++;
	s->st.entries++;
	s->st.bytes += en->size;
}

static bool spool__has(const struct spool *s, uint64_t seq)
{
	size_t i;

	for (i = s->len; i > s->head && s->items[i - 1].seq >= seq; i--)
		if (s->items[i - 1].seq == seq)
			return true;
	return false;
}

enum spool_removal { SPOOL_DELIVERED, SPOOL_DROPPED, SPOOL_UNREADABLE };

/* Unlink the oldest entry and forget it, counted as why says. */
static void spool__remove_oldest(struct spool *s, enum spool_removal why)
{
	struct spool_entry *en = &s->items[s->head];
	char path[PATH_MAX];

	spool__path(s, en, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		pr_warn("spool %s: cannot remove %s: %s", s->dir, path, strerror(errno));
	if (why == SPOOL_DROPPED) {
		s->st.dropped++;
		s->st.dropped_bytes += en->size;
	}
	s->st.unreadable += why == SPOOL_UNREADABLE;
	s->st.entries--;
	s->st.bytes -= en->size;
	if (++s->head == s->len)
		s->head = s->len = 0;
}

/* Drop the oldest until bytes more fit in both bounds. */
static void spool__make_room(struct spool *s, uint64_t bytes, uint64_t entries)
{
	while (s->st.entries && (s->st.bytes + bytes > s->max_bytes ||
				 s->st.entries + entries > SPOOL_MAX_ENTRIES))
		spool__remove_oldest(s, SPOOL_DROPPED);
}

/* One pass over the directory: index entries, remove out_file's named
 * temporaries ("ENTRY.tmp.*", only left where O_TMPFILE is missing). */
static int spool__scan(struct spool *s, struct errmsg *e)
{
	struct spool_entry en;
	struct dirent *de;
	const char *rest;
	struct stat st;
	DIR *d;
	int err = 0;

	d = opendir(s->dir);
	if (!d) {
		err = -errno;
		return errmsg__set(e, err, "spool %s: cannot read: %s", s->dir, strerror(-err));
	}
	while (!err && (de = readdir(d))) {
		rest = spool__parse(de->d_name, &en);
		if (!rest || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;	/* not ours: leave it alone */
		if (!strncmp(rest, ".tmp", 4) && (rest[4] == '\0' || rest[4] == '.')) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (*rest)
			continue;
		en.size = (uint64_t)st.st_size;
		if (spool__reserve(s))
			err = errmsg__set(e, -ENOMEM, "spool %s: out of memory", s->dir);
		else
			spool__append(s, &en);
	}
	closedir(d);
	if (err)
		return err;
	if (s->len) {
		qsort(s->items, s->len, sizeof(*s->items), spool__cmp);
		s->next_seq = s->items[s->len - 1].seq + 1;
	}
	return 0;
}

struct spool *spool__open(const char *dir, uint64_t max_bytes, struct errmsg *e)
{
	struct errmsg why;
	struct spool *s;
	uint64_t before;
	int err;

	if (!*dir || !max_bytes) {
		errmsg__set(e, -EINVAL, "spool %s: %s", dir,
			    *dir ? "the size limit must be above zero" : "no directory given");
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->lock_fd = -1;
	if (!s || !(s->dir = strdup(dir))) {
		err = errmsg__set(e, -ENOMEM, "spool %s: out of memory", dir);
		goto free_spool;
	}
	s->max_bytes = max_bytes;
	/* Entry paths are built in PATH_MAX buffers: leave room for the name. */
	if (strlen(dir) > PATH_MAX - 64) {
		err = errmsg__set(e, -ENAMETOOLONG, "spool %s: path too long", dir);
		goto free_spool;
	}
	err = fileio__make_dir(dir, 0700, &why);
	if (err) {
		errmsg__set(e, err, "spool %s", why.text);
		goto free_spool;
	}
	/* one owner: two daemons given one spool wrote the same sequence
	 * numbers over each other's windows */
	s->lock_fd = fileio__lock_dir(dir, SPOOL_LOCK_NAME, "spool", e);
	err = s->lock_fd < 0 ? s->lock_fd : spool__scan(s, e);
	if (err)
		goto free_spool;
	before = s->st.dropped;
	spool__make_room(s, 0, 0);
	if (s->st.dropped > before)
		pr_warn("spool %s: dropped the %llu oldest entries to fit the limits", dir,
			(unsigned long long)(s->st.dropped - before));
	return s;

free_spool:
	spool__free(s);
	errno = -err;
	return NULL;
}

void spool__free(struct spool *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd);	/* and the lock goes with it */
	free(s->items);
	free(s->dir);
	free(s);
}

static int spool__sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* Between the entry's producer and the compressor: counts what it would
 * decompress to, so no entry is spooled that spool__peek could not read. */
struct counted {
	struct compress_writer *z;
	uint64_t len;
};

static int counted__sink(void *ctx, const void *data, size_t len)
{
	struct counted *c = ctx;

	c->len += len;
	if (c->len > SPOOL_MAX_ENTRY_BYTES)
		return -EFBIG;
	return compress_writer__write(c->z, data, len);
}

static int spool__compress(out_file_fill_fn *fill, void *arg, struct buf *out, struct errmsg *e)
{
	struct counted c = { .z = compress_writer__new(COMPRESS_ZSTD, SPOOL_ZSTD_LEVEL, spool__sink, out) };
	struct compress_writer *w = NULL;
	int err = -ENOMEM;

	if (c.z)
		w = compress_writer__new(COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT, counted__sink, &c);
	if (w)
		err = fill(arg, w, e);
	else
		errmsg__set(e, err, "%s", strerror(-err));
	if (!err && (err = compress_writer__finish(c.z)))
		errmsg__set(e, err, "%s", strerror(-err));
	compress_writer__free(w);
	compress_writer__free(c.z);
	return c.len > SPOOL_MAX_ENTRY_BYTES ? -EFBIG : err;
}

static int spool__write(const char *path, const struct buf *b)
{
	struct out_file *f = out_file__open(path, NULL);
	int err;

	if (!f)
		return -errno;
	err = out_file__write(f, b->data, b->len);
	if (err) {
		out_file__abort(f);	/* unlinks any temporary */
		return err;
	}
	return out_file__commit(f, NULL);
}

static int spool__check_put(const struct spool *s, const char *kind, struct errmsg *e)
{
	size_t k = strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789");

	if (!k || k > SPOOL_KIND_MAX || kind[k])
		return errmsg__set(e, -EINVAL, "spool %s: bad kind \"%s\"", s->dir, kind);
	if (s->next_seq == UINT64_MAX)
		return errmsg__set(e, -EOVERFLOW, "spool %s: sequence numbers exhausted", s->dir);
	return 0;
}

/* Compressed in memory first, so its size is known before anything is
 * dropped; written before the drops, so a failed write loses nothing.
 * A refused entry (-EFBIG) is not counted here: the caller still holds it
 * and counts it with its own losses. */
static int spool__store(struct spool *s, uint64_t seq, out_file_fill_fn *fill, void *arg,
			const char *kind, uint64_t *bytes, struct errmsg *e)
{
	struct buf z = BUF_INIT(SPOOL_MAX_FILE_BYTES);
	struct spool_entry en = { .seq = seq == SPOOL_SEQ_NEXT ? s->next_seq : seq };
	char path[PATH_MAX];
	struct errmsg why;
	int err;

	if (spool__has(s, en.seq))
		return errmsg__set(e, -EEXIST, "spool %s: entry %llu is there already", s->dir,
				   (unsigned long long)en.seq);
	if (spool__reserve(s))
		return errmsg__set(e, -ENOMEM, "spool %s: out of memory", s->dir);
	snprintf(en.kind, sizeof(en.kind), "%s", kind);
	err = spool__compress(fill, arg, &z, &why);
	if (err == -EFBIG) {
		errmsg__set(e, err, "spool %s: a %s profile over the %u MiB limit", s->dir, kind,
			    SPOOL_MAX_ENTRY_BYTES >> 20);
		goto free_buf;
	}
	if (err) {
		errmsg__set(e, err, "spool %s: cannot compress a %s profile: %s", s->dir, kind,
			    why.text);
		goto free_buf;
	}
	en.size = z.len;
	if (en.size > s->max_bytes) {
		err = errmsg__set(e, -EFBIG, "spool %s: a %s profile of %llu bytes compressed is larger than the whole spool (%llu bytes)",
				  s->dir, kind, (unsigned long long)en.size,
				  (unsigned long long)s->max_bytes);
		goto free_buf;
	}
	spool__path(s, &en, path, sizeof(path));
	err = spool__write(path, &z);
	if (err) {
		errmsg__set(e, err, "spool %s: cannot write %s: %s", s->dir, strrchr(path, '/') + 1,
			    strerror(-err));
		goto free_buf;
	}
	/* Dropping only shrinks the index, so the reserved slot is still free. */
	spool__make_room(s, en.size, 1);
	spool__insert(s, &en);
	if (en.seq >= s->next_seq)
		s->next_seq = en.seq + 1;
	if (bytes)
		*bytes = en.size;
free_buf:
	buf__free(&z);
	return err;
}

struct bytes {
	const void *data;
	size_t len;
};

static int bytes__fill(void *arg, struct compress_writer *w, struct errmsg *e)
{
	const struct bytes *b = arg;
	int err = compress_writer__write(w, b->data, b->len);

	return err ? errmsg__set(e, err, "%s", strerror(-err)) : 0;
}

int spool__put(struct spool *s, const void *pprof, size_t len, const char *kind,
	       struct errmsg *e)
{
	struct bytes b = { pprof, len };
	int err = spool__check_put(s, kind, e);

	if (err)
		return err;
	if (len > SPOOL_MAX_ENTRY_BYTES)
		return errmsg__set(e, -EFBIG, "spool %s: a %s profile of %zu bytes is over the %u MiB limit",
				   s->dir, kind, len, SPOOL_MAX_ENTRY_BYTES >> 20);
	return spool__store(s, SPOOL_SEQ_NEXT, bytes__fill, &b, kind, NULL, e);
}

int spool__put_fill(struct spool *s, uint64_t seq, out_file_fill_fn *fill, void *arg,
		    const char *kind, uint64_t *bytes, struct errmsg *e)
{
	int err = spool__check_put(s, kind, e);

	if (!err && seq != SPOOL_SEQ_NEXT && seq >= UINT64_MAX - 1)
		err = errmsg__set(e, -EOVERFLOW, "spool %s: sequence numbers exhausted", s->dir);
	return err ? err : spool__store(s, seq, fill, arg, kind, bytes, e);
}

uint64_t spool__next_seq(const struct spool *s)
{
	return s->next_seq;
}

int spool__peek(struct spool *s, struct buf *out, char *name, size_t name_len,
		struct errmsg *e)
{
	size_t limit = out->limit;
	char path[PATH_MAX];
	struct errmsg why;
	int err = -ENOENT;

	if (!limit || limit > SPOOL_MAX_ENTRY_BYTES)
		out->limit = SPOOL_MAX_ENTRY_BYTES;
	while (err && s->st.entries) {
		struct buf z = BUF_INIT(SPOOL_MAX_FILE_BYTES);

		spool__path(s, &s->items[s->head], path, sizeof(path));
		out->len = 0;
		err = fileio__read_all(path, &z, &why);
		if (!err && compress__detect(z.data, z.len) != COMPRESS_ZSTD)
			err = errmsg__set(&why, -EBADMSG, "not a zstd frame");
		if (!err)
			err = compress__decode(z.data, z.len, out, &why);
		buf__free(&z);
		if (err == -ENOMEM)
			break;	/* our trouble, not the entry's */
		if (err) {
			pr_warn("spool %s: removing entry %s, which cannot be read: %s", s->dir,
				strrchr(path, '/') + 1, why.text);
			spool__remove_oldest(s, SPOOL_UNREADABLE);
		}
	}
	out->limit = limit;
	if (err == -ENOMEM)
		return errmsg__set(e, err, "spool %s: out of memory reading %s", s->dir, path);
	if (err)
		return errmsg__set(e, -ENOENT, "spool %s: empty", s->dir);
	if (name && name_len)
		snprintf(name, name_len, "%s", strrchr(path, '/') + 1);
	return 0;
}

int spool__pop(struct spool *s)
{
	if (!s->st.entries)
		return -ENOENT;
	spool__remove_oldest(s, SPOOL_DELIVERED);
	return 0;
}

void spool__stats(const struct spool *s, struct spool_stats *st)
{
	*st = s->st;
}
