/* utf16.h: builds UTF-16 test input from UTF-8 literals, independently of
 * iconv (which is what the code under test uses), so that a decoder bug
 * cannot hide behind the same library producing the expected bytes.
 * Header only, for the unit tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Encodes the well-formed UTF-8 string s as UTF-16 (little or big endian),
 * after a byte-order mark when bom is set. Returns the number of bytes
 * written to out, or 0 when out is too small. */
__attribute__((unused)) static size_t utf16_from_utf8(const char *s, bool big_endian, bool bom, uint8_t *out,
                                                      size_t size) {
        const uint8_t *p = (const uint8_t *) s;
        size_t o = 0;
        uint16_t units[2];

#define PUT_UNIT(u)                                           \
        do {                                                  \
                if (o + 2 > size)                             \
                        return 0;                             \
                out[o + (big_endian ? 0 : 1)] = (uint8_t) ((u) >> 8); \
                out[o + (big_endian ? 1 : 0)] = (uint8_t) ((u) & 0xFF); \
                o += 2;                                       \
        } while (0)

        if (bom)
                PUT_UNIT(0xFEFF);
        while (*p) {
                uint32_t cp;
                if (p[0] < 0x80)
                        cp = *p++;
                else if ((p[0] & 0xE0) == 0xC0) {
                        cp = (uint32_t) (p[0] & 0x1F) << 6 | (p[1] & 0x3F);
                        p += 2;
                } else if ((p[0] & 0xF0) == 0xE0) {
                        cp = (uint32_t) (p[0] & 0x0F) << 12 | (uint32_t) (p[1] & 0x3F) << 6 | (p[2] & 0x3F);
                        p += 3;
                } else {
                        cp = (uint32_t) (p[0] & 0x07) << 18 | (uint32_t) (p[1] & 0x3F) << 12 |
                             (uint32_t) (p[2] & 0x3F) << 6 | (p[3] & 0x3F);
                        p += 4;
                }
                size_t n = 0;
                if (cp >= 0x10000) {
                        cp -= 0x10000;
                        units[n++] = (uint16_t) (0xD800 | (cp >> 10));
                        units[n++] = (uint16_t) (0xDC00 | (cp & 0x3FF));
                } else
                        units[n++] = (uint16_t) cp;
                for (size_t i = 0; i < n; i++)
                        PUT_UNIT(units[i]);
        }
#undef PUT_UNIT
        return o;
}
