#include "import_options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "account_store.h"
#include "problem.h"
#include "row_rules.h"
#include "text_decode.h"
#include "webhook.h"

static const char *const known[] = { "role",         "mode",    "invite",           "dry_run", "delimiter",
                                     "column_map",   "missing", "change_threshold", "callback_url", NULL };

void import_options_done(ImportOptions *o) {
        column_map_free(o->column_map);
        free(o->column_map_json);
        free(o->role_key);
        free(o->callback_url);
        *o = (ImportOptions){ 0 };
}

int import_options_delimiter(const char *s, char *ret) {
        if (!s || !*s || strcasecmp(s, "auto") == 0)
                *ret = 0;
        else if (strcmp(s, ",") == 0 || strcasecmp(s, "comma") == 0)
                *ret = ',';
        else if (strcmp(s, ";") == 0 || strcasecmp(s, "semicolon") == 0)
                *ret = ';';
        else if (strcmp(s, "\t") == 0 || strcasecmp(s, "tab") == 0 || strcmp(s, "\\t") == 0)
                *ret = '\t';
        else
                return -EINVAL;
        return 0;
}

static bool listed(const char *name, const char *const *list) {
        for (size_t i = 0; list && list[i]; i++)
                if (strcmp(name, list[i]) == 0)
                        return true;
        return false;
}

static unsigned bad(Request *r, const char *name, const char *detail) {
        _cleanup_free_ char *clean_name = utf8_sanitize(name);
        _cleanup_free_ char *clean_detail = utf8_sanitize(detail);
        json_t *extra = json_pack("{s:[{s:s, s:s}]}", "errors", "name", clean_name ? clean_name : "", "message",
                                  clean_detail ? clean_detail : "");
        problem_with(r, 400, "invalid_option", "Invalid option", detail, extra);
        return 400;
}

static unsigned parse(Request *r, const struct _u_map *map, const char *const *ignore, ImportOptions *o);

/* A callback URL must be one roster may call, and the account must have a
 * secret to sign with. */
static unsigned parse_callback_url(Request *r, const char *v, ImportOptions *o) {
        char err[300];
        int k = webhook_url_check(v, r->app->cfg.webhook_allow_private, err, sizeof err);
        if (k == -ENOMEM) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        if (k == -EPERM) {
                json_t *extra = json_pack("{s:[{s:s, s:s}]}", "errors", "name", "callback_url", "message", err);
                problem_with(r, 400, "callback_url_refused", "Callback URL refused", err, extra);
                return 400;
        }
        if (k < 0)
                return bad(r, "callback_url", err);

        Db *db = request_db(r);
        if (!db)
                return 503;
        char secret[WEBHOOK_SECRET_SIZE];
        k = account_store_webhook_secret(db, r->auth.account_id, secret);
        if (k == -ENOENT)
                return bad(r, "callback_url",
                           "this account has no webhook secret to sign callbacks with; an operator makes one with "
                           "roster-admin webhook secret <account>");
        if (k < 0) {
                problem_database_unavailable(r);
                return 503;
        }
        if (!(o->callback_url = strdup(v))) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        return 0;
}

unsigned import_options_parse(Request *r, const struct _u_map *map, const char *const *ignore, ImportOptions *o) {
        *o = (ImportOptions){ .mode = IMPORT_MODE_UPSERT, .invite = INVITE_NEW_USERS, .missing = MISSING_KEEP,
                              .change_threshold = 10 };
        unsigned st = parse(r, map, ignore, o);
        if (st)
                import_options_done(o);
        return st;
}

static unsigned parse(Request *r, const struct _u_map *map, const char *const *ignore, ImportOptions *o) {
        const char **keys = map ? u_map_enum_keys(map) : NULL;
        for (size_t i = 0; keys && keys[i]; i++)
                if (!utf8_is_valid(keys[i], strlen(keys[i])))
                        return bad(r, keys[i], "an option name is not valid UTF-8 text");
        for (size_t i = 0; keys && keys[i]; i++) {
                if (listed(keys[i], known) || listed(keys[i], ignore))
                        continue;
                char detail[300];
                snprintf(detail, sizeof detail,
                         "unknown option \"%.100s\"; the options are role, mode, invite, dry_run, delimiter, "
                         "column_map, missing, change_threshold and callback_url",
                         keys[i]);
                return bad(r, keys[i], detail);
        }

        /* Values are echoed in messages and stored: they must be text. */
        for (size_t i = 0; keys && keys[i]; i++) {
                const char *val = u_map_get(map, keys[i]);
                size_t len = val ? strlen(val) : 0;
                if (val && (!utf8_is_valid(val, len) || row_rules_has_control(val, len))) {
                        char detail[160];
                        snprintf(detail, sizeof detail, "option \"%.40s\" is not valid UTF-8 text", keys[i]);
                        return bad(r, keys[i], detail);
                }
        }

        const char *v;
        if ((v = map ? u_map_get(map, "mode") : NULL) && import_mode_from_string(v, &o->mode) < 0)
                return bad(r, "mode", "mode must be upsert, create_only or update_only");
        if ((v = map ? u_map_get(map, "invite") : NULL) && invite_mode_from_string(v, &o->invite) < 0)
                return bad(r, "invite", "invite must be new_users or none");
        if ((v = map ? u_map_get(map, "dry_run") : NULL)) {
                if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                        o->dry_run = true;
                else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                        o->dry_run = false;
                else
                        return bad(r, "dry_run", "dry_run must be true or false");
        }
        if ((v = map ? u_map_get(map, "missing") : NULL) && missing_mode_from_string(v, &o->missing) < 0)
                return bad(r, "missing", "missing must be keep (the default) or archive");
        if ((v = map ? u_map_get(map, "change_threshold") : NULL)) {
                char *end;
                long t = strtol(v, &end, 10);
                if (!*v || *end || t < 0 || t > 100 || !(*v >= '0' && *v <= '9'))
                        return bad(r, "change_threshold", "change_threshold must be a whole percent from 0 to 100");
                if (o->missing != MISSING_ARCHIVE)
                        return bad(r, "change_threshold",
                                   "change_threshold guards missing=archive, and this import does not archive");
                o->change_threshold = (int) t;
        }
        if (import_options_delimiter(map ? u_map_get(map, "delimiter") : NULL, &o->delimiter) < 0)
                return bad(r, "delimiter", "delimiter must be \",\", \";\", tab, or auto (the default)");

        if ((v = map ? u_map_get(map, "column_map") : NULL) && *v) {
                char err[300];
                int k = column_map_parse(v, &o->column_map, err, sizeof err);
                if (k == -ENOMEM) {
                        problem(r, 500, "internal_error", "Internal error", "out of memory");
                        return 500;
                }
                if (k < 0)
                        return bad(r, "column_map", err);
                /* Stored as the client sent it; parsed again by the worker. */
                if (!(o->column_map_json = strdup(v))) {
                        problem(r, 500, "internal_error", "Internal error", "out of memory");
                        return 500;
                }
        }

        if ((v = map ? u_map_get(map, "callback_url") : NULL) && *v) {
                unsigned st = parse_callback_url(r, v, o);
                if (st)
                        return st;
        }

        if ((v = map ? u_map_get(map, "role") : NULL) && *v) {
                Db *db = request_db(r);
                if (!db)
                        return 503;
                RoleInfo *roles = NULL;
                size_t n = 0;
                if (account_store_roles_load(db, r->auth.account_id, &roles, &n) < 0) {
                        problem_database_unavailable(r);
                        return 503;
                }
                const RoleInfo *role = row_rules_find_role(roles, n, v);
                if (!role) {
                        Buf msg = BUF_INIT;
                        int k = buf_printf(&msg, "role \"%.100s\" is not a role of this account; known roles:", v);
                        for (size_t i = 0; k >= 0 && i < n; i++)
                                k = buf_printf(&msg, "%s %s (%s)", i ? "," : "", roles[i].name, roles[i].key);
                        account_store_roles_free(roles, n);
                        unsigned st = bad(r, "role", buf_str(&msg));
                        buf_done(&msg);
                        return st;
                }
                o->role_key = strdup(role->key);
                account_store_roles_free(roles, n);
                if (!o->role_key) {
                        problem(r, 500, "internal_error", "Internal error", "out of memory");
                        return 500;
                }
                o->role = o->role_key;
        }
        return 0;
}

char *import_options_filename(const char *name) {
        if (!name)
                return NULL;
        /* Browsers on Windows used to send the whole path. */
        const char *base = name;
        for (const char *p = name; *p; p++)
                if (*p == '/' || *p == '\\')
                        base = p + 1;
        size_t len = strlen(base);
        Buf text = BUF_INIT;
        int r;
        if (utf8_is_valid(base, len))
                r = buf_append(&text, base, len);
        else {
                _cleanup_(text_decoder_freep) TextDecoder *d = text_decoder_new(TEXT_ENCODING_WINDOWS_1252);
                r = d ? text_decoder_feed(d, base, len, &text) : -ENOMEM;
                if (r >= 0)
                        r = text_decoder_finish(d, &text);
        }
        if (r < 0) {
                buf_done(&text);
                return NULL;
        }
        /* Drop what can hide or disguise a name where it is shown:
         * control characters (C0, DEL, C1), bidirectional controls
         * ("invoice<RLO>vsc.exe" shows as "invoiceexe.csv"), invisible
         * format characters and line separators. The text is valid UTF-8
         * here. */
        size_t o = 0;
        for (size_t i = 0; i < text.len;) {
                const unsigned char *p = (const unsigned char *) text.data + i;
                size_t n = p[0] < 0x80 ? 1 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
                uint32_t c = n == 1 ? p[0]
                             : n == 2 ? (uint32_t) (p[0] & 0x1F) << 6 | (p[1] & 0x3F)
                             : n == 3 ? (uint32_t) (p[0] & 0x0F) << 12 | (uint32_t) (p[1] & 0x3F) << 6 | (p[2] & 0x3F)
                                      : 0x10000;
                bool hidden = c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x180E ||
                              (c >= 0x200B && c <= 0x200F) || (c >= 0x2028 && c <= 0x202E) ||
                              (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB);
                if (!hidden)
                        memmove(text.data + o, p, n), o += n;
                i += n;
        }
        /* At most 255 bytes, cut before a continuation byte. */
        if (o > 255) {
                o = 255;
                while (o && ((unsigned char) text.data[o] & 0xC0) == 0x80)
                        o--;
        }
        text.len = o;
        if (text.data)
                text.data[o] = '\0';
        if (o == 0) {
                buf_done(&text);
                return NULL;
        }
        return buf_steal(&text);
}
