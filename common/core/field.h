/* The user fields a file's columns can hold, their names, and how the
 * headings of files are matched to them (case- and space-insensitively,
 * against the headings of the systems roster replaces). Pure. */
#pragma once

#include <stddef.h>

typedef enum Field {
        FIELD_NONE,
        FIELD_FIRST_NAME,
        FIELD_LAST_NAME,
        FIELD_EMAIL,
        FIELD_JOB_TITLE,
        FIELD_PHONE,
        FIELD_URN,
        FIELD_UPN,
        FIELD_ROLE,
        FIELD_ACTIVE,
        FIELD_TEAMS,
        FIELD_CUSTOM,
        FIELD_LINK, /* link.<kind>: other users of the account, by email */
        FIELD_IGNORE, /* column_map said "ignore", or roster's own line/error columns */
        _FIELD_MAX,
} Field;

/* Link kinds and custom keys: a-z, 0-9 and _, at most this long. */
#define FIELD_KEY_MAX 64

/* "first_name", ... "custom", "link", "ignore". */
const char *field_name(Field f);
/* A heading for messages: "First name", "Email". */
const char *field_label(Field f);
/* The field named by a column_map target ("email", "upn", "custom.x" ->
 * FIELD_CUSTOM with *ret_key = "x", "link.manager" -> FIELD_LINK with
 * *ret_key = "manager", "ignore"); field names in any case. -EINVAL when
 * unknown. */
int field_from_target(const char *target, Field *ret, const char **ret_key);

/* Normalises a heading for matching: ASCII lower case, whitespace and
 * no-break spaces removed. Writes at most size-1 bytes and a NUL. */
void field_normalize_heading(const char *s, size_t len, char *out, size_t size);
/* The field a normalised heading names (an alias or a field's own name),
 * or FIELD_NONE. A link column ("link.<kind>", or an alias of the
 * manager link such as "Manager Email") gives FIELD_LINK and its kind in
 * *ret_key, which points into norm or a static string. */
Field field_match_heading(const char *norm, const char **ret_key);

/* The heading roster's own files give a link kind's column: "Manager
 * Email" for manager, "link.<kind>" for the others. Writes at most
 * size-1 bytes and a NUL. */
void field_link_heading(const char *kind, char *out, size_t size);
