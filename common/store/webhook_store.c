#include "webhook_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"

#define TS(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

void webhook_store_deliveries_free(WebhookDelivery *d, size_t n) {
        for (size_t i = 0; d && i < n; i++) {
                free(d[i].type);
                free(d[i].url);
                free(d[i].body);
                free(d[i].secret);
        }
        free(d);
}

/* Gives delivery i the secret of its account as it is now, from an
 * earlier delivery of the same account if there is one. */
static int sign_with(Db *db, int64_t account_id, WebhookDelivery *d, size_t i) {
        for (size_t k = 0; k < i; k++)
                if (d[k].account_id == account_id) {
                        d[i].account_id = account_id;
                        if (d[k].secret && !(d[i].secret = strdup(d[k].secret)))
                                return -ENOMEM;
                        return 0;
                }
        char secret[WEBHOOK_SECRET_SIZE];
        int r = account_store_webhook_secret(db, account_id, secret);
        d[i].account_id = account_id;
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return (d[i].secret = strdup(secret)) ? 0 : -ENOMEM;
}

int webhook_store_claim(Db *db, int max, int64_t lease_seconds, WebhookDelivery **ret, size_t *ret_n) {
        char lim[16], lease[24];
        snprintf(lim, sizeof lim, "%d", max);
        snprintf(lease, sizeof lease, "%" PRId64, lease_seconds);
        const char *p[] = { lim, lease };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, "
                "       next_attempt_at = now() + make_interval(secs => $2::bigint) "
                "WHERE d.id IN ("
                "    SELECT id FROM webhook_deliveries "
                "    WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= now() "
                "    ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
                "RETURNING d.id, d.type, d.url, d.body, d.account_id, d.attempts",
                2, p);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        WebhookDelivery *d = calloc(n + 1, sizeof *d);
        if (!d)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int row = (int) i;
                snprintf(d[i].id, sizeof d[i].id, "%s", PQgetvalue(r, row, 0));
                d[i].type = strdup(PQgetvalue(r, row, 1));
                d[i].url = strdup(PQgetvalue(r, row, 2));
                d[i].body = strdup(PQgetvalue(r, row, 3));
                d[i].attempt = atoi(PQgetvalue(r, row, 5));
                if (!d[i].type || !d[i].url || !d[i].body) {
                        webhook_store_deliveries_free(d, n);
                        return -ENOMEM;
                }
                int k = sign_with(db, strtoll(PQgetvalue(r, row, 4), NULL, 10), d, i);
                if (k < 0) {
                        webhook_store_deliveries_free(d, n);
                        return k;
                }
        }
        *ret = d;
        *ret_n = n;
        return 0;
}

int webhook_store_record(Db *db, const WebhookDelivery *d, const WebhookAttempt *a, int64_t retry_delay,
                         int64_t retry_hours) {
        char attempt[16], started[32], duration[24], status[16], delay[24], hours[24];
        snprintf(attempt, sizeof attempt, "%d", d->attempt);
        snprintf(started, sizeof started, "%.3f", a->started);
        snprintf(duration, sizeof duration, "%" PRId64, a->duration_ms);
        snprintf(status, sizeof status, "%d", a->status);
        snprintf(delay, sizeof delay, "%" PRId64, retry_delay);
        snprintf(hours, sizeof hours, "%" PRId64, retry_hours);
        const char *p[] = { d->id, attempt, started, duration, a->status ? status : NULL, a->error, delay, hours };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "WITH attempt AS ("
                "    INSERT INTO webhook_attempts (delivery_id, attempt, at, duration_ms, status, error) "
                "    VALUES ($1, $2, to_timestamp($3::double precision), $4, $5, $6) "
                "    ON CONFLICT DO NOTHING) "
                "UPDATE webhook_deliveries SET "
                "    delivered_at = CASE WHEN $6::text IS NULL THEN now() END, "
                "    next_attempt_at = CASE WHEN $6::text IS NULL THEN next_attempt_at "
                "                           ELSE now() + make_interval(secs => $7::bigint) END, "
                "    given_up_at = CASE WHEN $6::text IS NOT NULL AND now() + make_interval(secs => $7::bigint) "
                "                            > created_at + make_interval(hours => $8::int) THEN now() END "
                "WHERE id = $1 AND attempts = $2::int",
                8, p);
        return r ? 0 : db_error(db);
}

int webhook_store_list_json(Db *db, int64_t account_id, const char *import_id, char **ret) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { import_id, account };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT coalesce(json_agg(json_build_object("
                "    'id', d.id, 'type', d.type, 'url', d.url, "
                "    'state', CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered' "
                "                  WHEN d.given_up_at IS NOT NULL THEN 'given_up' ELSE 'pending' END, "
                "    'created_at', " TS("d.created_at") ", "
                "    'delivered_at', " TS("d.delivered_at") ", "
                "    'given_up_at', " TS("d.given_up_at") ", "
                "    'next_attempt_at', CASE WHEN d.delivered_at IS NULL AND d.given_up_at IS NULL "
                "                            THEN " TS("d.next_attempt_at") " END, "
                "    'attempts', (SELECT coalesce(json_agg(json_build_object("
                "                     'attempt', a.attempt, 'at', " TS("a.at") ", 'duration_ms', a.duration_ms, "
                "                     'status', a.status, 'error', a.error) ORDER BY a.attempt), '[]') "
                "                 FROM webhook_attempts a WHERE a.delivery_id = d.id)"
                ") ORDER BY d.created_at, d.id), '[]')::text "
                "FROM webhook_deliveries d WHERE d.import_id = $1 AND d.account_id = $2::bigint",
                2, p);
        if (!r)
                return db_error(db);
        char *s = strdup(PQgetvalue(r, 0, 0));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
