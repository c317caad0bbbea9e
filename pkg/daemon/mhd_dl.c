/* libmicrohttpd, opened when a /metrics server (or a test's HTTP peer)
 * starts instead of at every start of bpprof: see export/curl_dl.c, whose
 * pattern this follows. Without the library a server fails to start;
 * metrics asks mhd_dl__missing first, for its one-line error. */
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "base/dynlib.h"
#include "daemon/mhd_dl.h"

#define MHD_FUNCS(X)								\
	X(MHD_start_daemon_va) X(MHD_stop_daemon) X(MHD_get_daemon_info)	\
	X(MHD_get_version) X(MHD_create_response_from_buffer)			\
	X(MHD_add_response_header) X(MHD_queue_response)			\
	X(MHD_destroy_response) X(MHD_get_connection_values)			\
	X(MHD_lookup_connection_value)

static struct {
#define FIELD(f) __typeof__(f) *f;
	MHD_FUNCS(FIELD)
#undef FIELD
} fn;

static const char *const names[] = {
#define NAME(f) #f,
	MHD_FUNCS(NAME)
#undef NAME
};

static struct dynlib lib = DYNLIB_INIT("libmicrohttpd.so.12", "the /metrics server", names, &fn);

#define LOADED()	dynlib__load(&lib)
_Static_assert(sizeof(fn) == sizeof(names) / sizeof(names[0]) * sizeof(void *),
	       "a function pointer for every name, in order");

const char *mhd_dl__missing(void)
{
	return LOADED() ? NULL : dynlib__error(&lib);
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
				    MHD_AcceptPolicyCallback apc, void *apc_cls,
				    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (!LOADED())
		return NULL;
	va_start(ap, dh_cls);
	d = fn.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

void MHD_stop_daemon(struct MHD_Daemon *d)
{
	if (d && LOADED())
		fn.MHD_stop_daemon(d);
}

/* bpprof asks only for what needs no further argument (the bound port) */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *d,
						enum MHD_DaemonInfoType type, ...)
{
	return LOADED() ? fn.MHD_get_daemon_info(d, type) : NULL;
}

const char *MHD_get_version(void)
{
	return LOADED() ? fn.MHD_get_version() : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
						     enum MHD_ResponseMemoryMode mode)
{
	return LOADED() ? fn.MHD_create_response_from_buffer(size, buffer, mode) : NULL;
}

/* The rest take a connection or a response: the library is loaded. */
enum MHD_Result MHD_add_response_header(struct MHD_Response *r, const char *header,
					const char *content)
{
	return LOADED() ? fn.MHD_add_response_header(r, header, content) : MHD_NO;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *c, unsigned int status,
				   struct MHD_Response *r)
{
	return LOADED() ? fn.MHD_queue_response(c, status, r) : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *r)
{
	if (r && LOADED())
		fn.MHD_destroy_response(r);
}

int MHD_get_connection_values(struct MHD_Connection *c, enum MHD_ValueKind kind,
			      MHD_KeyValueIterator it, void *cls)
{
	return LOADED() ? fn.MHD_get_connection_values(c, kind, it, cls) : -1;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *c, enum MHD_ValueKind kind,
					const char *key)
{
	return LOADED() ? fn.MHD_lookup_connection_value(c, kind, key) : NULL;
}
