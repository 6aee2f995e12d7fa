/* The audit trail: who read or changed personal data, and who made or
 * revoked a credential (audit_events, append-only). An event names the
 * account, the actor and token of the request (or roster-admin), the
 * action, its object (an import id, a token id, "users") and the
 * request id; never a value from an uploaded file.
 *
 * Events of changes are written in the transaction of the change, so
 * that neither exists without the other; events of downloads before the
 * download starts (a download that cannot be recorded is refused).
 *
 * Functions return 0, -EAGAIN/-EIO (db->errmsg) or -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"

typedef struct AuditEvent {
        int64_t account_id;
        int64_t token_id; /* 0: none (roster-admin) */
        const char *actor;
        const char *action; /* one of the actions audit_events allows */
        const char *object; /* may be NULL */
        const char *request_id; /* NULL outside a request */
} AuditEvent;

/* Appends the event (in the caller's transaction, if any). 0, or
 * -EAGAIN/-EIO (db->errmsg). */
int audit_store_write(Db *db, const AuditEvent *e) _must_check_;

/* One recorded event, as read back. */
typedef struct AuditItem {
        int64_t id;
        char at[40]; /* ISO 8601, UTC */
        char actor[128];
        int64_t token_id; /* 0: none */
        char action[32];
        char object[80]; /* "" when none */
        char request_id[72]; /* "" when none */
} AuditItem;

/* A page of the account's events with an id above after_id (0: from the
 * first), oldest first, at most limit; action NULL for all. The array
 * belongs to the caller (free()). */
int audit_store_page(Db *db, int64_t account_id, int64_t after_id, int limit, const char *action,
                     AuditItem **ret, size_t *ret_n) _must_check_;

/* True when action is one of the audited actions. */
bool audit_store_action_is_known(const char *action);
