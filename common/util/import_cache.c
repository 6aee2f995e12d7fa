#include "import_cache.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "uuid.h"

typedef struct Entry {
        bool live;
        char id[UUID_STRING_SIZE]; /* lower case */
        int64_t account_id;
        char *body;
        size_t len;
        uint64_t last_read; /* the set's clock at the last get or put */
} Entry;

/* A lock per set, so that readers of different imports seldom meet; gen
 * counts the invalidations of the set, for tickets. */
typedef struct Set {
        pthread_mutex_t lock;
        uint64_t gen;
        uint64_t clock;
        Entry e[IMPORT_CACHE_WAYS];
} Set;

struct ImportCache {
        size_t n_sets; /* a power of two */
        size_t max_body;
        Set *sets;
        atomic_uint_fast64_t epoch;
        atomic_bool enabled;
};

ImportCache *import_cache_new(size_t capacity, size_t max_body) {
        ImportCache *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        c->max_body = max_body;
        c->n_sets = 1;
        while (c->n_sets * IMPORT_CACHE_WAYS < capacity)
                c->n_sets *= 2;
        c->sets = calloc(c->n_sets, sizeof *c->sets);
        if (!c->sets) {
                free(c);
                return NULL;
        }
        for (size_t i = 0; i < c->n_sets; i++)
                pthread_mutex_init(&c->sets[i].lock, NULL);
        atomic_init(&c->epoch, 0);
        atomic_init(&c->enabled, false);
        return c;
}

static void entry_clear(Entry *e) {
        free(e->body);
        *e = (Entry){ 0 };
}

void import_cache_free(ImportCache *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_sets; i++) {
                for (size_t j = 0; j < IMPORT_CACHE_WAYS; j++)
                        entry_clear(&c->sets[i].e[j]);
                pthread_mutex_destroy(&c->sets[i].lock);
        }
        free(c->sets);
        free(c);
}

/* The id in lower case, as PostgreSQL writes a uuid (and the NOTIFY
 * payload has it); false when it is not a UUID. */
static bool key_of(const char *id, char key[UUID_STRING_SIZE]) {
        if (!id || !uuid_is_valid(id))
                return false;
        for (size_t i = 0; i < UUID_STRING_SIZE; i++)
                key[i] = (char) tolower((unsigned char) id[i]);
        return true;
}

static Set *set_of(ImportCache *c, const char key[UUID_STRING_SIZE]) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (const char *p = key; *p; p++)
                h = (h ^ (uint8_t) *p) * 1099511628211ULL;
        return &c->sets[h & (c->n_sets - 1)];
}

static Entry *find(Set *s, const char key[UUID_STRING_SIZE]) {
        for (size_t i = 0; i < IMPORT_CACHE_WAYS; i++)
                if (s->e[i].live && strcmp(s->e[i].id, key) == 0)
                        return &s->e[i];
        return NULL;
}

char *import_cache_get(ImportCache *c, const char *id, int64_t account_id, size_t *ret_len) {
        char key[UUID_STRING_SIZE];
        if (!key_of(id, key))
                return NULL;
        Set *s = set_of(c, key);
        char *copy = NULL;
        pthread_mutex_lock(&s->lock);
        Entry *e = find(s, key);
        /* Another account's import is not this caller's to see: a miss,
         * and the database answers 404 as ever. */
        if (e && e->account_id == account_id && (copy = malloc(e->len + 1))) {
                memcpy(copy, e->body, e->len + 1);
                *ret_len = e->len;
                e->last_read = ++s->clock;
        }
        pthread_mutex_unlock(&s->lock);
        return copy;
}

ImportCacheTicket import_cache_ticket(ImportCache *c, const char *id) {
        ImportCacheTicket t = { atomic_load(&c->epoch), 0 };
        char key[UUID_STRING_SIZE];
        if (!key_of(id, key))
                return t;
        Set *s = set_of(c, key);
        pthread_mutex_lock(&s->lock);
        t.gen = s->gen;
        pthread_mutex_unlock(&s->lock);
        return t;
}

bool import_cache_put(ImportCache *c, const ImportCacheTicket *t, const char *id, int64_t account_id,
                      const char *body, size_t len) {
        char key[UUID_STRING_SIZE];
        if (len > c->max_body || !key_of(id, key))
                return false;
        char *copy = malloc(len + 1);
        if (!copy)
                return false;
        memcpy(copy, body, len);
        copy[len] = '\0';

        Set *s = set_of(c, key);
        bool kept = false;
        pthread_mutex_lock(&s->lock);
        /* Under the set's lock: import_cache_reset() moves the epoch on
         * before it empties the sets, so a put either sees the new epoch
         * or is emptied with the rest. */
        if (atomic_load(&c->enabled) && atomic_load(&c->epoch) == t->epoch && s->gen == t->gen) {
                Entry *e = find(s, key);
                if (!e) {
                        e = &s->e[0];
                        for (size_t i = 0; i < IMPORT_CACHE_WAYS; i++) {
                                if (!s->e[i].live) {
                                        e = &s->e[i];
                                        break;
                                }
                                if (s->e[i].last_read < e->last_read)
                                        e = &s->e[i];
                        }
                }
                entry_clear(e);
                *e = (Entry){ .live = true, .account_id = account_id, .body = copy, .len = len,
                              .last_read = ++s->clock };
                memcpy(e->id, key, sizeof key);
                copy = NULL;
                kept = true;
        }
        pthread_mutex_unlock(&s->lock);
        free(copy);
        return kept;
}

void import_cache_invalidate(ImportCache *c, const char *id) {
        char key[UUID_STRING_SIZE];
        if (!key_of(id, key))
                return;
        Set *s = set_of(c, key);
        pthread_mutex_lock(&s->lock);
        s->gen++;
        Entry *e = find(s, key);
        if (e)
                entry_clear(e);
        pthread_mutex_unlock(&s->lock);
}

void import_cache_reset(ImportCache *c, bool enabled) {
        atomic_fetch_add(&c->epoch, 1);
        atomic_store(&c->enabled, enabled);
        for (size_t i = 0; i < c->n_sets; i++) {
                Set *s = &c->sets[i];
                pthread_mutex_lock(&s->lock);
                s->gen++;
                for (size_t j = 0; j < IMPORT_CACHE_WAYS; j++)
                        entry_clear(&s->e[j]);
                pthread_mutex_unlock(&s->lock);
        }
}
