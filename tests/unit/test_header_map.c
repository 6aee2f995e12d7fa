/* Unit tests for common/core/header_map.h: aliases, the seeds' headers,
 * column_map, ignored columns, the round-tripped error CSV, extraction. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "header_map.h"
#include "tap.h"
#include "utf8.h"

#define MAX_CELLS 32

/* Cells split from a line at commas (no quoting: test headers hold no
 * commas), owned by the struct. */
typedef struct Cells {
        char *text;
        char *cells[MAX_CELLS];
        size_t lens[MAX_CELLS];
        size_t n;
} Cells;

static void cells_split(Cells *c, const char *line) {
        *c = (Cells){ .text = strdup(line) };
        if (!c->text)
                abort();
        for (char *p = c->text;;) {
                size_t len = strcspn(p, ",");
                if (c->n == MAX_CELLS)
                        abort();
                c->cells[c->n] = p;
                c->lens[c->n++] = len;
                if (!p[len])
                        break;
                p[len] = '\0';
                p += len + 1;
        }
}

static void cells_done(Cells *c) {
        free(c->text);
        *c = (Cells){ 0 };
}

/* Builds a map from a comma-separated header line. */
static int build(const char *line, const ColumnMap *cm, HeaderMap **ret, HeaderProblem *problem) {
        Cells c;
        cells_split(&c, line);
        int r = header_map_build(c.cells, c.lens, c.n, cm, ret, problem);
        cells_done(&c);
        return r;
}

/* A record for header_map_extract() from an array of cells. */
static CsvRecord record(char **cells, size_t n, unsigned long line) {
        static size_t lens[MAX_CELLS];
        for (size_t i = 0; i < n; i++)
                lens[i] = strlen(cells[i]);
        return (CsvRecord){ .n_cells = n, .cells = cells, .lens = lens, .line = line, .index = 1 };
}

static Field field_of(const char *heading) {
        HeaderMap *m = NULL;
        HeaderProblem problem = { { 0 } };
        const char *cells[1] = { heading };
        size_t lens[1] = { strlen(heading) };

        if (header_map_build((char *const *) cells, lens, 1, NULL, &m, &problem) < 0)
                return (Field) -1;
        Field f = m->columns[0].field;
        header_map_free(m);
        return f;
}

/* "Email Address" -> "  EMAIL  ADDRESS ". */
static void shout(const char *s, char *out, size_t size) {
        size_t o = 0;
        out[o++] = ' ';
        out[o++] = ' ';
        for (; *s && o + 4 < size; s++) {
                out[o++] = (char) toupper((unsigned char) *s);
                if (*s == ' ')
                        out[o++] = ' ';
        }
        out[o++] = '\t';
        out[o] = '\0';
}

/* "Email Address" -> "emailaddress" with a no-break space in the middle of
 * the first word. */
static void squash(const char *s, char *out, size_t size) {
        size_t o = 0;
        for (size_t i = 0; s[i] && o + 4 < size; i++) {
                if (s[i] == ' ')
                        continue;
                out[o++] = (char) tolower((unsigned char) s[i]);
                if (i == 1) {
                        out[o++] = '\xC2';
                        out[o++] = '\xA0';
                }
        }
        out[o] = '\0';
}

static void test_aliases(void) {
        /* SPEC section 4, heading by heading, plus the field names. */
        static const struct {
                const char *alias;
                Field field;
        } aliases[] = {
                { "First Name", FIELD_FIRST_NAME },
                { "User First Name", FIELD_FIRST_NAME },
                { "First_name", FIELD_FIRST_NAME },
                { "Given Name", FIELD_FIRST_NAME },
                { "Last Name", FIELD_LAST_NAME },
                { "User Last Name", FIELD_LAST_NAME },
                { "Last_Name", FIELD_LAST_NAME },
                { "Surname", FIELD_LAST_NAME },
                { "Email", FIELD_EMAIL },
                { "Email Address", FIELD_EMAIL },
                { "E-mail", FIELD_EMAIL },
                { "Job Title", FIELD_JOB_TITLE },
                { "Position", FIELD_JOB_TITLE },
                { "Phone", FIELD_PHONE },
                { "Phone Number", FIELD_PHONE },
                { "Mobile", FIELD_PHONE },
                { "School Reference Number (URN)", FIELD_URN },
                { "URN", FIELD_URN },
                { "Establishment URN", FIELD_URN },
                { "Pupil Reference Number (UPN)", FIELD_UPN },
                { "UPN", FIELD_UPN },
                { "Role", FIELD_ROLE },
                { "User Role", FIELD_ROLE },
                { "Active", FIELD_ACTIVE },
                { "Status", FIELD_ACTIVE },
                { "Teams", FIELD_TEAMS },
                { "Team", FIELD_TEAMS },
                { "first_name", FIELD_FIRST_NAME },
                { "last_name", FIELD_LAST_NAME },
                { "email", FIELD_EMAIL },
                { "job_title", FIELD_JOB_TITLE },
                { "phone", FIELD_PHONE },
                { "urn", FIELD_URN },
                { "upn", FIELD_UPN },
                { "role", FIELD_ROLE },
                { "active", FIELD_ACTIVE },
                { "teams", FIELD_TEAMS },
        };
        char buf[128];

        for (size_t i = 0; i < ELEMENTSOF(aliases); i++) {
                is_str(field_name(field_of(aliases[i].alias)), field_name(aliases[i].field), "\"%s\" -> %s",
                       aliases[i].alias, field_name(aliases[i].field));
                shout(aliases[i].alias, buf, sizeof buf);
                is_str(field_name(field_of(buf)), field_name(aliases[i].field), "\"%s\" -> %s", buf,
                       field_name(aliases[i].field));
                squash(aliases[i].alias, buf, sizeof buf);
                is_str(field_name(field_of(buf)), field_name(aliases[i].field), "\"%s\" -> %s", buf,
                       field_name(aliases[i].field));
        }
        is_str(field_name(field_of("  EMAIL address ")), "email", "\"  EMAIL address \" -> email");

        is_int(field_of("Manager Email"), FIELD_LINK, "\"Manager Email\" is a link (link.manager)");
        is_int(field_of("manager_email"), FIELD_LINK, "\"manager_email\" is a link (link.manager)");
        is_int(field_of("Manager"), FIELD_NONE, "\"Manager\" (a name, maybe) is not");
        is_int(field_of("Emails"), FIELD_NONE, "\"Emails\" is not an alias");
        is_int(field_of("custom"), FIELD_NONE, "\"custom\" is not a heading");
        is_int(field_of("ignore"), FIELD_NONE, "\"ignore\" is not a heading");
        is_int(field_of("none"), FIELD_NONE, "\"none\" is not a heading");

        char norm[16];
        field_normalize_heading("  E-Mail\xC2\xA0" "Address\t", strlen("  E-Mail\xC2\xA0" "Address\t"), norm, sizeof norm);
        is_str(norm, "e-mailaddress", "field_normalize_heading drops spaces, tabs and no-break spaces, lower-cases");
        field_normalize_heading("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, norm, 8);
        is_str(norm, "abcdefg", "field_normalize_heading writes at most size-1 bytes");
}

static void test_fixture_headers(void) {
        HeaderMap *m = NULL;
        HeaderProblem problem = { { 0 } };
        Field missing[3];

        /* The header lines of /work/shared/fixtures, as they are. */
        is_int(build("Email,First_name,Last_Name,Active", NULL, &m, &problem), 0, "ihasco_staff.csv: builds");
        is_int(m->single[FIELD_EMAIL], 0, "ihasco: Email is column 1");
        is_int(m->single[FIELD_FIRST_NAME], 1, "ihasco: First_name is column 2");
        is_int(m->single[FIELD_LAST_NAME], 2, "ihasco: Last_Name is column 3");
        is_int(m->single[FIELD_ACTIVE], 3, "ihasco: Active is column 4");
        is_int(m->n_ignored, 0, "ihasco: nothing ignored");
        is_int(header_map_missing(m, missing), 0, "ihasco: no required column missing");
        ok(!m->roundtrip, "ihasco: not a round-tripped error file");
        header_map_free(m);

        static const char lac[] = "User First Name,User Last Name,Job Title,Email,Phone,School Reference Number "
                                  "(URN),Pupil Reference Number (UPN),Pupil Reference Number (UPN),Pupil "
                                  "Reference Number (UPN),Pupil Reference Number (UPN)";
        is_int(build(lac, NULL, &m, &problem), 0, "lac_*.csv: builds");
        is_int(m->single[FIELD_FIRST_NAME], 0, "lac: first name");
        is_int(m->single[FIELD_LAST_NAME], 1, "lac: last name");
        is_int(m->single[FIELD_JOB_TITLE], 2, "lac: job title");
        is_int(m->single[FIELD_EMAIL], 3, "lac: email");
        is_int(m->single[FIELD_PHONE], 4, "lac: phone");
        is_int(m->single[FIELD_URN], 5, "lac: URN");
        is_int(m->n_upn_columns, 4, "lac: four UPN columns");
        ok(m->n_upn_columns == 4 && m->upn_columns[0] == 6 && m->upn_columns[1] == 7 && m->upn_columns[2] == 8 &&
                   m->upn_columns[3] == 9,
           "lac: UPN columns collected in order");
        is_int(m->n_ignored, 0, "lac: nothing ignored");
        is_int(header_map_missing(m, missing), 0, "lac: no required column missing");
        is_str(m->columns[5].header, "School Reference Number (URN)", "the header is kept as in the file");
        header_map_free(m);

        static const char lone[] = "First Name,Last Name,Email Address,Role,Lone Working,Events,Audits,Phone "
                                   "Number,Teams";
        is_int(build(lone, NULL, &m, &problem), 0, "lone_working_users.csv: builds");
        is_int(m->single[FIELD_FIRST_NAME], 0, "lone working: first name");
        is_int(m->single[FIELD_LAST_NAME], 1, "lone working: last name");
        is_int(m->single[FIELD_EMAIL], 2, "lone working: email");
        is_int(m->single[FIELD_ROLE], 3, "lone working: role");
        is_int(m->single[FIELD_PHONE], 7, "lone working: phone");
        is_int(m->single[FIELD_TEAMS], 8, "lone working: teams");
        is_int(m->n_ignored, 3, "lone working: the three module flags are ignored without a column_map");
        ok(m->n_ignored == 3 && strcmp(m->ignored[0], "Lone Working") == 0 && strcmp(m->ignored[1], "Events") == 0 &&
                   strcmp(m->ignored[2], "Audits") == 0,
           "lone working: ignored columns listed by heading, in order");
        header_map_free(m);

        /* ... and with a column_map they are kept as custom fields. */
        ColumnMap *cm = NULL;
        char err[256] = "";
        is_int(column_map_parse("{\"Lone Working\": \"custom.lone_working\", \"events\": \"custom.events\", "
                                "\"AUDITS\": \"custom.audits\"}",
                                &cm, err, sizeof err),
               0, "column_map for the lone working flags parses");
        is_int(build(lone, cm, &m, &problem), 0, "lone working with column_map: builds");
        is_int(m->n_ignored, 0, "lone working with column_map: every column maps");
        is_int(m->n_custom_columns, 3, "lone working with column_map: three custom columns");
        ok(m->columns[4].field == FIELD_CUSTOM && m->columns[4].custom_key &&
                   strcmp(m->columns[4].custom_key, "lone_working") == 0,
           "\"Lone Working\" -> custom.lone_working");
        ok(m->columns[6].field == FIELD_CUSTOM && m->columns[6].custom_key &&
                   strcmp(m->columns[6].custom_key, "audits") == 0,
           "\"Audits\" -> custom.audits (header matched case-insensitively)");
        header_map_free(m);
        column_map_free(cm);
}

static void test_conflicts(void) {
        HeaderMap *m = (HeaderMap *) 0x1;
        HeaderProblem problem = { { 0 } };

        is_int(build("Email,First Name,Last Name,E-mail", NULL, &m, &problem), -EINVAL,
               "Email and E-mail: -EINVAL");
        ok(strstr(problem.message, "\"Email\"") && strstr(problem.message, "\"E-mail\""),
           "the message names both columns: %s", problem.message);
        ok(strstr(problem.message, "column 1") && strstr(problem.message, "column 4"),
           "the message gives both positions");
        ok(m == (HeaderMap *) 0x1, "*ret is left alone on failure");

        problem.message[0] = '\0';
        is_int(build("Given Name,Email,First Name", NULL, &m, &problem), -EINVAL,
               "Given Name and First Name: -EINVAL");
        ok(strstr(problem.message, "Given Name") && strstr(problem.message, "First Name"),
           "the message names both: %s", problem.message);

        is_int(build("Surname,Email,SURNAME", NULL, &m, &problem), -EINVAL, "the same heading twice: -EINVAL");
        is_int(build("Status,Active", NULL, &m, &problem), -EINVAL, "Status and Active: -EINVAL");

        m = NULL;
        is_int(build("UPN,Email,UPN,Pupil Reference Number (UPN)", NULL, &m, &problem), 0, "UPN may repeat");
        ok(m && m->n_upn_columns == 3 && m->upn_columns[0] == 0 && m->upn_columns[1] == 2 && m->upn_columns[2] == 3,
           "repeated UPN columns collected in order");
        header_map_free(m);

        /* Two columns sent to the same custom key. */
        ColumnMap *cm = NULL;
        char err[256];
        if (column_map_parse("{\"A\": \"custom.x\", \"B\": \"custom.x\"}", &cm, err, sizeof err) < 0)
                abort();
        is_int(build("Email,A,B", cm, &m, &problem), -EINVAL, "two columns mapped to custom.x: -EINVAL");
        ok(strstr(problem.message, "custom.x") != NULL, "the message names the key: %s", problem.message);
        column_map_free(cm);

        /* column_map resolves a clash: the second column goes elsewhere. */
        if (column_map_parse("{\"E-mail\": \"custom.other_email\"}", &cm, err, sizeof err) < 0)
                abort();
        m = NULL;
        is_int(build("Email,E-mail", cm, &m, &problem), 0, "column_map resolves two email columns");
        ok(m && m->single[FIELD_EMAIL] == 0 && m->columns[1].field == FIELD_CUSTOM,
           "the mapped column is custom, the other is the email");
        header_map_free(m);
        column_map_free(cm);

        /* Headings are quoted cut to 80 bytes, but never inside a
         * character: "Email" and 50 no-break spaces (which matching
         * ignores) used to be cut in the middle of one, leaving a message
         * that is not UTF-8. */
        char line[128] = "Email";
        for (int i = 0; i < 50; i++)
                strcat(line, "\xC2\xA0");
        strcat(line, ",E-mail");
        is_int(build(line, NULL, &m, &problem), -EINVAL, "Email with 50 no-break spaces, and E-mail: -EINVAL");
        ok(utf8_is_valid(problem.message, strlen(problem.message)), "... the message is valid UTF-8");
        ok(strstr(problem.message, "\"Email\xC2\xA0") && strstr(problem.message, "\xC2\xA0\" (column 1)") &&
                   strstr(problem.message, "\"E-mail\" (column 2)"),
           "... and quotes both headings, the long one cut after a whole character");
}

static void test_column_map(void) {
        ColumnMap *cm = NULL;
        HeaderMap *m = NULL;
        HeaderProblem problem = { { 0 } };
        char err[512] = "";

        is_int(column_map_parse("{\"Mail\": \"email\", \"Forename \": \"first_name\", \"Shoe Size\": "
                                "\"custom.shoe_size\", \"Status\": \"ignore\", \"Staff No\": \"custom.staff_no\"}",
                                &cm, err, sizeof err),
               0, "column_map parses");
        is_int(cm->n, 5, "five entries");
        is_int(build("Mail,Forename,Family,Shoe Size,Status,STAFF NO,Desk", cm, &m, &problem), 0,
               "header with column_map builds");
        is_int(m->single[FIELD_EMAIL], 0, "\"Mail\" -> email");
        is_int(m->single[FIELD_FIRST_NAME], 1, "\"Forename\" -> first_name (trailing space in the map ignored)");
        is_int(m->columns[3].field, FIELD_CUSTOM, "\"Shoe Size\" -> custom");
        is_str(m->columns[3].custom_key, "shoe_size", "... with key shoe_size");
        is_int(m->columns[4].field, FIELD_IGNORE, "\"Status\" -> ignore (the map wins over the alias)");
        is_int(m->single[FIELD_ACTIVE], -1, "... so there is no active column");
        is_str(m->columns[5].custom_key, "staff_no", "\"STAFF NO\" -> custom.staff_no");
        is_int(m->n_ignored, 2, "unmapped, unknown columns are listed");
        ok(m->n_ignored == 2 && strcmp(m->ignored[0], "Family") == 0 && strcmp(m->ignored[1], "Desk") == 0,
           "ignored: Family, Desk (the explicitly ignored column is not listed)");
        Field missing[3];
        is_int(header_map_missing(m, missing), 1, "last_name missing");
        is_int(missing[0], FIELD_LAST_NAME, "... it is last_name");
        header_map_free(m);
        column_map_free(cm);

        /* Targets. */
        Field f = FIELD_NONE;
        const char *key = NULL;
        is_int(field_from_target("custom.lone_working", &f, &key), 0, "custom.lone_working is a target");
        ok(f == FIELD_CUSTOM && key && strcmp(key, "lone_working") == 0, "... FIELD_CUSTOM, key lone_working");
        is_int(field_from_target("upn", &f, &key), 0, "upn is a target");
        is_int(f, FIELD_UPN, "... FIELD_UPN");
        is_int(field_from_target("ignore", &f, NULL), 0, "ignore is a target");
        is_int(f, FIELD_IGNORE, "... FIELD_IGNORE");
        is_int(field_from_target("Email", &f, &key), 0, "field names are matched regardless of case");
        is_int(f, FIELD_EMAIL, "... \"Email\" is FIELD_EMAIL");

        static const char *const bad_targets[] = {
                "nonsense", "custom", "custom.", "custom.Shoe", "custom.a-b", "none", "",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_targets); i++)
                is_int(field_from_target(bad_targets[i], &f, &key), -EINVAL, "\"%s\" is not a target",
                       bad_targets[i]);
        char long_key[80] = "custom.";
        memset(long_key + 7, 'k', 65);
        long_key[72] = '\0';
        is_int(field_from_target(long_key, &f, &key), -EINVAL, "a custom key of 65 characters is refused");
        long_key[71] = '\0';
        is_int(field_from_target(long_key, &f, &key), 0, "a custom key of 64 characters is accepted");

        static const struct {
                const char *json, *word, *what;
        } bad[] = {
                { "not json", "JSON", "not JSON" },
                { "{\"a\": \"email\"", "JSON", "truncated JSON" },
                { "[\"email\"]", "object", "an array" },
                { "\"email\"", "column_map", "a string" },
                { "{\"Mail\": \"e-mail\"}", "Mail", "an unknown target" },
                { "{\"Mail\": 5}", "Mail", "a number as target" },
                { "{\"Shoe\": \"custom.Shoe Size\"}", "custom.<key>", "a bad custom key" },
                { "{\"Mail\": \"email\", \" MAIL\": \"email\"}", "twice", "the same header twice (normalised)" },
                { "{\"Mail\": \"email\", \"Mail\": \"phone\"}", "JSON", "a duplicate key" },
                { "{\" \": \"email\"}", "empty", "an empty header" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ColumnMap *sentinel = (ColumnMap *) 0x1;
                err[0] = '\0';
                is_int(column_map_parse(bad[i].json, &sentinel, err, sizeof err), -EINVAL, "column_map %s: -EINVAL",
                       bad[i].what);
                ok(strstr(err, bad[i].word) != NULL, "column_map %s: the message says \"%s\": %s", bad[i].what,
                   bad[i].word, err);
                ok(sentinel == (ColumnMap *) 0x1, "column_map %s: *ret left alone", bad[i].what);
        }

        /* A long header is quoted cut to 100 bytes, after a whole
         * character: "x" then 60 two-byte characters used to be cut in the
         * middle of the 50th. */
        char json[160] = "{\"x";
        for (int i = 0; i < 60; i++)
                strcat(json, "\xC3\xA9");
        strcat(json, "\": \"nope\"}");
        is_int(column_map_parse(json, &cm, err, sizeof err), -EINVAL, "column_map with a long header: -EINVAL");
        ok(utf8_is_valid(err, strlen(err)), "... the message is valid UTF-8");

        is_int(column_map_parse("{}", &cm, err, sizeof err), 0, "an empty column_map parses");
        is_int(cm->n, 0, "... with no entries");
        column_map_free(cm);
        /* No-ops; a crash here fails the program. */
        column_map_free(NULL);
        header_map_free(NULL);
}

static void test_ignored_and_missing(void) {
        HeaderMap *m = NULL;
        HeaderProblem problem = { { 0 } };
        Field missing[3] = { FIELD_NONE, FIELD_NONE, FIELD_NONE };

        is_int(build("Email,First Name,Last Name,Shoe Size,,Line Manager,   ", NULL, &m, &problem), 0,
               "header with unknown and empty headings builds");
        is_int(m->n_ignored, 4, "four columns ignored");
        if (m->n_ignored == 4) {
                is_str(m->ignored[0], "Shoe Size", "ignored[0]");
                is_str(m->ignored[1], "(column 5, no heading)", "an empty heading is described by position");
                is_str(m->ignored[2], "Line Manager", "an unknown heading is reported as ignored");
                is_str(m->ignored[3], "(column 7, no heading)", "a heading of spaces is no heading");
        }
        is_int(header_map_missing(m, missing), 0, "nothing missing");
        header_map_free(m);

        is_int(build("Phone,Job Title", NULL, &m, &problem), 0, "a header without required columns builds");
        is_int(header_map_missing(m, missing), 3, "three required columns missing");
        ok(missing[0] == FIELD_EMAIL && missing[1] == FIELD_FIRST_NAME && missing[2] == FIELD_LAST_NAME,
           "missing: email, first_name, last_name");
        header_map_free(m);

        is_int(build("Email,Surname", NULL, &m, &problem), 0, "Email,Surname builds");
        is_int(header_map_missing(m, missing), 1, "one required column missing");
        is_int(missing[0], FIELD_FIRST_NAME, "... first_name");
        header_map_free(m);
}

static void test_roundtrip(void) {
        HeaderMap *m = NULL;
        HeaderProblem problem = { { 0 } };
        Arena a = ARENA_INIT;
        ImportRow row;

        is_int(build("Email,First Name,Last Name,Phone,Job Title,LINE, Error ", NULL, &m, &problem), 0,
               "an error CSV sent back builds");
        ok(m->roundtrip, "the trailing line,error columns mark a round trip");
        is_int(m->n_data_columns, 5, "five data columns");
        is_int(m->n_ignored, 0, "line and error are ignored silently");
        is_int(m->columns[5].field, FIELD_IGNORE, "line -> ignore");
        is_int(m->columns[6].field, FIELD_IGNORE, "error -> ignore");

        char *cells[] = { "ann@example.org", "'=HYPERLINK(1)", "'-Smith", "'+44 1234", "'not a formula", "3",
                          "Email is required" };
        CsvRecord rec = record(cells, ELEMENTSOF(cells), 3);
        is_int(header_map_extract(m, &rec, 2, &a, &row), 0, "extract from a round-tripped row");
        is_str(row.value[FIELD_FIRST_NAME], "=HYPERLINK(1)", "the formula guard is removed: '=HYPERLINK(1)");
        is_str(row.value[FIELD_LAST_NAME], "-Smith", "... '-Smith");
        is_str(row.value[FIELD_PHONE], "+44 1234", "... '+44 1234");
        is_str(row.value[FIELD_JOB_TITLE], "'not a formula", "an apostrophe before ordinary text stays");
        is_int(row.n_extra, 0, "the line and error cells are not extra cells");
        header_map_free(m);

        is_int(build("Email,First Name,Last Name,Phone,Job Title", NULL, &m, &problem), 0,
               "the same header without line,error");
        ok(!m->roundtrip, "not a round trip");
        char *cells2[] = { "ann@example.org", "'=HYPERLINK(1)", "'-Smith", "'+44 1234", "x" };
        rec = record(cells2, ELEMENTSOF(cells2), 2);
        is_int(header_map_extract(m, &rec, 1, &a, &row), 0, "extract from an ordinary file");
        is_str(row.value[FIELD_FIRST_NAME], "'=HYPERLINK(1)", "the apostrophe stays outside a round trip");
        is_str(row.value[FIELD_PHONE], "'+44 1234", "... also on the phone");
        header_map_free(m);

        /* roster's users export ends with its own id column. */
        is_int(build("First Name,Last Name,Email,Roster User ID", NULL, &m, &problem), 0, "a users export builds");
        ok(m->roundtrip && m->n_data_columns == 3, "the trailing Roster User ID marks a round trip");
        is_int(m->n_ignored, 0, "the id column is ignored silently");
        char *cells3[] = { "'=Dodd", "Doe", "ann@example.org", "17" };
        rec = record(cells3, ELEMENTSOF(cells3), 2);
        is_int(header_map_extract(m, &rec, 1, &a, &row), 0, "extract from an exported row");
        is_str(row.value[FIELD_FIRST_NAME], "=Dodd", "the export's formula guard is removed");
        header_map_free(m);
        is_int(build("Roster User ID,Email,First Name,Last Name", NULL, &m, &problem), 0,
               "the id column first builds");
        ok(!m->roundtrip && m->n_ignored == 1, "not at the end: an ordinary unknown column");
        header_map_free(m);

        /* line and error elsewhere are ordinary unknown columns. */
        is_int(build("Line,Error,Email,First Name,Last Name", NULL, &m, &problem), 0,
               "line,error at the start builds");
        ok(!m->roundtrip, "line,error not at the end: not a round trip");
        is_int(m->n_ignored, 2, "... and they are reported as ignored");
        header_map_free(m);

        is_int(build("Email,Error,Line", NULL, &m, &problem), 0, "error,line (wrong order) builds");
        ok(!m->roundtrip, "error,line in the wrong order: not a round trip");
        header_map_free(m);

        arena_done(&a);
}

static void test_extract(void) {
        HeaderMap *m = NULL;
        HeaderProblem problem = { { 0 } };
        Arena a = ARENA_INIT;
        ColumnMap *cm = NULL;
        ImportRow row;
        char err[256];

        if (column_map_parse("{\"Shoe\": \"custom.shoe\", \"Desk\": \"custom.desk\"}", &cm, err, sizeof err) < 0)
                abort();
        is_int(build("Email,First Name,Last Name,UPN,Phone,UPN,UPN,Shoe,Desk", cm, &m, &problem), 0,
               "header builds");

        char *cells[] = { " \xC2\xA0" "ann@example.org\t", "\xC2\xA0" "Ann\xC2\xA0", "  Smith  ", "",
                          "07700 900123", " b801200005001 ", "\xC2\xA0", "", " 44 " };
        CsvRecord rec = record(cells, ELEMENTSOF(cells), 7);
        is_int(header_map_extract(m, &rec, 5, &a, &row), 0, "extract");
        is_int(row.line, 7, "the record's line is kept");
        is_int(row.row, 5, "the row number is kept");
        is_str(row.value[FIELD_EMAIL], "ann@example.org", "spaces, tabs and no-break spaces are trimmed");
        is_str(row.value[FIELD_FIRST_NAME], "Ann", "no-break spaces are trimmed at both ends");
        is_str(row.value[FIELD_LAST_NAME], "Smith", "spaces are trimmed");
        is_str(row.value[FIELD_PHONE], "07700 900123", "inner spaces stay");
        ok(row.value[FIELD_URN] == NULL, "a field without a column is NULL");
        ok(row.value[FIELD_ROLE] == NULL, "... role too");
        is_int(row.n_upns, 1, "blank UPN cells are skipped");
        is_str(row.n_upns ? row.upns[0] : NULL, "b801200005001", "the UPN is trimmed (case is the rules' job)");
        is_int(row.n_custom, 1, "a blank custom cell is skipped");
        ok(row.n_custom == 1 && strcmp(row.custom[0].key, "desk") == 0 && strcmp(row.custom[0].value, "44") == 0,
           "custom desk = \"44\"");
        is_int(row.n_extra, 0, "no extra cells");

        /* A short record: missing cells read as blank. */
        char *short_cells[] = { "bob@example.org", "Bob" };
        rec = record(short_cells, ELEMENTSOF(short_cells), 8);
        is_int(header_map_extract(m, &rec, 6, &a, &row), 0, "extract a short record");
        is_str(row.value[FIELD_LAST_NAME], "", "a missing trailing cell reads as \"\"");
        is_str(row.value[FIELD_PHONE], "", "... phone too");
        is_int(row.n_upns, 0, "no UPNs");
        is_int(row.n_custom, 0, "no custom values");
        is_int(row.n_extra, 0, "no extra cells");

        /* A long record: non-blank cells past the last heading. */
        char *long_cells[] = { "cy@example.org", "Cy", "Lee", "E12345678901X", "", "4779663459624",
                               "6923138797316", "", "", "oops", " ", "\xC2\xA0", "more", "" };
        rec = record(long_cells, ELEMENTSOF(long_cells), 9);
        is_int(header_map_extract(m, &rec, 7, &a, &row), 0, "extract a long record");
        is_int(row.n_extra, 2, "two non-blank cells past the last heading (blank ones not counted)");
        is_int(row.n_upns, 3, "three UPNs");
        ok(row.n_upns == 3 && strcmp(row.upns[0], "E12345678901X") == 0 && strcmp(row.upns[1], "4779663459624") == 0 &&
                   strcmp(row.upns[2], "6923138797316") == 0,
           "UPNs in column order");

        header_map_free(m);
        column_map_free(cm);
        arena_done(&a);
}

static void test_names(void) {
        is_str(field_name(FIELD_FIRST_NAME), "first_name", "field_name(FIELD_FIRST_NAME)");
        is_str(field_name(FIELD_TEAMS), "teams", "field_name(FIELD_TEAMS)");
        is_str(field_label(FIELD_EMAIL), "Email", "field_label(FIELD_EMAIL)");
        is_str(field_name(_FIELD_MAX), "none", "field_name out of range");
}

/* Link columns: by their own name, by the manager's headings, or by
 * column_map; one column a kind; cells extracted with their kind. */
static void test_links(void) {
        ColumnMap *cm = NULL;
        HeaderMap *m = NULL;
        HeaderProblem problem = { { 0 } };
        char err[512] = "";

        is_int(column_map_parse("{\"Buddy\": \"link.buddy\"}", &cm, err, sizeof err), 0, "link.buddy is a target");
        is_int(build("Email,First Name,Last Name,Manager Email,LINK.Parent,Buddy,link.Bad-Kind", cm, &m, &problem), 0,
               "a header with link columns builds");
        is_int(m->n_link_columns, 3, "three link columns");
        ok(m->columns[3].field == FIELD_LINK && strcmp(m->columns[3].custom_key, "manager") == 0,
           "\"Manager Email\" -> link.manager");
        ok(m->columns[4].field == FIELD_LINK && strcmp(m->columns[4].custom_key, "parent") == 0,
           "\"LINK.Parent\" -> link.parent (headings are matched in lower case)");
        ok(m->columns[5].field == FIELD_LINK && strcmp(m->columns[5].custom_key, "buddy") == 0,
           "\"Buddy\" -> link.buddy by column_map");
        ok(m->n_ignored == 1 && strcmp(m->ignored[0], "link.Bad-Kind") == 0, "a kind with a hyphen is not a link");

        char *cells[] = { "ann@example.org", "Ann", "Able", " bob@example.org ", "", "cat@example.org; dan@x.org" };
        CsvRecord rec = record(cells, ELEMENTSOF(cells), 2);
        Arena a = ARENA_INIT;
        ImportRow row;
        is_int(header_map_extract(m, &rec, 1, &a, &row), 0, "extract a row with links");
        is_int(row.n_links, 2, "two non-blank link cells");
        ok(row.n_links == 2 && strcmp(row.links[0].key, "manager") == 0 &&
                   strcmp(row.links[0].value, "bob@example.org") == 0,
           "the manager cell, trimmed");
        ok(row.n_links == 2 && strcmp(row.links[1].key, "buddy") == 0 &&
                   strcmp(row.links[1].value, "cat@example.org; dan@x.org") == 0,
           "the buddy cell as it is");
        arena_done(&a);
        header_map_free(m);
        column_map_free(cm);

        is_int(build("Email,Manager Email,Line Manager Email", NULL, &m, &problem), -EINVAL,
               "two manager columns: -EINVAL");
        ok(strstr(problem.message, "link.manager") != NULL, "... the message names the kind: %s", problem.message);

        char heading[80];
        field_link_heading("manager", heading, sizeof heading);
        is_str(heading, "Manager Email", "the manager's heading in roster's files");
        field_link_heading("parent", heading, sizeof heading);
        is_str(heading, "link.parent", "other kinds' heading");
        ok(field_of("Manager Email") == FIELD_LINK && field_of("link.parent") == FIELD_LINK,
           "and both are read back as links");
}

int main(void) {
        test_aliases();
        test_fixture_headers();
        test_conflicts();
        test_column_map();
        test_ignored_and_missing();
        test_roundtrip();
        test_extract();
        test_names();
        test_links();
        return tap_done();
}
