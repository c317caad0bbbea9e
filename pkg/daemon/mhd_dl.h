/* libmicrohttpd is opened on first use (mhd_dl.c): whether it can be. */
#ifndef BPPROF_DAEMON_MHD_DL_H
#define BPPROF_DAEMON_MHD_DL_H

/* NULL when libmicrohttpd is loaded (loading it now if need be), else why
 * it cannot be, as a clause for a one-line error. */
const char *mhd_dl__missing(void);

#endif
