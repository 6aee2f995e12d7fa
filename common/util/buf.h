/* Buf: a growable byte buffer, always NUL-terminated after its contents.
 *
 * Ownership: a Buf owns `data`. Initialise with BUF_INIT (or zero it),
 * release with buf_done(), which leaves an empty Buf that may be reused.
 * buf_steal() hands the bytes to the caller (free() them). Appends return 0
 * or -ENOMEM and leave the contents unchanged on failure. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
} Buf;

#define BUF_INIT ((Buf){ NULL, 0, 0 })

/* Makes room for `extra` more bytes (plus the terminator). 0 or -ENOMEM. */
int buf_reserve(Buf *b, size_t extra) _must_check_;
int buf_append(Buf *b, const void *data, size_t len) _must_check_;
int buf_append_str(Buf *b, const char *s) _must_check_;
/* A decimal number. */
int buf_append_u64(Buf *b, unsigned long long v) _must_check_;
int buf_append_i64(Buf *b, long long v) _must_check_;
int buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3) _must_check_;
int buf_vprintf(Buf *b, const char *fmt, va_list ap) _printf_(2, 0) _must_check_;

/* One byte; inline, as buffers are mostly built a byte or a run at a
 * time (COPY rows, array literals). */
static inline _must_check_ int buf_append_char(Buf *b, char c) {
        if (_likely_(b->len + 2 <= b->cap)) {
                b->data[b->len++] = c;
                b->data[b->len] = '\0';
                return 0;
        }
        return buf_append(b, &c, 1);
}

/* Empties the buffer but keeps its memory. */
void buf_clear(Buf *b);
/* Drops the first n bytes, moving the rest to the front. */
void buf_consume(Buf *b, size_t n);
/* Frees the memory; the Buf is empty afterwards. NULL is a no-op. */
void buf_done(Buf *b);
/* Returns the NUL-terminated contents (never NULL: "" for an empty Buf,
 * freshly allocated) and empties the Buf; NULL only when out of memory. */
char *buf_steal(Buf *b);
/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_str(const Buf *b);
