/* Number parsing with range checks. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"

int parse__int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	/* strtoll would also take leading blanks and a '+' */
	if (!s || !(isdigit((unsigned char)s[0]) ||
		    (s[0] == '-' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse__u64n(const char *s, size_t len, int base, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		if (d >= (unsigned)base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / (uint64_t)base)
			return -ERANGE;
		v = v * (uint64_t)base + d;
	}
	*out = v;
	return 0;
}

int parse__duration(const char *s, double max, double *seconds)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 1e-3 }, { "us", 1e-6 }, { "ns", 1e-9 }, { "m", 60 },
		{ "h", 3600 }, { "d", 86400 },
	};
	size_t i, digits;
	char *end;
	double v;

	/* Decimal only: strtod would also take blanks, signs, hex, "inf", "nan"
	 * and exponents ("1e3" is not a duration anyone writes on purpose). */
	if (!s || !(isdigit((unsigned char)s[0]) ||
		    (s[0] == '.' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	digits = strspn(s, "0123456789.");
	if (memchr(s, '.', digits) != memrchr(s, '.', digits))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].suffix))
			break;
	if (i == sizeof(units) / sizeof(units[0]) || end != s + digits)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	v *= units[i].scale;
	if (!(v > 0) || v > max)
		return -ERANGE;
	*seconds = v;
	return 0;
}

int parse__size(const char *s, uint64_t max, uint64_t *bytes)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 }, { "k", 10 }, { "K", 10 }, { "KiB", 10 }, { "m", 20 }, { "M", 20 },
		{ "MiB", 20 }, { "g", 30 }, { "G", 30 }, { "GiB", 30 },
	};
	size_t digits, i;
	uint64_t v;
	int err;

	if (!s)
		return -EINVAL;
	digits = strspn(s, "0123456789");
	if (!digits)
		return -EINVAL;
	err = parse__u64n(s, digits, 10, &v);
	if (err)
		return err;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s + digits, units[i].suffix))
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return -EINVAL;
	if (v > (max >> units[i].shift))
		return -ERANGE;
	*bytes = v << units[i].shift;
	return 0;
}
