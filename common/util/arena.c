#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64u * 1024)
#define ARENA_ALIGN 16u

struct ArenaBlock {
        ArenaBlock *next;
        size_t size, used;
        _Alignas(16) unsigned char data[];
};

void *arena_alloc(Arena *a, size_t size) {
        size = (size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
        if (size == 0)
                size = ARENA_ALIGN;
        ArenaBlock *b = a->head;
        if (!b || b->size - b->used < size) {
                size_t bsize = size > ARENA_BLOCK ? size : ARENA_BLOCK;
                b = malloc(sizeof *b + bsize);
                if (!b)
                        return NULL;
                b->size = bsize;
                b->used = 0;
                /* A block made for one big allocation goes behind the
                 * current one so that the current one keeps filling. */
                if (a->head && size > ARENA_BLOCK) {
                        b->next = a->head->next;
                        a->head->next = b;
                } else {
                        b->next = a->head;
                        a->head = b;
                }
        }
        void *p = b->data + b->used;
        b->used += size;
        a->used_total += size;
        memset(p, 0, size);
        return p;
}

char *arena_strndup(Arena *a, const char *s, size_t len) {
        char *p = arena_alloc(a, len + 1);
        if (!p)
                return NULL;
        memcpy(p, s, len);
        p[len] = '\0';
        return p;
}

char *arena_strdup(Arena *a, const char *s) {
        return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return NULL;
        char *p = arena_alloc(a, (size_t) n + 1);
        if (!p)
                return NULL;
        va_start(ap, fmt);
        vsnprintf(p, (size_t) n + 1, fmt, ap);
        va_end(ap);
        return p;
}

void arena_reset(Arena *a) {
        if (!a->head)
                return;
        /* Keep one block: the next batch will need it. */
        ArenaBlock *keep = a->head;
        ArenaBlock *b = keep->next;
        while (b) {
                ArenaBlock *next = b->next;
                free(b);
                b = next;
        }
        keep->next = NULL;
        keep->used = 0;
        a->used_total = 0;
}

void arena_done(Arena *a) {
        if (!a)
                return;
        ArenaBlock *b = a->head;
        while (b) {
                ArenaBlock *next = b->next;
                free(b);
                b = next;
        }
        *a = ARENA_INIT;
}
