/* Delivery of pprof profiles over HTTP: Pyroscope's /ingest, its Push API
 * and plain pprof endpoints, through one reused libcurl handle, with the
 * size/time limits Pyroscope enforces applied before anything is sent.
 *
 * pusher__push returns 0 when the server accepted every part; -EAGAIN when
 * transient failures (network, TLS, timeout, 408, 429, 5xx) outlasted the
 * retries; -EPROTO when the server refused the profile for good (other 3xx
 * and 4xx); -EINVAL when the profile itself cannot go (undecodable, outside
 * Pyroscope's time window, too big even when split); -ECANCELED when the
 * wait function cut a backoff short (e keeps the last failure).
 *
 * Strings in push_opts are borrowed, not copied: the caller keeps them alive
 * as long as the pusher. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "compress/compress.h"
#include "export/push.h"
#include "pprof/codec.h"
#include "proto/push.pb-c.h"

#define PUSH_MAX_INPUT		(256u << 20)	/* a decoded profile we take */
#define PUSH_MAX_PARTS		64u		/* requests one profile may need */
#define PUSH_MAX_REPLY		4096u		/* response bytes kept for messages */
#define PUSH_MAX_SERVER_MSG	200u
#define PUSH_INGEST_PATH	"/ingest"
#define PUSH_PUSH_PATH		"/push.v1.PusherService/Push"
#define NS			1000000000ll

/* Used by one thread at a time (one curl handle). */
struct pusher {
	struct push_opts o;		/* strings borrowed from the caller */
	CURL *curl;
	CURLU *base;			/* endpoint, credentials taken out */
	char *url;			/* base as text (curl_free) */
	char *host;			/* host[:port], for messages (malloc) */
	char *url_user, *url_pass;	/* taken out of the URL (curl_free) */
	char *name;			/* ingest: name=app{k=v,...} */
	char *label_names[PUSH_MAX_LABELS];	/* '.' made '_' */
	struct curl_slist *headers;
	struct buf reply;		/* first bytes of the response body */
	char errbuf[CURL_ERROR_SIZE];
};

/* What Pyroscope will call the profile. */
struct kind {
	char name[64];			/* __name__ */
	bool memory, alloc;		/* alloc: has alloc_* (per-window) types */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, cp, min;

		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		for (; n; n--, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*s & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

int push__check_label(const char *name, const char *value, struct errmsg *e)
{
	const char *c;

	if (!name || !*name)
		return errmsg__set(e, -EINVAL, "label with an empty name");
	if (!isalpha((unsigned char)*name) && *name != '_')
		return errmsg__set(e, -EINVAL, "label '%s': a name starts with a letter or '_'", name);
	for (c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.')
			return errmsg__set(e, -EINVAL, "label '%s': a name holds only letters, "
					   "digits, '_' and '.'", name);
	if (starts_with(name, "__"))
		return errmsg__set(e, -EINVAL, "label '%s': names starting '__' are reserved", name);
	if (!strcmp(name, "service_name"))
		return errmsg__set(e, -EINVAL, "label 'service_name': set it as the app name");
	if (!value || !*value)
		return errmsg__set(e, -EINVAL, "label '%s': empty value", name);
	if (!utf8_valid((const unsigned char *)value))
		return errmsg__set(e, -EINVAL, "label '%s': value is not valid UTF-8", name);
	/* /ingest's name=app{k=v,...} has no escapes for these. */
	if (strpbrk(value, ",{}="))
		return errmsg__set(e, -EINVAL, "label '%s': a value cannot hold , { } or =", name);
	for (c = value; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return errmsg__set(e, -EINVAL, "label '%s': value holds a control character",
					   name);
	return 0;
}

int push__check_app(const char *app, struct errmsg *e)
{
	const char *c;

	if (!app || !*app)
		return errmsg__set(e, -EINVAL, "empty app name");
	for (c = app; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_./-", *c))
			return errmsg__set(e, -EINVAL, "app name '%s': only letters, digits and "
					   "_ . / - are allowed", app);
	return 0;
}

static const char *const api_names[] = {
	[PUSH_API_INGEST] = "ingest", [PUSH_API_PUSH] = "push", [PUSH_API_HTTP] = "http",
};

int push__parse_api(const char *s, enum push_api *api)
{
	size_t i;

	for (i = 0; s && i < sizeof(api_names) / sizeof(api_names[0]); i++)
		if (!strcmp(s, api_names[i])) {
			*api = (enum push_api)i;
			return 0;
		}
	return -EINVAL;
}

const char *push__api_name(enum push_api api)
{
	return (unsigned)api < sizeof(api_names) / sizeof(api_names[0]) ? api_names[api] : "?";
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

/* Replace every copy of secret in e with ***. */
static void scrub(struct errmsg *e, const char *secret)
{
	char out[ERRMSG_MAX], *hit, *s = e->text;
	size_t n = secret ? strlen(secret) : 0, len = 0;

	if (!n || !strstr(s, secret))
		return;
	while ((hit = strstr(s, secret)) && len < sizeof(out)) {
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%.*s***", (int)(hit - s), s);
		s = hit + n;
	}
	if (len < sizeof(out))
		snprintf(out + len, sizeof(out) - len, "%s", s);
	memcpy(e->text, out, sizeof(out));
}

static void pusher__scrub(const struct pusher *p, struct errmsg *e)
{
	const char *colon = p->o.basic_auth ? strchr(p->o.basic_auth, ':') : NULL;
	size_t i;

	if (!e)
		return;
	scrub(e, p->o.basic_auth);
	scrub(e, colon ? colon + 1 : NULL);
	scrub(e, p->o.bearer);
	scrub(e, p->url_pass);
	for (i = 0; i < p->o.n_headers; i++)
		if (!strncasecmp(p->o.headers[i], "authorization:", 14))
			scrub(e, p->o.headers[i] + 14 + strspn(p->o.headers[i] + 14, " \t"));
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

static bool has_header(const struct push_opts *o, const char *name)
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

static int add_header(struct pusher *p, const char *name, const char *value)
{
	struct curl_slist *l;
	char *h;

	if (asprintf(&h, "%s%s", name, value) < 0)
		return -ENOMEM;
	l = curl_slist_append(p->headers, h);
	free(h);
	if (!l)
		return -ENOMEM;
	p->headers = l;
	return 0;
}

static int pusher__check(struct pusher *p, struct errmsg *e)
{
	const struct push_opts *o = &p->o;
	size_t i, j;
	int err;

	if ((unsigned)o->api > PUSH_API_HTTP)
		return errmsg__set(e, -EINVAL, "unknown push API %d", (int)o->api);
	if (o->n_labels > PUSH_MAX_LABELS || o->n_headers > PUSH_MAX_HEADERS)
		return errmsg__set(e, -EINVAL, "more than %u labels or %u headers",
				   PUSH_MAX_LABELS, PUSH_MAX_HEADERS);
	if (!(o->timeout > 0 && o->timeout <= 86400) || !(o->retry_wait >= 0))
		return errmsg__set(e, -EINVAL, "timeout must be within (0, 1 day], retry wait "
				   "positive");
	err = push__check_app(o->app, e);
	for (i = 0; !err && i < o->n_labels; i++)
		err = push__check_label(o->labels[i].name, o->labels[i].value, e);
	for (i = 0; !err && i < o->n_headers; i++)
		err = check_header(o->headers[i], e);
	if (err)
		return err;
	/* Pyroscope turns '.' into '_': two names that meet there are one label. */
	for (i = 0; i < o->n_labels; i++) {
		p->label_names[i] = strdup(o->labels[i].name);
		if (!p->label_names[i])
			return errmsg__set(e, -ENOMEM, "out of memory");
		for (char *c = p->label_names[i]; *c; c++)
			*c = *c == '.' ? '_' : *c;
		if (!strcmp(p->label_names[i], "service_name"))
			return errmsg__set(e, -EINVAL, "label '%s' is service_name once '.' is '_': "
					   "set it as the app name", o->labels[i].name);
		for (j = 0; j < i; j++)
			if (!strcmp(p->label_names[i], p->label_names[j]))
				return errmsg__set(e, -EINVAL, "labels '%s' and '%s' are the same "
						   "label once '.' is '_'", o->labels[j].name,
						   o->labels[i].name);
	}
	if (o->basic_auth && o->bearer)
		return errmsg__set(e, -EINVAL, "basic auth and a bearer token: choose one");
	if (o->basic_auth && !strchr(o->basic_auth, ':'))
		return errmsg__set(e, -EINVAL, "basic auth is \"user:password\"");
	if ((o->basic_auth || o->bearer) && has_header(o, "Authorization"))
		return errmsg__set(e, -EINVAL, "an Authorization header beside basic auth or a "
				   "bearer token: choose one");
	if ((o->tenant && strpbrk(o->tenant, "\r\n")) || (o->bearer && strpbrk(o->bearer, "\r\n")))
		return errmsg__set(e, -EINVAL, "tenant or bearer token holds a line break");
	if (o->ca_file && (err = check_file("CA file", o->ca_file, e)))
		return err;
	if (o->cert && (err = check_file("client certificate", o->cert, e)))
		return err;
	return o->key ? check_file("client key", o->key, e) : 0;
}

/* Parse with curl's own URL parser (what it will connect to), take the
 * credentials out, and append the API's path. */
static int pusher__parse_url(struct pusher *p, struct errmsg *e)
{
	const char *suffix = p->o.api == PUSH_API_INGEST ? PUSH_INGEST_PATH :
			     p->o.api == PUSH_API_PUSH ? PUSH_PUSH_PATH : NULL;
	char shown[200], *scheme = NULL, *host = NULL, *path = NULL, *port = NULL, *full = NULL;
	CURLUcode rc;
	int err = -EINVAL;

	if (!p->o.url || !*p->o.url)
		return errmsg__set(e, -EINVAL, "no URL to push to");
	redact_url(p->o.url, shown, sizeof(shown));
	p->base = curl_url();
	if (!p->base)
		return errmsg__set(e, -ENOMEM, "out of memory");
	rc = curl_url_set(p->base, CURLUPART_URL, p->o.url, 0);
	if (rc)
		return errmsg__set(e, -EINVAL, "bad URL '%s': %s", shown, curl_url_strerror(rc));
	curl_url_get(p->base, CURLUPART_SCHEME, &scheme, 0);
	if (!scheme || (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
		errmsg__set(e, -EINVAL, "bad URL '%s': the scheme must be http or https", shown);
		goto out;
	}
	if (curl_url_get(p->base, CURLUPART_HOST, &host, 0) || !host || !*host) {
		errmsg__set(e, -EINVAL, "bad URL '%s': no host", shown);
		goto out;
	}
	curl_url_get(p->base, CURLUPART_PORT, &port, 0);
	if (asprintf(&p->host, "%s%s%s", host, port ? ":" : "", port ? port : "") < 0) {
		p->host = NULL;
		goto nomem;
	}
	curl_url_get(p->base, CURLUPART_USER, &p->url_user, CURLU_URLDECODE);
	curl_url_get(p->base, CURLUPART_PASSWORD, &p->url_pass, CURLU_URLDECODE);
	curl_url_set(p->base, CURLUPART_USER, NULL, 0);
	curl_url_set(p->base, CURLUPART_PASSWORD, NULL, 0);
	curl_url_set(p->base, CURLUPART_FRAGMENT, NULL, 0);
	if (suffix && !curl_url_get(p->base, CURLUPART_PATH, &path, 0) && !ends_with(path, suffix)) {
		size_t n = strlen(path);

		while (n && path[n - 1] == '/')
			n--;
		if (asprintf(&full, "%.*s%s", (int)n, path, suffix) < 0)
			goto nomem;
		if (curl_url_set(p->base, CURLUPART_PATH, full, 0))
			goto nomem;
	}
	if (curl_url_get(p->base, CURLUPART_URL, &p->url, 0))
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

static int pusher__setup_curl(struct pusher *p, struct errmsg *e)
{
	const struct push_opts *o = &p->o;
	bool multipart = o->api == PUSH_API_INGEST && !o->ingest_raw;
	CURL *c;
	size_t i;
	int err = 0;

	c = p->curl = curl_easy_init();
	if (!c)
		return errmsg__set(e, -ENOMEM, "cannot start libcurl");
	if (o->tenant)
		err = add_header(p, "X-Scope-OrgID: ", o->tenant);
	if (!err && o->bearer)
		err = add_header(p, "Authorization: Bearer ", o->bearer);
	for (i = 0; !err && i < o->n_headers; i++)
		err = add_header(p, "", o->headers[i]);
	/* multipart: curl's own Content-Type carries the boundary */
	if (!err && !multipart && !has_header(o, "Content-Type"))
		err = add_header(p, "Content-Type: ", o->api == PUSH_API_PUSH ? "application/proto" :
				 o->content_type ? o->content_type : "application/octet-stream");
	if (!err && o->api == PUSH_API_PUSH)
		err = add_header(p, "Connect-Protocol-Version: 1", "");
	/* no 100-continue round trip before big bodies */
	if (!err)
		err = add_header(p, "Expect:", "");
	if (err)
		return errmsg__set(e, err, "out of memory");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000 + 0.5));
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "bpprof");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &p->reply);
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
	if (o->basic_auth || p->url_user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		if (o->basic_auth) {
			curl_easy_setopt(c, CURLOPT_USERPWD, o->basic_auth);
		} else {
			curl_easy_setopt(c, CURLOPT_USERNAME, p->url_user);
			curl_easy_setopt(c, CURLOPT_PASSWORD, p->url_pass ? p->url_pass : "");
		}
	}
	return 0;
}

struct pusher *pusher__new(const struct push_opts *o, struct errmsg *e)
{
	struct pusher *p;
	struct buf name = BUF_INIT(0);
	size_t i;
	int err;

	if (pthread_once(&curl_once, curl_init) || curl_init_rc) {
		errmsg__set(e, -ENOMEM, "cannot initialise libcurl");
		errno = ENOMEM;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errmsg__set(e, -ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	p->o = *o;
	p->o.app = o->app ? o->app : "bpprof";
	p->o.timeout = o->timeout ? o->timeout : PUSH_DEFAULT_TIMEOUT;
	p->o.retry_wait = o->retry_wait ? o->retry_wait : PUSH_DEFAULT_RETRY_WAIT;
	p->reply = BUF_INIT(PUSH_MAX_REPLY);
	err = pusher__check(p, e);
	if (!err)
		err = pusher__parse_url(p, e);
	if (!err)
		err = pusher__setup_curl(p, e);
	if (!err && p->o.api == PUSH_API_INGEST) {
		err = buf__appendf(&name, "name=%s{", p->o.app);
		for (i = 0; !err && i < p->o.n_labels; i++)
			err = buf__appendf(&name, "%s%s=%s", i ? "," : "", p->o.labels[i].name,
					   p->o.labels[i].value);
		if (!err)
			err = buf__appendf(&name, "}");
		p->name = (char *)name.data;
		if (err)
			errmsg__set(e, err, "out of memory");
	}
	if (err) {
		pusher__scrub(p, e);
		pusher__free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

void pusher__free(struct pusher *p)
{
	size_t i;

	if (!p)
		return;
	curl_easy_cleanup(p->curl);
	curl_slist_free_all(p->headers);
	curl_url_cleanup(p->base);
	curl_free(p->url);
	free(p->host);
	curl_free(p->url_user);
	curl_free(p->url_pass);
	for (i = 0; i < PUSH_MAX_LABELS; i++)
		free(p->label_names[i]);
	free(p->name);
	buf__free(&p->reply);
	free(p);
}

const char *pusher__url(const struct pusher *p)
{
	return p->url;
}

/* Pyroscope's __name__ for these sample types. */
static void profile_kind(const pprof_pb *pb, struct kind *k)
{
	const char *first = pb->n_sample_type ? pprof__str(pb, pb->sample_type[0]->type) : "";
	bool cpu = false, wall = false;
	size_t i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < pb->n_sample_type; i++) {
		const char *t = pprof__str(pb, pb->sample_type[i]->type);

		cpu |= strstr(t, "cpu") != NULL;
		wall |= strstr(t, "wall") != NULL;
		k->alloc |= starts_with(t, "alloc_");
		k->memory |= k->alloc || starts_with(t, "inuse_");
	}
	if (cpu || k->memory || wall) {
		k->memory &= !cpu;
		k->alloc &= k->memory;
		snprintf(k->name, sizeof(k->name), "%s",
			 cpu ? "process_cpu" : k->memory ? "memory" : "wall");
		return;
	}
	snprintf(k->name, sizeof(k->name), "%s%s", isdigit((unsigned char)*first) ? "_" : "",
		 *first ? first : "unknown");
	for (i = 0; k->name[i]; i++)
		if (!isalnum((unsigned char)k->name[i]))
			k->name[i] = '_';
}

/* Heap values are per-window, not running totals; inuse is a level. */
static int type_config(const pprof_pb *pb, struct buf *out)
{
	const char *sep = "";
	size_t i;
	int err = buf__appendf(out, "{");

	for (i = 0; !err && i < pb->n_sample_type; i++) {
		const char *t = pprof__str(pb, pb->sample_type[i]->type);
		const char *unit = pprof__str(pb, pb->sample_type[i]->unit);
		bool inuse = starts_with(t, "inuse_");

		if ((!inuse && !starts_with(t, "alloc_")) || t[strspn(t, "abcdefghijklmnopqrstuvwxyz_")])
			continue;
		err = buf__appendf(out, "%s\"%s\":{\"units\":\"%s\",%s\"cumulative\":false}", sep, t,
				   strcmp(unit, "bytes") ? "objects" : "bytes",
				   inuse ? "\"aggregation\":\"average\"," : "");
		sep = ",";
	}
	return err ? err : buf__appendf(out, "}");
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
	return buf__append(ctx, data, len);
}

/* gzip the profile (prof) or bytes (data, len) into out. */
static int gzip_into(struct buf *out, const struct pprof_profile *prof, const void *data,
		     size_t len, struct errmsg *e)
{
	struct compress_writer *w = compress_writer__new(COMPRESS_GZIP, COMPRESS_LEVEL_DEFAULT,
							 buf_sink, out);
	int err;

	if (!w)
		return errmsg__set(e, -ENOMEM, "out of memory");
	err = prof ? pprof__encode(prof, w, e) : compress_writer__write(w, data, len);
	if (!err)
		err = compress_writer__finish(w);
	compress_writer__free(w);
	if (err && !prof)
		errmsg__set(e, err, "gzip: %s", strerror(-err));
	return err;
}

/* Does every one of k slices of the samples fit Pyroscope's size limit? */
static bool slices_fit(pprof_pb *pb, size_t k)
{
	pprof_sample_pb **all = pb->sample;
	size_t n = pb->n_sample, i, size = 0;

	for (i = 0; i < k && size <= PUSH_MAX_PROFILE_BYTES; i++) {
		pb->sample = all + i * n / k;
		pb->n_sample = (i + 1) * n / k - i * n / k;
		size = protobuf_c_message_get_packed_size(&pb->base);
	}
	pb->sample = all;
	pb->n_sample = n;
	return size <= PUSH_MAX_PROFILE_BYTES;
}

/* The gzip bodies for one profile: as it is, or split by samples into
 * slices that each carry all the tables and fit Pyroscope's limits. */
static int make_parts(const struct pusher *p, struct pprof_profile *prof, const void *in,
		      size_t in_len, const struct buf *plain, struct buf *parts, size_t *n_parts,
		      const char *what, struct errmsg *e)
{
	pprof_pb *pb = prof->pb;
	pprof_sample_pb **all = pb->sample;
	size_t n = pb->n_sample, k = 1, i;
	int err = 0;

	if (p->o.api != PUSH_API_HTTP) {
		k = (n + PUSH_MAX_SAMPLES - 1) / PUSH_MAX_SAMPLES;
		i = (plain->len + PUSH_MAX_PROFILE_BYTES - 1) / PUSH_MAX_PROFILE_BYTES;
		k = k > i ? k : i;
		k = k < n ? k : n;
		k = k ? k : 1;
		while (!slices_fit(pb, k)) {
			if (k >= n || k >= PUSH_MAX_PARTS)
				return errmsg__set(e, -EINVAL, "%s: does not fit Pyroscope's %u MiB "
						   "limit even split into %zu requests", what,
						   PUSH_MAX_PROFILE_BYTES >> 20, k);
			k = 2 * k < n ? 2 * k : n;
		}
	}
	*n_parts = k;
	for (i = 0; i < k; i++)
		parts[i] = BUF_INIT(0);
	if (k == 1 && compress__detect(in, in_len) == COMPRESS_GZIP)
		return buf__append(&parts[0], in, in_len) ? errmsg__set(e, -ENOMEM, "out of memory") : 0;
	if (k == 1)
		return gzip_into(&parts[0], NULL, plain->data, plain->len, e);
	for (i = 0; !err && i < k; i++) {
		pb->sample = all + i * n / k;
		pb->n_sample = (i + 1) * n / k - i * n / k;
		err = gzip_into(&parts[i], prof, NULL, 0, e);
	}
	pb->sample = all;
	pb->n_sample = n;
	return err;
}

static int uuid4(char out[37])
{
	uint8_t u[16];
	size_t i, o = 0;

	if (getrandom(u, sizeof(u), 0) != sizeof(u))
		return -EIO;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		o += (size_t)snprintf(out + o, 3, "%02x", u[i]);
	}
	return 0;
}

static void add_pair(Push__V1__LabelPair *pairs, Push__V1__LabelPair **lp, size_t *n,
		     const char *name, const char *value)
{
	push__v1__label_pair__init(&pairs[*n]);
	pairs[*n].name = (char *)name;
	pairs[*n].value = (char *)value;
	lp[*n] = &pairs[*n];
	(*n)++;
}

/* The Push API's body: one series, one sample. */
static int push_request(const struct pusher *p, const struct kind *k, const struct buf *gz,
			struct buf *out)
{
	Push__V1__LabelPair pairs[PUSH_MAX_LABELS + 3], *lp[PUSH_MAX_LABELS + 3];
	Push__V1__RawSample sample = PUSH__V1__RAW_SAMPLE__INIT, *sp = &sample;
	Push__V1__RawProfileSeries series = PUSH__V1__RAW_PROFILE_SERIES__INIT, *ser = &series;
	Push__V1__PushRequest req = PUSH__V1__PUSH_REQUEST__INIT;
	size_t n = 0, i;
	char id[37];
	int err;

	add_pair(pairs, lp, &n, "__name__", k->name);
	add_pair(pairs, lp, &n, "service_name", p->o.app);
	for (i = 0; i < p->o.n_labels; i++)
		add_pair(pairs, lp, &n, p->label_names[i], p->o.labels[i].value);
	if (k->alloc)
		add_pair(pairs, lp, &n, "__delta__", "false");
	err = uuid4(id);
	if (err)
		return err;
	sample.raw_profile.data = gz->data;
	sample.raw_profile.len = gz->len;
	sample.id = id;
	series.labels = lp;
	series.n_labels = n;
	series.samples = &sp;
	series.n_samples = 1;
	req.series = &ser;
	req.n_series = 1;
	err = buf__reserve(out, push__v1__push_request__get_packed_size(&req));
	if (!err)
		out->len = push__v1__push_request__pack(&req, out->data);
	return err;
}

/* The printable ASCII of s, at most PUSH_MAX_SERVER_MSG bytes: a JSON
 * string's content (s just past the quote) or a line. */
static void printable(const char *s, bool json, char *out)
{
	size_t o = 0;

	for (; *s && o < PUSH_MAX_SERVER_MSG; s++) {
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

/* The reply's "message" (Connect and Pyroscope errors are JSON), else its
 * first line. */
static void server_message(const struct buf *b, char *out)
{
	static const char ws[] = " \t\r\n";
	char *z = b->len ? strndup((const char *)b->data, b->len) : NULL, *m;

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
		printable(m + 1, true, out);
	else
		printable(z + strspn(z, ws), false, out);
	free(z);
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

/* One request: 0 accepted, -EAGAIN worth another try, -EPROTO refused. */
static int pusher__attempt(struct pusher *p, const char *what, struct push_result *r,
			   struct errmsg *e)
{
	curl_off_t us = 0, up = 0;
	char msg[PUSH_MAX_SERVER_MSG + 1], *loc = NULL, shown[200];
	long status = 0, os_err = 0;
	CURLcode rc;

	p->reply.len = 0;
	p->errbuf[0] = 0;
	rc = curl_easy_perform(p->curl);
	r->attempts++;
	curl_easy_getinfo(p->curl, CURLINFO_TOTAL_TIME_T, &us);
	curl_easy_getinfo(p->curl, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
	r->seconds = (double)us / 1e6;
	r->bytes = (uint64_t)up;
	r->status = status;
	r->transient = true;
	if (rc == CURLE_COULDNT_RESOLVE_HOST)
		return errmsg__set(e, -EAGAIN, "cannot resolve %s", p->host);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return errmsg__set(e, -EAGAIN, "%s: timed out after %g s", p->host, p->o.timeout);
	if (tls_error(rc))
		return errmsg__set(e, -EAGAIN, "TLS with %s: %s", p->host,
				   *p->errbuf ? p->errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(p->curl, CURLINFO_OS_ERRNO, &os_err);
		return errmsg__set(e, -EAGAIN, "cannot reach %s: %s", p->host,
				   os_err ? strerror((int)os_err) : curl_easy_strerror(rc));
	}
	if (rc)
		return errmsg__set(e, -EAGAIN, "cannot reach %s: %s", p->host,
				   *p->errbuf ? p->errbuf : curl_easy_strerror(rc));
	if (status >= 200 && status < 300) {
		r->transient = false;
		return 0;
	}
	server_message(&p->reply, msg);
	if (status == 408 || status == 429 || status >= 500)
		return errmsg__set(e, -EAGAIN, "%s answered HTTP %ld%s%s", p->host, status,
				   *msg ? ": " : "", msg);
	r->transient = false;
	if (status >= 300 && status < 400) {
		curl_easy_getinfo(p->curl, CURLINFO_REDIRECT_URL, &loc);
		redact_url(loc ? loc : "?", shown, sizeof(shown));
		return errmsg__set(e, -EPROTO, "%s refused %s: HTTP %ld redirect to %s, not "
				   "followed (push to that URL)", p->host, what, status, shown);
	}
	return errmsg__set(e, -EPROTO, "%s refused %s: HTTP %ld%s%s", p->host, what, status,
			   *msg ? ": " : "", msg);
}

/* retry_wait × 2^n, jittered into [d/2, d]; the server's Retry-After wins. */
static double pusher__backoff(struct pusher *p, unsigned n, long status)
{
	curl_off_t after = 0;
	uint32_t rnd = 0;
	double d = p->o.retry_wait;

	if ((status == 429 || status == 503) &&
	    !curl_easy_getinfo(p->curl, CURLINFO_RETRY_AFTER, &after) && after > 0)
		return (double)after < PUSH_MAX_BACKOFF ? (double)after : PUSH_MAX_BACKOFF;
	while (n-- && d < PUSH_MAX_BACKOFF)
		d *= 2;
	d = d < PUSH_MAX_BACKOFF ? d : PUSH_MAX_BACKOFF;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)rand();
	return d / 2 + d / 2 * ((double)rnd / 4294967296.0);
}

static bool pusher__wait(struct pusher *p, double seconds)
{
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };

	if (p->o.wait)
		return p->o.wait(p->o.wait_ctx, seconds);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	return false;
}

/* The request's URL: ingest adds name, from/until, spyName (and format). */
static char *request_url(const struct pusher *p, const pprof_pb *pb)
{
	/* no time_nanos: the server stamps it now */
	int64_t start = pb->time_nanos ? pb->time_nanos : (int64_t)time(NULL) * NS;
	int64_t from = start / NS, until = (start + pb->duration_nanos + NS - 1) / NS;
	CURLU *u = curl_url_dup(p->base);
	char q[96], *url = NULL;

	snprintf(q, sizeof(q), "from=%lld&until=%lld&spyName=bpprof%s", (long long)from,
		 (long long)(until > from ? until : from + 1), p->o.ingest_raw ? "&format=pprof" : "");
	if (u && (p->o.api != PUSH_API_INGEST ||
		  (!curl_url_set(u, CURLUPART_QUERY, p->name, CURLU_APPENDQUERY | CURLU_URLENCODE) &&
		   !curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY))))
		curl_url_get(u, CURLUPART_URL, &url, 0);
	curl_url_cleanup(u);
	return url;
}

static int add_part(curl_mime *m, const char *name, const char *file, const char *type,
		    const struct buf *b)
{
	curl_mimepart *part = curl_mime_addpart(m);

	return !part || curl_mime_name(part, name) || curl_mime_filename(part, file) ||
	       curl_mime_type(part, type) ||
	       curl_mime_data(part, (const char *)b->data, b->len) ? -ENOMEM : 0;
}

/* Send one part with retries. */
static int pusher__send(struct pusher *p, const struct kind *k, const pprof_pb *pb,
			const struct buf *gz, const char *what, unsigned retries,
			struct push_result *r, struct errmsg *e)
{
	struct buf body = BUF_INIT(0), config = BUF_INIT(0);
	char *url = request_url(p, pb);
	curl_mime *mime = NULL;
	unsigned n;
	int err = -ENOMEM;

	if (!url)
		goto out;
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	if (p->o.api == PUSH_API_INGEST && !p->o.ingest_raw) {
		/* a part without filename= is silently ignored by Pyroscope */
		mime = curl_mime_init(p->curl);
		if (!mime || add_part(mime, "profile", "profile.pprof", "application/octet-stream", gz))
			goto out;
		if (k->memory && (type_config(pb, &config) ||
				  add_part(mime, "sample_type_config", "sample_type_config.json",
					   "application/json", &config)))
			goto out;
		curl_easy_setopt(p->curl, CURLOPT_MIMEPOST, mime);
	} else {
		if (p->o.api == PUSH_API_PUSH && push_request(p, k, gz, &body))
			goto out;
		if (p->o.api != PUSH_API_PUSH)
			body = *gz;
		curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body.data);
	}
	for (n = 0;; n++) {
		err = pusher__attempt(p, what, r, e);
		if (err != -EAGAIN || n >= retries)
			break;
		if (pusher__wait(p, pusher__backoff(p, n, r->status))) {
			err = -ECANCELED;
			break;
		}
	}
	curl_easy_setopt(p->curl, CURLOPT_MIMEPOST, NULL);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, NULL);
out:
	if (err == -ENOMEM)
		errmsg__set(e, err, "out of memory building the request");
	if (p->o.api == PUSH_API_PUSH)
		buf__free(&body);
	buf__free(&config);
	curl_mime_free(mime);
	curl_free(url);
	return err;
}

/* What Pyroscope would refuse, refused here without a request. */
static int check_limits(const pprof_pb *pb, const char *what, struct errmsg *e)
{
	struct timespec now;
	int64_t t = pb->time_nanos, now_ns;
	size_t i;

	for (i = 0; i < pb->n_sample_type; i++)
		if (strchr(pprof__str(pb, pb->sample_type[i]->type), '-'))
			return errmsg__set(e, -EINVAL, "%s: sample type '%s' holds '-', which "
					   "Pyroscope refuses", what,
					   pprof__str(pb, pb->sample_type[i]->type));
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (int64_t)now.tv_sec * NS + now.tv_nsec;
	/* no time: the server stamps it on arrival */
	if (t && t < now_ns - PUSH_MAX_AGE_NS)
		return errmsg__set(e, -EINVAL, "%s: profile is %lld min old, too old for "
				   "Pyroscope's window (1 h back to 10 min ahead)", what,
				   (long long)((now_ns - t) / (60 * NS)));
	if (t > now_ns + PUSH_MAX_AHEAD_NS)
		return errmsg__set(e, -EINVAL, "%s: profile is %lld min in the future, too new "
				   "for Pyroscope's window (1 h back to 10 min ahead)", what,
				   (long long)((t - now_ns) / (60 * NS)));
	return 0;
}

int pusher__push(struct pusher *p, const void *pprof, size_t len, const char *what,
		 unsigned retries, struct push_result *r, struct errmsg *e)
{
	struct buf plain = BUF_INIT(PUSH_MAX_INPUT), parts[PUSH_MAX_PARTS];
	struct pprof_profile *prof = NULL;
	struct errmsg why;
	size_t n_parts = 0, i;
	struct kind k;
	int err;

	memset(r, 0, sizeof(*r));
	what = what ? what : "profile";
	err = compress__decode(pprof, len, &plain, &why);
	if (!err)
		err = pprof__decode(plain.data, plain.len, &prof, &why);
	if (err) {
		err = errmsg__set(e, err == -ENOMEM ? err : -EINVAL, "%s: not a pprof profile: %s",
				  what, why.text);
		goto out;
	}
	profile_kind(prof->pb, &k);
	if (p->o.api != PUSH_API_HTTP && (err = check_limits(prof->pb, what, e)))
		goto out;
	err = make_parts(p, prof, pprof, len, &plain, parts, &n_parts, what, e);
	buf__free(&plain);
	r->parts = (unsigned)n_parts;
	for (i = 0; !err && i < n_parts; i++) {
		uint64_t sent = r->bytes;

		err = pusher__send(p, &k, prof->pb, &parts[i], what, retries, r, e);
		r->bytes += sent;
	}
out:
	if (err)
		pusher__scrub(p, e);
	for (i = 0; i < n_parts; i++)
		buf__free(&parts[i]);
	pprof_profile__free(prof);
	buf__free(&plain);
	return err;
}
