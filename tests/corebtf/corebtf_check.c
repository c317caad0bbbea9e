/* The kernel types file of pkg/collect/corebtf.c checked against libbpf on
 * this machine, for the end-to-end tests (the unit tests read no host state):
 *   corebtf_check OBJ.bpf.o...
 * For each object, makes the file from /sys/kernel/btf/vmlinux as bpprof
 * does, loads the object twice (libbpf relocating against vmlinux, then
 * against the file) and compares every program's instructions after
 * relocation, map references aside (their descriptors differ). Says how
 * many relocated instructions each program has and the file's size.
 * Exit 0 when all agree, 1 with a line on stderr for the first that does
 * not. Needs root (the loads). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "base/buf.h"
#include "collect/corebtf.h"
#include "fileio/fileio.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static struct bpf_object *load(const char *path, const char *btf)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .btf_custom_path = btf);
	struct bpf_object *obj = bpf_object__open_file(path, &o);

	if (!obj) {
		fprintf(stderr, "corebtf_check: %s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "corebtf_check: %s: cannot load against %s: %s\n", path,
			btf ? btf : "vmlinux", strerror(errno));
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

/* A map reference's descriptor is the load's own. */
static bool same(const struct bpf_insn *a, const struct bpf_insn *b, size_t i, size_t n)
{
	struct bpf_insn x = a[i], y = b[i];

	if (x.code == (BPF_LD | BPF_DW | BPF_IMM) &&
	    (x.src_reg == BPF_PSEUDO_MAP_FD || x.src_reg == BPF_PSEUDO_MAP_VALUE ||
	     x.src_reg == BPF_PSEUDO_MAP_IDX || x.src_reg == BPF_PSEUDO_MAP_IDX_VALUE))
		x.imm = y.imm = 0;
	(void)n;
	return !memcmp(&x, &y, sizeof(x));
}

static int check(const char *path)
{
	struct buf elf = { .limit = 64 << 20 };
	struct corebtf_roots roots;
	struct btf *vm = NULL, *min = NULL;
	struct bpf_object *full = NULL, *part = NULL;
	struct bpf_program *p, *q;
	char tmp[] = "/tmp/corebtf_check.XXXXXX";
	const void *raw;
	struct errmsg e;
	__u32 raw_size;
	int fd = -1, bad = 1;

	if (fileio__read_all(path, &elf, &e)) {
		fprintf(stderr, "corebtf_check: %s\n", e.text);
		return 1;
	}
	if (corebtf__roots(elf.data, elf.len, &roots)) {
		fprintf(stderr, "corebtf_check: %s: its relocations need more than a subset\n", path);
		goto out;
	}
	vm = btf__load_vmlinux_btf();
	min = vm ? corebtf__minimize(vm, &roots) : NULL;
	raw = min ? btf__raw_data(min, &raw_size) : NULL;
	fd = mkstemp(tmp);
	if (!raw || fd < 0 || write(fd, raw, raw_size) != (ssize_t)raw_size) {
		fprintf(stderr, "corebtf_check: %s: cannot make the file: %s\n", path, strerror(errno));
		goto out;
	}
	full = load(path, NULL);
	part = full ? load(path, tmp) : NULL;
	if (!part)
		goto out;
	printf("%s: %zu root types, %u of %u kernel types, %u bytes\n", path, roots.n,
	       btf__type_cnt(min) - 1, btf__type_cnt(vm) - 1, raw_size);
	q = bpf_object__next_program(part, NULL);
	bpf_object__for_each_program(p, full) {
		const struct bpf_insn *a = bpf_program__insns(p), *b;
		size_t n = bpf_program__insn_cnt(p), i;

		if (!q || strcmp(bpf_program__name(p), bpf_program__name(q)) ||
		    bpf_program__insn_cnt(q) != n || !(b = bpf_program__insns(q)) || !a) {
			fprintf(stderr, "corebtf_check: %s: program %s differs in size\n", path,
				bpf_program__name(p));
			goto out;
		}
		for (i = 0; i < n; i++)
			if (!same(a, b, i, n)) {
				fprintf(stderr, "corebtf_check: %s: %s: instruction %zu differs "
					"(%02x %d %d %d %d against %02x %d %d %d %d)\n", path,
					bpf_program__name(p), i, a[i].code, a[i].dst_reg,
					a[i].src_reg, a[i].off, a[i].imm, b[i].code, b[i].dst_reg,
					b[i].src_reg, b[i].off, b[i].imm);
				goto out;
			}
		printf("  %s: %zu instructions, the same\n", bpf_program__name(p), n);
		q = bpf_object__next_program(part, q);
	}
	bad = 0;
out:
	bpf_object__close(full);
	bpf_object__close(part);
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	btf__free(min);
	btf__free(vm);
	corebtf__roots_free(&roots);
	buf__free(&elf);
	return bad;
}

int main(int argc, char **argv)
{
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: corebtf_check OBJ.bpf.o...\n");
		return 2;
	}
	libbpf_set_print(quiet);
	for (i = 1; i < argc; i++)
		if (check(argv[i]))
			return 1;
	return 0;
}
