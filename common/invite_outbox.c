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

/* Events sent in one pipelined round trip. */
#define PUBLISH_CHUNK 1000

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
        /* The batches, locked, then their events: one row per user still
         * there, or one row of NULLs for a batch whose users were all
         * deleted meanwhile (it is marked all the same). */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH b AS (SELECT import_id, first_line, account_id, user_ids, created_at FROM invite_batches "
                "           WHERE published_at IS NULL AND ($1::uuid IS NULL OR import_id = $1::uuid) "
                "             AND created_at <= now() - make_interval(secs => $2::int) "
                "           ORDER BY created_at LIMIT $3::int FOR UPDATE SKIP LOCKED) "
                "SELECT md5(b.import_id::text || ':' || e.id)::uuid, a.slug, e.id, e.email, e.first_name, "
                "       e.last_name, e.key, b.import_id, b.first_line "
                "FROM b JOIN accounts a ON a.id = b.account_id "
                "LEFT JOIN LATERAL (SELECT u.id, u.email, u.first_name, u.last_name, r.key, x.n "
                "                   FROM unnest(b.user_ids) WITH ORDINALITY AS x(id, n) "
                "                   JOIN users u ON u.id = x.id JOIN roles r ON r.id = u.role_id) e ON true "
                "ORDER BY b.created_at, b.import_id, b.first_line, e.n",
                3, params);
        if (!res)
                return db_error(db);

        int n = PQntuples(res), r = 0, n_done = 0;
        Buf imports = BUF_INIT, lines = BUF_INIT;
        bool batch_ok = true;
        /* The events in pipelined chunks: a round trip per chunk rather
         * than per event, and a bounded output buffer. */
        for (int start = 0; start < n && r >= 0 && !p->redis_error; start += PUBLISH_CHUNK) {
                int end = MIN(n, start + PUBLISH_CHUNK), unsent = end;
                for (int i = start; i < end; i++)
                        if (!PQgetisnull(res, i, 2) && append_publish(p->redis, res, i) < 0) {
                                unsent = i;
                                p->redis_error = -EIO;
                                break;
                        }
                for (int i = start; i < end && r >= 0; i++) {
                        bool deleted = PQgetisnull(res, i, 2), sent = deleted;
                        if (!deleted && i < unsent) {
                                /* Every queued reply is read, also after an
                                 * error one, or the next command would get
                                 * a stale reply. */
                                redisReply *rep;
                                if (redis_get_reply(p->redis, &rep) < 0) {
                                        p->redis_error = -EIO;
                                        unsent = i;
                                } else {
                                        sent = rep->type != REDIS_REPLY_ERROR;
                                        if (!sent) {
                                                snprintf(p->redis->errstr, sizeof p->redis->errstr, "Redis: %s",
                                                         rep->str);
                                                p->redis_error = -EIO;
                                                p->stale_epoch = p->stale_epoch || strncmp(rep->str, "EPOCH", 5) == 0;
                                        }
                                        freeReplyObject(rep);
                                }
                        }
                        p->published += sent && !deleted;
                        batch_ok = batch_ok && sent;
                        if (i + 1 < n && strcmp(PQgetvalue(res, i, 7), PQgetvalue(res, i + 1, 7)) == 0 &&
                            strcmp(PQgetvalue(res, i, 8), PQgetvalue(res, i + 1, 8)) == 0)
                                continue; /* more events of this batch follow */
                        /* The batch's last row. Only a batch whose every
                         * event went out is marked; the markers keep the
                         * others from going out twice when it is tried
                         * again. */
                        if (batch_ok) {
                                const char *sep = n_done++ ? "," : "{";
                                if (buf_printf(&imports, "%s%s", sep, PQgetvalue(res, i, 7)) < 0 ||
                                    buf_printf(&lines, "%s%s", sep, PQgetvalue(res, i, 8)) < 0)
                                        r = -ENOMEM;
                        }
                        batch_ok = true;
                }
        }
        if (r >= 0 && n_done) {
                const char *q[] = { NULL, NULL, p->redis->epoch };
                if (buf_append_char(&imports, '}') < 0 || buf_append_char(&lines, '}') < 0)
                        r = -ENOMEM;
                q[0] = imports.data;
                q[1] = lines.data;
                if (r >= 0)
                        r = db_run(db,
                                   "UPDATE invite_batches SET published_at = now(), published_epoch = $3::uuid "
                                   "WHERE (import_id, first_line) IN (SELECT * FROM unnest($1::uuid[], $2::int[]))",
                                   3, q);
        }
        buf_done(&imports);
        buf_done(&lines);
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
                "WITH gone AS (DELETE FROM invite_batches WHERE (import_id, first_line) IN ("
                "  SELECT import_id, first_line FROM invite_batches WHERE published_at IS NOT NULL "
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
