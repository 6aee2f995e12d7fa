/* UTF-8: validation (strict: no overlong forms, no surrogates, nothing
 * past U+10FFFF), length, and making a string valid. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when [s, s+len) is valid UTF-8. */
bool utf8_is_valid(const char *s, size_t len);

/* Number of code points of a valid UTF-8 string. */
size_t utf8_length(const char *s, size_t len);

/* The length of the longest start of [s, s+len) that is at most max bytes
 * and does not end inside a character: for quoting a bounded piece of
 * text in a message ("%.*s") without leaving half a character in it. */
size_t utf8_truncate(const char *s, size_t len, size_t max);

/* A copy of s that is valid UTF-8: each invalid sequence (or one cut at
 * the end) becomes U+FFFD. NULL when out of memory; free() it. */
char *utf8_sanitize(const char *s);

/* UTF-8 validation as a byte-at-a-time state machine, so that it can run
 * over a stream cut anywhere: `need` continuation bytes are outstanding and
 * the next one must lie in [lo, hi] (this is what rules out overlong forms
 * and surrogates). Returns false on an invalid byte. */
static inline bool utf8_step(uint8_t c, uint8_t *need, uint8_t *lo, uint8_t *hi) {
        if (*need) {
                if (c < *lo || c > *hi)
                        return false;
                *lo = 0x80;
                *hi = 0xBF;
                (*need)--;
                return true;
        }
        if (c < 0x80)
                return true;
        *lo = 0x80;
        *hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
                *need = 1;
        else if (c == 0xE0) {
                *need = 2;
                *lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
                *need = 2;
        else if (c == 0xED) {
                *need = 2;
                *hi = 0x9F;
        } else if (c == 0xF0) {
                *need = 3;
                *lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3)
                *need = 3;
        else if (c == 0xF4) {
                *need = 3;
                *hi = 0x8F;
        } else
                return false;
        return true;
}
