/* The part of the kernel's BTF a BPF object's CO-RE relocations need,
 * written to the cache directory once per kernel and object, and handed to
 * libbpf instead of vmlinux's 5.5 MB (corebtf.c). */
#ifndef BPPROF_COLLECT_COREBTF_H
#define BPPROF_COLLECT_COREBTF_H
#include <stddef.h>

struct btf;

/* The essential names of the types obj's relocations start from. */
struct corebtf_roots {
	char **names;
	size_t n;
};

/* From the object's ELF bytes (.BTF and .BTF.ext): 0, -ENOTSUP when a
 * relocation needs more than a subset of the kernel's types (their ids),
 * or -errno. */
int corebtf__roots(const void *obj, size_t size, struct corebtf_roots *out);
void corebtf__roots_free(struct corebtf_roots *r);
/* A new BTF holding what relocations from roots can reach in vm: each type
 * of a root's name whole, structs embedded in those whole, structs reached
 * through pointers as empty shells of their size. NULL with errno. */
struct btf *corebtf__minimize(const struct btf *vm, const struct corebtf_roots *r);
/* The path of cache_dir's file for obj on the running kernel, made from
 * /sys/kernel/btf/vmlinux when missing (malloc'd), or NULL: no cache
 * directory, no file can be made (libbpf reads vmlinux then). */
char *corebtf__file(const void *obj, size_t size, const char *cache_dir);

#endif
