/* errmsg helpers. */
#include <stdarg.h>
#include <stdio.h>

#include "base/errmsg.h"

int errmsg__set(struct errmsg *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return err;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return err;
}
