#include "upload_scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of the start of the file is held back to choose the delimiter
 * when the first line is longer than that. */
#define HEAD_MAX (64u * 1024)

typedef enum Phase {
        PHASE_HEAD, /* collecting the first line */
        PHASE_STREAM, /* parsing as it comes */
        PHASE_FAILED, /* the CSV is broken: only size and digest go on */
} Phase;

struct UploadScan {
        Sha256 sha;
        TextSniffer sniff;
        uint64_t bytes;
        char forced_delimiter;
        char delimiter;
        Phase phase;

        Buf head; /* raw bytes held back in PHASE_HEAD */
        /* How far the head has been looked at for the end of the first
         * line, so that each chunk is looked at once; for UTF-16 the
         * head's text, decoded as it comes. */
        size_t head_scanned;
        bool head_quoted, head_has_line;
        TextDecoder *head_decoder;
        Buf head_text;
        size_t head_decoded;
        TextEncoding utf16; /* UTF-16LE/BE when is_utf16 */
        bool is_utf16;
        unsigned long range_records;

        FileReader *reader;
        FilePoint *points;
        size_t n_points, cap_points;
        uint64_t records;
        char **header;
        size_t *header_lens;
        size_t n_header;
        CsvError csv_error;
        bool oom;
};

UploadScan *upload_scan_new(char delimiter, unsigned long range_rows) {
        UploadScan *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        sha256_init(&s->sha);
        text_sniffer_init(&s->sniff);
        s->forced_delimiter = delimiter;
        s->range_records = range_rows;
        return s;
}

static void free_header(char **h, size_t *lens, size_t n) {
        for (size_t i = 0; h && i < n; i++)
                free(h[i]);
        free(h);
        free(lens);
}

void upload_scan_free(UploadScan *s) {
        if (!s)
                return;
        buf_done(&s->head);
        buf_done(&s->head_text);
        text_decoder_free(s->head_decoder);
        file_reader_free(s->reader);
        free(s->points);
        free_header(s->header, s->header_lens, s->n_header);
        free(s);
}

bool upload_scan_failed(const UploadScan *s) {
        return s->phase == PHASE_FAILED;
}

static int on_record(const CsvRecord *rec, void *userdata) {
        UploadScan *s = userdata;

        if (rec->index > 0) {
                s->records++;
                return 0;
        }
        s->header = calloc(rec->n_cells + 1, sizeof *s->header);
        s->header_lens = calloc(rec->n_cells + 1, sizeof *s->header_lens);
        if (!s->header || !s->header_lens)
                return -ENOMEM;
        for (size_t i = 0; i < rec->n_cells; i++) {
                s->header[i] = strndup(rec->cells[i], rec->lens[i]);
                if (!s->header[i])
                        return -ENOMEM;
                s->header_lens[i] = rec->lens[i];
                s->n_header = i + 1;
        }
        return 0;
}

static int on_point(const FilePoint *point, void *userdata) {
        UploadScan *s = userdata;
        if (s->n_points == s->cap_points) {
                size_t cap = s->cap_points ? s->cap_points * 2 : 16;
                FilePoint *p = realloc(s->points, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                s->points = p;
                s->cap_points = cap;
        }
        s->points[s->n_points++] = *point;
        return 0;
}

/* Parses stored bytes; moves to PHASE_FAILED on a CSV error. */
static int stream(UploadScan *s, const char *p, size_t len) {
        int r = file_reader_feed(s->reader, p, len);
        if (r == -EBADMSG) {
                s->csv_error = *file_reader_error(s->reader);
                s->phase = PHASE_FAILED;
                return 0;
        }
        return r;
}

/* Looks for a line break outside quotes in the head's text, from where
 * the last look stopped: a head arriving in tiny chunks would otherwise be
 * read again from the start for each, which is quadratic. */
static void scan_first_line(UploadScan *s, const char *p, size_t len) {
        for (; !s->head_has_line && s->head_scanned < len; s->head_scanned++) {
                char c = p[s->head_scanned];
                if (c == '"')
                        s->head_quoted = !s->head_quoted;
                else if (!s->head_quoted && (c == '\n' || c == '\r'))
                        s->head_has_line = true;
        }
}

/* Decides encoding family, BOM and delimiter from the head and starts
 * parsing. `final` when no more bytes will come. */
static int try_start(UploadScan *s, bool final) {
        const uint8_t *h = (const uint8_t *) s->head.data;
        size_t n = s->head.len;

        if (n < 4 && !final)
                return 0;
        size_t skip = 0; /* a UTF-8 BOM */
        if (n >= 2 && ((h[0] == 0xFF && h[1] == 0xFE) || (h[0] == 0xFE && h[1] == 0xFF))) {
                s->is_utf16 = true;
                s->utf16 = h[0] == 0xFF ? TEXT_ENCODING_UTF16LE : TEXT_ENCODING_UTF16BE;
        } else if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
                skip = 3;

        /* The head as text, to find the end of the first line. When that
         * line is longer than HEAD_MAX, only its first HEAD_MAX bytes
         * choose the delimiter: how many bytes the head holds past that
         * depends on how the upload was cut, and the choice must not. */
        size_t head = MIN(n, (size_t) HEAD_MAX);
        const char *text;
        size_t text_len;
        if (s->is_utf16) {
                /* A decoder of its own: the reader must see the head
                 * again from the start. */
                if (!s->head_decoder && !(s->head_decoder = text_decoder_new(s->utf16)))
                        return -ENOMEM;
                if (text_decoder_feed(s->head_decoder, h + s->head_decoded, head - s->head_decoded,
                                      &s->head_text) < 0)
                        return -ENOMEM;
                s->head_decoded = head;
                text = buf_str(&s->head_text);
                text_len = s->head_text.len;
        } else {
                text = s->head.data + MIN(skip, head);
                text_len = head - MIN(skip, head);
        }
        scan_first_line(s, text, text_len);
        if (!final && n < HEAD_MAX && !s->head_has_line)
                return 0;
        s->delimiter = s->forced_delimiter ? s->forced_delimiter : csv_reader_detect_delimiter(text, text_len);
        text_decoder_free(TAKE_PTR(s->head_decoder));
        buf_done(&s->head_text);

        /* Raw: whether the file is UTF-8 or Windows-1252 is known at the
         * end, when the header cells are decoded. */
        s->reader = file_reader_new(s->is_utf16 ? s->utf16 : TEXT_ENCODING_UTF8, s->delimiter, FILE_READER_RAW,
                                    FILE_POINT_START, on_record, s);
        if (!s->reader)
                return -ENOMEM;
        /* The header and range_records data rows make the first range. */
        file_reader_split(s->reader, s->range_records + 1, s->range_records, on_point);
        s->phase = PHASE_STREAM;
        int r = stream(s, s->head.data, s->head.len);
        buf_done(&s->head);
        return r;
}

int upload_scan_feed(UploadScan *s, const void *data, size_t len) {
        if (s->oom)
                return -ENOMEM;
        sha256_update(&s->sha, data, len);
        text_sniffer_feed(&s->sniff, data, len);
        s->bytes += len;

        int r = 0;
        switch (s->phase) {
        case PHASE_HEAD:
                r = buf_append(&s->head, data, len);
                if (r >= 0)
                        r = try_start(s, false);
                break;
        case PHASE_STREAM:
                r = stream(s, data, len);
                break;
        case PHASE_FAILED:
                break;
        }
        if (r < 0)
                s->oom = true;
        return r;
}

/* The header cells were taken from raw bytes: decode them now that the
 * encoding is known (UTF-8 is checked, bad bytes becoming U+FFFD). */
static int decode_header(UploadReport *rep, TextEncoding enc) {
        for (size_t i = 0; i < rep->n_header; i++) {
                _cleanup_(text_decoder_freep) TextDecoder *d = text_decoder_new(enc);
                Buf out = BUF_INIT;
                if (!d || text_decoder_feed(d, rep->header[i], rep->header_lens[i], &out) < 0 ||
                    text_decoder_finish(d, &out) < 0) {
                        buf_done(&out);
                        return -ENOMEM;
                }
                size_t len = out.len;
                char *t = buf_steal(&out);
                if (!t)
                        return -ENOMEM;
                free(rep->header[i]);
                rep->header[i] = t;
                rep->header_lens[i] = len;
        }
        return 0;
}

static void fail(UploadReport *rep, const char *code, const char *fmt, ...) _printf_(3, 4);
static void fail(UploadReport *rep, const char *code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        rep->error_code = code;
        vsnprintf(rep->error_message, sizeof rep->error_message, fmt, ap);
        va_end(ap);
}

/* UTF-16 sent without its byte-order mark is NUL bytes between ASCII. */
static bool looks_like_bare_utf16(const TextSniffer *sn) {
        return sn->head_len >= 4 && ((sn->head[1] == 0 && sn->head[3] == 0 && sn->head[0] && sn->head[2]) ||
                                     (sn->head[0] == 0 && sn->head[2] == 0 && sn->head[1] && sn->head[3]));
}

int upload_scan_finish(UploadScan *s, UploadReport *rep) {
        uint8_t digest[SHA256_DIGEST_SIZE];
        int r = 0;

        *rep = (UploadReport){ 0 };
        if (s->oom)
                return -ENOMEM;
        if (s->phase == PHASE_HEAD && s->bytes > 0 && (r = try_start(s, true)) < 0)
                return r;
        if (s->phase == PHASE_STREAM) {
                r = file_reader_finish(s->reader);
                if (r == -EBADMSG) {
                        s->csv_error = *file_reader_error(s->reader);
                        s->phase = PHASE_FAILED;
                } else if (r < 0)
                        return r;
        }

        sha256_final(&s->sha, digest);
        sha256_to_hex(digest, sizeof digest, rep->sha256);
        rep->bytes = s->bytes;
        rep->delimiter = s->delimiter ? s->delimiter : (s->forced_delimiter ? s->forced_delimiter : ',');
        rep->rows = s->records;
        rep->header = TAKE_PTR(s->header);
        rep->header_lens = TAKE_PTR(s->header_lens);
        rep->n_header = s->n_header;
        s->n_header = 0;
        /* A point after the last record is no boundary between two. */
        while (s->n_points > 0 && s->points[s->n_points - 1].records > s->records)
                s->n_points--;
        rep->points = TAKE_PTR(s->points);
        rep->n_points = s->n_points;
        s->n_points = s->cap_points = 0;

        const char *what = NULL;
        int k = text_sniffer_result(&s->sniff, &rep->encoding, &what);
        if (k == -ENODATA) {
                fail(rep, "empty_file", "the file is empty");
                return 0;
        }
        if (k == -EMEDIUMTYPE) {
                fail(rep, "not_text", "the file is %s, not CSV text; save it as CSV (UTF-8) and upload that", what);
                return 0;
        }
        if (s->phase == PHASE_FAILED) {
                char msg[400];
                if (s->csv_error.code == CSV_ERROR_NUL && looks_like_bare_utf16(&s->sniff)) {
                        fail(rep, "not_text",
                             "the file looks like UTF-16 text without a byte-order mark; save it as UTF-8 CSV "
                             "(or Unicode text) and upload that");
                        return 0;
                }
                csv_reader_error_format(&s->csv_error, msg, sizeof msg);
                fail(rep, csv_reader_error_code_name(s->csv_error.code), "%s", msg);
                return 0;
        }
        if (text_encoding_is_ascii_compatible(rep->encoding) &&
            (r = decode_header(rep, rep->encoding == TEXT_ENCODING_WINDOWS_1252 ? TEXT_ENCODING_WINDOWS_1252
                                                                                : TEXT_ENCODING_UTF8)) < 0)
                return r;
        if (rep->n_header == 0) {
                fail(rep, "empty_file", "the file holds no header row and no data");
                return 0;
        }
        if (rep->rows == 0) {
                fail(rep, "no_data_rows", "the file has a header row but no data rows");
                return 0;
        }
        return 0;
}

void upload_scan_report_done(UploadReport *r) {
        if (!r)
                return;
        free_header(r->header, r->header_lens, r->n_header);
        free(r->points);
        r->points = NULL;
        r->n_points = 0;
        r->header = NULL;
        r->header_lens = NULL;
        r->n_header = 0;
}
