/* Unit tests for common/util/token_cache.h and common/util/import_cache.h: what is
 * kept, for how long, what is refused, and what a stale read can never
 * put back. Times are given, not read from a clock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import_cache.h"
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

#define ID_1 "0e3a2d1a-773f-4dca-8c3a-3c09a2f663ed"
#define ID_1_UPPER "0E3A2D1A-773F-4DCA-8C3A-3C09A2F663ED"
#define ID_2 "89280941-ea2e-40d8-9ab3-84aa5e7c9107"

static bool cached_is(ImportCache *c, const char *id, int64_t account, const char *want) {
        size_t len = 0;
        char *got = import_cache_get(c, id, account, &len);
        bool same = want ? got && len == strlen(want) && strcmp(got, want) == 0 : got == NULL;
        free(got);
        return same;
}

static void test_import_cache(void) {
        _cleanup_(import_cache_freep) ImportCache *c = import_cache_new(64, 100);
        ImportCacheTicket t = import_cache_ticket(c, ID_1);

        ok(!import_cache_put(c, &t, ID_1, 5, "{\"a\":1}", 7), "a new cache takes nothing until enabled");
        import_cache_reset(c, true);
        ok(!import_cache_put(c, &t, ID_1, 5, "{\"a\":1}", 7), "a ticket from before the reset is refused");
        t = import_cache_ticket(c, ID_1);
        ok(import_cache_put(c, &t, ID_1, 5, "{\"a\":1}", 7), "a put with a fresh ticket is kept");
        ok(cached_is(c, ID_1, 5, "{\"a\":1}"), "... and read back");
        ok(cached_is(c, ID_1_UPPER, 5, "{\"a\":1}"), "... by its id in any case");
        ok(cached_is(c, ID_1, 6, NULL), "another account's caller misses");
        ok(cached_is(c, ID_2, 5, NULL), "another import misses");
        ok(cached_is(c, "not-a-uuid", 5, NULL) && cached_is(c, NULL, 5, NULL), "a malformed id misses");

        /* A read that raced a change never gets in. */
        ImportCacheTicket before = import_cache_ticket(c, ID_1);
        import_cache_invalidate(c, ID_1_UPPER);
        ok(cached_is(c, ID_1, 5, NULL), "invalidated (by its id in upper case)");
        ok(!import_cache_put(c, &before, ID_1, 5, "{\"a\":0}", 7), "a read begun before the change is refused");
        ok(cached_is(c, ID_1, 5, NULL), "... still nothing");
        t = import_cache_ticket(c, ID_1);
        ok(import_cache_put(c, &t, ID_1, 5, "{\"a\":2}", 7), "a read begun after it is kept");
        ok(cached_is(c, ID_1, 5, "{\"a\":2}"), "... the new body");
        ok(import_cache_put(c, &t, ID_1, 5, "{\"a\":3}", 7), "a second put with the same ticket replaces it");
        ok(cached_is(c, ID_1, 5, "{\"a\":3}"), "... the newer body");

        char big[101];
        memset(big, 'x', sizeof big);
        t = import_cache_ticket(c, ID_2);
        ok(!import_cache_put(c, &t, ID_2, 5, big, sizeof big), "a body over the limit is not kept");
        ok(import_cache_put(c, &t, ID_2, 5, big, 100), "one at the limit is");

        /* The listener is gone: everything goes, nothing comes in. */
        t = import_cache_ticket(c, ID_1);
        import_cache_reset(c, false);
        ok(cached_is(c, ID_1, 5, NULL) && cached_is(c, ID_2, 5, NULL), "reset: empty");
        ImportCacheTicket during = import_cache_ticket(c, ID_1);
        ok(!import_cache_put(c, &during, ID_1, 5, "{}", 2), "disabled: a put is refused");
        import_cache_reset(c, true);
        ok(!import_cache_put(c, &t, ID_1, 5, "{}", 2), "back: a ticket from before is refused");
        ok(!import_cache_put(c, &during, ID_1, 5, "{}", 2), "... and one from while it was off");
        import_cache_invalidate(c, "*");
        import_cache_free(NULL);
}

static void test_import_cache_eviction(void) {
        _cleanup_(import_cache_freep) ImportCache *c = import_cache_new(1, 1000);
        char ids[IMPORT_CACHE_WAYS + 1][40];
        import_cache_reset(c, true);
        for (int i = 0; i <= IMPORT_CACHE_WAYS; i++) {
                snprintf(ids[i], sizeof ids[i], "00000000-0000-4000-8000-%012d", i);
                ImportCacheTicket t = import_cache_ticket(c, ids[i]);
                if (i < IMPORT_CACHE_WAYS)
                        ok(import_cache_put(c, &t, ids[i], 1, "{}", 2), "put %d", i);
        }
        ok(cached_is(c, ids[0], 1, "{}"), "the first import, read again");
        ImportCacheTicket t = import_cache_ticket(c, ids[IMPORT_CACHE_WAYS]);
        ok(import_cache_put(c, &t, ids[IMPORT_CACHE_WAYS], 1, "{}", 2), "a full set takes a new one");
        ok(cached_is(c, ids[0], 1, "{}"), "... the recently read one stays");
        ok(cached_is(c, ids[1], 1, NULL), "... the least recently read goes");
}

/* Readers that put what they "read" (the current version) while a writer
 * moves the version on and invalidates: whatever the interleaving, once
 * the writer is done, the cache holds the last version or nothing. */
typedef struct Race {
        ImportCache *cache;
        pthread_mutex_t lock;
        int version;
        bool done;
} Race;

static void *race_reader(void *userdata) {
        Race *r = userdata;
        for (;;) {
                ImportCacheTicket t = import_cache_ticket(r->cache, ID_1);
                pthread_mutex_lock(&r->lock);
                int v = r->version;
                bool done = r->done;
                pthread_mutex_unlock(&r->lock);
                if (done)
                        return NULL;
                char body[16];
                int n = snprintf(body, sizeof body, "%d", v);
                (void) import_cache_put(r->cache, &t, ID_1, 1, body, (size_t) n);
                size_t len;
                free(import_cache_get(r->cache, ID_1, 1, &len));
        }
}

static void test_import_cache_race(void) {
        Race r = { .cache = import_cache_new(8, 100), .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t readers[4];
        import_cache_reset(r.cache, true);
        for (size_t i = 0; i < ELEMENTSOF(readers); i++)
                pthread_create(&readers[i], NULL, race_reader, &r);
        for (int v = 1; v <= 2000; v++) {
                /* The change commits, then its notification arrives. */
                pthread_mutex_lock(&r.lock);
                r.version = v;
                pthread_mutex_unlock(&r.lock);
                import_cache_invalidate(r.cache, ID_1);
        }
        pthread_mutex_lock(&r.lock);
        r.done = true;
        pthread_mutex_unlock(&r.lock);
        for (size_t i = 0; i < ELEMENTSOF(readers); i++)
                pthread_join(readers[i], NULL);
        size_t len;
        char *got = import_cache_get(r.cache, ID_1, 1, &len);
        ok(!got || strcmp(got, "2000") == 0, "after racing readers, the cache holds the last version or nothing (%s)",
           got ? got : "nothing");
        free(got);
        import_cache_free(r.cache);
}

int main(void) {
        test_token_freshness();
        test_token_eviction();
        test_token_uses();
        test_import_cache();
        test_import_cache_eviction();
        test_import_cache_race();
        return tap_done();
}
