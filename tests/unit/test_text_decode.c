/* Unit tests for common/core/text_decode.h: encoding detection, decoding to
 * UTF-8 across chunk boundaries, UTF-8 validation. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "text_decode.h"
#include "tap.h"
#include "utf16.h"

#define S(lit) lit, sizeof(lit) - 1

/* Sniffs data fed whole, or one byte at a time. Returns the result code;
 * *ret_what is set for binary formats. */
static int sniff(const char *data, size_t len, bool bytewise, TextEncoding *ret, const char **ret_what) {
        TextSniffer s;

        text_sniffer_init(&s);
        if (bytewise)
                for (size_t i = 0; i < len; i++)
                        text_sniffer_feed(&s, data + i, 1);
        else
                text_sniffer_feed(&s, data, len);
        return text_sniffer_result(&s, ret, ret_what);
}

static void expect_encoding(const char *what, const char *data, size_t len, TextEncoding want) {
        for (int bytewise = 0; bytewise <= 1; bytewise++) {
                TextEncoding e = _TEXT_ENCODING_MAX;
                const char *w = NULL;
                int r = sniff(data, len, bytewise, &e, &w);
                is_int(r, 0, "sniff %s (%s): 0", what, bytewise ? "byte by byte" : "whole");
                is_str(text_encoding_name(e), text_encoding_name(want), "sniff %s (%s): %s", what,
                       bytewise ? "byte by byte" : "whole", text_encoding_name(want));
        }
}

static void expect_binary(const char *what, const char *data, size_t len, const char *word) {
        TextEncoding e = TEXT_ENCODING_UTF8;
        const char *w = NULL;
        int r = sniff(data, len, false, &e, &w);

        is_int(r, -EMEDIUMTYPE, "sniff %s: -EMEDIUMTYPE", what);
        ok(w && strstr(w, word), "sniff %s: described as %s (\"%s\")", what, word, w ? w : "(null)");
}

static void test_sniffer(void) {
        expect_encoding("ASCII", S("email,first_name\r\na@example.org,Ann\r\n"), TEXT_ENCODING_UTF8);
        expect_encoding("UTF-8", S("first_name\nZo\xC3\xAB\nS\xC3\xA9\xC3\xA1n \xF0\x9F\x98\x80\n"),
                        TEXT_ENCODING_UTF8);
        expect_encoding("UTF-8 with BOM", S("\xEF\xBB\xBF" "email\nZo\xC3\xAB\n"), TEXT_ENCODING_UTF8_BOM);
        expect_encoding("UTF-16LE with BOM", S("\xFF\xFE" "e\0m\0"), TEXT_ENCODING_UTF16LE);
        expect_encoding("UTF-16BE with BOM", S("\xFE\xFF\0e\0m"), TEXT_ENCODING_UTF16BE);
        expect_encoding("Windows-1252 in the first bytes", S("Zo\xEB\n"), TEXT_ENCODING_WINDOWS_1252);
        expect_encoding("Windows-1252 after a long ASCII run",
                        S("email,first_name,last_name\r\nzoe@example.org,Zo\xEB,Smith\r\n"),
                        TEXT_ENCODING_WINDOWS_1252);
        expect_encoding("Windows-1252 that starts like UTF-8 (\\xC3 then ASCII)", S("email\nAnn \xC3 Smith\n"),
                        TEXT_ENCODING_WINDOWS_1252);
        expect_encoding("a truncated UTF-8 sequence at the end", S("email,name\nzoe@example.org,Zo\xC3"),
                        TEXT_ENCODING_WINDOWS_1252);
        expect_encoding("an overlong UTF-8 form", S("email,name\nx,\xC0\xAF\n"), TEXT_ENCODING_WINDOWS_1252);
        expect_encoding("a UTF-8 surrogate", S("email,name\nx,\xED\xA0\x80\n"), TEXT_ENCODING_WINDOWS_1252);

        expect_binary("an xlsx workbook", S("PK\x03\x04\x14\x00\x06\x00"), "xlsx");
        expect_binary("an old xls workbook", S("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), ".xls");
        expect_binary("a PDF", S("%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"), "PDF");
        expect_binary("a gzip file", S("\x1F\x8B\x08\x00\x00\x00\x00\x00"), "gzip");

        /* Magic bytes that arrive one at a time are still recognised. */
        TextEncoding e = TEXT_ENCODING_UTF8;
        const char *w = NULL;
        is_int(sniff(S("PK\x03\x04rest"), true, &e, &w), -EMEDIUMTYPE, "xlsx magic fed byte by byte");

        /* A text file that merely starts with "PK" is text. */
        e = _TEXT_ENCODING_MAX;
        is_int(sniff(S("PKey,Name\n1,x\n"), false, &e, &w), 0, "\"PKey,...\" is text");
        is_int(e, TEXT_ENCODING_UTF8, "\"PKey,...\" is UTF-8");

        is_int(sniff("", 0, false, &e, &w), -ENODATA, "nothing fed: -ENODATA");
        TextSniffer s;
        text_sniffer_init(&s);
        text_sniffer_feed(&s, "", 0);
        is_int(text_sniffer_result(&s, &e, &w), -ENODATA, "an empty chunk fed: -ENODATA");

        /* The names round-trip. */
        for (int i = 0; i < _TEXT_ENCODING_MAX; i++) {
                TextEncoding back = _TEXT_ENCODING_MAX;
                const char *name = text_encoding_name((TextEncoding) i);
                is_int(name ? text_encoding_from_name(name, &back) : -1, 0, "text_encoding_from_name(\"%s\")",
                       name ? name : "(null)");
                is_int(back, i, "the name of encoding %d round-trips", i);
        }
        is_int(text_encoding_from_name("latin1", &e), -EINVAL, "an unknown encoding name: -EINVAL");
        is_str(text_encoding_name(TEXT_ENCODING_WINDOWS_1252), "windows-1252", "the name reported for 1252");
        ok(!text_encoding_is_ascii_compatible(TEXT_ENCODING_UTF16LE) &&
                   !text_encoding_is_ascii_compatible(TEXT_ENCODING_UTF16BE) &&
                   text_encoding_is_ascii_compatible(TEXT_ENCODING_WINDOWS_1252) &&
                   text_encoding_is_ascii_compatible(TEXT_ENCODING_UTF8_BOM),
           "only UTF-16 is not ASCII-compatible");
        is_int(text_encoding_bom_size(TEXT_ENCODING_UTF8_BOM), 3, "UTF-8 BOM size");
        is_int(text_encoding_bom_size(TEXT_ENCODING_UTF16BE), 2, "UTF-16 BOM size");
        is_int(text_encoding_bom_size(TEXT_ENCODING_UTF8), 0, "no BOM for plain UTF-8");
}

/* Decodes data in the pieces given by the cut positions (ascending);
 * returns the output (free it) and the replacement count. */
static char *decode_cuts(TextEncoding enc, const void *data, size_t len, const size_t *cuts, size_t n_cuts,
                         uint64_t *ret_replacements) {
        TextDecoder *d = text_decoder_new(enc);
        Buf out = BUF_INIT;
        size_t off = 0;

        if (!d)
                abort();
        for (size_t i = 0; i <= n_cuts; i++) {
                size_t end = i < n_cuts ? cuts[i] : len;
                if (text_decoder_feed(d, (const uint8_t *) data + off, end - off, &out) < 0)
                        abort();
                off = end;
        }
        if (text_decoder_finish(d, &out) < 0)
                abort();
        if (ret_replacements)
                *ret_replacements = text_decoder_replacements(d);
        text_decoder_free(d);
        char *s = buf_steal(&out);
        if (!s)
                abort();
        return s;
}

static char *decode(TextEncoding enc, const void *data, size_t len, uint64_t *ret_replacements) {
        return decode_cuts(enc, data, len, NULL, 0, ret_replacements);
}

/* Decodes whole, split in two at every position, and byte by byte: all
 * must give want. */
static void expect_decode_splits(const char *what, TextEncoding enc, const void *data, size_t len,
                                 const char *want) {
        uint64_t repl = 99;
        char *got = decode(enc, data, len, &repl);

        is_str(got, want, "%s: decoded whole", what);
        is_int(repl, 0, "%s: no replacements", what);
        free(got);

        size_t bad_at = SIZE_MAX;
        for (size_t cut = 0; cut <= len; cut++) {
                got = decode_cuts(enc, data, len, &cut, 1, &repl);
                if ((strcmp(got, want) != 0 || repl != 0) && bad_at == SIZE_MAX) {
                        bad_at = cut;
                        is_str(got, want, "%s: split at byte %zu", what, cut);
                }
                free(got);
        }
        ok(bad_at == SIZE_MAX, "%s: split in two at every one of %zu positions gives the same text", what,
           len + 1);

        size_t *cuts = malloc(len * sizeof *cuts);
        if (!cuts)
                abort();
        for (size_t i = 0; i < len; i++)
                cuts[i] = i + 1;
        got = decode_cuts(enc, data, len, cuts, len ? len - 1 : 0, &repl);
        is_str(got, want, "%s: one byte at a time", what);
        free(got);
        free(cuts);
}

static void test_decoder_utf16(void) {
        static const char text[] = "Zo\xC3\xAB,Se\xC3\xA1n,\xC3\x98rjan \xF0\x9F\x98\x80\r\n";
        uint8_t bytes[256];

        size_t n = utf16_from_utf8(text, false, true, bytes, sizeof bytes);
        ok(n == 2 + 2 * 19 && bytes[0] == 0xFF && bytes[1] == 0xFE && bytes[2] == 'Z' && bytes[3] == 0,
           "test input: UTF-16LE with BOM (%zu bytes)", n);
        /* The emoji is the surrogate pair D83D DE00. */
        ok(memcmp(bytes + 2 + 2 * 15, "\x3D\xD8\x00\xDE", 4) == 0, "test input: U+1F600 as a surrogate pair");
        expect_decode_splits("UTF-16LE", TEXT_ENCODING_UTF16LE, bytes, n, text);

        n = utf16_from_utf8(text, true, true, bytes, sizeof bytes);
        ok(n == 2 + 2 * 19 && bytes[0] == 0xFE && bytes[1] == 0xFF && bytes[2] == 0 && bytes[3] == 'Z',
           "test input: UTF-16BE with BOM");
        expect_decode_splits("UTF-16BE", TEXT_ENCODING_UTF16BE, bytes, n, text);

        /* The BOM is dropped only at the start: a second U+FEFF is text. */
        n = utf16_from_utf8("\xEF\xBB\xBF" "a", false, true, bytes, sizeof bytes);
        char *got = decode(TEXT_ENCODING_UTF16LE, bytes, n, NULL);
        is_str(got, "\xEF\xBB\xBF" "a", "UTF-16LE: only the first BOM is dropped");
        free(got);

        /* An odd byte left at the end becomes U+FFFD. */
        uint64_t repl = 0;
        got = decode(TEXT_ENCODING_UTF16LE, S("\xFF\xFE" "a\0b"), &repl);
        is_str(got, "a\xEF\xBF\xBD", "UTF-16LE: a trailing odd byte becomes U+FFFD");
        is_int(repl, 1, "UTF-16LE: the odd byte counts as a replacement");
        free(got);

        /* A lone high surrogate followed by a letter. */
        got = decode(TEXT_ENCODING_UTF16LE, S("\xFF\xFE" "a\0\x3D\xD8" "b\0"), &repl);
        ok(strncmp(got, "a\xEF\xBF\xBD", 4) == 0 && got[strlen(got) - 1] == 'b' && repl >= 1,
           "UTF-16LE: a lone surrogate becomes U+FFFD and decoding goes on");
        free(got);
}

/* Bad input must decode the same however it is cut: the replacement
 * logic also runs where a cut sequence is joined with the next chunk. */
static void expect_same_splits(const char *what, TextEncoding enc, const void *data, size_t len, const char *want,
                               uint64_t want_replacements) {
        uint64_t repl = 0;
        char *whole = decode(enc, data, len, &repl);

        is_str(whole, want, "%s: decoded whole", what);
        is_int(repl, want_replacements, "%s: %llu replacements", what, (unsigned long long) want_replacements);
        size_t bad_at = SIZE_MAX;
        for (size_t cut = 0; cut <= len; cut++) {
                char *got = decode_cuts(enc, data, len, &cut, 1, &repl);
                if ((strcmp(got, whole) != 0 || repl != want_replacements) && bad_at == SIZE_MAX) {
                        bad_at = cut;
                        is_str(got, whole, "%s: split at byte %zu", what, cut);
                }
                free(got);
        }
        ok(bad_at == SIZE_MAX, "%s: every split gives the same text and count", what);
        free(whole);
}

static void test_decoder_bad_input_splits(void) {
        /* "a", a lone high surrogate, "b", "c". */
        expect_same_splits("UTF-16LE with a lone surrogate", TEXT_ENCODING_UTF16LE,
                           S("\xFF\xFE" "a\0\x3D\xD8" "b\0c\0"), "a\xEF\xBF\xBD" "bc", 1);
        expect_same_splits("UTF-16BE with a lone low surrogate", TEXT_ENCODING_UTF16BE, S("\xFE\xFF\0a\xDE\x00\0b"),
                           "a\xEF\xBF\xBD" "b", 1);
        expect_same_splits("Windows-1252 with undefined bytes", TEXT_ENCODING_WINDOWS_1252, S("x\x81\x8Dy\x90"),
                           "x\xEF\xBF\xBD\xEF\xBF\xBDy\xEF\xBF\xBD", 3);
        expect_same_splits("UTF-8 with bad bytes", TEXT_ENCODING_UTF8, S("a\xE2\x82(\xFF\xC3\xA9"),
                           "a\xEF\xBF\xBD(\xEF\xBF\xBD\xC3\xA9", 2);
}

static void test_decoder_1252(void) {
        uint64_t repl = 99;
        char *got = decode(TEXT_ENCODING_WINDOWS_1252, S("Zo\xEB Se\xE1n \xD8rjan \x80"), &repl);

        is_str(got, "Zo\xC3\xAB Se\xC3\xA1n \xC3\x98rjan \xE2\x82\xAC",
               "Windows-1252 \"Zo\\xEB Se\\xE1n \\xD8rjan \\x80\" -> UTF-8");
        is_int(repl, 0, "Windows-1252: no replacements");
        free(got);

        expect_decode_splits("Windows-1252", TEXT_ENCODING_WINDOWS_1252, S("Pr\xE9nom;\x93quoted\x94;\x80\r\n"),
                             "Pr\xC3\xA9nom;\xE2\x80\x9Cquoted\xE2\x80\x9D;\xE2\x82\xAC\r\n");

        got = decode(TEXT_ENCODING_WINDOWS_1252, S("a\x81" "b\x8D" "c"), &repl);
        is_str(got, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c", "undefined 1252 bytes 0x81, 0x8D -> U+FFFD");
        is_int(repl, 2, "undefined 1252 bytes are counted as replacements");
        free(got);

        size_t cut = 1;
        got = decode_cuts(TEXT_ENCODING_WINDOWS_1252, S("\x81" "x"), &cut, 1, &repl);
        is_str(got, "\xEF\xBF\xBD" "x", "an undefined byte alone in a chunk");
        is_int(repl, 1, "... counted once");
        free(got);
}

static void test_decoder_utf8(void) {
        static const char text[] = "\xEF\xBB\xBF" "Zo\xC3\xAB;\xE2\x82\xAC;\xF0\x9F\x98\x80\n";
        uint64_t repl = 99;

        expect_decode_splits("UTF-8 with BOM", TEXT_ENCODING_UTF8_BOM, S(text),
                             "Zo\xC3\xAB;\xE2\x82\xAC;\xF0\x9F\x98\x80\n");
        expect_decode_splits("UTF-8", TEXT_ENCODING_UTF8, S("Zo\xC3\xAB;\xE2\x82\xAC;\xF0\x9F\x98\x80\n"),
                             "Zo\xC3\xAB;\xE2\x82\xAC;\xF0\x9F\x98\x80\n");

        char *got = decode(TEXT_ENCODING_UTF8, S("a\xFF" "b"), &repl);
        is_str(got, "a\xEF\xBF\xBD" "b", "UTF-8: an invalid byte -> U+FFFD");
        is_int(repl, 1, "UTF-8: one replacement");
        free(got);

        got = decode(TEXT_ENCODING_UTF8, S("a\xC3(b"), &repl);
        is_str(got, "a\xEF\xBF\xBD(b", "UTF-8: a cut sequence -> U+FFFD, the next byte kept");
        free(got);

        got = decode(TEXT_ENCODING_UTF8, S("a\xC0\x80" "b"), &repl);
        ok(strncmp(got, "a\xEF\xBF\xBD", 4) == 0 && got[strlen(got) - 1] == 'b' && !strchr(got, '\x80') &&
                   utf8_is_valid(got, strlen(got)),
           "UTF-8: an overlong NUL is replaced and the output is valid UTF-8");
        free(got);

        got = decode(TEXT_ENCODING_UTF8, S("ab\xE2\x82"), &repl);
        is_str(got, "ab\xEF\xBF\xBD", "UTF-8: a sequence cut at the end of the stream -> U+FFFD at finish");
        is_int(repl, 1, "UTF-8: the cut sequence is one replacement");
        free(got);

        got = decode(TEXT_ENCODING_UTF8_BOM, S("\xEF\xBB"), &repl);
        is_str(got, "", "UTF-8 BOM only (cut): nothing");
        free(got);

        text_decoder_free(NULL); /* a no-op; a crash here fails the program */
}

static void test_utf8_validation(void) {
        static const struct {
                const char *s;
                size_t len;
                bool valid;
                const char *what;
        } cases[] = {
                { S(""), true, "empty" },
                { S("abc"), true, "ASCII" },
                { S("Zo\xC3\xAB"), true, "two-byte sequence" },
                { S("\xE2\x82\xAC"), true, "three-byte sequence" },
                { S("\xF0\x9F\x98\x80"), true, "four-byte sequence" },
                { S("\xF4\x8F\xBF\xBF"), true, "U+10FFFF" },
                { S("\xEF\xBF\xBD"), true, "U+FFFD itself" },
                { S("\xED\x9F\xBF"), true, "U+D7FF, just below the surrogates" },
                { S("\xC0\x80"), false, "overlong C0 80" },
                { S("\xC1\xBF"), false, "overlong C1 BF" },
                { S("\xE0\x80\x80"), false, "overlong E0 80 80" },
                { S("\xF0\x80\x80\x80"), false, "overlong F0 80 80 80" },
                { S("\xED\xA0\x80"), false, "surrogate ED A0 80" },
                { S("\xED\xBF\xBF"), false, "surrogate ED BF BF" },
                { S("\xF4\x90\x80\x80"), false, "above U+10FFFF (F4 90 80 80)" },
                { S("\xF5\x80\x80\x80"), false, "lead byte F5" },
                { S("\x80"), false, "a lone continuation byte" },
                { S("\xC3"), false, "a truncated sequence" },
                { S("\xE2\x82"), false, "a truncated three-byte sequence" },
                { S("\xC3\x28"), false, "a lead byte followed by ASCII" },
                { S("\xFF"), false, "byte FF" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                is_int(utf8_is_valid(cases[i].s, cases[i].len), cases[i].valid, "utf8_is_valid: %s",
                       cases[i].what);
        ok(utf8_is_valid("a\0b", 3), "utf8_is_valid: an embedded NUL is valid UTF-8 (length-based)");

        is_int(utf8_length(S("")), 0, "utf8_length(\"\")");
        is_int(utf8_length(S("abc")), 3, "utf8_length(\"abc\")");
        is_int(utf8_length(S("Zo\xC3\xAB")), 3, "utf8_length(\"Zo\xC3\xAB\")");
        is_int(utf8_length(S("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80")), 3, "utf8_length counts code points");

        is_int(utf8_truncate(S("abc"), 10), 3, "utf8_truncate: shorter than max: whole");
        is_int(utf8_truncate(S("abc"), 2), 2, "utf8_truncate: ASCII cut at max");
        is_int(utf8_truncate(S(""), 0), 0, "utf8_truncate: empty");
        is_int(utf8_truncate(S("Zo\xC3\xAB"), 4), 4, "utf8_truncate: exactly max");
        is_int(utf8_truncate(S("Zo\xC3\xAB!"), 3), 2, "utf8_truncate: not inside a two-byte character");
        is_int(utf8_truncate(S("Zo\xC3\xAB!"), 4), 4, "utf8_truncate: after a whole two-byte character");
        is_int(utf8_truncate(S("\xF0\x9F\x98\x80x"), 3), 0, "utf8_truncate: not inside a four-byte character");
        is_int(utf8_truncate(S("\xF0\x9F\x98\x80x"), 4), 4, "utf8_truncate: after a four-byte character");
}

int main(void) {
        test_sniffer();
        test_decoder_utf16();
        test_decoder_1252();
        test_decoder_utf8();
        test_decoder_bad_input_splits();
        test_utf8_validation();
        return tap_done();
}
