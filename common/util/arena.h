/* Arena: a bump allocator for memory that lives as long as one batch of
 * rows. Allocations are never freed one by one; arena_reset() keeps the
 * first block for reuse, arena_done() frees everything.
 *
 * Ownership: the Arena owns every block; pointers it returned are valid
 * until the next arena_reset()/arena_done(). */
#pragma once

#include <stddef.h>

#include "macro.h"

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
        ArenaBlock *head;
        size_t used_total;
} Arena;

#define ARENA_INIT ((Arena){ NULL, 0 })

/* Returns zeroed memory aligned for any type, or NULL when out of memory. */
void *arena_alloc(Arena *a, size_t size);
char *arena_strndup(Arena *a, const char *s, size_t len);
char *arena_strdup(Arena *a, const char *s);
/* printf into the arena; NULL when out of memory. */
char *arena_printf(Arena *a, const char *fmt, ...) _printf_(2, 3);

/* Forgets every allocation, keeping one block for reuse /
 * frees every block (not a itself). */
void arena_reset(Arena *a);
void arena_done(Arena *a);
