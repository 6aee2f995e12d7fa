#include "invite_outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_epoch.h"

/* KEYS[1] the stream, KEYS[2] the epoch key, KEYS[3] the marker of a
 * chunk of a batch's events; ARGV[1] the marker's lifetime, ARGV[2] the
 * epoch the publisher believes in, then the eight fields of each event in
 * turn. Adds the stream entries of the chunk's events only if it can also
 * set its marker (a chunk published before has one): a script runs whole,
 * so either every event of the chunk is on the stream with its marker or
 * none is. Returns the number of entries added, or the error EPOCH when
 * Redis's epoch is another: it lost its data since the publisher last
 * looked, and publishing into the new epoch must wait until the database
 * has caught up with it.
 *
 * One call and one marker per chunk rather than per event: a call per
 * event cost Redis more than the events themselves, and a marker per
 * event kept a key per invite for a week. */
static const char publish_script[] =
        "if redis.call('GET', KEYS[2]) ~= ARGV[2] then "
        "  return redis.error_reply('EPOCH the Redis data epoch changed') "
        "end "
        "if not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[1]) then "
        "  return 0 "
        "end "
        "for a = 3, #ARGV, 8 do "
        "  redis.call('XADD', KEYS[1], '*', 'event_id', ARGV[a], 'account', ARGV[a + 1], "
        "    'user_id', ARGV[a + 2], 'email', ARGV[a + 3], 'first_name', ARGV[a + 4], "
        "    'last_name', ARGV[a + 5], 'role', ARGV[a + 6], 'import_id', ARGV[a + 7]) "
        "end "
        "return (#ARGV - 2) / 8";

#define MARKER_SECONDS "604800"

/* A batch's events go out in chunks of this many, by their position in
 * the batch's list of users: a chunk is the same set of users however
 * often it is published (less those deleted meanwhile). It bounds a
 * command's size and the time the script holds Redis. */
#define PUBLISH_CHUNK 1000

/* Columns of the events query. */
enum { EV_ID, EV_ACCOUNT, EV_USER, EV_EMAIL, EV_FIRST, EV_LAST, EV_ROLE, EV_IMPORT, EV_LINE, EV_POS };

static bool same_batch(const PGresult *res, int i, int k) {
        return strcmp(PQgetvalue(res, i, EV_IMPORT), PQgetvalue(res, k, EV_IMPORT)) == 0 &&
               strcmp(PQgetvalue(res, i, EV_LINE), PQgetvalue(res, k, EV_LINE)) == 0;
}

/* The chunk of row i's event; -1 for the row of a batch whose users were
 * all deleted. */
static long chunk_of(const PGresult *res, int i) {
        return PQgetisnull(res, i, EV_POS) ? -1 : (strtol(PQgetvalue(res, i, EV_POS), NULL, 10) - 1) / PUBLISH_CHUNK;
}

/* Publishes the events of rows [start, end): one chunk of one batch.
 * Returns 0 with *ret_sent (the chunk is on the stream, now or before),
 * -EIO when the connection failed, -ENOMEM. */
static int publish_chunk(Redis *redis, const PGresult *res, int start, int end, long chunk, bool *ret_sent,
                         bool *ret_stale) {
        *ret_sent = true;
        if (chunk < 0)
                return 0;

        int n = end - start, argc = 8 + n * 8;
        const char **argv = calloc((size_t) argc, sizeof *argv);
        size_t *lens = calloc((size_t) argc, sizeof *lens);
        if (!argv || !lens) {
                free(argv);
                free(lens);
                return -ENOMEM;
        }
        char marker[128];
        snprintf(marker, sizeof marker, "roster:invites:sent:%s:%s:%ld", PQgetvalue(res, start, EV_IMPORT),
                 PQgetvalue(res, start, EV_LINE), chunk);
        argv[0] = "EVAL";
        argv[1] = publish_script;
        argv[2] = "3";
        argv[3] = INVITE_STREAM;
        argv[4] = REDIS_EPOCH_KEY;
        argv[5] = marker;
        argv[6] = MARKER_SECONDS;
        argv[7] = redis->epoch;
        for (int i = 0; i < n; i++)
                for (int f = 0; f < 8; f++)
                        argv[8 + i * 8 + f] = PQgetvalue(res, start + i, f);
        for (int i = 0; i < argc; i++)
                lens[i] = strlen(argv[i]);

        redisReply *rep = NULL;
        int r = 0;
        if (redis_append_argv(redis, argc, argv, lens) < 0 || redis_get_reply(redis, &rep) < 0)
                r = -EIO;
        else {
                if (rep->type == REDIS_REPLY_ERROR) {
                        snprintf(redis->errstr, sizeof redis->errstr, "Redis: %s", rep->str);
                        *ret_sent = false;
                        *ret_stale = *ret_stale || strncmp(rep->str, "EPOCH", 5) == 0;
                }
                freeReplyObject(rep);
        }
        free(argv);
        free(lens);
        return r;
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
        bool current = false;
        int k = redis_epoch_lock_shared(db, p->redis->epoch, &current);
        if (k < 0)
                return k;
        if (!current) {
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
                "       e.last_name, e.key, b.import_id, b.first_line, e.n "
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
        for (int start = 0, end; start < n && r >= 0 && !p->redis_error; start = end) {
                long chunk = chunk_of(res, start);
                for (end = start + 1; end < n && same_batch(res, start, end) && chunk_of(res, end) == chunk; end++)
                        ;
                bool sent = false;
                r = publish_chunk(p->redis, res, start, end, chunk, &sent, &p->stale_epoch);
                if (r == -EIO) {
                        p->redis_error = -EIO;
                        r = 0;
                        break;
                }
                if (r < 0)
                        break;
                if (!sent) {
                        p->redis_error = -EIO;
                        break;
                }
                if (chunk >= 0)
                        p->published += end - start;
                if (end < n && same_batch(res, start, end))
                        continue; /* more events of this batch follow */
                /* The batch's last chunk: every event went out. Only such
                 * batches are marked; the markers keep the chunks that went
                 * out from going out twice when a batch is tried again. */
                const char *sep = n_done++ ? "," : "{";
                if (buf_printf(&imports, "%s%s", sep, PQgetvalue(res, start, EV_IMPORT)) < 0 ||
                    buf_printf(&lines, "%s%s", sep, PQgetvalue(res, start, EV_LINE)) < 0)
                        r = -ENOMEM;
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

int invite_outbox_unpublished(Db *db, int64_t *ret) {
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db, "SELECT coalesce(sum(cardinality(user_ids)), 0) FROM invite_batches WHERE published_at IS NULL", 0,
                NULL);
        if (!res)
                return db_error(db);
        *ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        return 0;
}

int invite_outbox_replay(Db *db, const char *epoch, long long *ret_events) {
        const char *p[] = { epoch };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "WITH lost AS (UPDATE invite_batches SET published_at = NULL, published_epoch = NULL "
                "  WHERE published_at IS NOT NULL AND published_epoch IS DISTINCT FROM $1::uuid "
                "  RETURNING cardinality(user_ids) AS n) "
                "SELECT coalesce(sum(n), 0) FROM lost",
                1, p);
        if (!r)
                return db_error(db);
        *ret_events = atoll(PQgetvalue(r, 0, 0));
        return 0;
}
