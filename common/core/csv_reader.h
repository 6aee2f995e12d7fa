/* CsvReader: RFC 4180 records from a UTF-8 byte stream, with the physical
 * line each record starts on. A thin layer over libcsv in strict mode.
 *
 * Feed any chunking of the stream; the callback receives each record whose
 * cells are not all empty (blank lines and rows of empty cells are not
 * data). Quoted fields may hold delimiters, quotes ("") and line breaks;
 * LF, CRLF and CR all end a record. A quote in the wrong place, a quoted
 * field left open, a field over CSV_READER_MAX_FIELD bytes, a row over
 * CSV_READER_MAX_COLUMNS cells or a NUL byte stops the reader with an
 * error that names the line.
 *
 * Ownership: the reader owns its buffers; a record's cells are valid only
 * during the callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

#define CSV_READER_MAX_FIELD (64u * 1024)
#define CSV_READER_MAX_RECORD (1024u * 1024)
#define CSV_READER_MAX_COLUMNS 1024u

typedef struct CsvRecord {
        size_t n_cells;
        char **cells; /* NUL-terminated */
        const size_t *lens;
        unsigned long line; /* physical line the record starts on, from 1 */
        unsigned long index; /* records passed so far: 0 is the header */
} CsvRecord;

/* Return 0 to go on, a negative value to stop: csv_reader_feed() then
 * returns that value. */
typedef int (*CsvRecordFn)(const CsvRecord *rec, void *userdata);

typedef enum CsvErrorCode {
        CSV_ERROR_NONE,
        CSV_ERROR_QUOTE, /* a quote inside an unquoted field, or text after a closing quote */
        CSV_ERROR_UNTERMINATED, /* a quoted field that never closes */
        CSV_ERROR_FIELD_TOO_LONG,
        CSV_ERROR_RECORD_TOO_LONG,
        CSV_ERROR_TOO_MANY_COLUMNS,
        CSV_ERROR_NUL, /* a NUL byte: not text */
} CsvErrorCode;

typedef struct CsvError {
        CsvErrorCode code;
        unsigned long line;
} CsvError;

typedef struct CsvReader CsvReader;

/* delimiter is ',', ';' or '\t'. Returns NULL when out of memory. */
CsvReader *csv_reader_new(char delimiter, CsvRecordFn fn, void *userdata);
void csv_reader_free(CsvReader *r);

/* Makes the reader start in the middle of a stream, at a row boundary
 * found by an earlier read: the next record starts on physical line
 * `line` and `records` records came before it. Call before any feed. */
void csv_reader_start_at(CsvReader *r, unsigned long line, unsigned long records);
/* Between records (right after a feed that ended on a line break): the
 * line the next record starts on, and the records passed so far. */
unsigned long csv_reader_next_line(const CsvReader *r);
unsigned long csv_reader_records(const CsvReader *r);

/* Returns 0; -EBADMSG on a CSV error (see csv_reader_error()); the
 * callback's negative value; -ENOMEM. After an error the reader is spent. */
int csv_reader_feed(CsvReader *r, const char *data, size_t len) _must_check_;
/* Ends the stream: passes a last record without a line break. */
int csv_reader_finish(CsvReader *r) _must_check_;

/* The error that stopped the reader, or NULL. Owned by r. */
const CsvError *csv_reader_error(const CsvReader *r);
/* Describes a CSV error for a person: "line 7: a quote ..." into buf. */
void csv_reader_error_format(const CsvError *e, char *buf, size_t size);
/* A stable code for problem documents and error items. */
const char *csv_reader_error_code_name(CsvErrorCode c);

/* Picks the delimiter of a file from its first line: whichever of comma,
 * semicolon and tab occurs most often outside quotes; comma on a tie or
 * when none occurs. */
char csv_reader_detect_delimiter(const char *data, size_t len);

DEFINE_CLEANUP_FUNC(CsvReader *, csv_reader_free);
