/* GET /v1/roles and /v1/teams. Both lists are small (an account has a few
 * roles and at most some thousands of teams), so they come whole, sorted
 * by name, unpaged. */
#include "directory.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "account_store.h"
#include "problem.h"

static int by_role_name(const void *a, const void *b) {
        return strcasecmp(((const RoleInfo *) a)->name, ((const RoleInfo *) b)->name);
}

static int by_team_name(const void *a, const void *b) {
        return strcasecmp(((const TeamInfo *) a)->name, ((const TeamInfo *) b)->name);
}

unsigned directory_roles(Request *r) {
        Db *db = request_db(r);
        if (!db)
                return 503;
        RoleInfo *roles = NULL;
        size_t n = 0;
        if (account_store_roles_load(db, r->auth.account_id, &roles, &n) < 0)
                return problem_database_unavailable(r);
        qsort(roles, n, sizeof *roles, by_role_name);
        json_t *items = json_array();
        for (size_t i = 0; items && i < n; i++)
                if (json_array_append_new(items, json_pack("{s:s, s:s, s:b, s:b}", "key", roles[i].key, "name",
                                                           roles[i].name, "needs_establishment",
                                                           roles[i].needs_establishment, "pupils",
                                                           roles[i].may_have_pupils)) < 0) {
                        json_decref(items);
                        items = NULL;
                }
        account_store_roles_free(roles, n);
        request_respond_json(r, 200, items ? json_pack("{s:o}", "items", items) : NULL);
        return items ? 200 : 500;
}

unsigned directory_teams(Request *r) {
        Db *db = request_db(r);
        if (!db)
                return 503;
        TeamInfo *teams = NULL;
        size_t n = 0;
        if (account_store_teams_load(db, r->auth.account_id, &teams, &n) < 0)
                return problem_database_unavailable(r);
        qsort(teams, n, sizeof *teams, by_team_name);
        json_t *items = json_array();
        for (size_t i = 0; items && i < n; i++)
                if (json_array_append_new(items, json_pack("{s:I, s:s}", "id", (json_int_t) teams[i].id, "name",
                                                           teams[i].name)) < 0) {
                        json_decref(items);
                        items = NULL;
                }
        account_store_teams_free(teams, n);
        request_respond_json(r, 200, items ? json_pack("{s:o}", "items", items) : NULL);
        return items ? 200 : 500;
}
