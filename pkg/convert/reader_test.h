/* Helpers shared by the reader tests (folded, perf script): read text that
 * must parse into a strictly valid profile, text that must be refused with a
 * given message, and stderr captured to check the warnings users see.
 * Include after <cmocka.h>. */
#ifndef BPPROF_CONVERT_READER_TEST_H
#define BPPROF_CONVERT_READER_TEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/errmsg.h"
#include "pprof/profile.h"

typedef int reader_fn(const char *data, size_t len, struct pprof_profile **out,
		      struct errmsg *e);

struct capture {
	FILE *f;
	int saved;
	char text[4096];
};

static inline void capture__begin(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(2);
	assert_true(dup2(fileno(c->f), 2) >= 0);
}

static inline const char *capture__end(struct capture *c)
{
	size_t n;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	rewind(c->f);
	n = fread(c->text, 1, sizeof(c->text) - 1, c->f);
	c->text[n] = '\0';
	fclose(c->f);
	return c->text;
}

static inline struct pprof_profile *reader__ok(reader_fn *read, const char *text, size_t len)
{
	struct pprof_profile *p = NULL;
	struct errmsg e = { "" };

	if (read(text, len, &p, &e))
		fail_msg("read: %s", e.text);
	assert_non_null(p);
	if (pprof__validate(p->pb, 1, &e))
		fail_msg("validate: %s", e.text);
	return p;
}

static inline void reader__refused(reader_fn *read, const char *text, size_t len,
				   const char *message)
{
	struct pprof_profile *p = (void *)1;
	struct errmsg e = { "" };

	assert_int_equal(read(text, len, &p, &e), -EBADMSG);
	assert_null(p);
	if (!strstr(e.text, message))
		fail_msg("expected \"%s\" in \"%s\"", message, e.text);
}

static inline int64_t total(const pprof_pb *pb, size_t index)
{
	int64_t t = 0;
	size_t i;

	for (i = 0; i < pb->n_sample; i++)
		t += pb->sample[i]->value[index];
	return t;
}

#endif
