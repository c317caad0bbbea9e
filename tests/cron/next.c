/* bpprof's side of the cron peer check (tests/cron/peer.sh): the protocol
 * of tests/cronpeer, answered with pkg/daemon/cron.h.
 *   stdin:  EXPR<TAB>START_UNIX<TAB>N per line
 *   stdout: the next N fire times after START (unix seconds, spaces), -1
 *           ending a line when nothing matches, or "error" when refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cron.h"
#include "base/parse.h"

int main(void)
{
	char line[4096], *start, *count;
	struct errmsg e;
	struct cron c;
	int64_t from, n, i;
	time_t t;

	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		start = strchr(line, '\t');
		count = start ? strchr(start + 1, '\t') : NULL;
		if (!count) {
			fprintf(stderr, "cron-next: want EXPR<TAB>START<TAB>N, got '%s'\n", line);
			return 2;
		}
		*start++ = '\0';
		*count++ = '\0';
		if (parse__int64(start, INT64_MIN, INT64_MAX, &from) ||
		    parse__int64(count, 0, 100000, &n)) {
			fprintf(stderr, "cron-next: bad START or N in '%s'\n", start);
			return 2;
		}
		if (cron__parse(&c, line, &e)) {
			puts("error");
			continue;
		}
		for (i = 0, t = (time_t)from; i < n; i++) {
			t = cron__next(&c, t);
			printf("%s%lld", i ? " " : "", (long long)t);
			if (t == -1)
				break;
		}
		putchar('\n');
	}
	return ferror(stdout) ? 1 : 0;
}
