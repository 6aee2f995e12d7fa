#include "paged_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"

typedef struct PagedStream {
        App *app;
        PagedFill fill;
        void *state;
        void (*free_state)(void *);
        char what[64];
        Buf pending;
        size_t sent;
        bool done;
} PagedStream;

static int next_page(PagedStream *s) {
        char err[256];
        int e;
        Db *db = db_pool_acquire(s->app->pool, 5000, &e, err, sizeof err);
        if (!db)
                return -EIO;
        int k = s->fill(s->state, db, &s->pending, &s->done);
        db_pool_release(s->app->pool, db);
        return k;
}

static ssize_t stream(void *userdata, uint64_t offset, char *out, size_t max) {
        PagedStream *s = userdata;
        if (s->sent == s->pending.len) {
                buf_clear(&s->pending);
                s->sent = 0;
                if (s->done)
                        return U_STREAM_END;
                if (next_page(s) < 0) {
                        log_warning("%s cut short: the database failed", s->what);
                        return U_STREAM_ERROR;
                }
                if (s->pending.len == 0)
                        return U_STREAM_END;
        }
        size_t n = MIN(max, s->pending.len - s->sent);
        memcpy(out, s->pending.data + s->sent, n);
        s->sent += n;
        return (ssize_t) n;
}

static void stream_free(void *userdata) {
        PagedStream *s = userdata;
        if (s->free_state)
                s->free_state(s->state);
        buf_done(&s->pending);
        free(s);
}

unsigned paged_stream_respond(Request *r, const char *content_type, const char *disposition, const char *head,
                              size_t head_len, PagedFill fill, void *state, void (*free_state)(void *),
                              const char *what) {
        PagedStream *s = calloc(1, sizeof *s);
        if (!s || buf_append(&s->pending, head, head_len) < 0) {
                if (s)
                        buf_done(&s->pending);
                free(s);
                if (free_state)
                        free_state(state);
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        *s = (PagedStream){ .app = r->app, .fill = fill, .state = state, .free_state = free_state,
                            .pending = s->pending };
        snprintf(s->what, sizeof s->what, "%s", what);
        u_map_put(r->resp->map_header, "Content-Type", content_type);
        if (disposition)
                u_map_put(r->resp->map_header, "Content-Disposition", disposition);
        ulfius_set_stream_response(r->resp, 200, stream, stream_free, U_STREAM_SIZE_UNKNOWN, 64 * 1024, s);
        return 200;
}
