#include "invite_outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_epoch.h"

/* KEYS[1] the stream, KEYS[2] the event's marker, KEYS[3] the epoch key;
 * ARGV[1] the marker's lifetime, ARGV[2] the epoch the publisher believes
 * in, then the fields. Returns the entry id, 0 when the event was
 * published before, or the error EPOCH when Redis's epoch is another: it
 * lost its data since the publisher last looked, and publishing into the
 * new epoch must wait until the database has caught up with it. */
static const char publish_script[] =
        "if redis.call('GET', KEYS[3]) ~= ARGV[2] then "
        "  return redis.error_reply('EPOCH the Redis data epoch changed') "
        "end "
        "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then "
        "  return redis.call('XADD', KEYS[1], '*', 'event_id', ARGV[3], 'account', ARGV[4], "
        "    'user_id', ARGV[5], 'email', ARGV[6], 'first_name', ARGV[7], 'last_name', ARGV[8], "
        "    'role', ARGV[9], 'import_id', ARGV[10]) "
        "end "
        "return 0";

#define MARKER_SECONDS "604800"

static int append_publish(Redis *redis, PGresult *res, int row) {
        char marker[80];
        snprintf(marker, sizeof marker, "roster:invites:sent:%s", PQgetvalue(res, row, 0));
        const char *argv[16] = { "EVAL",          publish_script, "3",          INVITE_STREAM,
                                 marker,          REDIS_EPOCH_KEY, MARKER_SECONDS, redis->epoch };
        size_t lens[16];
        for (int i = 0; i < 8; i++)
                argv[8 + i] = PQgetvalue(res, row, i);
        for (int i = 0; i < 16; i++)
                lens[i] = strlen(argv[i]);
        return redis_append_argv(redis, 16, argv, lens);
}

typedef struct Publish {
        Redis *redis;
        const char *import_id;
        char min_age[16], limit[16];
        int published;
        int redis_error;
        bool stale_epoch;
} Publish;

static int publish_tx(Db *db, void *userdata) {
        Publish *p = userdata;
        p->published = 0;
        p->redis_error = 0;
        p->stale_epoch = false;

        /* The epoch cannot change under this transaction (redis_epoch.h),
         * and it must be the one this connection publishes into. */
        const char *e[] = { p->redis->epoch };
        _cleanup_(PQclearp) PGresult *ep = db_exec(
                db,
                "SELECT pg_advisory_xact_lock_shared(" REDIS_EPOCH_LOCK "), "
                "  (SELECT epoch IS NOT DISTINCT FROM $1::uuid FROM redis_state WHERE id = 1)",
                1, e);
        if (!ep)
                return db_error(db);
        if (strcmp(PQgetvalue(ep, 0, 1), "t") != 0) {
                p->stale_epoch = true;
                return 0;
        }

        const char *params[] = { p->import_id, p->min_age, p->limit };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT o.event_id, a.slug, o.user_id, o.email, o.first_name, o.last_name, o.role, o.import_id "
                "FROM invite_outbox o JOIN accounts a ON a.id = o.account_id "
                "WHERE o.published_at IS NULL AND ($1::uuid IS NULL OR o.import_id = $1::uuid) "
                "  AND o.created_at <= now() - make_interval(secs => $2::int) "
                "ORDER BY o.created_at LIMIT $3::int FOR UPDATE OF o SKIP LOCKED",
                3, params);
        if (!res)
                return db_error(db);

        /* All the events in one pipeline, then the replies in order: a
         * round trip per batch rather than per event. */
        int n = PQntuples(res), queued = 0;
        while (queued < n && append_publish(p->redis, res, queued) == 0)
                queued++;
        Buf ids = BUF_INIT;
        int r = buf_append_char(&ids, '{');
        for (int i = 0; i < queued; i++) {
                /* Every queued reply is read, also after an error one, or
                 * the next command would get a stale reply. */
                redisReply *rep;
                if (redis_get_reply(p->redis, &rep) < 0)
                        break;
                bool ok = rep->type != REDIS_REPLY_ERROR;
                if (!ok) {
                        snprintf(p->redis->errstr, sizeof p->redis->errstr, "Redis: %s", rep->str);
                        if (strncmp(rep->str, "EPOCH", 5) == 0)
                                p->stale_epoch = true;
                }
                freeReplyObject(rep);
                if (ok && r >= 0) {
                        r = buf_printf(&ids, "%s%s", p->published ? "," : "", PQgetvalue(res, i, 0));
                        p->published++;
                }
        }
        /* Mark what went out; the rest waits for the relay. */
        if (p->published < n)
                p->redis_error = -EIO;
        if (r >= 0 && p->published) {
                r = buf_append_char(&ids, '}');
                const char *q[] = { ids.data, p->redis->epoch };
                if (r >= 0)
                        r = db_run(db,
                                   "UPDATE invite_outbox SET published_at = now(), published_epoch = $2::uuid "
                                   "WHERE event_id = ANY ($1::uuid[])",
                                   2, q);
        }
        buf_done(&ids);
        return r;
}

int invite_outbox_publish(Db *db, Redis *redis, const char *import_id, int min_age_seconds, int limit,
                          int *ret_published) {
        Publish p = { .redis = redis, .import_id = import_id };
        snprintf(p.min_age, sizeof p.min_age, "%d", min_age_seconds);
        snprintf(p.limit, sizeof p.limit, "%d", limit);
        if (ret_published)
                *ret_published = 0;
        if (!redis->epoch[0])
                return -ESTALE;
        int r = db_transaction(db, 5, publish_tx, &p);
        if (ret_published)
                *ret_published = r == 0 ? p.published : 0;
        if (r < 0)
                return r;
        if (p.stale_epoch) {
                redis->epoch[0] = '\0';
                return -ESTALE;
        }
        return p.redis_error;
}

int invite_outbox_purge(Db *db, int retention_days, int limit, int *ret_deleted) {
        char days[16], max[16];
        snprintf(days, sizeof days, "%d", retention_days);
        snprintf(max, sizeof max, "%d", limit);
        const char *p[] = { days, max };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "WITH gone AS (DELETE FROM invite_outbox WHERE event_id IN ("
                "  SELECT event_id FROM invite_outbox WHERE published_at IS NOT NULL "
                "    AND created_at < now() - make_interval(days => $1::int) ORDER BY created_at LIMIT $2::int) "
                "  RETURNING 1) "
                "SELECT count(*) FROM gone",
                2, p);
        if (!r)
                return db_error(db);
        if (ret_deleted)
                *ret_deleted = atoi(PQgetvalue(r, 0, 0));
        return 0;
}
