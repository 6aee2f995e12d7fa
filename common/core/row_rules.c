#include "row_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "text_decode.h"

const char *row_rules_severity_name(Severity s) {
        return s == SEVERITY_WARNING ? "warning" : "error";
}

int row_rules_add_issue(UserRow *row, Arena *a, Severity severity, const char *field, const char *code,
                        const char *message) {
        if (row->n_issues == row->cap_issues) {
                size_t cap = row->cap_issues ? row->cap_issues * 2 : 4;
                RowIssue *items = arena_alloc(a, cap * sizeof *items);
                if (!items)
                        return -ENOMEM;
                if (row->n_issues)
                        memcpy(items, row->issues, row->n_issues * sizeof *items);
                row->issues = items;
                row->cap_issues = cap;
        }
        char *msg = arena_strdup(a, message);
        if (!msg)
                return -ENOMEM;
        row->issues[row->n_issues++] = (RowIssue){
                .severity = severity,
                .field = field,
                .code = code,
                .message = msg,
        };
        if (severity == SEVERITY_ERROR)
                row->failed = true;
        return 0;
}

bool row_rules_has_control(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7F)
                        return true;
                /* C1 controls are U+0080..U+009F: C2 80..C2 9F in UTF-8. */
                if (c == 0xC2 && i + 1 < len && (unsigned char) s[i + 1] <= 0x9F)
                        return true;
                if (c == 0xEF && i + 2 < len && (unsigned char) s[i + 1] == 0xBF && (unsigned char) s[i + 2] == 0xBD)
                        return true;
        }
        return false;
}

static bool is_atext(unsigned char c) {
        return isalnum(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

bool row_rules_email_is_valid(const char *s, size_t len) {
        if (len < 6 || len > RULE_MAX_EMAIL)
                return false;
        const char *at = memchr(s, '@', len);
        if (!at || memchr(at + 1, '@', len - (size_t) (at - s) - 1))
                return false;

        /* Local part: dot-separated atoms of atext, at most 64. */
        size_t local = (size_t) (at - s);
        if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
                return false;
        for (size_t i = 0; i < local; i++) {
                if (s[i] == '.') {
                        if (s[i + 1] == '.')
                                return false;
                } else if (!is_atext((unsigned char) s[i]))
                        return false;
        }

        /* Domain: at least two labels of letters, digits and inner hyphens,
         * the last (the TLD) of letters or an xn-- form. */
        const char *d = at + 1;
        size_t dlen = len - local - 1;
        if (dlen < 4 || dlen > 253)
                return false;
        size_t labels = 0, start = 0;
        for (size_t i = 0; i <= dlen; i++) {
                if (i < dlen && d[i] != '.') {
                        if (!isalnum((unsigned char) d[i]) && d[i] != '-')
                                return false;
                        continue;
                }
                size_t l = i - start;
                if (l == 0 || l > 63 || d[start] == '-' || d[i - 1] == '-')
                        return false;
                labels++;
                if (i == dlen) {
                        /* The TLD. */
                        bool alpha = l >= 2;
                        for (size_t k = start; k < i && alpha; k++)
                                alpha = isalpha((unsigned char) d[k]);
                        bool idn = l > 4 && strncasecmp(d + start, "xn--", 4) == 0;
                        if (!alpha && !idn)
                                return false;
                }
                start = i + 1;
        }
        return labels >= 2;
}

bool row_rules_phone_is_valid(const char *s, size_t len) {
        size_t digits = 0;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (isdigit((unsigned char) c))
                        digits++;
                else if (c == '+') {
                        /* Only as the international prefix. */
                        if (digits)
                                return false;
                } else if (!strchr("()-. ", c))
                        return false;
        }
        return digits >= 7 && digits <= 15;
}

int row_rules_urn_parse(const char *s, int32_t *ret) {
        size_t len = strlen(s);
        if (len == 0) {
                *ret = URN_KEEP;
                return 0;
        }
        if (len == 1 && s[0] == '0') {
                *ret = 0;
                return 0;
        }
        if (len != 6)
                return -EINVAL;
        int32_t v = 0;
        for (size_t i = 0; i < 6; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        if (v == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

static const char upn_alphabet[] = "ABCDEFGHJKLMNPQRTUVWXYZ";

int row_rules_upn_check(const char *u, char *ret_expected) {
        if (strlen(u) != 13)
                return -EINVAL;
        for (size_t i = 0; i < 13; i++)
                if (!isupper((unsigned char) u[i]) && !isdigit((unsigned char) u[i]))
                        return -EINVAL;

        /* The DfE form: a check letter, 11 digits, then a digit or (for a
         * temporary UPN) a letter. */
        if (!isupper((unsigned char) u[0]))
                return 0;
        for (size_t i = 1; i < 12; i++)
                if (!isdigit((unsigned char) u[i]))
                        return 0;

        unsigned sum = 0;
        for (unsigned i = 1; i < 13; i++) {
                unsigned v;
                if (isdigit((unsigned char) u[i]))
                        v = (unsigned) (u[i] - '0');
                else {
                        const char *p = strchr(upn_alphabet, u[i]);
                        if (!p)
                                return -EINVAL; /* I, O and S are never used */
                        v = (unsigned) (p - upn_alphabet);
                }
                sum += v * (i + 1);
        }
        char expected = upn_alphabet[sum % 23];
        if (u[0] != expected) {
                if (ret_expected)
                        *ret_expected = expected;
                return -EBADMSG;
        }
        return 0;
}

int row_rules_active_parse(const char *s, int8_t *ret) {
        static const char *const yes[] = { "1", "true", "yes", "active" };
        static const char *const no[] = { "0", "false", "no", "archived" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = 1;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = 0;
                        return 0;
                }
        return -EINVAL;
}

const RoleInfo *row_rules_find_role(const RoleInfo *roles, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(roles[i].key, s) == 0 || strcasecmp(roles[i].name, s) == 0)
                        return &roles[i];
        return NULL;
}

static const TeamInfo *find_team(const RuleContext *ctx, const char *s, size_t len) {
        for (size_t i = 0; i < ctx->n_teams; i++)
                if (strlen(ctx->teams[i].name) == len && strncasecmp(ctx->teams[i].name, s, len) == 0)
                        return &ctx->teams[i];
        return NULL;
}

#define ADD(sev, field, code, msg)                                                 \
        do {                                                                       \
                if (row_rules_add_issue(out, a, (sev), (field), (code), (msg)) < 0) \
                        return -ENOMEM;                                            \
        } while (0)

/* too_long and invalid_text apply to every text field the same way.
 * Returns 1 when the value may be used, 0 when an issue was added. */
static int check_text(UserRow *out, Arena *a, Field f, const char *v, size_t max, int *err) {
        size_t len = strlen(v);
        char msg[160];
        int ok = 1;

        if (row_rules_has_control(v, len)) {
                snprintf(msg, sizeof msg,
                         "%s contains a control character, a line break or a character that could not be "
                         "decoded",
                         field_label(f));
                if (row_rules_add_issue(out, a, SEVERITY_ERROR, field_name(f), "invalid_text", msg) < 0)
                        *err = -ENOMEM;
                ok = 0;
        }
        if (utf8_length(v, len) > max) {
                snprintf(msg, sizeof msg, "%s is longer than %zu characters", field_label(f), max);
                if (row_rules_add_issue(out, a, SEVERITY_ERROR, field_name(f), "too_long", msg) < 0)
                        *err = -ENOMEM;
                ok = 0;
        }
        return ok;
}

static int check_required_name(UserRow *out, Arena *a, const ImportRow *in, Field f, const char **dst) {
        const char *v = in->value[f];
        int err = 0;
        char msg[96];

        if (!v || !*v) {
                snprintf(msg, sizeof msg, "%s is required", field_label(f));
                return row_rules_add_issue(out, a, SEVERITY_ERROR, field_name(f), "required", msg);
        }
        if (check_text(out, a, f, v, RULE_MAX_NAME, &err))
                *dst = v;
        return err;
}

/* An optional text field: blank leaves the stored value alone (NULL). */
static int check_optional(UserRow *out, Arena *a, const ImportRow *in, Field f, size_t max, const char **dst) {
        const char *v = in->value[f];
        int err = 0;

        *dst = NULL;
        if (!v || !*v)
                return 0;
        if (check_text(out, a, f, v, max, &err))
                *dst = v;
        return err;
}

static int check_email(const ImportRow *in, Arena *a, UserRow *out) {
        const char *v = in->value[FIELD_EMAIL];

        if (!v || !*v) {
                ADD(SEVERITY_ERROR, "email", "required", "Email is required");
                return 0;
        }
        size_t len = strlen(v);
        if (row_rules_has_control(v, len)) {
                ADD(SEVERITY_ERROR, "email", "invalid_text",
                    "Email contains a control character, a line break or a character that could not be decoded");
                return 0;
        }
        /* Its lengths (64 before the @, 254 in all) are part of being a
         * valid address: invalid_email, not too_long. */
        if (!row_rules_email_is_valid(v, len)) {
                ADD(SEVERITY_ERROR, "email", "invalid_email",
                    "Email is not a valid address: expected local@domain.tld, at most 64 characters before the @ "
                    "and 254 in all");
                return 0;
        }
        char *lower = arena_strndup(a, v, len);
        if (!lower)
                return -ENOMEM;
        for (char *p = lower; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        out->email = v;
        out->email_lower = lower;
        return 0;
}

static int check_role(const RuleContext *ctx, const ImportRow *in, Arena *a, UserRow *out) {
        const char *v = in->value[FIELD_ROLE];
        int err = 0;

        if (!v || !*v) {
                if (ctx->default_role) {
                        out->role = ctx->default_role;
                        return 0;
                }
                ADD(SEVERITY_ERROR, "role", "required",
                    "Role is required: fill the Role column or give the import a role option");
                return 0;
        }
        if (!check_text(out, a, FIELD_ROLE, v, RULE_MAX_ROLE, &err))
                return err;
        out->role = row_rules_find_role(ctx->roles, ctx->n_roles, v);
        if (!out->role) {
                Buf msg = BUF_INIT;
                int r = buf_append_str(&msg, "The role is not a role of this account; known roles:");
                for (size_t i = 0; r >= 0 && i < ctx->n_roles; i++)
                        r = buf_printf(&msg, "%s %s (%s)", i ? "," : "", ctx->roles[i].name, ctx->roles[i].key);
                if (r >= 0)
                        r = row_rules_add_issue(out, a, SEVERITY_ERROR, "role", "unknown_role", buf_str(&msg));
                buf_done(&msg);
                return r;
        }
        return 0;
}

static int check_upns(const ImportRow *in, Arena *a, UserRow *out) {
        if (in->n_upns == 0)
                return 0;
        const char **upns = arena_alloc(a, in->n_upns * sizeof *upns);
        if (!upns)
                return -ENOMEM;
        size_t n = 0;
        /* All the bad UPNs of a row make one issue, however many columns
         * the file has. */
        Buf msg = BUF_INIT;
        size_t n_bad = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < in->n_upns; i++) {
                char *u = arena_strdup(a, in->upns[i]);
                if (!u) {
                        r = -ENOMEM;
                        break;
                }
                for (char *p = u; *p; p++)
                        *p = (char) toupper((unsigned char) *p);
                char expected = 0;
                int k = row_rules_upn_check(u, &expected);
                if (k == 0) {
                        bool dup = false;
                        for (size_t j = 0; j < n && !dup; j++)
                                dup = strcmp(upns[j], u) == 0;
                        if (!dup)
                                upns[n++] = u;
                        continue;
                }
                if (n_bad++ < 10) {
                        if (k == -EBADMSG)
                                r = buf_printf(&msg, "%sUPN %zu has the wrong check letter (the first character should be %c)",
                                               n_bad > 1 ? "; " : "", i + 1, expected);
                        else
                                r = buf_printf(&msg, "%sUPN %zu is not 13 letters and digits", n_bad > 1 ? "; " : "",
                                               i + 1);
                } else if (n_bad == 11)
                        r = buf_append_str(&msg, "; and more");
        }
        if (r >= 0 && n_bad)
                r = row_rules_add_issue(out, a, SEVERITY_ERROR, "upn", "invalid_upn", buf_str(&msg));
        else if (r >= 0) {
                out->upns = upns;
                out->n_upns = n;
        }
        buf_done(&msg);
        return r;
}

/* Cells that list several items separate them: teams with ';' or '|',
 * linked users' emails with ';' or ',' (which, unlike '|', no email
 * holds). list_cap() is how many a cell may hold at most; list_next()
 * gives the next non-blank one, trimmed of spaces and tabs, and false
 * after the last. */
#define TEAM_SEPARATORS ";|"
#define EMAIL_SEPARATORS ";,"

static size_t list_cap(const char *v, const char *separators) {
        size_t cap = 1;
        for (const char *p = v; *p; p++)
                if (strchr(separators, *p))
                        cap++;
        return cap;
}

static bool list_next(const char **cursor, const char *separators, const char **ret, size_t *ret_len) {
        for (const char *p = *cursor; p;) {
                size_t l = strcspn(p, separators);
                const char *s = p;
                p = p[l] ? p + l + 1 : NULL;
                while (l && (*s == ' ' || *s == '\t'))
                        s++, l--;
                while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
                        l--;
                if (l) {
                        *cursor = p;
                        *ret = s;
                        *ret_len = l;
                        return true;
                }
        }
        *cursor = NULL;
        return false;
}

static int check_teams(const RuleContext *ctx, const ImportRow *in, Arena *a, UserRow *out) {
        const char *v = in->value[FIELD_TEAMS];
        int err = 0;

        if (!v || !*v)
                return 0;
        if (!check_text(out, a, FIELD_TEAMS, v, RULE_MAX_TEAMS, &err))
                return err;

        int64_t *ids = arena_alloc(a, list_cap(v, TEAM_SEPARATORS) * sizeof *ids);
        if (!ids)
                return -ENOMEM;
        size_t n = 0;
        Buf unknown = BUF_INIT;
        size_t n_unknown = 0, position = 0, l;
        int r = 0;

        for (const char *p = v, *s; r >= 0 && list_next(&p, TEAM_SEPARATORS, &s, &l);) {
                position++;
                const TeamInfo *t = find_team(ctx, s, l);
                if (t) {
                        bool dup = false;
                        for (size_t j = 0; j < n && !dup; j++)
                                dup = ids[j] == t->id;
                        if (!dup)
                                ids[n++] = t->id;
                } else
                        r = buf_printf(&unknown, "%s%zu", n_unknown++ ? ", " : "", position);
        }
        if (r >= 0 && n_unknown) {
                char *msg = arena_printf(a,
                                         "The %s at %s %s of this cell %s not exist in this account; teams must be "
                                         "created first",
                                         n_unknown > 1 ? "teams" : "team", n_unknown > 1 ? "positions" : "position",
                                         buf_str(&unknown), n_unknown > 1 ? "do" : "does");
                r = msg ? row_rules_add_issue(out, a, SEVERITY_ERROR, "teams", "unknown_team", msg) : -ENOMEM;
        } else if (r >= 0) {
                out->team_ids = ids;
                out->n_teams = n;
                out->set_teams = true;
        }
        buf_done(&unknown);
        return r;
}

static int check_custom(const ImportRow *in, Arena *a, UserRow *out) {
        for (size_t i = 0; i < in->n_custom; i++) {
                const CustomValue *cv = &in->custom[i];
                size_t len = strlen(cv->value);
                char *field = arena_printf(a, "custom.%s", cv->key);
                char msg[160];
                if (!field)
                        return -ENOMEM;
                if (row_rules_has_control(cv->value, len)) {
                        snprintf(msg, sizeof msg, "custom.%s contains a control character or a line break",
                                 cv->key);
                        ADD(SEVERITY_ERROR, field, "invalid_text", msg);
                }
                if (utf8_length(cv->value, len) > RULE_MAX_CUSTOM) {
                        snprintf(msg, sizeof msg, "custom.%s is longer than %d characters", cv->key,
                                 RULE_MAX_CUSTOM);
                        ADD(SEVERITY_ERROR, field, "too_long", msg);
                }
        }
        out->custom = in->custom;
        out->n_custom = in->n_custom;
        return 0;
}

/* Link cells: one or more emails separated by ';' or ','. Whether the
 * users exist is for the job runner to find (unknown_user). */
static int check_links(const ImportRow *in, Arena *a, UserRow *out) {
        if (!in->n_links)
                return 0;
        out->links = arena_alloc(a, in->n_links * sizeof *out->links);
        if (!out->links)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_links; i++) {
                const LinkValue *lv = &in->links[i];
                char *field = arena_printf(a, "link.%s", lv->key);
                char msg[200];
                size_t len = strlen(lv->value);
                if (!field)
                        return -ENOMEM;
                if (row_rules_has_control(lv->value, len)) {
                        snprintf(msg, sizeof msg, "%s contains a control character or a line break", field);
                        ADD(SEVERITY_ERROR, field, "invalid_text", msg);
                        continue;
                }
                if (utf8_length(lv->value, len) > RULE_MAX_LINKS) {
                        snprintf(msg, sizeof msg, "%s is longer than %d characters", field, RULE_MAX_LINKS);
                        ADD(SEVERITY_ERROR, field, "too_long", msg);
                        continue;
                }
                const char **emails = arena_alloc(a, list_cap(lv->value, EMAIL_SEPARATORS) * sizeof *emails);
                if (!emails)
                        return -ENOMEM;
                size_t n = 0, position = 0, el;
                Buf bad = BUF_INIT;
                size_t n_bad = 0;
                int r = 0;
                for (const char *p = lv->value, *e; r >= 0 && list_next(&p, EMAIL_SEPARATORS, &e, &el);) {
                        position++;
                        if (!row_rules_email_is_valid(e, el)) {
                                r = buf_printf(&bad, "%s%zu", n_bad++ ? ", " : "", position);
                                continue;
                        }
                        char *lower = arena_strndup(a, e, el);
                        if (!lower) {
                                r = -ENOMEM;
                                break;
                        }
                        for (char *c = lower; *c; c++)
                                *c = (char) tolower((unsigned char) *c);
                        bool dup = false;
                        for (size_t j = 0; j < n && !dup; j++)
                                dup = strcmp(emails[j], lower) == 0;
                        if (!dup)
                                emails[n++] = lower;
                }
                if (r >= 0 && n_bad) {
                        char *m = arena_printf(a, "%s: the %s at %s %s of this cell %s not a valid address",
                                               field, n_bad > 1 ? "emails" : "email",
                                               n_bad > 1 ? "positions" : "position", buf_str(&bad),
                                               n_bad > 1 ? "are" : "is");
                        r = m ? row_rules_add_issue(out, a, SEVERITY_ERROR, field, "invalid_email", m) : -ENOMEM;
                } else if (r >= 0 && n > 0)
                        out->links[out->n_links++] = (UserLinks){ lv->key, field, emails, n };
                buf_done(&bad);
                if (r < 0)
                        return r;
        }
        return 0;
}

int row_rules_check(const RuleContext *ctx, const ImportRow *in, Arena *a, UserRow *out) {
        int r;

        *out = (UserRow){ .line = in->line, .row = in->row, .urn = URN_KEEP, .active = -1 };

        if ((r = check_email(in, a, out)) < 0)
                return r;
        if ((r = check_required_name(out, a, in, FIELD_FIRST_NAME, &out->first_name)) < 0)
                return r;
        if ((r = check_required_name(out, a, in, FIELD_LAST_NAME, &out->last_name)) < 0)
                return r;
        if ((r = check_optional(out, a, in, FIELD_JOB_TITLE, RULE_MAX_JOB_TITLE, &out->job_title)) < 0)
                return r;

        const char *phone = NULL;
        if ((r = check_optional(out, a, in, FIELD_PHONE, RULE_MAX_PHONE, &phone)) < 0)
                return r;
        if (phone && !row_rules_phone_is_valid(phone, strlen(phone)))
                ADD(SEVERITY_ERROR, "phone", "invalid_phone",
                    "Phone must be 7 to 15 digits, optionally with a leading + and ( ) - . or spaces");
        else
                out->phone = phone;

        const char *urn = in->value[FIELD_URN];
        if (urn && row_rules_has_control(urn, strlen(urn)))
                ADD(SEVERITY_ERROR, "urn", "invalid_text", "URN contains a control character");
        else if (urn && row_rules_urn_parse(urn, &out->urn) < 0)
                ADD(SEVERITY_ERROR, "urn", "invalid_urn",
                    "URN must be the establishment's 6-digit number, or 0 or blank when not linked yet");

        if ((r = check_role(ctx, in, a, out)) < 0)
                return r;

        const char *active = in->value[FIELD_ACTIVE];
        if (active && *active && row_rules_active_parse(active, &out->active) < 0)
                ADD(SEVERITY_ERROR, "active", "invalid_active",
                    "Active must be one of 1, 0, true, false, yes, no, active, archived");

        if ((r = check_upns(in, a, out)) < 0)
                return r;
        if ((r = check_teams(ctx, in, a, out)) < 0)
                return r;
        if ((r = check_custom(in, a, out)) < 0)
                return r;
        if ((r = check_links(in, a, out)) < 0)
                return r;

        if (in->n_extra) {
                char msg[200];
                snprintf(msg, sizeof msg,
                         "the row has %zu more filled cell%s than the header has columns; a value containing the "
                         "delimiter must be quoted",
                         in->n_extra, in->n_extra == 1 ? "" : "s");
                ADD(SEVERITY_ERROR, "row", "extra_cells", msg);
        }

        /* Warnings: only meaningful once the role is known. */
        if (out->role && out->role->needs_establishment && (out->urn == URN_KEEP || out->urn == 0) &&
            !(urn && *urn && out->urn == URN_KEEP))
                ADD(SEVERITY_WARNING, "urn", "establishment_missing",
                    "this role needs an establishment but the row gives no URN; the user is imported without "
                    "one");
        if (out->role && in->n_upns) {
                if (!out->role->may_have_pupils)
                        ADD(SEVERITY_WARNING, "upn", "upns_ignored",
                            "this role is not linked to pupils; the UPNs are ignored");
                else if (out->urn > 0)
                        ADD(SEVERITY_WARNING, "upn", "upns_ignored",
                            "the user is linked to an establishment, which overrides pupil links; the UPNs are "
                            "ignored");
                else if (out->n_upns)
                        out->set_pupils = true;
        }
        return 0;
}
