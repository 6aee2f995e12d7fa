/* libmicrohttpd's own error answers, as problem documents.
 *
 * libmicrohttpd refuses some requests itself, before any roster code runs:
 * a request line it cannot parse or that is too long for its buffer (400,
 * 414), headers too large or too many (431), a version other than 1.0 and
 * 1.1 (505), a Content-Length that is not a number (400) or above 2^64
 * (413), a chunk size line too long for its buffer (500). Its answers are
 * HTML. mhd_errors answers them instead with application/problem+json
 * and a stable code: bad_request, body_too_large, uri_too_long,
 * headers_too_large, http_version_not_supported (see mhd_errors.c for
 * how). */
#pragma once

#include <stdbool.h>

#include "app.h"

/* Looks up libmicrohttpd's MHD_queue_response() and where its code lies.
 * Call before the daemon starts. 0; -ENOENT when libmicrohttpd cannot be
 * found; -ENOTSUP when roster-api's MHD_queue_response() is not the one
 * the dynamic linker gives libmicrohttpd (not exported): its answers then
 * stay HTML. */
int mhd_errors_setup(App *app);

/* For the libmicrohttpd log callback: true when msg is one of the lines
 * libmicrohttpd logs around an error answer that mhd_errors has replaced
 * (and logged itself), so it need not be logged again. */
bool mhd_errors_replaces_log(const char *msg);
