#include "users.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"
#include "audit.h"
#include "csv_writer.h"
#include "cursor.h"
#include "header_map.h"
#include "json_text.h"
#include "paged_stream.h"
#include "problem.h"
#include "user_store.h"

static const char *const filters[] = { "email",  "role", "urn", "team", "active", "created_by_import",
                                        "updated_by_import", NULL };

static unsigned bad_filter(Request *r, const char *name, const char *detail) {
        problem_with(r, 400, "invalid_option", "Invalid filter", detail,
                     json_pack("{s:[{s:s, s:s}]}", "errors", "name", name, "message", detail));
        return 400;
}

/* Reads the filters (and, when `paged`, limit and cursor) from the query;
 * a name it does not know is refused, not ignored: a misspelt filter
 * would otherwise list everyone. role and team must be the account's. */
static unsigned parse_filter(Request *r, bool paged, UserFilter *f, char role_key[72]) {
        *f = (UserFilter){ .active = -1 };
        const char **keys = u_map_enum_keys(r->req->map_url);
        for (size_t i = 0; keys && keys[i]; i++) {
                bool known = strcmp(keys[i], "id") == 0 ||
                             (paged && (strcmp(keys[i], "limit") == 0 || strcmp(keys[i], "cursor") == 0));
                for (size_t k = 0; !known && filters[k]; k++)
                        known = strcmp(keys[i], filters[k]) == 0;
                if (!known) {
                        char detail[200];
                        snprintf(detail, sizeof detail,
                                 "unknown parameter \"%.60s\"; the filters are email, role, urn, team, active, "
                                 "created_by_import and updated_by_import",
                                 keys[i]);
                        return bad_filter(r, keys[i], detail);
                }
        }

        const char *v;
        f->email = request_query(r, "email");
        if ((v = request_query(r, "urn"))) {
                char *end;
                long urn = strtol(v, &end, 10);
                if (!isdigit((unsigned char) *v) || *end || urn < 1 || urn > 999999)
                        return bad_filter(r, "urn", "urn must be a URN: a number from 1 to 999999");
                f->urn = (int) urn;
        }
        if ((v = request_query(r, "active"))) {
                if (strcmp(v, "true") == 0)
                        f->active = 1;
                else if (strcmp(v, "false") == 0)
                        f->active = 0;
                else
                        return bad_filter(r, "active", "active must be true or false");
        }
        const char *names[] = { "created_by_import", "updated_by_import" };
        const char **dest[] = { &f->created_by_import, &f->updated_by_import };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if ((v = request_query(r, names[i]))) {
                        if (!uuid_is_valid(v))
                                return bad_filter(r, names[i], "an import id is a UUID");
                        *dest[i] = v;
                }

        const char *role = request_query(r, "role"), *team = request_query(r, "team");
        if (!role && !team)
                return 0;
        Db *db = request_db(r);
        if (!db)
                return 503;
        if (role) {
                RoleInfo *roles = NULL;
                size_t n = 0;
                if (account_store_roles_load(db, r->auth.account_id, &roles, &n) < 0)
                        return problem_database_unavailable(r);
                const RoleInfo *found = row_rules_find_role(roles, n, role);
                if (found)
                        snprintf(role_key, 72, "%s", found->key);
                account_store_roles_free(roles, n);
                if (!found)
                        return bad_filter(r, "role", "role is not a role of this account (GET /v1/roles lists them)");
                f->role = role_key;
        }
        if (team) {
                TeamInfo *teams = NULL;
                size_t n = 0;
                bool found = false;
                if (account_store_teams_load(db, r->auth.account_id, &teams, &n) < 0)
                        return problem_database_unavailable(r);
                for (size_t i = 0; i < n && !found; i++)
                        found = strcasecmp(teams[i].name, team) == 0;
                account_store_teams_free(teams, n);
                if (!found)
                        return bad_filter(r, "team", "team is not a team of this account (GET /v1/teams lists them)");
                f->team = team;
        }
        return 0;
}

static json_t *user_json(const UserView *u) {
        char self[48];
        snprintf(self, sizeof self, "/v1/users/%" PRId64, u->id);
        json_t *est = u->urn ? json_pack("{s:i, s:o}", "urn", u->urn, "name",
                                         json_text_opt_string(u->establishment_name))
                             : json_null();
        return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:b, s:o, s:s, s:s, "
                         "s:o, s:o, s:{s:s}}",
                         "id", (json_int_t) u->id, "email", u->email, "first_name", u->first_name, "last_name",
                         u->last_name, "job_title", json_text_opt_string(u->job_title), "phone",
                         json_text_opt_string(u->phone), "role", "key", u->role_key, "name", u->role_name,
                         "establishment", est, "pupils", json_text_parse_or(u->pupils, json_array()), "teams",
                         json_text_parse_or(u->teams, json_array()), "linked_users",
                         json_text_parse_or(u->linked, json_object()), "active", u->active, "custom",
                         json_text_parse_or(u->custom, json_object()), "created_at", u->created_at, "updated_at",
                         u->updated_at, "created_by_import", json_text_opt_string(u->created_by_import),
                         "updated_by_import", json_text_opt_string(u->updated_by_import), "links", "self", self);
}

unsigned users_list(Request *r) {
        UserFilter f;
        char role_key[72];
        unsigned st = parse_filter(r, true, &f, role_key);
        if (st)
                return st;
        int limit;
        if (request_limit(r, 100, 1000, &limit) < 0)
                return 400;
        char after[400];
        const char *cursor = request_query(r, "cursor");
        if (cursor && (cursor_decode(cursor, after, sizeof after) < 0 || !*after)) {
                problem(r, 400, "invalid_cursor", "Invalid cursor", "the cursor is not one this API gave out");
                return 400;
        }
        Db *db = request_db(r);
        if (!db)
                return 503;
        UserView *v = NULL;
        size_t n = 0;
        int k = user_store_list(db, r->auth.account_id, &f, cursor ? after : NULL, limit + 1, &v, &n);
        if (k == -ENOMEM) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        if (k < 0)
                return problem_database_unavailable(r);
        json_t *items = json_array();
        for (size_t i = 0; i < n && i < (size_t) limit; i++)
                json_array_append_new(items, user_json(&v[i]));
        json_t *next = json_null();
        if (n > (size_t) limit) {
                char enc[560];
                cursor_encode(v[limit - 1].sort_key, enc, sizeof enc);
                next = json_string(enc);
        }
        user_store_views_free(v, n);
        request_respond_json(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
        return 200;
}

unsigned users_get(Request *r) {
        const char *id = u_map_get(r->req->map_url, "id");
        char *end = NULL;
        long long n = id && isdigit((unsigned char) *id) ? strtoll(id, &end, 10) : 0;
        Db *db = request_db(r);
        if (!db)
                return 503;
        UserView v;
        int k = n > 0 && end && !*end ? user_store_get(db, r->auth.account_id, n, &v) : -ENOENT;
        if (k == -ENOENT) {
                problem(r, 404, "not_found", "Not found", "no user %.40s in this account", id ? id : "");
                return 404;
        }
        if (k == -ENOMEM) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        if (k < 0)
                return problem_database_unavailable(r);
        request_respond_json(r, 200, user_json(&v));
        user_store_view_done(&v);
        return 200;
}

/* The export, a page at a time (paged_stream.h). */
typedef struct UserExport {
        int64_t account_id;
        UserFilter filter;
        char *strings[4]; /* the filter's own copies */
        char role_key[72];
        char *after; /* the last user's sort key, NULL before the first page */
        int upn_columns;
        char **link_kinds; /* a column each, after Teams */
        size_t n_link_kinds;
} UserExport;

#define CSV_PAGE 1000

static int cell(Buf *b, const char *s, bool first) {
        int k = first ? 0 : buf_append_char(b, ',');
        return k < 0 || !s ? k : csv_writer_cell(b, s, strlen(s), ',');
}

/* A link cell: the emails of the user's links of that kind, joined with
 * "; " as an upload reads them. */
static int link_cell(Buf *b, json_t *linked, const char *kind) {
        json_t *users = json_object_get(linked, kind);
        Buf emails = BUF_INIT;
        int k = 0;
        size_t i;
        json_t *t;
        json_array_foreach(users, i, t) {
                const char *email = json_string_value(json_object_get(t, "email"));
                if (email && k >= 0)
                        k = buf_printf(&emails, "%s%s", emails.len ? "; " : "", email);
        }
        if (k >= 0)
                k = cell(b, buf_str(&emails), false);
        buf_done(&emails);
        return k;
}

static int user_row(Buf *b, const UserView *u, int upn_columns, char *const *kinds, size_t n_kinds) {
        char urn[16] = "";
        if (u->urn)
                snprintf(urn, sizeof urn, "%06d", u->urn);
        int k = cell(b, u->first_name, true);
        const char *rest[] = { u->last_name, u->email, u->job_title, u->phone, u->role_name, urn };
        for (size_t i = 0; k >= 0 && i < ELEMENTSOF(rest); i++)
                k = cell(b, rest[i], false);
        json_t *upns = json_loads(u->pupils ? u->pupils : "[]", 0, NULL);
        for (int i = 0; k >= 0 && i < upn_columns; i++)
                k = cell(b, json_string_value(json_array_get(upns, (size_t) i)), false);
        json_decref(upns);
        if (k >= 0)
                k = cell(b, u->active ? "yes" : "no", false);
        if (k >= 0)
                k = cell(b, u->team_names, false);
        json_t *linked = n_kinds ? json_loads(u->linked ? u->linked : "{}", 0, NULL) : NULL;
        for (size_t i = 0; k >= 0 && i < n_kinds; i++)
                k = link_cell(b, linked, kinds[i]);
        json_decref(linked);
        if (k >= 0)
                k = buf_printf(b, ",%" PRId64 "\r\n", u->id);
        return k;
}

static int export_page(void *state, Db *db, Buf *out, bool *done) {
        UserExport *s = state;
        UserView *v = NULL;
        size_t n = 0;
        int k = user_store_list(db, s->account_id, &s->filter, s->after, CSV_PAGE, &v, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; k >= 0 && i < n; i++)
                k = user_row(out, &v[i], s->upn_columns, s->link_kinds, s->n_link_kinds);
        if (n > 0) {
                free(s->after);
                if (!(s->after = strdup(v[n - 1].sort_key)))
                        k = -ENOMEM;
        }
        *done = n < CSV_PAGE;
        user_store_views_free(v, n);
        return k;
}

static void export_free(void *state) {
        UserExport *s = state;
        if (!s)
                return;
        for (size_t i = 0; i < ELEMENTSOF(s->strings); i++)
                free(s->strings[i]);
        free(s->after);
        user_store_link_kinds_free(s->link_kinds, s->n_link_kinds);
        free(s);
}

/* The filter's strings outlive the request: the stream owns copies. */
static int keep(UserExport *s, size_t i, const char **field) {
        if (!*field)
                return 0;
        if (!(s->strings[i] = strdup(*field)))
                return -ENOMEM;
        *field = s->strings[i];
        return 0;
}

unsigned users_csv(Request *r) {
        UserExport *s = calloc(1, sizeof *s);
        if (!s) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        unsigned st = parse_filter(r, false, &s->filter, s->role_key);
        if (st || (st = audit_download(r, "users.export", "users"))) {
                export_free(s);
                return st;
        }
        Db *db = request_db(r);
        if (!db || user_store_max_pupils(db, r->auth.account_id, &s->upn_columns) < 0 ||
            user_store_link_kinds(db, r->auth.account_id, &s->link_kinds, &s->n_link_kinds) < 0) {
                export_free(s);
                return db ? problem_database_unavailable(r) : 503;
        }
        s->account_id = r->auth.account_id;
        if (s->filter.role)
                s->filter.role = s->role_key;
        int k = keep(s, 0, &s->filter.email);
        if (k >= 0)
                k = keep(s, 1, &s->filter.team);
        if (k >= 0)
                k = keep(s, 2, &s->filter.created_by_import);
        if (k >= 0)
                k = keep(s, 3, &s->filter.updated_by_import);
        /* The template's headings, so that the file uploads as it is, and
         * the user's id last, which also marks the file as roster's own
         * (header_map.h: its formula guards are taken off again). UTF-8
         * with a byte-order mark for spreadsheets. */
        Buf head = BUF_INIT;
        if (k >= 0)
                k = buf_append_str(&head, "\xEF\xBB\xBF" "First Name,Last Name,Email,Job Title,Phone,Role,"
                                          "School Reference Number (URN)");
        for (int i = 0; k >= 0 && i < s->upn_columns; i++)
                k = buf_append_str(&head, ",Pupil Reference Number (UPN)");
        if (k >= 0)
                k = buf_append_str(&head, ",Active,Teams");
        for (size_t i = 0; k >= 0 && i < s->n_link_kinds; i++) {
                char heading[80];
                field_link_heading(s->link_kinds[i], heading, sizeof heading);
                k = buf_printf(&head, ",%s", heading);
        }
        if (k >= 0)
                k = buf_append_str(&head, "," HEADER_MAP_EXPORT_ID "\r\n");
        if (k < 0) {
                buf_done(&head);
                export_free(s);
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        st = paged_stream_respond(r, "text/csv; charset=utf-8", "attachment; filename=\"users.csv\"", head.data,
                                  head.len, export_page, s, export_free, "users export");
        buf_done(&head);
        return st;
}
