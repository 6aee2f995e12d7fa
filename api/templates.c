#include "templates.h"

#include <stdio.h>
#include <string.h>

#include "establishment_store.h"
#include "csv_writer.h"
#include "import_options.h"
#include "problem.h"

typedef struct Column {
        const char *heading;
        const char *example;
} Column;

static int append_row(Buf *b, const Column *cols, size_t n, bool headings, char delimiter) {
        int r = 0;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *s = headings ? cols[i].heading : cols[i].example;
                if (i)
                        r = buf_append_char(b, delimiter);
                if (r >= 0)
                        r = csv_writer_cell(b, s, strlen(s), delimiter);
        }
        return r < 0 ? r : buf_append_str(b, "\r\n");
}

unsigned templates_users_csv(Request *r) {
        char delimiter = ',';
        const char *d = request_query(r, "delimiter");
        if (import_options_delimiter(d, &delimiter) < 0) {
                problem(r, 400, "invalid_option", "Invalid option", "delimiter must be \",\", \";\" or tab");
                return 400;
        }
        if (!delimiter)
                delimiter = ',';

        Db *db = request_db(r);
        if (!db)
                return 503;
        RoleInfo *roles = NULL;
        TeamInfo *teams = NULL;
        size_t n_roles = 0, n_teams = 0;
        if (account_store_roles_load(db, r->auth.account_id, &roles, &n_roles) < 0 ||
            account_store_teams_load(db, r->auth.account_id, &teams, &n_teams) < 0) {
                account_store_roles_free(roles, n_roles);
                problem_database_unavailable(r);
                return 503;
        }

        unsigned status = 200;
        const char *want = request_query(r, "role");
        const RoleInfo *role = want && *want ? row_rules_find_role(roles, n_roles, want) : NULL;
        if (want && *want && !role) {
                Buf msg = BUF_INIT;
                int k = buf_printf(&msg, "role \"%.100s\" is not a role of this account; known roles:", want);
                for (size_t i = 0; k >= 0 && i < n_roles; i++)
                        k = buf_printf(&msg, "%s %s (%s)", i ? "," : "", roles[i].name, roles[i].key);
                problem_with(r, 400, "invalid_option", "Invalid option", buf_str(&msg),
                             json_pack("{s:[{s:s, s:s}]}", "errors", "name", "role", "message", buf_str(&msg)));
                buf_done(&msg);
                status = 400;
                goto out;
        }

        /* An example URN that is a real establishment, when any are
         * loaded, so that the example row imports as it is. */
        char urn[16] = "";
        if (establishment_store_example_urn(db, urn) < 0 || !urn[0])
                snprintf(urn, sizeof urn, "123456");

        /* The columns the role uses, with the seeds' headings. Without a
         * role, the file names its own in a Role column. */
        Column cols[12];
        size_t n = 0;
        cols[n++] = (Column){ "First Name", "Jane" };
        cols[n++] = (Column){ "Last Name", "Doe" };
        cols[n++] = (Column){ "Email", "jane.doe@example.org" };
        cols[n++] = (Column){ "Job Title", "Teacher" };
        cols[n++] = (Column){ "Phone", "01234 567890" };
        if (!role)
                cols[n++] = (Column){ "Role", n_roles ? roles[0].name : "" };
        if (!role || role->needs_establishment)
                cols[n++] = (Column){ "School Reference Number (URN)", urn };
        if (!role || role->may_have_pupils) {
                cols[n++] = (Column){ "Pupil Reference Number (UPN)", "B801200005001" };
                cols[n++] = (Column){ "Pupil Reference Number (UPN)", "" };
        }
        cols[n++] = (Column){ "Active", "yes" };
        cols[n++] = (Column){ "Teams", n_teams ? teams[0].name : "" };

        Buf csv = BUF_INIT;
        int k = buf_append_str(&csv, "\xEF\xBB\xBF");
        if (k >= 0)
                k = append_row(&csv, cols, n, true, delimiter);
        if (k >= 0)
                k = append_row(&csv, cols, n, false, delimiter);
        if (k < 0) {
                buf_done(&csv);
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                status = 500;
                goto out;
        }
        char disposition[160];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"users-%s.csv\"", role ? role->key : "all");
        u_map_put(r->resp->map_header, "Content-Disposition", disposition);
        ulfius_set_binary_body_response(r->resp, 200, csv.data, csv.len);
        u_map_put(r->resp->map_header, "Content-Type", "text/csv; charset=utf-8");
        buf_done(&csv);
out:
        account_store_roles_free(roles, n_roles);
        account_store_teams_free(teams, n_teams);
        return status;
}
