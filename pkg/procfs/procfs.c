/* Pure parsers of procfs text: /proc/PID/maps lines, /proc/PID/stat and the
 * NSpid line of /proc/PID/status. Nothing here touches the file system, so
 * tests feed them fixtures; the symbolizer and the heap collector read the
 * files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "procfs/procfs.h"

/* The token at *p up to delim (or the end): a number in base, *p moved past
 * the delimiter. */
static int take_num(const char **p, const char *end, char delim, int base, uint64_t *out)
{
	const char *s = *p, *d = memchr(s, delim, (size_t)(end - s));

	if (!d)
		d = end;
	if (parse__u64n(s, (size_t)(d - s), base, out))
		return -EINVAL;
	*p = d < end ? d + 1 : end;
	return 0;
}

int procfs__parse_maps_line(const char *line, size_t len, struct proc_map *m)
{
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;
	const char *p = line, *end = line + len, *perms;
	uint64_t major, minor;

	memset(m, 0, sizeof(*m));
	if (take_num(&p, end, '-', 16, &m->start) || take_num(&p, end, ' ', 16, &m->end))
		return -EINVAL;
	if (end - p < 5 || p[4] != ' ')
		return -EINVAL;
	perms = p;
	p += 5;
	if (take_num(&p, end, ' ', 16, &m->offset) || take_num(&p, end, ':', 16, &major) ||
	    take_num(&p, end, ' ', 16, &minor) || major > UINT32_MAX || minor > UINT32_MAX)
		return -EINVAL;
	m->dev_major = (uint32_t)major;
	m->dev_minor = (uint32_t)minor;
	/* the inode ends the line of an anonymous mapping */
	if (take_num(&p, end, ' ', 10, &m->inode) || m->start >= m->end)
		return -EINVAL;
	if (perms[2] != 'x')
		return 0;
	/* the kernel pads the path column with spaces; a path keeps its own */
	while (p < end && *p == ' ')
		p++;
	m->path = p;
	m->path_len = (size_t)(end - p);
	if (m->path_len > dlen && !memcmp(end - dlen, deleted, dlen)) {
		m->path_len -= dlen;
		m->deleted = true;
	}
	return 1;
}

int procfs__start_time(const char *text, size_t len, uint64_t *start_time)
{
	/* "pid (comm) state ppid ...": comm is any 16 bytes, ')' included, so
	 * the fields start after the last ')'. starttime is field 22, the 20th
	 * after comm. */
	const char *p = memrchr(text, ')', len), *end = text + len, *tok;
	int field;

	if (!p)
		return -EINVAL;
	p++;
	for (field = 3; ; field++) {
		if (p >= end || *p != ' ')
			return -EINVAL;
		tok = ++p;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
		if (field == 22)
			return parse__u64n(tok, (size_t)(p - tok), 10, start_time) ? -EINVAL : 0;
	}
}

int procfs__nspid(const char *text, size_t len, uint32_t *nspid)
{
	static const char key[] = "NSpid:";
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *tok;
		uint64_t v;

		if (!nl)
			nl = end;
		if ((size_t)(nl - p) > sizeof(key) - 1 && !memcmp(p, key, sizeof(key) - 1)) {
			/* the innermost namespace's pid is the last one */
			tok = nl;
			while (tok > p && (tok[-1] == ' ' || tok[-1] == '\t'))
				tok--;
			nl = tok;
			while (tok > p && tok[-1] != ' ' && tok[-1] != '\t' && tok[-1] != ':')
				tok--;
			if (parse__u64n(tok, (size_t)(nl - tok), 10, &v) || v > UINT32_MAX)
				return -EINVAL;
			*nspid = (uint32_t)v;
			return 0;
		}
		p = nl + 1;
	}
	return -ENOENT;
}
