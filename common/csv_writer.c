#include "csv_writer.h"

#include <stdbool.h>
#include <string.h>

static bool is_formula_start(char c) {
        return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

/* What csv_writer_cell() guards, and what csv_writer_unguard() therefore
 * reads as guarded: apostrophes, however many, before a formula character.
 * Any number, not one or two: the writer adds one to each such value, and
 * the reader must know every value the writer can produce. */
static bool is_guarded(const char *s, size_t len) {
        size_t i = 0;
        while (i < len && s[i] == '\'')
                i++;
        return i > 0 && i < len && is_formula_start(s[i]);
}

int csv_writer_cell(Buf *b, const char *s, size_t len, char delimiter) {
        /* "'=x" gets an apostrophe too, so that reading it back (which
         * drops one) gives "'=x" again rather than "=x". */
        bool guard = len > 0 && (is_formula_start(s[0]) || is_guarded(s, len));
        bool quote = len > 0 && (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t');
        for (size_t i = 0; i < len && !quote; i++)
                quote = s[i] == delimiter || s[i] == '"' || s[i] == '\n' || s[i] == '\r';

        int r = 0;
        if (quote)
                r = buf_append_char(b, '"');
        if (r >= 0 && guard)
                r = buf_append_char(b, '\'');
        for (size_t i = 0; r >= 0 && i < len; i++) {
                if (s[i] == '"')
                        r = buf_append_char(b, '"');
                if (r >= 0)
                        r = buf_append_char(b, s[i]);
        }
        if (r >= 0 && quote)
                r = buf_append_char(b, '"');
        return r;
}

size_t csv_writer_unguard(char *s, size_t len) {
        if (is_guarded(s, len)) {
                memmove(s, s + 1, len - 1);
                s[len - 1] = '\0';
                return len - 1;
        }
        return len;
}
