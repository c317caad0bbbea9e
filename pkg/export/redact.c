/* Redaction of configured secrets in every form they are sent in. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "export/redact.h"

#define REDACT_MIN_TAIL 4	/* shorter tails match too much plain text */

static int redact__insert(struct redact *r, char *form)
{
	size_t i, n;

	if (!form)
		return -ENOMEM;
	n = strlen(form);
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->forms[i], form)) {
			free(form);
			return 0;
		}
	if (r->n == REDACT_MAX_SECRETS) {
		free(form);
		return -E2BIG;
	}
	if (BUF_GROW_ARRAY(r->forms, r->cap, r->n + 1)) {
		free(form);
		return -ENOMEM;
	}
	for (i = r->n; i > 0 && strlen(r->forms[i - 1]) < n; i--)
		r->forms[i] = r->forms[i - 1];
	r->forms[i] = form;
	r->n++;
	return 0;
}

/* RFC 3986: all but the unreserved characters as %XX (as curl escapes). */
static char *url_encoded(const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * len + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c) || !c) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

static char *base64(const char *s, size_t len)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

int redact__add(struct redact *r, const char *s, size_t len)
{
	int err;

	if (!s || !len)
		return 0;
	err = redact__insert(r, strndup(s, len));
	if (!err)
		err = redact__insert(r, url_encoded(s, len));
	if (!err)
		err = redact__insert(r, base64(s, len));
	return err;
}

/* Every copy of form in text replaced; text keeps at most size bytes. */
static void scrub_one(char *text, size_t size, const char *form)
{
	size_t n = strlen(form), len = 0;
	char *out, *hit, *s = text;

	if (!n || !strstr(text, form))
		return;
	out = malloc(size);
	if (!out) {	/* still never show it: blank the text */
		snprintf(text, size, "%s", REDACT_MASK);
		return;
	}
	while ((hit = strstr(s, form)) && len < size) {
		len += (size_t)snprintf(out + len, size - len, "%.*s%s", (int)(hit - s), s, REDACT_MASK);
		s = hit + n;
	}
	if (len < size)
		snprintf(out + len, size - len, "%s", s);
	memcpy(text, out, size);
	free(out);
}

/* A form's first bytes ending the text that was cut there. */
static void scrub_tail(char *text, size_t size, const char *form)
{
	size_t n = strlen(form), len = strlen(text), k;

	for (k = n - 1 < len ? n - 1 : len; k >= REDACT_MIN_TAIL; k--)
		if (!memcmp(text + len - k, form, k)) {
			snprintf(text + len - k, size - (len - k), "%s", REDACT_MASK);
			return;
		}
}

void redact__scrub(const struct redact *r, char *text, size_t size, bool cut)
{
	size_t i;

	if (!text || !size)
		return;
	text[size - 1] = '\0';
	for (i = 0; i < r->n; i++)
		scrub_one(text, size, r->forms[i]);
	for (i = 0; cut && i < r->n; i++)
		scrub_tail(text, size, r->forms[i]);
}

void redact__free(struct redact *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->forms[i]);
	free(r->forms);
	*r = REDACT_INIT;
}
