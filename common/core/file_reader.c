#include "file_reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const char utf8_bom[3] = { '\xEF', '\xBB', '\xBF' };

struct FileReader {
        CsvReader *csv;
        CsvRecordFn fn;
        void *userdata;

        TextDecoder *stream; /* UTF-16: the whole stream, before parsing */
        Buf text;
        TextDecoder *cells; /* other encodings: each cell, after parsing */
        TextEncoding encoding;
        Buf cell_text;
        char **cell_ptrs;
        size_t *cell_lens;
        size_t cap_cells;

        uint64_t offset; /* stored bytes taken so far, from the file's start */
        size_t bom_seen; /* bytes of a UTF-8 BOM matched at the start */
        bool bom_done;

        /* Row boundaries: quotes toggle `quoted` (a doubled quote twice),
         * and a line feed outside quotes ends a row in any file the
         * scan accepted. */
        unsigned long every;
        FilePointFn point_fn;
        bool quoted;
        unsigned long next_point; /* records at which the next point is due */
};

static bool has_high_byte(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) s[i] >= 0x80)
                        return true;
        return false;
}

/* The record with its cells as UTF-8. */
static int on_record(const CsvRecord *raw, void *userdata) {
        FileReader *r = userdata;
        if (!r->cells)
                return r->fn(raw, r->userdata);

        /* Windows-1252 differs from ASCII only above 0x7F; UTF-8 needs
         * work only where it is not valid. */
        bool any = false;
        for (size_t i = 0; i < raw->n_cells && !any; i++)
                any = r->encoding == TEXT_ENCODING_WINDOWS_1252 ? has_high_byte(raw->cells[i], raw->lens[i])
                                                                : !utf8_is_valid(raw->cells[i], raw->lens[i]);
        if (!any)
                return r->fn(raw, r->userdata);

        if (raw->n_cells > r->cap_cells) {
                char **c = realloc(r->cell_ptrs, raw->n_cells * sizeof *c);
                if (c)
                        r->cell_ptrs = c;
                size_t *l = realloc(r->cell_lens, raw->n_cells * sizeof *l);
                if (l)
                        r->cell_lens = l;
                if (!c || !l)
                        return -ENOMEM;
                r->cap_cells = raw->n_cells;
        }
        /* Offsets first (cell_lens holds them): cell_text moves as it grows. */
        buf_clear(&r->cell_text);
        for (size_t i = 0; i < raw->n_cells; i++) {
                r->cell_lens[i] = r->cell_text.len;
                int k = text_decoder_feed(r->cells, raw->cells[i], raw->lens[i], &r->cell_text);
                if (k >= 0)
                        k = text_decoder_finish(r->cells, &r->cell_text);
                if (k >= 0)
                        k = buf_append_char(&r->cell_text, '\0');
                if (k < 0)
                        return k;
        }
        for (size_t i = 0; i < raw->n_cells; i++) {
                r->cell_ptrs[i] = r->cell_text.data + r->cell_lens[i];
                r->cell_lens[i] = strlen(r->cell_ptrs[i]);
        }
        CsvRecord rec = *raw;
        rec.cells = r->cell_ptrs;
        rec.lens = r->cell_lens;
        return r->fn(&rec, r->userdata);
}

FileReader *file_reader_new(TextEncoding encoding, char delimiter, FileReaderFlags flags, FilePoint start,
                            CsvRecordFn fn, void *userdata) {
        bool ascii = text_encoding_is_ascii_compatible(encoding);
        if (!ascii && start.offset != 0)
                return NULL;
        _cleanup_(file_reader_freep) FileReader *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->fn = fn;
        r->userdata = userdata;
        r->encoding = encoding;
        r->offset = start.offset;
        r->bom_done = start.offset != 0 || !ascii;
        if (!(r->csv = csv_reader_new(delimiter, on_record, r)))
                return NULL;
        csv_reader_start_at(r->csv, start.line, start.records);
        if (!ascii && !(r->stream = text_decoder_new(encoding)))
                return NULL;
        if (ascii && !(flags & FILE_READER_RAW) &&
            !(r->cells = text_decoder_new(encoding == TEXT_ENCODING_WINDOWS_1252 ? TEXT_ENCODING_WINDOWS_1252
                                                                                 : TEXT_ENCODING_UTF8)))
                return NULL;
        return TAKE_PTR(r);
}

void file_reader_free(FileReader *r) {
        if (!r)
                return;
        csv_reader_free(r->csv);
        text_decoder_free(r->stream);
        text_decoder_free(r->cells);
        buf_done(&r->text);
        buf_done(&r->cell_text);
        free(r->cell_ptrs);
        free(r->cell_lens);
        free(r);
}

void file_reader_split(FileReader *r, unsigned long first, unsigned long every, FilePointFn point_fn) {
        if (r->stream || every == 0)
                return;
        r->every = every;
        r->point_fn = point_fn;
        r->next_point = first;
}

/* Parses bytes of an ASCII-compatible file, stopping at a line feed
 * outside quotes once a point may be due, to see whether it is. */
static int parse_split(FileReader *r, const char *p, size_t len) {
        size_t from = 0;
        /* Line breaks outside quotes not yet parsed: no more records than
         * that can end before the next one. */
        unsigned long pending = 0;
        for (size_t i = 0; i < len; i++) {
                char c = p[i];
                if (c == '"') {
                        r->quoted = !r->quoted;
                        continue;
                }
                if (r->quoted || (c != '\n' && c != '\r'))
                        continue;
                pending++;
                if (c != '\n' || csv_reader_records(r->csv) + pending < r->next_point)
                        continue;
                int k = csv_reader_feed(r->csv, p + from, i + 1 - from);
                if (k < 0)
                        return k;
                from = i + 1;
                pending = 0;
                unsigned long records = csv_reader_records(r->csv);
                if (records < r->next_point)
                        continue;
                FilePoint point = { r->offset + from, csv_reader_next_line(r->csv), records };
                r->next_point = records + r->every;
                if ((k = r->point_fn(&point, r->userdata)) < 0)
                        return k;
        }
        return from < len ? csv_reader_feed(r->csv, p + from, len - from) : 0;
}

int file_reader_feed(FileReader *r, const void *data, size_t len) {
        const char *p = data;
        int k;

        if (r->stream) {
                buf_clear(&r->text);
                if ((k = text_decoder_feed(r->stream, p, len, &r->text)) < 0)
                        return k;
                r->offset += len;
                return csv_reader_feed(r->csv, r->text.data, r->text.len);
        }
        /* A UTF-8 BOM may arrive cut over several feeds. */
        while (!r->bom_done && len > 0) {
                if (*p != utf8_bom[r->bom_seen]) {
                        r->bom_done = true;
                        /* A partial match was data after all. */
                        if (r->bom_seen && (k = csv_reader_feed(r->csv, utf8_bom, r->bom_seen)) < 0)
                                return k;
                        break;
                }
                r->bom_seen++;
                p++, len--;
                r->offset++;
                if (r->bom_seen == sizeof utf8_bom)
                        r->bom_done = true;
        }
        if (len == 0)
                return 0;
        k = r->every ? parse_split(r, p, len) : csv_reader_feed(r->csv, p, len);
        r->offset += len;
        return k;
}

int file_reader_finish(FileReader *r) {
        int k;
        if (r->stream) {
                buf_clear(&r->text);
                if ((k = text_decoder_finish(r->stream, &r->text)) < 0 ||
                    (k = csv_reader_feed(r->csv, r->text.data, r->text.len)) < 0)
                        return k;
        } else if (!r->bom_done && r->bom_seen && (k = csv_reader_feed(r->csv, utf8_bom, r->bom_seen)) < 0)
                return k;
        return csv_reader_finish(r->csv);
}

const CsvError *file_reader_error(const FileReader *r) {
        return csv_reader_error(r->csv);
}
