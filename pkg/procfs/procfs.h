/* Pure parsers of the procfs text bpprof reads: /proc/PID/maps lines,
 * /proc/PID/stat and /proc/PID/status. Shared by the symbolizer and the heap
 * collector; nothing here touches the file system. */
#ifndef BPPROF_PROCFS_PROCFS_H
#define BPPROF_PROCFS_PROCFS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line of /proc/PID/maps. */
struct proc_map {
	uint64_t start, end, offset, inode;
	uint32_t dev_major, dev_minor;
	const char *path;	/* into the parsed line, not NUL-terminated */
	size_t path_len;	/* 0: anonymous */
	bool deleted;		/* " (deleted)" was stripped from path */
};

/* One line of /proc/PID/maps: 1 and *m filled for an executable mapping,
 * 0 for one that is not executable, -EINVAL for a malformed line. */
int procfs__parse_maps_line(const char *line, size_t len, struct proc_map *m);
/* Field 22 of /proc/PID/stat (start time, clock ticks after boot); comm may
 * hold spaces and ')'. */
int procfs__start_time(const char *text, size_t len, uint64_t *start_time);
/* The last value of the NSpid line of /proc/PID/status; -ENOENT without one. */
int procfs__nspid(const char *text, size_t len, uint32_t *nspid);

#endif
