/* libcurl is opened on first use (curl_dl.c): whether it can be. */
#ifndef BPPROF_EXPORT_CURL_DL_H
#define BPPROF_EXPORT_CURL_DL_H

/* NULL when libcurl is loaded (loading it now if need be), else why it
 * cannot be, as a clause for a one-line error. */
const char *curl_dl__missing(void);

#endif
