#include <dlfcn.h>
#include <stdio.h>

#include "base/dynlib.h"

/* pthread_once's routine takes no argument: the library being loaded is
 * handed over here, under the once's own serialisation. */
static __thread struct dynlib *loading;

static void dynlib__open(void)
{
	struct dynlib *lib = loading;
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!h) {
		snprintf(lib->error, sizeof(lib->error), "%s needs %s, which cannot be loaded (%s)",
			 lib->what, lib->soname, dlerror());
		return;
	}
	for (i = 0; i < lib->n; i++) {
		lib->fns[i] = dlsym(h, lib->names[i]);
		if (!lib->fns[i]) {
			snprintf(lib->error, sizeof(lib->error), "%s needs %s from %s, which it lacks",
				 lib->what, lib->names[i], lib->soname);
			return;		/* kept open: its functions are never called */
		}
	}
	__atomic_store_n(&lib->ok, true, __ATOMIC_RELEASE);
}

bool dynlib__load(struct dynlib *lib)
{
	loading = lib;
	pthread_once(&lib->once, dynlib__open);
	loading = NULL;
	return __atomic_load_n(&lib->ok, __ATOMIC_ACQUIRE);
}

const char *dynlib__error(const struct dynlib *lib)
{
	return lib->error;
}
