/* The ksym skeleton: loaded at the first kernel address to name, run once
 * per batch; a load or run that fails is not tried again (kallsyms then). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/log.h"
#include "collect/internal.h"
#include "collect/ksym.h"
#include "bpf/ksym.skel.h"

struct ksym_namer {
	struct ksym_bpf *skel;
	int err;		/* the load's, once it failed: not tried again */
};

int ksym_namer__new(struct ksym_namer **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static int load(struct ksym_namer *k)
{
	int err;

	libbpf_set_print(collect__libbpf_log);
	k->skel = ksym_bpf__open_and_load();
	if (!k->skel) {
		err = -errno;
		k->err = err ? err : -EINVAL;
		pr_debug("kernel names per address: cannot load the program (%s): reading "
			 "kallsyms\n", strerror(-k->err));
		return k->err;
	}
	return 0;
}

int ksym_namer__names(void *namer, const uint64_t *addrs, size_t n, const char **out,
		      uint64_t *text_start)
{
	LIBBPF_OPTS(bpf_test_run_opts, run);
	struct ksym_namer *k = namer;
	struct ksym_bpf__bss *bss;
	size_t i;
	int err;

	if (k->err)
		return k->err;
	if (n > KSYM_BATCH)
		return -EINVAL;
	if (!k->skel && (err = load(k)))
		return err;
	bss = k->skel->bss;
	memcpy(bss->addrs, addrs, n * sizeof(*addrs));
	bss->n = (uint32_t)n;
	err = bpf_prog_test_run_opts(bpf_program__fd(k->skel->progs.ksym_names), &run);
	if (err) {
		err = -errno;
		pr_debug("kernel names per address: the program failed (%s): reading kallsyms\n",
			 strerror(-err));
		return k->err = err ? err : -EINVAL;
	}
	for (i = 0; i < n; i++) {
		int32_t len = bss->len[i];

		out[i] = len > 0 && len <= KSYM_TEXT ? bss->text[i] : NULL;
	}
	*text_start = bss->text_start;
	return 0;
}

void ksym_namer__free(struct ksym_namer *k)
{
	if (!k)
		return;
	ksym_bpf__destroy(k->skel);
	free(k);
}
