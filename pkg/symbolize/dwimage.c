/* The debug sections a lookup needs, copied out of a file into an ELF
 * image of their own that elf_memory() opens for libdw. Copied, not
 * mapped, so a file truncated later cannot fault us; decompressed here
 * (libdeflate inflates about three times as fast as the zlib libelf uses,
 * and zstd sections are read too); the sections lookups never use
 * (location lists, macros, name indexes: a fifth of Debian's libc debug
 * file) are left out, so nothing reads or inflates them. An image of
 * compressed sections is kept on disk for the next run (dwcache.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <libdeflate.h>
#include <zstd.h>

#include "symbolize/internal.h"

#ifndef ELFCOMPRESS_ZSTD
#define ELFCOMPRESS_ZSTD 2
#endif
#define MAX_PARTS 16
#define HUGE_IMAGE (4u << 20)	/* an image this big goes on transparent huge pages */
#define HEAD_KEY (2 * BUILD_ID_MAX + 64)	/* a cache key's text before the parts' */

/* What libdw reads for units, their address ranges, DIEs and line
 * tables (and the link to a dwz file of shared DIEs). */
static const char *const wanted[] = {
	".debug_info", ".debug_abbrev", ".debug_line", ".debug_str", ".debug_line_str",
	".debug_aranges", ".debug_rnglists", ".debug_ranges", ".debug_str_offsets",
	".debug_addr", ".gnu_debugaltlink",
};

enum how { PLAIN, ZLIB, ZSTD };

struct part {
	const char *name;	/* one of wanted */
	uint64_t at, stored;	/* the bytes in the file */
	uint64_t size;		/* as they are in the image */
	uint64_t image_off;
	uint32_t name_off;	/* in the image's .shstrtab */
	enum how how;
};

static bool read_at(int fd, void *buf, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf = (char *)buf + n;
		len -= (uint64_t)n;
		off += (uint64_t)n;
	}
	return true;
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* How the section's bytes are stored: its header read and skipped. */
static int part__header(struct part *p, int fd, int cls, const GElf_Shdr *sh, bool gnu_z)
{
	unsigned char hdr[24];
	Elf64_Chdr c64;
	Elf32_Chdr c32;
	size_t len = 0;
	uint32_t type;

	p->at = sh->sh_offset;
	p->stored = p->size = sh->sh_size;
	p->how = PLAIN;
	if (gnu_z) {
		/* "ZLIB" and the size, big-endian */
		len = 12;
		if (p->stored < len || !read_at(fd, hdr, len, p->at) || memcmp(hdr, "ZLIB", 4))
			return -ENOEXEC;
		p->how = ZLIB;
		p->size = be64(hdr + 4);
	} else if (sh->sh_flags & SHF_COMPRESSED) {
		if (cls == ELFCLASS64) {
			len = sizeof(c64);
			if (p->stored < len || !read_at(fd, &c64, len, p->at))
				return -ENOEXEC;
			type = c64.ch_type;
			p->size = c64.ch_size;
		} else {
			len = sizeof(c32);
			if (p->stored < len || !read_at(fd, &c32, len, p->at))
				return -ENOEXEC;
			type = c32.ch_type;
			p->size = c32.ch_size;
		}
		if (type != ELFCOMPRESS_ZLIB && type != ELFCOMPRESS_ZSTD)
			return -ENOEXEC;
		p->how = type == ELFCOMPRESS_ZLIB ? ZLIB : ZSTD;
	}
	p->at += len;
	p->stored -= len;
	return 0;
}

/* The wanted sections of elf: their names, where they are, their sizes. */
static int parts__find(Elf *elf, int fd, int cls, uint64_t max, struct part *parts, size_t *n,
		       uint64_t *total)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, i;
	bool info = false;
	int err;

	*n = 0;
	*total = 0;
	if (elf_getshdrstrndx(elf, &shstrndx))
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		bool gnu_z;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !sh.sh_size ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		gnu_z = !strncmp(name, ".zdebug_", 8);
		for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
			if (gnu_z ? !strcmp(name + 2, wanted[i] + 1) : !strcmp(name, wanted[i]))
				break;
		if (i == sizeof(wanted) / sizeof(wanted[0]) || *n == MAX_PARTS)
			continue;
		parts[*n].name = wanted[i];
		err = part__header(&parts[*n], fd, cls, &sh, gnu_z);
		if (err)
			return err;
		if (parts[*n].size > max - *total)
			return -E2BIG;
		*total += parts[*n].size;
		info |= i == 0;
		(*n)++;
	}
	return info ? 0 : -ENOENT;
}

static int part__fill(const struct part *p, int fd, char *dst,
		      struct libdeflate_decompressor **inflater)
{
	size_t got = 0;
	void *src;
	int err = 0;

	if (p->how == PLAIN)
		return read_at(fd, dst, p->size, p->at) ? 0 : -ENOEXEC;
	src = malloc(p->stored ? p->stored : 1);
	if (!src)
		return -ENOMEM;
	if (!read_at(fd, src, p->stored, p->at)) {
		err = -ENOEXEC;
	} else if (p->how == ZLIB) {
		if (!*inflater && !(*inflater = libdeflate_alloc_decompressor()))
			err = -ENOMEM;
		else if (libdeflate_zlib_decompress(*inflater, src, p->stored, dst, p->size, &got) !=
				 LIBDEFLATE_SUCCESS ||
			 got != p->size)
			err = -ENOEXEC;
	} else {
		got = ZSTD_decompress(dst, p->size, src, p->stored);
		if (ZSTD_isError(got) || got != p->size)
			err = -ENOEXEC;
	}
	free(src);
	return err;
}

#define ALIGN8(x) (((x) + 7) & ~(uint64_t)7)

/* The image: ELF header, the sections' bytes, .shstrtab, section headers,
 * in the file's class and this machine's byte order. */
static void image__headers(char *img, int cls, const GElf_Ehdr *src, const struct part *parts,
			   size_t n, uint64_t strtab_off, uint64_t strtab_len, uint64_t shoff)
{
	size_t i;

	if (cls == ELFCLASS64) {
		Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
		Elf64_Shdr *sh = (Elf64_Shdr *)(img + shoff);

		memcpy(eh->e_ident, src->e_ident, EI_NIDENT);
		eh->e_type = src->e_type;
		eh->e_machine = src->e_machine;
		eh->e_version = EV_CURRENT;
		eh->e_ehsize = sizeof(*eh);
		eh->e_shentsize = sizeof(*sh);
		eh->e_shoff = shoff;
		eh->e_shnum = (uint16_t)(n + 2);
		eh->e_shstrndx = (uint16_t)(n + 1);
		for (i = 0; i < n; i++)
			sh[i + 1] = (Elf64_Shdr){ .sh_name = parts[i].name_off, .sh_type = SHT_PROGBITS,
						  .sh_offset = parts[i].image_off, .sh_size = parts[i].size,
						  .sh_addralign = 1 };
		sh[n + 1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = strtab_off,
					  .sh_size = strtab_len, .sh_addralign = 1 };
	} else {
		Elf32_Ehdr *eh = (Elf32_Ehdr *)img;
		Elf32_Shdr *sh = (Elf32_Shdr *)(img + shoff);

		memcpy(eh->e_ident, src->e_ident, EI_NIDENT);
		eh->e_type = src->e_type;
		eh->e_machine = src->e_machine;
		eh->e_version = EV_CURRENT;
		eh->e_ehsize = sizeof(*eh);
		eh->e_shentsize = sizeof(*sh);
		eh->e_shoff = (Elf32_Off)shoff;
		eh->e_shnum = (uint16_t)(n + 2);
		eh->e_shstrndx = (uint16_t)(n + 1);
		for (i = 0; i < n; i++)
			sh[i + 1] = (Elf32_Shdr){ .sh_name = parts[i].name_off, .sh_type = SHT_PROGBITS,
						  .sh_offset = (Elf32_Off)parts[i].image_off,
						  .sh_size = (Elf32_Word)parts[i].size, .sh_addralign = 1 };
		sh[n + 1] = (Elf32_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB,
					  .sh_offset = (Elf32_Off)strtab_off,
					  .sh_size = (Elf32_Word)strtab_len, .sh_addralign = 1 };
	}
}

/* Zeroed room for an image; *mapped tells dwimage__free how it was had.
 * An image of libc's size (8 MiB once inflated) is mapped and offered to
 * transparent huge pages (where they are madvise-only, as here): its pages
 * are each written once, and 2 MiB faults instead of 4 KiB ones took a
 * quarter of a capture's page faults away (6,870 -> 5,300). */
static char *image__alloc(size_t size, bool *mapped)
{
	char *p;

	*mapped = size >= HUGE_IMAGE;
	if (!*mapped)
		return calloc(1, size);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, size, MADV_HUGEPAGE);	/* advice: nothing lost without it */
	return p;
}

/* What identifies an image of compressed sections, for dwcache.c: the
 * file's build-id and where and how each part is stored. false: nothing
 * to cache (no compressed part, or no build-id to know the file by). */
static bool image__key(struct dwcache_key *k, Elf *elf, const struct part *parts, size_t n,
		       uint64_t size)
{
	unsigned char what[HEAD_KEY + MAX_PARTS * 64];
	struct elf_info ei;
	size_t len = 0, i;
	bool compressed = false;

	for (i = 0; i < n; i++)
		compressed |= parts[i].how != PLAIN;
	if (!compressed || elfinfo__read(elf, &ei) || !ei.build_id[0])
		return false;
	len = (size_t)snprintf((char *)what, HEAD_KEY, "bpprof-dwimage-1 %s %llu", ei.build_id,
			       (unsigned long long)size);
	if (len >= HEAD_KEY)
		return false;
	for (i = 0; i < n; i++) {
		uint64_t v[4] = { parts[i].at, parts[i].stored, parts[i].size, parts[i].how };
		size_t name_len = strlen(parts[i].name);

		memcpy(what + len, parts[i].name, name_len);
		memcpy(what + len + name_len, v, sizeof(v));
		len += name_len + sizeof(v);
	}
	dwcache__key(k, what, len);
	return true;
}

int dwimage__read(struct dwimage *img, Elf *elf, int fd, uint64_t max, const char *cache_dir)
{
	static const char shstrtab[] = ".shstrtab";
	struct libdeflate_decompressor *inflater = NULL;
	struct dwcache_key key;
	struct dwcache_new nw;
	struct part parts[MAX_PARTS];
	bool cached;
	uint64_t total, off, strtab_off, strtab_len = 1 + sizeof(shstrtab), shoff;
	size_t n, i;
	GElf_Ehdr eh;
	const int native = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
	int cls, err;
	char *p;

	memset(img, 0, sizeof(*img));
	cls = gelf_getclass(elf);
	if (!gelf_getehdr(elf, &eh) || (cls != ELFCLASS64 && cls != ELFCLASS32) ||
	    eh.e_ident[EI_DATA] != native || eh.e_type == ET_REL)
		return -ENOEXEC;
	err = parts__find(elf, fd, cls, max < DWARF_MAX_FILE_BYTES ? max : DWARF_MAX_FILE_BYTES, parts,
			  &n, &total);
	if (err)
		return err;
	off = cls == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	for (i = 0; i < n; i++) {
		parts[i].image_off = off = ALIGN8(off);
		parts[i].name_off = (uint32_t)strtab_len;
		strtab_len += strlen(parts[i].name) + 1;
		off += parts[i].size;
	}
	strtab_off = off;
	shoff = ALIGN8(strtab_off + strtab_len);
	img->size = shoff + (n + 2) * (cls == ELFCLASS64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr));
	if (cls == ELFCLASS32 && img->size > UINT32_MAX)
		return -E2BIG;
	cached = cache_dir && image__key(&key, elf, parts, n, img->size);
	if (cached && !dwcache__load(cache_dir, &key, img->size, img))
		return 0;
	if (cached && dwcache__create(cache_dir, &key, img->size, img, &nw))
		cached = false;
	if (!cached && !(img->data = image__alloc(img->size, &img->mapped)))
		return -ENOMEM;
	for (i = 0; i < n && !err; i++)
		err = part__fill(&parts[i], fd, img->data + parts[i].image_off, &inflater);
	libdeflate_free_decompressor(inflater);
	if (err) {
		if (cached)
			dwcache__abort(&nw);
		dwimage__free(img);
		return err;
	}
	p = img->data + strtab_off + 1;
	memcpy(p, shstrtab, sizeof(shstrtab));
	for (i = 0, p += sizeof(shstrtab); i < n; i++) {
		memcpy(p, parts[i].name, strlen(parts[i].name) + 1);
		p += strlen(parts[i].name) + 1;
	}
	image__headers(img->data, cls, &eh, parts, n, strtab_off, strtab_len, shoff);
	if (cached)
		dwcache__commit(&nw, &key, img, DWCACHE_BUDGET);
	return 0;
}

void dwimage__free(struct dwimage *img)
{
	if (img->mapped && img->data)
		munmap(img->data, img->map_size ? img->map_size : img->size);
	else
		free(img->data);
	img->data = NULL;
	img->size = img->map_size = 0;
}
