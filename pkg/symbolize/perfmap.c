/* perf-PID.map, the JIT symbol convention: "START SIZE name" per line, hex
 * numbers (an 0x prefix is accepted), the name the rest of the line, spaces
 * included. Written by the process itself, so every line is untrusted: bad
 * ones are skipped and counted, and the table is bounded. When two entries
 * start at one address the later line wins (the JIT reused the memory). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "symbolize/internal.h"

static int hex_token(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p, *e = memchr(s, ' ', (size_t)(end - s));

	if (!e)
		return -EINVAL;
	if (e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (parse__u64n(s, (size_t)(e - s), 16, v))
		return -EINVAL;
	*p = e + 1;
	return 0;
}

static int perfmap__line(void *ctx, const char *line, size_t len)
{
	struct perfmap *pm = ctx;
	const char *p = line, *end = line + len;
	uint64_t start, size;
	size_t off;

	while (end > p && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (p == end)
		return 0;
	if (hex_token(&p, end, &start) || hex_token(&p, end, &size) || p >= end || !size ||
	    start + size < start || (size_t)(end - p) > PERFMAP_MAX_NAME ||
	    memchr(p, '\0', (size_t)(end - p)) || pm->n >= PERFMAP_MAX_SYMS) {
		pm->bad_lines++;
		return 0;
	}
	if (BUF_GROW_ARRAY(pm->syms, pm->cap, pm->n + 1))
		return -ENOMEM;
	off = pm->text.len;
	if (buf__append(&pm->text, p, (size_t)(end - p)) || buf__append(&pm->text, "", 1)) {
		pm->text.len = off;
		pm->bad_lines++;
		return 0;
	}
	pm->syms[pm->n].start = start;
	pm->syms[pm->n].size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	pm->syms[pm->n].name = (uint32_t)off;
	pm->n++;
	return 0;
}

static int psym__cmp(const void *a, const void *b, void *ctx)
{
	const struct psym *syms = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	if (syms[i].start != syms[j].start)
		return syms[i].start < syms[j].start ? -1 : 1;
	return i < j ? -1 : i > j;
}

static int perfmap__finish(struct perfmap *pm, int err)
{
	uint32_t *order = NULL;
	struct psym *sorted = NULL;
	size_t i, n = 0;

	if (err)
		goto err_free;
	err = -ENOMEM;
	if (pm->n) {
		order = malloc(pm->n * sizeof(*order));
		sorted = malloc(pm->n * sizeof(*sorted));
		if (!order || !sorted)
			goto err_free;
	}
	for (i = 0; i < pm->n; i++)
		order[i] = (uint32_t)i;
	if (pm->n)
		qsort_r(order, pm->n, sizeof(*order), psym__cmp, pm->syms);
	for (i = 0; i < pm->n; i++) {
		const struct psym *ps = &pm->syms[order[i]];

		if (n && sorted[n - 1].start == ps->start)
			n--;	/* the later line wins */
		sorted[n++] = *ps;
	}
	free(order);
	free(pm->syms);
	pm->syms = sorted;
	pm->n = pm->cap = n;
	/* the table lives as long as its process: give back what doubling left */
	if (pm->text.len && pm->text.len < pm->text.cap) {
		void *t = realloc(pm->text.data, pm->text.len);

		if (t) {
			pm->text.data = t;
			pm->text.cap = pm->text.len;
		}
	}
	return 0;

err_free:
	free(order);
	free(sorted);
	perfmap__free(pm);
	return err;
}

static void perfmap__init(struct perfmap *pm)
{
	memset(pm, 0, sizeof(*pm));
	pm->text = BUF_INIT(PERFMAP_MAX_TEXT);
}

int perfmap__load_fd(struct perfmap *pm, int fd)
{
	struct lines_stats st;
	int err;

	perfmap__init(pm);
	err = lines__read(fd, SYM_LINE_CHUNK, PERFMAP_MAX_BYTES, perfmap__line, pm, &st);
	pm->bad_lines += st.too_long;
	return perfmap__finish(pm, err);
}

int perfmap__load_text(struct perfmap *pm, const char *text, size_t len)
{
	perfmap__init(pm);
	return perfmap__finish(pm, lines__each(text, len, perfmap__line, pm));
}

const char *perfmap__find(const struct perfmap *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->n, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pm->syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* an entry may hide inside a bigger, older one: look a few back */
	for (i = lo; i > 0 && lo - i < SYMTAB_MAX_NEST; i--) {
		const struct psym *ps = &pm->syms[i - 1];

		if (addr - ps->start < ps->size)
			return (const char *)pm->text.data + ps->name;
	}
	return NULL;
}

void perfmap__free(struct perfmap *pm)
{
	free(pm->syms);
	buf__free(&pm->text);
	pm->syms = NULL;
	pm->n = pm->cap = 0;
}
