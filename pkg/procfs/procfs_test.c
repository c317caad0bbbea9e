/* procfs: the maps, stat and status parsers on testdata/procfs fixtures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/lines.h"
#include "procfs/procfs.h"

#define FIXTURES "testdata/procfs"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *p;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

struct maps_seen {
	struct proc_map m[32];
	char paths[32][128];
	size_t n, non_exec, bad;
};

static int maps_seen__line(void *ctx, const char *line, size_t len)
{
	struct maps_seen *ms = ctx;
	struct proc_map m;
	int r = procfs__parse_maps_line(line, len, &m);

	if (r < 0) {
		ms->bad++;
	} else if (r == 0) {
		ms->non_exec++;
	} else {
		assert_true(ms->n < 32 && m.path_len < 128);
		memcpy(ms->paths[ms->n], m.path, m.path_len);
		ms->paths[ms->n][m.path_len] = '\0';
		ms->m[ms->n++] = m;
	}
	return 0;
}

static void test_maps_parse(void **state)
{
	static struct maps_seen ms;
	size_t len;
	char *text = read_file(FIXTURES "/maps-edge", &len);

	memset(&ms, 0, sizeof(ms));
	assert_int_equal(lines__each(text, len, maps_seen__line, &ms), 0);
	assert_int_equal(ms.non_exec, 1);
	assert_int_equal(ms.bad, 4);	/* garbage, start > end, short perms, bad offset */
	assert_int_equal(ms.n, 10);

	assert_int_equal(ms.m[0].start, 0x55d0c0a2e000ull);
	assert_int_equal(ms.m[0].end, 0x55d0c0b0d000ull);
	assert_int_equal(ms.m[0].offset, 0x2e000);
	assert_int_equal(ms.m[0].dev_major, 8);
	assert_int_equal(ms.m[0].dev_minor, 1);
	assert_int_equal(ms.m[0].inode, 1048600);
	assert_string_equal(ms.paths[0], "/usr/bin/bash");
	assert_false(ms.m[0].deleted);

	assert_int_equal(ms.m[1].path_len, 0);		/* rwxp anonymous, trailing blank */
	assert_int_equal(ms.m[2].path_len, 0);		/* no trailing blank */
	assert_string_equal(ms.paths[3], "[anon:jit code]");
	assert_string_equal(ms.paths[4], "/opt/my app/lib/lib with spaces.so");
	assert_int_equal(ms.m[4].dev_major, 0xfd);
	assert_int_equal(ms.m[4].dev_minor, 2);
	assert_string_equal(ms.paths[5], "/memfd:jit-cache");
	assert_true(ms.m[5].deleted);
	assert_string_equal(ms.paths[6], "/usr/lib/old.so");
	assert_true(ms.m[6].deleted);
	assert_string_equal(ms.paths[7], "[vdso]");
	assert_string_equal(ms.paths[8], "[vsyscall]");
	assert_int_equal(ms.m[8].start, 0xffffffffff600000ull);
	assert_int_equal(ms.m[9].dev_major, 0x103);
	assert_string_equal(ms.paths[9], "/dev/major/has/three/digits");
	free(text);
}

static void test_stat_status_parse(void **state)
{
	static const char status[] = "Name:\tx\nNStgid:\t4242\t7\nNSpid:\t4242\t7\nNSpgid:\t1\n";
	static const char flat[] = "Name:\tx\nNSpid:\t99\n";
	uint64_t start = 0;
	uint32_t nspid = 0;
	size_t len;
	char *text = read_file(FIXTURES "/stat-weird-comm", &len);

	/* comm "a) (b ) S 9 9 " would fool a parser that stops at the first ')' */
	assert_int_equal(procfs__start_time(text, len, &start), 0);
	assert_int_equal(start, 987654321);
	assert_int_equal(procfs__start_time(text, 60, &start), -EINVAL);	/* cut short */
	assert_int_equal(procfs__start_time("12 (x", 5, &start), -EINVAL);
	free(text);

	assert_int_equal(procfs__nspid(status, sizeof(status) - 1, &nspid), 0);
	assert_int_equal(nspid, 7);
	assert_int_equal(procfs__nspid(flat, sizeof(flat) - 1, &nspid), 0);
	assert_int_equal(nspid, 99);
	assert_int_equal(procfs__nspid("Name:\tx\n", 8, &nspid), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_parse),
		cmocka_unit_test(test_stat_status_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
