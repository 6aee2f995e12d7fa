#include "uuid.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "random.h"

int uuid_v4(char out[UUID_STRING_SIZE]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t b[16];
        int r = random_bytes(b, sizeof b);
        if (r < 0)
                return r;
        b[6] = (b[6] & 0x0F) | 0x40; /* version 4 */
        b[8] = (b[8] & 0x3F) | 0x80; /* RFC 4122 variant */
        char *p = out;
        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *p++ = '-';
                *p++ = hex[b[i] >> 4];
                *p++ = hex[b[i] & 15];
        }
        *p = '\0';
        return 0;
}

bool uuid_is_valid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}
