/* Secrets kept for redaction: each in every form it can come back in from
 * a server or a library (as given, URL-encoded, base64 as in a Basic
 * Authorization header), and the scrub that replaces them with ***. */
#ifndef BPPROF_EXPORT_REDACT_H
#define BPPROF_EXPORT_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACT_MAX_SECRETS	512u	/* forms, over every secret */
#define REDACT_MASK		"***"

struct redact {
	char **forms;			/* longest first, so a secret inside another
					 * cannot break the longer one's match */
	size_t n, cap;
};

#define REDACT_INIT ((struct redact){ NULL, 0, 0 })

/* s[0..len) in its three forms; nothing for an empty s. 0, -ENOMEM, or
 * -E2BIG past REDACT_MAX_SECRETS. */
int redact__add(struct redact *r, const char *s, size_t len);
/* Replace every form of every secret in text (NUL-terminated, size bytes
 * of room) with ***. cut: the text was cut short, so the beginning of a
 * form at its very end (four bytes or more) is masked too. */
void redact__scrub(const struct redact *r, char *text, size_t size, bool cut);
void redact__free(struct redact *r);

#endif
