/* Row rules: checks one row of an import and turns it into the user it
 * describes. Pure: the account's roles and teams come in a RuleContext;
 * the checks that need the database (unknown_establishment, in-file
 * duplicates across batches, already_exists, not_found) are made by the
 * job runner, which adds its findings with row_rules_add_issue().
 *
 * Every rule that fails adds an issue; a row may carry several. Codes are
 * stable (SPEC section 5). Messages never repeat the cell's contents
 * (they are personal data, and an unknown role or team may be a typo of
 * anything): they name the account's own roles, and unknown teams by
 * their position in the cell.
 *
 * Ownership: strings and issues of a UserRow live in the Arena passed in. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "header_map.h"

/* Length limits, in characters. */
#define RULE_MAX_EMAIL 254
#define RULE_MAX_NAME 100
#define RULE_MAX_JOB_TITLE 150
#define RULE_MAX_PHONE 40
#define RULE_MAX_CUSTOM 500
#define RULE_MAX_ROLE 100
#define RULE_MAX_TEAMS 1000
#define RULE_MAX_LINKS 1000 /* a link cell, all its emails */

#define URN_KEEP (-1)

typedef struct RoleInfo {
        int64_t id;
        char *key;
        char *name;
        bool needs_establishment;
        bool may_have_pupils;
} RoleInfo;

typedef struct TeamInfo {
        int64_t id;
        char *name;
} TeamInfo;

typedef struct RuleContext {
        const RoleInfo *roles;
        size_t n_roles;
        const TeamInfo *teams;
        size_t n_teams;
        const RoleInfo *default_role; /* the import's role option, or NULL */
} RuleContext;

typedef enum Severity {
        SEVERITY_ERROR,
        SEVERITY_WARNING,
} Severity;

/* "error" or "warning"; static storage. */
const char *row_rules_severity_name(Severity s);

typedef struct RowIssue {
        Severity severity;
        const char *field; /* "email", "upn", "custom.lone_working", "row" */
        const char *code;
        const char *message;
} RowIssue;

/* The users a row links its user to, for one kind: the emails of a
 * non-blank link cell, which replace the user's links of that kind. */
typedef struct UserLinks {
        const char *kind;
        const char *field; /* "link.<kind>", for issues */
        const char **emails; /* lower case, distinct */
        size_t n;
} UserLinks;

typedef struct UserRow {
        unsigned long line, row;
        const char *email; /* as given, trimmed; NULL when invalid */
        const char *email_lower;
        const char *first_name, *last_name;
        const char *job_title; /* NULL: leave the stored value alone */
        const char *phone; /* NULL: leave alone */
        int32_t urn; /* URN_KEEP, 0 (not linked) or the URN */
        const RoleInfo *role;
        int8_t active; /* -1 leave alone, 0, 1 */
        const char **upns; /* upper case, distinct */
        size_t n_upns;
        bool set_pupils; /* replace the user's pupils with upns */
        int64_t *team_ids;
        size_t n_teams;
        bool set_teams; /* replace the user's teams with team_ids */
        const CustomValue *custom;
        size_t n_custom;
        UserLinks *links;
        size_t n_links;

        RowIssue *issues;
        size_t n_issues, cap_issues;
        bool failed; /* at least one issue is an error */
} UserRow;

/* Checks a row and fills *out. Returns 0 (whether or not the row passed:
 * see out->failed and out->issues) or -ENOMEM. */
int row_rules_check(const RuleContext *ctx, const ImportRow *in, Arena *a, UserRow *out) _must_check_;

/* Adds an issue to a row (message copied into the arena). 0 or -ENOMEM. */
int row_rules_add_issue(UserRow *row, Arena *a, Severity severity, const char *field, const char *code,
                        const char *message) _must_check_;

/* Finds a role by key or display name, case-insensitively. */
const RoleInfo *row_rules_find_role(const RoleInfo *roles, size_t n, const char *s);

/* The single checks, exposed for tests and for roster-admin. */
bool row_rules_email_is_valid(const char *s, size_t len);
bool row_rules_phone_is_valid(const char *s, size_t len);
/* Parses a URN cell: "" -> URN_KEEP, "0" -> 0, six digits -> the number.
 * -EINVAL otherwise. */
int row_rules_urn_parse(const char *s, int32_t *ret);
/* 0 when valid (13 characters of A-Z0-9 after upper-casing, with the right
 * check letter where it has the DfE form); -EINVAL when not 13 of A-Z0-9;
 * -EBADMSG for a wrong check letter, with the right one in *ret_expected. */
int row_rules_upn_check(const char *upper, char *ret_expected);
/* 1/0/true/false/yes/no/active/archived -> 1 or 0; -EINVAL otherwise. */
int row_rules_active_parse(const char *s, int8_t *ret);
/* True when s holds a control character (C0, DEL, C1) or U+FFFD. */
bool row_rules_has_control(const char *s, size_t len);
