#include "maintenance.h"

#include <errno.h>
#include <stdio.h>

#include "import_purge.h"
#include "import_store.h"
#include "invite_outbox.h"
#include "job_queue.h"
#include "log.h"
#include "redis_epoch.h"

/* Invite events older than this are no longer being published by the
 * worker that wrote them. */
#define OUTBOX_AGE_SECONDS 30
/* Outbox batches the relay publishes in one transaction. */
#define RELAY_BATCHES 4
/* Imports whose data are deleted in one round, and rows per statement. */
#define PURGE_IMPORTS 8
#define PURGE_BATCH_ROWS 5000

int maintenance_check_epoch(Redis *redis, Db *db) {
        RedisEpochReport epoch;
        int k = redis_epoch_check(redis, db, &epoch);
        if (k < 0) {
                log_warning("Redis epoch check: %s", redis->errstr[0] ? redis->errstr : db->errmsg);
                return k;
        }
        if (epoch.changed && epoch.first)
                log_info("Redis data epoch %s recorded", redis->epoch);
        else if (epoch.changed)
                log_warning("Redis lost its data (epoch now %s): %lld invite events will be published again, %zu "
                            "queued imports enqueued again",
                            redis->epoch, epoch.events_replayed, epoch.imports_enqueued);
        return 0;
}

int maintenance_publish(Redis *redis, Db *db, const char *import_id, int min_age_seconds, int limit,
                        int *ret_published) {
        int k = invite_outbox_publish(db, redis, import_id, min_age_seconds, limit, ret_published);
        if (k == -ESTALE && (k = maintenance_check_epoch(redis, db)) == 0)
                k = invite_outbox_publish(db, redis, import_id, min_age_seconds, limit, ret_published);
        return k;
}

/* Imports past ROSTER_RETENTION_DAYS lose their file and row data, a few
 * at a time, in batches (import_purge.h). */
static void purge_imports(Maintenance *m) {
        char ids[PURGE_IMPORTS][UUID_STRING_SIZE];
        size_t n = 0;
        if (import_store_purge_due(m->db, (int) m->cfg->retention_days, PURGE_IMPORTS, ids, &n) < 0) {
                log_warning("retention: %s", m->db->errmsg);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                int64_t rows = 0;
                if (import_purge_data(m->db, ids[i], PURGE_BATCH_ROWS, &rows) < 0) {
                        log_import(LOG_LEVEL_WARNING, ids[i], "retention: %s", m->db->errmsg);
                        return;
                }
                log_import(LOG_LEVEL_INFO, ids[i], "retention: file and row data deleted (%lld rows)",
                           (long long) rows);
        }
}

void maintenance_run(Maintenance *m) {
        char err[512];

        if (!m->db) {
                m->db = db_connect(m->cfg->database_url, "roster-worker", err, sizeof err);
                if (!m->db)
                        return; /* the job threads report the outage */
        } else if (m->db->broken && db_reconnect(m->db) < 0)
                return;
        if (!m->redis && !(m->redis = redis_new(m->cfg->redis_url, 10000, err, sizeof err)))
                return;
        if (redis_ensure(m->redis) < 0)
                return;

        /* Before the sweep: an emptied Redis is made up for at once. */
        if (maintenance_check_epoch(m->redis, m->db) < 0)
                return;

        char ids[64][UUID_STRING_SIZE];
        size_t n = 0;
        /* Waiting one lease before deciding that Redis lost a queued
         * import's message leaves the API time to add it after its commit. */
        int lease = (int) m->cfg->job_lease_seconds;
        if (import_store_stalled(m->db, lease, lease, 64, ids, &n) < 0) {
                log_warning("sweeper: %s", m->db->errmsg);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                int held = job_queue_holds(m->redis, ids[i]);
                if (held < 0) {
                        log_warning("sweeper: %s", m->redis->errstr);
                        return;
                }
                if (held)
                        continue;
                if (job_queue_enqueue(m->redis, ids[i]) < 0) {
                        log_warning("sweeper: %s", m->redis->errstr);
                        return;
                }
                log_import(LOG_LEVEL_WARNING, ids[i], "was not in the queue: enqueued again");
        }

        /* Full rounds go on (after Redis lost its data there may be many
         * events to publish again), within bounds: the sweep comes again
         * in a few seconds. */
        int published = 0, round = 0, total = 0;
        do {
                if (maintenance_publish(m->redis, m->db, NULL, OUTBOX_AGE_SECONDS, RELAY_BATCHES, &published) < 0) {
                        log_warning("invite relay: %s", m->redis->errstr[0] ? m->redis->errstr : m->db->errmsg);
                        break;
                }
                total += published;
        } while (published > 0 && ++round < 40);
        if (total)
                log_info("invite relay: published %d events left behind", total);

        purge_imports(m);

        int purged = 0;
        if (invite_outbox_purge(m->db, (int) m->cfg->invite_retention_days, 5000, &purged) < 0)
                log_warning("invite purge: %s", m->db->errmsg);
        else if (purged)
                log_info("invite purge: deleted %d published invite batches older than %lld days", purged,
                         (long long) m->cfg->invite_retention_days);
}

void maintenance_done(Maintenance *m) {
        db_free(m->db);
        redis_free(m->redis);
        m->db = NULL;
        m->redis = NULL;
}
