#include "user_batch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json_util.h"

/* A field in COPY text format, as db_copy_text() writes it (the core
 * does not use the store): backslash, tab, newline and carriage return
 * escaped. */
static int copy_text(Buf *b, const char *s) {
        for (;;) {
                size_t n = strcspn(s, "\\\t\n\r");
                int r = buf_append(b, s, n);
                if (r < 0 || !s[n])
                        return r;
                const char *esc = s[n] == '\\' ? "\\\\" : s[n] == '\t' ? "\\t" : s[n] == '\n' ? "\\n" : "\\r";
                if ((r = buf_append(b, esc, 2)) < 0)
                        return r;
                s += n + 1;
        }
}

static int put_text(Buf *b, const char *s) {
        int r = s ? copy_text(b, s) : buf_append_str(b, "\\N");
        return r < 0 ? r : buf_append_char(b, '\t');
}

static int put_int(Buf *b, long long v) {
        int r = buf_append_i64(b, v);
        return r < 0 ? r : buf_append_char(b, '\t');
}

static int put_custom(Buf *b, const UserRow *u) {
        if (u->n_custom == 0)
                return put_text(b, NULL);
        Buf j = BUF_INIT;
        int r = buf_append_char(&j, '{');
        for (size_t i = 0; r >= 0 && i < u->n_custom; i++) {
                if (i)
                        r = buf_append_char(&j, ',');
                if (r >= 0)
                        r = json_util_append_string(&j, u->custom[i].key);
                if (r >= 0)
                        r = buf_append_char(&j, ':');
                if (r >= 0)
                        r = json_util_append_string(&j, u->custom[i].value);
        }
        if (r >= 0)
                r = buf_append_char(&j, '}');
        if (r >= 0)
                r = put_text(b, buf_str(&j));
        buf_done(&j);
        return r;
}

bool user_batch_staged(const BatchRow *row) {
        return !row->user.failed && !row->unchanged;
}

int user_batch_stage_row(Buf *b, const BatchRow *row) {
        const UserRow *u = &row->user;
        bool ok = !u->failed;
        int r;

        if ((r = put_int(b, (long long) u->line)) < 0 || (r = put_text(b, ok ? "t" : "f")) < 0 ||
            (r = put_text(b, u->email)) < 0 || (r = put_text(b, u->email_lower)) < 0 ||
            (r = put_text(b, ok ? u->first_name : NULL)) < 0 ||
            (r = put_text(b, ok ? u->last_name : NULL)) < 0 || (r = put_text(b, ok ? u->job_title : NULL)) < 0 ||
            (r = put_text(b, ok ? u->phone : NULL)) < 0)
                return r;
        r = u->urn == URN_KEEP ? put_text(b, NULL) : put_int(b, u->urn);
        if (r < 0)
                return r;
        r = ok && u->role ? put_int(b, u->role->id) : put_text(b, NULL);
        if (r < 0)
                return r;
        r = put_text(b, u->active < 0 ? NULL : u->active ? "t" : "f");
        if (r < 0 || (r = ok ? put_custom(b, u) : put_text(b, NULL)) < 0)
                return r;

        /* UPNs are A-Z0-9 and team ids digits: no array quoting needed. */
        if (ok && u->set_pupils && !row->pupils_ignored) {
                r = buf_append_char(b, '{');
                for (size_t i = 0; r >= 0 && i < u->n_upns; i++)
                        r = buf_printf(b, "%s%s", i ? "," : "", u->upns[i]);
                if (r >= 0)
                        r = buf_append_str(b, "}\tt\t");
        } else
                r = buf_append_str(b, "\\N\tf\t");
        if (r < 0)
                return r;
        if (ok && u->set_teams) {
                r = buf_append_char(b, '{');
                for (size_t i = 0; r >= 0 && i < u->n_teams; i++)
                        r = buf_printf(b, "%s%" PRId64, i ? "," : "", u->team_ids[i]);
                if (r >= 0)
                        r = buf_append_str(b, "}\tt");
        } else
                r = buf_append_str(b, "\\N\tf");
        if (r >= 0)
                r = buf_append_char(b, '\t');
        if (r >= 0)
                r = row->user_id ? buf_append_i64(b, row->user_id) : buf_append_str(b, "\\N");
        return r < 0 ? r : buf_append_char(b, '\n');
}

BatchRow *user_batch_row_at_line(ImportBatch *batch, unsigned long line, size_t *hint) {
        for (size_t i = *hint; i < batch->n; i++)
                if (batch->rows[i].user.line == line) {
                        *hint = i + 1;
                        return &batch->rows[i];
                }
        for (size_t i = 0; i < *hint && i < batch->n; i++)
                if (batch->rows[i].user.line == line)
                        return &batch->rows[i];
        return NULL;
}

int user_batch_add_error(ImportBatch *batch, BatchRow *row, const char *field, const char *code, const char *msg) {
        return row_rules_add_issue(&row->user, &batch->arena, SEVERITY_ERROR, field, code, msg);
}

int user_batch_set_duplicate(ImportBatch *batch, BatchRow *row, unsigned long first_line) {
        char msg[128];
        snprintf(msg, sizeof msg, "the same email is on line %lu; the first occurrence is imported", first_line);
        UserRow *u = &row->user;
        for (size_t k = 0; k < u->n_issues; k++)
                if (strcmp(u->issues[k].code, "duplicate_in_file") == 0) {
                        const char *m = arena_strdup(&batch->arena, msg);
                        if (!m)
                                return -ENOMEM;
                        u->issues[k].message = m;
                        return 0;
                }
        return user_batch_add_error(batch, row, "email", "duplicate_in_file", msg);
}

int user_batch_check_issues(ImportBatch *batch, ImportMode mode) {
        int r;
        for (size_t i = 0; i < batch->n; i++) {
                BatchRow *row = &batch->rows[i];
                UserRow *u = &row->user;
                bool exists = row->user_id != 0;
                if (row->urn_unknown &&
                    (r = user_batch_add_error(batch, row, "urn", "unknown_establishment",
                             "no establishment has this URN; load the establishments (GIAS) or correct the URN")) < 0)
                        return r;
                if (exists && mode == IMPORT_MODE_CREATE_ONLY &&
                    (r = user_batch_add_error(batch, row, "email", "already_exists",
                             "a user with this email already exists, and the import only creates users")) < 0)
                        return r;
                if (u->email_lower && !exists && mode == IMPORT_MODE_UPDATE_ONLY &&
                    (r = user_batch_add_error(batch, row, "email", "not_found",
                             "no user has this email, and the import only updates users")) < 0)
                        return r;
                /* The row leaves the URN alone, and the user has one: the
                 * establishment overrides pupil links. */
                if (!u->failed && u->set_pupils && u->urn == URN_KEEP && exists && row->user_linked) {
                        row->pupils_ignored = true;
                        if ((r = row_rules_add_issue(u, &batch->arena, SEVERITY_WARNING, "upn", "upns_ignored",
                                                     "the user is linked to an establishment, which overrides "
                                                     "pupil links; the UPNs are ignored")) < 0)
                                return r;
                }
                row->unchanged = !u->failed && exists && row->matches_user;
        }
        return 0;
}

bool user_batch_any_links(const ImportBatch *batch) {
        for (size_t i = 0; i < batch->n; i++) {
                const UserRow *u = &batch->rows[i].user;
                if (!u->failed && (u->set_teams || (u->set_pupils && !batch->rows[i].pupils_ignored)))
                        return true;
        }
        return false;
}

size_t user_batch_row_of_created(const ImportBatch *batch, const char *email, size_t *next) {
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = pass ? 0 : *next; i < batch->n; i++) {
                        const BatchRow *row = &batch->rows[i];
                        if (user_batch_staged(row) && !row->user_id && strcmp(row->user.email, email) == 0) {
                                *next = i + 1;
                                return i;
                        }
                }
        return batch->n;
}

int user_batch_lines_array(Buf *b, const ImportBatch *batch, const bool *pick) {
        int r = buf_append_char(b, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++)
                if (pick[i])
                        r = buf_printf(b, "%s%lu", b->len > 1 ? "," : "", batch->rows[i].user.line);
        return r < 0 ? r : buf_append_char(b, '}');
}
