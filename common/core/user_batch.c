#include "user_batch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "pg_text.h"

static const char already_exists[] = "a user with this email already exists, and the import only creates users";

static int put_text(Buf *b, const char *s) {
        int r = s ? pg_text_copy(b, s) : buf_append_str(b, "\\N");
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
                             already_exists)) < 0)
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

int user_batch_email_arrays(const ImportBatch *batch, const EmailFilter *filter, Buf *lines, Buf *emails,
                            Buf *reg) {
        bool any = false;
        int r = buf_append_char(lines, '{');
        if (r >= 0)
                r = buf_append_char(emails, '{');
        if (r >= 0 && reg)
                r = buf_append_char(reg, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++) {
                const BatchRow *row = &batch->rows[i];
                const char *email = row->user.email_lower;
                if (!email || (filter && !email_filter_may_repeat(filter, email, strlen(email))))
                        continue;
                r = buf_printf(lines, "%s%lu", any ? "," : "", row->user.line);
                if (r >= 0)
                        r = pg_text_array_text(emails, email);
                if (r >= 0 && reg)
                        r = buf_printf(reg, "%s%c", any ? "," : "", row->register_email ? 't' : 'f');
                any = true;
        }
        if (r >= 0)
                r = buf_append_char(lines, '}');
        if (r >= 0)
                r = buf_append_char(emails, '}');
        if (r >= 0 && reg)
                r = buf_append_char(reg, '}');
        return r < 0 ? r : any;
}

int user_batch_lines_unchanged(Buf *b, const ImportBatch *batch, const bool *changed) {
        int r = buf_append_char(b, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++)
                if (user_batch_staged(&batch->rows[i]) && batch->rows[i].user_id && !changed[i])
                        r = buf_printf(b, "%s%lu", b->len > 1 ? "," : "", batch->rows[i].user.line);
        return r < 0 ? r : (r = buf_append_char(b, '}')) < 0 ? r : b->len > 2;
}

int user_batch_lines_failed(Buf *b, const ImportBatch *batch) {
        int r = buf_append_char(b, '{');
        for (size_t i = 0; r >= 0 && i < batch->n; i++)
                if (batch->rows[i].user.failed)
                        r = buf_printf(b, "%s%lu", b->len > 1 ? "," : "", batch->rows[i].user.line);
        return r < 0 ? r : buf_append_char(b, '}');
}

/* As USER_DIFFERS in user_store.c decides it. */
bool user_batch_matches_user(const BatchRow *row, const char *const values[7]) {
        const UserRow *u = &row->user;
        if (u->n_custom > 0 || u->set_teams || u->n_links > 0 || (u->set_pupils && !row->pupils_ignored) ||
            !u->role)
                return false;
#define SAME_TEXT(value, k) (values[k] ? (value) && strcmp((value), values[k]) == 0 : (value) == NULL)
        if (!SAME_TEXT(u->first_name, 0) || !SAME_TEXT(u->last_name, 1))
                return false;
        if (u->job_title && !SAME_TEXT(u->job_title, 2))
                return false;
        if (u->phone && !SAME_TEXT(u->phone, 3))
                return false;
#undef SAME_TEXT
        if (!values[4] || strtoll(values[4], NULL, 10) != u->role->id)
                return false;
        if (u->urn != URN_KEEP) {
                bool linked = values[5] != NULL;
                if (u->urn == 0 ? linked : !linked || strtol(values[5], NULL, 10) != u->urn)
                        return false;
        }
        if (u->active >= 0 && (values[6] && values[6][0] == 't') != (u->active == 1))
                return false;
        return true;
}

size_t user_batch_urns_to_ask(const ImportBatch *batch, const UrnSet *known, int *urns, size_t *rows) {
        size_t n = 0;
        for (size_t i = 0; i < batch->n; i++) {
                int urn = batch->rows[i].user.urn;
                if (urn > 0 && !urn_set_has(known, urn)) {
                        urns[n] = urn;
                        rows[n++] = i;
                }
        }
        return n;
}

void user_batch_urns_found(ImportBatch *batch, UrnSet *known, const int *urns, const size_t *rows,
                           const bool *exists, size_t n) {
        for (size_t k = 0; k < n; k++) {
                batch->rows[rows[k]].urn_unknown = !exists[k];
                if (exists[k])
                        urn_set_add(known, urns[k]);
        }
}

size_t user_batch_raced(const ImportBatch *batch, const bool *created, bool *raced) {
        size_t n_tried = 0;
        for (size_t i = 0; i < batch->n; i++)
                if (user_batch_staged(&batch->rows[i]) && !batch->rows[i].user_id) {
                        n_tried++;
                        raced[i] = !created[i];
                }
        return n_tried;
}

int user_batch_fail_raced(ImportBatch *batch, const bool *raced, int64_t *user_ids) {
        int r = 0;
        for (size_t i = 0; i < batch->n && r >= 0; i++)
                if (raced[i]) {
                        user_ids[i] = 0;
                        r = user_batch_add_error(batch, &batch->rows[i], "email", "already_exists", already_exists);
                }
        return r;
}
