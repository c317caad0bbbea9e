/* out_file: readers see the old file or the whole new one, never a part;
 * failures and kills leave no temporary file behind; devices, FIFOs and
 * symlinks are written through, not replaced. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "fileio/fileio.h"
#include "fileio/out_file.h"

static char dir[64];

static int make_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/bpprof-file-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int remove_dir(void **state)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* out = dir/name */
static char *at(char out[PATH_MAX], const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return out;
}

static int entries(const char *path)
{
	DIR *d = opendir(path);
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

	assert_int_equal(fileio__read_all(path, &b, &e), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf__free(&b);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static int fill_text(void *arg, struct compress_writer *w, struct errmsg *e)
{
	return compress_writer__write(w, arg, strlen(arg));
}

static int fill_invalid(void *arg, struct compress_writer *w, struct errmsg *e)
{
	compress_writer__write(w, "partial", 7);
	return errmsg__set(e, -EINVAL, "string 3 holds a NUL byte");
}

/* 1 MiB, and on failure words of its own that a write error must replace. */
static int fill_big(void *arg, struct compress_writer *w, struct errmsg *e)
{
	static const char block[4096];
	int i, err;

	for (i = 0; i < 256; i++) {
		err = compress_writer__write(w, block, sizeof(block));
		if (err)
			return errmsg__set(e, err, "encoder gave up");
	}
	return 0;
}

static void test_commit_and_abort(void **state)
{
	char path[PATH_MAX];
	struct out_file *f;
	struct errmsg e;

	at(path, "out.pb.gz");
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
	assert_int_equal(entries(dir), 1);
}

static void test_killed_leaves_nothing(void **state)
{
	char path[PATH_MAX];
	int status;
	pid_t pid;

	at(path, "out.pb.gz");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct out_file *f = out_file__open(path, NULL);

		if (f && out_file__write(f, "half", 4) == 0 && fflush(NULL) == 0)
			raise(SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(entries(dir), 0);
}

static void test_failed_fill_leaves_nothing(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 64];
	struct errmsg e;

	at(path, "out.pb.gz");
	write_text(path, "old");
	assert_int_equal(out_file__write_compressed(path, COMPRESS_GZIP, COMPRESS_LEVEL_DEFAULT,
						    fill_invalid, NULL, &e), -EINVAL);
	snprintf(want, sizeof(want), "cannot write %s: string 3 holds a NUL byte", path);
	assert_string_equal(e.text, want);
	read_back(path, "old");
	assert_int_equal(entries(dir), 1);
}

static void test_mode_follows_umask(void **state)
{
	char path[PATH_MAX];
	struct errmsg e;
	struct stat st;
	mode_t old = umask(027);
	int err;

	err = out_file__write_compressed(at(path, "out.pb"), COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT,
					 fill_text, "x", &e);
	umask(old);
	assert_int_equal(err, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_device_written_through(void **state)
{
	char path[PATH_MAX];
	struct errmsg e;
	struct stat st;

	if (mknod(at(path, "null"), S_IFCHR | 0666, makedev(1, 3))) {
		print_message("skipped: mknod: %s (needs root)\n", strerror(errno));
		return;
	}
	assert_int_equal(out_file__write_compressed(path, COMPRESS_GZIP, COMPRESS_LEVEL_DEFAULT,
						    fill_text, "gone", &e), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(entries(dir), 1);
}

static void test_fifo_written_through(void **state)
{
	char path[PATH_MAX], got[32] = "";
	struct errmsg e;
	struct stat st;
	int rd;

	assert_int_equal(mkfifo(at(path, "fifo"), 0600), 0);
	/* A reader first, so opening the FIFO for writing does not block. */
	rd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	assert_int_equal(out_file__write_compressed(path, COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT,
						    fill_text, "through", &e), 0);
	assert_int_equal(read(rd, got, sizeof(got)), 7);
	assert_memory_equal(got, "through", 7);
	close(rd);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(entries(dir), 1);
}

static void test_symlink_target_updated(void **state)
{
	char sub[PATH_MAX], target[PATH_MAX], link[PATH_MAX];
	struct errmsg e;
	struct stat st;

	assert_int_equal(mkdir(at(sub, "real"), 0700), 0);
	write_text(at(target, "real/out.pb"), "old");
	assert_int_equal(symlink("real/out.pb", at(link, "link.pb")), 0);
	assert_int_equal(out_file__write_compressed(link, COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT,
						    fill_text, "new", &e), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	read_back(target, "new");
	assert_int_equal(entries(sub), 1);
	assert_int_equal(entries(dir), 2);
}

/* A link to a file that does not exist yet creates it, as a shell's `>`
 * does (through a chain of links too); the links stay links. */
static void test_dangling_symlink_creates_target(void **state)
{
	char sub[PATH_MAX], target[PATH_MAX], link[PATH_MAX], chain[PATH_MAX], loop[PATH_MAX];
	struct errmsg e;
	struct stat st;

	assert_int_equal(mkdir(at(sub, "made"), 0700), 0);
	at(target, "made/new.pb");
	assert_int_equal(symlink("made/new.pb", at(link, "dangling.pb")), 0);
	assert_int_equal(symlink("dangling.pb", at(chain, "chain.pb")), 0);
	assert_int_equal(out_file__write_compressed(chain, COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT,
						    fill_text, "created", &e), 0);
	read_back(target, "created");
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(lstat(chain, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(entries(sub), 1);
	/* a loop is refused, naming the path */
	assert_int_equal(symlink("loop.pb", at(loop, "loop.pb")), 0);
	assert_int_equal(out_file__write_compressed(loop, COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT,
						    fill_text, "never", &e), -ELOOP);
	assert_non_null(strstr(e.text, loop));
	assert_int_equal(entries(dir), 4);
}

/* One owner per directory: a second lock is refused naming the holder's
 * pid, and the directory is free again once the first is closed. */
static void test_lock_dir(void **state)
{
	struct errmsg e = { "" };
	char want[64];
	int a, b;

	a = fileio__lock_dir(dir, ".lock", "spool", &e);
	assert_true(a >= 0);
	b = fileio__lock_dir(dir, ".lock", "spool", &e);
	assert_int_equal(b, -EBUSY);
	snprintf(want, sizeof(want), "in use by pid %d", (int)getpid());
	if (!strstr(e.text, want) || !strstr(e.text, dir))
		fail_msg("%s", e.text);
	b = fileio__lock_dir(dir, ".other.lock", "output directory", &e);
	assert_true(b >= 0);	/* another name, another lock */
	close(b);
	close(a);
	a = fileio__lock_dir(dir, ".lock", "spool", &e);
	assert_true(a >= 0);
	close(a);
}

static void test_write_error_names_path(void **state)
{
	char path[PATH_MAX], want[PATH_MAX + 64], got[ERRMSG_MAX] = "";
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	at(path, "out.pb");
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* `ulimit -f 4`: writes past 4 KiB fail with EFBIG. */
		struct rlimit rl = { 4096, 4096 };
		struct errmsg e = { "" };
		int err;

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		err = out_file__write_compressed(path, COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT,
						 fill_big, NULL, &e);
		n = write(fds[1], e.text, strlen(e.text));
		_exit(n >= 0 ? -err : 255);
	}
	close(fds[1]);
	n = read(fds[0], got, sizeof(got) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(n > 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EFBIG);
	snprintf(want, sizeof(want), "cannot write %s: %s", path, strerror(EFBIG));
	assert_string_equal(got, want);
	assert_int_equal(entries(dir), 0);
}

static void test_directory_refused(void **state)
{
	char slash[PATH_MAX], want[PATH_MAX + 32];
	struct errmsg e;

	errno = 0;
	assert_null(out_file__open(dir, &e));
	assert_int_equal(errno, EISDIR);
	snprintf(want, sizeof(want), "%s is a directory", dir);
	assert_string_equal(e.text, want);

	snprintf(slash, sizeof(slash), "%s/", dir);
	assert_int_equal(out_file__write_compressed(slash, COMPRESS_GZIP, COMPRESS_LEVEL_DEFAULT,
						    fill_text, "x", &e), -EISDIR);
	snprintf(want, sizeof(want), "%s/ is a directory", dir);
	assert_string_equal(e.text, want);
	assert_int_equal(entries(dir), 0);
}

static void test_errors(void **state)
{
	char file[PATH_MAX], below[PATH_MAX];
	struct buf b = BUF_INIT(4);
	struct errmsg e = { "" };

	errno = 0;
	assert_null(out_file__open("/nonexistent-dir/x.pb.gz", &e));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(e.text, "cannot create /nonexistent-dir/x.pb.gz"));
	write_text(at(file, "plain"), "");
	assert_int_equal(out_file__write_compressed(at(below, "plain/x.pb"), COMPRESS_NONE,
						    COMPRESS_LEVEL_DEFAULT, fill_text, "x", &e),
			 -ENOTDIR);
	assert_non_null(strstr(e.text, below));
	assert_int_equal(fileio__read_all("/nonexistent-file", &b, &e), -ENOENT);
	assert_int_equal(fileio__read_all("/tmp", &b, &e), -EISDIR);
	assert_int_equal(fileio__read_all("/etc/passwd", &b, &e), -E2BIG);
	assert_non_null(strstr(e.text, "input limit"));
	buf__free(&b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, make_dir, remove_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_commit_and_abort),
		T(test_killed_leaves_nothing),
		T(test_failed_fill_leaves_nothing),
		T(test_mode_follows_umask),
		T(test_device_written_through),
		T(test_fifo_written_through),
		T(test_symlink_target_updated),
		T(test_dangling_symlink_creates_target),
		T(test_lock_dir),
		T(test_write_error_names_path),
		T(test_directory_refused),
		T(test_errors),
	};

	return cmocka_run_group_tests_name("export/file", tests, NULL, NULL);
}
