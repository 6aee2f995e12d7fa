#include "health.h"

#include <errno.h>
#include <string.h>

#include "schema.h"

unsigned health_live(Request *r) {
        request_respond_json(r, 200, json_pack("{s:s}", "status", "ok"));
        return 200;
}

unsigned health_ready(Request *r) {
        App *app = r->app;
        const char *database = "ok", *redis = "ok";

        char err[256];
        int e;
        Db *db = db_pool_acquire(app->pool, 2000, &e, err, sizeof err);
        if (!db)
                database = "unreachable";
        else {
                int v = schema_check(db);
                if (v == -ENOENT)
                        database = "schema not migrated";
                else if (v < 0)
                        database = "unreachable";
                db_pool_release(app->pool, db);
        }

        pthread_mutex_lock(&app->redis_lock);
        if (redis_ping(app->redis) < 0)
                redis = "unreachable";
        pthread_mutex_unlock(&app->redis_lock);

        /* A process that is stopping takes no new work. */
        bool draining = atomic_load(&app->draining);
        bool ok = strcmp(database, "ok") == 0 && strcmp(redis, "ok") == 0 && !draining;
        request_respond_json(r, ok ? 200 : 503,
                     json_pack("{s:s, s:{s:s, s:s}}", "status", draining ? "stopping" : ok ? "ready" : "not ready",
                               "checks", "database", database, "redis", redis));
        return ok ? 200 : 503;
}
