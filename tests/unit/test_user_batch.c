/* Unit tests for common/core/user_batch.h: the staging row's COPY text,
 * rows by line, the issues of the look-up, the arrays of lines and emails
 * the statements take, and which rows would change nothing. Rows are
 * added through the row rules, then given what a look-up would find. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header_map.h"
#include "tap.h"
#include "user_batch.h"

static RoleInfo roles[] = {
        { 1, "designated_teacher", "Designated Teacher", true, false },
        { 2, "social_worker", "Social Worker", false, true },
};

static const RuleContext ctx = { .roles = roles, .n_roles = ELEMENTSOF(roles) };

static HeaderMap *header(void) {
        char *cells[] = { "Email", "First Name", "Last Name", "Role" };
        size_t lens[4];
        HeaderMap *m = NULL;
        HeaderProblem problem;
        for (size_t i = 0; i < 4; i++)
                lens[i] = strlen(cells[i]);
        if (header_map_build(cells, lens, 4, NULL, &m, &problem) < 0)
                abort();
        return m;
}

static void add(ImportBatch *b, const HeaderMap *hm, unsigned long line, const char *email, const char *first) {
        char *cells[4] = { (char *) email, (char *) first, "Smith", "Social Worker" };
        size_t lens[4];
        for (size_t i = 0; i < 4; i++)
                lens[i] = strlen(cells[i]);
        CsvRecord rec = { .n_cells = 4, .cells = cells, .lens = lens, .line = line, .index = line - 1 };
        if (import_batch_add(b, &ctx, hm, &rec, line - 1) < 0)
                abort();
}

/* Lines 2, 3, 5: ann, bob, carol. */
static HeaderMap *three(ImportBatch *b) {
        HeaderMap *hm = header();
        add(b, hm, 2, "ann@example.org", "Ann");
        add(b, hm, 3, "bob@example.org", "Bob");
        add(b, hm, 5, "carol@example.org", "Carol");
        return hm;
}

static const char *issue(const UserRow *u, const char *code) {
        for (size_t i = 0; i < u->n_issues; i++)
                if (strcmp(u->issues[i].code, code) == 0)
                        return u->issues[i].message;
        return NULL;
}

static void test_stage_row(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = three(&b);
        Buf out = BUF_INIT;
        UserRow *u = &b.rows[0].user;
        u->first_name = "A\tB\\C\nD";
        is_int(user_batch_stage_row(&out, &b.rows[0]), 0, "stage a row");
        is_str(buf_str(&out),
               "2\tt\tann@example.org\tann@example.org\tA\\tB\\\\C\\nD\tSmith\t\\N\t\\N\t\\N\t2\t\\N\t\\N\t\\N\tf\t"
               "\\N\tf\t\\N\n",
               "tabs, backslashes and newlines are escaped; unset cells are \\N");

        static const char *upns[] = { "A123", "B456" };
        static int64_t teams[] = { 7, 9 };
        static const CustomValue custom[] = { { "colour", "bl\"ue" } };
        u->first_name = "Ann";
        u->urn = 0;
        u->active = 1;
        u->upns = upns;
        u->n_upns = 2;
        u->set_pupils = true;
        u->team_ids = teams;
        u->n_teams = 2;
        u->set_teams = true;
        u->custom = custom;
        u->n_custom = 1;
        b.rows[0].user_id = 42;
        buf_done(&out);
        is_int(user_batch_stage_row(&out, &b.rows[0]), 0, "stage a row with links");
        is_str(buf_str(&out),
               "2\tt\tann@example.org\tann@example.org\tAnn\tSmith\t\\N\t\\N\t0\t2\tt\t{\"colour\":\"bl\\\\\"ue\"}\t"
               "{A123,B456}\tt\t{7,9}\tt\t42\n",
               "custom fields as JSON, UPNs and teams as arrays, the user's id");

        b.rows[0].pupils_ignored = true;
        u->failed = true;
        buf_done(&out);
        is_int(user_batch_stage_row(&out, &b.rows[0]), 0, "stage a failed row");
        is_str(buf_str(&out), "2\tf\tann@example.org\tann@example.org\t\\N\t\\N\t\\N\t\\N\t0\t\\N\tt\t\\N\t\\N\tf\t\\N\tf\t42\n",
               "a failed row carries its email only");
        ok(!user_batch_staged(&b.rows[0]), "a failed row is not staged");
        b.rows[1].unchanged = true;
        ok(!user_batch_staged(&b.rows[1]) && user_batch_staged(&b.rows[2]), "nor one that changes nothing");
        buf_done(&out);
        header_map_free(hm);
        import_batch_done(&b);
}

static void test_lines(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = three(&b);
        size_t hint = 0;
        ok(user_batch_row_at_line(&b, 3, &hint) == &b.rows[1] && hint == 2, "line 3 is the second row");
        ok(user_batch_row_at_line(&b, 5, &hint) == &b.rows[2] && hint == 3, "line 5 after it");
        ok(user_batch_row_at_line(&b, 2, &hint) == &b.rows[0], "an earlier line is found too");
        ok(!user_batch_row_at_line(&b, 4, &hint), "a line of no row is not");

        Buf out = BUF_INIT;
        bool pick[3] = { true, false, true };
        is_int(user_batch_lines_array(&out, &b, pick), 0, "lines array");
        is_str(buf_str(&out), "{2,5}", "the lines picked");
        buf_done(&out);

        b.rows[1].user.failed = true;
        is_int(user_batch_lines_failed(&out, &b), 0, "failed lines");
        is_str(buf_str(&out), "{3}", "the failed line");
        buf_done(&out);

        bool changed[3] = { false, false, false };
        is_int(user_batch_lines_unchanged(&out, &b, changed), 0, "no row has a user yet");
        buf_done(&out);
        b.rows[0].user_id = b.rows[1].user_id = b.rows[2].user_id = 9;
        changed[2] = true;
        is_int(user_batch_lines_unchanged(&out, &b, changed), 1, "rows with a user the write left alone");
        is_str(buf_str(&out), "{2}", "not the failed row, nor the changed one");
        buf_done(&out);
        header_map_free(hm);
        import_batch_done(&b);
}

static void test_email_arrays(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = three(&b);
        HeaderMap *hm2 = header();
        add(&b, hm2, 6, "not-an-email", "Bad");
        Buf lines = BUF_INIT, emails = BUF_INIT, reg = BUF_INIT;
        b.rows[1].user.email_lower = "b\"o\\b@example.org";
        b.rows[1].register_email = false;
        is_int(user_batch_email_arrays(&b, NULL, &lines, &emails, &reg), 1, "arrays of the rows with an email");
        is_str(buf_str(&lines), "{2,3,5}", "their lines");
        is_str(buf_str(&emails), "{\"ann@example.org\",\"b\\\"o\\\\b@example.org\",\"carol@example.org\"}",
               "their emails, quoted");
        is_str(buf_str(&reg), "{t,f,t}", "whether each registers");
        buf_done(&lines);
        buf_done(&emails);
        buf_done(&reg);

        ImportBatch none = IMPORT_BATCH_INIT;
        is_int(user_batch_email_arrays(&none, NULL, &lines, &emails, NULL), 0, "no row: nothing to ask");
        buf_done(&lines);
        buf_done(&emails);
        header_map_free(hm);
        header_map_free(hm2);
        import_batch_done(&b);
}

static void test_issues(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = three(&b);
        b.rows[0].urn_unknown = true;
        b.rows[1].user_id = 11;
        is_int(user_batch_check_issues(&b, IMPORT_MODE_CREATE_ONLY), 0, "check in create_only");
        ok(issue(&b.rows[0].user, "unknown_establishment") && b.rows[0].user.failed, "an unknown URN fails");
        ok(issue(&b.rows[1].user, "already_exists") && b.rows[1].user.failed, "an existing user fails");
        ok(!b.rows[2].user.failed, "a new user does not");
        import_batch_rewind(&b);

        b.rows[1].user_id = 11;
        b.rows[1].matches_user = true;
        is_int(user_batch_check_issues(&b, IMPORT_MODE_UPDATE_ONLY), 0, "check in update_only");
        ok(issue(&b.rows[0].user, "not_found") && issue(&b.rows[2].user, "not_found"), "no user: not_found");
        ok(b.rows[1].unchanged && !b.rows[1].user.failed, "a row that matches its user changes nothing");
        import_batch_rewind(&b);

        is_int(user_batch_set_duplicate(&b, &b.rows[2], 2), 0, "a duplicate of line 2");
        is_str(issue(&b.rows[2].user, "duplicate_in_file"),
               "the same email is on line 2; the first occurrence is imported", "its message names the line");
        is_int(user_batch_set_duplicate(&b, &b.rows[2], 1), 0, "told an earlier first line");
        is_int(b.rows[2].user.n_issues, 1, "the issue is not repeated");
        is_str(issue(&b.rows[2].user, "duplicate_in_file"),
               "the same email is on line 1; the first occurrence is imported", "its message is replaced");
        header_map_free(hm);
        import_batch_done(&b);
}

static void test_matches_user(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = three(&b);
        const BatchRow *row = &b.rows[0];
        const char *same[7] = { "Ann", "Smith", NULL, NULL, "2", NULL, "t" };
        ok(user_batch_matches_user(row, same), "the same names and role");
        const char *other_role[7] = { "Ann", "Smith", NULL, NULL, "1", NULL, "t" };
        ok(!user_batch_matches_user(row, other_role), "another role");
        const char *other_name[7] = { "Anne", "Smith", NULL, NULL, "2", NULL, "t" };
        ok(!user_batch_matches_user(row, other_name), "another first name");
        const char *job[7] = { "Ann", "Smith", "Head", "0123", "2", "100001", "f" };
        ok(user_batch_matches_user(row, job), "values the row leaves alone do not count");
        b.rows[0].user.urn = 0;
        ok(!user_batch_matches_user(row, job), "unlinking an establishment changes the user");
        b.rows[0].user.urn = 100001;
        ok(user_batch_matches_user(row, job), "the same establishment");
        b.rows[0].user.active = 1;
        ok(!user_batch_matches_user(row, job), "activating an inactive user changes it");
        b.rows[0].user.set_teams = true;
        ok(!user_batch_matches_user(row, same), "rows that set teams are left to the write");
        header_map_free(hm);
        import_batch_done(&b);
}

static void test_raced_and_urns(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = three(&b);
        bool created[3] = { true, false, false }, raced[3] = { false, false, false };
        int64_t user_ids[3] = { 5, 6, 0 };
        b.rows[1].user_id = 6;
        is_int(user_batch_raced(&b, created, raced), 2, "two rows were meant to create a user");
        ok(!raced[0] && !raced[1] && raced[2], "the one not created raced");
        size_t next = 0;
        is_int(user_batch_row_of_created(&b, "carol@example.org", &next), 2, "carol's row created her");
        is_int(user_batch_row_of_created(&b, "bob@example.org", &next), 3, "bob's row had a user: none");
        is_int(user_batch_fail_raced(&b, raced, user_ids), 0, "fail the raced rows");
        ok(b.rows[2].user.failed && issue(&b.rows[2].user, "already_exists") && user_ids[2] == 0,
           "already_exists, and no user");

        UrnSet *known = urn_set_new(8);
        urn_set_add(known, 100002);
        b.rows[0].user.urn = 100001;
        b.rows[1].user.urn = 100002;
        b.rows[2].user.urn = 100003;
        int urns[3];
        size_t rows[3];
        size_t n = user_batch_urns_to_ask(&b, known, urns, rows);
        is_int(n, 2, "the URNs not known are asked");
        ok(urns[0] == 100001 && rows[0] == 0 && urns[1] == 100003 && rows[1] == 2, "with their rows");
        bool exists[2] = { true, false };
        user_batch_urns_found(&b, known, urns, rows, exists, n);
        ok(!b.rows[0].urn_unknown && b.rows[2].urn_unknown, "the one not found is unknown");
        ok(urn_set_has(known, 100001) && !urn_set_has(known, 100003), "the one found is known now");
        urn_set_free(known);
        header_map_free(hm);
        import_batch_done(&b);
}

int main(void) {
        test_stage_row();
        test_lines();
        test_email_arrays();
        test_issues();
        test_matches_user();
        test_raced_and_urns();
        return tap_done();
}
