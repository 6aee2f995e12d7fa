#include "token_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct Entry {
        bool live;
        char hash[SHA256_HEX_SIZE];
        AuthInfo info;
        int64_t looked_up_at; /* when the lookup that filled it began */
        int64_t last_check;   /* for choosing which entry of a full set to replace */
        bool used;            /* used since last_used_at was last written */
        bool written;         /* last_used_at is known to be set... */
        int64_t written_at;   /* ...at this time */
        bool refreshing;      /* a caller was told to renew it... */
        int64_t refresh_given; /* ...at this time */
} Entry;

/* A lock per set: requests with different tokens seldom meet. */
typedef struct Set {
        pthread_mutex_t lock;
        Entry e[TOKEN_CACHE_WAYS];
} Set;

struct TokenCache {
        int64_t ttl_ms;
        size_t n_sets; /* a power of two */
        Set *sets;
};

TokenCache *token_cache_new(int64_t ttl_ms, size_t capacity) {
        TokenCache *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->ttl_ms = ttl_ms < 0 ? 0 : ttl_ms;
        c->n_sets = 1;
        while (c->n_sets * TOKEN_CACHE_WAYS < capacity)
                c->n_sets *= 2;
        c->sets = calloc(c->n_sets, sizeof *c->sets);
        if (!c->sets) {
                free(c);
                return NULL;
        }
        for (size_t i = 0; i < c->n_sets; i++)
                pthread_mutex_init(&c->sets[i].lock, NULL);
        return c;
}

void token_cache_free(TokenCache *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_sets; i++)
                pthread_mutex_destroy(&c->sets[i].lock);
        free(c->sets);
        free(c);
}

static int hex_value(char ch) {
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

/* The hash is a sha256 in hex, evenly spread already: its first digits
 * choose the set. Anything else (never passed by roster) still gets a
 * set, by FNV-1a. */
static Set *set_of(TokenCache *c, const char *hash) {
        uint64_t h = 0;
        size_t i = 0;
        for (; i < 16 && hash[i]; i++) {
                int v = hex_value(hash[i]);
                if (v < 0)
                        break;
                h = h << 4 | (uint64_t) v;
        }
        if (i < 16) {
                h = 1469598103934665603ULL;
                for (const char *p = hash; *p; p++)
                        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        }
        return &c->sets[h & (c->n_sets - 1)];
}

static Entry *find(Set *s, const char *hash) {
        for (size_t i = 0; i < TOKEN_CACHE_WAYS; i++)
                if (s->e[i].live && strcmp(s->e[i].hash, hash) == 0)
                        return &s->e[i];
        return NULL;
}

TokenCacheResult token_cache_get(TokenCache *c, const char *token_hash, int64_t now, AuthInfo *ret) {
        Set *s = set_of(c, token_hash);
        TokenCacheResult res = TOKEN_CACHE_MISS;
        pthread_mutex_lock(&s->lock);
        Entry *e = find(s, token_hash);
        if (e && now - e->looked_up_at < c->ttl_ms) {
                *ret = e->info;
                e->used = true;
                e->last_check = now;
                res = TOKEN_CACHE_HIT;
                if (now - e->looked_up_at >= c->ttl_ms - c->ttl_ms / 4 &&
                    (!e->refreshing || now - e->refresh_given >= TOKEN_CACHE_REFRESH_WAIT_MS)) {
                        e->refreshing = true;
                        e->refresh_given = now;
                        res = TOKEN_CACHE_REFRESH;
                }
        }
        pthread_mutex_unlock(&s->lock);
        return res;
}

void token_cache_put(TokenCache *c, const char *token_hash, const AuthInfo *info, int64_t looked_up_at,
                     int64_t last_used_ms_ago) {
        if (strlen(token_hash) >= SHA256_HEX_SIZE)
                return;
        Set *s = set_of(c, token_hash);
        pthread_mutex_lock(&s->lock);
        Entry *e = find(s, token_hash);
        if (!e) {
                e = &s->e[0];
                for (size_t i = 0; i < TOKEN_CACHE_WAYS; i++) {
                        if (!s->e[i].live) {
                                e = &s->e[i];
                                break;
                        }
                        if (s->e[i].last_check < e->last_check)
                                e = &s->e[i];
                }
                *e = (Entry){ .live = true, .looked_up_at = INT64_MIN, .last_check = INT64_MIN };
                strcpy(e->hash, token_hash);
        }
        /* Two lookups of one token may end in either order: keep what
         * the later one saw. An earlier one's entry expires earlier, so
         * the bound on revocation holds either way. */
        if (looked_up_at >= e->looked_up_at) {
                e->info = *info;
                e->looked_up_at = looked_up_at;
                e->refreshing = false;
        }
        if (looked_up_at > e->last_check)
                e->last_check = looked_up_at;
        e->used = true;
        /* Another process (or this one) may have written it lately. */
        if (last_used_ms_ago >= 0) {
                int64_t at = looked_up_at - last_used_ms_ago;
                if (!e->written || at > e->written_at) {
                        e->written = true;
                        e->written_at = at;
                }
        }
        pthread_mutex_unlock(&s->lock);
}

void token_cache_forget(TokenCache *c, const char *token_hash) {
        Set *s = set_of(c, token_hash);
        pthread_mutex_lock(&s->lock);
        Entry *e = find(s, token_hash);
        if (e)
                *e = (Entry){ 0 };
        pthread_mutex_unlock(&s->lock);
}

size_t token_cache_take_due(TokenCache *c, int64_t now, int64_t *ids, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < c->n_sets && n < max; i++) {
                Set *s = &c->sets[i];
                pthread_mutex_lock(&s->lock);
                for (size_t j = 0; j < TOKEN_CACHE_WAYS && n < max; j++) {
                        Entry *e = &s->e[j];
                        if (!e->live || !e->used || (e->written && now - e->written_at < TOKEN_CACHE_TOUCH_MS))
                                continue;
                        ids[n++] = e->info.token_id;
                        e->used = false;
                        e->written = true;
                        e->written_at = now;
                }
                pthread_mutex_unlock(&s->lock);
        }
        return n;
}

void token_cache_put_back(TokenCache *c, const int64_t *ids, size_t n) {
        for (size_t i = 0; i < c->n_sets; i++) {
                Set *s = &c->sets[i];
                pthread_mutex_lock(&s->lock);
                for (size_t j = 0; j < TOKEN_CACHE_WAYS; j++) {
                        Entry *e = &s->e[j];
                        for (size_t k = 0; e->live && k < n; k++)
                                if (e->info.token_id == ids[k]) {
                                        e->used = true;
                                        e->written = false;
                                }
                }
                pthread_mutex_unlock(&s->lock);
        }
}
