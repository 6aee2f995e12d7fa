/* Unit tests for common/core/import_batch.h: rows added through the header map
 * and the row rules, in-file duplicates, rewinding database issues,
 * counts. Records are built by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header_map.h"
#include "import_batch.h"
#include "tap.h"

static RoleInfo roles[] = {
        { 1, "designated_teacher", "Designated Teacher", true, false },
        { 2, "social_worker", "Social Worker", false, true },
};

static const RuleContext ctx = {
        .roles = roles,
        .n_roles = ELEMENTSOF(roles),
};

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

/* Adds a row (email, first, last, role) found on `line`. */
static int add(ImportBatch *b, const HeaderMap *hm, unsigned long line, const char *email, const char *first,
               const char *last, const char *role) {
        char *cells[4] = { (char *) email, (char *) first, (char *) last, (char *) role };
        size_t lens[4];
        for (size_t i = 0; i < 4; i++)
                lens[i] = strlen(cells[i]);
        CsvRecord rec = { .n_cells = 4, .cells = cells, .lens = lens, .line = line, .index = line - 1 };
        return import_batch_add(b, &ctx, hm, &rec, line - 1);
}

static bool has_code(const UserRow *u, const char *code, const char **ret_message) {
        for (size_t i = 0; i < u->n_issues; i++)
                if (strcmp(u->issues[i].code, code) == 0) {
                        if (ret_message)
                                *ret_message = u->issues[i].message;
                        return true;
                }
        return false;
}

static void test_duplicates(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = header();
        const char *msg = NULL;

        is_int(add(&b, hm, 2, "ann@example.org", "Ann", "Smith", "Social Worker"), 0, "add line 2");
        is_int(add(&b, hm, 3, "bob@example.org", "Bob", "Jones", "Social Worker"), 0, "add line 3");
        is_int(add(&b, hm, 4, "ANN@example.org", "Ann", "Smith", "Social Worker"), 0, "add line 4 (Ann again)");
        is_int(add(&b, hm, 5, "not-an-email", "Bad", "Row", "Social Worker"), 0, "add line 5 (bad email)");
        is_int(add(&b, hm, 6, "carol@example.org", "Carol", "White", "Designated Teacher"), 0,
               "add line 6 (a warning)");
        is_int(add(&b, hm, 8, "Ann@Example.ORG", "Ann", "Smith", "Social Worker"), 0, "add line 8 (Ann a third time)");
        is_int(add(&b, hm, 9, "bob@example.org ", "Bob", "Jones", "Social Worker"), 0,
               "add line 9 (Bob again, trailing space)");
        is_int(b.n, 7, "seven rows");

        is_str(b.rows[0].cells_json, "[\"ann@example.org\",\"Ann\",\"Smith\",\"Social Worker\"]",
               "the cells are kept as a JSON array");
        ok(b.rows[0].register_email && b.rows[2].register_email, "before marking, every valid email registers");
        ok(!b.rows[3].register_email, "an invalid email never registers");
        is_int(import_batch_failed(&b), 1, "before marking: one failed row (the bad email)");

        is_int(import_batch_mark_duplicates(&b), 0, "mark duplicates");
        ok(b.rows[0].register_email, "line 2 (first Ann) registers the email");
        ok(!b.rows[0].user.failed && b.rows[0].user.n_issues == 0, "line 2 has no issue");
        ok(b.rows[1].register_email && !b.rows[1].user.failed, "line 3 (first Bob) registers, no issue");

        ok(has_code(&b.rows[2].user, "duplicate_in_file", &msg), "line 4 (ANN@...) is a duplicate_in_file");
        ok(msg && strstr(msg, "line 2"), "... the message names line 2: %s", msg ? msg : "");
        ok(b.rows[2].user.failed && !b.rows[2].register_email, "... failed, does not register");
        is_str(b.rows[2].user.n_issues ? b.rows[2].user.issues[0].field : NULL, "email", "... on the email field");

        msg = NULL;
        ok(has_code(&b.rows[5].user, "duplicate_in_file", &msg), "line 8 (third Ann) is a duplicate_in_file");
        ok(msg && strstr(msg, "line 2"), "... the message names the first line, 2, not 4: %s", msg ? msg : "");
        ok(b.rows[5].user.failed && !b.rows[5].register_email, "... failed, does not register");

        msg = NULL;
        ok(has_code(&b.rows[6].user, "duplicate_in_file", &msg), "line 9 (Bob, trailing space) is a duplicate");
        ok(msg && strstr(msg, "line 3"), "... naming line 3: %s", msg ? msg : "");

        ok(!has_code(&b.rows[3].user, "duplicate_in_file", NULL), "the bad email is not a duplicate");
        is_int(b.rows[3].user.n_issues, 1, "the bad email row has its one rule issue");
        ok(b.rows[4].register_email && !b.rows[4].user.failed, "line 6 (Carol) registers and has not failed");

        is_int(import_batch_failed(&b), 4, "failed: bad email + three duplicates");
        is_int(import_batch_warned(&b), 1, "warned: Carol's establishment_missing");

        /* A duplicate_in_file is part of the rule issues: rewinding keeps it. */
        is_int(b.rows[2].n_rule_issues, b.rows[2].user.n_issues, "the duplicate counts as a rule issue");
        import_batch_rewind(&b);
        is_int(import_batch_failed(&b), 4, "rewinding keeps duplicates");

        import_batch_done(&b);
        ok(b.rows == NULL && b.n == 0, "import_batch_done leaves an empty batch");
        header_map_free(hm);
}

static void test_rewind(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = header();

        if (add(&b, hm, 2, "ann@example.org", "Ann", "Smith", "Social Worker") < 0 ||
            add(&b, hm, 3, "carol@example.org", "Carol", "White", "Designated Teacher") < 0 ||
            add(&b, hm, 4, "dan@example.org", "", "Brown", "Social Worker") < 0)
                abort();
        is_int(import_batch_mark_duplicates(&b), 0, "mark duplicates (none)");
        is_int(import_batch_failed(&b), 1, "one failed row (no first name)");
        is_int(import_batch_warned(&b), 1, "one warned row");

        /* What the job runner adds after the database answered. */
        is_int(row_rules_add_issue(&b.rows[0].user, &b.arena, SEVERITY_ERROR, "email", "already_exists",
                                   "a user with this email exists"),
               0, "add a database issue to line 2");
        is_int(row_rules_add_issue(&b.rows[1].user, &b.arena, SEVERITY_ERROR, "urn", "unknown_establishment",
                                   "no establishment with this URN"),
               0, "add a database issue to line 3 (which had a warning)");
        is_int(import_batch_failed(&b), 3, "three failed rows now");
        is_int(import_batch_warned(&b), 0, "a failed row with a warning is not counted as warned");
        /* What a look-up ahead of the write found. */
        b.looked_up = true;
        b.rows[0].user_id = 7;
        b.rows[0].user_linked = b.rows[0].matches_user = b.rows[0].unchanged = true;
        b.rows[1].urn_unknown = true;

        import_batch_rewind(&b);
        ok(!b.looked_up, "rewind forgets the look-up: the retry looks up again");
        ok(b.rows[0].user_id == 0 && !b.rows[0].user_linked && !b.rows[0].matches_user && !b.rows[0].unchanged &&
                   !b.rows[1].urn_unknown,
           "... and what it found");
        is_int(b.rows[0].user.n_issues, 0, "rewind removes line 2's database issue");
        ok(!b.rows[0].user.failed, "... and line 2 is no longer failed");
        is_int(b.rows[1].user.n_issues, 1, "line 3 keeps its rule warning");
        ok(!b.rows[1].user.failed, "... and is no longer failed");
        ok(b.rows[2].user.failed && b.rows[2].user.n_issues == 1, "line 4 keeps its rule error");
        is_int(import_batch_failed(&b), 1, "one failed row again");
        is_int(import_batch_warned(&b), 1, "one warned row again");

        /* Issues can be added again after a rewind. */
        is_int(row_rules_add_issue(&b.rows[0].user, &b.arena, SEVERITY_WARNING, "urn", "note", "x"), 0,
               "add a warning after rewind");
        is_int(import_batch_warned(&b), 2, "two warned rows");

        b.looked_up = true;
        import_batch_reset(&b);
        is_int(b.n, 0, "reset empties the batch");
        ok(!b.looked_up, "... and it is not looked up");
        is_int(import_batch_failed(&b), 0, "an empty batch has no failed rows");
        is_int(add(&b, hm, 10, "eve@example.org", "Eve", "Green", "Social Worker"), 0, "add after reset");
        is_int(b.n, 1, "one row after reset");
        is_str(b.rows[0].user.email, "eve@example.org", "the new row is intact");
        is_int(import_batch_mark_duplicates(&b), 0, "mark duplicates on one row");

        import_batch_done(&b);
        header_map_free(hm);
}

static void test_many(void) {
        ImportBatch b = IMPORT_BATCH_INIT;
        HeaderMap *hm = header();
        char email[64];
        int r = 0;

        /* More rows than the first allocation, every tenth a repeat of
         * the row ten lines earlier. */
        for (unsigned long i = 0; i < 600 && r == 0; i++) {
                unsigned long n = i % 10 == 9 ? i - 9 : i;
                snprintf(email, sizeof email, "user%lu@example.org", n);
                r = add(&b, hm, i + 2, email, "A", "B", "social_worker");
        }
        is_int(r, 0, "600 rows added");
        is_int(b.n, 600, "600 rows in the batch");
        is_int(import_batch_mark_duplicates(&b), 0, "mark duplicates");
        is_int(import_batch_failed(&b), 60, "60 duplicates");
        const char *msg = NULL;
        ok(has_code(&b.rows[599].user, "duplicate_in_file", &msg) && strstr(msg, "line 592"),
           "row 600 repeats line 592: %s", msg ? msg : "");
        size_t registered = 0;
        for (size_t i = 0; i < b.n; i++)
                registered += b.rows[i].register_email;
        is_int(registered, 540, "540 emails registered");
        import_batch_done(&b);
        header_map_free(hm);

        ImportBatch empty = IMPORT_BATCH_INIT;
        is_int(import_batch_mark_duplicates(&empty), 0, "mark duplicates on an empty batch");
        import_batch_rewind(&empty);
        is_int(import_batch_warned(&empty), 0, "an empty batch has no warned rows");
        import_batch_done(&empty);
}

int main(void) {
        test_duplicates();
        test_rewind();
        test_many();
        return tap_done();
}
