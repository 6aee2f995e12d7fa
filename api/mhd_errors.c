/* How: libmicrohttpd 0.9.75 sends all of these answers from one internal
 * function (transmit_error_response_len() in connection.c), which makes
 * its HTML response and hands it to MHD_queue_response() through its PLT:
 * `objdump -d libmicrohttpd.so.12` shows "call MHD_queue_response@plt"
 * there, and the library is not linked with -Bsymbolic. roster-api
 * defines MHD_queue_response() itself and exports it (api/meson.build),
 * so the dynamic linker binds that call here, as it binds ulfius's
 * MHD_start_daemon() call to the guard. Calls from ulfius and from roster's
 * own code go straight on to the real function (found with
 * dlsym(RTLD_NEXT)); a call whose return address lies in libmicrohttpd's
 * own code, for a status of 400 or more, is one of its error answers.
 *
 * Such a call is not passed on. The problem document is written to the
 * socket here, whole, and MHD_NO returned, on which libmicrohttpd closes
 * the connection without writing anything itself. Queuing a replacement
 * response would not do: for an error found while the headers are parsed
 * (a Content-Length that is not a number, or above 2^64), 0.9.75 builds
 * the response's header block twice, and a client reads the second as the
 * start of the body. Writing here is safe: it runs on the connection's own
 * thread, before libmicrohttpd has written anything for the request (it
 * checks that before calling), on a plain TCP socket (roster-api has no
 * TLS), and the connection is closed right after. The answer is a few
 * hundred bytes; a client that does not read gets what fits within two
 * seconds.
 *
 * When the binding is missing (a roster-api linked without the export),
 * mhd_errors_setup() says so and libmicrohttpd's HTML answers remain. */
#include "mhd_errors.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conn_watch.h"
#include "log.h"
#include "problem.h"

#define SEND_WAIT_MS 2000

typedef enum MHD_Result (*QueueResponse)(struct MHD_Connection *, unsigned int, struct MHD_Response *);

typedef struct CodeRange {
        uintptr_t start, end;
} CodeRange;

static QueueResponse real_queue_response;
/* libmicrohttpd's executable segments. */
static CodeRange mhd_code[8];
static size_t n_mhd_code;
static bool installed;
static App *errors_app;
/* Set when this thread has just replaced an answer: libmicrohttpd's
 * "failed to queue" line that follows is expected. */
static _Thread_local bool replaced_here;

static int find_code(struct dl_phdr_info *info, size_t size, void *data) {
        uintptr_t target = (uintptr_t) data;
        bool mine = false;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                uintptr_t start = info->dlpi_addr + ph->p_vaddr;
                if (ph->p_type == PT_LOAD && target >= start && target < start + ph->p_memsz)
                        mine = true;
        }
        if (!mine)
                return 0;
        for (int i = 0; i < info->dlpi_phnum && n_mhd_code < ELEMENTSOF(mhd_code); i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
                        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
                        mhd_code[n_mhd_code++] = (CodeRange){ start, start + ph->p_memsz };
                }
        }
        return 1;
}

int mhd_errors_setup(App *app) {
        errors_app = app;
        real_queue_response = (QueueResponse) dlsym(RTLD_NEXT, "MHD_queue_response");
        if (!real_queue_response)
                return -ENOENT;
        dl_iterate_phdr(find_code, (void *) (uintptr_t) real_queue_response);
        if (!n_mhd_code)
                return -ENOENT;
        /* What the dynamic linker gives every library for the name. */
        void *bound = dlsym(RTLD_DEFAULT, "MHD_queue_response");
        installed = bound == (void *) MHD_queue_response;
        return installed ? 0 : -ENOTSUP;
}

static bool from_libmicrohttpd(uintptr_t address) {
        for (size_t i = 0; i < n_mhd_code; i++)
                if (address >= mhd_code[i].start && address < mhd_code[i].end)
                        return true;
        return false;
}

typedef struct Refusal {
        unsigned status;
        const char *code, *title, *detail;
} Refusal;

/* What a status from libmicrohttpd means: each has one cause, or a few
 * close ones (0.9.75's connection.c). */
static Refusal refusal_for(struct MHD_Connection *c, unsigned status) {
        switch (status) {
        case 400:
                return (Refusal){ 400, "bad_request", "Bad request",
                                  "the request is not well-formed HTTP/1.1: a request line or header that cannot be "
                                  "parsed (HTTP/0.9 is not served), a Content-Length that is not a number, or broken "
                                  "chunked framing" };
        case 413:
                return (Refusal){ 413, "body_too_large", "Body too large",
                                  "the request announces a body (Content-Length or a chunk size) larger than any "
                                  "this server takes" };
        case 414:
                return (Refusal){ 414, "uri_too_long", "URI too long",
                                  "the request line is longer than this server takes" };
        case 431:
                return (Refusal){ 431, "headers_too_large", "Request headers too large",
                                  "the request's headers are larger, or more numerous, than this server takes" };
        case 505:
                return (Refusal){ 505, "http_version_not_supported", "HTTP version not supported",
                                  "this server speaks HTTP/1.1 and HTTP/1.0" };
        case 500:
                /* 0.9.75's only 500 of its own: its buffer is full of body
                 * bytes no handler took. The guard and ulfius take every
                 * byte they are given, so what fills it is a line of the
                 * chunked framing it cannot parse until the line ends. */
                if (conn_watch_chunked_body(c))
                        return (Refusal){ 400, "bad_request", "Bad request",
                                          "a chunk's size line (with its extensions) is longer than this server "
                                          "takes" };
                return (Refusal){ 500, "internal_error", "Internal error", "the request could not be handled" };
        default:
                return (Refusal){ status, status >= 500 ? "internal_error" : "bad_request",
                                  MHD_get_reason_phrase_for(status), "the request could not be handled" };
        }
}

/* Writes all of buf to the connection's socket, waiting up to
 * SEND_WAIT_MS in all for room. */
static void send_all(struct MHD_Connection *c, const char *buf, size_t len) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info)
                return;
        int fd = info->connect_fd;
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        size_t off = 0;
        while (off < len) {
                ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
                if (n > 0) {
                        off += (size_t) n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                        return;
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                if (waited >= SEND_WAIT_MS)
                        return;
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                if (poll(&p, 1, (int) (SEND_WAIT_MS - waited)) <= 0)
                        return;
        }
}

static void answer(struct MHD_Connection *c, unsigned mhd_status) {
        Refusal f = refusal_for(c, mhd_status);
        char id[65];
        request_id_choose(NULL, id);

        json_t *doc = problem_document(f.status, f.code, f.title, f.detail, id);
        char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        const char *text = body ? body : "{\"status\":500,\"title\":\"Internal error\"}";

        char date[64];
        time_t t = time(NULL);
        struct tm tm;
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&t, &tm));
        const char *reason = MHD_get_reason_phrase_for(f.status);
        char *out = NULL;
        int len = asprintf(&out,
                           "HTTP/1.1 %u %s\r\n"
                           "Date: %s\r\n"
                           "Connection: close\r\n"
                           "Content-Type: application/problem+json\r\n"
                           "Content-Length: %zu\r\n"
                           "Cache-Control: no-store\r\n"
                           "X-Content-Type-Options: nosniff\r\n"
                           "X-Request-Id: %s\r\n"
                           "\r\n"
                           "%s",
                           f.status, *reason ? reason : "Error", date, strlen(text), id, text);
        free(body);
        if (len > 0)
                send_all(c, out, (size_t) len);
        free(out);

        atomic_fetch_add(&errors_app->responses[f.status / 100 < 6 ? f.status / 100 : 5], 1);
        log_request(LOG_LEVEL_INFO, id, "%u (%s): refused by libmicrohttpd before any handler ran", f.status,
                    f.code);
}

__attribute__((noinline)) enum MHD_Result MHD_queue_response(struct MHD_Connection *connection,
                                                             unsigned int status_code,
                                                             struct MHD_Response *response) {
        uintptr_t caller = (uintptr_t) __builtin_extract_return_addr(__builtin_return_address(0));
        if (!real_queue_response)
                /* Before mhd_errors_setup(): nothing to replace yet. */
                real_queue_response = (QueueResponse) dlsym(RTLD_NEXT, "MHD_queue_response");
        if (status_code < 400 || !errors_app || !from_libmicrohttpd(caller))
                return real_queue_response(connection, status_code, response);
        answer(connection, status_code);
        replaced_here = true;
        return MHD_NO;
}

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool mhd_errors_replaces_log(const char *msg) {
        if (!installed)
                return false;
        /* Logged just before the call above, with libmicrohttpd's HTML. */
        if (starts_with(msg, "Error processing request (HTTP response code is "))
                return true;
        /* Logged just after it, because of the MHD_NO. */
        if (replaced_here && starts_with(msg, "Closing connection (failed to queue error response)")) {
                replaced_here = false;
                return true;
        }
        return false;
}
