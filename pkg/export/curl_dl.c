/* libcurl, opened when bpprof first speaks HTTP instead of at every start.
 * With what it links (TLS, Kerberos, LDAP, SSH, IDN...) it is 29 of the 44
 * libraries a run of bpprof would map and relocate: about 3 ms of each
 * start, for `record` and `convert` that never push. The functions bpprof
 * uses are defined here under libcurl's own names and forward to the
 * library's, so call sites keep libcurl's API and its type checks. Without
 * the library they fail as libcurl itself reports failing to start (the
 * HTTP client asks curl_dl__missing first, for its one-line error); a
 * cleanup of a handle that could not have been made does nothing. */
#define CURL_DISABLE_TYPECHECK		/* its macros would rename the definitions */
/* These two took a const handle only in later libcurls: declared under
 * other names, defined below with const (the same calls either way). */
#define curl_url_get	curl_url_get_declared
#define curl_url_dup	curl_url_dup_declared
#include <stdarg.h>
#include <curl/curl.h>
#undef curl_url_get
#undef curl_url_dup
CURLUcode curl_url_get(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
CURLU *curl_url_dup(const CURLU *u);

#include "base/dynlib.h"
#include "export/curl_dl.h"

#define CURL_FUNCS(X)								\
	X(curl_global_init) X(curl_global_cleanup) X(curl_version_info)		\
	X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_setopt)		\
	X(curl_easy_getinfo) X(curl_easy_perform) X(curl_easy_strerror)		\
	X(curl_free) X(curl_slist_append) X(curl_slist_free_all)		\
	X(curl_url) X(curl_url_cleanup) X(curl_url_set) X(curl_url_strerror)	\
	X(curl_mime_init) X(curl_mime_free) X(curl_mime_addpart)		\
	X(curl_mime_name) X(curl_mime_filename) X(curl_mime_type)		\
	X(curl_mime_data)

static struct {
#define FIELD(f) __typeof__(f) *f;
	CURL_FUNCS(FIELD)
#undef FIELD
	__typeof__(curl_url_get_declared) *curl_url_get;
	__typeof__(curl_url_dup_declared) *curl_url_dup;
} fn;

static const char *const names[] = {
#define NAME(f) #f,
	CURL_FUNCS(NAME)
#undef NAME
	"curl_url_get", "curl_url_dup",
};

static struct dynlib lib = DYNLIB_INIT("libcurl.so.4", "pushing over HTTP", names, &fn);

#define LOADED()	dynlib__load(&lib)
_Static_assert(sizeof(fn) == sizeof(names) / sizeof(names[0]) * sizeof(void *),
	       "a function pointer for every name, in order");

static const char unloaded[] = "libcurl.so.4 could not be loaded";

const char *curl_dl__missing(void)
{
	return LOADED() ? NULL : dynlib__error(&lib);
}

CURLcode curl_global_init(long flags)
{
	return LOADED() ? fn.curl_global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (LOADED())
		fn.curl_global_cleanup();
}

curl_version_info_data *curl_version_info(CURLversion v)
{
	return LOADED() ? fn.curl_version_info(v) : NULL;
}

CURL *curl_easy_init(void)
{
	return LOADED() ? fn.curl_easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	if (h && LOADED())
		fn.curl_easy_cleanup(h);
}

/* Every option takes one argument, of the type its number's range says
 * (curl.h's CURLOPTTYPE_*): read as that type, passed on as that type. */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;

	if (!LOADED())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		rc = fn.curl_easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every info is written through one pointer. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	if (!LOADED())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = fn.curl_easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_perform(CURL *h)
{
	return LOADED() ? fn.curl_easy_perform(h) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode rc)
{
	return LOADED() ? fn.curl_easy_strerror(rc) : unloaded;
}

void curl_free(void *p)
{
	if (p && LOADED())
		fn.curl_free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return LOADED() ? fn.curl_slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && LOADED())
		fn.curl_slist_free_all(list);
}

CURLU *curl_url(void)
{
	return LOADED() ? fn.curl_url() : NULL;
}

CURLU *curl_url_dup(const CURLU *u)
{
	return LOADED() ? fn.curl_url_dup((CURLU *)u) : NULL;
}

void curl_url_cleanup(CURLU *u)
{
	if (u && LOADED())
		fn.curl_url_cleanup(u);
}

CURLUcode curl_url_get(const CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	return LOADED() ? fn.curl_url_get((CURLU *)u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return LOADED() ? fn.curl_url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

const char *curl_url_strerror(CURLUcode rc)
{
	return LOADED() ? fn.curl_url_strerror(rc) : unloaded;
}

curl_mime *curl_mime_init(CURL *h)
{
	return LOADED() ? fn.curl_mime_init(h) : NULL;
}

void curl_mime_free(curl_mime *m)
{
	if (m && LOADED())
		fn.curl_mime_free(m);
}

curl_mimepart *curl_mime_addpart(curl_mime *m)
{
	return LOADED() ? fn.curl_mime_addpart(m) : NULL;
}

CURLcode curl_mime_name(curl_mimepart *part, const char *name)
{
	return LOADED() ? fn.curl_mime_name(part, name) : CURLE_FAILED_INIT;
}

CURLcode curl_mime_filename(curl_mimepart *part, const char *name)
{
	return LOADED() ? fn.curl_mime_filename(part, name) : CURLE_FAILED_INIT;
}

CURLcode curl_mime_type(curl_mimepart *part, const char *type)
{
	return LOADED() ? fn.curl_mime_type(part, type) : CURLE_FAILED_INIT;
}

CURLcode curl_mime_data(curl_mimepart *part, const char *data, size_t size)
{
	return LOADED() ? fn.curl_mime_data(part, data, size) : CURLE_FAILED_INIT;
}
