#include "audit.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cursor.h"
#include "json_text.h"
#include "log.h"
#include "problem.h"

AuditEvent audit_of(const Request *r, const char *action) {
        return (AuditEvent){ .account_id = r->auth.account_id,
                             .token_id = r->auth.token_id,
                             .actor = r->auth.actor,
                             .action = action,
                             .request_id = r->id };
}

unsigned audit_download(Request *r, const char *action, const char *object) {
        Db *db = request_db(r);
        if (!db)
                return 503;
        AuditEvent e = audit_of(r, action);
        e.object = object;
        if (audit_store_write(db, &e) < 0) {
                log_request(LOG_LEVEL_WARNING, r->id, "audit event %s not written: %s", action, db->errmsg);
                return problem_database_unavailable(r);
        }
        return 0;
}

unsigned audit_list(Request *r) {
        int limit;
        if (request_limit(r, 100, 1000, &limit) < 0)
                return 400;
        const char *action = request_query(r, "action");
        if (action && !audit_store_action_is_known(action)) {
                problem_with(r, 400, "invalid_option", "Invalid option",
                             "action must be one of import.create, import.commit, import.cancel, import.delete, "
                             "errors.download, results.download, users.export, token.create, token.revoke",
                             json_pack("{s:[{s:s, s:s}]}", "errors", "name", "action", "message", "unknown action"));
                return 400;
        }
        int64_t after = 0;
        const char *cursor = request_query(r, "cursor");
        if (cursor) {
                char raw[32];
                char *end = NULL;
                if (cursor_decode(cursor, raw, sizeof raw) == 0 && isdigit((unsigned char) raw[0]))
                        after = strtoll(raw, &end, 10);
                if (!end || *end || after < 0) {
                        problem(r, 400, "invalid_cursor", "Invalid cursor", "the cursor is not one this API gave out");
                        return 400;
                }
        }
        Db *db = request_db(r);
        if (!db)
                return 503;
        AuditItem *v = NULL;
        size_t n = 0;
        int k = audit_store_page(db, r->auth.account_id, after, limit + 1, action, &v, &n);
        if (k == -ENOMEM) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        if (k < 0)
                return problem_database_unavailable(r);
        json_t *items = json_array();
        for (size_t i = 0; i < n && i < (size_t) limit; i++) {
                const AuditItem *e = &v[i];
                json_array_append_new(
                        items, json_pack("{s:I, s:s, s:s, s:o, s:s, s:o, s:o}", "id", (json_int_t) e->id, "at", e->at,
                                         "actor", e->actor, "token_id",
                                         e->token_id ? json_integer(e->token_id) : json_null(), "action", e->action,
                                         "object", json_text_opt_string(e->object), "request_id",
                                         json_text_opt_string(e->request_id)));
        }
        json_t *next = json_null();
        if (n > (size_t) limit) {
                char id[24], enc[64];
                snprintf(id, sizeof id, "%" PRId64, v[limit - 1].id);
                cursor_encode(id, enc, sizeof enc);
                next = json_string(enc);
        }
        free(v);
        request_respond_json(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
        return 200;
}
