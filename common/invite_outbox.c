#include "invite_outbox.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* KEYS[1] the stream, KEYS[2] the event's marker; ARGV[1] the marker's
 * lifetime, then the fields. Returns the entry id, or 0 when the event was
 * published before. */
static const char publish_script[] =
        "if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then "
        "  return redis.call('XADD', KEYS[1], '*', 'event_id', ARGV[2], 'account', ARGV[3], "
        "    'user_id', ARGV[4], 'email', ARGV[5], 'first_name', ARGV[6], 'last_name', ARGV[7], "
        "    'role', ARGV[8], 'import_id', ARGV[9]) "
        "end "
        "return 0";

#define MARKER_SECONDS "604800"

static int append_publish(Redis *redis, PGresult *res, int row) {
        char marker[80];
        snprintf(marker, sizeof marker, "roster:invites:sent:%s", PQgetvalue(res, row, 0));
        const char *argv[14] = { "EVAL", publish_script, "2", INVITE_STREAM, marker, MARKER_SECONDS };
        size_t lens[14];
        for (int i = 0; i < 8; i++)
                argv[6 + i] = PQgetvalue(res, row, i);
        for (int i = 0; i < 14; i++)
                lens[i] = strlen(argv[i]);
        return redis_append_argv(redis, 14, argv, lens);
}

typedef struct Publish {
        Redis *redis;
        const char *import_id;
        char min_age[16], limit[16];
        int published;
        int redis_error;
} Publish;

static int publish_tx(Db *db, void *userdata) {
        Publish *p = userdata;
        p->published = 0;
        p->redis_error = 0;

        const char *params[] = { p->import_id, p->min_age, p->limit };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT o.event_id, a.slug, o.user_id, o.email, o.first_name, o.last_name, o.role, o.import_id "
                "FROM invite_outbox o JOIN accounts a ON a.id = o.account_id "
                "WHERE ($1::uuid IS NULL OR o.import_id = $1::uuid) "
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
                if (!ok)
                        snprintf(p->redis->errstr, sizeof p->redis->errstr, "Redis: %s", rep->str);
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
                const char *q[] = { ids.data };
                if (r >= 0)
                        r = db_run(db, "DELETE FROM invite_outbox WHERE event_id = ANY ($1::uuid[])", 1, q);
        }
        buf_done(&ids);
        return r;
}

int invite_outbox_publish(Db *db, Redis *redis, const char *import_id, int min_age_seconds, int limit,
                          int *ret_published) {
        Publish p = { .redis = redis, .import_id = import_id };
        snprintf(p.min_age, sizeof p.min_age, "%d", min_age_seconds);
        snprintf(p.limit, sizeof p.limit, "%d", limit);
        int r = db_transaction(db, 5, publish_tx, &p);
        if (ret_published)
                *ret_published = r == 0 ? p.published : 0;
        if (r < 0)
                return r;
        return p.redis_error;
}
