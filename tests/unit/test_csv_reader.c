/* Unit tests for common/core/csv_reader.h: records, physical line numbers,
 * strict errors, chunking, delimiters. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv_reader.h"
#include "tap.h"

/* Declared in csv_reader.h; referenced weakly so that this file links (and
 * the test reports it) whether or not the library defines it. */

/* How input is cut before it is fed. */
enum {
        CHUNK_WHOLE = 0,
        CHUNK_BYTES = 1,
        CHUNK_RANDOM = -1,
};

typedef struct Parse {
        Buf out; /* one line per record: "LINE:[cell][cell]" with escapes */
        int feed_rc, finish_rc;
        CsvError error;
        unsigned long n_records;
        bool index_ok; /* rec->index counted 0, 1, 2, ... */
        unsigned long stop_after; /* return -42 after this many records (0: never) */
        unsigned long calls_after_stop;
} Parse;

static void append_escaped(Buf *b, const char *s, size_t len) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                int r;
                if (c == '\n')
                        r = buf_append_str(b, "\\n");
                else if (c == '\r')
                        r = buf_append_str(b, "\\r");
                else if (c == '\t')
                        r = buf_append_str(b, "\\t");
                else
                        r = buf_append_char(b, (char) c);
                if (r < 0)
                        abort();
        }
}

static int collect(const CsvRecord *rec, void *userdata) {
        Parse *p = userdata;

        if (p->stop_after && p->n_records >= p->stop_after) {
                p->calls_after_stop++;
                return -42;
        }
        if (rec->index != p->n_records)
                p->index_ok = false;
        p->n_records++;
        if (buf_printf(&p->out, "%lu:", rec->line) < 0)
                abort();
        for (size_t i = 0; i < rec->n_cells; i++) {
                if (strlen(rec->cells[i]) != rec->lens[i])
                        p->index_ok = false; /* cells must be NUL-terminated at lens[i] */
                if (buf_append_char(&p->out, '[') < 0)
                        abort();
                append_escaped(&p->out, rec->cells[i], rec->lens[i]);
                if (buf_append_char(&p->out, ']') < 0)
                        abort();
        }
        if (buf_append_char(&p->out, '\n') < 0)
                abort();
        if (p->stop_after && p->n_records == p->stop_after)
                return -42;
        return 0;
}

/* A small deterministic generator, so that a failure can be reproduced. */
static uint32_t rng_state;

static uint32_t rng_next(void) {
        rng_state = rng_state * 1103515245u + 12345u;
        return (rng_state >> 8) & 0xFFFFFF;
}

/* Parses data cut as `chunking` says (CHUNK_RANDOM uses seed). The caller
 * frees p->out with buf_done(). */
static void parse(Parse *p, char delim, const char *data, size_t len, int chunking, uint32_t seed) {
        *p = (Parse){ .out = BUF_INIT, .index_ok = true, .stop_after = p->stop_after };
        CsvReader *r = csv_reader_new(delim, collect, p);
        if (!r)
                abort();

        rng_state = seed;
        size_t off = 0;
        int rc = 0;
        while (off < len && rc == 0) {
                size_t n = len - off;
                if (chunking == CHUNK_BYTES)
                        n = 1;
                else if (chunking == CHUNK_RANDOM) {
                        size_t want = 1 + rng_next() % 17; /* not inside MIN(): it evaluates twice */
                        n = MIN(n, want);
                }
                rc = csv_reader_feed(r, data + off, n);
                off += n;
        }
        p->feed_rc = rc;
        p->finish_rc = rc < 0 ? rc : csv_reader_finish(r);
        p->error = *csv_reader_error(r);
        csv_reader_free(r);
}

/* Parses in one piece and returns the records as text (owned by the
 * static buffer until the next call). */
static const char *records(char delim, const char *data, size_t len) {
        static Buf last = BUF_INIT;
        Parse p = { 0 };

        parse(&p, delim, data, len, CHUNK_WHOLE, 0);
        buf_done(&last);
        last = p.out;
        if (p.finish_rc != 0)
                diag("parse returned %d/%d (error %d at line %lu)", p.feed_rc, p.finish_rc, p.error.code,
                     p.error.line);
        return buf_str(&last);
}

static void release_records(void) {
        (void) records(',', "", 0);
}

#define S(lit) lit, sizeof(lit) - 1

static void test_line_ends(void) {
        const char *want = "1:[name][email]\n2:[Ann][a@example.org]\n3:[Bob][b@example.org]\n";

        is_str(records(',', S("name,email\nAnn,a@example.org\nBob,b@example.org\n")), want, "LF line ends");
        is_str(records(',', S("name,email\r\nAnn,a@example.org\r\nBob,b@example.org\r\n")), want,
               "CRLF line ends give the same records and lines");
        is_str(records(',', S("name,email\rAnn,a@example.org\rBob,b@example.org\r")), want,
               "CR line ends give the same records and lines");
        is_str(records(',', S("name,email\nAnn,a@example.org\nBob,b@example.org")), want,
               "a last record without a line break is passed by finish");
        is_str(records(',', S("name,email\r\nAnn,a@example.org\nBob,b@example.org\r")), want,
               "mixed line ends in one file");
}

static void test_line_numbers(void) {
        is_str(records(',', S("h1,h2\n\"a\nb\",c\nd,e\n")), "1:[h1][h2]\n2:[a\\nb][c]\n4:[d][e]\n",
               "a quoted LF moves the next record down a line");
        is_str(records(',', S("h1,h2\r\n\"a\r\nb\",c\r\nd,e\r\n")), "1:[h1][h2]\n2:[a\\r\\nb][c]\n4:[d][e]\n",
               "a quoted CRLF counts as one line and is kept in the cell");
        is_str(records(',', S("h1,h2\r\"a\rb\",c\rd,e\r")), "1:[h1][h2]\n2:[a\\rb][c]\n4:[d][e]\n",
               "a quoted CR in a CR file counts as one line");
        is_str(records(',', S("h1,h2\n\"a\nb\",\"c\nd\"\ne,f\n")), "1:[h1][h2]\n2:[a\\nb][c\\nd]\n5:[e][f]\n",
               "line breaks in two quoted fields of one record both count");
        is_str(records(',', S("h\n\"x\n\n\ny\"\nz\n")), "1:[h]\n2:[x\\n\\n\\ny]\n6:[z]\n",
               "blank lines inside a quoted field count");
        is_str(records(',', S("h1,h2\n\na,b\n\n\nc,d\n")), "1:[h1][h2]\n3:[a][b]\n6:[c][d]\n",
               "blank lines are skipped but counted (LF)");
        is_str(records(',', S("h1,h2\r\n\r\na,b\r\n\r\n\r\nc,d\r\n")), "1:[h1][h2]\n3:[a][b]\n6:[c][d]\n",
               "blank lines are skipped but counted (CRLF)");
        is_str(records(',', S("h1,h2\r\ra,b\r\r\rc,d")), "1:[h1][h2]\n3:[a][b]\n6:[c][d]\n",
               "blank lines are skipped but counted (CR)");
        is_str(records(',', S("\n\nh1,h2\na,b\n")), "3:[h1][h2]\n4:[a][b]\n",
               "blank lines before the header are counted");
        is_str(records(',', S("h1,h2\n,\n , \n\"\",\"\"\n,,,\na,b\n")), "1:[h1][h2]\n6:[a][b]\n",
               "rows of only empty cells are skipped and counted");
        is_str(records(',', S("h1,h2\r\n,\r\n\"a\r\nb\",c\r\n,\r\nd,e\r\n")),
               "1:[h1][h2]\n3:[a\\r\\nb][c]\n6:[d][e]\n", "empty rows around a multi-line record");
        is_str(records(',', S("h1,h2\n,x\n")), "1:[h1][h2]\n2:[][x]\n", "a row with one non-empty cell is data");
}

static void test_quoting(void) {
        is_str(records(',', S("h,g\n\"say \"\"hi\"\"\",x\n")), "1:[h][g]\n2:[say \"hi\"][x]\n",
               "doubled quotes inside a quoted field become one quote");
        is_str(records(',', S("h,g\n\"\"\"\",\"a,b\"\n")), "1:[h][g]\n2:[\"][a,b]\n",
               "a field of one quote; a quoted delimiter");
        is_str(records(',', S("h,g\n \"a\" , b \n")), "1:[h][g]\n2:[a][b]\n",
               "spaces around fields and quotes are trimmed");
        is_str(records(',', S("h,g\n\" a \",b\n")), "1:[h][g]\n2:[ a ][b]\n", "spaces inside quotes are kept");
}

static void expect_error(const char *what, const char *data, size_t len, CsvErrorCode code, unsigned long line,
                         bool on_finish) {
        Parse p = { 0 };

        for (int chunking = CHUNK_WHOLE; chunking <= CHUNK_BYTES; chunking++) {
                parse(&p, ',', data, len, chunking, 0);
                const char *how = chunking == CHUNK_WHOLE ? "whole" : "byte by byte";
                if (on_finish) {
                        is_int(p.feed_rc, 0, "%s (%s): feeding succeeds", what, how);
                        is_int(p.finish_rc, -EBADMSG, "%s (%s): finish returns -EBADMSG", what, how);
                } else
                        is_int(p.feed_rc, -EBADMSG, "%s (%s): feed returns -EBADMSG", what, how);
                is_int(p.error.code, code, "%s (%s): error code", what, how);
                is_int(p.error.line, line, "%s (%s): error line", what, how);
                buf_done(&p.out);
        }
}

static void test_errors(void) {
        expect_error("quote inside an unquoted field", S("h1,h2\na,b\"c\n"), CSV_ERROR_QUOTE, 2, false);
        expect_error("text after a closing quote", S("h1,h2\nx,y\n\"bc\"d,e\n"), CSV_ERROR_QUOTE, 3, false);
        expect_error("bad quote after a multi-line field", S("h\n\"a\nb\"\nc\"d\n"), CSV_ERROR_QUOTE, 4, false);
        expect_error("bad quote after CRLF blank lines", S("h\r\n\r\n\r\nc\"d\r\n"), CSV_ERROR_QUOTE, 4, false);
        expect_error("unterminated quote", S("h1,h2\na,b\nc,\"d\ne\n"), CSV_ERROR_UNTERMINATED, 3, true);
        expect_error("unterminated quote in the first cell", S("h1,h2\r\n\"x,y\r\n"), CSV_ERROR_UNTERMINATED, 2,
                     true);
        expect_error("NUL byte", S("h1,h2\na,b\nc\0d\n"), CSV_ERROR_NUL, 3, false);
        expect_error("NUL byte on the first line", S("h\0"), CSV_ERROR_NUL, 1, false);

        /* Records before the error have been passed; none after. */
        Parse p = { 0 };
        parse(&p, ',', S("h1,h2\na,b\nc\0d\ne,f\n"), CHUNK_WHOLE, 0);
        is_str(buf_str(&p.out), "1:[h1][h2]\n2:[a][b]\n", "records before a NUL are passed, none after");
        buf_done(&p.out);

        /* After an error the reader is spent. */
        CsvReader *r = csv_reader_new(',', collect, &p);
        p = (Parse){ .out = BUF_INIT, .index_ok = true };
        is_int(csv_reader_feed(r, S("a,b\"c\n")), -EBADMSG, "bad quote");
        is_int(csv_reader_feed(r, S("d,e\n")), -EBADMSG, "feeding a spent reader returns the error again");
        is_int(csv_reader_finish(r), -EBADMSG, "finishing a spent reader returns the error again");
        is_int(p.n_records, 0, "no record was passed");
        csv_reader_free(r);
        buf_done(&p.out);
}

static void test_limits(void) {
        Buf b = BUF_INIT;
        Parse p = { 0 };

        /* CSV_READER_MAX_COLUMNS cells are fine, one more is not. */
        for (unsigned i = 0; i < CSV_READER_MAX_COLUMNS; i++)
                if (buf_append_str(&b, i ? ",c" : "c") < 0)
                        abort();
        if (buf_append_str(&b, "\n") < 0)
                abort();
        parse(&p, ',', b.data, b.len, CHUNK_WHOLE, 0);
        is_int(p.finish_rc, 0, "%u columns are accepted", CSV_READER_MAX_COLUMNS);
        is_int(p.n_records, 1, "the wide header is passed");
        buf_done(&p.out);

        buf_clear(&b);
        if (buf_append_str(&b, "a,b\n1,2\n") < 0)
                abort();
        for (unsigned i = 0; i <= CSV_READER_MAX_COLUMNS; i++)
                if (buf_append_str(&b, i ? ",x" : "x") < 0)
                        abort();
        if (buf_append_str(&b, "\n") < 0)
                abort();
        parse(&p, ',', b.data, b.len, CHUNK_WHOLE, 0);
        is_int(p.feed_rc, -EBADMSG, "%u columns: -EBADMSG", CSV_READER_MAX_COLUMNS + 1);
        is_int(p.error.code, CSV_ERROR_TOO_MANY_COLUMNS, "%u columns: CSV_ERROR_TOO_MANY_COLUMNS",
               CSV_READER_MAX_COLUMNS + 1);
        is_int(p.error.line, 3, "too many columns: the line of the row");
        buf_done(&p.out);

        /* An unterminated quote followed by more than the field limit: the
         * reader stops instead of buffering the rest of the file. */
        buf_clear(&b);
        if (buf_append_str(&b, "h1,h2\na,b\nc,\"") < 0)
                abort();
        for (unsigned i = 0; i < CSV_READER_MAX_FIELD / 64 + 100; i++)
                if (buf_append_str(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n") < 0)
                        abort();
        parse(&p, ',', b.data, b.len, CHUNK_WHOLE, 0);
        is_int(p.feed_rc, -EBADMSG, "a field over %u KiB: -EBADMSG", CSV_READER_MAX_FIELD / 1024);
        is_int(p.error.code, CSV_ERROR_FIELD_TOO_LONG, "a field over the limit: CSV_ERROR_FIELD_TOO_LONG");
        is_int(p.error.line, 3, "a field over the limit: the line where the field starts");
        buf_done(&p.out);

        parse(&p, ',', b.data, b.len, CHUNK_RANDOM, 7);
        is_int(p.error.code, CSV_ERROR_FIELD_TOO_LONG, "a field over the limit fed in small chunks");
        buf_done(&p.out);

        /* A long field that does close, just under the limit, is fine. */
        buf_clear(&b);
        if (buf_append_str(&b, "h\n\"") < 0)
                abort();
        unsigned lines = CSV_READER_MAX_FIELD / 64 - 1;
        for (unsigned i = 0; i < lines; i++)
                if (buf_append_str(&b, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n") < 0)
                        abort();
        if (buf_append_str(&b, "\"\nz\n") < 0)
                abort();
        parse(&p, ',', b.data, b.len, CHUNK_WHOLE, 0);
        is_int(p.finish_rc, 0, "a quoted field just under the limit is accepted");
        is_int(p.n_records, 3, "records around a long field");
        char want[32];
        snprintf(want, sizeof want, "\n%u:[z]\n", lines + 3);
        ok(p.out.len > (lines - 1) * 64 && strstr(p.out.data, want),
           "the record after a %u-line field starts on line %u", lines, lines + 3);
        buf_done(&p.out);
        buf_done(&b);
}

static void test_chunking(void) {
        static const char input[] =
                "\xEF\xBB\xBFname,email,note\r\n"
                "\r\n"
                "Ann,ann@example.org,\"two\r\nlines\"\r\n"
                ",,\r\n"
                "\"Bob \"\"B\"\"\",bob@example.org,\"lf\nonly\"\n"
                "Cy,cy@example.org,\"cr\ronly\"\r"
                "\n"
                " Dee , dee@example.org , \"q,uoted\" \r\n"
                "Eve,eve@example.org,last";
        static const char cr_input[] = "a,b\r\r\"x\ry\",z\r,\rq,\"\"\"\"\rw,v";
        const char *inputs[] = { input, cr_input };
        const size_t lens[] = { sizeof input - 1, sizeof cr_input - 1 };

        for (size_t k = 0; k < ELEMENTSOF(inputs); k++) {
                Parse whole = { 0 }, p = { 0 };

                parse(&whole, ',', inputs[k], lens[k], CHUNK_WHOLE, 0);
                is_int(whole.finish_rc, 0, "input %zu parses", k);
                ok(whole.index_ok, "input %zu: index counts records from 0; cells are NUL-terminated", k);

                parse(&p, ',', inputs[k], lens[k], CHUNK_BYTES, 0);
                is_str(buf_str(&p.out), buf_str(&whole.out), "input %zu: one byte at a time gives the same records",
                       k);
                is_int(p.finish_rc, 0, "input %zu: one byte at a time parses", k);
                buf_done(&p.out);

                unsigned bad = 0;
                for (uint32_t seed = 1; seed <= 200; seed++) {
                        parse(&p, ',', inputs[k], lens[k], CHUNK_RANDOM, seed);
                        if (p.finish_rc != 0 || strcmp(buf_str(&p.out), buf_str(&whole.out)) != 0) {
                                if (!bad)
                                        diag("seed %u differs:\n%s", seed, buf_str(&p.out));
                                bad++;
                        }
                        buf_done(&p.out);
                }
                is_int(bad, 0, "input %zu: 200 random chunkings give the same records", k);
                if (k == 0)
                        is_str(buf_str(&whole.out),
                               "1:[\xEF\xBB\xBFname][email][note]\n"
                               "3:[Ann][ann@example.org][two\\r\\nlines]\n"
                               "6:[Bob \"B\"][bob@example.org][lf\\nonly]\n"
                               "8:[Cy][cy@example.org][cr\\ronly]\n"
                               "10:[Dee][dee@example.org][q,uoted]\n"
                               "11:[Eve][eve@example.org][last]\n",
                               "input 0: records and lines (the reader leaves a BOM to its caller)");
                else
                        is_str(buf_str(&whole.out), "1:[a][b]\n3:[x\\ry][z]\n6:[q][\"]\n7:[w][v]\n",
                               "input 1: records and lines of a CR file");
                buf_done(&whole.out);
        }
}

static void test_delimiters(void) {
        is_str(records(';', S("a;b\n1;\"x;y\"\n2,3;4\n")), "1:[a][b]\n2:[1][x;y]\n3:[2,3][4]\n",
               "semicolon delimiter; commas are data");
        is_str(records('\t', S("a\tb\n x \t y \n")), "1:[a][b]\n2:[x][y]\n",
               "tab delimiter: spaces around cells are trimmed");
        is_str(records('\t', S("a\t\tb\n\t\tc\n")), "1:[a][][b]\n2:[][][c]\n",
               "tab delimiter: tabs are separators, never trimmed");
        is_str(records(',', S("a,\tb\t, c \n")), "1:[a][b][c]\n", "comma delimiter: tabs are trimmed like spaces");
        is_str(records('\t', S("a,b\t\"c\td\"\n")), "1:[a,b][c\\td]\n", "tab delimiter: a quoted tab is data");

        is_int(csv_reader_detect_delimiter(S("a,b,c\n1;2;3;4;5\n")), ',', "detect: comma (first line only)");
        is_int(csv_reader_detect_delimiter(S("a;b;c\n")), ';', "detect: semicolon");
        is_int(csv_reader_detect_delimiter(S("a\tb\tc\r\n")), '\t', "detect: tab");
        is_int(csv_reader_detect_delimiter(S("\"x;y;z\",b,c\n")), ',', "detect: delimiters inside quotes are ignored");
        is_int(csv_reader_detect_delimiter(S("\"a,b,c,d\";x;y\n")), ';', "detect: quoted commas do not win");
        is_int(csv_reader_detect_delimiter(S("\"Name\nwith break, and comma\";b;c\nd,e,f,g\n")), ';',
               "detect: a quoted line break does not end the first line");
        is_int(csv_reader_detect_delimiter(S("a;b,c\n")), ',', "detect: a tie goes to comma");
        is_int(csv_reader_detect_delimiter(S("a\tb,c\n")), ',', "detect: a comma/tab tie goes to comma");
        is_int(csv_reader_detect_delimiter(S("email\n")), ',', "detect: none occurs -> comma");
        is_int(csv_reader_detect_delimiter("", 0), ',', "detect: empty -> comma");
        is_int(csv_reader_detect_delimiter(S("a;b\rc,d,e,f\r")), ';', "detect: a CR ends the first line");
}

static void test_callback_stop(void) {
        Parse p = { .stop_after = 2 };
        CsvReader *r = csv_reader_new(',', collect, &p);
        p = (Parse){ .out = BUF_INIT, .index_ok = true, .stop_after = 2 };

        is_int(csv_reader_feed(r, S("a,b\n1,2\n3,4\n5,6\n")), -42, "a negative callback value is returned by feed");
        is_int(p.n_records, 2, "records up to the stop were passed");
        is_int(p.calls_after_stop, 0, "the callback is not called after it stopped the reader");
        is_int(csv_reader_feed(r, S("7,8\n")), -42, "the reader stays stopped");
        is_int(csv_reader_finish(r), -42, "finish returns the stop value");
        is_int(p.calls_after_stop, 0, "still no callback after the stop");
        csv_reader_free(r);
        buf_done(&p.out);

        /* Stopping on the last record, passed by finish. */
        p = (Parse){ .out = BUF_INIT, .index_ok = true, .stop_after = 2 };
        r = csv_reader_new(',', collect, &p);
        is_int(csv_reader_feed(r, S("a\nb")), 0, "feed before the stop");
        is_int(csv_reader_finish(r), -42, "a stop in the record passed by finish is returned by finish");
        csv_reader_free(r);
        buf_done(&p.out);

        csv_reader_free(NULL); /* a no-op; a crash here fails the program */
}

static void test_error_format(void) {
        static const struct {
                CsvErrorCode code;
                const char *name;
        } codes[] = {
                { CSV_ERROR_QUOTE, "bad_quote" },
                { CSV_ERROR_UNTERMINATED, "unterminated_quote" },
                { CSV_ERROR_FIELD_TOO_LONG, "field_too_long" },
                { CSV_ERROR_RECORD_TOO_LONG, "row_too_long" },
                { CSV_ERROR_TOO_MANY_COLUMNS, "too_many_columns" },
                { CSV_ERROR_NUL, "not_text" },
        };
        char msg[256];

        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                CsvError e = { .code = codes[i].code, .line = 4217 };
                msg[0] = '\0';
                csv_reader_error_format(&e, msg, sizeof msg);
                ok(strstr(msg, "line 4217") != NULL, "csv_reader_error_format(%s) names the line: %s", codes[i].name, msg);
                is_str(csv_reader_error_code_name(codes[i].code), codes[i].name, "csv_reader_error_code_name(%d)", codes[i].code);
        }

        /* A real error, formatted. */
        Parse p = { 0 };
        parse(&p, ',', S("a\nb\nc\"d\n"), CHUNK_WHOLE, 0);
        csv_reader_error_format(&p.error, msg, sizeof msg);
        ok(strncmp(msg, "line 3: ", 8) == 0, "a bad quote on line 3 is described as \"line 3: ...\": %s", msg);
        buf_done(&p.out);

        /* A small buffer is not overrun. */
        char small[8];
        memset(small, 'Z', sizeof small);
        CsvError e = { .code = CSV_ERROR_QUOTE, .line = 1 };
        csv_reader_error_format(&e, small, 6);
        ok(small[5] == '\0' && small[6] == 'Z', "csv_reader_error_format respects the buffer size");
}

int main(void) {
        test_line_ends();
        test_line_numbers();
        test_quoting();
        test_errors();
        test_limits();
        test_chunking();
        test_delimiters();
        test_callback_stop();
        test_error_format();
        release_records();
        return tap_done();
}
