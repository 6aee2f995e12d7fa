#include "cursor.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void cursor_encode(const char *s, char *out, size_t size) {
        size_t len = strlen(s), o = 0;
        for (size_t i = 0; i < len && o + 5 < size; i += 3) {
                uint32_t v = (uint32_t) (unsigned char) s[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t) (unsigned char) s[i + 1] << 8;
                if (i + 2 < len)
                        v |= (unsigned char) s[i + 2];
                out[o++] = alphabet[(v >> 18) & 63];
                out[o++] = alphabet[(v >> 12) & 63];
                if (i + 1 < len)
                        out[o++] = alphabet[(v >> 6) & 63];
                if (i + 2 < len)
                        out[o++] = alphabet[v & 63];
        }
        out[o] = '\0';
}

int cursor_decode(const char *cursor, char *out, size_t size) {
        size_t len = strlen(cursor), o = 0;
        uint32_t acc = 0;
        int bits = 0;
        if (len == 0 || len > 4 * size / 3)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                const char *p = memchr(alphabet, cursor[i], 64);
                if (!p)
                        return -EINVAL;
                acc = acc << 6 | (uint32_t) (p - alphabet);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (o + 1 >= size)
                                return -EINVAL;
                        char c = (char) ((acc >> bits) & 0xFF);
                        if (c == '\0' || (unsigned char) c < 0x20)
                                return -EINVAL;
                        out[o++] = c;
                }
        }
        out[o] = '\0';
        return 0;
}
