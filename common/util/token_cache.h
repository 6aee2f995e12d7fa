/* TokenCache: API tokens that the database accepted a moment ago, by the
 * hash of the token, so that a request need not ask the database who its
 * caller is; and when each token was last used, for api_tokens.last_used_at.
 *
 * Freshness: an entry is trusted for ttl_ms after the database lookup that
 * made it *began* (the caller passes that time). A lookup that begins after
 * a revocation (revoked_at set, or the row deleted) commits sees it, so a
 * revoked token is refused by every process that caches it at most ttl_ms
 * after the revocation commits. ttl_ms = 0 trusts nothing: every check
 * goes to the database, and the cache only records uses.
 *
 * Only tokens the database accepted are kept, in a fixed number of slots
 * (a set of TOKEN_CACHE_WAYS per hash, the least recently checked one
 * replaced): an unknown token is looked up every time, and a process that
 * sees more live tokens than the slots looks some of them up again.
 *
 * Uses: each accepted check counts as a use. token_cache_take_due() hands
 * over the ids of tokens used since their last_used_at was last written
 * and not written for TOKEN_CACHE_TOUCH_MS, to be written in the
 * background; so a token's last_used_at is written at most once a minute
 * by each process, and never by a request.
 *
 * Times are milliseconds of one monotonic clock, chosen by the caller.
 * Thread-safe: every function may be called from any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account_store.h"
#include "macro.h"

#define TOKEN_CACHE_WAYS 4
/* last_used_at is for operators auditing tokens: to the minute is enough. */
#define TOKEN_CACHE_TOUCH_MS INT64_C(60000)
#define TOKEN_CACHE_REFRESH_WAIT_MS INT64_C(1000)

typedef struct TokenCache TokenCache;

/* A cache of about `capacity` tokens (rounded up to a power of two
 * times TOKEN_CACHE_WAYS), trusted for ttl_ms. NULL when out of memory.
 * Free with token_cache_free() (NULL is a no-op). */
TokenCache *token_cache_new(int64_t ttl_ms, size_t capacity);
void token_cache_free(TokenCache *c);
DEFINE_CLEANUP_FUNC(TokenCache *, token_cache_free);

/* What token_cache_get() found. */
typedef enum TokenCacheResult {
        TOKEN_CACHE_MISS,    /* ask the database */
        TOKEN_CACHE_HIT,     /* *ret holds the caller */
        TOKEN_CACHE_REFRESH, /* *ret holds the caller, and this caller is
                              * to ask the database again now: the entry is
                              * near its end (the last quarter of ttl_ms) */
} TokenCacheResult;

/* Looks the token with this hash (hex sha256) up: a hit when it was
 * accepted by a lookup that began less than ttl_ms before now; the check
 * counts as a use. On a miss, or a refresh, ask the database, then call
 * token_cache_put() or token_cache_forget(). One caller at a time is
 * given a refresh (another after TOKEN_CACHE_REFRESH_WAIT_MS when its
 * answer does not come), so that a busy token's entry is renewed before
 * it runs out and its callers never all ask the database at once. */
TokenCacheResult token_cache_get(TokenCache *c, const char *token_hash, int64_t now, AuthInfo *ret);

/* Records that the database accepted the token, in a lookup that began at
 * looked_up_at, and that this is a use. last_used_ms_ago is how long
 * before the lookup its last_used_at was (negative: never used). */
void token_cache_put(TokenCache *c, const char *token_hash, const AuthInfo *info, int64_t looked_up_at,
                     int64_t last_used_ms_ago);

/* Drops the token (the database no longer accepts it). */
void token_cache_forget(TokenCache *c, const char *token_hash);

/* Writes to ids (room for max) the token ids whose last_used_at is due
 * to be written at now, and marks them written. Returns how many. When
 * the write then fails, token_cache_put_back() makes them due again. */
size_t token_cache_take_due(TokenCache *c, int64_t now, int64_t *ids, size_t max);
void token_cache_put_back(TokenCache *c, const int64_t *ids, size_t n);
