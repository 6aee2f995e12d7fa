#include "guard.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admission.h"
#include "conn_watch.h"
#include "log.h"
#include "problem.h"
#include "upload.h"
#include "uuid.h"

/* CRLF "--" boundary "--", with RFC 2046's longest boundary (70). */
#define BOUNDARY_MAX 70
#define CLOSE_DELIM_MAX (2 + 2 + BOUNDARY_MAX + 2)

/* How the guard gets in front of ulfius: ulfius starts libmicrohttpd with
 * MHD_start_daemon() and its own (static) access handler. roster-api
 * defines MHD_start_daemon itself and exports it (see api/meson.build), so
 * the dynamic linker binds ulfius's call here; this starts the real daemon
 * through MHD_start_daemon_va() with guard_handler in front of ulfius's
 * handler. If that binding ever fails, guard_installed() says so and the
 * API refuses to start rather than run unguarded. */
static MHD_AccessHandlerCallback inner_handler;
static void *inner_cls;
static atomic_bool installed;
static App *guard_app;

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...);

/* The one state the API keeps for a request between its headers and its
 * end: what admission decided, the upload streaming in, and the guard's
 * own counting. */
typedef struct GuardState {
        const struct _u_request *request;
        struct GuardState *next;
        Admission adm;
        Upload upload;
        uint64_t bytes;
        double started;
        /* A multipart upload is complete only once its close delimiter
         * (CRLF "--" boundary "--") has gone by; close_tail keeps the
         * last bytes seen, for a delimiter split between two reads. */
        bool close_seen;
        size_t close_len, close_tail_len;
        char close_delim[CLOSE_DELIM_MAX];
        char close_tail[CLOSE_DELIM_MAX];
        /* When adm.refusal is set, the rest of the body is read and
         * dropped, and that is the answer. */
} GuardState;

static pthread_mutex_t states_lock = PTHREAD_MUTEX_INITIALIZER;
static GuardState *states;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static GuardState *find(const struct _u_request *request) {
        pthread_mutex_lock(&states_lock);
        GuardState *g = states;
        while (g && g->request != request)
                g = g->next;
        pthread_mutex_unlock(&states_lock);
        return g;
}

const AuthInfo *guard_auth(const struct _u_request *request) {
        GuardState *g = find(request);
        return g && g->adm.has_auth ? &g->adm.auth : NULL;
}

const Admission *guard_admission(const struct _u_request *request) {
        GuardState *g = find(request);
        return g ? &g->adm : NULL;
}

Upload *guard_upload(const struct _u_request *request) {
        GuardState *g = find(request);
        return g ? &g->upload : NULL;
}

void guard_request_done(const struct _u_request *request) {
        pthread_mutex_lock(&states_lock);
        GuardState **p = &states;
        while (*p && (*p)->request != request)
                p = &(*p)->next;
        GuardState *g = *p;
        if (g)
                *p = g->next;
        pthread_mutex_unlock(&states_lock);
        if (g) {
                upload_done(&g->upload);
                admission_release(&g->adm.slot);
        }
        free(g);
}

const char *guard_cors_origin(const App *app, const char *origin) {
        if (!origin)
                return NULL;
        for (size_t i = 0; i < app->n_cors_origins; i++)
                if (strcasecmp(origin, app->cors_origins[i]) == 0)
                        return app->cors_origins[i];
        return NULL;
}

#define refuse(g, ...) admission_refuse(&(g)->adm, __VA_ARGS__)

/* Answers the request with the guard's problem; the body, if any is
 * left, is not read. */
static enum MHD_Result answer(struct MHD_Connection *c, const char *method, const char *url, GuardState *g) {
        /* A refused request keeps nothing, and a client told so may look
         * at once: what it stored is rolled back before the answer goes
         * out, not when libmicrohttpd is done with the request. */
        upload_done(&g->upload);
        const AdmissionRefusal *no = &g->adm.refusal;

        char id[65];
        request_id_choose(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id"), id);

        json_t *doc = problem_document(no->status, no->code, no->title, no->detail, id);
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        const char *body = text ? text : "{\"status\":500,\"title\":\"Internal error\"}";
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
        free(text);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "application/problem+json");
        MHD_add_response_header(resp, "X-Request-Id", id);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "Connection", "close");
        if (no->status == 429 || no->status == 503)
                MHD_add_response_header(resp, "Retry-After", "5");
        if (no->status == 401)
                MHD_add_response_header(resp, "WWW-Authenticate",
                                        strcmp(no->code, "invalid_token") == 0
                                                ? "Bearer realm=\"roster\", error=\"invalid_token\""
                                                : "Bearer realm=\"roster\"");
        const char *origin =
                guard_cors_origin(guard_app, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin"));
        if (origin) {
                MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
                MHD_add_response_header(resp, "Vary", "Origin");
        }
        enum MHD_Result r = MHD_queue_response(c, no->status, resp);
        MHD_destroy_response(resp);
        atomic_fetch_add(&guard_app->responses[no->status / 100 < 6 ? no->status / 100 : 5], 1);
        log_request(LOG_LEVEL_INFO, id, "%s %s %u (%s, %llu body bytes read)", method, url, no->status, no->code,
                    (unsigned long long) g->bytes);
        return r;
}

static bool has_body(struct MHD_Connection *c) {
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
        return (cl && strtoull(cl, NULL, 10) > 0) || (te && strcasecmp(te, "identity") != 0);
}

/* The boundary parameter of a multipart Content-Type: its start in
 * *ret and its length, 0 when it has none. */
static size_t multipart_boundary(const char *ct, const char **ret) {
        const char *p = strcasestr(ct, "boundary=");
        if (!p)
                return 0;
        p += 9;
        if (*p == '"') {
                const char *end = strchr(p + 1, '"');
                *ret = p + 1;
                return end ? (size_t) (end - p - 1) : 0;
        }
        *ret = p;
        return strcspn(p, "; \t");
}

/* Notes whether the close delimiter is among a multipart body's bytes,
 * which arrive in pieces of any size. */
static void watch_close_delimiter(GuardState *g, const char *data, size_t size) {
        if (g->close_seen || !size)
                return;
        size_t keep = g->close_len - 1;
        /* One that starts in the bytes kept and ends in these. */
        char joined[2 * CLOSE_DELIM_MAX];
        size_t head = MIN(size, keep);
        memcpy(joined, g->close_tail, g->close_tail_len);
        memcpy(joined + g->close_tail_len, data, head);
        if (memmem(joined, g->close_tail_len + head, g->close_delim, g->close_len) ||
            memmem(data, size, g->close_delim, g->close_len)) {
                g->close_seen = true;
                return;
        }
        /* Keep the last close_len - 1 bytes of all seen so far. */
        if (size >= keep) {
                memcpy(g->close_tail, data + size - keep, keep);
                g->close_tail_len = keep;
        } else {
                size_t total = g->close_tail_len + size, drop = total > keep ? total - keep : 0;
                memmove(g->close_tail, g->close_tail + drop, g->close_tail_len - drop);
                memcpy(g->close_tail + g->close_tail_len - drop, data, size);
                g->close_tail_len = total - drop;
        }
}

/* What the request's headers say about its framing, all of them counted:
 * libmicrohttpd itself looks only at the first of each. */
typedef struct HeaderScan {
        unsigned n_length, n_encoding;
        bool lengths_differ;
        const char *length;
        const char *encoding;
        bool bad_name, bad_value;
} HeaderScan;

/* RFC 9110's token characters, which a field name is made of. */
static bool is_tchar(unsigned char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        HeaderScan *h = cls;
        if (!*key)
                h->bad_name = true;
        for (const unsigned char *p = (const unsigned char *) key; *p; p++)
                if (!is_tchar(*p))
                        h->bad_name = true;
        /* Control characters other than tab (a bare CR, say) have no
         * place in a field value (RFC 9110 5.5). */
        for (const unsigned char *p = (const unsigned char *) (value ? value : ""); *p; p++)
                if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                        h->bad_value = true;
        if (strcasecmp(key, "Content-Length") == 0) {
                if (h->n_length++ && strcmp(h->length, value ? value : "") != 0)
                        h->lengths_differ = true;
                else
                        h->length = value ? value : "";
        } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
                h->n_encoding++;
                h->encoding = value ? value : "";
        }
        return MHD_YES;
}

/* True when the only transfer coding is chunked: "chunked", in any case,
 * with optional whitespace around it. */
static bool only_chunked(const char *te) {
        while (*te == ' ' || *te == '\t')
                te++;
        if (strncasecmp(te, "chunked", 7) != 0)
                return false;
        for (te += 7; *te; te++)
                if (*te != ' ' && *te != '\t')
                        return false;
        return true;
}

/* Checks how the request says where its body ends; false, with the
 * request refused, when that is ambiguous or not understood. A server
 * and a proxy in front of it that read such a request differently can
 * be made to see two requests where the other sees one (RFC 9112 6.3,
 * 11.2). */
static bool framing_ok(GuardState *g, struct MHD_Connection *c, const char *version) {
        HeaderScan h = { 0 };
        MHD_get_connection_values(c, MHD_HEADER_KIND, scan_header, &h);
        if (h.bad_name || h.bad_value) {
                refuse(g, 400, "invalid_header", "Invalid header",
                       h.bad_name ? "a header name has characters other than letters, digits and !#$%%&'*+-.^_`|~ "
                                    "(whitespace before the colon, say)"
                                  : "a header value has control characters (a bare CR, say)");
                return false;
        }
        if (h.lengths_differ) {
                refuse(g, 400, "conflicting_content_length", "Conflicting Content-Length",
                       "the request has Content-Length headers with different values");
                return false;
        }
        if (h.n_encoding && h.n_length) {
                refuse(g, 400, "conflicting_content_length", "Conflicting Content-Length",
                       "the request has both Content-Length and Transfer-Encoding; send one of them");
                return false;
        }
        if (h.n_encoding && strcmp(version, "HTTP/1.0") == 0) {
                refuse(g, 400, "bad_request", "Bad request", "an HTTP/1.0 request cannot use Transfer-Encoding");
                return false;
        }
        if (h.n_encoding && (h.n_encoding > 1 || !only_chunked(h.encoding))) {
                refuse(g, 501, "unsupported_transfer_encoding", "Unsupported transfer encoding",
                       "the only Transfer-Encoding taken is chunked (alone); send the body as it is, or chunked");
                return false;
        }
        return true;
}

/* The first call, with the headers: what framing the body has, then
 * whether it may come in at all (admission.h). */
static void admit(GuardState *g, struct MHD_Connection *c, const char *url, const char *method,
                  const char *version) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");

        if (!framing_ok(g, c, version))
                return;

        /* libmicrohttpd cannot parse a form without a boundary of 2 to 70
         * characters (RFC 2046 allows 1 to 70) and would drop the
         * connection: say why instead. */
        const char *boundary = NULL;
        size_t blen = 0;
        if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
                blen = multipart_boundary(ct, &boundary);
                if (blen < 2 || blen > BOUNDARY_MAX) {
                        refuse(g, 400, "invalid_multipart", "Invalid multipart body",
                               "a multipart/form-data Content-Type needs a boundary of 2 to 70 characters");
                        return;
                }
        }
        AdmissionHead head = {
                .method = method,
                .path = url,
                .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                .content_length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length"),
                .content_type = ct,
                .boundary_len = blen,
                .has_body = has_body(c),
        };
        admission_decide(guard_app, &head, &g->adm);
        if (g->adm.multipart) {
                /* The body may begin with the close delimiter: start as if
                 * a CRLF came before it. */
                g->close_len = (size_t) snprintf(g->close_delim, sizeof g->close_delim, "\r\n--%.*s--", (int) blen,
                                                 boundary);
                memcpy(g->close_tail, "\r\n", 2);
                g->close_tail_len = 2;
        }
}

static enum MHD_Result guard_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                     const char *version, const char *data, size_t *size, void **con_cls) {
        struct connection_info_struct *ci = *con_cls;
        const struct _u_request *request = ci ? ci->request : NULL;
        if (!request) {
                conn_watch_request_started(c, false);
                return inner_handler(inner_cls, c, url, method, version, data, size, con_cls);
        }

        GuardState *g = find(request);
        if (!g) {
                /* The first call: the headers are all here. */
                const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
                conn_watch_request_started(c, te && only_chunked(te));
                g = calloc(1, sizeof *g);
                if (!g)
                        return MHD_NO;
                g->request = request;
                g->upload.app = guard_app;
                g->started = now_s();
                admit(g, c, url, method, version);
                pthread_mutex_lock(&states_lock);
                g->next = states;
                states = g;
                pthread_mutex_unlock(&states_lock);
                if (g->adm.refusal.status)
                        return answer(c, method, url, g);
                return inner_handler(inner_cls, c, url, method, version, data, size, con_cls);
        }

        if (*size) {
                if (now_s() - g->started > (double) guard_app->cfg.upload_timeout_seconds) {
                        log_warning("%s %s: body not received within %lld s; connection closed", method, url,
                                    (long long) guard_app->cfg.upload_timeout_seconds);
                        return MHD_NO;
                }
                g->bytes += *size;
                if (g->bytes > g->adm.limit)
                        admission_refuse_too_large(guard_app, &g->adm);
                if (g->adm.multipart && g->bytes - upload_file_bytes(&g->upload) > ADMISSION_FIELDS_MAX)
                        refuse(g, 413, "fields_too_large", "Form too large",
                               "the form fields other than \"file\" are larger than %u KiB",
                               ADMISSION_FIELDS_MAX / 1024);
                if (g->adm.refusal.status) {
                        /* Read and drop: ulfius sees no more of it. */
                        *size = 0;
                        return MHD_YES;
                }
                size_t offered = *size;
                enum MHD_Result r = inner_handler(inner_cls, c, url, method, version, data, size, con_cls);
                /* Only what ulfius took: the rest comes again. */
                if (g->adm.multipart)
                        watch_close_delimiter(g, data, offered - *size);
                return r;
        }
        /* The body is complete. A form that stops before its close
         * delimiter was cut off (a proxy or client that gave up half-way,
         * with a length that matches what was sent): ulfius would take
         * what came as the whole file, less the bytes it held back in
         * case they began a delimiter. Refusing here means the endpoint
         * never runs; answer() rolls the stored part back. */
        if (g->adm.multipart && !g->close_seen)
                refuse(g, 400, "invalid_multipart", "Invalid multipart body",
                       "the body ends without the closing boundary of the form (\"--\" boundary \"--\"); the "
                       "upload looks cut off, so nothing was imported");
        if (g->adm.refusal.status)
                return answer(c, method, url, g);
        return inner_handler(inner_cls, c, url, method, version, data, size, con_cls);
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...) {
        va_list ap;
        inner_handler = dh;
        inner_cls = dh_cls;
        va_start(ap, dh_cls);
        struct MHD_Daemon *d = MHD_start_daemon_va(flags, port, apc, apc_cls, guard_handler, NULL, ap);
        va_end(ap);
        if (d)
                atomic_store(&installed, true);
        return d;
}

void guard_setup(App *app) {
        guard_app = app;
}

bool guard_installed(void) {
        return atomic_load(&installed);
}
