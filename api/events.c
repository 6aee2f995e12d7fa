/* GET /v1/imports/{id}/events: Server-Sent Events.
 *
 * A `progress` event with the import's state and counts at once and then
 * whenever they change, a comment every 15 s to keep proxies from closing
 * an idle stream, and a final `state` event when the import reaches a
 * state it will not leave by itself, after which the stream ends.
 *
 * The stream checks the database once a second, each time with a pooled
 * connection held only for that read; it holds its connection's thread
 * (libmicrohttpd runs one per connection). When roster-api stops, a
 * last `reconnect` event (with retry: 1000) ends it at once.
 * A stream lasts an hour at most: a client reconnects (EventSource does). */
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "events_token.h"
#include "import_json.h"
#include "import_store.h"
#include "log.h"
#include "problem.h"
#include "token.h"

#define POLL_MS 1000
#define KEEPALIVE_MS 15000
#define MAX_STREAM_MS (3600 * 1000)

typedef struct EventStream {
        App *app;
        char id[UUID_STRING_SIZE];
        int64_t account_id;
        Buf pending;
        size_t sent;
        char *last; /* the last progress data sent */
        bool done;
        double started, last_sent, next_poll;
} EventStream;

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

static void stream_free(void *userdata) {
        EventStream *s = userdata;
        buf_done(&s->pending);
        free(s->last);
        free(s);
}

/* The data of an event: the state and the counts. */
static char *event_data(const ImportRecord *rec) {
        json_t *full = import_json_new(rec);
        json_t *data = full ? json_pack("{s:s, s:O, s:O, s:O, s:O}", "id", rec->id, "state",
                                        json_object_get(full, "state"), "counts", json_object_get(full, "counts"),
                                        "progress", json_object_get(full, "progress"), "error",
                                        json_object_get(full, "error"))
                            : NULL;
        char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
        json_decref(data);
        json_decref(full);
        return text;
}

/* Reads the import and queues what changed. -EIO when the database could
 * not be reached (the stream then tries again next time). */
static int poll_import(EventStream *s) {
        char err[128];
        int e;
        Db *db = db_pool_acquire(s->app->pool, 2000, &e, err, sizeof err);
        if (!db)
                return -EIO;
        ImportRecord rec;
        int k = import_store_get(db, s->account_id, s->id, &rec);
        db_pool_release(s->app->pool, db);
        if (k == -ENOENT) {
                s->done = true;
                return 0;
        }
        if (k < 0)
                return k;

        char *data = event_data(&rec);
        bool final = import_state_is_final(rec.state);
        import_store_record_done(&rec);
        if (!data)
                return -ENOMEM;
        k = 0;
        if (!s->last || strcmp(s->last, data) != 0) {
                k = buf_printf(&s->pending, "event: progress\ndata: %s\n\n", data);
                free(s->last);
                s->last = data;
                data = NULL;
        }
        if (k >= 0 && final) {
                k = buf_printf(&s->pending, "event: state\ndata: %s\n\n", s->last);
                s->done = true;
        }
        free(data);
        return k;
}

static ssize_t stream(void *userdata, uint64_t offset, char *out, size_t max) {
        EventStream *s = userdata;

        while (s->sent == s->pending.len) {
                buf_clear(&s->pending);
                s->sent = 0;
                if (s->done || atomic_load(&s->app->stopping) || now_ms() - s->started > MAX_STREAM_MS)
                        return U_STREAM_END;
                /* The server stops: a last event says to come back (to
                 * another instance), in a second. */
                if (atomic_load(&s->app->draining)) {
                        s->done = true;
                        if (buf_printf(&s->pending, "retry: 1000\nevent: reconnect\ndata: {\"id\":\"%s\",\"reason\":"
                                                    "\"the server is stopping\"}\n\n",
                                       s->id) < 0)
                                return U_STREAM_ERROR;
                        break;
                }
                /* Wait for the next look, a little at a time so that a
                 * shutdown is not held up. */
                while (now_ms() < s->next_poll && !atomic_load(&s->app->draining)) {
                        if (atomic_load(&s->app->stopping))
                                return U_STREAM_END;
                        struct timespec ts = { 0, 100 * 1000000L };
                        nanosleep(&ts, NULL);
                }
                if (atomic_load(&s->app->draining))
                        continue;
                s->next_poll = now_ms() + POLL_MS;
                int k = poll_import(s);
                if (k == -ENOMEM)
                        return U_STREAM_ERROR;
                if (s->pending.len == 0 && now_ms() - s->last_sent >= KEEPALIVE_MS &&
                    buf_append_str(&s->pending, ": keep-alive\n\n") < 0)
                        return U_STREAM_ERROR;
        }
        size_t n = MIN(max, s->pending.len - s->sent);
        memcpy(out, s->pending.data + s->sent, n);
        s->sent += n;
        s->last_sent = now_ms();
        return (ssize_t) n;
}

/* The route's import, if the caller's account has it: 0 with its id in
 * canonical form, or the status of the problem set. */
static unsigned find_import(Request *r, char id_out[UUID_STRING_SIZE]) {
        const char *id = u_map_get(r->req->map_url, "id");
        ImportRecord rec;
        Db *db = request_db(r);
        if (!db)
                return 503;
        int k = import_store_get(db, r->auth.account_id, id ? id : "", &rec);
        if (k == -ENOENT) {
                problem(r, 404, "not_found", "Not found", "no import %.40s in this account", id ? id : "");
                return 404;
        }
        if (k < 0) {
                problem_database_unavailable(r);
                return 503;
        }
        snprintf(id_out, UUID_STRING_SIZE, "%s", rec.id);
        import_store_record_done(&rec);
        return 0;
}

unsigned events_get(Request *r) {
        char id[UUID_STRING_SIZE];
        unsigned st = find_import(r, id);
        if (st)
                return st;

        EventStream *s = calloc(1, sizeof *s);
        if (!s) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        s->app = r->app;
        snprintf(s->id, sizeof s->id, "%s", id);
        s->account_id = r->auth.account_id;
        s->started = s->last_sent = now_ms();
        s->next_poll = 0;
        /* Reconnect after 2 s when the stream breaks. */
        if (buf_append_str(&s->pending, "retry: 2000\n\n") < 0) {
                stream_free(s);
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        u_map_put(r->resp->map_header, "Content-Type", "text/event-stream");
        u_map_put(r->resp->map_header, "X-Accel-Buffering", "no");
        ulfius_set_stream_response(r->resp, 200, stream, stream_free, U_STREAM_SIZE_UNKNOWN, 4096, s);
        return 200;
}

unsigned events_issue_token(Request *r) {
        char import_id[UUID_STRING_SIZE];
        unsigned st = find_import(r, import_id);
        if (st)
                return st;

        /* Keyed with the hash of the caller's own token: the route took
         * it from this header. */
        const char *tok;
        size_t len;
        char hash[SHA256_HEX_SIZE], token[EVENTS_TOKEN_SIZE], expires_at[32], url[256];
        time_t expires = time(NULL) + EVENTS_TOKEN_TTL_SECONDS;
        struct tm tm;
        if (token_from_authorization(request_header(r, "Authorization"), &tok, &len) < 0) {
                problem(r, 401, "unauthenticated", "Authentication required",
                        "an events token is made for an API token: send it as Authorization: Bearer <token>");
                return 401;
        }
        token_hash(tok, len, hash);
        if (events_token_make(r->auth.token_id, hash, import_id, (int64_t) expires, token) < 0) {
                problem(r, 500, "internal_error", "Internal error", "the events token could not be made");
                return 500;
        }
        strftime(expires_at, sizeof expires_at, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&expires, &tm));
        snprintf(url, sizeof url, "/v1/imports/%s/events?access_token=%s", import_id, token);
        request_respond_json(r, 201,
                             json_pack("{s:s, s:s, s:s, s:i}", "token", token, "expires_at", expires_at, "events_url",
                                       url, "expires_in", (int) EVENTS_TOKEN_TTL_SECONDS));
        return 201;
}
