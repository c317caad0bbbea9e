/* The kernel types file's contents (corebtf.c), from a BTF made here: no
 * host state. Its agreement with libbpf's relocation against the running
 * kernel is checked end to end (tests/corebtf). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <bpf/btf.h>

#include "bpf/cpu.skel.h"
#include "collect/corebtf.h"

/* A kernel of a few types:
 *   struct list_head { struct list_head *next, *prev; };
 *   struct mm_struct { int x; ... 64 bytes };
 *   typedef int pid_t;
 *   struct task_struct {
 *           pid_t pid;
 *           struct { unsigned long long a, exec_vm; };
 *           struct mm_struct *mm;
 *           struct list_head tasks;
 *           int ids[4];
 *   };
 *   struct unrelated { int y; };
 *   enum state { RUNNING = 1 }; */
static struct btf *kernel(void)
{
	struct btf *b = btf__new_empty();
	int i32, u64, lh_ptr, lh, mm_ptr, mm, anon, pid, arr, task;

	assert_non_null(b);
	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	lh_ptr = btf__add_ptr(b, (int)btf__type_cnt(b) + 1);
	lh = btf__add_struct(b, "list_head", 16);
	assert_int_equal(lh, lh_ptr + 1);
	assert_int_equal(btf__add_field(b, "next", lh_ptr, 0, 0), 0);
	assert_int_equal(btf__add_field(b, "prev", lh_ptr, 64, 0), 0);
	mm_ptr = btf__add_ptr(b, (int)btf__type_cnt(b) + 1);
	mm = btf__add_struct(b, "mm_struct", 64);
	assert_int_equal(mm, mm_ptr + 1);
	assert_int_equal(btf__add_field(b, "x", i32, 0, 0), 0);
	anon = btf__add_struct(b, NULL, 16);
	assert_int_equal(btf__add_field(b, "a", u64, 0, 0), 0);
	assert_int_equal(btf__add_field(b, "exec_vm", u64, 64, 0), 0);
	pid = btf__add_typedef(b, "pid_t", i32);
	arr = btf__add_array(b, i32, i32, 4);
	task = btf__add_struct(b, "task_struct", 64);
	assert_true(task > 0);
	assert_int_equal(btf__add_field(b, "pid", pid, 0, 0), 0);
	assert_int_equal(btf__add_field(b, NULL, anon, 64, 0), 0);
	assert_int_equal(btf__add_field(b, "mm", mm_ptr, 192, 0), 0);
	assert_int_equal(btf__add_field(b, "tasks", lh, 256, 0), 0);
	assert_int_equal(btf__add_field(b, "ids", arr, 384, 0), 0);
	assert_true(btf__add_struct(b, "unrelated", 4) > 0);
	assert_int_equal(btf__add_field(b, "y", i32, 0, 0), 0);
	assert_true(btf__add_enum(b, "state", 4) > 0);
	assert_int_equal(btf__add_enum_value(b, "RUNNING", 1), 0);
	return b;
}

static const struct btf_type *find(const struct btf *b, const char *name, __u32 kind)
{
	__s32 id = btf__find_by_name_kind(b, name, kind);

	return id > 0 ? btf__type_by_id(b, (__u32)id) : NULL;
}

/* The file, written and read back as libbpf reads it. */
static struct btf *minimized(const struct btf *vm, char **names, size_t n)
{
	struct corebtf_roots r = { names, n };
	struct btf *min = corebtf__minimize(vm, &r), *back;
	const void *raw;
	__u32 size;

	assert_non_null(min);
	raw = btf__raw_data(min, &size);
	assert_non_null(raw);
	back = btf__new(raw, size);
	assert_non_null(back);
	btf__free(min);
	return back;
}

/* A root whole, what it embeds whole, what it points to a shell of the
 * same size, the rest left out; offsets and names the kernel's. */
static void test_minimize(void **state)
{
	char *roots[] = { "task_struct" };
	struct btf *vm = kernel(), *min = minimized(vm, roots, 1);
	const struct btf_type *t = find(min, "task_struct", BTF_KIND_STRUCT), *u;
	const struct btf_member *m;
	const struct btf_array *a;

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->size, 64);
	assert_int_equal(btf_vlen(t), 5);
	m = btf_members(t);
	assert_string_equal(btf__name_by_offset(min, m[2].name_off), "mm");
	assert_int_equal(btf_member_bit_offset(t, 2), 192);
	assert_int_equal(btf_member_bit_offset(t, 3), 256);
	/* the anonymous struct embedded: whole, its members where they were */
	u = btf__type_by_id(min, m[1].type);
	assert_true(btf_is_struct(u));
	assert_int_equal(btf_vlen(u), 2);
	assert_string_equal(btf__name_by_offset(min, btf_members(u)[1].name_off), "exec_vm");
	assert_int_equal(btf_member_bit_offset(u, 1), 64);
	/* pid through its typedef; the array's length */
	u = btf__type_by_id(min, m[0].type);
	assert_true(btf_is_typedef(u));
	assert_string_equal(btf__name_by_offset(min, u->name_off), "pid_t");
	assert_int_equal(btf__resolve_size(min, m[0].type), 4);
	a = btf_array(btf__type_by_id(min, m[4].type));
	assert_int_equal(a->nelems, 4);
	assert_int_equal(btf__resolve_size(min, m[4].type), 16);
	/* embedded: whole, although it points to itself */
	u = find(min, "list_head", BTF_KIND_STRUCT);
	assert_non_null(u);
	assert_int_equal(btf_vlen(u), 2);
	assert_ptr_equal(btf__type_by_id(min, btf__type_by_id(min, btf_members(u)[0].type)->type), u);
	/* only pointed to: a shell of its size */
	u = btf__type_by_id(min, btf__type_by_id(min, m[2].type)->type);
	assert_true(btf_is_struct(u));
	assert_string_equal(btf__name_by_offset(min, u->name_off), "mm_struct");
	assert_int_equal(btf_vlen(u), 0);
	assert_int_equal(u->size, 64);
	/* what no root reaches */
	assert_null(find(min, "unrelated", BTF_KIND_STRUCT));
	assert_null(find(min, "state", BTF_KIND_ENUM));
	btf__free(min);
	btf__free(vm);
}

/* Roots of other kinds: a typedef and what it names; an enum whole. */
static void test_minimize_other_roots(void **state)
{
	char *roots[] = { "pid_t", "state", "absent" };
	struct btf *vm = kernel(), *min = minimized(vm, roots, 3);
	const struct btf_type *t;

	(void)state;
	t = find(min, "pid_t", BTF_KIND_TYPEDEF);
	assert_non_null(t);
	assert_int_equal(btf__resolve_size(min, btf__find_by_name_kind(min, "pid_t",
								      BTF_KIND_TYPEDEF)), 4);
	t = find(min, "state", BTF_KIND_ENUM);
	assert_non_null(t);
	assert_int_equal(btf_vlen(t), 1);
	assert_string_equal(btf__name_by_offset(min, btf_enum(t)[0].name_off), "RUNNING");
	assert_null(find(min, "task_struct", BTF_KIND_STRUCT));
	assert_int_equal(btf__type_cnt(min), 4);	/* void, pid_t, int, state */
	btf__free(min);
	btf__free(vm);
}

/* The sampling object's roots: the kernel types its programs read, each
 * once, by essential name; bytes that are no object are an error. */
static void test_roots(void **state)
{
	struct corebtf_roots r;
	size_t size, i, j;
	const void *obj = cpu_bpf__elf_bytes(&size);
	char junk[256];
	bool task = false, regs = false;

	(void)state;
	assert_int_equal(corebtf__roots(obj, size, &r), 0);
	assert_true(r.n > 0);
	for (i = 0; i < r.n; i++) {
		assert_null(strstr(r.names[i], "___"));
		task |= !strcmp(r.names[i], "task_struct");
		regs |= !strcmp(r.names[i], "pt_regs");
		for (j = 0; j < i; j++)
			assert_string_not_equal(r.names[i], r.names[j]);
	}
	assert_true(task && regs);
	corebtf__roots_free(&r);
	memset(junk, 0x5a, sizeof(junk));
	assert_int_not_equal(corebtf__roots(junk, sizeof(junk), &r), 0);
	assert_int_equal(r.n, 0);
	/* the object cut short: an error or no roots, never a crash */
	for (i = 64; i < size; i += size / 16 + 1) {
		if (!corebtf__roots(obj, i, &r))
			corebtf__roots_free(&r);
		assert_int_equal(r.n, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimize),
		cmocka_unit_test(test_minimize_other_roots),
		cmocka_unit_test(test_roots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
