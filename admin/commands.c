#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"
#include "audit_store.h"
#include "token.h"

/* "90d", "12h", "30m": seconds, from a minute to ten years. -EINVAL. */
static int duration_parse(const char *s, int64_t *ret) {
        char *end;
        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        int64_t unit = strcmp(end, "d") == 0 ? 86400 : strcmp(end, "h") == 0 ? 3600 : strcmp(end, "m") == 0 ? 60 : 0;
        if (errno || unit == 0 || n < 1 || n > 3650LL * 86400 / unit)
                return -EINVAL;
        *ret = n * unit;
        return 0;
}

int commands_token_create(const Config *cfg, Args *a) {
        int err = 0;
        const char *scopes_s = cli_take_option(a, "--scopes", &err);
        const char *actor = err == 0 ? cli_take_option(a, "--actor", &err) : NULL;
        const char *expires_s = err == 0 ? cli_take_option(a, "--expires-in", &err) : NULL;
        if (err < 0 || cli_expect_positional(a, 1, "token create") < 0)
                return 2;
        unsigned scopes = SCOPE_DEFAULT;
        const char *bad = NULL;
        size_t bad_len = 0;
        if (scopes_s && token_scope_parse(scopes_s, &scopes, &bad, &bad_len) < 0) {
                fprintf(stderr,
                        "roster-admin: unknown scope \"%.*s\": use imports:read, imports:write, users:read and "
                        "audit:read\n",
                        (int) bad_len, bad);
                return 2;
        }
        if (actor && (!*actor || strlen(actor) > 120)) {
                fprintf(stderr, "roster-admin: --actor must be 1 to 120 characters\n");
                return 2;
        }
        int64_t expires_in = 0;
        if (expires_s && duration_parse(expires_s, &expires_in) < 0) {
                fprintf(stderr, "roster-admin: --expires-in must be a number of days, hours or minutes (90d, 12h, "
                                "30m), from a minute to ten years\n");
                return 2;
        }
        int64_t account, id;
        _cleanup_(db_freep) Db *db = cli_open_account(cfg, a->v[0], &account);
        if (!db)
                return 1;
        char token[TOKEN_LENGTH + 1];
        AuditEvent audit = { .actor = cli_actor(), .action = "token.create" };
        if (account_store_token_create(db, account, actor ? actor : "api", scopes, expires_in, &audit, token,
                                       &id) < 0) {
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
                return 1;
        }
        /* The token alone on stdout, so that scripts can capture it. */
        puts(token);
        fprintf(stderr, "roster-admin: token %" PRId64 " created for %s\n", id, a->v[0]);
        return 0;
}

int commands_token_list(const Config *cfg, Args *a) {
        if (cli_expect_positional(a, 1, "token list") < 0)
                return 2;
        int64_t account;
        _cleanup_(db_freep) Db *db = cli_open_account(cfg, a->v[0], &account);
        if (!db)
                return 1;
        TokenView *v = NULL;
        size_t n = 0;
        if (account_store_token_list(db, account, &v, &n) < 0) {
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
                return 1;
        }
        printf("%-6s %-9s %-20s %-20s %-20s %-40s %s\n", "ID", "STATE", "CREATED", "LAST USED", "EXPIRES", "SCOPES",
               "ACTOR");
        for (size_t i = 0; i < n; i++) {
                const TokenView *t = &v[i];
                const char *state = t->revoked_at[0] ? "revoked" : t->expired ? "expired" : "live";
                printf("%-6" PRId64 " %-9s %-20s %-20s %-20s %-40s %s\n", t->id, state, t->created_at,
                       t->last_used_at[0] ? t->last_used_at : "-", t->expires_at[0] ? t->expires_at : "never",
                       t->scopes, t->actor);
        }
        free(v);
        return 0;
}

int commands_token_revoke(const Config *cfg, Args *a) {
        if (cli_expect_positional(a, 1, "token revoke") < 0)
                return 2;
        int64_t id = 0;
        char hash[SHA256_HEX_SIZE] = "";
        if (strcmp(a->v[0], "-") == 0) {
                /* The token itself, read from stdin: one that leaked, or
                 * one a script made and no longer needs. */
                char line[256];
                size_t len = fgets(line, sizeof line, stdin) ? strcspn(line, "\r\n") : 0;
                if (!token_is_well_formed(line, len)) {
                        fprintf(stderr, "roster-admin: token revoke -: stdin does not hold a roster API token\n");
                        return 2;
                }
                token_hash(line, len, hash);
        } else {
                char *end;
                errno = 0;
                long long n = strtoll(a->v[0], &end, 10);
                if (errno || *end || n < 1) {
                        fprintf(stderr, "roster-admin: token revoke needs a token id (see token list) or -\n");
                        return 2;
                }
                id = n;
        }
        _cleanup_(db_freep) Db *db = cli_connect_db(cfg);
        if (!db)
                return 1;
        AuditEvent audit = { .actor = cli_actor(), .action = "token.revoke" };
        int r = account_store_token_revoke(db, id, hash, &audit, NULL);
        if (r == -ENOENT) {
                fprintf(stderr, "roster-admin: no such token\n");
                return 1;
        }
        if (r == -EALREADY) {
                fprintf(stderr, "roster-admin: the token was revoked already\n");
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
                return 1;
        }
        printf("token revoked: every API process refuses it within ROSTER_TOKEN_CACHE_SECONDS (%" PRId64 " s)\n",
               cfg->token_cache_seconds);
        return 0;
}

int commands_audit(const Config *cfg, Args *a) {
        int err = 0;
        const char *action = cli_take_option(a, "--action", &err);
        const char *limit_s = err == 0 ? cli_take_option(a, "--limit", &err) : NULL;
        if (err < 0 || cli_expect_positional(a, 1, "audit") < 0)
                return 2;
        if (action && !audit_store_action_is_known(action)) {
                fprintf(stderr, "roster-admin: unknown action \"%s\"\n", action);
                return 2;
        }
        char *end = NULL;
        long limit = limit_s ? strtol(limit_s, &end, 10) : 1000;
        if ((limit_s && (end == limit_s || *end)) || limit < 1 || limit > 100000) {
                fprintf(stderr, "roster-admin: --limit must be 1 to 100000\n");
                return 2;
        }
        int64_t account;
        _cleanup_(db_freep) Db *db = cli_open_account(cfg, a->v[0], &account);
        if (!db)
                return 1;
        AuditItem *v = NULL;
        size_t n = 0;
        if (audit_store_page(db, account, 0, (int) limit, action, &v, &n) < 0) {
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                char token[24] = "-";
                if (v[i].token_id)
                        snprintf(token, sizeof token, "%" PRId64, v[i].token_id);
                printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\t%s\n", v[i].id, v[i].at, v[i].action,
                       v[i].object[0] ? v[i].object : "-", v[i].actor, token,
                       v[i].request_id[0] ? v[i].request_id : "-");
        }
        free(v);
        return 0;
}
