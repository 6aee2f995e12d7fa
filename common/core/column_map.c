#include "column_map.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

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
                                 "column_map: the target for \"%.*s\" must be one of first_name, last_name, "
                                 "email, job_title, phone, urn, upn, role, active, teams, ignore, "
                                 "custom.<key> or link.<kind> (key, kind: a-z, 0-9, _; at most 64)",
                                 (int) utf8_truncate(key, strlen(key), 100), key);
                        r = -EINVAL;
                        goto out;
                }
                char norm[256];
                field_normalize_heading(key, strlen(key), norm, sizeof norm);
                if (!*norm) {
                        snprintf(err, err_size, "column_map: a header name must not be empty");
                        r = -EINVAL;
                        goto out;
                }
                for (size_t i = 0; i < m->n; i++)
                        if (strcmp(m->entries[i].header_norm, norm) == 0) {
                                snprintf(err, err_size, "column_map: \"%.*s\" is given twice",
                                         (int) utf8_truncate(key, strlen(key), 100), key);
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
