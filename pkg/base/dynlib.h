/* A shared library opened on first use instead of at every start: for the
 * libraries only some commands need, whose dependencies would otherwise be
 * mapped and relocated by each run of bpprof. */
#ifndef BPPROF_BASE_DYNLIB_H
#define BPPROF_BASE_DYNLIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct dynlib {
	const char *soname;		/* what dlopen is given */
	const char *what;		/* what it is needed for, in the error */
	const char *const *names;	/* the functions to resolve... */
	void **fns;			/* ...into these, as many */
	size_t n;
	pthread_once_t once;
	bool ok;
	char error[256];		/* why not, when not */
};

#define DYNLIB_INIT(so, purpose, fn_names, fn_table)				\
	{ .soname = (so), .what = (purpose), .names = (fn_names),		\
	  .fns = (void **)(fn_table),						\
	  .n = sizeof(fn_names) / sizeof((fn_names)[0]), .once = PTHREAD_ONCE_INIT }

/* Opens lib and resolves every name, once for the process (thread-safe).
 * false if the library or a function in it cannot be found: then
 * dynlib__error says which, for the caller's own one-line error (an empty
 * string otherwise). */
bool dynlib__load(struct dynlib *lib);
const char *dynlib__error(const struct dynlib *lib);

#endif
