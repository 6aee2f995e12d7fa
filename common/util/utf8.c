#include "utf8.h"

#include <stdlib.h>
#include <string.h>

bool utf8_is_valid(const char *s, size_t len) {
        uint8_t need = 0, lo = 0x80, hi = 0xBF;
        for (size_t i = 0; i < len; i++)
                if (!utf8_step((uint8_t) s[i], &need, &lo, &hi))
                        return false;
        return need == 0;
}

size_t utf8_length(const char *s, size_t len) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++)
                if (((uint8_t) s[i] & 0xC0) != 0x80)
                        n++;
        return n;
}

size_t utf8_truncate(const char *s, size_t len, size_t max) {
        if (len <= max)
                return len;
        /* s[max] is the first byte left out: when it continues a
         * character, that character is left out whole. */
        while (max > 0 && ((uint8_t) s[max] & 0xC0) == 0x80)
                max--;
        return max;
}

char *utf8_sanitize(const char *s) {
        size_t len = strlen(s);
        /* At most three bytes of U+FFFD for each byte in. */
        char *out = malloc(len * 3 + 1);
        if (!out)
                return NULL;
        size_t o = 0, start = 0;
        uint8_t need = 0, lo = 0x80, hi = 0xBF;
        for (size_t i = 0; i < len;) {
                uint8_t c = (uint8_t) s[i];
                if (utf8_step(c, &need, &lo, &hi)) {
                        i++;
                        if (need == 0) {
                                memcpy(out + o, s + start, i - start);
                                o += i - start;
                                start = i;
                        }
                        continue;
                }
                /* A bad byte: what was pending, or the byte itself when it
                 * cannot start a sequence, becomes U+FFFD. */
                memcpy(out + o, "\xEF\xBF\xBD", 3);
                o += 3;
                if (start == i)
                        i++;
                start = i;
                need = 0;
        }
        if (need) {
                memcpy(out + o, "\xEF\xBF\xBD", 3);
                o += 3;
        }
        out[o] = '\0';
        return out;
}
