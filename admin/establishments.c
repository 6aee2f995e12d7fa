#include "establishments.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv_reader.h"
#include "establishment_store.h"
#include "file_reader.h"
#include "header_map.h"
#include "row_rules.h"
#include "text_decode.h"

#define READ_CHUNK (1u << 20)
#define MAX_REPORTED 10

typedef struct Load {
        Db *db;
        const char *path;
        EstablishmentsReport *rep;
        int urn_col, name_col;
        DbCopy copy;
        Buf problems;
        unsigned n_problems;
        int db_error; /* the COPY failed: the message is the database's */
} Load;

static int problem(Load *l, unsigned long line, const char *what) {
        if (l->n_problems++ < MAX_REPORTED)
                return buf_printf(&l->problems, "  line %lu: %s\n", line, what);
        return 0;
}

static int on_record(const CsvRecord *rec, void *userdata) {
        Load *l = userdata;

        if (rec->index == 0) {
                for (size_t i = 0; i < rec->n_cells; i++) {
                        char norm[64];
                        field_normalize_heading(rec->cells[i], rec->lens[i], norm, sizeof norm);
                        if (strcmp(norm, "urn") == 0 && l->urn_col < 0)
                                l->urn_col = (int) i;
                        else if (strcmp(norm, "establishmentname") == 0 && l->name_col < 0)
                                l->name_col = (int) i;
                }
                if (l->urn_col < 0 || l->name_col < 0) {
                        snprintf(l->rep->message, sizeof l->rep->message,
                                 "the file has no %s column; a GIAS file has URN and EstablishmentName",
                                 l->urn_col < 0 ? "URN" : "EstablishmentName");
                        return -EINVAL;
                }
                return 0;
        }

        l->rep->rows++;
        const char *urn = (size_t) l->urn_col < rec->n_cells ? rec->cells[l->urn_col] : "";
        const char *name = (size_t) l->name_col < rec->n_cells ? rec->cells[l->name_col] : "";
        int32_t v;
        if (row_rules_urn_parse(urn, &v) < 0 || v <= 0)
                return problem(l, rec->line, "URN is not a 6-digit number");
        size_t name_len = strlen(name);
        if (name_len == 0 || name_len > 300 || row_rules_has_control(name, name_len))
                return problem(l, rec->line, "EstablishmentName is empty, too long or holds control characters");
        if (l->n_problems)
                return 0; /* nothing will be loaded: stop building the COPY */
        Buf *b = &l->copy.rows;
        int r = buf_printf(b, "%d\t", (int) v);
        if (r >= 0)
                r = db_copy_text(b, name);
        if (r >= 0)
                r = buf_printf(b, "\t%lu\n", rec->line);
        if (r < 0)
                return r;
        if ((r = db_copy_flush(&l->copy)) < 0)
                l->db_error = r;
        return r;
}

/* First pass: what encoding is the file in? */
static int sniff(FILE *f, TextEncoding *enc, const char **what) {
        TextSniffer s;
        char *chunk = malloc(READ_CHUNK);
        if (!chunk)
                return -ENOMEM;
        text_sniffer_init(&s);
        size_t n;
        while ((n = fread(chunk, 1, READ_CHUNK, f)) > 0)
                text_sniffer_feed(&s, chunk, n);
        free(chunk);
        if (ferror(f))
                return -EIO;
        rewind(f);
        return text_sniffer_result(&s, enc, what);
}

/* The delimiter, from the first line of the file's first chunk. */
static int detect_delimiter(const char *chunk, size_t n, TextEncoding enc, char *ret) {
        _cleanup_(text_decoder_freep) TextDecoder *dec = text_decoder_new(enc);
        Buf text = BUF_INIT;
        int r = dec ? text_decoder_feed(dec, chunk, n, &text) : -ENOMEM;
        if (r >= 0)
                *ret = csv_reader_detect_delimiter(text.data ? text.data : "", text.len);
        buf_done(&text);
        return r;
}

static int parse_file(Load *l, FILE *f, TextEncoding enc) {
        char *chunk = malloc(READ_CHUNK);
        FileReader *reader = NULL;
        int r = 0;

        if (!chunk) {
                r = -ENOMEM;
                goto out;
        }
        size_t n;
        while (r >= 0 && (n = fread(chunk, 1, READ_CHUNK, f)) > 0) {
                if (!reader) {
                        char delim;
                        if ((r = detect_delimiter(chunk, n, enc, &delim)) < 0)
                                break;
                        reader = file_reader_new(enc, delim, 0, FILE_POINT_START, on_record, l);
                        if (!reader) {
                                r = -ENOMEM;
                                break;
                        }
                }
                r = file_reader_feed(reader, chunk, n);
        }
        if (r >= 0 && ferror(f))
                r = -EIO;
        if (r >= 0 && reader)
                r = file_reader_finish(reader);
        if (r == -EBADMSG)
                csv_reader_error_format(file_reader_error(reader), l->rep->message, sizeof l->rep->message);
out:
        file_reader_free(reader);
        free(chunk);
        return r;
}

static int load_tx(Db *db, void *userdata) {
        Load *l = userdata;
        l->rep->rows = 0;
        l->n_problems = 0;
        buf_clear(&l->problems);
        l->urn_col = l->name_col = -1;
        l->db_error = 0;

        l->rep->message[0] = '\0';
        FILE *f = fopen(l->path, "rb");
        if (!f) {
                int e = errno;
                snprintf(l->rep->message, sizeof l->rep->message, "cannot open %s: %s", l->path, strerror(e));
                return -e;
        }
        TextEncoding enc;
        const char *what = NULL;
        int r = sniff(f, &enc, &what);
        if (r == -ENODATA || r == -EMEDIUMTYPE) {
                snprintf(l->rep->message, sizeof l->rep->message, "the file is %s", r == -ENODATA ? "empty" : what);
                fclose(f);
                return -EINVAL;
        }
        if (r < 0) {
                fclose(f);
                return r;
        }
        l->rep->encoding = text_encoding_name(enc);

        if ((r = establishment_store_stage_begin(db, &l->copy)) < 0) {
                fclose(f);
                return r;
        }
        r = parse_file(l, f, enc);
        fclose(f);
        r = db_copy_end(&l->copy, r);
        if (r < 0 && l->db_error == 0 && r != -EAGAIN && r != -EIO) {
                if (!l->rep->message[0])
                        snprintf(l->rep->message, sizeof l->rep->message, "%s",
                                 r == -ENOMEM ? "out of memory" : strerror(-r));
                return r == -EINVAL || r == -EBADMSG ? -EINVAL : r;
        }
        if (r < 0)
                return r;
        if (l->n_problems) {
                snprintf(l->rep->message, sizeof l->rep->message, "%u bad row%s, nothing loaded:\n%s%s", l->n_problems,
                         l->n_problems == 1 ? "" : "s", buf_str(&l->problems),
                         l->n_problems > MAX_REPORTED ? "  ...\n" : "");
                return -EINVAL;
        }

        int64_t urn, first, second;
        r = establishment_store_stage_duplicate(db, &urn, &first, &second);
        if (r < 0)
                return r;
        if (r > 0) {
                snprintf(l->rep->message, sizeof l->rep->message,
                         "URN %06lld appears twice (lines %lld and %lld), nothing loaded", (long long) urn,
                         (long long) first, (long long) second);
                return -EINVAL;
        }
        return establishment_store_stage_apply(db, &l->rep->inserted, &l->rep->updated);
}

int establishments_load(Db *db, const char *path, EstablishmentsReport *rep) {
        Load l = { .db = db, .path = path, .rep = rep, .problems = BUF_INIT };

        /* The transaction may be tried again: each try reads the file anew. */
        int r = db_transaction(db, 3, load_tx, &l);
        if (r < 0 && !rep->message[0])
                snprintf(rep->message, sizeof rep->message, "database error: %s", db->errmsg);
        buf_done(&l.problems);
        return r;
}
