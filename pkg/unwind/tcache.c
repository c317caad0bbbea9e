/* Unwind tables kept on disk between runs. A table depends on nothing but
 * its file and on the bpprof that built it, and libc's took 1.4 ms of a
 * 25 ms capture here, every run (every process maps it). So a table built
 * from a file with a build-id is written to the cache directory as
 * DIR/<key>.uwt, the key a hash of bpprof's build-id and the file's, and a
 * later run reads it instead of building it again.
 *
 * The file: a header (magic, key, the table's fields), the rules the rows
 * use, in the order of their first use, then the table's entries, each
 * row's rule an index in that list: rule ids are a run's own, so a load
 * interns the rules again and renumbers the rows. Everything is checked
 * before use (sizes, every index in range); anything wrong is a miss. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "fileio/fileio.h"
#include "unwind/table.h"

#define MAGIC		"BPUWTAB1"
#define KEY_TAG		"bpprof-unwind-1"
#define TRIM_EVERY	(16u << 20)	/* bytes a process writes between trims */

/* Bytes stored since the directory was last trimmed: the first store trims. */
static uint64_t since_trim = TRIM_EVERY;

struct header {
	char magic[8];
	unsigned char key[FILEIO_CACHE_KEY];
	uint64_t base;
	uint32_t pages, n_rows, shift, fdes, cut_rows, debug_frame, n_rules, pad;
};

/* DIR/<key>.uwt for the file of build-id id; its key in key. */
static void key_name(const uint8_t *id, size_t id_len, unsigned char key[FILEIO_CACHE_KEY],
		     char name[FILEIO_CACHE_NAME])
{
	unsigned char what[sizeof(KEY_TAG) + 2 + 2 * 255];
	XXH128_canonical_t c;
	const uint8_t *self;
	size_t self_len = fileio__self_build_id(&self), n = sizeof(KEY_TAG);

	/* tag, then each id after its length */
	memcpy(what, KEY_TAG, n);
	what[n++] = (unsigned char)self_len;
	memcpy(what + n, self, self_len);
	n += self_len;
	id_len = id_len < 255 ? id_len : 255;
	what[n++] = (unsigned char)id_len;
	memcpy(what + n, id, id_len);
	n += id_len;
	XXH128_canonicalFromHash(&c, XXH3_128bits(what, n));
	memcpy(key, c.digest, FILEIO_CACHE_KEY);
	fileio__cache_name(key, "uwt", name);
}

static int read_full(int fd, void *buf, size_t len, off_t at)
{
	while (len) {
		ssize_t r = pread(fd, buf, len, at);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		buf = (char *)buf + r;
		len -= (size_t)r;
		at += r;
	}
	return 0;
}

/* The entries read: every index in range, each row's rule renumbered. */
static int check_entries(struct unwind_entry *e, const struct header *h, const uint32_t *ids)
{
	struct unwind_entry *rows = e + h->pages;
	uint32_t i;

	/* pages as unwind_table__index makes them: in order, within the rows,
	 * no more of them than the walker searches */
	for (i = 0; i < h->pages; i++)
		if (e[i].last < e[i].first || e[i].last >= h->n_rows ||
		    e[i].last - e[i].first > UNWIND_MAX_SPAN ||
		    (i && (e[i].first < e[i - 1].first || e[i].last < e[i - 1].last)))
			return -EINVAL;
	for (i = 0; i < h->n_rows; i++) {
		if (rows[i].rule >= h->n_rules || (i && rows[i].pc <= rows[i - 1].pc))
			return -EINVAL;
		rows[i].rule = ids[rows[i].rule];
	}
	return 0;
}

int unwind_tcache__load(const char *dir, const uint8_t *id, size_t id_len,
			struct unwind_rules *rules, struct unwind_table *t)
{
	struct unwind_rule *local = NULL;
	uint32_t *ids = NULL, i;
	unsigned char key[FILEIO_CACHE_KEY];
	char name[FILEIO_CACHE_NAME], path[4096];
	struct header h;
	struct stat st;
	size_t n_entries;
	int fd, err;

	memset(t, 0, sizeof(*t));
	key_name(id, id_len, key, name);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	err = fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ? -ENOEXEC :
		read_full(fd, &h, sizeof(h), 0);
	if (err)
		goto out;
	n_entries = (size_t)h.pages + h.n_rows;
	if (memcmp(h.magic, MAGIC, 8) || memcmp(h.key, key, FILEIO_CACHE_KEY) || !h.n_rows ||
	    h.n_rows > UNWIND_MAX_FILE_ROWS || h.pages > UNWIND_MAX_FILE_ROWS || h.shift > 31 ||
	    h.n_rules > h.n_rows || h.n_rules > rules->max ||
	    (uint64_t)st.st_size != sizeof(h) + (uint64_t)h.n_rules * sizeof(*local) +
					      n_entries * sizeof(*t->entries)) {
		err = -ENOEXEC;
		goto out;
	}
	local = malloc(h.n_rules * sizeof(*local));
	ids = malloc(h.n_rules * sizeof(*ids));
	t->entries = malloc(n_entries * sizeof(*t->entries));
	if (!local || !ids || !t->entries) {
		err = -ENOMEM;
		goto out;
	}
	err = read_full(fd, local, h.n_rules * sizeof(*local), sizeof(h));
	if (!err)
		err = read_full(fd, t->entries, n_entries * sizeof(*t->entries),
				(off_t)(sizeof(h) + h.n_rules * sizeof(*local)));
	for (i = 0; i < h.n_rules && !err; i++) {
		int64_t gid = unwind_rules__intern(rules, &local[i]);

		if (gid < 0)
			err = (int)gid;
		else
			ids[i] = (uint32_t)gid;
	}
	if (!err)
		err = check_entries(t->entries, &h, ids);
	if (!err) {
		t->base = h.base;
		t->pages = h.pages;
		t->n_rows = h.n_rows;
		t->shift = h.shift;
		t->fdes = h.fdes;
		t->cut_rows = h.cut_rows;
		t->debug_frame = h.debug_frame != 0;
		futimens(fd, NULL);	/* used: trimmed last */
	}
out:
	close(fd);
	free(local);
	free(ids);
	if (err)
		unwind_table__free(t);
	return err;
}

void unwind_tcache__store(const char *dir, const uint8_t *id, size_t id_len,
			  const struct unwind_rules *rules, const struct unwind_table *t)
{
	size_t n_entries = (size_t)t->pages + t->n_rows, size, i;
	struct header h = { .base = t->base, .pages = t->pages, .n_rows = t->n_rows,
			    .shift = t->shift, .fdes = t->fdes, .cut_rows = t->cut_rows,
			    .debug_frame = t->debug_frame };
	uint32_t *local = calloc(rules->n ? rules->n : 1, sizeof(*local));	/* global id → local + 1 */
	struct unwind_rule *used = NULL;
	struct unwind_entry *rows;
	char name[FILEIO_CACHE_NAME], *buf = NULL;
	int dfd;

	if (!local || !t->n_rows)
		goto out;
	key_name(id, id_len, (unsigned char *)h.key, name);
	memcpy(h.magic, MAGIC, 8);
	used = malloc(t->n_rows * sizeof(*used));
	size = sizeof(h) + t->n_rows * sizeof(*used) + n_entries * sizeof(*t->entries);
	buf = malloc(size);
	if (!used || !buf)
		goto out;
	rows = (struct unwind_entry *)(buf + sizeof(h) + t->n_rows * sizeof(*used));
	memcpy(rows, t->entries, n_entries * sizeof(*t->entries));
	rows += t->pages;
	for (i = 0; i < t->n_rows; i++) {
		uint32_t g = rows[i].rule;

		if (g >= rules->n)
			goto out;
		if (!local[g]) {
			used[h.n_rules] = rules->v[g];
			local[g] = ++h.n_rules;
		}
		rows[i].rule = local[g] - 1;
	}
	/* the rules where they go, the entries after them */
	size = sizeof(h) + h.n_rules * sizeof(*used) + n_entries * sizeof(*t->entries);
	memmove(buf + sizeof(h) + h.n_rules * sizeof(*used), rows - t->pages,
		n_entries * sizeof(*t->entries));
	memcpy(buf + sizeof(h), used, h.n_rules * sizeof(*used));
	memcpy(buf, &h, sizeof(h));
	if (fileio__write_new(dir, name, buf, size))
		goto out;
	/* a first run stores tens of tables: the directory is trimmed at the
	 * first and then every TRIM_EVERY bytes, not read at each */
	if (__atomic_add_fetch(&since_trim, size, __ATOMIC_RELAXED) < TRIM_EVERY)
		goto out;
	__atomic_store_n(&since_trim, 0, __ATOMIC_RELAXED);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fileio__cache_trim(dfd, name, FILEIO_CACHE_BUDGET);
		close(dfd);
	}
out:
	free(buf);
	free(used);
	free(local);
}
