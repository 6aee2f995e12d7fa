#include "invite_outbox.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"
#include "redis_epoch.h"
#include "user_store.h"

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

/* One event: the eight fields of its stream entry, in the script's
 * order, and the chunk of its batch it goes out in. The strings belong to
 * the publish call (its batches' result, the invitees, the accounts). */
typedef struct InviteEvent {
        const char *fields[8];
        long chunk;
} InviteEvent;

/* A batch taken for publishing, and its events: events[start, end) of
 * the call's array (none when its users were all deleted: it is marked
 * all the same). */
typedef struct InviteBatch {
        const char *import_id, *first_line;
        int64_t account_id;
        size_t start, end;
} InviteBatch;

/* What an event says of the account of a batch: its slug and its roles'
 * keys, asked for once per account in a publish call. */
typedef struct InviteAccount {
        int64_t id;
        bool found;
        char slug[ACCOUNT_SLUG_SIZE];
        RoleInfo *roles;
        size_t n_roles;
} InviteAccount;

/* Publishes the events of one chunk of one batch. Returns 0 with
 * *ret_sent (the chunk is on the stream, now or before), -EIO when the
 * connection failed, -ENOMEM. */
static int publish_chunk(Redis *redis, const InviteBatch *b, const InviteEvent *ev, size_t n, long chunk,
                         bool *ret_sent, bool *ret_stale) {
        *ret_sent = true;
        int argc = 8 + (int) n * 8;
        const char **argv = calloc((size_t) argc, sizeof *argv);
        size_t *lens = calloc((size_t) argc, sizeof *lens);
        if (!argv || !lens) {
                free(argv);
                free(lens);
                return -ENOMEM;
        }
        char marker[128];
        snprintf(marker, sizeof marker, "roster:invites:sent:%s:%s:%ld", b->import_id, b->first_line, chunk);
        argv[0] = "EVAL";
        argv[1] = publish_script;
        argv[2] = "3";
        argv[3] = INVITE_STREAM;
        argv[4] = REDIS_EPOCH_KEY;
        argv[5] = marker;
        argv[6] = MARKER_SECONDS;
        argv[7] = redis->epoch;
        for (size_t i = 0; i < n; i++)
                for (int f = 0; f < 8; f++)
                        argv[8 + i * 8 + f] = ev[i].fields[f];
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

/* Columns of the batches statement. */
enum { BA_IMPORT, BA_LINE, BA_ACCOUNT, BA_USER, BA_POS, BA_EVENT };

static bool same_batch(const PGresult *res, int i, int k) {
        return strcmp(PQgetvalue(res, i, BA_IMPORT), PQgetvalue(res, k, BA_IMPORT)) == 0 &&
               strcmp(PQgetvalue(res, i, BA_LINE), PQgetvalue(res, k, BA_LINE)) == 0;
}

static int cmp_id(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = ((const Invitee *) b)->id;
        return (x > y) - (x < y);
}

static const char *role_key(const InviteAccount *a, int64_t role_id) {
        for (size_t i = 0; i < a->n_roles; i++)
                if (a->roles[i].id == role_id)
                        return a->roles[i].key;
        return NULL;
}

/* The account of a batch, asked for when first met. */
static int account_of(Db *db, InviteAccount **accounts, size_t *n, int64_t id, InviteAccount **ret) {
        for (size_t i = 0; i < *n; i++)
                if ((*accounts)[i].id == id) {
                        *ret = &(*accounts)[i];
                        return 0;
                }
        InviteAccount *grown = realloc(*accounts, (*n + 1) * sizeof *grown);
        if (!grown)
                return -ENOMEM;
        *accounts = grown;
        InviteAccount *a = &grown[(*n)++];
        *a = (InviteAccount){ .id = id };
        int r = account_store_slug(db, id, a->slug);
        if (r == -ENOENT)
                r = 0;
        else if (r == 0) {
                a->found = true;
                r = account_store_roles_load(db, id, &a->roles, &a->n_roles);
        }
        *ret = a;
        return r;
}

static void accounts_free(InviteAccount *accounts, size_t n) {
        for (size_t i = 0; accounts && i < n; i++)
                account_store_roles_free(accounts[i].roles, accounts[i].n_roles);
        free(accounts);
}

/* Publishes the batches' events, chunk by chunk, and marks the batches
 * whose every event went out. */
static int publish_batches(Db *db, Publish *p, const InviteBatch *batches, size_t n_batches,
                           const InviteEvent *events) {
        int r = 0, n_done = 0;
        Buf imports = BUF_INIT, lines = BUF_INIT;
        for (size_t k = 0; k < n_batches && r >= 0 && !p->redis_error; k++) {
                const InviteBatch *b = &batches[k];
                bool all = true;
                for (size_t start = b->start, end; start < b->end; start = end) {
                        long chunk = events[start].chunk;
                        for (end = start + 1; end < b->end && events[end].chunk == chunk; end++)
                                ;
                        bool sent = false;
                        r = publish_chunk(p->redis, b, events + start, end - start, chunk, &sent, &p->stale_epoch);
                        if (r == -EIO) {
                                p->redis_error = -EIO;
                                r = 0;
                        } else if (r == 0 && !sent)
                                p->redis_error = -EIO;
                        if (r < 0 || p->redis_error) {
                                all = false;
                                break;
                        }
                        p->published += (int) (end - start);
                }
                if (!all)
                        break;
                /* Every event of the batch went out. Only such batches are
                 * marked; the markers keep the chunks that went out from
                 * going out twice when a batch is tried again. */
                const char *sep = n_done++ ? "," : "{";
                if (buf_printf(&imports, "%s%s", sep, b->import_id) < 0 ||
                    buf_printf(&lines, "%s%s", sep, b->first_line) < 0)
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

static int publish_tx(Db *db, void *userdata) {
        Publish *p = userdata;
        p->published = 0;
        p->redis_error = 0;
        p->stale_epoch = false;

        /* The epoch cannot change under this transaction (redis_epoch.h),
         * and it must be the one this connection publishes into. */
        bool current = false;
        int r = redis_epoch_lock_shared(db, p->redis->epoch, &current);
        if (r < 0)
                return r;
        if (!current) {
                p->stale_epoch = true;
                return 0;
        }

        const char *params[] = { p->import_id, p->min_age, p->limit };
        /* The batches, locked, one row per user each lists, with the
         * event's id: the same for the same import and user however often
         * it is published. */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "WITH b AS (SELECT import_id, first_line, account_id, user_ids, created_at FROM invite_batches "
                "           WHERE published_at IS NULL AND ($1::uuid IS NULL OR import_id = $1::uuid) "
                "             AND created_at <= now() - make_interval(secs => $2::int) "
                "           ORDER BY created_at LIMIT $3::int FOR UPDATE SKIP LOCKED) "
                "SELECT b.import_id, b.first_line, b.account_id, x.id, x.n, "
                "       md5(b.import_id::text || ':' || x.id)::uuid "
                "FROM b LEFT JOIN LATERAL unnest(b.user_ids) WITH ORDINALITY AS x(id, n) ON true "
                "ORDER BY b.created_at, b.import_id, b.first_line, x.n",
                3, params);
        if (!res)
                return db_error(db);

        size_t n = (size_t) PQntuples(res), n_ids = 0, n_inv = 0, n_accounts = 0, n_batches = 0, n_events = 0;
        int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
        InviteEvent *events = malloc((n ? n : 1) * sizeof *events);
        InviteBatch *batches = malloc((n ? n : 1) * sizeof *batches);
        Invitee *inv = NULL;
        InviteAccount *accounts = NULL;
        if (!ids || !events || !batches) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                if (!PQgetisnull(res, (int) i, BA_USER))
                        ids[n_ids++] = strtoll(PQgetvalue(res, (int) i, BA_USER), NULL, 10);
        /* The users still there; the others get no event. */
        if ((r = user_store_invitees(db, ids, n_ids, &inv, &n_inv)) < 0)
                goto out;

        InviteAccount *a = NULL;
        for (size_t i = 0; i < n; i++) {
                int row = (int) i;
                if (i == 0 || !same_batch(res, row - 1, row)) {
                        int64_t account_id = strtoll(PQgetvalue(res, row, BA_ACCOUNT), NULL, 10);
                        if ((r = account_of(db, &accounts, &n_accounts, account_id, &a)) < 0)
                                goto out;
                        /* A batch outlives neither its account nor its
                         * import: one whose account is gone is left. */
                        if (!a->found)
                                continue;
                        batches[n_batches++] = (InviteBatch){ .import_id = PQgetvalue(res, row, BA_IMPORT),
                                                              .first_line = PQgetvalue(res, row, BA_LINE),
                                                              .account_id = account_id,
                                                              .start = n_events,
                                                              .end = n_events };
                } else if (!a->found)
                        continue;
                if (PQgetisnull(res, row, BA_USER))
                        continue;
                int64_t id = strtoll(PQgetvalue(res, row, BA_USER), NULL, 10);
                const Invitee *u = bsearch(&id, inv, n_inv, sizeof *inv, cmp_id);
                const char *role = u ? role_key(a, u->role_id) : NULL;
                if (!role)
                        continue;
                events[n_events] = (InviteEvent){
                        .fields = { PQgetvalue(res, row, BA_EVENT), a->slug, PQgetvalue(res, row, BA_USER),
                                    u->email, u->first_name, u->last_name, role, PQgetvalue(res, row, BA_IMPORT) },
                        .chunk = (strtol(PQgetvalue(res, row, BA_POS), NULL, 10) - 1) / PUBLISH_CHUNK,
                };
                batches[n_batches - 1].end = ++n_events;
        }
        r = publish_batches(db, p, batches, n_batches, events);
out:
        free(ids);
        free(events);
        free(batches);
        free(inv);
        accounts_free(accounts, n_accounts);
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

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

int invite_outbox_add(Db *db, const char *import_id, long first_line, int64_t account_id, const int64_t *user_ids,
                      size_t n) {
        if (n == 0)
                return 0;
        /* Kept in the order of their ids, whatever the caller's. */
        int64_t *sorted = malloc(n * sizeof *sorted);
        if (!sorted)
                return -ENOMEM;
        memcpy(sorted, user_ids, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, cmp_i64);
        Buf arr = BUF_INIT;
        int r = buf_append_char(&arr, '{');
        for (size_t i = 0; r >= 0 && i < n; i++)
                if ((r = db_array_sep(&arr)) >= 0)
                        r = buf_append_i64(&arr, sorted[i]);
        if (r >= 0)
                r = buf_append_char(&arr, '}');
        free(sorted);
        if (r >= 0) {
                char line[24], account[24];
                snprintf(line, sizeof line, "%ld", first_line);
                snprintf(account, sizeof account, "%" PRId64, account_id);
                const char *p[] = { import_id, line, account, arr.data };
                r = db_run(db,
                           "INSERT INTO invite_batches (import_id, first_line, account_id, user_ids) "
                           "VALUES ($1::uuid, $2::int, $3::bigint, $4::bigint[])",
                           4, p);
        }
        buf_done(&arr);
        return r;
}
