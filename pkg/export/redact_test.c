/* redact: a secret is masked as given, URL-encoded and in base64, the
 * longer of two overlapping secrets whole, and a secret cut off at the end
 * of a shortened message by its first bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "export/redact.h"

static void scrubbed(const struct redact *r, const char *in, bool cut, const char *want)
{
	char text[256];

	snprintf(text, sizeof(text), "%s", in);
	redact__scrub(r, text, sizeof(text), cut);
	assert_string_equal(text, want);
}

static void test_forms(void **state)
{
	struct redact r = REDACT_INIT;

	assert_int_equal(redact__add(&r, "alice:s3cr@t", 12), 0);
	assert_int_equal(redact__add(&r, "s3cr@t", 6), 0);
	assert_int_equal(redact__add(&r, "", 0), 0);
	/* base64("alice:s3cr@t") as a Basic Authorization header carries it */
	scrubbed(&r, "you sent: Basic YWxpY2U6czNjckB0", false, "you sent: Basic ***");
	scrubbed(&r, "pw s3cr@t, url s3cr%40t, pair alice:s3cr@t", false,
		 "pw ***, url ***, pair ***");
	scrubbed(&r, "nothing secret", false, "nothing secret");
	/* cut mid-secret: its first bytes go too, short tails stay */
	scrubbed(&r, "echo: Basic YWxpY2U6cz", true, "echo: Basic ***");
	scrubbed(&r, "ends with YWx", true, "ends with YWx");
	redact__free(&r);
	assert_int_equal(r.n, 0);
}

static void test_bounded(void **state)
{
	struct redact r = REDACT_INIT;
	char s[32];
	unsigned i;
	int err = 0;

	for (i = 0; !err && i < REDACT_MAX_SECRETS; i++) {
		snprintf(s, sizeof(s), "secret-%u", i);
		err = redact__add(&r, s, strlen(s));
	}
	assert_int_equal(err, -E2BIG);
	assert_true(r.n <= REDACT_MAX_SECRETS);
	redact__free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
