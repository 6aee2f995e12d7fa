#include "csv_reader.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* libcsv grows its field buffer through a realloc function without a user
 * pointer; refusing to grow past the limit makes csv_parse() stop with
 * CSV_ENOMEM, which is how an unterminated quote is kept from swallowing
 * the rest of the file into memory. The flag tells that case apart from a
 * real allocation failure. */
static _Thread_local bool field_limit_hit;

static void *capped_realloc(void *p, size_t size) {
        if (size > CSV_READER_MAX_FIELD + 1) {
                field_limit_hit = true;
                return NULL;
        }
        return realloc(p, size);
}

static int space_with_tab(unsigned char c) {
        return c == ' ' || c == '\t' ? CSV_SPACE : 0;
}

static int space_only(unsigned char c) {
        return c == ' ' ? CSV_SPACE : 0;
}

/* libcsv reads blocks of this size at most between our checks. */
#define FEED_PIECE (64u * 1024)

struct CsvReader {
        struct csv_parser parser;
        CsvRecordFn fn;
        void *userdata;

        /* The record being built: cell texts back to back in `text`, each
         * NUL-terminated, found by offset (text may move as it grows). */
        Buf text;
        size_t *offsets;
        size_t *lens;
        char **cells;
        size_t n_cells, cap_cells;
        bool any_content;

        unsigned long line; /* where the record being built starts */
        unsigned long extra; /* line breaks inside its quoted fields so far */
        bool last_was_cr; /* the last thing seen was a bare CR */
        unsigned long index;

        /* Line breaks in all bytes fed so far, for the position of a
         * parse error (CRLF counts once). */
        unsigned long raw_breaks;
        bool raw_pending_cr;

        int stop; /* negative once stopped */
        CsvError error;
};

static unsigned long count_breaks(const char *p, size_t len, bool *pending_cr) {
        unsigned long n = 0;
        for (size_t i = 0; i < len; i++) {
                char c = p[i];
                if (c == '\n') {
                        if (!*pending_cr)
                                n++;
                        *pending_cr = false;
                } else if (c == '\r') {
                        n++;
                        *pending_cr = true;
                } else
                        *pending_cr = false;
        }
        return n;
}

static void fail(CsvReader *r, CsvErrorCode code, unsigned long line) {
        if (r->stop)
                return;
        r->stop = -EBADMSG;
        r->error.code = code;
        r->error.line = line;
}

static void on_field(void *s, size_t len, void *data) {
        CsvReader *r = data;

        if (r->stop)
                return;
        r->last_was_cr = false;
        if (r->n_cells == CSV_READER_MAX_COLUMNS) {
                fail(r, CSV_ERROR_TOO_MANY_COLUMNS, r->line + r->extra);
                return;
        }
        if (r->text.len + len + 1 > CSV_READER_MAX_RECORD) {
                fail(r, CSV_ERROR_RECORD_TOO_LONG, r->line);
                return;
        }
        if (r->n_cells == r->cap_cells) {
                size_t cap = r->cap_cells ? r->cap_cells * 2 : 32;
                size_t *o = realloc(r->offsets, cap * sizeof *o);
                if (o)
                        r->offsets = o;
                size_t *l = realloc(r->lens, cap * sizeof *l);
                if (l)
                        r->lens = l;
                char **c = realloc(r->cells, cap * sizeof *c);
                if (c)
                        r->cells = c;
                if (!o || !l || !c) {
                        r->stop = -ENOMEM;
                        return;
                }
                r->cap_cells = cap;
        }
        r->offsets[r->n_cells] = r->text.len;
        r->lens[r->n_cells] = len;
        if (buf_append(&r->text, len ? s : "", len) < 0 || buf_append_char(&r->text, '\0') < 0) {
                r->stop = -ENOMEM;
                return;
        }
        r->n_cells++;
        if (len) {
                r->any_content = true;
                /* Line breaks inside a quoted field move the next record
                 * down by as many lines. */
                bool cr = false;
                r->extra += count_breaks(s, len, &cr);
        }
}

static void on_record_end(int c, void *data) {
        CsvReader *r = data;

        if (r->stop)
                return;
        if (r->n_cells == 0) {
                /* A line break outside any record: a blank line, or the LF
                 * of a CRLF that ended the previous record. */
                if (c == '\n' && r->last_was_cr)
                        r->last_was_cr = false;
                else if (c == '\n' || c == '\r') {
                        r->line++;
                        r->last_was_cr = c == '\r';
                }
                return;
        }

        if (r->any_content) {
                for (size_t i = 0; i < r->n_cells; i++)
                        r->cells[i] = r->text.data + r->offsets[i];
                CsvRecord rec = {
                        .n_cells = r->n_cells,
                        .cells = r->cells,
                        .lens = r->lens,
                        .line = r->line,
                        .index = r->index++,
                };
                int k = r->fn(&rec, r->userdata);
                if (k < 0)
                        r->stop = k;
        }
        r->n_cells = 0;
        r->any_content = false;
        buf_clear(&r->text);
        r->line += r->extra;
        r->extra = 0;
        if (c == '\n' || c == '\r') {
                r->line++;
                r->last_was_cr = c == '\r';
        }
}

CsvReader *csv_reader_new(char delimiter, CsvRecordFn fn, void *userdata) {
        CsvReader *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
                free(r);
                return NULL;
        }
        csv_set_delim(&r->parser, (unsigned char) delimiter);
        csv_set_space_func(&r->parser, delimiter == '\t' ? space_only : space_with_tab);
        csv_set_realloc_func(&r->parser, capped_realloc);
        csv_set_blk_size(&r->parser, 4096);
        r->fn = fn;
        r->userdata = userdata;
        r->line = 1;
        return r;
}

void csv_reader_start_at(CsvReader *r, unsigned long line, unsigned long records) {
        r->line = line;
        r->index = records;
        /* Errors name lines counted from the raw breaks. */
        r->raw_breaks = line - 1;
}

unsigned long csv_reader_next_line(const CsvReader *r) {
        return r->line + r->extra;
}

unsigned long csv_reader_records(const CsvReader *r) {
        return r->index;
}

void csv_reader_free(CsvReader *r) {
        if (!r)
                return;
        csv_free(&r->parser);
        buf_done(&r->text);
        free(r->offsets);
        free(r->lens);
        free(r->cells);
        free(r);
}

const CsvError *csv_reader_error(const CsvReader *r) {
        return &r->error;
}

static int parse_piece(CsvReader *r, const char *p, size_t len) {
        field_limit_hit = false;
        size_t n = csv_parse(&r->parser, p, len, on_field, on_record_end, r);
        if (n < len && !r->stop) {
                bool cr = r->raw_pending_cr;
                unsigned long at = r->raw_breaks + count_breaks(p, n, &cr) + 1;
                int e = csv_error(&r->parser);
                if (e == CSV_EPARSE)
                        fail(r, CSV_ERROR_QUOTE, at);
                else if (e == CSV_ENOMEM && field_limit_hit)
                        fail(r, CSV_ERROR_FIELD_TOO_LONG, r->line + r->extra);
                else
                        r->stop = -ENOMEM;
        }
        r->raw_breaks += count_breaks(p, len, &r->raw_pending_cr);
        return r->stop;
}

int csv_reader_feed(CsvReader *r, const char *data, size_t len) {
        if (r->stop)
                return r->stop;
        if (len == 0)
                return 0;

        const char *nul = memchr(data, '\0', len);
        size_t good = nul ? (size_t) (nul - data) : len;
        for (size_t off = 0; off < good; off += FEED_PIECE) {
                int k = parse_piece(r, data + off, MIN(FEED_PIECE, good - off));
                if (k < 0)
                        return k;
        }
        if (nul) {
                fail(r, CSV_ERROR_NUL, r->raw_breaks + 1);
                return r->stop;
        }
        return 0;
}

int csv_reader_finish(CsvReader *r) {
        if (r->stop)
                return r->stop;
        field_limit_hit = false;
        if (csv_fini(&r->parser, on_field, on_record_end, r) != 0 && !r->stop) {
                if (csv_error(&r->parser) == CSV_EPARSE)
                        fail(r, CSV_ERROR_UNTERMINATED, r->line + r->extra);
                else
                        r->stop = -ENOMEM;
        }
        return r->stop;
}

const char *csv_reader_error_code_name(CsvErrorCode c) {
        switch (c) {
        case CSV_ERROR_QUOTE: return "bad_quote";
        case CSV_ERROR_UNTERMINATED: return "unterminated_quote";
        case CSV_ERROR_FIELD_TOO_LONG: return "field_too_long";
        case CSV_ERROR_RECORD_TOO_LONG: return "row_too_long";
        case CSV_ERROR_TOO_MANY_COLUMNS: return "too_many_columns";
        case CSV_ERROR_NUL: return "not_text";
        case CSV_ERROR_NONE: break;
        }
        return "csv_error";
}

void csv_reader_error_format(const CsvError *e, char *buf, size_t size) {
        switch (e->code) {
        case CSV_ERROR_QUOTE:
                snprintf(buf, size,
                         "line %lu: a quote (\") in the wrong place; a field containing quotes must be "
                         "quoted as a whole, with each inner quote doubled (\"\")",
                         e->line);
                break;
        case CSV_ERROR_UNTERMINATED:
                snprintf(buf, size, "line %lu: a quoted field is never closed (a missing \")", e->line);
                break;
        case CSV_ERROR_FIELD_TOO_LONG:
                snprintf(buf, size,
                         "line %lu: a field is longer than %u KiB; this usually means a quote (\") is never "
                         "closed",
                         e->line, CSV_READER_MAX_FIELD / 1024);
                break;
        case CSV_ERROR_RECORD_TOO_LONG:
                snprintf(buf, size, "line %lu: the row is longer than %u MiB", e->line,
                         CSV_READER_MAX_RECORD / (1024 * 1024));
                break;
        case CSV_ERROR_TOO_MANY_COLUMNS:
                snprintf(buf, size, "line %lu: more than %u columns", e->line, CSV_READER_MAX_COLUMNS);
                break;
        case CSV_ERROR_NUL:
                snprintf(buf, size, "line %lu: a NUL byte; the file is not text", e->line);
                break;
        case CSV_ERROR_NONE:
                snprintf(buf, size, "no error");
                break;
        }
}

char csv_reader_detect_delimiter(const char *data, size_t len) {
        static const char candidates[] = { ',', ';', '\t' };
        size_t counts[3] = { 0 };
        bool quoted = false;

        for (size_t i = 0; i < len; i++) {
                char c = data[i];
                if (c == '"')
                        quoted = !quoted;
                else if (!quoted && (c == '\n' || c == '\r'))
                        break;
                else if (!quoted)
                        for (size_t k = 0; k < 3; k++)
                                if (c == candidates[k])
                                        counts[k]++;
        }
        size_t best = 0;
        for (size_t k = 1; k < 3; k++)
                if (counts[k] > counts[best])
                        best = k;
        return candidates[best];
}
