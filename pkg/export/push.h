/* Delivery of pprof profiles to Pyroscope's /ingest (multipart, or raw with
 * format=pprof), Pyroscope's push.v1.PusherService/Push (Connect unary,
 * PushRequest from proto/push.proto) or any pprof endpoint, over an
 * http_client (export/http.h). Applies Pyroscope's limits before sending,
 * splitting a big profile into requests by ranges of its samples, and
 * retries transient failures with backoff and jitter. */
#ifndef BPPROF_EXPORT_PUSH_H
#define BPPROF_EXPORT_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/errmsg.h"
#include "export/http.h"

enum push_api { PUSH_API_INGEST, PUSH_API_PUSH, PUSH_API_HTTP };

#define PUSH_MAX_LABELS		24	/* user labels: a series holds at most 30 */
#define PUSH_MAX_HEADERS	32
#define PUSH_DEFAULT_TIMEOUT	HTTP_DEFAULT_TIMEOUT
#define PUSH_DEFAULT_RETRIES	4u	/* attempts after the first */
#define PUSH_DEFAULT_RETRY_WAIT	HTTP_DEFAULT_RETRY_WAIT
#define PUSH_MAX_BACKOFF	HTTP_MAX_BACKOFF
/* Pyroscope's limits, both APIs: a bigger profile is split into as many
 * requests as it needs, each a range of its samples with all the tables. */
#define PUSH_MAX_PROFILE_BYTES	(4u << 20)	/* uncompressed */
#define PUSH_MAX_SAMPLES	16000u
#define PUSH_MAX_AGE_NS		(3600ll * 1000000000)	/* time_nanos >= now - 1 h */
#define PUSH_MAX_AHEAD_NS	(600ll * 1000000000)	/* time_nanos <= now + 10 min */

struct pprof_profile;

struct push_label {
	const char *name, *value;
};

/* Sleeps between attempts; returns true when the wait was cut short
 * (shutting down): the retries stop. NULL: nanosleep. */
typedef bool push_wait_fn(void *ctx, double seconds);

struct push_opts {
	const char *url;		/* ingest/push: the server's base URL (the API's
					 * path is appended unless already there); http: as is */
	enum push_api api;
	bool ingest_raw;		/* ingest: ?format=pprof with the bytes as the body */
	const char *app;		/* service_name; NULL: "bpprof" */
	struct push_label labels[PUSH_MAX_LABELS];
	size_t n_labels;
	const char *tenant;		/* X-Scope-OrgID */
	const char *basic_auth;		/* "user:password" */
	const char *bearer;		/* token */
	const char *headers[PUSH_MAX_HEADERS];	/* "Name: value" */
	size_t n_headers;
	const char *content_type;	/* http: NULL is application/octet-stream */
	const char *ca_file, *cert, *key;
	bool insecure;			/* skip TLS verification (off by default) */
	double timeout;			/* 0: PUSH_DEFAULT_TIMEOUT */
	unsigned retries;		/* attempts after the first on transient failures */
	double retry_wait;		/* 0: PUSH_DEFAULT_RETRY_WAIT */
	push_wait_fn *wait;
	void *wait_ctx;
};

/* What happened to one profile. */
struct push_result {
	long status;			/* last HTTP status, 0: none (network error) */
	bool transient;			/* network, TLS, timeout, 408, 429, 5xx: worth
					 * another try later (spooled), else refused for good */
	unsigned attempts;		/* requests made */
	unsigned parts;			/* requests one profile went in */
	bool split_by_size;		/* parts > 1 for the byte limit, not only for
					 * PUSH_MAX_SAMPLES */
	uint64_t bytes;			/* request bodies sent, last attempt */
	double seconds;			/* duration of the last request */
	double retry_after;		/* the last answer's Retry-After (capped), 0: none */
};

/* Checks made before anything is sent: 0, or -EINVAL with e naming the
 * label and the rule it breaks. Names [A-Za-z_][A-Za-z0-9_.]*, not starting
 * "__", not service_name (that is --app); values non-empty valid UTF-8 without
 * , { } = (Pyroscope's /ingest cannot carry them). */
int push__check_label(const char *name, const char *value, struct errmsg *e);
/* App names: non-empty, [A-Za-z0-9_./-]. */
int push__check_app(const char *app, struct errmsg *e);
/* "ingest", "push", "http": 0 or -EINVAL. */
int push__parse_api(const char *s, enum push_api *api);
const char *push__api_name(enum push_api api);

struct pusher;

/* Checks the URL (scheme http or https, host present), labels, app and TLS
 * files; NULL with errno set and e saying why. */
struct pusher *pusher__new(const struct push_opts *o, struct errmsg *e);
void pusher__free(struct pusher *p);
/* The URL as it may appear in logs: without any user:password. */
const char *pusher__url(const struct pusher *p);
/* No request outlasts this CLOCK_MONOTONIC instant (http_client__set_deadline);
 * any thread. */
void pusher__set_deadline(struct pusher *p, int64_t mono_deadline_ns);

/* Deliver one profile encoded as gzip pprof. Up to `retries` more attempts
 * on transient failures, waiting retry_wait × 2^n with jitter (or the
 * server's Retry-After), each said at LOG_DEBUG naming the profile `what`
 * (a Retry-After longer than bpprof waits, at LOG_INFO). 0 when accepted;
 * else a negative errno, r says how it ended and e says why in one line,
 * with the server's message for a refusal, for the caller to put after the
 * profile's name. Credentials never appear in e. prof is read, never
 * changed: it must not change meanwhile. */
int pusher__push_profile(struct pusher *p, const struct pprof_profile *prof, const char *what,
			 unsigned retries, struct push_result *r, struct errmsg *e);
/* The same for encoded bytes (pprof: gzip, zstd or plain protobuf), decoded
 * first; gzip input that fits one request is sent as it is. */
int pusher__push(struct pusher *p, const void *pprof, size_t len, const char *what,
		 unsigned retries, struct push_result *r, struct errmsg *e);

#endif
