/* The preload library (libbpprof-heap.so) from bpprof's side: where it is
 * installed, where its markers are, whether a command can be profiled with
 * it, and the environment that loads it into the command. */
#ifndef BPPROF_COLLECT_PRELOAD_H
#define BPPROF_COLLECT_PRELOAD_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/heap_preload.h"

/* How a heap capture samples: in the process, through the preload library
 * (a command bpprof starts), or with uprobes on the allocator (anything). */
enum heap_mode { HEAP_MODE_AUTO, HEAP_MODE_PRELOAD, HEAP_MODE_UPROBE };

#define PRELOAD_WHY_LEN		160		/* a reason, for messages */
#define PRELOAD_MAX_SCRIPT	4		/* #! interpreters followed */

/* The library beside bpprof's executable, or in ../lib/bpprof/ from it
 * (an installed layout): 0 with path set, or -ENOENT. */
int preload__find_lib(char *path, size_t len);

/* The file offsets of the library's markers, by PRELOAD_ALLOC... (the
 * attach cookies): 0, or negative errno (-ENOENT: one is missing). */
int preload__markers(const char *path, uint64_t offs[PRELOAD_MARKS]);

/* Can a command be profiled in preload mode? 0 when it can; else a
 * positive value with why set ("statically linked", "setuid", ...): the
 * file execvp would run (through PATH and #! interpreters) must be a
 * dynamically linked glibc program, neither setuid nor setgid nor with file
 * capabilities (the loader ignores LD_PRELOAD then), that does not define
 * malloc itself. Negative errno when argv[0] cannot be found or read: the
 * capture then fails as the exec would. */
int preload__check_command(const char *argv0, char *why, size_t len);

/* Can this library path be put in LD_PRELOAD? (It splits on ':' and ' '.) */
int preload__check_lib(const char *lib, char *why, size_t len);

/* environ with LD_PRELOAD=LIB, followed by any value it already had (ours
 * comes first, so it wraps an allocator the user preloads), and
 * PRELOAD_ENV=TOKEN:RATE:LIVE: a new NULL-terminated array, or NULL with
 * errno set. Freed with preload__free_env. */
char **preload__env(char *const *environ_, const char *lib, uint64_t token, uint64_t rate,
		    uint64_t live);
void preload__free_env(char **env);

#endif
