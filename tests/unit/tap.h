/* tap.h: a tiny TAP (version 13) producer for roster's unit tests.
 *
 * Header only: every function is static (and marked unused, so a test file
 * that does not call one of them still builds with -Werror). Each check
 * prints "ok N - description" or "not ok N - description"; a failure adds
 * "# file:line" and, for is_int()/is_str(), what was got and wanted.
 * tap_done() prints the plan "1..N" and returns the exit status: non-zero
 * when any check failed (or when none ran).
 *
 *         int main(void) {
 *                 is_int(1 + 1, 2, "addition");
 *                 return tap_done();
 *         }
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TAP_FN __attribute__((unused)) static
#define TAP_PRINTF(a, b) __attribute__((format(printf, a, b)))

static unsigned tap_n_run;
static unsigned tap_n_failed;

TAP_FN void tap_start(void) {
        static bool started;
        if (!started) {
                started = true;
                fputs("TAP version 13\n", stdout);
        }
}

/* Prints a diagnostic, each of its lines as "# ...". */
TAP_FN TAP_PRINTF(1, 2) void diag(const char *fmt, ...) {
        char text[4096];
        va_list ap;

        tap_start();
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
        fputs("# ", stdout);
        for (const char *p = text; *p; p++) {
                putchar(*p);
                if (*p == '\n' && p[1])
                        fputs("# ", stdout);
        }
        if (!*text || text[strlen(text) - 1] != '\n')
                fputc('\n', stdout);
        fflush(stdout);
}

TAP_FN TAP_PRINTF(4, 0) bool tap_vok(bool cond, const char *file, int line, const char *fmt, va_list ap) {
        char desc[2048];

        tap_start();
        tap_n_run++;
        if (!cond)
                tap_n_failed++;
        vsnprintf(desc, sizeof desc, fmt, ap);
        printf("%sok %u - ", cond ? "" : "not ", tap_n_run);
        /* One line per test point: control characters in a description
         * (a message quoted in it, say) are written as escapes. */
        for (const char *p = desc; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c == '\n')
                        fputs("\\n", stdout);
                else if (c < 0x20 || c == 0x7F)
                        printf("\\x%02X", c);
                else
                        putchar(c);
        }
        fputc('\n', stdout);
        if (!cond)
                printf("#   Failed at %s:%d\n", file, line);
        fflush(stdout);
        return cond;
}

TAP_FN TAP_PRINTF(4, 5) bool tap_ok_at(bool cond, const char *file, int line, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        bool r = tap_vok(cond, file, line, fmt, ap);
        va_end(ap);
        return r;
}

TAP_FN TAP_PRINTF(5, 6) bool tap_is_int_at(long long got, long long want, const char *file, int line,
                                           const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        bool r = tap_vok(got == want, file, line, fmt, ap);
        va_end(ap);
        if (!r) {
                printf("#          got: %lld\n", got);
                printf("#     expected: %lld\n", want);
        }
        return r;
}

/* Prints s with control bytes and quotes escaped, so that a failure shows
 * exactly which bytes differ; NULL prints as (null). */
TAP_FN void tap_print_escaped(const char *s, size_t len) {
        if (!s) {
                fputs("(null)", stdout);
                return;
        }
        putchar('"');
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '\n')
                        fputs("\\n", stdout);
                else if (c == '\r')
                        fputs("\\r", stdout);
                else if (c == '\t')
                        fputs("\\t", stdout);
                else if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20 || c == 0x7F)
                        printf("\\x%02X", c);
                else
                        putchar(c);
        }
        putchar('"');
}

TAP_FN bool tap_mem_equal(const char *got, size_t got_len, const char *want, size_t want_len) {
        if (!got || !want)
                return !got && !want;
        return got_len == want_len && memcmp(got, want, got_len) == 0;
}

TAP_FN TAP_PRINTF(7, 8) bool tap_is_mem_at(const char *got, size_t got_len, const char *want, size_t want_len,
                                           const char *file, int line, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        bool r = tap_vok(tap_mem_equal(got, got_len, want, want_len), file, line, fmt, ap);
        va_end(ap);
        if (!r) {
                fputs("#          got: ", stdout);
                tap_print_escaped(got, got_len);
                fputs("\n#     expected: ", stdout);
                tap_print_escaped(want, want_len);
                fputc('\n', stdout);
                fflush(stdout);
        }
        return r;
}

/* Returns the exit status for main(): 0 when every check passed. */
TAP_FN int tap_done(void) {
        tap_start();
        printf("1..%u\n", tap_n_run);
        if (tap_n_failed)
                printf("# failed %u of %u\n", tap_n_failed, tap_n_run);
        fflush(stdout);
        return tap_n_failed || tap_n_run == 0 ? 1 : 0;
}

#define ok(cond, ...) tap_ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int_at((long long) (got), (long long) (want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...)                                                                                 \
        ({                                                                                                     \
                const char *_tap_g_ = (got), *_tap_w_ = (want);                                                \
                tap_is_mem_at(_tap_g_, _tap_g_ ? strlen(_tap_g_) : 0, _tap_w_, _tap_w_ ? strlen(_tap_w_) : 0, \
                              __FILE__, __LINE__, __VA_ARGS__);                                                \
        })
/* Compares byte strings that may hold NULs. */
#define is_mem(got, got_len, want, want_len, ...) \
        tap_is_mem_at((got), (got_len), (want), (want_len), __FILE__, __LINE__, __VA_ARGS__)
