/* out_file: readers see the old file or the whole new one, never a part;
 * failures leave no temporary file behind. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "export/file.h"

static char dir[] = "/tmp/bpprof-file-XXXXXX";

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void read_back(const char *path, const char *want)
{
	struct buf b = BUF_INIT(0);
	struct errmsg e;

	assert_int_equal(file__read_all(path, &b, &e), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf__free(&b);
}

static void test_commit_and_abort(void **state)
{
	char path[64];
	struct out_file *f;
	struct errmsg e;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.pb.gz", dir);
	f = out_file__open(path, &e);
	assert_non_null(f);
	assert_int_equal(out_file__write(f, "first", 5), 0);
	/* not visible under its name before commit */
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(out_file__commit(f, &e), 0);
	read_back(path, "first");

	f = out_file__open(path, &e);
	assert_non_null(f);
	assert_int_equal(out_file__write(f, "second, unfinished", 18), 0);
	out_file__abort(f);
	read_back(path, "first");
	assert_int_equal(entries(), 1);
	unlink(path);
	rmdir(dir);
}

static void test_errors(void **state)
{
	struct buf b = BUF_INIT(4);
	struct errmsg e = { "" };

	assert_null(out_file__open("/nonexistent-dir/x.pb.gz", &e));
	assert_non_null(strstr(e.text, "cannot create /nonexistent-dir/x.pb.gz"));
	assert_int_equal(file__read_all("/nonexistent-file", &b, &e), -ENOENT);
	assert_int_equal(file__read_all("/tmp", &b, &e), -EISDIR);
	assert_int_equal(file__read_all("/etc/passwd", &b, &e), -E2BIG);
	assert_non_null(strstr(e.text, "input limit"));
	buf__free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_and_abort),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("export/file", tests, NULL, NULL);
}
