#include "account_store.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The roles every account starts with, as in the platform roster serves. */
static const struct {
        const char *key, *name;
        bool needs_establishment, may_have_pupils;
} default_roles[] = {
        { "designated_teacher", "Designated Teacher", true, false },
        { "social_worker", "Social Worker", false, true },
        { "la_user", "LA User", false, true },
        { "la_super_user", "LA Super User", false, true },
};

bool account_store_slug_is_valid(const char *slug) {
        size_t n = strlen(slug);
        if (n == 0 || n > 63 || slug[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char) slug[i]) && !isdigit((unsigned char) slug[i]) && slug[i] != '-')
                        return false;
        return true;
}

bool account_store_role_key_is_valid(const char *key) {
        size_t n = strlen(key);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char) key[i]) && !isdigit((unsigned char) key[i]) && key[i] != '_')
                        return false;
        return true;
}

static int unique_or_error(Db *db) {
        return db_sqlstate_is(db, "23505") ? -EEXIST : db_error(db);
}

typedef struct AccountCreate {
        const char *slug, *name;
        int64_t id;
} AccountCreate;

static int account_create_tx(Db *db, void *userdata) {
        AccountCreate *ac = userdata;
        const char *p[] = { ac->slug, ac->name };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db, "INSERT INTO accounts (slug, name) VALUES ($1, $2) RETURNING id", 2, p);
        if (!r)
                return unique_or_error(db);
        ac->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

        char id[24];
        snprintf(id, sizeof id, "%" PRId64, ac->id);
        for (size_t i = 0; i < ELEMENTSOF(default_roles); i++) {
                const char *rp[] = { id, default_roles[i].key, default_roles[i].name,
                                     default_roles[i].needs_establishment ? "t" : "f",
                                     default_roles[i].may_have_pupils ? "t" : "f" };
                int k = db_run(db,
                               "INSERT INTO roles (account_id, key, name, needs_establishment, may_have_pupils) "
                               "VALUES ($1, $2, $3, $4, $5)",
                               5, rp);
                if (k < 0)
                        return k;
        }
        return 0;
}

int account_store_create(Db *db, const char *slug, const char *name, int64_t *ret_id) {
        AccountCreate ac = { slug, name, 0 };
        int r = db_transaction(db, 3, account_create_tx, &ac);
        if (r < 0)
                return r == -EIO && db_sqlstate_is(db, "23505") ? -EEXIST : r;
        if (ret_id)
                *ret_id = ac.id;
        return 0;
}

int account_store_find(Db *db, const char *slug, int64_t *ret_id) {
        const char *p[] = { slug };
        _cleanup_(PQclearp) PGresult *r = db_exec(db, "SELECT id FROM accounts WHERE slug = $1", 1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        *ret_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        return 0;
}

int account_store_role_create(Db *db, int64_t account_id, const char *key, const char *name, bool needs_establishment,
                bool may_have_pupils) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, account_id);
        const char *p[] = { id, key, name, needs_establishment ? "t" : "f", may_have_pupils ? "t" : "f" };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db,
                        "INSERT INTO roles (account_id, key, name, needs_establishment, may_have_pupils) "
                        "VALUES ($1, $2, $3, $4, $5)",
                        5, p);
        return r ? 0 : unique_or_error(db);
}

int account_store_team_create(Db *db, int64_t account_id, const char *name, int64_t *ret_id) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, account_id);
        const char *p[] = { id, name };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db, "INSERT INTO teams (account_id, name) VALUES ($1, $2) RETURNING id", 2, p);
        if (!r)
                return unique_or_error(db);
        if (ret_id)
                *ret_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        return 0;
}

typedef struct TokenCreate {
        const char *p[5];
        const AuditEvent *audit;
        int64_t id;
} TokenCreate;

static int token_create_tx(Db *db, void *userdata) {
        TokenCreate *c = userdata;
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "INSERT INTO api_tokens (account_id, token_hash, actor, scopes, expires_at) "
                "VALUES ($1, $2, $3, $4, CASE WHEN $5::bigint > 0 THEN now() + $5::bigint * interval '1 second' END) "
                "RETURNING id",
                5, c->p);
        if (!res)
                return db_error(db);
        c->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        if (!c->audit)
                return 0;
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, c->id);
        AuditEvent e = *c->audit;
        e.account_id = strtoll(c->p[0], NULL, 10);
        e.object = id;
        return audit_store_write(db, &e);
}

int account_store_token_create(Db *db, int64_t account_id, const char *actor, unsigned scopes, int64_t expires_in,
                               const AuditEvent *audit, char token[TOKEN_LENGTH + 1], int64_t *ret_id) {
        char tok[TOKEN_LENGTH + 1], hash[SHA256_HEX_SIZE], id[24], scope_array[64], expires[24];
        int r = token_generate(tok);
        if (r < 0)
                return r;
        token_hash(tok, strlen(tok), hash);
        snprintf(id, sizeof id, "%" PRId64, account_id);
        snprintf(expires, sizeof expires, "%" PRId64, expires_in);
        scope_array[0] = '{';
        if (token_scope_format(scopes, scope_array + 1, sizeof scope_array - 2) < 0)
                return -EINVAL;
        strcat(scope_array, "}");
        TokenCreate c = { { id, hash, actor, scope_array, expires }, audit, 0 };
        if ((r = db_transaction(db, 3, token_create_tx, &c)) < 0)
                return r;
        memcpy(token, tok, sizeof tok);
        if (ret_id)
                *ret_id = c.id;
        return 0;
}

#define TS(col) "coalesce(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

int account_store_token_list(Db *db, int64_t account_id, TokenView **ret, size_t *ret_n) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, account_id);
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *res =
                db_exec(db,
                        "SELECT id, actor, array_to_string(scopes, ','), " TS("created_at") ", " TS("last_used_at")
                        ", " TS("expires_at") ", " TS("revoked_at") ", coalesce(expires_at <= now(), false) "
                        "FROM api_tokens WHERE account_id = $1::bigint ORDER BY id",
                        1, p);
        if (!res)
                return db_error(db);
        size_t n = (size_t) PQntuples(res);
        TokenView *v = calloc(n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int row = (int) i;
                v[i].id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
                snprintf(v[i].actor, sizeof v[i].actor, "%s", PQgetvalue(res, row, 1));
                snprintf(v[i].scopes, sizeof v[i].scopes, "%s", PQgetvalue(res, row, 2));
                snprintf(v[i].created_at, sizeof v[i].created_at, "%s", PQgetvalue(res, row, 3));
                snprintf(v[i].last_used_at, sizeof v[i].last_used_at, "%s", PQgetvalue(res, row, 4));
                snprintf(v[i].expires_at, sizeof v[i].expires_at, "%s", PQgetvalue(res, row, 5));
                snprintf(v[i].revoked_at, sizeof v[i].revoked_at, "%s", PQgetvalue(res, row, 6));
                v[i].expired = PQgetvalue(res, row, 7)[0] == 't';
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

typedef struct TokenRevoke {
        const char *p[2];
        const AuditEvent *audit;
        int64_t account_id;
        int result;
} TokenRevoke;

static int token_revoke_tx(Db *db, void *userdata) {
        TokenRevoke *c = userdata;
        _cleanup_(PQclearp) PGresult *res = db_exec(
                db,
                "SELECT id, account_id, revoked_at IS NOT NULL FROM api_tokens "
                "WHERE CASE WHEN $1::bigint > 0 THEN id = $1::bigint ELSE token_hash = $2 END FOR UPDATE",
                2, c->p);
        if (!res)
                return db_error(db);
        if (PQntuples(res) == 0) {
                c->result = -ENOENT;
                return 0;
        }
        c->account_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        if (PQgetvalue(res, 0, 2)[0] == 't') {
                c->result = -EALREADY;
                return 0;
        }
        c->result = 0;
        const char *q[] = { PQgetvalue(res, 0, 0) };
        int r = db_run(db, "UPDATE api_tokens SET revoked_at = now() WHERE id = $1::bigint", 1, q);
        if (r < 0 || !c->audit)
                return r;
        AuditEvent e = *c->audit;
        e.account_id = c->account_id;
        e.object = q[0];
        return audit_store_write(db, &e);
}

int account_store_token_revoke(Db *db, int64_t id, const char *hash, const AuditEvent *audit,
                               int64_t *ret_account_id) {
        char id_s[24];
        snprintf(id_s, sizeof id_s, "%" PRId64, id);
        TokenRevoke c = { { id_s, hash ? hash : "" }, audit, 0, 0 };
        int r = db_transaction(db, 3, token_revoke_tx, &c);
        if (r < 0)
                return r;
        if (ret_account_id)
                *ret_account_id = c.account_id;
        return c.result;
}

/* The live token found by `where` ($1), as the caller of a request: its
 * id, account, scopes and expiry, then the columns `more` names (from
 * column 6). */
#define TOKEN_SELECT(more, where)                                                                   \
        "SELECT t.id, t.account_id, a.slug, t.actor, array_to_string(t.scopes, ','), "            \
        "  coalesce(floor(extract(epoch FROM t.expires_at))::bigint, 0)" more " "                  \
        "FROM api_tokens t JOIN accounts a ON a.id = t.account_id "                                \
        "WHERE " where " AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())"

static AuthInfo auth_info_of(const PGresult *r) {
        AuthInfo a = { 0 };
        a.token_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        a.account_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(a.account_slug, sizeof a.account_slug, "%s", PQgetvalue(r, 0, 2));
        snprintf(a.actor, sizeof a.actor, "%s", PQgetvalue(r, 0, 3));
        const char *scopes = PQgetvalue(r, 0, 4);
        if (*scopes && token_scope_parse(scopes, &a.scopes, NULL, NULL) < 0)
                a.scopes = 0;
        a.expires_at = strtoll(PQgetvalue(r, 0, 5), NULL, 10);
        return a;
}

int account_store_token_lookup(Db *db, const char *token_hash, AuthInfo *ret, int64_t *ret_last_used_ms_ago) {
        const char *p[] = { token_hash };
        /* A read, and only a read: last_used_at is written apart, by
         * account_store_tokens_touch(). */
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db,
                        TOKEN_SELECT(", CASE WHEN t.last_used_at IS NULL THEN -1 "
                                     "       ELSE greatest(0, floor(extract(epoch FROM now() - t.last_used_at) "
                                     "                              * 1000)) END",
                                     "t.token_hash = $1"),
                        1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        *ret = auth_info_of(r);
        if (ret_last_used_ms_ago)
                *ret_last_used_ms_ago = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
        return 0;
}

int account_store_token_by_id(Db *db, int64_t token_id, AuthInfo *ret, char hash[SHA256_HEX_SIZE]) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, token_id);
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *r = db_exec(db, TOKEN_SELECT(", t.token_hash", "t.id = $1::bigint"), 1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        *ret = auth_info_of(r);
        snprintf(hash, SHA256_HEX_SIZE, "%s", PQgetvalue(r, 0, 6));
        return 0;
}

int account_store_tokens_touch(Db *db, const int64_t *token_ids, size_t n) {
        if (n == 0)
                return 0;
        Buf ids = BUF_INIT;
        int k = buf_append_char(&ids, '{');
        for (size_t i = 0; k >= 0 && i < n; i++)
                k = buf_printf(&ids, "%s%" PRId64, i ? "," : "", token_ids[i]);
        if (k >= 0)
                k = buf_append_char(&ids, '}');
        if (k < 0) {
                buf_done(&ids);
                return -ENOMEM;
        }
        const char *p[] = { buf_str(&ids) };
        /* The condition keeps it to one write a minute per token however
         * many processes touch it. */
        k = db_run(db,
                   "UPDATE api_tokens SET last_used_at = now() WHERE id = ANY($1::bigint[]) "
                   "AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                   1, p);
        buf_done(&ids);
        return k;
}

void account_store_roles_free(RoleInfo *roles, size_t n) {
        for (size_t i = 0; roles && i < n; i++) {
                free(roles[i].key);
                free(roles[i].name);
        }
        free(roles);
}

int account_store_roles_load(Db *db, int64_t account_id, RoleInfo **ret, size_t *ret_n) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, account_id);
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *r = db_exec(
                db,
                "SELECT id, key, name, needs_establishment, may_have_pupils FROM roles WHERE account_id = $1 ORDER BY id",
                1, p);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        RoleInfo *roles = calloc(n + 1, sizeof *roles);
        if (!roles)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                roles[i].id = strtoll(PQgetvalue(r, (int) i, 0), NULL, 10);
                roles[i].key = strdup(PQgetvalue(r, (int) i, 1));
                roles[i].name = strdup(PQgetvalue(r, (int) i, 2));
                roles[i].needs_establishment = PQgetvalue(r, (int) i, 3)[0] == 't';
                roles[i].may_have_pupils = PQgetvalue(r, (int) i, 4)[0] == 't';
                if (!roles[i].key || !roles[i].name) {
                        account_store_roles_free(roles, n);
                        return -ENOMEM;
                }
        }
        *ret = roles;
        *ret_n = n;
        return 0;
}

void account_store_teams_free(TeamInfo *teams, size_t n) {
        for (size_t i = 0; teams && i < n; i++)
                free(teams[i].name);
        free(teams);
}

int account_store_teams_load(Db *db, int64_t account_id, TeamInfo **ret, size_t *ret_n) {
        char id[24];
        snprintf(id, sizeof id, "%" PRId64, account_id);
        const char *p[] = { id };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db, "SELECT id, name FROM teams WHERE account_id = $1 ORDER BY id", 1, p);
        if (!r)
                return db_error(db);
        size_t n = (size_t) PQntuples(r);
        TeamInfo *teams = calloc(n + 1, sizeof *teams);
        if (!teams)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                teams[i].id = strtoll(PQgetvalue(r, (int) i, 0), NULL, 10);
                teams[i].name = strdup(PQgetvalue(r, (int) i, 1));
                if (!teams[i].name) {
                        account_store_teams_free(teams, n);
                        return -ENOMEM;
                }
        }
        *ret = teams;
        *ret_n = n;
        return 0;
}

int account_store_webhook_secret(Db *db, int64_t account_id, char out[WEBHOOK_SECRET_SIZE]) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account };
        _cleanup_(PQclearp) PGresult *r = db_exec(db, "SELECT webhook_secret FROM accounts WHERE id = $1", 1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0))
                return -ENOENT;
        snprintf(out, WEBHOOK_SECRET_SIZE, "%s", PQgetvalue(r, 0, 0));
        return 0;
}

int account_store_webhook_secret_rotate(Db *db, int64_t account_id, char out[WEBHOOK_SECRET_SIZE]) {
        char account[24], secret[WEBHOOK_SECRET_SIZE];
        if (webhook_secret_new(secret) < 0)
                return -EIO;
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account, secret };
        _cleanup_(PQclearp) PGresult *r =
                db_exec(db, "UPDATE accounts SET webhook_secret = $2 WHERE id = $1 RETURNING id", 2, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        memcpy(out, secret, WEBHOOK_SECRET_SIZE);
        return 0;
}

int account_store_slug(Db *db, int64_t account_id, char out[ACCOUNT_SLUG_SIZE]) {
        char account[24];
        snprintf(account, sizeof account, "%" PRId64, account_id);
        const char *p[] = { account };
        _cleanup_(PQclearp) PGresult *r = db_exec(db, "SELECT slug FROM accounts WHERE id = $1", 1, p);
        if (!r)
                return db_error(db);
        if (PQntuples(r) == 0)
                return -ENOENT;
        snprintf(out, ACCOUNT_SLUG_SIZE, "%s", PQgetvalue(r, 0, 0));
        return 0;
}
