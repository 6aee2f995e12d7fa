/* Accounts and what belongs to them directly: roles, teams, API tokens,
 * the webhook signing secret. Owns the tables accounts, roles, teams and
 * api_tokens.
 *
 * Functions return 0 or a negative errno: -ENOENT (no such row), -EEXIST
 * (a unique name taken), -EAGAIN/-EIO (database; message in db->errmsg),
 * -ENOMEM. Out-parameters are untouched on failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_store.h"
#include "db.h"
#include "row_rules.h"
#include "token.h"
#include "webhook.h"

typedef struct AuthInfo {
        int64_t account_id;
        int64_t token_id;
        char account_slug[64];
        char actor[128];
        unsigned scopes;
        int64_t expires_at; /* Unix time after which the token is refused; 0: never */
} AuthInfo;

/* Creates an account with the default roles (designated_teacher,
 * social_worker, la_user, la_super_user), in one transaction. Its id in
 * *ret_id (may be NULL). -EEXIST when the slug is taken. */
int account_store_create(Db *db, const char *slug, const char *name, int64_t *ret_id) _must_check_;
/* The id of the account with this slug; -ENOENT when there is none. */
int account_store_find(Db *db, const char *slug, int64_t *ret_id) _must_check_;
/* True when slug is a valid account slug (a-z, 0-9, -; at most 63). */
bool account_store_slug_is_valid(const char *slug);

/* Adds a role to an account. -EEXIST when the account has a role with this
 * key, or with this display name in any case. */
int account_store_role_create(Db *db, int64_t account_id, const char *key, const char *name,
                              bool needs_establishment, bool may_have_pupils) _must_check_;
/* True when key is a valid role key (a-z, 0-9, _; at most 64). */
bool account_store_role_key_is_valid(const char *key);

/* Adds a team to an account; its id in *ret_id (may be NULL). -EEXIST when
 * the account has a team of this name in any case. */
int account_store_team_create(Db *db, int64_t account_id, const char *name, int64_t *ret_id) _must_check_;

/* Creates a token that expires after expires_in seconds (0: never);
 * writes it (shown once, never stored) to token and its id to *ret_id
 * (may be NULL). The audit event token.create goes with it (audit may be
 * NULL; its account and object are filled in). */
int account_store_token_create(Db *db, int64_t account_id, const char *actor, unsigned scopes, int64_t expires_in,
                               const AuditEvent *audit, char token[TOKEN_LENGTH + 1],
                               int64_t *ret_id) _must_check_;

/* One token as roster-admin lists it: never the token or its hash. */
typedef struct TokenView {
        int64_t id;
        char actor[128];
        char scopes[96];
        char created_at[40], last_used_at[40], expires_at[40], revoked_at[40]; /* "" when none */
        bool expired;
} TokenView;

/* The account's tokens, oldest first. The array belongs to the caller
 * (free()). */
int account_store_token_list(Db *db, int64_t account_id, TokenView **ret, size_t *ret_n) _must_check_;

/* Revokes the token with this id, or (id 0) with this hash; writes the
 * audit event token.revoke in the same transaction (its account and
 * object filled in). *ret_account_id is the token's account. -ENOENT
 * when there is no such token; -EALREADY when it was revoked before. */
int account_store_token_revoke(Db *db, int64_t id, const char *hash, const AuditEvent *audit,
                               int64_t *ret_account_id) _must_check_;

/* Finds the live token with this hash; -ENOENT when none (or revoked).
 * Reads only. *ret_last_used_ms_ago (may be NULL) is how long ago its
 * last_used_at was, -1 when never. */
int account_store_token_lookup(Db *db, const char *token_hash, AuthInfo *ret,
                               int64_t *ret_last_used_ms_ago) _must_check_;
/* Finds the live token with this id, and its stored hash (the key of its
 * events tokens, events_token.h); -ENOENT when none (or revoked). */
int account_store_token_by_id(Db *db, int64_t token_id, AuthInfo *ret, char hash[SHA256_HEX_SIZE]) _must_check_;
/* Sets last_used_at to now for these tokens, except those written less
 * than a minute ago. */
int account_store_tokens_touch(Db *db, const int64_t *token_ids, size_t n) _must_check_;

/* Loads the account's roles / teams. The arrays and their strings belong
 * to the caller: free with account_store_roles_free() / account_store_teams_free(). */
int account_store_roles_load(Db *db, int64_t account_id, RoleInfo **ret, size_t *ret_n) _must_check_;
void account_store_roles_free(RoleInfo *roles, size_t n);
int account_store_teams_load(Db *db, int64_t account_id, TeamInfo **ret, size_t *ret_n) _must_check_;
void account_store_teams_free(TeamInfo *teams, size_t n);

/* The account's webhook signing secret into out; -ENOENT when it has none
 * (or there is no such account). */
int account_store_webhook_secret(Db *db, int64_t account_id, char out[WEBHOOK_SECRET_SIZE]) _must_check_;
/* Makes the account a new webhook secret (replacing the old one:
 * signatures made with it no longer verify) and writes it to out; -ENOENT
 * when there is no such account. */
int account_store_webhook_secret_rotate(Db *db, int64_t account_id, char out[WEBHOOK_SECRET_SIZE]) _must_check_;

/* Room for an account's slug (at most 63 bytes) and its NUL. */
#define ACCOUNT_SLUG_SIZE 64

/* The slug of the account with this id into out; -ENOENT when there is no
 * such account. */
int account_store_slug(Db *db, int64_t account_id, char out[ACCOUNT_SLUG_SIZE]) _must_check_;
