/* Fuzz target for common/core/csv_reader.h: any bytes, cut anywhere.
 *
 * Each input is read twice, once in one piece and once cut into chunks as
 * fuzz_input.h says; the two reads must see the same records (cells, line,
 * index) and end the same way (return codes, error code and line). Every
 * record must keep the reader's promises: cells NUL-terminated at their
 * lengths and within the limits, not all empty, lines rising. And what the
 * reader gives back must survive csv_writer: each record written as a row
 * and read again (with the apostrophe guard undone) is the same record. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv_reader.h"
#include "csv_writer.h"
#include "fuzz_input.h"

/* Records longer than this are not written back: doubled quotes could push
 * the copy past the reader's limits. */
#define ECHO_MAX_RECORD (16u * 1024)

typedef struct Pass {
        char delimiter;
        unsigned long max_line; /* line breaks in the input, plus one */
        uint64_t hash; /* of every record seen */
        unsigned long n_records;
        unsigned long last_line;
        int rc; /* the first failure of feed or finish, else 0 */
        CsvError error;

        /* The first pass writes its records to `echo` and hashes them
         * without line numbers into echo_hash. */
        Buf *echo;
        uint64_t echo_hash;
        unsigned long n_echoed;
} Pass;

static unsigned long count_lines(const uint8_t *p, size_t len) {
        unsigned long n = 1;
        for (size_t i = 0; i < len; i++)
                if (p[i] == '\n' ? i == 0 || p[i - 1] != '\r' : p[i] == '\r')
                        n++;
        return n;
}

static uint64_t hash_cell(uint64_t h, const char *s, size_t len) {
        return fuzz_hash(fuzz_hash_u64(h, len), s, len);
}

static uint64_t hash_cells(uint64_t h, const CsvRecord *rec) {
        h = fuzz_hash_u64(h, rec->n_cells);
        for (size_t i = 0; i < rec->n_cells; i++)
                h = hash_cell(h, rec->cells[i], rec->lens[i]);
        return h;
}

static void echo_record(Pass *p, const CsvRecord *rec) {
        size_t total = 0;
        for (size_t i = 0; i < rec->n_cells; i++)
                total += rec->lens[i] + 1;
        if (total > ECHO_MAX_RECORD)
                return;
        for (size_t i = 0; i < rec->n_cells; i++)
                if ((i && buf_append_char(p->echo, p->delimiter) < 0) ||
                    csv_writer_cell(p->echo, rec->cells[i], rec->lens[i], p->delimiter) < 0)
                        abort();
        if (buf_append_str(p->echo, "\r\n") < 0)
                abort();
        p->echo_hash = hash_cells(p->echo_hash, rec);
        p->n_echoed++;
}

static int on_record(const CsvRecord *rec, void *userdata) {
        Pass *p = userdata;
        size_t total = 0;
        bool any = false;

        if (rec->n_cells == 0 || rec->n_cells > CSV_READER_MAX_COLUMNS)
                abort();
        if (rec->index != p->n_records)
                abort();
        if (rec->line < 1 || rec->line > p->max_line || (p->n_records && rec->line <= p->last_line))
                abort();
        for (size_t i = 0; i < rec->n_cells; i++) {
                if (rec->lens[i] > CSV_READER_MAX_FIELD || strlen(rec->cells[i]) != rec->lens[i])
                        abort();
                total += rec->lens[i] + 1;
                any = any || rec->lens[i];
        }
        if (!any || total > CSV_READER_MAX_RECORD)
                abort();

        p->hash = fuzz_hash_u64(hash_cells(p->hash, rec), rec->line);
        p->n_records++;
        p->last_line = rec->line;
        if (p->echo)
                echo_record(p, rec);
        return 0;
}

/* Reads the input cut as `in` says; in one piece when whole. */
static void run(FuzzInput *in, bool whole, Pass *p) {
        _cleanup_(csv_reader_freep) CsvReader *r = csv_reader_new(p->delimiter, on_record, p);
        if (!r)
                abort();
        fuzz_input_rewind(in);
        for (size_t off = 0; off < in->len && p->rc == 0;) {
                size_t n = whole ? in->len : fuzz_input_cut(in, in->len - off);
                p->rc = csv_reader_feed(r, (const char *) in->body + off, n);
                off += n;
        }
        if (p->rc == 0)
                p->rc = csv_reader_finish(r);
        if (p->rc != 0 && p->rc != -EBADMSG)
                abort(); /* the callback never stops it, and memory is not short */

        p->error = *csv_reader_error(r);
        if ((p->rc == -EBADMSG) != (p->error.code != CSV_ERROR_NONE))
                abort();
        if (p->rc && (p->error.line < 1 || p->error.line > p->max_line))
                abort();
        /* A spent reader stays spent. */
        if (p->rc && csv_reader_feed(r, "x\n", 2) != p->rc)
                abort();

        char msg[512];
        csv_reader_error_format(&p->error, msg, sizeof msg);
        if (!*msg || !*csv_reader_error_code_name(p->error.code))
                abort();
}

static int on_echo(const CsvRecord *rec, void *userdata) {
        Pass *p = userdata;

        p->hash = fuzz_hash_u64(p->hash, rec->n_cells);
        /* The guard is undone as the import does for its own error CSV. */
        for (size_t i = 0; i < rec->n_cells; i++)
                p->hash = hash_cell(p->hash, rec->cells[i], csv_writer_unguard(rec->cells[i], rec->lens[i]));
        p->n_records++;
        return 0;
}

static void check_echo(const Pass *first) {
        Pass back = { .hash = FUZZ_HASH_INIT };
        _cleanup_(csv_reader_freep) CsvReader *r = csv_reader_new(first->delimiter, on_echo, &back);
        if (!r)
                abort();
        if (csv_reader_feed(r, first->echo->data ? first->echo->data : "", first->echo->len) != 0 ||
            csv_reader_finish(r) != 0)
                abort();
        if (back.n_records != first->n_echoed || back.hash != first->echo_hash)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in;
        Buf echo = BUF_INIT;

        fuzz_input_init(&in, data, size, true);
        char delimiter = in.delimiter ? in.delimiter : csv_reader_detect_delimiter((const char *) in.body, in.len);
        if (delimiter != ',' && delimiter != ';' && delimiter != '\t')
                abort();
        unsigned long max_line = count_lines(in.body, in.len);

        Pass whole = { .delimiter = delimiter, .max_line = max_line, .hash = FUZZ_HASH_INIT, .echo = &echo,
                       .echo_hash = FUZZ_HASH_INIT };
        Pass cut = { .delimiter = delimiter, .max_line = max_line, .hash = FUZZ_HASH_INIT };
        run(&in, true, &whole);
        run(&in, false, &cut);

        if (whole.hash != cut.hash || whole.n_records != cut.n_records || whole.rc != cut.rc ||
            whole.error.code != cut.error.code || whole.error.line != cut.error.line) {
                fprintf(stderr,
                        "chunking changed the result: whole %lu records rc %d error %d line %lu, "
                        "cut %lu records rc %d error %d line %lu\n",
                        whole.n_records, whole.rc, whole.error.code, whole.error.line, cut.n_records, cut.rc,
                        cut.error.code, cut.error.line);
                abort();
        }
        check_echo(&whole);

        buf_done(&echo);
        fuzz_input_done(&in);
        return 0;
}
