/* Unit tests for common/core/row_rules.h: one test per rule code (SPEC section
 * 5), checking the code and the field of each issue, the warnings, and
 * rows with several problems. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "row_rules.h"
#include "tap.h"

static RoleInfo roles[] = {
        { 1, "designated_teacher", "Designated Teacher", true, false },
        { 2, "social_worker", "Social Worker", false, true },
        { 3, "la_user", "LA User", false, true },
        { 4, "la_super_user", "LA Super User", false, true },
};

static TeamInfo teams[] = {
        { 10, "bulk users" },
        { 11, "Bulk extra" },
        { 12, "Night shift" },
};

static const RuleContext ctx = {
        .roles = roles,
        .n_roles = ELEMENTSOF(roles),
        .teams = teams,
        .n_teams = ELEMENTSOF(teams),
        .default_role = NULL,
};

static Arena arena = ARENA_INIT;

/* A row that passes every rule: the tests change one cell at a time. */
static ImportRow base_row(void) {
        ImportRow in = { .line = 2, .row = 1 };
        in.value[FIELD_EMAIL] = "ann.smith@example.org";
        in.value[FIELD_FIRST_NAME] = "Ann";
        in.value[FIELD_LAST_NAME] = "Smith";
        in.value[FIELD_ROLE] = "Social Worker";
        return in;
}

static UserRow check_ctx(const RuleContext *c, const ImportRow *in) {
        UserRow out;
        if (row_rules_check(c, in, &arena, &out) < 0)
                abort();
        return out;
}

static UserRow check(const ImportRow *in) {
        return check_ctx(&ctx, in);
}

/* The issues of a row as "field:code" (warnings "field:code(w)"), joined
 * by spaces: one string to compare, that shows everything on failure.
 * Valid until the next call. */
static Buf issues_buf = BUF_INIT;

static const char *issues(const UserRow *u) {
        buf_clear(&issues_buf);
        for (size_t i = 0; i < u->n_issues; i++)
                if (buf_printf(&issues_buf, "%s%s:%s%s", i ? " " : "", u->issues[i].field, u->issues[i].code,
                               u->issues[i].severity == SEVERITY_WARNING ? "(w)" : "") < 0)
                        abort();
        return buf_str(&issues_buf);
}

/* Checks the row with one value changed and compares its issues. */
static UserRow check_with(Field f, const char *value) {
        ImportRow in = base_row();
        in.value[f] = value;
        return check(&in);
}

/* The message of the row's first issue with this code; "" when none. */
static const char *message_of(const UserRow *u, const char *code) {
        for (size_t i = 0; i < u->n_issues; i++)
                if (strcmp(u->issues[i].code, code) == 0 && u->issues[i].message)
                        return u->issues[i].message;
        return "";
}

static void test_valid_row(void) {
        ImportRow in = base_row();
        UserRow u = check(&in);

        is_str(issues(&u), "", "the base row passes");
        ok(!u.failed, "... and has not failed");
        is_str(u.email, "ann.smith@example.org", "email");
        is_str(u.email_lower, "ann.smith@example.org", "email_lower");
        is_str(u.first_name, "Ann", "first_name");
        is_str(u.last_name, "Smith", "last_name");
        ok(u.role == &roles[1], "role Social Worker");
        is_int(u.urn, URN_KEEP, "no URN column: URN_KEEP");
        is_int(u.active, -1, "no active column: -1 (leave alone)");
        ok(u.phone == NULL && u.job_title == NULL, "no phone, no job title: NULL (leave alone)");
        ok(!u.set_teams && !u.set_pupils, "no teams, no pupils to set");
        is_int(u.line, 2, "line copied");
        is_int(u.row, 1, "row copied");
}

static void test_required(void) {
        UserRow u;

        u = check_with(FIELD_EMAIL, "");
        is_str(issues(&u), "email:required", "blank email: required");
        ok(u.failed, "... failed");
        ok(u.email == NULL && u.email_lower == NULL, "... no email set");
        u = check_with(FIELD_EMAIL, NULL);
        is_str(issues(&u), "email:required", "no email column: required");
        u = check_with(FIELD_FIRST_NAME, "");
        is_str(issues(&u), "first_name:required", "blank first name: required");
        ok(u.first_name == NULL, "... first_name not set");
        u = check_with(FIELD_LAST_NAME, "");
        is_str(issues(&u), "last_name:required", "blank last name: required");
        u = check_with(FIELD_LAST_NAME, NULL);
        is_str(issues(&u), "last_name:required", "no last name column: required");

        u = check_with(FIELD_ROLE, "");
        is_str(issues(&u), "role:required", "blank role and no default role: required");
        ok(strstr(message_of(&u, "required"), "role option") != NULL, "... the message mentions the role option");
        u = check_with(FIELD_ROLE, NULL);
        is_str(issues(&u), "role:required", "no role column and no default role: required");

        RuleContext with_default = ctx;
        with_default.default_role = &roles[2];
        ImportRow in = base_row();
        in.value[FIELD_ROLE] = NULL;
        u = check_ctx(&with_default, &in);
        is_str(issues(&u), "", "no role column, default role given: fine");
        ok(u.role == &roles[2], "... the default role is used");
        in.value[FIELD_ROLE] = "";
        u = check_ctx(&with_default, &in);
        ok(u.role == &roles[2] && u.n_issues == 0, "blank role cell: the default role is used");
        in.value[FIELD_ROLE] = "designated teacher";
        in.value[FIELD_URN] = "983561";
        u = check_ctx(&with_default, &in);
        ok(u.role == &roles[0], "a Role cell wins over the default role");

        ImportRow empty = { .line = 5, .row = 4 };
        u = check(&empty);
        is_str(issues(&u), "email:required first_name:required last_name:required role:required",
               "a row with nothing: every required field");
}

static void test_email(void) {
        static const struct {
                const char *email, *what;
        } bad[] = {
                { "ann.example.org", "no @" },
                { "ann@smith@example.org", "two @" },
                { "ann@@example.org", "two @ together" },
                { "ann@example", "no TLD" },
                { "ann@example.", "empty TLD" },
                { "ann@example.c", "one-letter TLD" },
                { "ann@example.123", "numeric TLD" },
                { ".ann@example.org", "leading dot in the local part" },
                { "ann.@example.org", "trailing dot in the local part" },
                { "an..n@example.org", "double dot in the local part" },
                { "@example.org", "empty local part" },
                { "ann@.example.org", "empty domain label" },
                { "ann@example..org", "double dot in the domain" },
                { "ann@-example.org", "label starting with a hyphen" },
                { "ann@exa_mple.org", "underscore in the domain" },
                { "ann smith@example.org", "space in the local part" },
                { "ann@exam ple.org", "space in the domain" },
                { "\"ann\"@example.org", "quoted local part" },
                { "a@b.c", "too short" },
        };
        UserRow u;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ok(!row_rules_email_is_valid(bad[i].email, strlen(bad[i].email)), "row_rules_email_is_valid rejects %s: %s",
                   bad[i].what, bad[i].email);
                u = check_with(FIELD_EMAIL, bad[i].email);
                is_str(issues(&u), "email:invalid_email", "row with %s: invalid_email on email", bad[i].what);
        }
        ok(u.failed && u.email == NULL && u.email_lower == NULL, "an invalid email fails and is not set");

        /* Lengths: 64 in the local part, 254 in all (RFC 5321). */
        char local64[80], local65[80], addr[300];
        memset(local64, 'a', 64);
        local64[64] = '\0';
        memset(local65, 'a', 65);
        local65[65] = '\0';
        snprintf(addr, sizeof addr, "%s@example.org", local64);
        ok(row_rules_email_is_valid(addr, strlen(addr)), "a local part of 64 characters is valid");
        snprintf(addr, sizeof addr, "%s@example.org", local65);
        ok(!row_rules_email_is_valid(addr, strlen(addr)), "a local part of 65 characters is not");
        u = check_with(FIELD_EMAIL, addr);
        is_str(issues(&u), "email:invalid_email", "row with a 65-character local part: invalid_email");

        /* 64 + 1 + 189 = 254 characters; one more label letter makes 255. */
        char label60[61];
        memset(label60, 'b', 60);
        label60[60] = '\0';
        snprintf(addr, sizeof addr, "%s@%s.%s.%s.bb.org", local64, label60, label60, label60);
        is_int(strlen(addr), 254, "test address of 254 characters");
        ok(row_rules_email_is_valid(addr, strlen(addr)), "an address of 254 characters is valid");
        u = check_with(FIELD_EMAIL, addr);
        is_str(issues(&u), "", "row with a 254-character address passes");
        snprintf(addr, sizeof addr, "%s@%s.%s.%s.bbb.org", local64, label60, label60, label60);
        is_int(strlen(addr), 255, "test address of 255 characters");
        ok(!row_rules_email_is_valid(addr, strlen(addr)), "an address of 255 characters is not valid");
        u = check_with(FIELD_EMAIL, addr);
        /* Over the RFC 5321 length is invalid_email, not too_long. */
        is_str(issues(&u), "email:invalid_email", "row with a 255-character address: invalid_email");

        static const char *const good[] = {
                "ann+tag@example.org",
                "ann.smith+lists@mail.sub.example.co.uk",
                "j.bloggs@school.sch.uk",
                "o'brien@example.ie",
                "user_name-1@xn--bcher-kva.example",
                "ann@example.xn--p1ai",
                "ann@123.example.com",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ok(row_rules_email_is_valid(good[i], strlen(good[i])), "row_rules_email_is_valid accepts %s", good[i]);
                u = check_with(FIELD_EMAIL, good[i]);
                is_str(issues(&u), "", "row with %s passes", good[i]);
        }

        u = check_with(FIELD_EMAIL, "CHLOE.JONES@Council.GOV.uk");
        is_str(issues(&u), "", "mixed case is accepted");
        is_str(u.email, "CHLOE.JONES@Council.GOV.uk", "email is kept as given");
        is_str(u.email_lower, "chloe.jones@council.gov.uk", "email_lower is lower-cased");

        u = check_with(FIELD_EMAIL, "ann\x01@example.org");
        is_str(issues(&u), "email:invalid_text", "a control character in the email: invalid_text");
}

static void test_duplicate_not_a_rule(void) {
        ImportRow in = base_row();
        UserRow first = check(&in);
        UserRow second = check(&in);

        ok(first.n_issues == 0 && second.n_issues == 0,
           "the same email checked twice: no duplicate_in_file from the row rules (import_batch finds those)");
}

static void test_phone(void) {
        static const struct {
                const char *phone, *what;
        } bad[] = {
                { "0770090012345678", "the seeds' 'too many digits' example (16 digits)" },
                { "0770 CALL ME", "letters" },
                { "07700900123x", "a trailing letter" },
                { "123456", "6 digits" },
                { "12-34-56", "6 digits with separators" },
                { "44+7700900123", "a + after digits" },
                { "+44 7700 900789 ext 2", "an extension" },
                { "0770/090012", "a slash" },
        };
        UserRow u;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                u = check_with(FIELD_PHONE, bad[i].phone);
                is_str(issues(&u), "phone:invalid_phone", "phone with %s: invalid_phone", bad[i].what);
                ok(u.phone == NULL, "... phone not set");
        }
        ok(!row_rules_phone_is_valid("0770090012345678", 16), "row_rules_phone_is_valid: 16 digits");

        static const struct {
                const char *phone, *what;
        } good[] = {
                { "07700 900 456", "a UK mobile with spaces" },
                { "+44 7700 900789", "an international number" },
                { "(0123) 456-7890", "parentheses and a hyphen" },
                { "01234567890", "digits only" },
                { "1234567", "7 digits" },
                { "123456789012345", "15 digits" },
                { "0123.456.7890", "dots" },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                u = check_with(FIELD_PHONE, good[i].phone);
                is_str(issues(&u), "", "phone with %s passes", good[i].what);
                is_str(u.phone, good[i].phone, "... kept as given (leading zeros included)");
        }
        u = check_with(FIELD_PHONE, "");
        ok(u.n_issues == 0 && u.phone == NULL, "a blank phone is fine and leaves the stored one alone");
}

static void test_urn(void) {
        int32_t v = 12;

        is_int(row_rules_urn_parse("", &v), 0, "row_rules_urn_parse(\"\")");
        is_int(v, URN_KEEP, "\"\" -> URN_KEEP");
        is_int(row_rules_urn_parse("0", &v), 0, "row_rules_urn_parse(\"0\")");
        is_int(v, 0, "\"0\" -> 0");
        is_int(row_rules_urn_parse("983561", &v), 0, "row_rules_urn_parse(\"983561\")");
        is_int(v, 983561, "\"983561\" -> 983561");
        is_int(row_rules_urn_parse("100000", &v), 0, "row_rules_urn_parse(\"100000\")");
        is_int(v, 100000, "\"100000\" -> 100000");
        v = 7;
        is_int(row_rules_urn_parse("12345", &v), -EINVAL, "row_rules_urn_parse(\"12345\"): -EINVAL");
        is_int(v, 7, "... result left alone");

        static const char *const bad[] = { "12345", "1234567", "12a456", "-12345", "+12345", "00", "98356 1",
                                           "９８３５６１" };
        UserRow u;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                u = check_with(FIELD_URN, bad[i]);
                is_str(issues(&u), "urn:invalid_urn", "URN \"%s\": invalid_urn", bad[i]);
        }
        u = check_with(FIELD_URN, "983561");
        ok(u.n_issues == 0 && u.urn == 983561, "URN 983561 is linked");
        u = check_with(FIELD_URN, "0");
        ok(u.n_issues == 0 && u.urn == 0, "URN 0: not linked yet");
        u = check_with(FIELD_URN, "");
        ok(u.n_issues == 0 && u.urn == URN_KEEP, "URN blank: leave alone");
}

static void test_upn(void) {
        char expected = 0;

        is_int(row_rules_upn_check("B801200005001", &expected), 0, "B801200005001 is valid");
        is_int(row_rules_upn_check("A801200005001", &expected), -EBADMSG, "A801200005001 has the wrong check letter");
        is_int(expected, 'B', "... the right one is B");
        is_int(row_rules_upn_check("4779663459624", NULL), 0, "4779663459624 (not the DfE form) is valid");
        is_int(row_rules_upn_check("6923138797316", NULL), 0, "6923138797316 is valid");
        is_int(row_rules_upn_check("E12345678901X", NULL), 0, "E12345678901X (temporary UPN, final letter) is valid");
        is_int(row_rules_upn_check("F12345678901X", &expected), -EBADMSG, "F12345678901X has the wrong check letter");
        is_int(expected, 'E', "... the right one is E");
        is_int(row_rules_upn_check("B80120000500", NULL), -EINVAL, "12 characters: -EINVAL");
        is_int(row_rules_upn_check("B8012000050011", NULL), -EINVAL, "14 characters: -EINVAL");
        is_int(row_rules_upn_check("B80120000500-", NULL), -EINVAL, "a hyphen: -EINVAL");
        is_int(row_rules_upn_check("b801200005001", NULL), -EINVAL, "row_rules_upn_check wants upper case");

        ImportRow in = base_row();
        const char *upns[] = { "b801200005001", "E12345678901X", "B801200005001" };
        in.upns = upns;
        in.n_upns = 3;
        in.value[FIELD_UPN] = "";
        UserRow u = check(&in);
        is_str(issues(&u), "", "lower-case UPNs are accepted");
        is_int(u.n_upns, 2, "the same UPN twice is kept once");
        ok(u.n_upns == 2 && strcmp(u.upns[0], "B801200005001") == 0 && strcmp(u.upns[1], "E12345678901X") == 0,
           "UPNs upper-cased, in order");
        ok(u.set_pupils, "a role with pupils and no URN: set_pupils");

        const char *bad_check[] = { "A801200005001" };
        in.upns = bad_check;
        in.n_upns = 1;
        u = check(&in);
        is_str(issues(&u), "upn:invalid_upn", "wrong check letter: invalid_upn on upn");
        ok(strstr(message_of(&u, "invalid_upn"), "should be B") != NULL, "the message gives the expected letter: %s",
           message_of(&u, "invalid_upn"));
        ok(u.n_upns == 0 && !u.set_pupils, "no pupils set from a row with a bad UPN");

        const char *bad_len[] = { "B801200005001", "B80120000500" };
        in.upns = bad_len;
        in.n_upns = 2;
        u = check(&in);
        is_str(issues(&u), "upn:invalid_upn", "12 characters: invalid_upn");
        ok(strstr(message_of(&u, "invalid_upn"), "UPN 2") != NULL, "the message says which UPN of the row");
}

static void test_role(void) {
        static const char *const same[] = { "Designated Teacher", "designated_teacher", "DESIGNATED TEACHER",
                                            "designated teacher", "Designated_Teacher" };
        UserRow u;

        for (size_t i = 0; i < ELEMENTSOF(same); i++) {
                ImportRow in = base_row();
                in.value[FIELD_ROLE] = same[i];
                in.value[FIELD_URN] = "983561";
                u = check(&in);
                ok(u.role == &roles[0] && u.n_issues == 0, "\"%s\" is designated_teacher", same[i]);
        }
        ok(row_rules_find_role(roles, ELEMENTSOF(roles), "la super user") == &roles[3],
           "row_rules_find_role by display name");
        ok(row_rules_find_role(roles, ELEMENTSOF(roles), "LA_USER") == &roles[2], "row_rules_find_role by key");
        ok(row_rules_find_role(roles, ELEMENTSOF(roles), "Manager") == NULL, "row_rules_find_role: unknown -> NULL");

        u = check_with(FIELD_ROLE, "Head Wizard");
        is_str(issues(&u), "role:unknown_role", "an unknown role: unknown_role on role");
        const char *msg = message_of(&u, "unknown_role");
        ok(strstr(msg, "Designated Teacher") && strstr(msg, "designated_teacher") && strstr(msg, "Social Worker") &&
                   strstr(msg, "LA Super User"),
           "the message lists the known roles: %s", msg);
        ok(u.role == NULL, "... no role set");
        ok(!strstr(msg, "Head Wizard"), "the message does not repeat the cell: %s", msg);

        /* Roles as the other seeds have them. */
        u = check_with(FIELD_ROLE, "Account Owner");
        is_str(issues(&u), "role:unknown_role", "\"Account Owner\" is not a role of this account");
}

static void test_active(void) {
        static const struct {
                const char *s;
                int v;
        } good[] = {
                { "1", 1 },      { "0", 0 },     { "true", 1 },  { "false", 0 },    { "yes", 1 },
                { "no", 0 },     { "active", 1 }, { "archived", 0 }, { "TRUE", 1 }, { "False", 0 },
                { "YES", 1 },    { "No", 0 },    { "Active", 1 }, { "ARCHIVED", 0 },
        };
        UserRow u;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                u = check_with(FIELD_ACTIVE, good[i].s);
                ok(u.n_issues == 0 && u.active == good[i].v, "active \"%s\" -> %d", good[i].s, good[i].v);
        }
        static const char *const bad[] = { "maybe", "2", "tru", "on", "-1", "y", "n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                u = check_with(FIELD_ACTIVE, bad[i]);
                is_str(issues(&u), "active:invalid_active", "active \"%s\": invalid_active", bad[i]);
        }
        ok(u.active == -1, "an invalid active value leaves active alone");
        u = check_with(FIELD_ACTIVE, "");
        ok(u.n_issues == 0 && u.active == -1, "blank active: leave alone");

        int8_t v = 5;
        is_int(row_rules_active_parse("maybe", &v), -EINVAL, "row_rules_active_parse(\"maybe\"): -EINVAL");
        is_int(v, 5, "... result left alone");
}

static void test_teams(void) {
        UserRow u;

        u = check_with(FIELD_TEAMS, "bulk users;Bulk extra");
        is_str(issues(&u), "", "two known teams separated by ;");
        ok(u.set_teams && u.n_teams == 2 && u.team_ids[0] == 10 && u.team_ids[1] == 11, "team ids 10, 11");

        u = check_with(FIELD_TEAMS, " BULK USERS | night shift ");
        is_str(issues(&u), "", "teams separated by |, any case, spaces around");
        ok(u.set_teams && u.n_teams == 2 && u.team_ids[0] == 10 && u.team_ids[1] == 12, "team ids 10, 12");

        u = check_with(FIELD_TEAMS, "Night shift;night SHIFT;;");
        ok(u.n_issues == 0 && u.n_teams == 1 && u.team_ids[0] == 12,
           "a team named twice counts once; empty parts skipped");

        u = check_with(FIELD_TEAMS, "bulk users;Ghost Team|Phantom");
        is_str(issues(&u), "teams:unknown_team", "unknown teams: unknown_team on teams");
        const char *msg = message_of(&u, "unknown_team");
        ok(msg && strstr(msg, "positions 2, 3"), "the unknown teams are named by position: %s", msg ? msg : "");
        ok(msg && !strstr(msg, "Ghost") && !strstr(msg, "Phantom") && !strstr(msg, "bulk users"),
           "the message does not repeat the cell");

        u = check_with(FIELD_TEAMS, ";Ghost");
        msg = message_of(&u, "unknown_team");
        ok(msg && strstr(msg, "team at position 1 ") && !strstr(msg, "Ghost"),
           "one unknown team, empty parts not counted: %s", msg ? msg : "");
        ok(!u.set_teams, "teams are not set when one is unknown");

        u = check_with(FIELD_TEAMS, "bulk");
        is_str(issues(&u), "teams:unknown_team", "a prefix of a team name is not the team");
}

static void test_too_long(void) {
        char name[512];
        UserRow u;

        memset(name, 'a', 101);
        name[101] = '\0';
        u = check_with(FIELD_FIRST_NAME, name);
        is_str(issues(&u), "first_name:too_long", "a first name of 101 characters: too_long");
        u = check_with(FIELD_LAST_NAME, name);
        is_str(issues(&u), "last_name:too_long", "a last name of 101 characters: too_long");
        name[100] = '\0';
        u = check_with(FIELD_FIRST_NAME, name);
        is_str(issues(&u), "", "100 characters are fine");

        /* 100 "é": 200 bytes, 100 characters. */
        for (int i = 0; i < 100; i++)
                memcpy(name + 2 * i, "\xC3\xA9", 2);
        name[200] = '\0';
        u = check_with(FIELD_FIRST_NAME, name);
        is_str(issues(&u), "", "100 \"\xC3\xA9\" (200 bytes) are fine: length counts characters");
        memcpy(name + 200, "\xC3\xA9", 3);
        u = check_with(FIELD_FIRST_NAME, name);
        is_str(issues(&u), "first_name:too_long", "101 \"\xC3\xA9\": too_long");

        memset(name, 'j', 151);
        name[151] = '\0';
        u = check_with(FIELD_JOB_TITLE, name);
        is_str(issues(&u), "job_title:too_long", "a job title of 151 characters: too_long");
        name[150] = '\0';
        u = check_with(FIELD_JOB_TITLE, name);
        ok(u.n_issues == 0 && u.job_title && strlen(u.job_title) == 150, "150 characters of job title are fine");
}

static void test_invalid_text(void) {
        static const struct {
                const char *s, *what;
        } bad[] = {
                { "An\x01n", "a control character" },
                { "Ann\nMarie", "a LF inside a name" },
                { "Ann\rMarie", "a CR inside a name" },
                { "Ann\tMarie", "a tab inside a name" },
                { "Ann\x7F", "DEL" },
                { "Zo\xEF\xBF\xBD", "U+FFFD (an undecodable byte)" },
                { "Ann\xC2\x85", "the C1 control U+0085" },
                { "Ann\xC2\x9F", "the C1 control U+009F" },
        };
        UserRow u;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                u = check_with(FIELD_FIRST_NAME, bad[i].s);
                is_str(issues(&u), "first_name:invalid_text", "first name with %s: invalid_text", bad[i].what);
        }
        ok(u.first_name == NULL, "an invalid first name is not set");
        u = check_with(FIELD_JOB_TITLE, "Head\nof Year");
        is_str(issues(&u), "job_title:invalid_text", "a line break in a job title: invalid_text on job_title");

        static const char *const good[] = { "Zo\xC3\xAB", "Se\xC3\xA1n", "\xC3\x98rjan", ("Mary\xC2\xA0" "Ann"),
                                            "O'Brien", "\xF0\x9F\x98\x80" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                u = check_with(FIELD_FIRST_NAME, good[i]);
                is_str(issues(&u), "", "first name \"%s\" is fine", good[i]);
        }

        ok(row_rules_has_control("\xC2\x80", 2), "row_rules_has_control: U+0080");
        ok(!row_rules_has_control("\xC2\xA0", 2), "row_rules_has_control: U+00A0 is not a control");
        ok(!row_rules_has_control("\xC2", 1), "row_rules_has_control: a lone C2 at the end is not a C1 control");
}

static void test_extra_cells(void) {
        ImportRow in = base_row();
        in.n_extra = 2;
        UserRow u = check(&in);

        is_str(issues(&u), "row:extra_cells", "cells past the last heading: extra_cells on row");
        ok(u.failed, "... the row fails");
        ok(strstr(message_of(&u, "extra_cells"), "2 more filled cells") != NULL, "the message counts them");
}

static void test_warnings(void) {
        ImportRow in = base_row();
        UserRow u;

        in.value[FIELD_ROLE] = "Designated Teacher";
        in.value[FIELD_URN] = "";
        u = check(&in);
        is_str(issues(&u), "urn:establishment_missing(w)", "designated teacher, URN blank: establishment_missing");
        ok(!u.failed, "... a warning only: the row has not failed");
        is_int(u.n_issues ? (int) u.issues[0].severity : -1, SEVERITY_WARNING, "... severity warning");

        in.value[FIELD_URN] = "0";
        u = check(&in);
        is_str(issues(&u), "urn:establishment_missing(w)", "designated teacher, URN 0: establishment_missing");
        is_int(u.urn, 0, "... URN 0 kept");

        in.value[FIELD_URN] = NULL;
        u = check(&in);
        is_str(issues(&u), "urn:establishment_missing(w)", "designated teacher, no URN column: establishment_missing");

        in.value[FIELD_URN] = "12345";
        u = check(&in);
        is_str(issues(&u), "urn:invalid_urn", "designated teacher, invalid URN: only invalid_urn, no warning");

        in.value[FIELD_URN] = "983561";
        u = check(&in);
        is_str(issues(&u), "", "designated teacher with a URN: nothing");

        in.value[FIELD_ROLE] = "Social Worker";
        in.value[FIELD_URN] = "";
        u = check(&in);
        is_str(issues(&u), "", "a role without an establishment need, URN blank: nothing");

        /* upns_ignored */
        const char *upns[] = { "B801200005001" };
        in = base_row();
        in.value[FIELD_UPN] = "";
        in.upns = upns;
        in.n_upns = 1;

        in.value[FIELD_ROLE] = "Designated Teacher";
        in.value[FIELD_URN] = "983561";
        u = check(&in);
        is_str(issues(&u), "upn:upns_ignored(w)", "a role without pupils given UPNs: upns_ignored");
        ok(!u.failed && !u.set_pupils, "... not failed, pupils not set");

        in.value[FIELD_ROLE] = "Social Worker";
        in.value[FIELD_URN] = "983561";
        u = check(&in);
        is_str(issues(&u), "upn:upns_ignored(w)", "a URN > 0 with UPNs: upns_ignored (the establishment wins)");
        ok(!u.failed && !u.set_pupils, "... not failed, pupils not set");
        ok(strstr(message_of(&u, "upns_ignored"), "establishment") != NULL, "... the message says why");

        in.value[FIELD_URN] = "0";
        u = check(&in);
        is_str(issues(&u), "", "URN 0 with UPNs: nothing");
        ok(u.set_pupils && u.n_upns == 1, "... set_pupils");

        in.value[FIELD_URN] = "";
        u = check(&in);
        ok(u.n_issues == 0 && u.set_pupils, "URN blank with UPNs: set_pupils");

        in.value[FIELD_URN] = NULL;
        u = check(&in);
        ok(u.n_issues == 0 && u.set_pupils, "no URN column with UPNs: set_pupils");

        in.n_upns = 0;
        u = check(&in);
        ok(u.n_issues == 0 && !u.set_pupils, "no UPNs: the pupils are left alone");

        /* Both warnings on one row. */
        in = base_row();
        in.value[FIELD_ROLE] = "designated_teacher";
        in.upns = upns;
        in.n_upns = 1;
        u = check(&in);
        is_str(issues(&u), "urn:establishment_missing(w) upn:upns_ignored(w)", "both warnings on one row");
        ok(!u.failed, "... still not failed");
}

static void test_several(void) {
        ImportRow in = base_row();
        in.value[FIELD_EMAIL] = "not-an-email";
        in.value[FIELD_PHONE] = "0770090012345678";
        in.value[FIELD_TEAMS] = "Ghost";
        UserRow u = check(&in);

        is_str(issues(&u), "email:invalid_email phone:invalid_phone teams:unknown_team",
               "bad email + bad phone + unknown team: three issues");
        is_int(u.n_issues, 3, "n_issues 3");
        ok(u.failed, "failed");

        in = base_row();
        in.value[FIELD_EMAIL] = "";
        in.value[FIELD_FIRST_NAME] = "A\nB";
        in.value[FIELD_URN] = "12a456";
        in.value[FIELD_ROLE] = "Designated Teacher";
        in.value[FIELD_ACTIVE] = "maybe";
        const char *upns[] = { "A801200005001" };
        in.upns = upns;
        in.n_upns = 1;
        in.n_extra = 1;
        u = check(&in);
        is_str(issues(&u),
               "email:required first_name:invalid_text urn:invalid_urn active:invalid_active upn:invalid_upn "
               "row:extra_cells upn:upns_ignored(w)",
               "every problem of a row is reported, errors and warnings");
        ok(u.failed, "failed");
        is_str(row_rules_severity_name(SEVERITY_WARNING), "warning", "row_rules_severity_name(warning)");
        is_str(row_rules_severity_name(SEVERITY_ERROR), "error", "row_rules_severity_name(error)");
}

static void test_custom(void) {
        ImportRow in = base_row();
        CustomValue custom[] = { { "lone_working", "True" }, { "notes", "line\nbreak" } };
        in.custom = custom;
        in.n_custom = 2;
        UserRow u = check(&in);

        is_str(issues(&u), "custom.notes:invalid_text", "a control character in a custom value: invalid_text");
        ok(u.n_custom == 2 && u.custom == custom, "custom values are passed on");
}

static void test_links(void) {
        ImportRow in = base_row();
        LinkValue links[] = { { "manager", "Bob@Example.org ; cat@example.org,bob@example.org;" },
                              { "parent", "pat@example.org" } };
        in.links = links;
        in.n_links = 2;
        UserRow u = check(&in);
        is_str(issues(&u), "", "link cells with valid emails pass");
        is_int(u.n_links, 2, "two kinds");
        ok(u.n_links == 2 && u.links[0].n == 2 && strcmp(u.links[0].emails[0], "bob@example.org") == 0 &&
                   strcmp(u.links[0].emails[1], "cat@example.org") == 0,
           "emails split at ; and ',', trimmed, in lower case, each once");
        ok(u.n_links == 2 && strcmp(u.links[1].field, "link.parent") == 0, "the field names the kind");
        LinkValue piped[] = { { "manager", "o|brien@example.org" } };
        in.links = piped;
        in.n_links = 1;
        u = check(&in);
        ok(u.n_links == 1 && u.links[0].n == 1 && strcmp(u.links[0].emails[0], "o|brien@example.org") == 0,
           "'|' is part of an email, not a separator");

        LinkValue bad[] = { { "manager", "bob@example.org; not an email; x@y" } };
        in.links = bad;
        in.n_links = 1;
        u = check(&in);
        is_str(issues(&u), "link.manager:invalid_email", "an invalid email in a link cell: invalid_email");
        ok(strstr(message_of(&u, "invalid_email"), "positions 2, 3") != NULL, "... naming the positions: %s",
           message_of(&u, "invalid_email"));
        ok(!strstr(message_of(&u, "invalid_email"), "not an email"), "... not the cell");
        is_int(u.n_links, 0, "... and no link is kept");

        char *many = arena_alloc(&arena, RULE_MAX_LINKS + 20);
        memset(many, 'a', RULE_MAX_LINKS + 10);
        memcpy(many + RULE_MAX_LINKS, "@b.org", 7);
        LinkValue long_cell[] = { { "manager", many } };
        in.links = long_cell;
        u = check(&in);
        is_str(issues(&u), "link.manager:too_long", "a link cell over the limit: too_long");
}

static void test_add_issue(void) {
        ImportRow in = base_row();
        UserRow u = check(&in);

        ok(!u.failed, "fresh row has not failed");
        is_int(row_rules_add_issue(&u, &arena, SEVERITY_WARNING, "urn", "note", "just a note"), 0, "add a warning");
        ok(!u.failed, "a warning does not fail the row");
        char msg[32] = "no such establishment";
        for (int i = 0; i < 9; i++)
                if (row_rules_add_issue(&u, &arena, SEVERITY_ERROR, "urn", "unknown_establishment", msg) < 0)
                        abort();
        msg[0] = 'X';
        is_int(u.n_issues, 10, "ten issues (the array grows)");
        ok(u.failed, "an error fails the row");
        is_str(u.issues[0].message, "just a note", "the first message survives growth");
        is_str(u.issues[9].message, "no such establishment", "messages are copied");
}

int main(void) {
        test_valid_row();
        test_required();
        test_email();
        test_duplicate_not_a_rule();
        test_phone();
        test_urn();
        test_upn();
        test_role();
        test_active();
        test_teams();
        test_too_long();
        test_invalid_text();
        test_extra_cells();
        test_warnings();
        test_several();
        test_custom();
        test_links();
        test_add_issue();
        buf_done(&issues_buf);
        arena_done(&arena);
        return tap_done();
}
