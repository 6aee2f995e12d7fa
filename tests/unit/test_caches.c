/* Unit tests for common/token_cache.h: what is kept, for how long, and
 * when a token's use is due to be written. Times are given, not read
 * from a clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "token_cache.h"

#define HASH_A "aaaa0000000000000000000000000000000000000000000000000000000000aa"
#define HASH_B "bbbb0000000000000000000000000000000000000000000000000000000000bb"

static AuthInfo auth(int64_t token_id, int64_t account_id, unsigned scopes) {
        AuthInfo a = { .account_id = account_id, .token_id = token_id, .scopes = scopes };
        snprintf(a.account_slug, sizeof a.account_slug, "acct-%lld", (long long) account_id);
        snprintf(a.actor, sizeof a.actor, "actor %lld", (long long) token_id);
        return a;
}

static void test_token_freshness(void) {
        _cleanup_(token_cache_freep) TokenCache *c = token_cache_new(5000, 64);
        AuthInfo got = { 0 }, a = auth(7, 3, SCOPE_IMPORTS_READ);

        ok(c != NULL, "a token cache");
        is_int(token_cache_get(c, HASH_A, 1000, &got), TOKEN_CACHE_MISS, "an empty cache misses");
        token_cache_put(c, HASH_A, &a, 1000, -1);
        is_int(token_cache_get(c, HASH_A, 1000, &got), TOKEN_CACHE_HIT, "hit after put");
        ok(got.token_id == 7 && got.account_id == 3 && got.scopes == SCOPE_IMPORTS_READ &&
                   strcmp(got.actor, "actor 7") == 0 && strcmp(got.account_slug, "acct-3") == 0,
           "... with what was put");
        is_int(token_cache_get(c, HASH_B, 1000, &got), TOKEN_CACHE_MISS, "another token misses");
        is_int(token_cache_get(c, HASH_A, 4749, &got), TOKEN_CACHE_HIT, "hit just before the last quarter");

        /* The last quarter: one caller renews, the others go on. */
        is_int(token_cache_get(c, HASH_A, 4750, &got), TOKEN_CACHE_REFRESH, "the last quarter: one caller renews");
        is_int(got.token_id, 7, "... and is still let in");
        is_int(token_cache_get(c, HASH_A, 4800, &got), TOKEN_CACHE_HIT, "... the next callers just hit");
        ok(token_cache_get(c, HASH_A, 5999, &got) != TOKEN_CACHE_MISS, "good until ttl after the lookup began");
        is_int(token_cache_get(c, HASH_A, 6000, &got), TOKEN_CACHE_MISS, "... and not after");
        token_cache_put(c, HASH_A, &a, 6000, -1);
        is_int(token_cache_get(c, HASH_A, 9750, &got), TOKEN_CACHE_REFRESH, "renewal due again");
        is_int(token_cache_get(c, HASH_A, 10749, &got), TOKEN_CACHE_HIT, "no second renewal while one is out");
        is_int(token_cache_get(c, HASH_A, 10750, &got), TOKEN_CACHE_REFRESH,
               "another caller renews when the first has not answered in time");
        token_cache_put(c, HASH_A, &a, 10800, -1);
        is_int(token_cache_get(c, HASH_A, 10900, &got), TOKEN_CACHE_HIT, "renewed: a plain hit");

        /* Revocation: the database said no. */
        token_cache_forget(c, HASH_A);
        is_int(token_cache_get(c, HASH_A, 10900, &got), TOKEN_CACHE_MISS, "forgotten: a miss");

        /* Two lookups ending out of order: the later one's answer stays. */
        AuthInfo narrower = auth(7, 3, 0);
        token_cache_put(c, HASH_A, &narrower, 20000, -1);
        token_cache_put(c, HASH_A, &a, 19000, -1);
        is_int(token_cache_get(c, HASH_A, 20100, &got), TOKEN_CACHE_HIT, "hit after two puts");
        is_int(got.scopes, 0, "... with the answer of the lookup that began last");
        ok(token_cache_get(c, HASH_A, 24500, &got) != TOKEN_CACHE_MISS, "... and its age: good until ttl after it");
        is_int(token_cache_get(c, HASH_A, 25000, &got), TOKEN_CACHE_MISS, "... and no longer");

        _cleanup_(token_cache_freep) TokenCache *off = token_cache_new(0, 64);
        token_cache_put(off, HASH_A, &a, 1000, -1);
        is_int(token_cache_get(off, HASH_A, 1000, &got), TOKEN_CACHE_MISS, "ttl 0: never a hit");
        token_cache_free(NULL);
}

static void test_token_eviction(void) {
        /* One set of TOKEN_CACHE_WAYS: the least recently checked goes. */
        _cleanup_(token_cache_freep) TokenCache *c = token_cache_new(60000, 1);
        char hashes[TOKEN_CACHE_WAYS + 1][SHA256_HEX_SIZE];
        AuthInfo got;
        for (int i = 0; i <= TOKEN_CACHE_WAYS; i++) {
                snprintf(hashes[i], sizeof hashes[i], "%064d", i);
                AuthInfo a = auth(100 + i, 1, SCOPE_ALL);
                if (i < TOKEN_CACHE_WAYS)
                        token_cache_put(c, hashes[i], &a, 1000 + i, -1);
        }
        is_int(token_cache_get(c, hashes[0], 2000, &got), TOKEN_CACHE_HIT, "the first token, checked again");
        AuthInfo a = auth(100 + TOKEN_CACHE_WAYS, 1, SCOPE_ALL);
        token_cache_put(c, hashes[TOKEN_CACHE_WAYS], &a, 2001, -1);
        is_int(token_cache_get(c, hashes[TOKEN_CACHE_WAYS], 2002, &got), TOKEN_CACHE_HIT, "a full set takes a new one");
        is_int(token_cache_get(c, hashes[0], 2002, &got), TOKEN_CACHE_HIT, "... the recently checked one stays");
        is_int(token_cache_get(c, hashes[1], 2002, &got), TOKEN_CACHE_MISS, "... the least recently checked goes");
}

static void test_token_uses(void) {
        _cleanup_(token_cache_freep) TokenCache *c = token_cache_new(5000, 64);
        AuthInfo a = auth(7, 3, SCOPE_ALL), b = auth(8, 3, SCOPE_ALL), got;
        int64_t ids[8];

        is_int(token_cache_take_due(c, 0, ids, 8), 0, "nothing due in an empty cache");
        token_cache_put(c, HASH_A, &a, 1000, -1);
        /* Written 10 s before the lookup, by some process. */
        token_cache_put(c, HASH_B, &b, 1000, 10000);
        is_int(token_cache_take_due(c, 1000, ids, 8), 1, "a token never used is due at once");
        is_int(ids[0], 7, "... by its id");
        is_int(token_cache_take_due(c, 1001, ids, 8), 0, "taken: not due again");
        (void) token_cache_get(c, HASH_A, 2000, &got);
        is_int(token_cache_take_due(c, 50999, ids, 8), 0, "used again, but each written less than a minute ago");
        is_int(token_cache_take_due(c, 51000, ids, 8), 1, "a minute after the other process wrote it...");
        is_int(ids[0], 8, "... that token is due");
        is_int(token_cache_take_due(c, 60999, ids, 8), 0, "the first not yet");
        is_int(token_cache_take_due(c, 61000, ids, 8), 1, "a minute after it was written, it is");
        is_int(token_cache_take_due(c, 200000, ids, 8), 0, "unused since: nothing due, however late");
        /* Its entry has run out: the next use looks it up again. */
        is_int(token_cache_get(c, HASH_A, 200000, &got), TOKEN_CACHE_MISS, "a use after a long while misses");
        token_cache_put(c, HASH_A, &a, 200000, 139000);
        is_int(token_cache_take_due(c, 200000, ids, 8), 1, "... and once looked up, it is due");
        token_cache_put_back(c, ids, 1);
        is_int(token_cache_take_due(c, 200001, ids, 8), 1, "put back after a failed write: due again");
        is_int(token_cache_take_due(c, 200001, ids, 0), 0, "no room: nothing taken");

        _cleanup_(token_cache_freep) TokenCache *off = token_cache_new(0, 64);
        token_cache_put(off, HASH_A, &a, 1000, -1);
        is_int(token_cache_take_due(off, 1000, ids, 8), 1, "ttl 0 still records uses");
}

int main(void) {
        test_token_freshness();
        test_token_eviction();
        test_token_uses();
        return tap_done();
}
