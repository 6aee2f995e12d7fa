#include "field.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

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
        [FIELD_LINK] = { "link", "Link" },
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

/* The headings of the manager link (link.manager). */
static const char *const manager_aliases[] = {
        "Manager Email", "Manager E-mail", "Manager Email Address", "Line Manager Email", "manager_email",
};

const char *field_name(Field f) {
        return f < _FIELD_MAX ? fields[f].name : "none";
}

const char *field_label(Field f) {
        return f < _FIELD_MAX ? fields[f].label : "none";
}

static bool valid_key(const char *k) {
        size_t n = strlen(k);
        if (n == 0 || n > FIELD_KEY_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char) k[i]) && !isdigit((unsigned char) k[i]) && k[i] != '_')
                        return false;
        return true;
}

int field_from_target(const char *target, Field *ret, const char **ret_key) {
        if (strncmp(target, "custom.", 7) == 0) {
                if (!valid_key(target + 7))
                        return -EINVAL;
                *ret = FIELD_CUSTOM;
                if (ret_key)
                        *ret_key = target + 7;
                return 0;
        }
        if (strncmp(target, "link.", 5) == 0) {
                if (!valid_key(target + 5))
                        return -EINVAL;
                *ret = FIELD_LINK;
                if (ret_key)
                        *ret_key = target + 5;
                return 0;
        }
        for (int f = FIELD_FIRST_NAME; f < _FIELD_MAX; f++)
                if (f != FIELD_CUSTOM && f != FIELD_LINK && strcasecmp(target, fields[f].name) == 0) {
                        *ret = (Field) f;
                        if (ret_key)
                                *ret_key = NULL;
                        return 0;
                }
        return -EINVAL;
}

void field_normalize_heading(const char *s, size_t len, char *out, size_t size) {
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

Field field_match_heading(const char *norm, const char **ret_key) {
        char a[128];
        *ret_key = NULL;
        if (strncmp(norm, "link.", 5) == 0 && valid_key(norm + 5)) {
                *ret_key = norm + 5;
                return FIELD_LINK;
        }
        for (size_t i = 0; i < ELEMENTSOF(manager_aliases); i++) {
                field_normalize_heading(manager_aliases[i], strlen(manager_aliases[i]), a, sizeof a);
                if (strcmp(norm, a) == 0) {
                        *ret_key = "manager";
                        return FIELD_LINK;
                }
        }
        for (int f = FIELD_FIRST_NAME; f < FIELD_CUSTOM; f++)
                if (strcmp(norm, fields[f].name) == 0)
                        return (Field) f;
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++) {
                field_normalize_heading(aliases[i].alias, strlen(aliases[i].alias), a, sizeof a);
                if (strcmp(norm, a) == 0)
                        return aliases[i].field;
        }
        return FIELD_NONE;
}

void field_link_heading(const char *kind, char *out, size_t size) {
        if (strcmp(kind, "manager") == 0)
                snprintf(out, size, "%s", manager_aliases[0]);
        else
                snprintf(out, size, "link.%s", kind);
}
