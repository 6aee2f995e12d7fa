#include "meta.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admission.h"
#include "job_queue.h"
#include "invite_outbox.h"
#include "import_store.h"
#include "problem.h"

/* Generated at build time from openapi/openapi.yaml. */
extern const char openapi_yaml[];
extern const size_t openapi_yaml_len;
extern const char openapi_json[];
extern const size_t openapi_json_len;

static unsigned respond_text(Request *r, const char *type, const char *data, size_t len) {
        ulfius_set_binary_body_response(r->resp, 200, data, len);
        u_map_put(r->resp->map_header, "Content-Type", type);
        return 200;
}

unsigned meta_openapi_json(Request *r) {
        return respond_text(r, "application/json", openapi_json, openapi_json_len);
}

unsigned meta_openapi_yaml(Request *r) {
        return respond_text(r, "application/yaml", openapi_yaml, openapi_yaml_len);
}

unsigned meta_metrics(Request *r) {
        App *app = r->app;
        Buf m = BUF_INIT;
        int k = buf_printf(&m,
                           "# HELP roster_http_responses_total HTTP responses sent by this process, by status class.\n"
                           "# TYPE roster_http_responses_total counter\n");
        for (int c = 2; k >= 0 && c <= 5; c++)
                k = buf_printf(&m, "roster_http_responses_total{class=\"%dxx\"} %llu\n", c,
                               (unsigned long long) atomic_load(&app->responses[c]));
        if (k >= 0)
                k = buf_printf(&m,
                               "# HELP roster_imports_accepted_total Uploads this process accepted.\n"
                               "# TYPE roster_imports_accepted_total counter\n"
                               "roster_imports_accepted_total %llu\n"
                               "# HELP roster_uploads_in_progress Uploads this process is receiving.\n"
                               "# TYPE roster_uploads_in_progress gauge\n"
                               "roster_uploads_in_progress %d\n"
                               "# HELP roster_status_reads_total Imports answered by GET /v1/imports/{id}, by "
                               "where the answer came from.\n"
                               "# TYPE roster_status_reads_total counter\n"
                               "roster_status_reads_total{from=\"memory\"} %llu\n"
                               "roster_status_reads_total{from=\"database\"} %llu\n",
                               (unsigned long long) atomic_load(&app->imports_accepted),
                               (int) admission_count(),
                               (unsigned long long) atomic_load(&app->status_reads_memory),
                               (unsigned long long) atomic_load(&app->status_reads_database));

        /* Cluster-wide figures, when the servers answer; without them the
         * lines are left out rather than reported as zero. */
        char err[128];
        int e;
        Db *db = k >= 0 ? db_pool_acquire(app->pool, 2000, &e, err, sizeof err) : NULL;
        int64_t active[3], unpublished;
        if (db && import_store_count_active(db, active) == 0) {
                static const char *const states[] = { "processing", "queued", "validating" };
                static const int index[] = { 1, 0, 2 };
                k = buf_printf(&m, "# HELP roster_imports Imports waiting or running, all accounts.\n"
                                   "# TYPE roster_imports gauge\n");
                for (int i = 0; k >= 0 && i < 3; i++)
                        k = buf_printf(&m, "roster_imports{state=\"%s\"} %lld\n", states[i],
                                       (long long) active[index[i]]);
        }
        if (db && k >= 0 && invite_outbox_unpublished(db, &unpublished) == 0)
                k = buf_printf(&m,
                               "# HELP roster_invites_unpublished Invite events not yet on the stream.\n"
                               "# TYPE roster_invites_unpublished gauge\n"
                               "roster_invites_unpublished %lld\n",
                               (long long) unpublished);
        if (db)
                db_pool_release(app->pool, db);
        int64_t queued;
        pthread_mutex_lock(&app->redis_lock);
        int q = k >= 0 ? job_queue_length(app->redis, &queued) : -EIO;
        pthread_mutex_unlock(&app->redis_lock);
        if (q == 0)
                k = buf_printf(&m,
                               "# HELP roster_queue_messages Job messages in the Redis stream.\n"
                               "# TYPE roster_queue_messages gauge\n"
                               "roster_queue_messages %lld\n",
                               (long long) queued);

        if (k < 0) {
                buf_done(&m);
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        ulfius_set_binary_body_response(r->resp, 200, m.data, m.len);
        u_map_put(r->resp->map_header, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        buf_done(&m);
        return 200;
}
