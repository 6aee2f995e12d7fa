#include "audit_store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* As the CHECK constraint of audit_events lists them. */
static const char *const actions[] = {
        "import.create", "import.commit",   "import.cancel", "import.delete", "errors.download",
        "results.download", "users.export", "token.create",  "token.revoke",
};

bool audit_store_action_is_known(const char *action) {
        for (size_t i = 0; action && i < ELEMENTSOF(actions); i++)
                if (strcmp(action, actions[i]) == 0)
                        return true;
        return false;
}

int audit_store_write(Db *db, const AuditEvent *e) {
        char account[24], token[24];
        snprintf(account, sizeof account, "%" PRId64, e->account_id);
        snprintf(token, sizeof token, "%" PRId64, e->token_id);
        const char *p[] = { account, e->actor, e->token_id ? token : NULL, e->action, e->object, e->request_id };
        return db_run(db,
                      "INSERT INTO audit_events (account_id, actor, token_id, action, object, request_id) "
                      "VALUES ($1::bigint, $2, $3::bigint, $4, $5, $6)",
                      6, p);
}

int audit_store_page(Db *db, int64_t account_id, int64_t after_id, int limit, const char *action, AuditItem **ret,
                     size_t *ret_n) {
        char account[24], after[24], lim[16];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        snprintf(after, sizeof after, "%" PRId64, after_id);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { account, after, lim, action };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), actor, "
                "  coalesce(token_id, 0), action, coalesce(object, ''), coalesce(request_id, '') "
                "FROM audit_events WHERE account_id = $1::bigint AND id > $2::bigint "
                "  AND ($4::text IS NULL OR action = $4) "
                "ORDER BY id LIMIT $3::int",
                4, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        AuditItem *items = calloc(n + 1, sizeof *items);
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int row = (int) i;
                AuditItem *it = &items[i];
                it->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
                snprintf(it->at, sizeof it->at, "%s", PQgetvalue(res, row, 1));
                snprintf(it->actor, sizeof it->actor, "%s", PQgetvalue(res, row, 2));
                it->token_id = strtoll(PQgetvalue(res, row, 3), NULL, 10);
                snprintf(it->action, sizeof it->action, "%s", PQgetvalue(res, row, 4));
                snprintf(it->object, sizeof it->object, "%s", PQgetvalue(res, row, 5));
                snprintf(it->request_id, sizeof it->request_id, "%s", PQgetvalue(res, row, 6));
        }
        *ret = items;
        *ret_n = n;
        return 0;
}
