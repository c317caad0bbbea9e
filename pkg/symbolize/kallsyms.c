/* Kernel text symbols from kallsyms: one array of addresses and one of name
 * offsets into one text buffer, filled in a single streamed pass and sorted
 * once (the kernel's own lines already are; module lines may not be).
 *
 * Choices: a module symbol is named "name [module]", so the module survives
 * in the one kernel mapping. "__pfx_name" padding that sits right before
 * "name" is not stored: a flag on "name" says the padding belongs to it, and
 * an address in the padding resolves to "name" (the padding holds the
 * call-depth thunk executed on the way into it). That halves the table on
 * kernels with CONFIG_FUNCTION_PADDING. Of several names for one address the
 * global one wins over the local, the local over the weak, then the one with
 * fewer leading underscores, then the first. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "symbolize/internal.h"

struct ksyms_loader {
	struct ksyms *k;
	size_t cap_addrs, cap_names;
	struct buf text;
	int err;
	size_t sorted_upto;	/* lines before this index are in order; SIZE_MAX: all */
	int prev_rank;		/* of k->n - 1, whose name ends text */
	/* a "__pfx_" line, held back until the next line shows whether it is
	 * the padding of that symbol */
	bool pend;
	uint64_t pend_addr;
	int pend_rank;
	size_t pend_len;
	char pend_name[KSYM_NAME_MAX];
};

/* The address column, at most 16 hex digits: half the load time went to
 * the general number parser, so a table does it. */
static bool ksym__hex(const char *s, size_t len, uint64_t *out)
{
	static const uint8_t val[256] = {
		['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
		['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
		['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
		['F'] = 16,
	};	/* digit + 1; 0: not a digit */
	uint64_t v = 0;
	size_t i;

	if (!len || len > 16)
		return false;
	for (i = 0; i < len; i++) {
		uint8_t d = val[(unsigned char)s[i]];

		if (!d)
			return false;
		v = v << 4 | (uint64_t)(d - 1);
	}
	*out = v;
	return true;
}

static int ksym__rank(char type)
{
	switch (type) {
	case 'T': return 3;
	case 't': return 2;
	case 'W':
	case 'w': return 1;
	default: return 0;
	}
}

static size_t underscores(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] == '_')
		i++;
	return i;
}

/* Store (addr, name) unless an earlier line already named addr better. */
static int loader__add(struct ksyms_loader *l, uint64_t addr, int rank, const char *name,
		       size_t len, bool pfx)
{
	struct ksyms *k = l->k;
	size_t off;

	if (k->n && k->addrs[k->n - 1] == addr) {
		const char *prev = (const char *)l->text.data + (k->names[k->n - 1] & ~KSYM_PFX);
		size_t plen = l->text.len - 1 - (k->names[k->n - 1] & ~KSYM_PFX);

		if (rank < l->prev_rank ||
		    (rank == l->prev_rank && underscores(name, len) >= underscores(prev, plen)))
			return 0;
		/* the replaced name is the last one in text: take its place */
		l->text.len = k->names[k->n - 1] & ~KSYM_PFX;
		pfx = pfx || (k->names[k->n - 1] & KSYM_PFX);
		k->n--;
	}
	if (k->n >= KALLSYMS_MAX_SYMS)
		return -E2BIG;
	if (k->n == l->cap_addrs &&
	    (BUF_GROW_ARRAY(k->addrs, l->cap_addrs, k->n + 1) || BUF_GROW_ARRAY(k->names, l->cap_names, k->n + 1)))
		return -ENOMEM;
	off = l->text.len;
	if (buf__reserve(&l->text, len + 1))
		return -E2BIG;
	memcpy(l->text.data + off, name, len);
	l->text.data[off + len] = '\0';
	l->text.len += len + 1;
	if (k->n && addr < k->addrs[k->n - 1] && l->sorted_upto == SIZE_MAX)
		l->sorted_upto = k->n;
	k->addrs[k->n] = addr;
	k->names[k->n] = (uint32_t)off | (pfx ? KSYM_PFX : 0);
	k->n++;
	l->prev_rank = rank;
	return 0;
}

static int loader__flush(struct ksyms_loader *l)
{
	if (!l->pend)
		return 0;
	l->pend = false;
	return loader__add(l, l->pend_addr, l->pend_rank, l->pend_name, l->pend_len, false);
}

/* "ffffffff81000000 T _stext" or "ffffffffc0123000 t foo\t[mod]" */
static int loader__line(void *ctx, const char *line, size_t len)
{
	static const char pfx[] = "__pfx_";
	const size_t plen = sizeof(pfx) - 1;
	struct ksyms_loader *l = ctx;
	/* the address column is 16 wide on 64-bit kernels */
	const char *sp = len > 16 && line[16] == ' ' ? line + 16 : memchr(line, ' ', len);
	const char *name, *tab, *end = line + len;
	char type, full[KSYM_NAME_MAX];
	size_t nlen;
	uint64_t addr;
	int rank, err;

	if (!sp || end - sp < 4 || sp[2] != ' ' || !ksym__hex(line, (size_t)(sp - line), &addr)) {
		l->k->bad_lines++;
		return 0;
	}
	type = sp[1];
	name = sp + 3;
	rank = ksym__rank(type);
	if (!rank)
		return 0;
	if (!addr) {
		l->k->zero_addrs++;
		return 0;
	}
	tab = memchr(name, '\t', (size_t)(end - name));
	nlen = (size_t)((tab ? tab : end) - name);
	if (!nlen || (size_t)(end - name) >= sizeof(full)) {
		l->k->bad_lines++;
		return 0;
	}
	if (tab) {
		/* "name\t[mod]" becomes "name [mod]" */
		memcpy(full, name, nlen);
		full[nlen] = ' ';
		memcpy(full + nlen + 1, tab + 1, (size_t)(end - tab - 1));
		nlen = (size_t)(end - name);
		name = full;
	}

	if (l->pend && addr > l->pend_addr && addr - l->pend_addr <= KSYM_MAX_PFX &&
	    nlen == l->pend_len - plen && !memcmp(name, l->pend_name + plen, nlen)) {
		l->pend = false;
		if (addr - l->pend_addr > l->k->pfx)
			l->k->pfx = (uint32_t)(addr - l->pend_addr);
		return loader__add(l, addr, rank, name, nlen, true);
	}
	err = loader__flush(l);
	if (err)
		return err;
	if (nlen > plen && !memcmp(name, pfx, plen)) {
		l->pend = true;
		l->pend_addr = addr;
		l->pend_rank = rank;
		l->pend_len = nlen;
		memcpy(l->pend_name, name, nlen);
		return 0;
	}
	return loader__add(l, addr, rank, name, nlen, false);
}

static int addr__cmp(const void *a, const void *b, void *ctx)
{
	const uint64_t *addrs = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	if (addrs[i] != addrs[j])
		return addrs[i] < addrs[j] ? -1 : 1;
	return i < j ? -1 : i > j;	/* stable: the first line wins a tie */
}

/* Module lines come after the kernel's, in no promised order: sort the
 * lines from the first one out of order, then merge them with the sorted
 * run before it. Of equal addresses the earlier line wins. */
static int loader__sort(struct ksyms *k, size_t upto)
{
	size_t tail = k->n - upto, i = 0, j = 0, n = 0;
	uint32_t *order = malloc(tail * sizeof(*order)), *names = NULL;
	uint64_t *addrs = NULL;

	if (!order)
		return -ENOMEM;
	addrs = malloc(k->n * sizeof(*addrs));
	names = malloc(k->n * sizeof(*names));
	if (!addrs || !names) {
		free(order);
		free(addrs);
		free(names);
		return -ENOMEM;
	}
	for (j = 0; j < tail; j++)
		order[j] = (uint32_t)(upto + j);
	qsort_r(order, tail, sizeof(*order), addr__cmp, k->addrs);
	for (j = 0; i < upto || j < tail;) {
		size_t from = j >= tail || (i < upto && k->addrs[i] <= k->addrs[order[j]]) ? i++
											    : order[j++];

		if (n && addrs[n - 1] == k->addrs[from])
			continue;	/* the name text stays, unused: rare */
		addrs[n] = k->addrs[from];
		names[n] = k->names[from];
		n++;
	}
	free(order);
	free(k->addrs);
	free(k->names);
	k->addrs = addrs;
	k->names = names;
	k->n = n;
	return 0;
}

/* Give back what doubling left unused: the table lives as long as we do. */
static void *shrink(void *p, size_t size)
{
	void *q = size ? realloc(p, size) : NULL;

	if (!size) {
		free(p);
		return NULL;
	}
	return q ? q : p;
}

static int loader__finish(struct ksyms_loader *l, int err)
{
	struct ksyms *k = l->k;
	char *text;

	if (!err)
		err = loader__flush(l);
	if (!err && l->sorted_upto < k->n)
		err = loader__sort(k, l->sorted_upto);
	if (err) {
		buf__free(&l->text);
		ksyms__free(k);
		return err;
	}
	k->addrs = shrink(k->addrs, k->n * sizeof(*k->addrs));
	k->names = shrink(k->names, k->n * sizeof(*k->names));
	text = buf__take(&l->text, &k->text_len);
	k->text = shrink(text, k->text_len);
	return 0;
}

static void loader__init(struct ksyms_loader *l, struct ksyms *k)
{
	memset(k, 0, sizeof(*k));
	memset(l, 0, sizeof(*l));
	l->k = k;
	l->text = BUF_INIT(KALLSYMS_MAX_TEXT);
	l->sorted_upto = SIZE_MAX;
}

int ksyms__load_fd(struct ksyms *k, int fd)
{
	struct ksyms_loader l;
	struct lines_stats st;
	int err;

	loader__init(&l, k);
	err = lines__read(fd, KALLSYMS_CHUNK, 0, loader__line, &l, &st);
	k->bad_lines += st.too_long;
	return loader__finish(&l, err);
}

int ksyms__load_text(struct ksyms *k, const char *text, size_t len)
{
	struct ksyms_loader l;

	loader__init(&l, k);
	return loader__finish(&l, lines__each(text, len, loader__line, &l));
}

int64_t ksyms__find(const struct ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	/* lo = the first symbol above addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->addrs[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < k->n && (k->names[lo] & KSYM_PFX) && k->addrs[lo] - addr <= k->pfx)
		return (int64_t)lo;
	if (lo == 0 || addr - k->addrs[lo - 1] >= KSYM_MAX_EXTENT)
		return -1;
	return (int64_t)lo - 1;
}

size_t ksyms__bytes(const struct ksyms *k)
{
	return k->n * (sizeof(*k->addrs) + sizeof(*k->names)) + k->text_len;
}

void ksyms__free(struct ksyms *k)
{
	free(k->addrs);
	free(k->names);
	free(k->text);
	memset(k, 0, sizeof(*k));
}

/* "bpf_prog_<16 hex digits>" and its end or "_<name>": a JIT-ed program */
static bool bpf_prog_name(const char *s, size_t len)
{
	size_t i;

	if (len < 25 || strncmp(s, "bpf_prog_", 9))
		return false;
	for (i = 9; i < 25; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return len == 25 || s[25] == '_';
}

static bool hex_field(const char *s, const char *end)
{
	if (end - s < 3 || s[0] != '0' || s[1] != 'x')
		return false;
	for (s += 2; s < end; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

int ksyms__parse_ps(const char *text, char *out, size_t cap)
{
	size_t len = strlen(text), name_len, mod_len = 0, need;
	const char *end = text + len, *mod = NULL, *plus, *slash, *p;

	if (len >= 2 && text[0] == '0' && text[1] == 'x')
		return hex_field(text, end) ? 0 : -EINVAL;
	/* " [module]", or " [module build-id]" */
	if (len && end[-1] == ']') {
		for (p = end - 1; p > text && !(p[-1] == ' ' && p[0] == '['); p--)
			;
		if (p == text)
			return -EINVAL;
		mod = p + 1;
		mod_len = (size_t)(end - 1 - mod);
		if ((p = memchr(mod, ' ', mod_len)))
			mod_len = (size_t)(p - mod);
		end = mod - 2;
	}
	for (plus = end; plus > text && plus[-1] != '+'; plus--)
		;
	if (plus == text || !(slash = memchr(plus, '/', (size_t)(end - plus))) ||
	    !hex_field(plus, slash) || !hex_field(slash + 1, end))
		return -EINVAL;
	name_len = (size_t)(plus - 1 - text);
	if (name_len > 6 && !strncmp(text, "__pfx_", 6)) {
		text += 6;
		name_len -= 6;
	}
	if (!name_len || !mod_len != !mod)
		return -EINVAL;
	if (!mod && bpf_prog_name(text, name_len)) {
		mod = "bpf";
		mod_len = 3;
	}
	need = name_len + (mod ? mod_len + 3 : 0);
	if (need + 1 > cap || need > INT32_MAX)
		return -ENAMETOOLONG;
	memcpy(out, text, name_len);
	if (mod) {
		memcpy(out + name_len, " [", 2);
		memcpy(out + name_len + 2, mod, mod_len);
		out[need - 1] = ']';
	}
	out[need] = '\0';
	return (int)need;
}
