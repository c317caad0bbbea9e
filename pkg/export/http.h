/* An HTTP endpoint behind one reused libcurl handle (one connection for
 * every request while the server keeps it open): URL, TLS, authentication
 * and headers, one POST per call classified as accepted, transient or
 * final, the backoff between attempts, and messages from which every
 * configured secret is redacted. It knows nothing of what the bodies hold. */
#ifndef BPPROF_EXPORT_HTTP_H
#define BPPROF_EXPORT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"

#define HTTP_MAX_HEADERS	40
#define HTTP_DEFAULT_TIMEOUT	10.0	/* seconds, whole request */
#define HTTP_DEFAULT_RETRY_WAIT	1.0	/* first backoff, seconds; doubles */
#define HTTP_MAX_BACKOFF	60.0	/* seconds: cap of one wait (Retry-After too) */

struct http_opts {
	const char *url;		/* http or https; a user:password in it is used
					 * for basic auth and never shown */
	const char *path;		/* appended to the URL's path unless it ends so
					 * already; NULL: the path as given */
	const char *basic_auth;		/* "user:password" */
	const char *bearer;		/* token */
	const char *headers[HTTP_MAX_HEADERS];	/* "Name: value" */
	size_t n_headers;
	const char *content_type;	/* unless a header sets one; NULL: each request's
					 * own (multipart) */
	const char *ca_file, *cert, *key;
	bool insecure;			/* skip TLS verification (off by default) */
	double timeout;			/* 0: HTTP_DEFAULT_TIMEOUT */
	double retry_wait;		/* 0: HTTP_DEFAULT_RETRY_WAIT */
};

/* One part of a multipart/form-data body. */
struct http_part {
	const char *name, *filename, *type;
	const void *data;
	size_t len;
};

struct http_request {
	const char *const *query;	/* "name=value" items, URL-encoded and appended */
	size_t n_query;
	const struct http_part *parts;	/* multipart/form-data, else: */
	size_t n_parts;
	const void *body;		/* the body as is */
	size_t len;
};

/* How one request ended. */
struct http_result {
	long status;			/* HTTP status, 0: none (network error) */
	bool transient;			/* network, TLS, timeout, 408, 429, 5xx: worth
					 * another try, else accepted or refused for good */
	uint64_t bytes;			/* request body bytes sent */
	double seconds;			/* duration */
	double retry_after;		/* 429 and 503: the server's Retry-After in
					 * seconds (at most HTTP_MAX_BACKOFF), 0: none */
	double retry_after_asked;	/* the same before the cap */
};

struct http_client;

/* Checks the URL (scheme http or https, host present), headers (a name,
 * no line break), credentials, TLS files, timeout and retry wait. Nothing
 * of o is kept: strings may go once this returns. NULL with errno set and
 * e saying why (credentials redacted). */
struct http_client *http_client__new(const struct http_opts *o, struct errmsg *e);
void http_client__free(struct http_client *h);
/* The endpoint as it may appear in logs: without any user:password. */
const char *http_client__url(const struct http_client *h);
/* host[:port], for messages. */
const char *http_client__host(const struct http_client *h);

/* One POST of rq, no retry. 0 when answered 2xx; -EAGAIN when worth
 * another try (r->transient); -EPROTO when refused for good (3xx, other
 * 4xx), with the server's message; -ENOMEM. e says why in one line,
 * redacted, naming the endpoint but not what was sent (the caller does).
 * rq's bytes are not kept past the call. */
int http_client__post(struct http_client *h, const struct http_request *rq,
		      struct http_result *r, struct errmsg *e);

/* The wait before retry n (0 first) after last: its Retry-After when there
 * is one, else retry_wait × 2^n capped at HTTP_MAX_BACKOFF, jittered into
 * [d/2, d] so a fleet coming back does not knock all at once. */
double http_client__backoff(const struct http_client *h, unsigned n,
			    const struct http_result *last);
/* The same for a first wait of retry_wait seconds, without a client. */
double http__backoff(double retry_wait, unsigned n);

/* From now on no request outlasts mono_deadline_ns (CLOCK_MONOTONIC): one
 * under way is given up within a second of it, and one begun before it is
 * given only what is left (-EAGAIN once it has passed). 0: none. Safe to
 * call from another thread while a request runs. */
void http_client__set_deadline(struct http_client *h, int64_t mono_deadline_ns);

/* Replace every configured secret in e with *** (a server may echo one). */
void http_client__redact(const struct http_client *h, struct errmsg *e);

#endif
