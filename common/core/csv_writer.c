#include "csv_writer.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Decodes the code point at s (valid or not: an invalid byte reads as
 * itself); sets *ret_size to its length in bytes. */
static uint32_t peek_code_point(const unsigned char *s, size_t len, size_t *ret_size) {
        if (len >= 2 && (s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
                *ret_size = 2;
                return (uint32_t) (s[0] & 0x1F) << 6 | (s[1] & 0x3F);
        }
        if (len >= 3 && (s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
                *ret_size = 3;
                return (uint32_t) (s[0] & 0x0F) << 12 | (uint32_t) (s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        }
        *ret_size = 1;
        return s[0];
}

/* Characters a spreadsheet skips before it decides that a cell is a
 * formula: white space of every kind, and invisible ones. */
static bool is_skipped(uint32_t c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' || c == 0xA0 ||
               c == 0x1680 || (c >= 0x2000 && c <= 0x200D) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
               c == 0x205F || c == 0x2060 || c == 0x3000 || c == 0xFEFF;
}

/* = + - @ and their full-width, small and mathematical forms, which
 * spreadsheets (and their CJK input modes) read as the ASCII ones. */
static bool is_formula_char(uint32_t c) {
        switch (c) {
        case '=':
        case '+':
        case '-':
        case '@':
        case 0xFF1D: /* full-width = + - @ */
        case 0xFF0B:
        case 0xFF0D:
        case 0xFF20:
        case 0xFE66: /* small = + - @ */
        case 0xFE62:
        case 0xFE63:
        case 0xFE6B:
        case 0x2212: /* minus sign */
                return true;
        default:
                return false;
        }
}

/* True when a spreadsheet could run [s, s+len) as a formula: it starts
 * with a tab or CR, or with a formula character after any white space. */
static bool is_formula(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s;
        if (len > 0 && (p[0] == '\t' || p[0] == '\r'))
                return true;
        while (len > 0) {
                size_t n;
                uint32_t c = peek_code_point(p, len, &n);
                if (is_formula_char(c))
                        return true;
                if (!is_skipped(c))
                        return false;
                p += n;
                len -= n;
        }
        return false;
}

/* What csv_writer_cell() guards, and what csv_writer_unguard() therefore
 * reads as guarded: apostrophes before a formula. Any number of them, so
 * that writing and reading back always give the value again. */
static bool is_guarded(const char *s, size_t len) {
        size_t i = 0;
        while (i < len && s[i] == '\'')
                i++;
        return i > 0 && is_formula(s + i, len - i);
}

int csv_writer_cell(Buf *b, const char *s, size_t len, char delimiter) {
        /* "'=x" gets an apostrophe too, so that reading it back (which
         * drops one) gives "'=x" again rather than "=x". */
        bool guard = is_formula(s, len) || is_guarded(s, len);
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
