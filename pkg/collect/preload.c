/* Finding the preload library and its markers, judging whether a command
 * can load it, and the environment that makes it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gelf.h>

#include "collect/heap.h"
#include "collect/internal.h"
#include "collect/preload.h"

static const char *const marker_names[PRELOAD_MARKS] = {
	[PRELOAD_ALLOC] = PRELOAD_MARK_ALLOC,
	[PRELOAD_FREE] = PRELOAD_MARK_FREE,
	[PRELOAD_HELLO] = PRELOAD_MARK_HELLO,
};

static bool is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

int preload__find_lib(char *path, size_t len)
{
	static const char *const where[] = { "", "/../lib/bpprof" };
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		char *real;

		if ((size_t)snprintf(path, len, "%s%s/%s", exe, where[i], PRELOAD_LIB) >= len)
			continue;
		if (!is_file(path))
			continue;
		real = realpath(path, NULL);	/* no "..": the loader takes it as it is */
		if (real && strlen(real) < len)
			memcpy(path, real, strlen(real) + 1);
		free(real);
		return 0;
	}
	return -ENOENT;
}

static int scan_markers(Elf *elf, uint64_t offs[PRELOAD_MARKS], bool found[PRELOAD_MARKS])
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = elf_getdata(scn, NULL);
		GElf_Shdr sh;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !data || !sh.sh_entsize)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			const char *name;
			GElf_Sym sym;
			int k;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			for (k = 0; name && k < PRELOAD_MARKS; k++) {
				if (strcmp(name, marker_names[k]) ||
				    collect__elf_offset(elf, sym.st_value, &offs[k]))
					continue;
				found[k] = true;
			}
		}
	}
	return 0;
}

int preload__markers(const char *path, uint64_t offs[PRELOAD_MARKS])
{
	bool found[PRELOAD_MARKS] = { false };
	Elf *elf;
	int fd, k, err = 0;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		err = -ENOEXEC;
	else
		scan_markers(elf, offs, found);
	for (k = 0; !err && k < PRELOAD_MARKS; k++)
		if (!found[k])
			err = -ENOENT;
	elf_end(elf);
	close(fd);
	return err;
}

int preload__check_lib(const char *lib, char *why, size_t len)
{
	if (!strpbrk(lib, ": \t\n")) {
		why[0] = '\0';
		return 0;
	}
	snprintf(why, len, "the library's path (%s) has a ':' or a space, which LD_PRELOAD "
		 "cannot hold", lib);
	return 1;
}

/* The file execvp would run for argv0: with a '/' as it is, else the first
 * executable regular file of that name in $PATH (glibc's default when
 * unset). */
static int resolve(const char *argv0, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;

	if (strchr(argv0, '/'))
		return (size_t)snprintf(out, len, "%s", argv0) < len ? 0 : -ENAMETOOLONG;
	if (!path)
		path = "/bin:/usr/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		if ((size_t)snprintf(out, len, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "",
				     argv0) < len && is_file(out) && !access(out, X_OK))
			return 0;
		if (!*end)
			return -ENOENT;
	}
}

/* The interpreter a "#!" line names, into out (empty when it is no script). */
static int script_interpreter(int fd, char *out, size_t len)
{
	char line[PATH_MAX + 3];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
	size_t start = 2, stop;

	out[0] = '\0';
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[n] = '\0';
	start += strspn(line + start, " \t");
	stop = start + strcspn(line + start, " \t\n");
	if (stop == start || stop - start >= len)
		return -ENOEXEC;
	memcpy(out, line + start, stop - start);
	out[stop - start] = '\0';
	return 0;
}

/* The dynamic linker an ELF file names (PT_INTERP), empty for none. */
static int elf_interp(Elf *elf, char *out, size_t len)
{
	size_t i, n, size;
	const char *image = elf_rawfile(elf, &size);

	out[0] = '\0';
	if (!image || elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_INTERP)
			continue;
		if (ph.p_offset >= size || ph.p_filesz > size - ph.p_offset || !ph.p_filesz ||
		    ph.p_filesz >= len)
			return -ENOEXEC;
		memcpy(out, image + ph.p_offset, ph.p_filesz);
		out[ph.p_filesz - 1] = '\0';
	}
	return 0;
}

/* Why an ELF program cannot take LD_PRELOAD (or would hide its allocator
 * from it): 0 when it can. */
static int judge_elf(int fd, const char *path, char *why, size_t len)
{
	char interp[PATH_MAX];
	struct alloc_syms syms;
	const char *base;
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	int verdict = 0;

	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_interp(elf, interp, sizeof(interp))) {
		elf_end(elf);
		return -ENOEXEC;
	}
	base = strrchr(interp, '/');
	base = base ? base + 1 : interp;
	if (!interp[0]) {
		snprintf(why, len, "%s is statically linked", path);
		verdict = 1;
	} else if (strncmp(base, "ld-linux", 8)) {
		snprintf(why, len, "%s is not a glibc program (its loader is %s)", path, interp);
		verdict = 1;
	} else if (!alloc_syms__read(elf, &syms) && alloc_syms__allocates(&syms)) {
		snprintf(why, len, "%s defines its own malloc", path);
		verdict = 1;
	}
	elf_end(elf);
	return verdict;
}

int preload__check_command(const char *argv0, char *why, size_t len)
{
	char path[PATH_MAX], next[PATH_MAX];
	int depth, fd, err;
	struct stat st;

	why[0] = '\0';
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	err = resolve(argv0, path, sizeof(path));
	for (depth = 0; !err && depth <= PRELOAD_MAX_SCRIPT; depth++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st)) {
			err = -errno;
			break;
		}
		/* the loader ignores LD_PRELOAD in a secure execution */
		if (st.st_mode & (S_ISUID | S_ISGID) ||
		    fgetxattr(fd, "security.capability", NULL, 0) > 0) {
			snprintf(why, len, "%s is %s", path, st.st_mode & S_ISUID ? "setuid" :
				 st.st_mode & S_ISGID ? "setgid" : "given file capabilities");
			close(fd);
			return 1;
		}
		err = script_interpreter(fd, next, sizeof(next));
		if (!err && !next[0]) {
			err = judge_elf(fd, path, why, len);
			close(fd);
			return err;
		}
		close(fd);
		memcpy(path, next, sizeof(path));
	}
	return err ? err : -ELOOP;
}

char **preload__env(char *const *environ_, const char *lib, uint64_t token, uint64_t rate,
		    uint64_t live)
{
	const char *old = NULL;
	size_t n = 0, i, k = 0;
	char **env;

	while (environ_ && environ_[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++) {
		if (!strncmp(environ_[i], "LD_PRELOAD=", 11))
			old = environ_[i] + 11;
		else if (strncmp(environ_[i], PRELOAD_ENV "=", sizeof(PRELOAD_ENV)))
			env[k++] = environ_[i];
	}
	/* borrowed pointers first; the two of ours are the last two */
	if (asprintf(&env[k], "LD_PRELOAD=%s%s%s", lib, old && *old ? ":" : "",
		     old ? old : "") < 0) {
		free(env);
		return NULL;
	}
	if (asprintf(&env[k + 1], PRELOAD_ENV "=%llu:%llu:%llu", (unsigned long long)token,
		     (unsigned long long)rate, (unsigned long long)live) < 0) {
		free(env[k]);
		free(env);
		return NULL;
	}
	return env;
}

void preload__free_env(char **env)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	if (n >= 2) {
		free(env[n - 1]);
		free(env[n - 2]);
	}
	free(env);
}
