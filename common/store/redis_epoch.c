#include "redis_epoch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_store.h"
#include "invite_outbox.h"
#include "job_queue.h"
#include "uuid.h"

/* The epoch in Redis, made if there is none. */
static int read_epoch(Redis *r, char out[UUID_STRING_SIZE]) {
        char fresh[UUID_STRING_SIZE];
        if (uuid_v4(fresh) < 0)
                return -ENOMEM;
        /* SET NX then GET: of two processes meeting an empty Redis, one
         * epoch wins and both read it. */
        redisReply *rep = redis_cmd(r, "SET %s %s NX", REDIS_EPOCH_KEY, fresh);
        if (!rep)
                return -EIO;
        freeReplyObject(rep);
        rep = redis_cmd(r, "GET %s", REDIS_EPOCH_KEY);
        if (!rep)
                return -EIO;
        int k = 0;
        if (rep->type == REDIS_REPLY_STRING && rep->len == UUID_STRING_SIZE - 1 && uuid_is_valid(rep->str))
                memcpy(out, rep->str, UUID_STRING_SIZE);
        else {
                snprintf(r->errstr, sizeof r->errstr, "Redis: %s holds no epoch",
                         REDIS_EPOCH_KEY);
                k = -EPROTO;
        }
        freeReplyObject(rep);
        return k;
}

typedef struct Change {
        const char *epoch;
        RedisEpochReport *report;
        char (*ids)[UUID_STRING_SIZE];
        size_t n_ids, max_ids;
} Change;

static int change_tx(Db *db, void *userdata) {
        Change *c = userdata;
        c->n_ids = 0;
        *c->report = (RedisEpochReport){ 0 };

        /* Waits for publishers in flight: what they mark as published
         * commits before the reset below looks. */
        int k = db_run(db, "SELECT pg_advisory_xact_lock(" REDIS_EPOCH_LOCK ")", 0, NULL);
        if (k < 0)
                return k;
        const char *p[] = { c->epoch };
        _cleanup_(PQclearp) PGresult *cur =
                db_exec(db, "SELECT epoch IS NULL, epoch IS DISTINCT FROM $1::uuid FROM redis_state WHERE id = 1 FOR UPDATE",
                        1, p);
        if (!cur)
                return db_error(db);
        if (PQntuples(cur) != 1 || strcmp(PQgetvalue(cur, 0, 1), "t") != 0)
                return 0; /* another process made up for it already */
        c->report->changed = true;
        c->report->first = strcmp(PQgetvalue(cur, 0, 0), "t") == 0;

        k = invite_outbox_replay(db, c->epoch, &c->report->events_replayed);
        if (k < 0)
                return k;

        if ((k = import_store_queued(db, c->max_ids, c->ids, &c->n_ids)) < 0)
                return k;
        return db_run(db, "UPDATE redis_state SET epoch = $1::uuid, changed_at = now() WHERE id = 1", 1, p);
}

/* At most this many imports are enqueued again at once; the sweeper finds
 * any others after a lease. */
#define MAX_REENQUEUE 1000

int redis_epoch_lock_shared(Db *db, const char *epoch, bool *ret_current) {
        const char *p[] = { epoch };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT pg_advisory_xact_lock_shared(" REDIS_EPOCH_LOCK "), "
                "  (SELECT epoch IS NOT DISTINCT FROM $1::uuid FROM redis_state WHERE id = 1)",
                1, p);
        if (!r)
                return db_error(db);
        *ret_current = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
        return 0;
}

int redis_epoch_check(Redis *r, Db *db, RedisEpochReport *ret) {
        RedisEpochReport report = { 0 };
        char epoch[UUID_STRING_SIZE];
        int k = read_epoch(r, epoch);
        if (k < 0)
                return k;

        /* The usual case, without a lock: nothing changed. */
        _cleanup_(PQclearp) PGresult *cur =
                db_exec(db, "SELECT epoch IS NOT DISTINCT FROM $1::uuid FROM redis_state WHERE id = 1", 1,
                        (const char *const[]){ epoch });
        if (!cur)
                return db_error(db);
        if (PQntuples(cur) == 1 && strcmp(PQgetvalue(cur, 0, 0), "t") == 0) {
                memcpy(r->epoch, epoch, sizeof epoch);
                if (ret)
                        *ret = report;
                return 0;
        }

        Change c = { .epoch = epoch, .report = &report, .max_ids = MAX_REENQUEUE };
        c.ids = calloc(MAX_REENQUEUE, sizeof *c.ids);
        if (!c.ids)
                return -ENOMEM;
        k = db_transaction(db, 5, change_tx, &c);
        for (size_t i = 0; k >= 0 && i < c.n_ids; i++)
                k = job_queue_enqueue(r, c.ids[i]);
        report.imports_enqueued = k >= 0 ? c.n_ids : 0;
        free(c.ids);
        if (k < 0)
                return k;
        memcpy(r->epoch, epoch, sizeof epoch);
        if (ret)
                *ret = report;
        return 0;
}
