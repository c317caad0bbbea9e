/* unwind: tables agree with binutils' reading of the same CFI (readelf
 * --debug-dump=frames-interp) row by row, on this test's own executable and
 * on the workloads built beside it (one with .debug_frame only); the page
 * index finds the row a linear scan finds, within the walker's step bound;
 * rules are shared; the pointer decoder reads every encoding CFI uses; a
 * process's mappings become sorted table slots, with every limit counted.
 *
 *   unwind_test                 the unit tests (no host state is read: the
 *                               processes are fixtures over this test's
 *                               own executable and maps)
 *   unwind_test --readelf FILE  compare FILE's table with readelf's rows
 *                               (the e2e suite runs it on libc, python3, ...) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <dwarf.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "unwind/maps.h"
#include "unwind/table.h"
#include "unwind/unwind.h"

static char self_dir[PATH_MAX / 2], self_exe[PATH_MAX];

/* --- readelf's rows --- */

struct re_row {
	uint64_t pc, hi;	/* the row holds [pc, hi) */
	char cfa[32], ra[32], rbp[32], rbx[32];
	bool debug;		/* from .debug_frame */
};

struct re_cie {
	uint64_t off;
	char cfa[32], ra[32], rbp[32], rbx[32];
};

struct re_fde {
	uint64_t lo, hi;
	bool debug;
};

struct readelf {
	struct re_row *rows;
	size_t n_rows, cap_rows;
	struct re_cie *cies;
	size_t n_cies, cap_cies;
	struct re_fde *fdes;
	size_t n_fdes, cap_fdes;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	*cap = need * 2;
	p = realloc(p, *cap * size);
	assert_non_null(p);
	return p;
}

/* "r5 (rdi)" is one column value: squeeze out the name. */
static void squeeze(char *line)
{
	char *p;

	while ((p = strstr(line, " ("))) {
		char *q = strchr(p, ')');

		if (!q)
			break;
		memmove(p, q + 1, strlen(q + 1) + 1);
	}
}

/* One table row of readelf's: its values by column name. */
static void parse_row(char *line, char cols[][16], int n_cols, char *cfa, char *ra, char *rbp,
		      char *rbx)
{
	char *save = NULL, *tok;
	int i;

	strtok_r(line, " \n", &save);	/* LOC */
	for (i = 0; i < n_cols && (tok = strtok_r(NULL, " \n", &save)); i++) {
		if (!strcmp(cols[i], "CFA"))
			snprintf(cfa, 32, "%s", tok);
		else if (!strcmp(cols[i], "ra"))
			snprintf(ra, 32, "%s", tok);
		else if (!strcmp(cols[i], "rbp"))
			snprintf(rbp, 32, "%s", tok);
		else if (!strcmp(cols[i], "rbx"))
			snprintf(rbx, 32, "%s", tok);
	}
}

static void fde_done(struct readelf *re, size_t first_row, const struct re_fde *f,
		     const struct re_cie *cie)
{
	size_t i;

	if (!f)
		return;
	if (re->n_rows == first_row && cie) {	/* no rows: the CIE's initial state */
		re->rows = grow(re->rows, &re->cap_rows, re->n_rows + 1, sizeof(*re->rows));
		re->rows[re->n_rows] = (struct re_row){ .pc = f->lo, .debug = f->debug };
		memcpy(re->rows[re->n_rows].cfa, cie->cfa, 32);
		memcpy(re->rows[re->n_rows].ra, cie->ra, 32);
		memcpy(re->rows[re->n_rows].rbp, cie->rbp, 32);
		memcpy(re->rows[re->n_rows].rbx, cie->rbx, 32);
		re->n_rows++;
	}
	for (i = first_row; i < re->n_rows; i++)
		re->rows[i].hi = i + 1 < re->n_rows ? re->rows[i + 1].pc : f->hi;
	re->fdes = grow(re->fdes, &re->cap_fdes, re->n_fdes + 1, sizeof(*re->fdes));
	re->fdes[re->n_fdes++] = *f;
}

static const struct re_cie *find_cie(const struct readelf *re, uint64_t off, bool debug)
{
	size_t i;

	for (i = 0; i < re->n_cies; i++)
		if (re->cies[i].off == (off | (uint64_t)debug << 63))
			return &re->cies[i];
	return NULL;
}

static void readelf_read(const char *path, struct readelf *re)
{
	char cmd[PATH_MAX + 64], line[1024], cols[40][16];
	struct re_fde cur = { 0 };
	const struct re_cie *cie = NULL;
	struct re_cie *in_cie = NULL;
	bool debug = false, in_fde = false;
	size_t first_row = 0;
	int n_cols = 0;
	FILE *f;

	memset(re, 0, sizeof(*re));
	snprintf(cmd, sizeof(cmd), "readelf --debug-dump=frames-interp '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long off, lo, hi, cie_off;
		char *save = NULL, *tok;

		squeeze(line);
		if (strstr(line, "Contents of the .debug_frame"))
			debug = true;
		else if (strstr(line, "Contents of the .eh_frame"))
			debug = false;
		if (sscanf(line, "%llx %*x %*x CIE", &off) == 1 && strstr(line, " CIE")) {
			fde_done(re, first_row, in_fde ? &cur : NULL, cie);
			in_fde = false;
			re->cies = grow(re->cies, &re->cap_cies, re->n_cies + 1, sizeof(*re->cies));
			in_cie = &re->cies[re->n_cies++];
			*in_cie = (struct re_cie){ .off = off | (uint64_t)debug << 63 };
		} else if (sscanf(line, "%llx %*x %*x FDE cie=%llx pc=%llx..%llx", &off, &cie_off, &lo,
				  &hi) == 4) {
			fde_done(re, first_row, in_fde ? &cur : NULL, cie);
			in_cie = NULL;
			in_fde = true;
			cur = (struct re_fde){ lo, hi, debug };
			cie = find_cie(re, cie_off, debug);
			first_row = re->n_rows;
		} else if (strstr(line, "   LOC ")) {
			n_cols = 0;
			strtok_r(line, " \n", &save);
			while (n_cols < 40 && (tok = strtok_r(NULL, " \n", &save)))
				snprintf(cols[n_cols++], sizeof(cols[0]), "%s", tok);
		} else if (sscanf(line, "%llx", &lo) == 1 && strlen(line) > 17 && line[16] == ' ') {
			char cfa[32] = "", ra[32] = "", rbp[32] = "", rbx[32] = "";

			parse_row(line, cols, n_cols, cfa, ra, rbp, rbx);
			if (in_cie) {
				memcpy(in_cie->cfa, cfa, 32);
				memcpy(in_cie->ra, ra, 32);
				memcpy(in_cie->rbp, rbp, 32);
				memcpy(in_cie->rbx, rbx, 32);
			} else if (in_fde) {
				re->rows = grow(re->rows, &re->cap_rows, re->n_rows + 1, sizeof(*re->rows));
				re->rows[re->n_rows] = (struct re_row){ .pc = lo, .debug = debug };
				memcpy(re->rows[re->n_rows].cfa, cfa, 32);
				memcpy(re->rows[re->n_rows].ra, ra, 32);
				memcpy(re->rows[re->n_rows].rbp, rbp, 32);
				memcpy(re->rows[re->n_rows].rbx, rbx, 32);
				re->n_rows++;
			}
		}
	}
	fde_done(re, first_row, in_fde ? &cur : NULL, cie);
	pclose(f);
}

static void readelf_free(struct readelf *re)
{
	free(re->rows);
	free(re->cies);
	free(re->fdes);
}

/* A callee-saved register's column (rbp, rbx) against our rule for it. */
static bool saved_agrees(const char *col, uint8_t how, int16_t at)
{
	int off;

	/* readelf shows a register not yet saved as "u": unchanged */
	if (!col[0] || !strcmp(col, "s") || !strcmp(col, "u"))
		return how == UNWIND_BP_SAME || (!strcmp(col, "u") && how == UNWIND_BP_UNDEF);
	if (sscanf(col, "c%d", &off) == 1)
		return how == UNWIND_BP_AT_CFA && at == off;
	return how == UNWIND_BP_UNDEF;
}

/* Does our rule say what readelf's row says, as far as the walker goes?
 * Registers and CFA rules the walker cannot follow must give a cut (NONE)
 * rule; an expression CFA is a PLT, a signal frame or a cut. */
static bool row_agrees(const struct re_row *r, const struct unwind_rule *u)
{
	int off, reg;
	char kind[4];

	if (!strcmp(r->ra, "u"))
		return u->cfa == UNWIND_CFA_STOP;
	if (!strcmp(r->cfa, "exp"))
		return u->cfa == UNWIND_CFA_PLT || u->cfa == UNWIND_CFA_SIGNAL ||
		       u->cfa == UNWIND_CFA_NONE;
	if (sscanf(r->cfa, "%3[a-z]+%d", kind, &off) != 2 ||
	    (strcmp(kind, "rsp") && strcmp(kind, "rbp") && strcmp(kind, "rbx")))
		return u->cfa == UNWIND_CFA_NONE;
	if (sscanf(r->ra, "c%d", &off) == 1) {
		if (u->ra != UNWIND_RA_AT_CFA || u->ra_off != off)
			return false;
	} else if (sscanf(r->ra, "r%d", &reg) == 1 && reg < UNWIND_REGS) {
		if (u->ra != UNWIND_RA_REG || u->ra_reg != reg)
			return false;
	} else {
		return u->cfa == UNWIND_CFA_NONE;
	}
	sscanf(r->cfa, "%3[a-z]+%d", kind, &off);
	if (u->cfa != (!strcmp(kind, "rsp") ? UNWIND_CFA_SP : !strcmp(kind, "rbp") ? UNWIND_CFA_BP
		       : UNWIND_CFA_BX) || u->cfa_off != off)
		return false;
	return saved_agrees(r->rbp, u->bp, u->bp_off) && saved_agrees(r->rbx, u->bx, u->bx_off);
}

static int fde_cmp(const void *a, const void *b)
{
	const struct re_fde *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Every readelf row against the table's lookup at its first byte and its
 * last, and the code past each FDE that no other FDE covers against no
 * rule. The number of disagreements (the first few printed). */
static int compare(const char *path, const struct unwind_table *t, const struct unwind_rules *rules,
		   size_t *checked)
{
	struct readelf re;
	int bad = 0;
	size_t i;

	readelf_read(path, &re);
	*checked = 0;
	for (i = 0; i < re.n_rows; i++) {
		const struct re_row *r = &re.rows[i];
		const uint64_t at[2] = { r->pc, r->hi - 1 };
		int k;

		if ((r->debug && !t->debug_frame) || r->hi <= r->pc)
			continue;
		for (k = 0; k < 2; k++) {
			const struct unwind_entry *e = unwind_table__lookup(t, at[k]);

			(*checked)++;
			if (e && row_agrees(r, &rules->v[e->rule]))
				continue;
			if (bad++ < 10)
				print_message("%s: %#" PRIx64 ": readelf CFA %s ra %s rbp %s; ours %s\n",
					      path, at[k], r->cfa, r->ra, r->rbp[0] ? r->rbp : "-",
					      e ? "another rule" : "no row");
		}
	}
	qsort(re.fdes, re.n_fdes, sizeof(*re.fdes), fde_cmp);
	for (i = 0; i + 1 < re.n_fdes; i++) {
		const struct unwind_entry *e;

		if (re.fdes[i + 1].lo <= re.fdes[i].hi || (re.fdes[i].debug && !t->debug_frame))
			continue;
		e = unwind_table__lookup(t, re.fdes[i].hi);
		(*checked)++;
		if (e && rules->v[e->rule].cfa != UNWIND_CFA_NONE && bad++ < 10)
			print_message("%s: %#" PRIx64 ": between FDEs, but ours has a rule\n", path,
				      re.fdes[i].hi);
	}
	readelf_free(&re);
	return bad;
}

static Elf *open_elf(const char *path, int *fd)
{
	Elf *elf;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		close(*fd);
	return elf;
}

/* path's table against readelf: 0 when every row agrees. */
static int check_file(const char *path, bool verbose)
{
	struct unwind_rules rules;
	struct unwind_table t;
	size_t checked = 0;
	int fd, err, bad;
	Elf *elf = open_elf(path, &fd);

	if (!elf) {
		print_message("%s: cannot open: %s\n", path, strerror(errno));
		return 1;
	}
	assert_int_equal(unwind_rules__init(&rules, 65536), 0);
	err = unwind_table__build(&t, elf, NULL, &rules, UNWIND_MAX_FILE_ROWS);
	if (err) {
		print_message("%s: no table: %s\n", path, strerror(-err));
		bad = 1;
	} else {
		bad = compare(path, &t, &rules, &checked);
		if (verbose || bad)
			print_message("%s: %u FDEs, %u rows, %u cut, %zu rules%s; %zu points checked, "
				      "%d disagree\n", path, t.fdes, t.n_rows, t.cut_rows, rules.n,
				      t.debug_frame ? ", .debug_frame" : "", checked, bad);
		if (!checked)
			bad = 1;
	}
	unwind_table__free(&t);
	unwind_rules__free(&rules);
	elf_end(elf);
	close(fd);
	return bad;
}

/* --- tests --- */

static void test_readelf_self(void **state)
{
	assert_int_equal(check_file(self_exe, false), 0);
}

/* The workloads are built by make beside this test (build/workloads). */
static void workload(char *out, size_t len, const char *name)
{
	if ((size_t)snprintf(out, len, "%s/../../workloads/%s", self_dir, name) >= len)
		fail_msg("path too long");
}

static void test_readelf_workloads(void **state)
{
	static const char *const names[] = { "unwind", "unwind-nocfi", "libunwind-dl.so" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		workload(path, sizeof(path), names[i]);
		if (access(path, R_OK)) {
			print_message("%s: not built (make workloads)\n", path);
			fail();
		}
		assert_int_equal(check_file(path, false), 0);
	}
}

/* Built with -fno-asynchronous-unwind-tables -g: the code's rows come
 * from .debug_frame, not from the few .eh_frame FDEs of crt's. */
static void test_debug_frame(void **state)
{
	struct unwind_rules rules;
	struct unwind_table t;
	char path[PATH_MAX];
	int fd;
	Elf *elf;

	workload(path, sizeof(path), "unwind-nocfi");
	elf = open_elf(path, &fd);
	assert_non_null(elf);
	assert_false(unwind__eh_frame_thin(elf));	/* it has its own .debug_frame */
	assert_int_equal(unwind_rules__init(&rules, 1024), 0);
	assert_int_equal(unwind_table__build(&t, elf, NULL, &rules, UNWIND_MAX_FILE_ROWS), 0);
	assert_true(t.debug_frame);
	unwind_table__free(&t);
	unwind_rules__free(&rules);
	elf_end(elf);
	close(fd);
}

/* The only .uwt file of dir, into path. */
static void tcache_file(const char *dir, char *path, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".uwt") && de->d_name[0] != '.') {
			snprintf(path, len, "%s/%s", dir, de->d_name);
			n++;
		}
	closedir(d);
	assert_int_equal(n, 1);
}

/* A table read back from the cache directory is the table built: its
 * index, its rows' pcs and their rules (renumbered for a run whose rules
 * differ); another build-id, a cut file or a damaged row is a miss. */
static void test_tcache(void **state)
{
	struct unwind_rules r1, r2;
	struct unwind_table t, u;
	struct unwind_rule other = { .cfa = UNWIND_CFA_SP, .cfa_off = 12344, .ra_off = -8 };
	const uint8_t id[] = { 0xb1, 0xd0, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 };
	char dir[] = "/tmp/bpprof-tcache-XXXXXX", path[PATH_MAX];
	uint64_t pc, step;
	struct stat st;
	uint32_t i;
	int fd;
	Elf *elf = open_elf(self_exe, &fd);

	(void)state;
	assert_non_null(elf);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(unwind_rules__init(&r1, UNWIND_MAX_RULES), 0);
	assert_int_equal(unwind_rules__init(&r2, UNWIND_MAX_RULES), 0);
	assert_int_equal(unwind_table__build(&t, elf, NULL, &r1, UNWIND_MAX_FILE_ROWS), 0);
	assert_int_equal(unwind_rules__intern(&r2, &other), 0);	/* ids shift by one */
	assert_int_equal(unwind_tcache__load(dir, id, sizeof(id), &r2, &u), -ENOENT);
	unwind_tcache__store(dir, id, sizeof(id), &r1, &t);
	assert_int_equal(unwind_tcache__load(dir, id, sizeof(id), &r2, &u), 0);
	assert_true(u.base == t.base && u.pages == t.pages && u.n_rows == t.n_rows &&
		    u.shift == t.shift && u.fdes == t.fdes && u.cut_rows == t.cut_rows &&
		    u.debug_frame == t.debug_frame);
	assert_memory_equal(u.entries, t.entries, t.pages * sizeof(*t.entries));
	for (i = 0; i < t.n_rows; i++) {
		const struct unwind_entry *a = t.entries + t.pages + i, *b = u.entries + u.pages + i;

		assert_int_equal(a->pc, b->pc);
		assert_memory_equal(&r1.v[a->rule], &r2.v[b->rule], sizeof(struct unwind_rule));
	}
	step = t.n_rows > 1000 ? (t.entries[t.pages + t.n_rows - 1].pc / 1000) | 1 : 1;
	for (pc = t.base; pc < t.base + t.entries[t.pages + t.n_rows - 1].pc; pc += step) {
		const struct unwind_entry *a = unwind_table__lookup(&t, pc), *b = unwind_table__lookup(&u, pc);

		assert_true((a == NULL) == (b == NULL));
		if (a)
			assert_memory_equal(&r1.v[a->rule], &r2.v[b->rule], sizeof(struct unwind_rule));
	}
	unwind_table__free(&u);
	/* another file's build-id */
	assert_int_equal(unwind_tcache__load(dir, id, sizeof(id) - 1, &r2, &u), -ENOENT);
	/* the last row's rule out of range */
	tcache_file(dir, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	{
		int w = open(path, O_RDWR);
		uint32_t bad[2] = { 0xffffffff, 0xffffffff }, last_row[2];

		assert_true(w >= 0);
		assert_int_equal(pread(w, last_row, sizeof(last_row), st.st_size - 8), 8);
		assert_int_equal(pwrite(w, bad, sizeof(bad), st.st_size - 8), 8);
		assert_int_equal(unwind_tcache__load(dir, id, sizeof(id), &r2, &u), -EINVAL);
		assert_int_equal(pwrite(w, last_row, sizeof(last_row), st.st_size - 8), 8);
		assert_int_equal(unwind_tcache__load(dir, id, sizeof(id), &r2, &u), 0);
		unwind_table__free(&u);
		/* the last page's rows before the first's (an index out of order) */
		assert_true(t.pages > 1 && t.entries[t.pages - 1].first > t.entries[0].first);
		assert_int_equal(pwrite(w, &t.entries[0], 8,
					st.st_size - (off_t)(t.n_rows + 1) * 8), 8);
		assert_int_equal(unwind_tcache__load(dir, id, sizeof(id), &r2, &u), -EINVAL);
		/* cut short */
		assert_int_equal(ftruncate(w, st.st_size - 8), 0);
		close(w);
	}
	assert_int_equal(unwind_tcache__load(dir, id, sizeof(id), &r2, &u), -ENOEXEC);
	assert_null(u.entries);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	unwind_table__free(&t);
	unwind_rules__free(&r1);
	unwind_rules__free(&r2);
	elf_end(elf);
	close(fd);
}

static void test_rules_shared(void **state)
{
	struct unwind_rules r;
	struct unwind_rule a = { .cfa = UNWIND_CFA_SP, .cfa_off = 16, .ra_off = -8 };
	struct unwind_rule b = { .cfa = UNWIND_CFA_SP, .cfa_off = 24, .ra_off = -8 };

	assert_int_equal(unwind_rules__init(&r, 2), 0);
	assert_int_equal(unwind_rules__intern(&r, &a), 0);
	assert_int_equal(unwind_rules__intern(&r, &b), 1);
	assert_int_equal(unwind_rules__intern(&r, &a), 0);
	b.cfa_off = 32;
	assert_int_equal(unwind_rules__intern(&r, &b), -ENOSPC);
	assert_int_equal(r.n, 2);
	unwind_rules__free(&r);
}

/* xorshift: reproducible row layouts */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The BPF walker's search (bpf/unwind.bpf.h, unwind_rule) in t laid out
 * by unwind_table__place: v holds slots at.. of the row space. Each page's
 * rows must lie in one chunk. */
static const struct unwind_entry *placed_lookup(const struct unwind_table *t,
						const struct unwind_entry *v, uint64_t at,
						uint32_t chunk, uint64_t pc)
{
	uint64_t rel = pc - t->base, page = rel >> t->shift;
	const struct unwind_entry *e;
	uint32_t base, n, half, k;

	if (pc < t->base || page >= t->pages)
		return NULL;
	e = &v[page];
	assert_true(e->first >= at + t->pages && e->first <= e->last);
	if (e->first / chunk != e->last / chunk)
		fail_msg("page %" PRIu64 ": slots %u..%u cross a chunk of %u", page, e->first,
			 e->last, chunk);
	base = e->first;
	n = e->last - e->first + 1;
	for (k = 0; k < UNWIND_SEARCH_STEPS; k++) {
		half = n / 2;
		if (v[base + half - at].pc <= rel)
			base += half;
		n -= half;
	}
	e = &v[base - at];
	return e->pc <= rel ? e : NULL;
}

/* t laid out from slot `at` in chunks of `chunk` entries: every pc finds
 * the row unwind_table__lookup finds, and copies of rows at chunk
 * boundaries cost at most a page's span each. */
static void check_placed(const struct unwind_table *t, uint64_t at, uint32_t chunk, uint64_t *seed)
{
	uint64_t n, q, span = (uint64_t)t->pages << t->shift;
	struct unwind_entry *v = unwind_table__place(t, at, chunk, &n);
	uint64_t crossings = (at + n) / chunk - at / chunk;

	assert_non_null(v);
	assert_true(n >= (uint64_t)t->pages + t->n_rows);
	assert_true(n <= (uint64_t)t->pages + t->n_rows + crossings * 2 * (UNWIND_MAX_SPAN + 1));
	for (q = 0; q < span; q += 1 + rnd(seed) % 97) {
		const struct unwind_entry *a = unwind_table__lookup(t, t->base + q);
		const struct unwind_entry *b = placed_lookup(t, v, at, chunk, t->base + q);

		if (!a != !b || (a && a->rule != b->rule))
			fail_msg("pc %#" PRIx64 " from slot %" PRIu64 ", chunks of %u: row %d, want %d",
				 q, at, chunk, b ? (int)b->rule : -1, a ? (int)a->rule : -1);
	}
	free(v);
}

/* Rows at random gaps (dense runs of 1-byte rows, long functions, a huge
 * hole): every pc finds the row a linear scan finds, in the walker's
 * steps, and no page spans more rows than the walker searches; and so
 * once laid out in chunks, wherever the table starts. */
static void test_index(void **state)
{
	enum { N = 20000 };
	static struct unwind_entry rows[N];
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int layout;

	for (layout = 0; layout < 4; layout++) {
		struct unwind_table t = { .base = 0x1000 };
		uint32_t pc = 0, i, p, worst = 0;
		uint64_t q;

		for (i = 0; i < N; i++) {
			rows[i] = (struct unwind_entry){ .pc = pc, .rule = i };
			switch (layout) {
			case 0: pc += 1 + rnd(&seed) % 64; break;
			case 1: pc += 1; break;				/* 1-byte rows */
			case 2: pc += rnd(&seed) % 8 ? 1 : 4096; break;	/* dense runs */
			default: pc += i == N / 2 ? 1u << 30 : 1 + rnd(&seed) % 300; break;
			}
		}
		assert_int_equal(unwind_table__index(&t, rows, N), 0);
		assert_int_equal(t.n_rows, N);
		for (p = 0; p < t.pages; p++)
			if (t.entries[p].last - t.entries[p].first > worst)
				worst = t.entries[p].last - t.entries[p].first;
		assert_true(worst <= UNWIND_MAX_SPAN);
		/* the index stays within the rows' size, but where a hole forces
		 * small pages (shift 7 always fits the walker's span) */
		assert_true(t.pages <= N || t.shift == 7 ||
			    t.pages <= (uint32_t)(rows[N - 1].pc >> 7) + 1);
		if (layout < 3)
			assert_true(t.pages <= N);
		for (i = 0, q = 0; q <= rows[N - 1].pc; q += 1 + rnd(&seed) % 97) {
			const struct unwind_entry *e = unwind_table__lookup(&t, t.base + q);

			while (i + 1 < N && rows[i + 1].pc <= q)
				i++;
			assert_non_null(e);
			if (e->rule != i)
				fail_msg("layout %d: pc %#" PRIx64 ": row %u, want %u (shift %u, pages %u)",
					 layout, q, e->rule, i, t.shift, t.pages);
		}
		/* past the last page and before the first row: none (a table's
		 * last row is the end of its last FDE) */
		assert_null(unwind_table__lookup(&t, t.base + ((uint64_t)t.pages << t.shift)));
		assert_null(unwind_table__lookup(&t, t.base - 1));
		check_placed(&t, 0, UNWIND_CHUNK_ENTRIES, &seed);
		check_placed(&t, UNWIND_CHUNK_ENTRIES - t.pages - 3, UNWIND_CHUNK_ENTRIES, &seed);
		check_placed(&t, 5 * 4096 - 100, 4096, &seed);
		check_placed(&t, 7, 2 * (UNWIND_MAX_SPAN + 1), &seed);
		unwind_table__free(&t);
	}
}

/* A damaged index (a page with no rows, pages out of order) is laid out
 * all the same: each page's rows in one chunk, the empty page empty. */
static void test_place_damaged(void **state)
{
	struct unwind_entry e[4 + 6] = {
		{ .first = 0, .last = 2 }, { .first = 2, .last = 5 }, { .first = 0, .last = 1 },
		{ .first = 3, .last = 2 },
		{ .pc = 0, .rule = 10 }, { .pc = 16, .rule = 11 }, { .pc = 32, .rule = 12 },
		{ .pc = 48, .rule = 13 }, { .pc = 64, .rule = 14 }, { .pc = 80, .rule = 15 },
	};
	struct unwind_table t = { .entries = e, .pages = 4, .n_rows = 6, .shift = 4 };
	const uint32_t at = 1, chunk = 4;
	struct unwind_entry *v;
	uint32_t p, r;
	uint64_t n;

	(void)state;
	v = unwind_table__place(&t, at, chunk, &n);
	assert_non_null(v);
	assert_int_equal(n, 13);	/* a run restarted at a chunk, then once more */
	assert_true(v[3].last < v[3].first);
	for (p = 0; p < 3; p++) {
		assert_int_equal(v[p].last - v[p].first, e[p].last - e[p].first);
		assert_int_equal(v[p].first / chunk, v[p].last / chunk);
		for (r = e[p].first; r <= e[p].last; r++)
			assert_int_equal(v[v[p].first + (r - e[p].first) - at].rule, e[4 + r].rule);
	}
	free(v);
}

static void test_pointers(void **state)
{
	static const uint8_t sdata4[] = { 0xf0, 0xff, 0xff, 0xff }, udata2[] = { 0x34, 0x12 },
			     uleb[] = { 0xe5, 0x8e, 0x26 }, sleb[] = { 0x7f },
			     abs8[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t *p;
	uint64_t v;

	p = sdata4;	/* pcrel: relative to the field's own address */
	assert_int_equal(unwind__read_pointer(&p, sdata4 + 4, DW_EH_PE_pcrel | DW_EH_PE_sdata4,
					      0x1000, &v), 0);
	assert_int_equal(v, 0x1000 - 16);
	assert_ptr_equal(p, sdata4 + 4);
	p = udata2;
	assert_int_equal(unwind__read_pointer(&p, udata2 + 2, DW_EH_PE_udata2, 0, &v), 0);
	assert_int_equal(v, 0x1234);
	p = uleb;
	assert_int_equal(unwind__read_pointer(&p, uleb + 3, DW_EH_PE_uleb128, 0, &v), 0);
	assert_int_equal(v, 624485);
	p = sleb;
	assert_int_equal(unwind__read_pointer(&p, sleb + 1, DW_EH_PE_sleb128, 0, &v), 0);
	assert_int_equal((int64_t)v, -1);
	p = abs8;
	assert_int_equal(unwind__read_pointer(&p, abs8 + 8, DW_EH_PE_absptr, 0, &v), 0);
	assert_int_equal(v, 0x0807060504030201ull);
	/* short input, and encodings CFI ranges never use, are refused */
	p = abs8;
	assert_int_equal(unwind__read_pointer(&p, abs8 + 7, DW_EH_PE_udata8, 0, &v), -EINVAL);
	p = sdata4;
	assert_int_equal(unwind__read_pointer(&p, sdata4 + 4, DW_EH_PE_datarel | DW_EH_PE_sdata4, 0,
					      &v), -EINVAL);
	assert_ptr_equal(p, sdata4);
}


/* --- processes: the unwinder over a procfs fixture, into memory --- */

/* A sink keeping what it is given, with room for max_tables files and
 * max_procs (-ENOSPC past them). */
struct mem_sink {
	struct unwind_rule rules[UNWIND_MAX_RULES];
	struct unwind_table tables[16];	/* by file id; entries NULL: none, or pending */
	bool built[16];
	uint32_t n_tables, max_tables, n_built;
	struct unwind_proc procs[8];
	uint32_t pids[8], n_procs, max_procs, proc_calls;
};

static int mem_rules(void *ctx, const struct unwind_rule *v, uint32_t first, uint32_t n)
{
	struct mem_sink *m = ctx;

	assert_true(first + n <= UNWIND_MAX_RULES);
	memcpy(m->rules + first, v, n * sizeof(*v));
	return 0;
}

static int mem_file(void *ctx, uint32_t *file)
{
	struct mem_sink *m = ctx;

	if (m->n_tables >= m->max_tables)
		return -ENOSPC;
	*file = m->n_tables++;
	return 0;
}

static int mem_table(void *ctx, uint32_t file, const struct unwind_table *t)
{
	struct mem_sink *m = ctx;
	struct unwind_table *c = &m->tables[file];
	size_t bytes;

	assert_true(file < m->n_tables);
	assert_false(m->built[file]);	/* built once */
	m->built[file] = true;
	if (!t)
		return 0;
	bytes = ((size_t)t->pages + t->n_rows) * sizeof(*t->entries);
	*c = *t;
	c->entries = malloc(bytes);
	assert_non_null(c->entries);
	memcpy(c->entries, t->entries, bytes);
	m->n_built++;
	return 0;
}

static int mem_proc(void *ctx, uint32_t pid, const struct unwind_proc *p)
{
	struct mem_sink *m = ctx;
	uint32_t i;

	m->proc_calls++;
	for (i = 0; i < m->n_procs && m->pids[i] != pid; i++)
		;
	if (i == m->n_procs) {
		if (m->n_procs >= m->max_procs)
			return -ENOSPC;
		m->pids[m->n_procs++] = pid;
	}
	m->procs[i] = *p;
	return 0;
}

static const struct unwind_proc *mem_proc_of(const struct mem_sink *m, uint32_t pid)
{
	uint32_t i;

	for (i = 0; i < m->n_procs; i++)
		if (m->pids[i] == pid)
			return &m->procs[i];
	return NULL;
}

/* The rule the BPF walker finds for a runtime address of pid, as it finds
 * it: the mapping, the address relative to the table, the page index. */
static const struct unwind_rule *mem_rule(const struct mem_sink *m, uint32_t pid, uint64_t addr)
{
	const struct unwind_proc *p = mem_proc_of(m, pid);
	const struct unwind_entry *e;
	uint32_t i;

	for (i = 0; p && i < p->n; i++) {
		const struct unwind_mapping *mp = &p->maps[i];
		const struct unwind_table *t = &m->tables[mp->file];

		if (addr < mp->start || addr - mp->start >= mp->size)
			continue;
		if (!t->entries)	/* pending, or none */
			return NULL;
		e = unwind_table__lookup(t, addr - mp->bias);
		return e ? &m->rules[e->rule] : NULL;
	}
	return NULL;
}

static void mem_free(struct mem_sink *m)
{
	uint32_t i;

	for (i = 0; i < m->n_tables; i++)
		unwind_table__free(&m->tables[i]);
}

struct fixture {
	char root[PATH_MAX / 4];
	struct mem_sink sink;
	struct unwinder *u;
};

/* root/PID/maps holding text, and root/PID/root the real root (the
 * files the maps name are this test's own build). */
static void write_proc(const struct fixture *fx, uint32_t pid, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u", fx->root, pid);
	assert_true(!mkdir(path, 0700) || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%u/root", fx->root, pid);
	assert_true(!symlink("/", path) || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%u/maps", fx->root, pid);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A maps line mapping file (its dev and inode) executable at start. */
static void maps_line(char *out, size_t len, uint64_t start, uint64_t end, uint64_t off,
		      const char *file)
{
	struct stat st;

	assert_int_equal(stat(file, &st), 0);
	snprintf(out, len, "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64 " %02x:%02x %lu %s\n", start, end,
		 off, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino, file);
}

static void append(char *out, size_t len, const char *more)
{
	size_t n = strlen(out);

	if ((size_t)snprintf(out + n, len - n, "%s", more) >= len - n)
		fail_msg("fixture text too long");
}

/* This test's own executable mappings, as its maps say. */
static void self_exec_lines(char *out, size_t len)
{
	char line[PATH_MAX + 128];
	size_t n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " r-xp ") && (strstr(line, self_exe) || strstr(line, "[vdso]")) &&
		    n + strlen(line) < len)
			n += (size_t)snprintf(out + n, len - n, "%s", line);
	fclose(f);
}

static int fixture_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct unwinder_opts o = { 0 };

	assert_non_null(fx);
	snprintf(fx->root, sizeof(fx->root), "%s/unwind-test.XXXXXX", getenv("TMPDIR") ?
		 getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(fx->root));
	fx->sink.max_tables = 16;
	fx->sink.max_procs = 8;
	o.proc_root = fx->root;
	o.sink = (struct unwind_sink){ mem_rules, mem_file, mem_table, mem_proc, &fx->sink };
	o.lazy = *state != NULL;	/* the lazy fixture passes a non-NULL state */
	fx->u = unwinder__new(&o);
	assert_non_null(fx->u);
	*state = fx;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[PATH_MAX];

	unwinder__free(fx->u);
	mem_free(&fx->sink);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->root);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

extern char __executable_start[];

/* A process mapping this executable, the vDSO, anonymous code and a file
 * that is no ELF: tables for the first two, its mappings sorted, and every
 * address of ours gets the rule the file's own table gives it. */
static void test_process(void **state)
{
	struct fixture *fx = *state;
	const uintptr_t fns[] = { (uintptr_t)test_process, (uintptr_t)check_file,
				  (uintptr_t)readelf_read, (uintptr_t)row_agrees };
	char text[16384], line[PATH_MAX + 128], notelf[PATH_MAX / 2];
	struct unwinder_stats st;
	struct unwind_rules rules;
	struct unwind_table t;
	const struct unwind_proc *p;
	int fd;
	Elf *elf;
	size_t i;

	self_exec_lines(text, sizeof(text));
	append(text, sizeof(text), "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n");
	snprintf(notelf, sizeof(notelf), "%s/notelf", fx->root);
	fd = open(notelf, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0 && write(fd, "not an ELF file\n", 16) == 16);
	close(fd);
	maps_line(line, sizeof(line), 0x7f0000100000, 0x7f0000101000, 0, notelf);
	append(text, sizeof(text), line);
	write_proc(fx, 100, text);
	assert_int_equal(unwinder__load(fx->u, 100, 12345, false), 1);
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.files, 2);		/* this executable, the vDSO */
	assert_int_equal(st.files_no_cfi, 1);	/* the text file */
	p = mem_proc_of(&fx->sink, 100);
	assert_non_null(p);
	assert_int_equal(p->start_boottime, 12345);
	assert_true(p->n >= 2);
	for (i = 1; i < p->n; i++)
		assert_true(p->maps[i - 1].start < p->maps[i].start);

	/* the same rule as the file's own table at the function's ELF address */
	elf = open_elf(self_exe, &fd);
	assert_non_null(elf);
	assert_int_equal(unwind_rules__init(&rules, 65536), 0);
	assert_int_equal(unwind_table__build(&t, elf, NULL, &rules, UNWIND_MAX_FILE_ROWS), 0);
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		const struct unwind_entry *e = unwind_table__lookup(&t, fns[i] -
								    (uintptr_t)__executable_start);
		const struct unwind_rule *got = mem_rule(&fx->sink, 100, fns[i]);

		assert_non_null(e);
		assert_non_null(got);
		assert_memory_equal(got, &rules.v[e->rule], sizeof(*got));
		assert_int_equal(got->cfa, UNWIND_CFA_SP);	/* a function's entry */
	}
	unwind_table__free(&t);
	unwind_rules__free(&rules);
	elf_end(elf);
	close(fd);
}

/* Loaded once per start time; again when asked, or at the next load after
 * an exec; a process that is gone gets no mappings and is not an error. */
static void test_reload(void **state)
{
	struct fixture *fx = *state;
	char text[16384];
	struct unwinder_stats st;
	uint32_t calls;

	self_exec_lines(text, sizeof(text));
	write_proc(fx, 100, text);
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 1);
	calls = fx->sink.proc_calls;
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 0);
	assert_int_equal(fx->sink.proc_calls, calls);
	assert_true(unwinder__known(fx->u, 100));
	assert_int_equal(unwinder__load(fx->u, 100, 2, false), 1);	/* a new process, same pid */
	assert_int_equal(unwinder__load(fx->u, 100, 2, true), 1);	/* mapped code since */
	assert_int_equal(unwinder__exec(fx->u, 100, 2), 1);
	assert_int_equal(unwinder__load(fx->u, 100, 2, false), 1);	/* its libraries since */
	assert_int_equal(unwinder__load(fx->u, 100, 2, false), 0);
	assert_int_equal(unwinder__load(fx->u, 999, 1, false), 0);	/* no such process */
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.procs_gone, 1);
	assert_false(unwinder__known(fx->u, 4242));
}

/* Lazy (a whole-system capture): a process's files get ids, their tables
 * wait until a stack reaches them; then the one a stack's frames are in is
 * built, once, and its rules are the file's own. */
static void test_lazy(void **state)
{
	struct fixture *fx = *state;
	const uint64_t stack[] = { (uint64_t)(uintptr_t)test_lazy, 0x7f0000000010 };
	struct unwinder_stats st;
	char text[16384];

	self_exec_lines(text, sizeof(text));
	write_proc(fx, 100, text);
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 1);
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.files, 1);		/* the vDSO: small, built at once */
	assert_int_equal(st.pending, 1);	/* this executable */
	assert_null(mem_rule(&fx->sink, 100, (uintptr_t)test_lazy));
	assert_int_equal(fx->sink.n_tables, 2);	/* both have ids */
	assert_int_equal(fx->sink.n_built, 1);	/* only the vDSO's table */
	assert_int_equal(unwinder__need(fx->u, 100, stack, 2), 1);
	assert_int_equal(fx->sink.n_built, 2);
	assert_non_null(mem_rule(&fx->sink, 100, (uintptr_t)test_lazy));
	assert_int_equal(mem_rule(&fx->sink, 100, (uintptr_t)test_lazy)->cfa, UNWIND_CFA_SP);
	assert_int_equal(unwinder__need(fx->u, 100, stack, 2), 0);	/* built already */
	assert_int_equal(unwinder__need(fx->u, 4242, stack, 2), 0);	/* no such process */
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.pending, 0);
}

/* Started afresh (a long run's tables, full): every process loads again,
 * every file is built again. */
static void test_reset(void **state)
{
	struct fixture *fx = *state;
	char text[16384];
	struct unwinder_stats st;

	self_exec_lines(text, sizeof(text));
	write_proc(fx, 100, text);
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 1);
	assert_int_equal(fx->sink.n_tables, 2);
	unwinder__reset(fx->u);
	assert_false(unwinder__known(fx->u, 100));
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 1);
	assert_int_equal(fx->sink.n_tables, 4);	/* the sink forgot its own: built again */
	assert_int_equal(fx->sink.n_built, 4);
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 0);
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.procs, 2);
}

/* The kernel's side (needs root: BPF maps): a file id's entry is pending
 * (zero) until its table is in, ready after, none when it has no table or
 * the row space is full; a reset forgets processes, files and rows, and
 * ids handed out again start pending. */
static void test_maps(void **state)
{
	struct unwind_entry *e = calloc(UNWIND_CHUNK_ENTRIES + 1, sizeof(*e));
	struct unwind_table t = { .base = 0x1000, .entries = e, .pages = 1, .n_rows = 2,
				  .shift = 12 };	/* page 0: rows 0 and 1 */
	struct unwind_proc p = { .n = 1 };
	struct unwind_maps_stats ms;
	struct unwind_file f;
	struct unwind_sink s;
	struct unwind_maps *m;
	struct errmsg err;
	uint32_t id;

	(void)state;
	assert_non_null(e);
	e[0].last = 1;
	e[2].pc = 16;
	m = geteuid() ? NULL : unwind_maps__new(UNWIND_CHUNK_BYTES, &err);
	if (!m) {
		free(e);
		skip();	/* not root, or no BPF here */
	}
	s = unwind_maps__sink(m);
	assert_int_equal(s.file(s.ctx, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(unwind_maps__file(m, 0, &f), 0);
	assert_int_equal(f.state, UNWIND_FILE_PENDING);
	assert_int_equal(s.table(s.ctx, 0, &t), 0);
	assert_int_equal(unwind_maps__file(m, 0, &f), 0);
	assert_int_equal(f.state, UNWIND_FILE_READY);
	assert_int_equal(f.base, 0x1000);
	assert_int_equal(f.pages, 1);
	assert_int_equal(f.index, 0);
	assert_int_equal(f.slots, 3);
	assert_int_equal(f.n_rows, 2);
	assert_int_equal(s.file(s.ctx, &id), 0);	/* no table: frame pointers there */
	assert_int_equal(s.table(s.ctx, id, NULL), 0);
	assert_int_equal(unwind_maps__file(m, id, &f), 0);
	assert_int_equal(f.state, UNWIND_FILE_NONE);
	t.n_rows = UNWIND_CHUNK_ENTRIES;		/* past the one chunk allowed */
	e[0].last = UNWIND_CHUNK_ENTRIES - 1;
	assert_int_equal(s.file(s.ctx, &id), 0);
	assert_int_equal(s.table(s.ctx, id, &t), -ENOSPC);
	assert_int_equal(unwind_maps__file(m, id, &f), 0);
	assert_int_equal(f.state, UNWIND_FILE_NONE);
	p.maps[0] = (struct unwind_mapping){ .start = 0x400000, .size = 0x1000, .file = 0 };
	assert_int_equal(s.proc(s.ctx, 42, &p), 0);
	unwind_maps__stats(m, &ms);
	assert_int_equal(ms.files, 3);
	assert_int_equal(ms.slots, 3);
	assert_int_equal(ms.procs, 1);

	assert_int_equal(unwind_maps__reset(m), 0);
	unwind_maps__stats(m, &ms);
	assert_int_equal(ms.files, 0);
	assert_int_equal(ms.slots, 0);
	assert_int_equal(ms.procs, 0);
	assert_int_equal(unwind_maps__file(m, 0, &f), -ENOENT);
	assert_int_equal(s.file(s.ctx, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(unwind_maps__file(m, 0, &f), 0);
	assert_int_equal(f.state, UNWIND_FILE_PENDING);
	assert_int_equal(f.n_rows, 0);
	unwind_maps__free(m);
	free(e);
}

/* A file is built once: for a second process mapping it, and for a copy
 * of it elsewhere (another inode, the same build-id). */
static void test_shared(void **state)
{
	struct fixture *fx = *state;
	char text[16384], copy[PATH_MAX / 2], cmd[2 * PATH_MAX];
	struct unwinder_stats st;

	self_exec_lines(text, sizeof(text));
	write_proc(fx, 100, text);
	write_proc(fx, 101, text);
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 1);
	assert_int_equal(unwinder__load(fx->u, 101, 1, false), 1);
	snprintf(copy, sizeof(copy), "%s/copy", fx->root);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", self_exe, copy);
	assert_int_equal(system(cmd), 0);
	maps_line(text, sizeof(text), 0x555500002000, 0x555500007000, 0x2000, copy);
	write_proc(fx, 102, text);
	assert_int_equal(unwinder__load(fx->u, 102, 1, false), 1);
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.files, 2);		/* the executable and the vDSO, once */
	assert_int_equal(fx->sink.n_tables, 2);
	assert_int_equal(mem_proc_of(&fx->sink, 102)->n, 1);
	assert_int_equal(mem_proc_of(&fx->sink, 102)->maps[0].file,
			 mem_proc_of(&fx->sink, 100)->maps[0].file);
}

/* Each limit, counted when hit: no room for a table (the process keeps its
 * other mappings), for a process, for more mappings in one. */
static void test_limits(void **state)
{
	struct fixture *fx = *state;
	static char text[200 * (PATH_MAX + 128)];
	char line[PATH_MAX + 128];
	struct unwinder_stats st;
	size_t n = 0;
	int i;

	fx->sink.max_tables = 1;	/* ours (mapped below the vDSO, so first), not the vDSO's */
	self_exec_lines(text, sizeof(text));
	write_proc(fx, 100, text);
	assert_int_equal(unwinder__load(fx->u, 100, 1, false), 1);
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.tables_full, 1);
	assert_int_equal(mem_proc_of(&fx->sink, 100)->n, 1);

	for (i = 0; i < (int)UNWIND_PROC_MAPPINGS + 2; i++) {
		maps_line(line, sizeof(line), 0x100000000ull + (uint64_t)i * 0x10000,
			  0x100000000ull + (uint64_t)i * 0x10000 + 0x5000, 0x2000, self_exe);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", line);
	}
	write_proc(fx, 101, text);
	assert_int_equal(unwinder__load(fx->u, 101, 1, false), 1);
	unwinder__stats(fx->u, &st);
	assert_int_equal(mem_proc_of(&fx->sink, 101)->n, UNWIND_PROC_MAPPINGS);
	assert_int_equal(st.maps_dropped, 2);

	fx->sink.max_procs = 2;
	write_proc(fx, 102, "");
	assert_int_equal(unwinder__load(fx->u, 102, 1, false), 1);
	unwinder__stats(fx->u, &st);
	assert_int_equal(st.procs_full, 1);
}

/* A segment whose file offset and address differ (lld, gold, non-PIE):
 * ELF address 0 lands where the loader put the segment. */
static void test_mapping_bias(void **state)
{
	/* text at file offset 0x1000, ELF address 0x201000, mapped from offset
	 * 0x1000 at 0x7f0000001000: ELF 0x201230 runs at 0x7f0000001230 */
	assert_int_equal(unwind__mapping_bias(0x7f0000001000, 0x1000, 0x1000, 0x201000) + 0x201230,
			 0x7f0000001230);
	/* PIE: offset and address equal; a mapping cut from the segment's middle */
	assert_int_equal(unwind__mapping_bias(0x555500004000, 0x4000, 0x2000, 0x2000),
			 0x555500000000);
	/* non-PIE, loaded where linked: no bias */
	assert_int_equal(unwind__mapping_bias(0x401000, 0x1000, 0x1000, 0x401000), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pointers),
		cmocka_unit_test(test_rules_shared),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_place_damaged),
		cmocka_unit_test(test_readelf_self),
		cmocka_unit_test(test_readelf_workloads),
		cmocka_unit_test(test_debug_frame),
		cmocka_unit_test(test_mapping_bias),
		cmocka_unit_test_setup_teardown(test_process, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reload, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_reset, fixture_setup, fixture_teardown),
		cmocka_unit_test_prestate_setup_teardown(test_lazy, fixture_setup, fixture_teardown,
							 (void *)1),
		cmocka_unit_test(test_maps),
		cmocka_unit_test(test_tcache),
		cmocka_unit_test_setup_teardown(test_shared, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_limits, fixture_setup, fixture_teardown),
	};
	char exe[PATH_MAX];
	ssize_t n;
	int i, bad = 0;

	elf_version(EV_CURRENT);
	if (argc > 2 && !strcmp(argv[1], "--readelf")) {
		for (i = 2; i < argc; i++)
			bad |= check_file(argv[i], true);
		return bad;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(self_exe, sizeof(self_exe), "%s", exe);
		snprintf(self_dir, sizeof(self_dir), "%s", dirname(exe));
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
