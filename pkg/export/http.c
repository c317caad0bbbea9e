/* HTTP POSTs through one libcurl easy handle, reused so that requests share
 * a connection. The handle's options (TLS, auth, headers, timeout) are set
 * once; each post sets the URL and body, performs, and clears the body.
 * Secrets are copied at creation so every message can be redacted, whatever
 * the caller does with its strings afterwards. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "export/curl_dl.h"
#include "export/http.h"
#include "export/redact.h"

#define HTTP_MAX_REPLY		4096u	/* response bytes kept for messages */
#define HTTP_MAX_SERVER_MSG	200u

/* Used by one thread at a time (one curl handle). */
struct http_client {
	CURL *curl;
	CURLU *base;			/* endpoint, credentials taken out */
	char *url;			/* base as text, query values masked (malloc) */
	char *host;			/* host[:port] (malloc) */
	char *url_user, *url_pass;	/* taken out of the URL (curl_free) */
	struct redact secrets;		/* every form of each, for redaction */
	double timeout, retry_wait;
	struct curl_slist *headers;
	struct buf reply;		/* first bytes of the response body */
	char errbuf[CURL_ERROR_SIZE];
	_Atomic int64_t deadline_ns;	/* CLOCK_MONOTONIC; 0: none. Set from any thread */
};

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* libcurl calls this at least once a second during a request: a deadline
 * set meanwhile (bpprof stopping) ends a request that would outlast it. */
static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct http_client *h = ctx;
	int64_t deadline = h->deadline_ns;

	return deadline && mono_ns() >= deadline;
}

void http_client__set_deadline(struct http_client *h, int64_t mono_deadline_ns)
{
	h->deadline_ns = mono_deadline_ns;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* A URL for messages when curl cannot parse it: everything before the last
 * '@' after the scheme is hidden (may hide too much, never too little). */
static void redact_url(const char *url, char *out, size_t size)
{
	const char *from = strstr(url, "://"), *at = strrchr(url, '@');

	from = from ? from + 3 : url;
	if (at && at >= from)
		snprintf(out, size, "%.*s***%s", (int)(from - url), url, at);
	else
		snprintf(out, size, "%s", url);
}

void http_client__redact(const struct http_client *h, struct errmsg *e)
{
	if (h && e)
		redact__scrub(&h->secrets, e->text, sizeof(e->text), false);
}

static int add_secret(struct http_client *h, const char *s, size_t len)
{
	return redact__add(&h->secrets, s, len);
}

/* A header whose value is a credential, by its name. */
static bool secret_header(const char *header, size_t name_len)
{
	static const char *const words[] = { "auth", "cookie", "token", "key", "secret", "pass",
					     "session" };
	char name[64];
	size_t i;

	if (name_len >= sizeof(name))
		return true;	/* nobody names an ordinary header so */
	for (i = 0; i < name_len; i++)
		name[i] = (char)tolower((unsigned char)header[i]);
	name[name_len] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return true;
	return false;
}

/* The whole basic auth (its base64 is what a Basic header carries) and its
 * password, the token, and the value of every header that holds a
 * credential (Authorization, X-Api-Key, ...), also without its scheme. */
static int http_client__keep_secrets(struct http_client *h, const struct http_opts *o)
{
	const char *colon = o->basic_auth ? strchr(o->basic_auth, ':') : NULL;
	int err = 0;
	size_t i;

	if (o->basic_auth)
		err = add_secret(h, o->basic_auth, strlen(o->basic_auth));
	if (!err && colon)
		err = add_secret(h, colon + 1, strlen(colon + 1));
	if (!err && o->bearer)
		err = add_secret(h, o->bearer, strlen(o->bearer));
	for (i = 0; !err && i < o->n_headers; i++) {
		const char *v = strchr(o->headers[i], ':');

		if (!v || !secret_header(o->headers[i], (size_t)(v - o->headers[i])))
			continue;
		v += 1 + strspn(v + 1, " \t");
		err = add_secret(h, v, strlen(v));
		if (!err && strchr(v, ' '))
			err = add_secret(h, strchr(v, ' ') + 1, strlen(strchr(v, ' ') + 1));
	}
	return err;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A query's values are secrets too (?api_key=...), as written and decoded;
 * the URL shown in messages gets *** for each. shown: malloc'd. */
static int keep_query(struct http_client *h, const char *url, char **shown)
{
	const char *q = strchr(url, '?'), *item, *end, *eq;
	struct buf b = BUF_INIT(0);
	int err;

	err = buf__append(&b, url, q ? (size_t)(q - url) : strlen(url));
	for (item = q; !err && item && *item; item = end) {
		char dec[1024];
		size_t n = 0;

		end = item + 1 + strcspn(item + 1, "&");
		eq = memchr(item + 1, '=', (size_t)(end - item - 1));
		err = buf__appendf(&b, "%c%.*s%s", *item, (int)((eq ? eq : end) - item - 1), item + 1,
				   eq && eq + 1 < end ? "=" REDACT_MASK : eq ? "=" : "");
		if (err || !eq || eq + 1 == end)
			continue;
		err = add_secret(h, eq + 1, (size_t)(end - eq - 1));
		for (q = eq + 1; q < end && n < sizeof(dec); q++, n++) {
			int hi = *q == '%' && q + 2 < end ? hex_digit(q[1]) : -1;
			int lo = hi >= 0 ? hex_digit(q[2]) : -1;

			dec[n] = lo >= 0 ? (char)(hi << 4 | lo) : *q == '+' ? ' ' : *q;
			q += lo >= 0 ? 2 : 0;
		}
		if (!err)
			err = add_secret(h, dec, n);
	}
	if (!err)
		err = buf__append(&b, "", 1);
	if (err) {
		buf__free(&b);
		return -ENOMEM;
	}
	*shown = (char *)b.data;
	return 0;
}

static int check_file(const char *what, const char *path, struct errmsg *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0) {
		err = -errno;
		return errmsg__set(e, -EINVAL, "cannot read %s '%s': %s", what, path, strerror(-err));
	}
	close(fd);
	return 0;
}

static bool has_header(const struct http_opts *o, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < o->n_headers; i++)
		if (!strncasecmp(o->headers[i], name, n) && o->headers[i][n] == ':')
			return true;
	return false;
}

/* "Name: value": name an HTTP token, no line break anywhere. The value may
 * be a secret, so messages name the header only. */
static int check_header(const char *h, struct errmsg *e)
{
	size_t n = 0;

	while (h[n] && (isalnum((unsigned char)h[n]) || strchr("!#$%&'*+-.^_`|~", h[n])))
		n++;
	if (!n || h[n] != ':')
		return errmsg__set(e, -EINVAL, "bad header '%.*s': expected \"Name: value\"",
				   (int)strcspn(h, ":\r\n"), h);
	if (strpbrk(h, "\r\n"))
		return errmsg__set(e, -EINVAL, "bad header '%.*s': value holds a line break",
				   (int)n, h);
	return 0;
}

static int http_client__check(const struct http_opts *o, struct errmsg *e)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < o->n_headers; i++)
		err = check_header(o->headers[i], e);
	if (err)
		return err;
	if (o->basic_auth && o->bearer)
		return errmsg__set(e, -EINVAL, "basic auth and a bearer token: choose one");
	if (o->basic_auth && !strchr(o->basic_auth, ':'))
		return errmsg__set(e, -EINVAL, "basic auth is \"user:password\"");
	if ((o->basic_auth || o->bearer) && has_header(o, "Authorization"))
		return errmsg__set(e, -EINVAL, "an Authorization header beside basic auth or a "
				   "bearer token: choose one");
	if (o->bearer && strpbrk(o->bearer, "\r\n"))
		return errmsg__set(e, -EINVAL, "bearer token holds a line break");
	if (o->ca_file && (err = check_file("CA file", o->ca_file, e)))
		return err;
	if (o->cert && (err = check_file("client certificate", o->cert, e)))
		return err;
	if (o->key && (err = check_file("client key", o->key, e)))
		return err;
	return 0;
}

static int http_client__parse_url(struct http_client *h, const struct http_opts *o,
				  struct errmsg *e)
{
	char shown[200], *scheme = NULL, *host = NULL, *path = NULL, *port = NULL, *full = NULL;
	char *url = NULL;
	CURLUcode rc;
	int err = -EINVAL;

	if (!o->url || !*o->url)
		return errmsg__set(e, -EINVAL, "no URL to push to");
	redact_url(o->url, shown, sizeof(shown));
	h->base = curl_url();
	if (!h->base)
		return errmsg__set(e, -ENOMEM, "out of memory");
	rc = curl_url_set(h->base, CURLUPART_URL, o->url, 0);
	if (rc)
		return errmsg__set(e, -EINVAL, "bad URL '%s': %s", shown, curl_url_strerror(rc));
	curl_url_get(h->base, CURLUPART_SCHEME, &scheme, 0);
	if (!scheme || (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
		errmsg__set(e, -EINVAL, "bad URL '%s': the scheme must be http or https", shown);
		goto out;
	}
	if (curl_url_get(h->base, CURLUPART_HOST, &host, 0) || !host || !*host) {
		errmsg__set(e, -EINVAL, "bad URL '%s': no host", shown);
		goto out;
	}
	curl_url_get(h->base, CURLUPART_PORT, &port, 0);
	if (asprintf(&h->host, "%s%s%s", host, port ? ":" : "", port ? port : "") < 0) {
		h->host = NULL;
		goto nomem;
	}
	curl_url_get(h->base, CURLUPART_USER, &h->url_user, CURLU_URLDECODE);
	curl_url_get(h->base, CURLUPART_PASSWORD, &h->url_pass, CURLU_URLDECODE);
	curl_url_set(h->base, CURLUPART_USER, NULL, 0);
	curl_url_set(h->base, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(h->base, CURLUPART_FRAGMENT, NULL, 0);
	if (h->url_pass && add_secret(h, h->url_pass, strlen(h->url_pass)))
		goto nomem;
	/* user:password, whose base64 a Basic header carries */
	if (h->url_pass && h->url_user) {
		if (asprintf(&full, "%s:%s", h->url_user, h->url_pass) < 0) {
			full = NULL;
			goto nomem;
		}
		err = add_secret(h, full, strlen(full));
		free(full);
		full = NULL;
		if (err)
			goto nomem;
	}
	if (o->path && !curl_url_get(h->base, CURLUPART_PATH, &path, 0) && !ends_with(path, o->path)) {
		size_t n = strlen(path);

		while (n && path[n - 1] == '/')
			n--;
		if (asprintf(&full, "%.*s%s", (int)n, path, o->path) < 0) {
			full = NULL;
			goto nomem;
		}
		if (curl_url_set(h->base, CURLUPART_PATH, full, 0))
			goto nomem;
	}
	if (curl_url_get(h->base, CURLUPART_URL, &url, 0) || keep_query(h, url, &h->url))
		goto nomem;
	err = 0;
	goto out;
nomem:
	err = errmsg__set(e, -ENOMEM, "out of memory");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(port);
	curl_free(url);
	free(full);
	return err;
}

static size_t on_reply(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t len = size * n, room = b->limit - b->len;

	buf__append(b, data, len < room ? len : room);
	return len;
}

static int add_header(struct http_client *h, const char *name, const char *value)
{
	struct curl_slist *l;
	char *s;

	if (asprintf(&s, "%s%s", name, value) < 0)
		return -ENOMEM;
	l = curl_slist_append(h->headers, s);
	free(s);
	if (!l)
		return -ENOMEM;
	h->headers = l;
	return 0;
}

static int http_client__setup(struct http_client *h, const struct http_opts *o,
			      struct errmsg *e)
{
	CURL *c;
	size_t i;
	int err = 0;

	c = h->curl = curl_easy_init();
	if (!c)
		return errmsg__set(e, -ENOMEM, "cannot start libcurl");
	if (o->bearer)
		err = add_header(h, "Authorization: Bearer ", o->bearer);
	for (i = 0; !err && i < o->n_headers; i++)
		err = add_header(h, "", o->headers[i]);
	if (!err && o->content_type && !has_header(o, "Content-Type"))
		err = add_header(h, "Content-Type: ", o->content_type);
	/* no 100-continue round trip before big bodies */
	if (!err)
		err = add_header(h, "Expect:", "");
	if (err)
		return errmsg__set(e, err, "out of memory");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(h->timeout * 1000 + 0.5));
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "bpprof");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->reply);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (o->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
	if (o->cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
	if (o->key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, o->key);
	if (o->basic_auth || h->url_user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		if (o->basic_auth) {
			curl_easy_setopt(c, CURLOPT_USERPWD, o->basic_auth);
		} else {
			curl_easy_setopt(c, CURLOPT_USERNAME, h->url_user);
			curl_easy_setopt(c, CURLOPT_PASSWORD, h->url_pass ? h->url_pass : "");
		}
	}
	return 0;
}

struct http_client *http_client__new(const struct http_opts *o, struct errmsg *e)
{
	const char *why = curl_dl__missing();
	struct http_client *h;
	int err;

	if (why) {
		errmsg__set(e, -ELIBACC, "%s", why);
		errno = ELIBACC;
		return NULL;
	}
	if (pthread_once(&curl_once, curl_init) || curl_init_rc) {
		errmsg__set(e, -ENOMEM, "cannot initialise libcurl");
		errno = ENOMEM;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errmsg__set(e, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	h->timeout = o->timeout ? o->timeout : HTTP_DEFAULT_TIMEOUT;
	h->retry_wait = o->retry_wait ? o->retry_wait : HTTP_DEFAULT_RETRY_WAIT;
	h->reply = BUF_INIT(HTTP_MAX_REPLY);
	if (o->n_headers > HTTP_MAX_HEADERS)
		err = errmsg__set(e, -EINVAL, "more than %u headers", HTTP_MAX_HEADERS);
	else if (!(h->timeout > 0 && h->timeout <= 86400) || !(h->retry_wait >= 0))
		err = errmsg__set(e, -EINVAL, "timeout must be within (0, 1 day], retry wait "
				  "positive");
	/* before any other check: even a message about a bad header must not
	 * show a secret */
	else if ((err = http_client__keep_secrets(h, o)))
		errmsg__set(e, err, "out of memory");
	if (!err)
		err = http_client__check(o, e);
	if (!err)
		err = http_client__parse_url(h, o, e);
	if (!err)
		err = http_client__setup(h, o, e);
	if (err) {
		http_client__redact(h, e);
		http_client__free(h);
		errno = -err;
		return NULL;
	}
	return h;
}

void http_client__free(struct http_client *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	curl_url_cleanup(h->base);
	free(h->url);
	free(h->host);
	curl_free(h->url_user);
	curl_free(h->url_pass);
	redact__free(&h->secrets);
	buf__free(&h->reply);
	free(h);
}

const char *http_client__url(const struct http_client *h)
{
	return h->url;
}

const char *http_client__host(const struct http_client *h)
{
	return h->host;
}

/* The printable ASCII of s, at most max bytes: a JSON string's content (s
 * just past the quote) or a line. */
static void printable(const char *s, bool json, char *out, size_t max)
{
	size_t o = 0;

	for (; *s && o < max; s++) {
		if (json && *s == '"')
			break;
		if (!json && (*s == '\n' || *s == '\r'))
			break;
		if (json && *s == '\\' && s[1]) {
			s++;
			out[o++] = strchr("nrt", *s) ? ' ' : *s == 'u' ? '?' : *s;
			if (*s == 'u')
				s += strnlen(s + 1, 4);
		} else if (*s >= 0x20 && *s < 0x7f) {
			out[o++] = *s;
		}
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = 0;
}

/* The reply's "message" (JSON error bodies, as Connect and most APIs
 * send), else its first line, secrets masked before it is cut to
 * HTTP_MAX_SERVER_MSG bytes, so no piece of one is left at the cut. */
static void server_message(const struct http_client *h, char *out)
{
	static const char ws[] = " \t\r\n";
	const struct buf *b = &h->reply;
	char *z = b->len ? strndup((const char *)b->data, b->len) : NULL, *m;
	char full[HTTP_MAX_REPLY + 1];

	*out = 0;
	if (!z)
		return;
	m = strstr(z, "\"message\"");
	if (m) {
		m += 9;
		m += strspn(m, ws);
		m = *m == ':' ? m + 1 + strspn(m + 1, ws) : NULL;
	}
	if (m && *m == '"')
		printable(m + 1, true, full, HTTP_MAX_REPLY);
	else
		printable(z + strspn(z, ws), false, full, HTTP_MAX_REPLY);
	free(z);
	redact__scrub(&h->secrets, full, sizeof(full), b->len == b->limit);
	if (strlen(full) > HTTP_MAX_SERVER_MSG) {
		full[HTTP_MAX_SERVER_MSG] = '\0';
		redact__scrub(&h->secrets, full, sizeof(full), true);
	}
	snprintf(out, HTTP_MAX_SERVER_MSG + 1, "%s", full);
}

static bool tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED: case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR: case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS: case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CLIENTCERT: case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/* Perform the request set on the handle and say how it ended. */
static int http_client__perform(struct http_client *h, struct http_result *r,
				struct errmsg *e)
{
	curl_off_t us = 0, up = 0, after = 0;
	char msg[HTTP_MAX_SERVER_MSG + 1], *loc = NULL, shown[200];
	long status = 0, os_err = 0;
	CURLcode rc;

	h->reply.len = 0;
	h->errbuf[0] = 0;
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_TOTAL_TIME_T, &us);
	curl_easy_getinfo(h->curl, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	r->seconds = (double)us / 1e6;
	r->bytes = (uint64_t)up;
	r->status = status;
	r->transient = true;
	if (rc == CURLE_COULDNT_RESOLVE_HOST)
		return errmsg__set(e, -EAGAIN, "cannot resolve %s", h->host);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return errmsg__set(e, -EAGAIN, "%s: given up unanswered at the stop timeout",
				   h->host);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return errmsg__set(e, -EAGAIN, "%s: timed out after %g s", h->host, h->timeout);
	if (tls_error(rc))
		return errmsg__set(e, -EAGAIN, "TLS with %s: %s", h->host,
				   *h->errbuf ? h->errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_err);
		return errmsg__set(e, -EAGAIN, "cannot reach %s: %s", h->host,
				   os_err ? strerror((int)os_err) : curl_easy_strerror(rc));
	}
	if (rc)
		return errmsg__set(e, -EAGAIN, "cannot reach %s: %s", h->host,
				   *h->errbuf ? h->errbuf : curl_easy_strerror(rc));
	if (status >= 200 && status < 300) {
		r->transient = false;
		return 0;
	}
	/* libcurl reads both forms, seconds and an HTTP date */
	if ((status == 429 || status == 503) &&
	    !curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &after) && after > 0) {
		r->retry_after_asked = (double)after;
		r->retry_after = (double)after < HTTP_MAX_BACKOFF ? (double)after : HTTP_MAX_BACKOFF;
	}
	server_message(h, msg);
	if (status == 408 || status == 429 || status >= 500)
		return errmsg__set(e, -EAGAIN, "%s answered HTTP %ld%s%s", h->host, status,
				   *msg ? ": " : "", msg);
	r->transient = false;
	if (status >= 300 && status < 400) {
		curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &loc);
		redact_url(loc ? loc : "?", shown, sizeof(shown));
		return errmsg__set(e, -EPROTO, "%s answered HTTP %ld, a redirect to %s, not "
				   "followed (push to that URL)", h->host, status, shown);
	}
	return errmsg__set(e, -EPROTO, "%s answered HTTP %ld%s%s", h->host, status,
			   *msg ? ": " : "", msg);
}

/* The base URL with rq's query items appended. */
static char *request_url(const struct http_client *h, const struct http_request *rq)
{
	CURLU *u = curl_url_dup(h->base);
	char *url = NULL;
	size_t i;

	for (i = 0; u && i < rq->n_query; i++)
		if (curl_url_set(u, CURLUPART_QUERY, rq->query[i], CURLU_APPENDQUERY | CURLU_URLENCODE))
			goto out;
	if (u)
		curl_url_get(u, CURLUPART_URL, &url, 0);
out:
	curl_url_cleanup(u);
	return url;
}

static curl_mime *make_mime(CURL *c, const struct http_request *rq)
{
	curl_mime *m = curl_mime_init(c);
	size_t i;

	for (i = 0; m && i < rq->n_parts; i++) {
		const struct http_part *p = &rq->parts[i];
		curl_mimepart *part = curl_mime_addpart(m);

		if (!part || curl_mime_name(part, p->name) ||
		    (p->filename && curl_mime_filename(part, p->filename)) ||
		    (p->type && curl_mime_type(part, p->type)) ||
		    curl_mime_data(part, p->data, p->len)) {
			curl_mime_free(m);
			return NULL;
		}
	}
	return m;
}

int http_client__post(struct http_client *h, const struct http_request *rq,
		      struct http_result *r, struct errmsg *e)
{
	char *url = request_url(h, rq);
	curl_mime *mime = NULL;
	int err = -ENOMEM;

	int64_t deadline = h->deadline_ns, left;

	memset(r, 0, sizeof(*r));
	if (!url)
		goto out;
	/* a request begun before a deadline ends by it, as one begun before */
	left = deadline ? (deadline - mono_ns()) / 1000000 : 0;
	if (deadline && left <= 0) {
		r->transient = true;
		err = errmsg__set(e, -EAGAIN, "not sent: the stop timeout has passed");
		goto out;
	}
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, deadline && left < h->timeout * 1000 ?
			 (long)left : (long)(h->timeout * 1000 + 0.5));
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	if (rq->n_parts) {
		mime = make_mime(h->curl, rq);
		if (!mime)
			goto out;
		curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, mime);
	} else {
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->len);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, rq->body);
	}
	err = http_client__perform(h, r, e);
	/* the handle must not point at bytes the caller is about to free */
	curl_easy_setopt(h->curl, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
out:
	if (err == -ENOMEM)
		errmsg__set(e, err, "out of memory building the request");
	if (err)
		http_client__redact(h, e);
	curl_mime_free(mime);
	curl_free(url);
	return err;
}

double http__backoff(double retry_wait, unsigned n)
{
	uint32_t rnd = 0;
	double d = retry_wait;

	while (n-- && d < HTTP_MAX_BACKOFF)
		d *= 2;
	d = d < HTTP_MAX_BACKOFF ? d : HTTP_MAX_BACKOFF;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)rand();
	return d / 2 + d / 2 * ((double)rnd / 4294967296.0);
}

double http_client__backoff(const struct http_client *h, unsigned n,
			    const struct http_result *last)
{
	if (last && last->retry_after > 0)
		return last->retry_after;
	return http__backoff(h->retry_wait, n);
}
