#include "maintenance.h"

#include <stdio.h>

#include "import_store.h"
#include "invite_outbox.h"
#include "job_queue.h"
#include "log.h"

/* Invite events older than this are no longer being published by the
 * worker that wrote them. */
#define OUTBOX_AGE_SECONDS 30

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

        int published = 0;
        if (invite_outbox_publish(m->db, m->redis, NULL, OUTBOX_AGE_SECONDS, 500, &published) < 0)
                log_warning("invite relay: %s", m->redis->errstr[0] ? m->redis->errstr : m->db->errmsg);
        if (published)
                log_info("invite relay: published %d events left behind", published);
}

void maintenance_done(Maintenance *m) {
        db_free(m->db);
        redis_free(m->redis);
        m->db = NULL;
        m->redis = NULL;
}
