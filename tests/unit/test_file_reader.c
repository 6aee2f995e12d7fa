/* Unit tests for common/core/file_reader.h and the ranges of common/core/upload_scan.h:
 * a file cut at the points the scan reports and read range by range, each
 * from its own point, gives exactly the records of one read of the whole
 * file - cells, lines and record numbers - whatever the chunking, line
 * ends, quoting and encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "file_reader.h"
#include "tap.h"
#include "upload_scan.h"
#include "utf16.h"

#define S(lit) lit, sizeof(lit) - 1

/* Every record as "index@line:cell|cell|...\n". */
static int collect(const CsvRecord *rec, void *userdata) {
        Buf *out = userdata;
        int r = buf_printf(out, "%lu@%lu:", rec->index, rec->line);
        for (size_t i = 0; r >= 0 && i < rec->n_cells; i++)
                r = buf_printf(out, "%s%s", i ? "|" : "", rec->cells[i]);
        return r < 0 ? r : buf_append_char(out, '\n');
}

static int read_part(TextEncoding enc, const char *data, uint64_t from, uint64_t to, FilePoint start,
                     size_t chunk, Buf *out) {
        FileReader *r = file_reader_new(enc, ',', 0, start, collect, out);
        if (!r)
                return -1;
        int k = 0;
        for (uint64_t off = from; off < to && k == 0;) {
                size_t n = chunk ? MIN(chunk, to - off) : to - off;
                k = file_reader_feed(r, data + off, n);
                off += n;
        }
        if (k == 0)
                k = file_reader_finish(r);
        file_reader_free(r);
        return k;
}

/* Scans the file with ranges of `every` rows, then compares the ranges'
 * records, read apart, with a read of the whole. */
static void check_ranges(const char *what, TextEncoding enc, const char *data, size_t len, unsigned long every,
                         size_t chunk, size_t want_points) {
        UploadScan *s = upload_scan_new(0, every);
        UploadReport rep;
        for (size_t off = 0; off < len;) {
                size_t n = chunk ? MIN(chunk, len - off) : len - off;
                if (upload_scan_feed(s, data + off, n) < 0)
                        abort();
                off += n;
        }
        if (upload_scan_finish(s, &rep) < 0)
                abort();
        upload_scan_free(s);
        ok(!rep.error_code, "%s: the file is accepted (%s)", what, rep.error_code ? rep.error_message : "");
        is_int((long long) rep.n_points, (long long) want_points, "%s: points", what);

        Buf whole = BUF_INIT, parts = BUF_INIT;
        is_int(read_part(enc, data, 0, len, FILE_POINT_START, chunk, &whole), 0, "%s: whole read", what);
        int k = 0;
        for (size_t i = 0; i <= rep.n_points && k == 0; i++) {
                FilePoint start = i ? rep.points[i - 1] : FILE_POINT_START;
                uint64_t end = i < rep.n_points ? rep.points[i].offset : len;
                k = read_part(enc, data, start.offset, end, start, chunk, &parts);
        }
        is_int(k, 0, "%s: ranges read", what);
        is_str(buf_str(&parts), buf_str(&whole), "%s: the ranges give the records of the whole", what);
        buf_done(&whole);
        buf_done(&parts);
        upload_scan_report_done(&rep);
}

static void test_ranges(void) {
        static const char plain[] = "email,name\n"
                                    "a@x.org,Ann\n"
                                    "b@x.org,Bob\n"
                                    "c@x.org,Cy\n"
                                    "d@x.org,Di\n"
                                    "e@x.org,Ed\n"
                                    "f@x.org,Flo\n"
                                    "g@x.org,Gus\n";
        for (size_t chunk = 0; chunk <= 5; chunk++)
                check_ranges("LF", TEXT_ENCODING_UTF8, S(plain), 2, chunk, 3);

        /* CRLF, a BOM, blank lines and rows of empty cells (not records),
         * quoted line breaks, quotes and a last row without a break. */
        static const char messy[] = "\xEF\xBB\xBF"
                                    "email,note\r\n"
                                    "a@x.org,\"two\r\nlines\"\r\n"
                                    "\r\n"
                                    ",\r\n"
                                    "b@x.org,\"say \"\"hi\"\"\"\r\n"
                                    "c@x.org,\"a,b\"\r\n"
                                    "\r\n"
                                    "d@x.org,\"\n\n\"\r\n"
                                    "e@x.org,caf\xC3\xA9\r\n"
                                    "f@x.org,last";
        for (size_t chunk = 0; chunk <= 7; chunk++)
                check_ranges("CRLF, BOM, quotes", TEXT_ENCODING_UTF8_BOM, S(messy), 2, chunk, 2);

        /* Windows-1252: the cells are decoded after the cut. */
        static const char cp1252[] = "email,name\n"
                                     "a@x.org,Ren\xE9\n"
                                     "b@x.org,Zo\xEB\n"
                                     "c@x.org,\x80uro\n";
        check_ranges("Windows-1252", TEXT_ENCODING_WINDOWS_1252, S(cp1252), 1, 0, 2);

        /* Fewer rows than a range, or exactly one range: no point. */
        check_ranges("small", TEXT_ENCODING_UTF8, S("email\na@x.org\nb@x.org\n"), 5, 0, 0);
        check_ranges("exact", TEXT_ENCODING_UTF8, S("email\na@x.org\nb@x.org\n"), 3, 0, 0);
}

/* UTF-16 is one range: the scan reports no point, and a reader refuses
 * to start in the middle. */
static void test_utf16(void) {
        uint8_t data[128];
        size_t len = utf16_from_utf8("email\na@x.org\nb@x.org\nc@x.org\n", false, true, data, sizeof data);
        UploadScan *s = upload_scan_new(0, 1);
        UploadReport rep;
        if (!len || upload_scan_feed(s, data, len) < 0 || upload_scan_finish(s, &rep) < 0)
                abort();
        upload_scan_free(s);
        is_int((long long) rep.rows, 3, "UTF-16: rows");
        is_int((long long) rep.n_points, 0, "UTF-16: one range");
        upload_scan_report_done(&rep);
        FilePoint mid = { 10, 2, 1 };
        ok(file_reader_new(TEXT_ENCODING_UTF16LE, ',', 0, mid, collect, NULL) == NULL,
           "UTF-16: no reader from the middle");
}

int main(void) {
        test_ranges();
        test_utf16();
        return tap_done();
}
