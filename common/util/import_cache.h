/* ImportCache: the JSON bodies of imports (GET /v1/imports/{id}) as last
 * read from the database, each kept until the database says that its
 * import changed.
 *
 * The cache only stores and drops; what makes it right is its caller:
 *   - a body is put with the ticket taken *before* the database read that
 *     produced it (import_cache_ticket()); a put is refused when anything
 *     that maps to the same slots was invalidated, or the cache was reset,
 *     after the ticket was taken, so a read that raced a change is never
 *     kept;
 *   - every change to an import must reach import_cache_invalidate() (in
 *     roster-api: a trigger NOTIFYs, import_watch listens);
 *   - when changes may have been missed (no listener), import_cache_reset()
 *     with enabled = false drops everything and refuses puts until a
 *     listener is back and resets it with enabled = true.
 * A body must depend on the imports row alone (not on the time of the
 * read, say).
 *
 * Bounded: a fixed number of slots (sets of IMPORT_CACHE_WAYS by import
 * id; the least recently read one of a full set is replaced), and bodies
 * larger than max_body are not kept.
 *
 * Thread-safe: every function may be called from any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define IMPORT_CACHE_WAYS 4

typedef struct ImportCache ImportCache;

typedef struct ImportCacheTicket {
        uint64_t epoch, gen;
} ImportCacheTicket;

/* A cache of about `capacity` imports (rounded up to a power of two
 * times IMPORT_CACHE_WAYS), keeping bodies of at most max_body bytes;
 * puts are refused until import_cache_reset(c, true). NULL when out of
 * memory. Free with import_cache_free() (NULL is a no-op). */
ImportCache *import_cache_new(size_t capacity, size_t max_body);
void import_cache_free(ImportCache *c);
DEFINE_CLEANUP_FUNC(ImportCache *, import_cache_free);

/* A copy of the cached body of import id (a UUID, any case) when it
 * belongs to account_id: NUL-terminated, its length in *ret_len; the
 * caller frees it. NULL when not cached (or out of memory). */
char *import_cache_get(ImportCache *c, const char *id, int64_t account_id, size_t *ret_len);

/* To be taken before the database read whose result is put. */
ImportCacheTicket import_cache_ticket(ImportCache *c, const char *id);

/* Keeps body (len bytes, copied) as import id of account_id, unless the
 * ticket is out of date. True when kept. */
bool import_cache_put(ImportCache *c, const ImportCacheTicket *t, const char *id, int64_t account_id,
                      const char *body, size_t len);

/* Drops import id; puts with tickets taken before this are refused. */
void import_cache_invalidate(ImportCache *c, const char *id);

/* Drops everything; puts with tickets taken before this are refused, and
 * so are all puts while enabled is false. */
void import_cache_reset(ImportCache *c, bool enabled);
