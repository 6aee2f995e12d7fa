#include "pg_text.h"

#include <string.h>

int pg_text_copy(Buf *b, const char *s) {
        /* Runs of plain bytes in one go: most cells need no escape. */
        for (;;) {
                size_t n = strcspn(s, "\\\t\n\r");
                int r = buf_append(b, s, n);
                if (r < 0 || !s[n])
                        return r;
                const char *esc = s[n] == '\\' ? "\\\\" : s[n] == '\t' ? "\\t" : s[n] == '\n' ? "\\n" : "\\r";
                if ((r = buf_append(b, esc, 2)) < 0)
                        return r;
                s += n + 1;
        }
}

int pg_text_array_sep(Buf *b) {
        return b->len > 1 ? buf_append_char(b, ',') : 0;
}

int pg_text_array_text(Buf *b, const char *s) {
        int r = pg_text_array_sep(b);
        if (r < 0)
                return r;
        if (!s)
                return buf_append_str(b, "NULL");
        r = buf_append_char(b, '"');
        for (const char *p = s; r >= 0 && *p; p++) {
                if (*p == '"' || *p == '\\')
                        r = buf_append_char(b, '\\');
                if (r >= 0)
                        r = buf_append_char(b, *p);
        }
        return r < 0 ? r : buf_append_char(b, '"');
}

int pg_text_array_i64(Buf *b, const int64_t *v, size_t n) {
        int r = buf_append_char(b, '{');
        for (size_t i = 0; r >= 0 && i < n; i++)
                if ((r = pg_text_array_sep(b)) >= 0)
                        r = buf_append_i64(b, v[i]);
        return r < 0 ? r : buf_append_char(b, '}');
}

int pg_text_array_int(Buf *b, const int *v, size_t n) {
        int r = buf_append_char(b, '{');
        for (size_t i = 0; r >= 0 && i < n; i++)
                if ((r = pg_text_array_sep(b)) >= 0)
                        r = buf_append_i64(b, v[i]);
        return r < 0 ? r : buf_append_char(b, '}');
}
