/* The guard: limits enforced before ulfius reads a request body.
 *
 * ulfius keeps every multipart form field and up to ROSTER_MAX_BODY_BYTES
 * of any other body in memory before a handler runs, without limits on
 * their number, so a client with no token could make the API use memory
 * without bound. The guard sits in front of ulfius's libmicrohttpd access
 * handler (see guard.c for how) and, per request:
 *
 *   - refuses a request whose framing is ambiguous or not understood
 *     (Content-Length headers that disagree, Content-Length with
 *     Transfer-Encoding, a transfer coding other than chunked, control
 *     characters in a header) before anything else;
 *   - asks admission (admission.h) when the headers arrive whether the
 *     body may come in - the route's limit, the token and its scope, the
 *     upload limits - and answers its refusal before reading the body;
 *   - counts the bytes as they come: past the limit (or past 1 MiB of
 *     multipart fields that are not the file) it stops handing them to
 *     ulfius, discards the rest and answers 413 at the end;
 *   - closes a connection whose body takes longer than
 *     ROSTER_UPLOAD_TIMEOUT_SECONDS;
 *   - refuses a multipart upload whose body ends before the form's close
 *     delimiter (a cut-off upload) before the endpoint runs.
 *
 * Ownership: the guard keeps the one state the API has per request (the
 * admission, the upload streaming in), made when the headers arrive and
 * freed by guard_request_done() when libmicrohttpd is done with the
 * request. */
#pragma once

#include "admission.h"
#include "app.h"
#include "upload.h"

/* Must run before the ulfius instance starts. */
void guard_setup(App *app);

/* True once libmicrohttpd was started through the guard: main() refuses to
 * run without it. */
bool guard_installed(void);

/* The caller as the guard authenticated it (requests with a body), or
 * NULL. Valid until guard_request_done(). */
const AuthInfo *guard_auth(const struct _u_request *request);

/* What admission decided for the request, or NULL for a request the
 * guard never saw. Valid until guard_request_done(). */
const Admission *guard_admission(const struct _u_request *request);

/* The request's upload (started or not), or NULL for a request the guard
 * never saw. Valid until guard_request_done(). */
Upload *guard_upload(const struct _u_request *request);

/* Forgets the request's state, rolling back an upload not committed and
 * giving its admission slot back; called once the request is
 * answered (the completion callback). Unknown requests are a no-op. */
void guard_request_done(const struct _u_request *request);

/* The allowed origin matching an Origin header, or NULL. */
const char *guard_cors_origin(const App *app, const char *origin);
