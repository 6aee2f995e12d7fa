#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(Buf *b, size_t extra) {
        if (extra > SIZE_MAX - b->len - 1)
                return -ENOMEM;
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

int buf_append(Buf *b, const void *data, size_t len) {
        /* The common case first: room enough. */
        if (len >= b->cap || b->len + len + 1 > b->cap) {
                int r = buf_reserve(b, len);
                if (r < 0)
                        return r;
        }
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
}

int buf_append_str(Buf *b, const char *s) {
        return buf_append(b, s, strlen(s));
}

int buf_append_u64(Buf *b, unsigned long long v) {
        char tmp[24];
        size_t i = sizeof tmp;
        do {
                tmp[--i] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        return buf_append(b, tmp + i, sizeof tmp - i);
}

int buf_append_i64(Buf *b, long long v) {
        if (v >= 0)
                return buf_append_u64(b, (unsigned long long) v);
        int r = buf_append_char(b, '-');
        /* -(v + 1) + 1: the most negative value has no positive twin. */
        return r < 0 ? r : buf_append_u64(b, (unsigned long long) -(v + 1) + 1);
}

int buf_vprintf(Buf *b, const char *fmt, va_list ap) {
        va_list aq;
        va_copy(aq, ap);
        int n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return -EINVAL;
        int r = buf_reserve(b, (size_t) n);
        if (r < 0)
                return r;
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        b->len += (size_t) n;
        return 0;
}

int buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = buf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

void buf_clear(Buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void buf_consume(Buf *b, size_t n) {
        if (n >= b->len) {
                buf_clear(b);
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
        b->data[b->len] = '\0';
}

void buf_done(Buf *b) {
        if (!b)
                return;
        free(b->data);
        *b = BUF_INIT;
}

char *buf_steal(Buf *b) {
        if (!b->data)
                return strdup("");
        char *p = b->data;
        *b = BUF_INIT;
        return p;
}

const char *buf_str(const Buf *b) {
        return b->data ? b->data : "";
}
