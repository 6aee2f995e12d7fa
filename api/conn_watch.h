/* The connections libmicrohttpd holds, and a deadline for each request's
 * headers.
 *
 * libmicrohttpd's MHD_OPTION_CONNECTION_TIMEOUT is an idle timeout: a
 * client that sends a byte of its request line every few seconds keeps a
 * connection, and its thread, for ever. conn_watch keeps a record of every
 * connection (libmicrohttpd reports them to conn_watch_notify(), given as
 * MHD_OPTION_NOTIFY_CONNECTION) and runs a watchdog thread that shuts down
 * the socket of a connection whose request line and headers have not all
 * arrived ROSTER_HEADER_TIMEOUT_SECONDS after it opened, or after its
 * previous request ended. The guard reports when a request's headers are
 * complete (conn_watch_request_started()), the completion callback when a
 * request is over (conn_watch_request_done()). A request's body has its
 * own deadline (the guard's ROSTER_UPLOAD_TIMEOUT_SECONDS).
 *
 * Ownership: a connection's record lives from libmicrohttpd's STARTED
 * notification to its CLOSED one, in the connection's socket context;
 * libmicrohttpd closes the socket only after CLOSED, so the watchdog never
 * touches a descriptor that is no longer the connection's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

/* Starts the watchdog. 0, or a negative errno when the thread cannot be
 * started. */
int conn_watch_start(int64_t header_timeout_seconds);

/* Stops the watchdog; call after libmicrohttpd has stopped. A no-op when
 * it was not started. */
void conn_watch_stop(void);

/* The MHD_OPTION_NOTIFY_CONNECTION callback. A connection that cannot be
 * given a record (out of memory) is shut down at once. */
void conn_watch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* The connection's request has all its headers: its deadline no longer
 * applies. chunked_body: its body comes in chunked framing. */
void conn_watch_request_started(struct MHD_Connection *connection, bool chunked_body);

/* The connection's request is over; the deadline runs again for the next
 * one on the same connection. */
void conn_watch_request_done(struct MHD_Connection *connection);

/* True while the connection's request has all its headers and a chunked
 * body. */
bool conn_watch_chunked_body(struct MHD_Connection *connection);
