/* The options of an upload (form fields of a multipart body, or query
 * parameters of a raw text/csv body): role, mode, invite, dry_run,
 * delimiter, column_map, callback_url, missing, change_threshold. Unknown names and bad values are refused with a
 * message naming them (400). */
#pragma once

#include <stdbool.h>

#include "app.h"
#include "header_map.h"
#include "user_store.h"

typedef struct ImportOptions {
        const char *role; /* the role's key once checked, or NULL */
        ImportMode mode;
        InviteMode invite;
        bool dry_run;
        char delimiter; /* 0: detect */
        ColumnMap *column_map; /* owned */
        char *column_map_json; /* owned: normalised JSON text, or NULL */
        char *role_key; /* owned */
        char *callback_url; /* owned: checked (webhook.h), or NULL */
        MissingMode missing;
        int change_threshold; /* percent, for missing=archive */
} ImportOptions;

/* Frees what the options own (not o itself). */
void import_options_done(ImportOptions *o);

/* Reads the options from map (skipping the names in `ignore`, NULL-ended),
 * checks the role against the account's roles. Returns 0 (release *o with
 * import_options_done()), or a status with a problem response set (400;
 * 503 when the database failed) and nothing left to release. */
unsigned import_options_parse(Request *r, const struct _u_map *map, const char *const *ignore, ImportOptions *o);

/* A file name as given by a client made fit to store and show: the last
 * path component, Windows-1252 when it is not UTF-8, no control
 * characters, at most 255 bytes (not cutting a character). NULL when
 * nothing is left or out of memory. Free it. */
char *import_options_filename(const char *name);

/* Parses just the delimiter option value: ",", ";", "\t" (or the words
 * comma, semicolon, tab), "auto" or empty for detection. -EINVAL else. */
int import_options_delimiter(const char *s, char *ret);
