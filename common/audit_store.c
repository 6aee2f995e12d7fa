#include "audit_store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
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

int audit_store_page(Db *db, int64_t account_id, int64_t after_id, int limit, const char *action,
                     PGresult **ret) {
        char account[24], after[24], lim[16];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        snprintf(after, sizeof after, "%" PRId64, after_id);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *p[] = { account, after, lim, action };
        PGresult *res = db_exec(db,
                                "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
                                "  actor, token_id, action, object, request_id "
                                "FROM audit_events WHERE account_id = $1::bigint AND id > $2::bigint "
                                "  AND ($4::text IS NULL OR action = $4) "
                                "ORDER BY id LIMIT $3::int",
                                4, p);
        if (!res)
                return db_error(db);
        *ret = res;
        return 0;
}
