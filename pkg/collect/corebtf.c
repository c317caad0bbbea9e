/* The kernel types a BPF object's CO-RE relocations need, kept on disk.
 *
 * libbpf relocates a program against the kernel's BTF: it reads and indexes
 * all of /sys/kernel/btf/vmlinux (5.5 MB here) and searches it for each
 * relocation's candidates, at every load. That was a third of a short
 * capture's CPU time. The answers depend only on the kernel and on the
 * object, so the first load on a kernel writes the part of its BTF those
 * relocations can reach to the cache directory, DIR/<key>.btf (a few KiB),
 * and every load hands that file to libbpf instead (btf_custom_path).
 *
 * What a relocation can reach: it starts from a named type (its root), finds
 * the kernel's types of the same essential name ("task_struct___old" is
 * "task_struct"), walks their members by name, through embedded structs,
 * unions, arrays and typedefs, and compares the kinds of what it reaches.
 * So the file holds every root type whole, and whole every struct or union
 * embedded in a type held whole. A pointer keeps its pointee, but a struct or
 * union reached only through pointers is an empty shell of its name and
 * size: nothing walks into it (a walk through a pointer is a relocation of
 * its own, rooted at the pointee). Offsets, sizes and names are the kernel's
 * own, so libbpf computes the same values from the file as from vmlinux.
 *
 * Relocations a subset cannot answer (the kernel's type ids, deep type
 * matches) make the object ineligible: libbpf then reads vmlinux as before.
 * The key hashes the kernel's build notes, the size of its BTF, the object's
 * bytes and bpprof's own build-id: a new kernel or a new bpprof is a miss. Nothing here
 * fails a load: any problem means libbpf reads vmlinux. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <xxhash.h>

#include "base/buf.h"
#include "base/log.h"
#include "collect/corebtf.h"
#include "fileio/fileio.h"

#define VMLINUX_BTF	"/sys/kernel/btf/vmlinux"
#define KERNEL_NOTES	"/sys/kernel/notes"	/* its build-id among them */
#define KEY_TAG		"bpprof-corebtf-1"

/* .BTF.ext's header (libbpf's btf_ext_header): offsets count from its end. */
struct ext_header {
	__u16 magic;
	__u8 version, flags;
	__u32 hdr_len;
	__u32 func_info_off, func_info_len;
	__u32 line_info_off, line_info_len;
	__u32 core_relo_off, core_relo_len;
};

/* The length of name's essential part: up to a "___flavor" suffix, as
 * libbpf matches candidates. */
static size_t essential_len(const char *name)
{
	size_t n = strlen(name), i;

	for (i = n >= 5 ? n - 5 + 1 : 0; i-- > 0;)
		if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' &&
		    name[i + 3] == '_' && name[i + 4] != '_')
			return i + 1;
	return n;
}

static int add_root(struct corebtf_roots *r, const char *name)
{
	size_t len = essential_len(name), i;
	char **grown;

	for (i = 0; i < r->n; i++)
		if (strlen(r->names[i]) == len && !strncmp(r->names[i], name, len))
			return 0;
	grown = realloc(r->names, (r->n + 1) * sizeof(*r->names));
	if (!grown)
		return -ENOMEM;
	r->names = grown;
	if (!(r->names[r->n] = strndup(name, len)))
		return -ENOMEM;
	r->n++;
	return 0;
}

/* A section's bytes, by name: 0, or -ENOENT. */
static int section(Elf *elf, const char *want, const void **data, size_t *size)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, want))
			continue;
		if (!(d = elf_rawdata(scn, NULL)) || !d->d_buf)
			return -ENOEXEC;
		*data = d->d_buf;
		*size = d->d_size;
		return 0;
	}
	return -ENOENT;
}

/* The roots of the relocations in ext (bounds checked throughout). */
static int relo_roots(const struct btf *local, const unsigned char *ext, size_t ext_size,
		      struct corebtf_roots *r)
{
	struct ext_header h = { 0 };
	const unsigned char *p, *end;
	__u32 rec_size;
	int err;

	if (ext_size < offsetof(struct ext_header, core_relo_off))
		return -ENOEXEC;
	memcpy(&h, ext, ext_size < sizeof(h) ? ext_size : sizeof(h));
	if (h.magic != 0xeB9F || h.hdr_len > ext_size)
		return -ENOEXEC;
	if (h.hdr_len < sizeof(h) || !h.core_relo_len)
		return 0;	/* no relocations */
	if (h.core_relo_off > ext_size - h.hdr_len ||
	    h.core_relo_len > ext_size - h.hdr_len - h.core_relo_off || h.core_relo_len < 4)
		return -ENOEXEC;
	p = ext + h.hdr_len + h.core_relo_off;
	end = p + h.core_relo_len;
	memcpy(&rec_size, p, 4);
	p += 4;
	if (rec_size < sizeof(struct bpf_core_relo))
		return -ENOEXEC;
	while (p < end) {
		__u32 sec[2], i;	/* name offset, records */

		if ((size_t)(end - p) < sizeof(sec))
			return -ENOEXEC;
		memcpy(sec, p, sizeof(sec));
		p += sizeof(sec);
		if (sec[1] > (size_t)(end - p) / rec_size)
			return -ENOEXEC;
		for (i = 0; i < sec[1]; i++, p += rec_size) {
			struct bpf_core_relo rel;
			const struct btf_type *t;
			const char *name;

			memcpy(&rel, p, sizeof(rel));
			if (rel.kind == BPF_CORE_TYPE_ID_LOCAL)
				continue;	/* answered by the object alone */
			if (rel.kind == BPF_CORE_TYPE_ID_TARGET || rel.kind == BPF_CORE_TYPE_MATCHES ||
			    rel.kind > BPF_CORE_TYPE_MATCHES)
				return -ENOTSUP;
			t = btf__type_by_id(local, rel.type_id);
			name = t ? btf__name_by_offset(local, t->name_off) : NULL;
			if (!name || !*name)
				return -ENOTSUP;
			err = add_root(r, name);
			if (err)
				return err;
		}
	}
	return 0;
}

int corebtf__roots(const void *obj, size_t size, struct corebtf_roots *out)
{
	const void *btf_data, *ext;
	size_t btf_size, ext_size;
	struct btf *local = NULL;
	Elf *elf;
	int err;

	memset(out, 0, sizeof(*out));
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)obj, size);	/* read only */
	if (!elf)
		return -ENOEXEC;
	err = section(elf, ".BTF", &btf_data, &btf_size);
	if (!err)
		err = section(elf, ".BTF.ext", &ext, &ext_size);
	if (!err) {
		local = btf__new(btf_data, (__u32)btf_size);
		err = local ? relo_roots(local, ext, ext_size, out) : -errno;
	}
	if (err == -ENOENT)
		err = 0;	/* no BTF or no .BTF.ext: no relocations */
	btf__free(local);
	elf_end(elf);
	if (err)
		corebtf__roots_free(out);
	return err;
}

void corebtf__roots_free(struct corebtf_roots *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->names[i]);
	free(r->names);
	memset(r, 0, sizeof(*r));
}

struct minimizer {
	const struct btf *vm;
	struct btf *out;
	__u32 *id;		/* vmlinux id → the file's (0: not yet) */
	unsigned char *flags;	/* by vmlinux id: WHOLE, ROOT */
	int err;
};

#define WHOLE	1	/* a struct or union held whole (else a shell) */
#define ROOT	2	/* a type a relocation may start from */

/* t, seen through typedefs, qualifiers and arrays: the struct or union
 * an embedded member of type t is, or 0. */
static __u32 embedded(const struct btf *vm, __u32 id)
{
	for (;;) {
		const struct btf_type *t = btf__type_by_id(vm, id);

		if (!t)
			return 0;
		if (btf_is_composite(t))
			return id;
		if (btf_is_array(t))
			id = btf_array(t)->type;
		else if (btf_is_typedef(t) || btf_is_mod(t) || btf_is_type_tag(t))
			id = t->type;
		else
			return 0;
	}
}

/* id and the structs embedded in it, transitively, are held whole. */
static void hold_whole(struct minimizer *m, __u32 id)
{
	const struct btf_type *t;
	const struct btf_member *mb;
	__u16 i;

	id = embedded(m->vm, id);
	if (!id || (m->flags[id] & WHOLE))
		return;
	m->flags[id] |= WHOLE;
	t = btf__type_by_id(m->vm, id);
	mb = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++)
		hold_whole(m, mb[i].type);
}

static __u32 emit(struct minimizer *m, __u32 id);

/* Set *at (a type id inside the file's type new_id, at byte offset off of
 * it) to the file's id of the vmlinux type it names. */
static void remap(struct minimizer *m, __u32 new_id, size_t off)
{
	__u32 *at = (__u32 *)((char *)btf__type_by_id(m->out, new_id) + off);
	__u32 mapped = emit(m, *at);

	/* emit may have grown the file: find the type again */
	at = (__u32 *)((char *)btf__type_by_id(m->out, new_id) + off);
	*at = mapped;
}

/* The file's id for vmlinux's id, adding it (and what it refers to). */
static __u32 emit(struct minimizer *m, __u32 id)
{
	const struct btf_type *t;
	int new_id;
	__u16 i, n;

	if (!id || m->id[id] || m->err)
		return m->id[id];
	t = btf__type_by_id(m->vm, id);
	if (btf_is_composite(t) && !(m->flags[id] & WHOLE)) {
		const char *name = btf__name_by_offset(m->vm, t->name_off);

		new_id = btf_is_struct(t) ? btf__add_struct(m->out, name, t->size) :
					    btf__add_union(m->out, name, t->size);
	} else {
		new_id = btf__add_type(m->out, m->vm, t);
	}
	if (new_id < 0) {
		m->err = new_id;
		return 0;
	}
	m->id[id] = (__u32)new_id;
	t = btf__type_by_id(m->out, (__u32)new_id);
	n = btf_vlen(t);
	switch (btf_kind(t)) {
	case BTF_KIND_PTR:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		remap(m, (__u32)new_id, offsetof(struct btf_type, type));
		break;
	case BTF_KIND_ARRAY:
		remap(m, (__u32)new_id, sizeof(*t) + offsetof(struct btf_array, type));
		remap(m, (__u32)new_id, sizeof(*t) + offsetof(struct btf_array, index_type));
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (i = 0; i < n; i++)
			remap(m, (__u32)new_id, sizeof(*t) + i * sizeof(struct btf_member) +
						    offsetof(struct btf_member, type));
		break;
	case BTF_KIND_FUNC_PROTO:
		remap(m, (__u32)new_id, offsetof(struct btf_type, type));
		for (i = 0; i < n; i++)
			remap(m, (__u32)new_id, sizeof(*t) + i * sizeof(struct btf_param) +
						    offsetof(struct btf_param, type));
		break;
	case BTF_KIND_INT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
	case BTF_KIND_FLOAT:
		break;
	default:	/* variables, functions, sections, decl tags: no root reaches them */
		m->err = -ENOTSUP;
	}
	return m->id[id];
}

/* Can a relocation rooted at a type named `name` start from vmlinux's t? */
static bool is_root(const struct btf_type *t, const char *name, const struct corebtf_roots *r)
{
	size_t i, len;

	switch (btf_kind(t)) {
	case BTF_KIND_VAR:
	case BTF_KIND_FUNC:
	case BTF_KIND_DATASEC:
	case BTF_KIND_DECL_TAG:
		return false;
	}
	if (!*name)
		return false;
	len = essential_len(name);
	for (i = 0; i < r->n; i++)
		if (strlen(r->names[i]) == len && !strncmp(r->names[i], name, len))
			return true;
	return false;
}

struct btf *corebtf__minimize(const struct btf *vm, const struct corebtf_roots *r)
{
	struct minimizer m = { .vm = vm };
	__u32 n = btf__type_cnt(vm), id;
	int err = 0;

	m.out = btf__new_empty();
	m.id = calloc(n, sizeof(*m.id));
	m.flags = calloc(n, 1);
	if (!m.out || !m.id || !m.flags) {
		err = -ENOMEM;
		goto out;
	}
	btf__set_pointer_size(m.out, btf__pointer_size(vm));
	/* what is held whole first, then the roots and what they reach */
	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(vm, id);

		if (is_root(t, btf__name_by_offset(vm, t->name_off), r)) {
			m.flags[id] |= ROOT;
			hold_whole(&m, id);
		}
	}
	for (id = 1; id < n && !m.err; id++)
		if (m.flags[id] & ROOT)
			emit(&m, id);
	err = m.err;
out:
	free(m.id);
	free(m.flags);
	if (err) {
		btf__free(m.out);
		errno = -err;
		return NULL;
	}
	return m.out;
}

/* What identifies the file: the kernel (build notes, BTF size), the object
 * and the bpprof that made it. */
static int file_key(const void *obj, size_t size, char name[FILEIO_CACHE_NAME])
{
	struct buf notes = { .limit = 1 << 16 };
	const uint8_t *self;
	XXH3_state_t *st = XXH3_createState();
	XXH128_canonical_t c;
	struct errmsg e;
	struct stat vs;
	int err = -ENOMEM;

	if (!st)
		return -ENOMEM;
	if (stat(VMLINUX_BTF, &vs) || fileio__read_all(KERNEL_NOTES, &notes, &e) || !notes.len) {
		err = -ENOENT;
		goto out;
	}
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, KEY_TAG, sizeof(KEY_TAG));
	XXH3_128bits_update(st, notes.data, notes.len);
	XXH3_128bits_update(st, &vs.st_size, sizeof(vs.st_size));
	XXH3_128bits_update(st, obj, size);
	XXH3_128bits_update(st, self, fileio__self_build_id(&self));
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	fileio__cache_name(c.digest, "btf", name);
	err = 0;
out:
	buf__free(&notes);
	XXH3_freeState(st);
	return err;
}

/* Make dir/name from the kernel's BTF: 0 or -errno. */
static int make_file(const void *obj, size_t size, const char *dir, const char *name)
{
	struct corebtf_roots r;
	struct btf *vm = NULL, *min = NULL;
	const void *raw;
	__u32 raw_size;
	int err;

	err = corebtf__roots(obj, size, &r);
	if (err)
		return err;
	vm = btf__load_vmlinux_btf();
	if (!vm) {
		err = -errno;
		goto out;
	}
	min = corebtf__minimize(vm, &r);
	raw = min ? btf__raw_data(min, &raw_size) : NULL;
	if (!raw) {
		err = -errno;
		goto out;
	}
	err = fileio__write_new(dir, name, raw, raw_size);
	if (!err)
		pr_debug("collect: kernel types for CO-RE: %s/%s, %u of %u types, %u bytes\n", dir,
			 name, btf__type_cnt(min) - 1, btf__type_cnt(vm) - 1, raw_size);
out:
	btf__free(min);
	btf__free(vm);
	corebtf__roots_free(&r);
	return err;
}

char *corebtf__file(const void *obj, size_t size, const char *cache_dir)
{
	char name[FILEIO_CACHE_NAME], *path;
	struct stat st;
	int err;

	if (!cache_dir || !fileio__private_dir(cache_dir) || file_key(obj, size, name))
		return NULL;
	if (asprintf(&path, "%s/%s", cache_dir, name) < 0)
		return NULL;
	if (!lstat(path, &st)) {
		/* ours and whole (22 KiB here: read twice, once here) */
		struct btf *b = S_ISREG(st.st_mode) && st.st_uid == geteuid() ?
				btf__parse_raw(path) : NULL;

		if (b) {
			btf__free(b);
			utimensat(AT_FDCWD, path, NULL, 0);	/* used: trimmed last */
			return path;
		}
		pr_debug("collect: %s is no BTF of this user's: made anew\n", path);
		unlink(path);
	}
	err = make_file(obj, size, cache_dir, name);
	if (err) {
		pr_debug("collect: no kernel types file for CO-RE in %s: %s\n", cache_dir,
			 strerror(-err));
		free(path);
		return NULL;
	}
	return path;
}
