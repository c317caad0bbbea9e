/* libFuzzer harness for every reader of untrusted bytes: format detection,
 * the pprof decoder (with decompression), the folded and perf-script readers
 * (folded also as detected text reads it), the legacy readers (gperftools'
 * binary CPU profile, heap, contention, Go counts, threadz, Java) and
 * convert__read, which picks among them,
 * the bounded decompressor, and what the symbolizer reads from processes it
 * does not trust: /proc/PID/maps, stat and status lines, kallsyms, perf maps
 * (written by any JIT) and ELF files (any binary that runs). Any input must end in success or a clean
 * error; a profile that was accepted must validate strictly, encode, decode
 * again and print as folded stacks, or the harness aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libelf.h>

#include "base/buf.h"
#include "base/errmsg.h"
#include "base/log.h"
#include "collect/heap.h"
#include "compress/compress.h"
#include "convert/convert.h"
#include "convert/internal.h"
#include "pprof/codec.h"
#include "pprof/folded.h"
#include "pprof/profile.h"
#include "symbolize/internal.h"

#define FUZZ_DECODE_LIMIT (1u << 20)	/* small, so the bound itself is fuzzed */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int buf_sink(void *ctx, const void *p, size_t n)
{
	return buf__append(ctx, p, n);
}

static int null_sink(void *ctx, const void *p, size_t n)
{
	return 0;
}

static void die(const char *what, int err, const struct errmsg *e)
{
	fprintf(stderr, "fuzz: %s failed: %d (%s)\n", what, err, e->text);
	abort();
}

/* Every profile a reader accepted, foreign pprof included (decoding adopts
 * it as google/pprof reads it), must be strictly valid and survive a round
 * trip. */
static void roundtrip(struct pprof_profile *p)
{
	struct buf enc = BUF_INIT(0);
	struct pprof_profile *q = NULL;
	struct compress_writer *w;
	struct errmsg e = { "" };
	int err;

	err = pprof__validate(p->pb, 1, &e);
	if (err)
		die("strict validate of an accepted profile", err, &e);
	w = compress_writer__new(COMPRESS_NONE, COMPRESS_LEVEL_DEFAULT, buf_sink, &enc);
	if (!w)
		abort();
	err = pprof__encode(p, w, &e);
	if (err)
		die("encode", err, &e);
	err = compress_writer__finish(w);
	if (err)
		die("finish", err, &e);
	compress_writer__free(w);

	err = pprof__decode_any(enc.data, enc.len, &q, &e);
	if (err)
		die("decode of our own encoding", err, &e);
	if (q->pb->n_sample_type) {
		err = folded__write(q, pprof__default_sample_index(q->pb), null_sink, NULL, &e);
		if (err && err != -ERANGE)	/* values may add up past 64 bits */
			die("folded__write", err, &e);
	}
	pprof__free(q);
	buf__free(&enc);
}

static void try_read(int (*reader)(const char *, size_t, struct pprof_profile **,
				   struct errmsg *),
		     const uint8_t *data, size_t len)
{
	struct pprof_profile *p = NULL;
	struct errmsg e = { "" };

	if (reader((const char *)data, len, &p, &e))
		return;
	roundtrip(p);
	pprof__free(p);
}

static int decode_any(const char *data, size_t len, struct pprof_profile **out,
		      struct errmsg *e)
{
	return pprof__decode_any(data, len, out, e);
}

static int folded_strict(const char *data, size_t len, struct pprof_profile **out,
			 struct errmsg *e)
{
	return folded__read_mode(data, len, true, out, e);
}

static int read_detected(const char *data, size_t len, struct pprof_profile **out,
			 struct errmsg *e)
{
	return convert__read(data, len, FORMAT_AUTO, out, NULL, e);
}

static void legacy_readers(const uint8_t *data, size_t len)
{
	try_read(legacy_cpu__read, data, len);
	try_read(legacy_heap__read, data, len);
	try_read(legacy_contention__read, data, len);
	try_read(legacy_count__read, data, len);
	try_read(legacy_threadz__read, data, len);
	try_read(legacy_java__read, data, len);
}

static int one_maps_line(void *ctx, const char *line, size_t len)
{
	struct proc_map m;

	if (procfs__parse_maps_line(line, len, &m) == 1 && m.path_len > len)
		abort();
	return 0;
}

/* Lookups must land on a symbol or nothing, never outside the tables. */
static void symbol_sources(const uint8_t *data, size_t len)
{
	static const uint64_t probes[] = { 0, 1, 0x1000, 0x401000, 0xffffffff81000000ull, UINT64_MAX };
	struct ksyms k = { 0 };
	struct perfmap pm = { 0 };
	uint64_t v;
	uint32_t ns;
	size_t i;

	lines__each((const char *)data, len, one_maps_line, NULL);
	procfs__start_time((const char *)data, len, &v);
	procfs__nspid((const char *)data, len, &ns);
	if (!ksyms__load_text(&k, (const char *)data, len))
		for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			int64_t at = ksyms__find(&k, probes[i]);

			if (at >= (int64_t)k.n || (at >= 0 && !ksyms__name(&k, (size_t)at)))
				abort();
		}
	ksyms__free(&k);
	if (!perfmap__load_text(&pm, (const char *)data, len))
		for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			perfmap__find(&pm, probes[i]);
	perfmap__free(&pm);
}

static void elf_file(const uint8_t *data, size_t len)
{
	struct elf_info ei;
	struct esymtab t = { 0 };
	char *copy;
	Elf *elf;
	uint64_t va;

	if (len < 4 || memcmp(data, "\177ELF", 4))
		return;
	copy = malloc(len);	/* libelf may write to the image it parses */
	if (!copy)
		return;
	memcpy(copy, data, len);
	elf = elf_memory(copy, len);
	if (elf && !elfinfo__read(elf, &ei)) {
		elfinfo__to_vaddr(ei.segs, ei.n_segs, 0x1000, &va);
		if (!esymtab__load(&t, elf, SHT_SYMTAB))
			esymtab__find(&t, 0x401000);
		esymtab__free(&t);
		memset(&t, 0, sizeof(t));
		if (!esymtab__load(&t, elf, SHT_DYNSYM))
			esymtab__find(&t, 0x1000);
		esymtab__free(&t);
	}
	if (elf) {	/* what the heap probes read of every object a target maps */
		struct alloc_syms as;

		if (!alloc_syms__read(elf, &as))
			alloc_syms__allocates(&as);
	}
	elf_end(elf);
	free(copy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log__set_level(LOG_ERROR);	/* readers warn about skipped lines */
	elf_version(EV_CURRENT);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct buf raw = BUF_INIT(FUZZ_DECODE_LIMIT);
	struct errmsg e = { "" };
	int err;

	switch (convert__detect(data, len)) {
	case FORMAT_FOLDED:
	case FORMAT_PERF_SCRIPT:
	case FORMAT_PPROF:
	case FORMAT_GPERFTOOLS_CPU:
	case FORMAT_HEAP_TEXT:
	case FORMAT_CONTENTION_TEXT:
	case FORMAT_GO_COUNT:
	case FORMAT_THREADZ:
	case FORMAT_JAVA:
		break;
	default:
		abort();
	}
	try_read(decode_any, data, len);
	try_read(folded__read, data, len);
	try_read(folded_strict, data, len);
	try_read(perf_script__read, data, len);
	legacy_readers(data, len);
	try_read(read_detected, data, len);
	symbol_sources(data, len);
	elf_file(data, len);

	err = compress__decode(data, len, &raw, &e);
	if (err && err != -EBADMSG && err != -E2BIG)
		die("compress__decode", err, &e);
	if (raw.len > FUZZ_DECODE_LIMIT)
		abort();
	/* Decompressed text goes through the text readers too, as convert does. */
	if (!err && compress__detect(data, len) != COMPRESS_NONE) {
		try_read(folded__read, raw.data, raw.len);
		try_read(perf_script__read, raw.data, raw.len);
		legacy_readers(raw.data, raw.len);
	}
	buf__free(&raw);
	return 0;
}
