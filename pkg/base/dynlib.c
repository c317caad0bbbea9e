#include <dlfcn.h>

#include "base/dynlib.h"
#include "base/log.h"

/* pthread_once's routine takes no argument: the library being loaded is
 * handed over here, under the once's own serialisation. */
static __thread struct dynlib *loading;

static void dynlib__open(void)
{
	struct dynlib *lib = loading;
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!h) {
		pr_err("bpprof: %s needs %s, which cannot be loaded: %s\n", lib->what,
		       lib->soname, dlerror());
		return;
	}
	for (i = 0; i < lib->n; i++) {
		lib->fns[i] = dlsym(h, lib->names[i]);
		if (!lib->fns[i]) {
			pr_err("bpprof: %s needs %s from %s, which it lacks\n", lib->what,
			       lib->names[i], lib->soname);
			return;		/* kept open: its functions are never called */
		}
	}
	lib->ok = true;
}

bool dynlib__load(struct dynlib *lib)
{
	loading = lib;
	pthread_once(&lib->once, dynlib__open);
	loading = NULL;
	return __atomic_load_n(&lib->ok, __ATOMIC_ACQUIRE);
}
