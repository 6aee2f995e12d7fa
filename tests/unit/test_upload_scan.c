/* Unit tests for common/core/upload_scan.h: what the API learns from an upload
 * in one pass (size, digest, encoding, delimiter, header, rows, errors),
 * whatever the chunking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "sha256.h"
#include "tap.h"
#include "upload_scan.h"
#include "utf16.h"

#define S(lit) lit, sizeof(lit) - 1

/* Scans data fed in chunks of `chunk` bytes (0: in one piece). The caller
 * releases the report with upload_scan_report_done(). */
static int scan(const void *data, size_t len, size_t chunk, char delimiter, UploadReport *rep) {
        UploadScan *s = upload_scan_new(delimiter, 0);
        const uint8_t *p = data;
        int r = 0;

        if (!s)
                abort();
        for (size_t off = 0; off < len && r == 0;) {
                size_t n = chunk ? MIN(chunk, len - off) : len - off;
                r = upload_scan_feed(s, p + off, n);
                off += n;
        }
        if (r == 0)
                r = upload_scan_finish(s, rep);
        upload_scan_free(s);
        return r;
}

/* The whole report as text, to compare two scans in one assertion.
 * Returns a string to free(). */
static char *report_text(const UploadReport *rep) {
        Buf b = BUF_INIT;
        int r = buf_printf(&b, "bytes=%llu sha256=%s encoding=%s delimiter=%d rows=%llu error=%s message=%s header=",
                           (unsigned long long) rep->bytes, rep->sha256, text_encoding_name(rep->encoding),
                           rep->delimiter, (unsigned long long) rep->rows, rep->error_code ? rep->error_code : "-",
                           rep->error_message);
        for (size_t i = 0; r >= 0 && i < rep->n_header; i++)
                r = buf_printf(&b, "[%.*s]", (int) rep->header_lens[i], rep->header[i]);
        char *s = r >= 0 ? buf_steal(&b) : NULL;
        if (!s)
                abort();
        return s;
}

static void expect_same_chunked(const char *what, const void *data, size_t len, char delimiter) {
        static const size_t chunks[] = { 1, 2, 3, 7, 4096 };
        UploadReport whole;

        if (scan(data, len, 0, delimiter, &whole) < 0)
                abort();
        char *want = report_text(&whole);
        for (size_t i = 0; i < ELEMENTSOF(chunks); i++) {
                UploadReport rep;
                is_int(scan(data, len, chunks[i], delimiter, &rep), 0, "%s: scan in chunks of %zu", what, chunks[i]);
                char *got = report_text(&rep);
                is_str(got, want, "%s: chunks of %zu give the same report", what, chunks[i]);
                free(got);
                upload_scan_report_done(&rep);
        }
        free(want);
        upload_scan_report_done(&whole);
}

static void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_SIZE]) {
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_digest(data, len, d);
        sha256_to_hex(d, sizeof d, out);
}

static void test_basic(void) {
        static const char csv[] = "Email,First Name,Last Name\r\n"
                                  "ann@example.org,Ann,Smith\r\n"
                                  "\r\n"
                                  "bob@example.org,\"Bob\r\nby\",Jones\r\n"
                                  ",,\r\n"
                                  "cy@example.org,Cy,Lee";
        UploadReport rep;
        char hex[SHA256_HEX_SIZE];

        is_int(scan(S(csv), 0, 0, &rep), 0, "scan a small CSV");
        ok(rep.error_code == NULL, "no error: %s", rep.error_code ? rep.error_code : "");
        is_int(rep.bytes, sizeof csv - 1, "bytes");
        sha256_hex(S(csv), hex);
        is_str(rep.sha256, hex, "sha256 matches the one-shot digest of the bytes");
        is_str(text_encoding_name(rep.encoding), "utf-8", "encoding utf-8");
        is_int(rep.delimiter, ',', "delimiter detected: comma");
        is_int(rep.rows, 3, "three data rows (blank and empty rows skipped, a quoted line break is one row)");
        is_int(rep.n_header, 3, "three header cells");
        if (rep.n_header == 3) {
                is_str(rep.header[0], "Email", "header[0]");
                is_str(rep.header[2], "Last Name", "header[2]");
                is_int(rep.header_lens[1], 10, "header_lens[1]");
        }
        upload_scan_report_done(&rep);
        ok(rep.header == NULL && rep.n_header == 0, "upload_scan_report_done clears the report");
        upload_scan_report_done(NULL);

        is_int(scan(S("\xEF\xBB\xBF" "Email;Vorname;Nachname\n" "a@example.org;J\xC3\xBCrgen;M\xC3\xBCller\n"), 0, 0,
                    &rep),
               0, "scan a UTF-8 file with BOM and semicolons");
        is_str(text_encoding_name(rep.encoding), "utf-8-bom", "encoding utf-8-bom");
        is_int(rep.delimiter, ';', "delimiter detected: semicolon");
        is_str(rep.n_header ? rep.header[0] : NULL, "Email", "the BOM is not part of the first heading");
        is_int(rep.rows, 1, "one data row");
        upload_scan_report_done(&rep);

        is_int(scan(S("Email\tFirst Name\tLast Name\na@example.org\tAnn\tSmith\n"), 0, 0, &rep), 0, "scan a TSV");
        is_int(rep.delimiter, '\t', "delimiter detected: tab");
        is_int(rep.n_header, 3, "three tab-separated headings");
        upload_scan_report_done(&rep);

        /* The seeds' own Windows-1252 style: a French header. */
        static const char cp1252[] = "Pr\xE9nom;Nom;Email\r\nZo\xEB;M\xFCller;zoe@example.org\r\n";
        is_int(scan(S(cp1252), 0, 0, &rep), 0, "scan a Windows-1252 file");
        is_str(text_encoding_name(rep.encoding), "windows-1252", "encoding windows-1252");
        is_str(rep.n_header ? rep.header[0] : NULL, "Pr\xC3\xA9nom", "the header \"Pr\\xE9nom\" is decoded to UTF-8");
        is_int(rep.n_header ? rep.header_lens[0] : 0, 7, "... and its length is the UTF-8 length");
        is_int(rep.delimiter, ';', "delimiter semicolon");
        is_int(rep.rows, 1, "one data row");
        ok(rep.error_code == NULL, "no error");
        upload_scan_report_done(&rep);

        /* A header that is ASCII, 1252 bytes only further down. */
        is_int(scan(S("Email,Name\na@example.org,Zo\xEB\n"), 0, 0, &rep), 0, "1252 bytes in a data row");
        is_str(text_encoding_name(rep.encoding), "windows-1252", "... encoding windows-1252");
        is_str(rep.n_header > 1 ? rep.header[1] : NULL, "Name", "... the header is unchanged");
        upload_scan_report_done(&rep);

        /* One column: a row of one cell is a row. */
        is_int(scan(S("Email\na@example.org\n\nb@example.org\n"), 0, 0, &rep), 0, "a single-column file");
        is_int(rep.rows, 2, "... two data rows");
        is_int(rep.n_header, 1, "... one heading");
        upload_scan_report_done(&rep);

        /* A broken UTF-8 header in a file with a BOM: U+FFFD. */
        is_int(scan(S("\xEF\xBB\xBF" "Na\xFFme,Email\nx,y\n"), 0, 0, &rep), 0, "a bad byte in a BOM file's header");
        is_str(rep.n_header ? rep.header[0] : NULL, "Na\xEF\xBF\xBDme", "... becomes U+FFFD");
        upload_scan_report_done(&rep);
}

static void test_delimiter_option(void) {
        UploadReport rep;

        is_int(scan(S("a,b;c\n1,2;3\n"), 0, ';', &rep), 0, "delimiter forced to ;");
        is_int(rep.delimiter, ';', "the forced delimiter is reported");
        is_int(rep.n_header, 2, "two header cells split at ;");
        is_str(rep.n_header ? rep.header[0] : NULL, "a,b", "commas are data");
        upload_scan_report_done(&rep);

        is_int(scan(S("a,b;c\n1,2;3\n"), 0, 0, &rep), 0, "the same file, delimiter detected");
        is_int(rep.delimiter, ',', "a tie goes to comma");
        is_int(rep.n_header, 2, "two header cells split at ,");
        upload_scan_report_done(&rep);

        is_int(scan(S("a;b;c,d\n1;2;3,4\n"), 0, ',', &rep), 0, "delimiter forced to ,");
        is_int(rep.delimiter, ',', "forced comma wins over the detected semicolon");
        upload_scan_report_done(&rep);

        is_int(scan("", 0, 0, '\t', &rep), 0, "an empty file with a forced delimiter");
        is_int(rep.delimiter, '\t', "... reports the forced delimiter");
        upload_scan_report_done(&rep);
}

static void expect_error(const char *what, const void *data, size_t len, const char *code, const char *word) {
        UploadReport rep;

        is_int(scan(data, len, 0, 0, &rep), 0, "%s: the scan itself succeeds", what);
        is_str(rep.error_code, code, "%s: error %s", what, code);
        ok(word == NULL || strstr(rep.error_message, word), "%s: the message says \"%s\": %s", what, word ? word : "",
           rep.error_message);
        is_int(rep.bytes, len, "%s: bytes still counted", what);
        upload_scan_report_done(&rep);
}

static void test_errors(void) {
        uint8_t utf16[128];

        expect_error("0 bytes", "", 0, "empty_file", "empty");
        expect_error("only a UTF-8 BOM", S("\xEF\xBB\xBF"), "empty_file", NULL);
        expect_error("only blank lines", S("\r\n\r\n\n"), "empty_file", NULL);
        expect_error("only a UTF-16LE BOM", S("\xFF\xFE"), "empty_file", NULL);
        expect_error("a header only", S("Email,First Name,Last Name\r\n"), "no_data_rows", "header");
        expect_error("a header and empty rows", S("Email,First Name\n\n,\n \n"), "no_data_rows", NULL);
        expect_error("a header without a line break", S("Email,First Name"), "no_data_rows", NULL);
        expect_error("an xlsx file", S("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"), "not_text", "Excel");
        expect_error("an old xls file", S("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\x00"), "not_text", "xls");
        expect_error("a PDF", S("%PDF-1.4\n"), "not_text", "PDF");
        expect_error("a NUL byte", S("Email,Name\na@example.org,A\0nn\n"), "not_text", "line 2");

        size_t n = utf16_from_utf8("Email,First Name\r\na@example.org,Ann\r\n", false, false, utf16, sizeof utf16);
        expect_error("UTF-16LE without a BOM", utf16, n, "not_text", "UTF-16");
        n = utf16_from_utf8("Email,First Name\r\na@example.org,Ann\r\n", true, false, utf16, sizeof utf16);
        expect_error("UTF-16BE without a BOM", utf16, n, "not_text", "UTF-16");

        expect_error("a bad quote on line 3", S("Email,Name\r\na@example.org,Ann\r\nb@example.org,Bo\"b\r\n"),
                     "bad_quote", "line 3");
        expect_error("text after a closing quote on line 4",
                     S("Email,Name\n\"a@example.org\",\"Ann\nMarie\"\nb@example.org,\"Bob\"s\n"), "bad_quote",
                     "line 4");
        expect_error("an unterminated quote on line 2", S("Email,Name\na@example.org,\"Ann\nb@example.org,Bob\n"),
                     "unterminated_quote", "line 2");

        /* The digest covers every byte even after the CSV broke. */
        static const char broken[] = "Email,Name\na,b\"c\nmore,rows\nafter,it\n";
        UploadReport rep;
        char hex[SHA256_HEX_SIZE];
        if (scan(S(broken), 3, 0, &rep) < 0)
                abort();
        sha256_hex(S(broken), hex);
        is_str(rep.sha256, hex, "a broken file still gets the digest of all its bytes");
        upload_scan_report_done(&rep);

        UploadScan *s = upload_scan_new(0, 0);
        ok(s && !upload_scan_failed(s), "a new scan has not failed");
        is_int(upload_scan_feed(s, S("Email,Name\na,b\"c\n")), 0, "feeding a bad quote is not an error of the feed");
        ok(upload_scan_failed(s), "upload_scan_failed() tells early that the file will be rejected");
        is_int(upload_scan_feed(s, S("x,y\n")), 0, "feeding goes on after the failure");
        is_int(upload_scan_finish(s, &rep), 0, "finish");
        is_str(rep.error_code, "bad_quote", "... reports bad_quote");
        upload_scan_report_done(&rep);
        upload_scan_free(s);
        upload_scan_free(NULL);
}

static void test_utf16(void) {
        static const char text[] = "Email,First Name,Last Name\r\n"
                                   "zoe@example.org,Zo\xC3\xAB,\xC3\x98rjan\r\n"
                                   "sean@example.org,Se\xC3\xA1n,\"Smith \xF0\x9F\x98\x80\r\nJr\"\r\n";
        uint8_t bytes[512];
        UploadReport rep;
        char hex[SHA256_HEX_SIZE];

        size_t n = utf16_from_utf8(text, false, true, bytes, sizeof bytes);
        is_int(scan(bytes, n, 0, 0, &rep), 0, "scan a UTF-16LE file with BOM");
        ok(rep.error_code == NULL, "no error: %s", rep.error_message);
        is_str(text_encoding_name(rep.encoding), "utf-16le", "encoding utf-16le");
        is_int(rep.bytes, n, "bytes are the raw bytes");
        sha256_hex(bytes, n, hex);
        is_str(rep.sha256, hex, "sha256 of the raw bytes");
        is_int(rep.delimiter, ',', "delimiter comma");
        is_int(rep.rows, 2, "two data rows");
        is_int(rep.n_header, 3, "three headings");
        if (rep.n_header == 3) {
                is_str(rep.header[0], "Email", "header[0] decoded without the BOM");
                is_str(rep.header[1], "First Name", "header[1]");
        }
        upload_scan_report_done(&rep);
        expect_same_chunked("UTF-16LE", bytes, n, 0);

        n = utf16_from_utf8("Email\tName\na@example.org\tZo\xC3\xAB\n", true, true, bytes, sizeof bytes);
        is_int(scan(bytes, n, 0, 0, &rep), 0, "scan a UTF-16BE file with BOM (tab-separated, as Excel saves it)");
        is_str(text_encoding_name(rep.encoding), "utf-16be", "encoding utf-16be");
        is_int(rep.delimiter, '\t', "delimiter tab");
        is_int(rep.rows, 1, "one data row");
        is_str(rep.n_header > 1 ? rep.header[1] : NULL, "Name", "header[1]");
        upload_scan_report_done(&rep);
        expect_same_chunked("UTF-16BE", bytes, n, 0);

        n = utf16_from_utf8("Email,Name\na,b\"c\n", false, true, bytes, sizeof bytes);
        is_int(scan(bytes, n, 0, 0, &rep), 0, "scan a UTF-16LE file with a bad quote");
        is_str(rep.error_code, "bad_quote", "... bad_quote");
        ok(strstr(rep.error_message, "line 2") != NULL, "... on line 2: %s", rep.error_message);
        upload_scan_report_done(&rep);
}

static void test_chunking(void) {
        static const char csv[] = "\xEF\xBB\xBF" "Email,\"First\nName\",Last Name\r\n"
                                  "ann@example.org,Ann,Smith\r\n"
                                  "bob@example.org,\"Bob \"\"B\"\"\",Jones\r\n"
                                  "\r\n"
                                  "cy@example.org,Cy,Lee";
        expect_same_chunked("UTF-8 with BOM", S(csv), 0);
        expect_same_chunked("Windows-1252", S("Pr\xE9nom;Nom\r\nZo\xEB;M\xFC" "ller\r\n"), 0);
        expect_same_chunked("semicolons after a long first line",
                            S("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa;b;c\n1;2;3\n"), 0);
        expect_same_chunked("a forced delimiter", S("a,b;c\n1,2;3\n"), ';');
        expect_same_chunked("a bad quote", S("Email,Name\r\na@example.org,Ann\r\nb@example.org,Bo\"b\r\n"), 0);
        expect_same_chunked("a NUL byte", S("Email,Name\na@example.org,A\0nn\n"), 0);
        expect_same_chunked("an xlsx file", S("PK\x03\x04\x14\x00\x06\x00"), 0);
        expect_same_chunked("only a BOM", S("\xEF\xBB\xBF"), 0);
        expect_same_chunked("a header only", S("Email,Name"), 0);

        uint8_t utf16[128];
        size_t n = utf16_from_utf8("Email,First Name\r\na@example.org,Ann\r\n", false, false, utf16, sizeof utf16);
        expect_same_chunked("bare UTF-16", utf16, n, 0);

        /* The first line longer than what the scan holds back. */
        Buf big = BUF_INIT;
        for (int i = 0; i < 20000; i++)
                if (buf_append_str(&big, i ? ";col" : "col") < 0)
                        abort();
        if (buf_append_str(&big, "\n1;2\n") < 0)
                abort();
        UploadReport rep;
        is_int(scan(big.data, big.len, 4096, 0, &rep), 0,
               "an 80 KB first line (more than the 64 KiB held back) in chunks of 4096");
        is_str(rep.error_code, "too_many_columns", "... more than 1024 columns");
        upload_scan_report_done(&rep);
        buf_done(&big);
}

/* Found by fuzzing: a first line longer than the 64 KiB held back had its
 * delimiter chosen from as much of it as the scan happened to hold, so the
 * same file could be read with a different delimiter depending on how the
 * upload arrived. */
static void test_long_first_line(void) {
        /* The first 64 KiB hold 600 semicolons and 100 commas; 700 more
         * commas come after them: commas win over the whole line,
         * semicolons over its first 64 KiB. */
        Buf big = BUF_INIT;
        int r = 0;
        for (int i = 0; r >= 0 && i < 600; i++)
                r = buf_printf(&big, "%0100d;", i);
        for (int i = 0; r >= 0 && i < 100; i++)
                r = buf_append_str(&big, "c,");
        for (int i = 0; r >= 0 && i < 5000; i++)
                r = buf_append_char(&big, 'x');
        for (int i = 0; r >= 0 && i < 700; i++)
                r = buf_append_str(&big, ",h");
        if (r >= 0)
                r = buf_append_str(&big, "\na,b\n");
        if (r < 0)
                abort();

        UploadReport rep;
        is_int(scan(big.data, big.len, 0, 0, &rep), 0, "a 67 KB first line in one piece");
        is_int(rep.delimiter, ';', "... the delimiter comes from its first 64 KiB");
        char *want = report_text(&rep);
        upload_scan_report_done(&rep);
        /* Chunks that are not tiny: the head is scanned again after each
         * chunk, which would make this slow under valgrind. */
        static const size_t chunks[] = { 999, 4096, 16384 };
        for (size_t i = 0; i < ELEMENTSOF(chunks); i++) {
                is_int(scan(big.data, big.len, chunks[i], 0, &rep), 0, "... in chunks of %zu", chunks[i]);
                char *got = report_text(&rep);
                is_str(got, want, "... in chunks of %zu: the same report", chunks[i]);
                free(got);
                upload_scan_report_done(&rep);
        }
        free(want);
        buf_done(&big);
}

/* CPU seconds for one scan of data in chunks of `chunk` bytes (0: whole),
 * the best of `times`; checks that it gives one row under 1000 headings. */
static double scan_cpu(const char *what, const void *data, size_t len, size_t chunk, int times) {
        double best = 1e9;
        for (int i = 0; i < times; i++) {
                UploadReport rep;
                clock_t start = clock();
                if (scan(data, len, chunk, 0, &rep) < 0)
                        abort();
                double cpu = (double) (clock() - start) / CLOCKS_PER_SEC;
                best = MIN(best, cpu);
                if (i == 0)
                        ok(rep.rows == 1 && rep.n_header == 1000, "%s in chunks of %zu: 1000 headings, 1 row", what,
                           chunk);
                upload_scan_report_done(&rep);
        }
        return best;
}

/* Found by fuzzing (a timeout): the head was searched for the end of the
 * first line from its start again after each chunk, so a long first line
 * arriving in tiny chunks took quadratic time: seconds of CPU for 64 KiB
 * sent a byte at a time, hundreds of times a scan in one piece. Each byte
 * is now looked at once. Compared with a scan in one piece rather than
 * with a fixed time, so that it holds under valgrind too. */
static void test_head_in_tiny_chunks(void) {
        Buf big = BUF_INIT, wide = BUF_INIT;
        int r = 0;
        for (int i = 0; r >= 0 && i < 1000; i++)
                r = buf_printf(&big, "%s%070d", i ? "," : "", i);
        if (r >= 0)
                r = buf_append_str(&big, "\n1,2\n");
        /* The same in UTF-16, whose head is decoded as it comes. */
        if (r >= 0)
                r = buf_append(&wide, "\xFF\xFE", 2);
        for (size_t i = 0; r >= 0 && i < big.len; i++)
                if ((r = buf_append_char(&wide, big.data[i])) >= 0)
                        r = buf_append_char(&wide, '\0');
        if (r < 0)
                abort();

        const Buf *files[] = { &big, &wide };
        const char *names[] = { "a 71 KB first line", "a 71 KB first line in UTF-16" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                double whole = scan_cpu(names[i], files[i]->data, files[i]->len, 0, 5);
                double bytes = scan_cpu(names[i], files[i]->data, files[i]->len, 1, 1);
                ok(bytes < 100 * whole + 0.05, "%s a byte at a time: linear time (%.4f s, in one piece %.4f s)",
                   names[i], bytes, whole);
        }
        buf_done(&wide);
        buf_done(&big);
}

int main(void) {
        test_basic();
        test_delimiter_option();
        test_errors();
        test_utf16();
        test_chunking();
        test_long_first_line();
        test_head_in_tiny_chunks();
        return tap_done();
}
