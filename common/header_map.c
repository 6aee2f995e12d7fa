#include "header_map.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv_writer.h"

static const struct {
        const char *name;
        const char *label;
} fields[_FIELD_MAX] = {
        [FIELD_NONE] = { "none", "none" },
        [FIELD_FIRST_NAME] = { "first_name", "First name" },
        [FIELD_LAST_NAME] = { "last_name", "Last name" },
        [FIELD_EMAIL] = { "email", "Email" },
        [FIELD_JOB_TITLE] = { "job_title", "Job title" },
        [FIELD_PHONE] = { "phone", "Phone" },
        [FIELD_URN] = { "urn", "URN" },
        [FIELD_UPN] = { "upn", "UPN" },
        [FIELD_ROLE] = { "role", "Role" },
        [FIELD_ACTIVE] = { "active", "Active" },
        [FIELD_TEAMS] = { "teams", "Teams" },
        [FIELD_CUSTOM] = { "custom", "Custom field" },
        [FIELD_IGNORE] = { "ignore", "Ignored" },
};

/* The headings each field is known by. Each field's own name matches too. */
static const struct {
        Field field;
        const char *alias;
} aliases[] = {
        { FIELD_FIRST_NAME, "First Name" },
        { FIELD_FIRST_NAME, "User First Name" },
        { FIELD_FIRST_NAME, "First_name" },
        { FIELD_FIRST_NAME, "Given Name" },
        { FIELD_FIRST_NAME, "Forename" },
        { FIELD_LAST_NAME, "Last Name" },
        { FIELD_LAST_NAME, "User Last Name" },
        { FIELD_LAST_NAME, "Last_Name" },
        { FIELD_LAST_NAME, "Surname" },
        { FIELD_LAST_NAME, "Family Name" },
        { FIELD_EMAIL, "Email" },
        { FIELD_EMAIL, "Email Address" },
        { FIELD_EMAIL, "E-mail" },
        { FIELD_EMAIL, "E-mail Address" },
        { FIELD_JOB_TITLE, "Job Title" },
        { FIELD_JOB_TITLE, "Position" },
        { FIELD_PHONE, "Phone" },
        { FIELD_PHONE, "Phone Number" },
        { FIELD_PHONE, "Mobile" },
        { FIELD_PHONE, "Mobile Number" },
        { FIELD_URN, "School Reference Number (URN)" },
        { FIELD_URN, "URN" },
        { FIELD_URN, "Establishment URN" },
        { FIELD_UPN, "Pupil Reference Number (UPN)" },
        { FIELD_UPN, "UPN" },
        { FIELD_ROLE, "Role" },
        { FIELD_ROLE, "User Role" },
        { FIELD_ACTIVE, "Active" },
        { FIELD_ACTIVE, "Status" },
        { FIELD_TEAMS, "Teams" },
        { FIELD_TEAMS, "Team" },
};

const char *field_name(Field f) {
        return f < _FIELD_MAX ? fields[f].name : "none";
}

const char *field_label(Field f) {
        return f < _FIELD_MAX ? fields[f].label : "none";
}

static bool valid_custom_key(const char *k) {
        size_t n = strlen(k);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char) k[i]) && !isdigit((unsigned char) k[i]) && k[i] != '_')
                        return false;
        return true;
}

int field_from_target(const char *target, Field *ret, const char **ret_key) {
        if (strncmp(target, "custom.", 7) == 0) {
                if (!valid_custom_key(target + 7))
                        return -EINVAL;
                *ret = FIELD_CUSTOM;
                if (ret_key)
                        *ret_key = target + 7;
                return 0;
        }
        for (int f = FIELD_FIRST_NAME; f < _FIELD_MAX; f++)
                if (f != FIELD_CUSTOM && strcasecmp(target, fields[f].name) == 0) {
                        *ret = (Field) f;
                        if (ret_key)
                                *ret_key = NULL;
                        return 0;
                }
        return -EINVAL;
}

void header_normalize(const char *s, size_t len, char *out, size_t size) {
        size_t o = 0;
        for (size_t i = 0; i < len && o + 1 < size; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                        continue;
                if (c == 0xC2 && i + 1 < len && (unsigned char) s[i + 1] == 0xA0) {
                        i++; /* U+00A0 NO-BREAK SPACE */
                        continue;
                }
                out[o++] = (char) tolower(c);
        }
        out[o] = '\0';
}

static Field match_alias(const char *norm) {
        char a[128];
        for (int f = FIELD_FIRST_NAME; f < FIELD_CUSTOM; f++)
                if (strcmp(norm, fields[f].name) == 0)
                        return (Field) f;
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++) {
                header_normalize(aliases[i].alias, strlen(aliases[i].alias), a, sizeof a);
                if (strcmp(norm, a) == 0)
                        return aliases[i].field;
        }
        return FIELD_NONE;
}

void column_map_free(ColumnMap *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++) {
                free(m->entries[i].header_norm);
                free(m->entries[i].custom_key);
        }
        free(m->entries);
        free(m);
}

int column_map_parse(const char *json, ColumnMap **ret, char *err, size_t err_size) {
        json_error_t jerr;
        json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                snprintf(err, err_size, "column_map is not valid JSON: %s", jerr.text);
                return -EINVAL;
        }
        int r = 0;
        ColumnMap *m = NULL;
        if (!json_is_object(root)) {
                snprintf(err, err_size, "column_map must be a JSON object of header -> field");
                r = -EINVAL;
                goto out;
        }
        m = calloc(1, sizeof *m);
        if (!m || !(m->entries = calloc(json_object_size(root) + 1, sizeof *m->entries))) {
                r = -ENOMEM;
                goto out;
        }
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value) {
                Field f;
                const char *custom = NULL;
                if (!json_is_string(value) || field_from_target(json_string_value(value), &f, &custom) < 0) {
                        snprintf(err, err_size,
                                 "column_map: the target for \"%.100s\" must be one of first_name, last_name, "
                                 "email, job_title, phone, urn, upn, role, active, teams, ignore or "
                                 "custom.<key> (key: a-z, 0-9, _; at most 64)",
                                 key);
                        r = -EINVAL;
                        goto out;
                }
                char norm[256];
                header_normalize(key, strlen(key), norm, sizeof norm);
                if (!*norm) {
                        snprintf(err, err_size, "column_map: a header name must not be empty");
                        r = -EINVAL;
                        goto out;
                }
                for (size_t i = 0; i < m->n; i++)
                        if (strcmp(m->entries[i].header_norm, norm) == 0) {
                                snprintf(err, err_size, "column_map: \"%.100s\" is given twice", key);
                                r = -EINVAL;
                                goto out;
                        }
                ColumnMapEntry *e = &m->entries[m->n++];
                e->field = f;
                e->header_norm = strdup(norm);
                e->custom_key = custom ? strdup(custom) : NULL;
                if (!e->header_norm || (custom && !e->custom_key)) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        *ret = TAKE_PTR(m);
out:
        column_map_free(m);
        json_decref(root);
        return r;
}

void header_map_free(HeaderMap *m) {
        if (!m)
                return;
        for (size_t i = 0; i < m->n_columns; i++) {
                free(m->columns[i].custom_key);
                free(m->columns[i].header);
        }
        free(m->columns);
        free(m->upn_columns);
        free(m->custom_columns);
        for (size_t i = 0; i < m->n_ignored; i++)
                free(m->ignored[i]);
        free(m->ignored);
        free(m);
}

int header_map_build(char *const *cells, const size_t *lens, size_t n, const ColumnMap *cm, HeaderMap **ret,
                     HeaderProblem *problem) {
        _cleanup_(header_map_freep) HeaderMap *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        for (int f = 0; f < _FIELD_MAX; f++)
                m->single[f] = -1;
        m->columns = calloc(n + 1, sizeof *m->columns);
        m->upn_columns = calloc(n + 1, sizeof *m->upn_columns);
        m->custom_columns = calloc(n + 1, sizeof *m->custom_columns);
        m->ignored = calloc(n + 1, sizeof *m->ignored);
        if (!m->columns || !m->upn_columns || !m->custom_columns || !m->ignored)
                return -ENOMEM;
        m->n_columns = n;

        /* roster's error CSV ends with "line" and "error": a file fixed and
         * sent back keeps them, and they are not data. */
        size_t roundtrip_from = n;
        if (n >= 2) {
                char a[16], b[16];
                header_normalize(cells[n - 2], lens[n - 2], a, sizeof a);
                header_normalize(cells[n - 1], lens[n - 1], b, sizeof b);
                if (strcmp(a, "line") == 0 && strcmp(b, "error") == 0)
                        roundtrip_from = n - 2;
        }
        m->roundtrip = roundtrip_from < n;
        m->n_data_columns = roundtrip_from;

        for (size_t i = 0; i < n; i++) {
                HeaderColumn *col = &m->columns[i];
                char norm[256];

                col->header = strndup(cells[i], lens[i]);
                if (!col->header)
                        return -ENOMEM;
                header_normalize(cells[i], lens[i], norm, sizeof norm);

                const ColumnMapEntry *e = NULL;
                for (size_t k = 0; cm && k < cm->n; k++)
                        if (strcmp(cm->entries[k].header_norm, norm) == 0)
                                e = &cm->entries[k];
                if (e) {
                        col->field = e->field;
                        if (e->custom_key && !(col->custom_key = strdup(e->custom_key)))
                                return -ENOMEM;
                } else if (i >= roundtrip_from)
                        col->field = FIELD_IGNORE;
                else
                        col->field = match_alias(norm);

                switch (col->field) {
                case FIELD_NONE: {
                        char *what = *norm ? strndup(cells[i], lens[i]) : NULL;
                        if (!*norm && asprintf(&what, "(column %zu, no heading)", i + 1) < 0)
                                what = NULL;
                        if (!what)
                                return -ENOMEM;
                        m->ignored[m->n_ignored++] = what;
                        break;
                }
                case FIELD_UPN:
                        m->upn_columns[m->n_upn_columns++] = i;
                        break;
                case FIELD_CUSTOM:
                        for (size_t k = 0; k < m->n_custom_columns; k++)
                                if (strcmp(m->columns[m->custom_columns[k]].custom_key, col->custom_key) == 0) {
                                        snprintf(problem->message, sizeof problem->message,
                                                 "two columns are mapped to custom.%s (columns %zu and %zu)",
                                                 col->custom_key, m->custom_columns[k] + 1, i + 1);
                                        return -EINVAL;
                                }
                        m->custom_columns[m->n_custom_columns++] = i;
                        break;
                case FIELD_IGNORE:
                        break;
                default:
                        if (m->single[col->field] >= 0) {
                                int first = m->single[col->field];
                                snprintf(problem->message, sizeof problem->message,
                                         "two columns hold %s: \"%.80s\" (column %d) and \"%.80s\" (column %zu); "
                                         "remove one or name it in column_map",
                                         field_name(col->field), m->columns[first].header, first + 1,
                                         col->header, i + 1);
                                return -EINVAL;
                        }
                        m->single[col->field] = (int) i;
                }
        }
        *ret = TAKE_PTR(m);
        return 0;
}

size_t header_map_missing(const HeaderMap *m, Field out[3]) {
        static const Field required[] = { FIELD_EMAIL, FIELD_FIRST_NAME, FIELD_LAST_NAME };
        size_t k = 0;
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (m->single[required[i]] < 0)
                        out[k++] = required[i];
        return k;
}

/* Trims ASCII white space and no-break spaces from both ends. */
static void trim(const char **s, size_t *len) {
        const char *p = *s;
        size_t n = *len;
        for (;;) {
                if (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                        p++, n--;
                else if (n >= 2 && (unsigned char) p[0] == 0xC2 && (unsigned char) p[1] == 0xA0)
                        p += 2, n -= 2;
                else
                        break;
        }
        for (;;) {
                if (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
                        n--;
                else if (n >= 2 && (unsigned char) p[n - 2] == 0xC2 && (unsigned char) p[n - 1] == 0xA0)
                        n -= 2;
                else
                        break;
        }
        *s = p;
        *len = n;
}

/* A record's cell, trimmed; "" for a cell the record does not have. */
static const char *cell(const CsvRecord *rec, size_t col, size_t *ret_len) {
        const char *s = col < rec->n_cells ? rec->cells[col] : "";
        size_t len = col < rec->n_cells ? rec->lens[col] : 0;
        trim(&s, &len);
        *ret_len = len;
        return s;
}

/* Copies a trimmed cell into the arena (without the formula guard of a
 * round-tripped error CSV, trimmed again after it). */
static const char *take(const HeaderMap *m, Arena *a, const char *s, size_t len) {
        char *p = arena_strndup(a, s, len);
        if (!p || !m->roundtrip)
                return p;
        len = csv_unguard_formula(p, len);
        const char *q = p;
        trim(&q, &len);
        ((char *) q)[len] = '\0';
        return q;
}

int header_map_extract(const HeaderMap *m, const CsvRecord *rec, unsigned long row_number, Arena *a,
                       ImportRow *row) {
        *row = (ImportRow){ .line = rec->line, .row = row_number };

        for (int f = FIELD_FIRST_NAME; f < FIELD_CUSTOM; f++) {
                int col = m->single[f];
                if (col < 0 || f == FIELD_UPN)
                        continue;
                size_t len;
                const char *s = cell(rec, (size_t) col, &len);
                if (!(row->value[f] = take(m, a, s, len)))
                        return -ENOMEM;
        }
        if (m->n_upn_columns) {
                row->value[FIELD_UPN] = "";
                row->upns = arena_alloc(a, m->n_upn_columns * sizeof *row->upns);
                if (!row->upns)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_upn_columns; i++) {
                size_t len;
                const char *s = cell(rec, m->upn_columns[i], &len);
                if (len && !(row->upns[row->n_upns++] = take(m, a, s, len)))
                        return -ENOMEM;
        }
        if (m->n_custom_columns) {
                row->custom = arena_alloc(a, m->n_custom_columns * sizeof *row->custom);
                if (!row->custom)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_custom_columns; i++) {
                size_t col = m->custom_columns[i], len;
                const char *s = cell(rec, col, &len);
                if (!len)
                        continue;
                CustomValue *cv = &row->custom[row->n_custom++];
                cv->key = m->columns[col].custom_key;
                if (!(cv->value = take(m, a, s, len)))
                        return -ENOMEM;
        }
        for (size_t col = m->n_columns; col < rec->n_cells; col++) {
                /* Cells past the last heading. */
                size_t len;
                (void) cell(rec, col, &len);
                if (len)
                        row->n_extra++;
        }
        return 0;
}
