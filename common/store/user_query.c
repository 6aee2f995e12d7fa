#include "user_query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The columns view_from() reads, in order. */
#define VIEW_COLUMNS                                                                                            \
        "u.id, u.email, u.first_name, u.last_name, u.job_title, u.phone, r.key, r.name, "                      \
        "coalesce(u.establishment_urn, 0), e.name, u.active, u.custom::text, "                                  \
        "coalesce((SELECT json_agg(p.upn ORDER BY p.upn) FROM user_pupils p WHERE p.user_id = u.id), '[]')::text, " \
        "coalesce((SELECT json_agg(json_build_object('id', t.id, 'name', t.name) ORDER BY lower(t.name), t.id) "   \
        "          FROM user_teams ut JOIN teams t ON t.id = ut.team_id WHERE ut.user_id = u.id), '[]')::text, "     \
        "coalesce((SELECT string_agg(t.name, '; ' ORDER BY lower(t.name), t.id) "                                 \
        "          FROM user_teams ut JOIN teams t ON t.id = ut.team_id WHERE ut.user_id = u.id), ''), "            \
        TS("u.created_at") ", " TS("u.updated_at") ", coalesce(u.created_by_import::text, ''), "               \
        "coalesce(u.updated_by_import::text, ''), lower(u.email), "                                             \
        "coalesce((SELECT json_object_agg(k.kind, k.users ORDER BY k.kind) FROM ("                             \
        "  SELECT l.kind, json_agg(json_build_object('id', t.id, 'email', t.email) ORDER BY lower(t.email)) AS users " \
        "  FROM user_links l JOIN users t ON t.id = l.target_id WHERE l.user_id = u.id GROUP BY l.kind) k), "    \
        "  '{}')::text "
#define VIEW_FROM                                                                                               \
        "FROM users u JOIN roles r ON r.id = u.role_id LEFT JOIN establishments e ON e.urn = u.establishment_urn "

void user_query_view_done(UserView *v) {
        if (!v)
                return;
        free(v->email);
        free(v->first_name);
        free(v->last_name);
        free(v->job_title);
        free(v->phone);
        free(v->role_key);
        free(v->role_name);
        free(v->establishment_name);
        free(v->custom);
        free(v->pupils);
        free(v->teams);
        free(v->team_names);
        free(v->sort_key);
        free(v->linked);
        memset(v, 0, sizeof *v);
}

void user_query_views_free(UserView *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                user_query_view_done(&v[i]);
        free(v);
}

static char *dup_opt(const PGresult *res, int row, int col, bool *oom) {
        if (PQgetisnull(res, row, col))
                return NULL;
        char *s = strdup(PQgetvalue(res, row, col));
        if (!s)
                *oom = true;
        return s;
}

static int view_from(const PGresult *res, int row, UserView *v) {
        bool oom = false;
        int c = 0;
        memset(v, 0, sizeof *v);
        v->id = strtoll(PQgetvalue(res, row, c++), NULL, 10);
        v->email = dup_opt(res, row, c++, &oom);
        v->first_name = dup_opt(res, row, c++, &oom);
        v->last_name = dup_opt(res, row, c++, &oom);
        v->job_title = dup_opt(res, row, c++, &oom);
        v->phone = dup_opt(res, row, c++, &oom);
        v->role_key = dup_opt(res, row, c++, &oom);
        v->role_name = dup_opt(res, row, c++, &oom);
        v->urn = atoi(PQgetvalue(res, row, c++));
        v->establishment_name = dup_opt(res, row, c++, &oom);
        v->active = PQgetvalue(res, row, c++)[0] == 't';
        v->custom = dup_opt(res, row, c++, &oom);
        v->pupils = dup_opt(res, row, c++, &oom);
        v->teams = dup_opt(res, row, c++, &oom);
        v->team_names = dup_opt(res, row, c++, &oom);
        snprintf(v->created_at, sizeof v->created_at, "%s", PQgetvalue(res, row, c++));
        snprintf(v->updated_at, sizeof v->updated_at, "%s", PQgetvalue(res, row, c++));
        snprintf(v->created_by_import, sizeof v->created_by_import, "%s", PQgetvalue(res, row, c++));
        snprintf(v->updated_by_import, sizeof v->updated_by_import, "%s", PQgetvalue(res, row, c++));
        v->sort_key = dup_opt(res, row, c++, &oom);
        v->linked = dup_opt(res, row, c++, &oom);
        if (oom) {
                user_query_view_done(v);
                return -ENOMEM;
        }
        return 0;
}

int user_query_list(Db *db, int64_t account_id, const UserFilter *f, const char *after_email, int limit,
                    UserView **ret, size_t *ret_n) {
        char account[24], urn[16], lim[16];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        snprintf(urn, sizeof urn, "%d", f->urn);
        snprintf(lim, sizeof lim, "%d", limit);
        const char *active = f->active < 0 ? NULL : f->active ? "t" : "f";
        const char *p[] = { account, after_email, f->email, f->role, f->urn > 0 ? urn : NULL, f->team, active,
                            f->created_by_import, f->updated_by_import, lim };
        /* In the order of the account's email index, which the page reads
         * from the cursor on. */
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT " VIEW_COLUMNS VIEW_FROM
                "WHERE u.account_id = $1::bigint AND ($2::text IS NULL OR lower(u.email) > $2) "
                "  AND ($3::text IS NULL OR lower(u.email) = lower($3)) "
                "  AND ($4::text IS NULL OR r.key = $4) "
                "  AND ($5::int IS NULL OR u.establishment_urn = $5::int) "
                "  AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM user_teams ut JOIN teams t ON t.id = ut.team_id "
                "        WHERE ut.user_id = u.id AND lower(t.name) = lower($6))) "
                "  AND ($7::boolean IS NULL OR u.active = $7::boolean) "
                "  AND ($8::uuid IS NULL OR u.created_by_import = $8::uuid) "
                "  AND ($9::uuid IS NULL OR u.updated_by_import = $9::uuid) "
                "ORDER BY lower(u.email) LIMIT $10",
                10, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        UserView *v = calloc(n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (view_from(res, (int) i, &v[i]) < 0) {
                        user_query_views_free(v, i);
                        return -ENOMEM;
                }
        *ret = v;
        *ret_n = n;
        return 0;
}

int user_query_get(Db *db, int64_t account_id, int64_t id, UserView *ret) {
        char account[24], id_s[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        snprintf(id_s, sizeof id_s, "%" PRId64, id);
        const char *p[] = { account, id_s };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db, "SELECT " VIEW_COLUMNS VIEW_FROM "WHERE u.account_id = $1::bigint AND u.id = $2::bigint",
                        2, p);
        if (!res)
                return db_error(db);
        if (PQntuples(res) == 0)
                return -ENOENT;
        return view_from(res, 0, ret);
}

int user_query_max_pupils(Db *db, int64_t account_id, int *ret) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account };
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM user_pupils p "
                "  JOIN users u ON u.id = p.user_id WHERE u.account_id = $1::bigint GROUP BY p.user_id) x",
                1, p);
        if (!res)
                return db_error(db);
        *ret = atoi(PQgetvalue(res, 0, 0));
        return 0;
}

int user_query_link_kinds(Db *db, int64_t account_id, char ***ret, size_t *ret_n) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account };
        _cleanup_(PQclearp) PGresult *res = db_exec(db,
                                                    "SELECT DISTINCT l.kind FROM user_links l "
                                                    "JOIN users u ON u.id = l.user_id WHERE u.account_id = $1::bigint "
                                                    "ORDER BY 1",
                                                    1, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        char **kinds = calloc(n + 1, sizeof *kinds);
        if (!kinds)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(kinds[i] = strdup(PQgetvalue(res, (int) i, 0)))) {
                        user_query_link_kinds_free(kinds, i);
                        return -ENOMEM;
                }
        *ret = kinds;
        *ret_n = n;
        return 0;
}

void user_query_link_kinds_free(char **kinds, size_t n) {
        for (size_t i = 0; kinds && i < n; i++)
                free(kinds[i]);
        free(kinds);
}
