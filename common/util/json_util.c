#include "json_util.h"

#include <stdio.h>
#include <string.h>

int json_util_append_string_len(Buf *b, const char *s, size_t len) {
        int r = buf_append_char(b, '"');
        size_t run = 0; /* start of the pending run of plain bytes */

        for (size_t i = 0; r >= 0 && i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                const char *esc = NULL;
                char hex[8];

                switch (c) {
                case '"': esc = "\\\""; break;
                case '\\': esc = "\\\\"; break;
                case '\n': esc = "\\n"; break;
                case '\r': esc = "\\r"; break;
                case '\t': esc = "\\t"; break;
                default:
                        if (c < 0x20 || c == 0x7f) {
                                snprintf(hex, sizeof hex, "\\u%04x", c);
                                esc = hex;
                        }
                }
                if (!esc)
                        continue;
                r = buf_append(b, s + run, i - run);
                if (r >= 0)
                        r = buf_append_str(b, esc);
                run = i + 1;
        }
        if (r >= 0)
                r = buf_append(b, s + run, len - run);
        if (r >= 0)
                r = buf_append_char(b, '"');
        return r;
}

int json_util_append_string(Buf *b, const char *s) {
        return json_util_append_string_len(b, s, strlen(s));
}
