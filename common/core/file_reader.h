/* FileReader: the one way the bytes of a stored file become records.
 *
 * The API's upload scan, the worker that imports an upload and
 * roster-admin loading establishments all read files through it, so a
 * file is imported exactly as it was scanned:
 *  - a UTF-8 byte-order mark at the very start of the file is not data;
 *  - UTF-16 is decoded to UTF-8 as a stream, then parsed;
 *  - any other encoding is parsed as bytes (its delimiters and line
 *    breaks are the same ASCII bytes whatever the encoding), and each
 *    record's cells are decoded to UTF-8 afterwards: Windows-1252 by
 *    table, UTF-8 only when it is not valid (bad bytes become U+FFFD).
 *    FILE_READER_RAW leaves the cells as they are, for the upload scan,
 *    which learns whether a file is UTF-8 or Windows-1252 only at its end.
 *
 * Parsing itself (quoting, limits, line numbers) is CsvReader's.
 *
 * A reader starts at the start of the file or at a row boundary an
 * earlier reader reported (FilePoint): that is how one import is split
 * into ranges that workers read independently. Boundaries are reported
 * for ASCII-compatible encodings only; a UTF-16 file is one range.
 *
 * Ownership: the reader owns its buffers; a record passed to the callback
 * is valid only during the call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csv_reader.h"
#include "text_decode.h"

/* A row boundary in a stored file. */
typedef struct FilePoint {
        uint64_t offset; /* bytes of the stored file before it */
        unsigned long line; /* the physical line the next record starts on, from 1 */
        unsigned long records; /* records before it; the header is record 0 */
} FilePoint;

#define FILE_POINT_START ((FilePoint){ 0, 1, 0 })

/* Called at a row boundary; a negative return stops the reader. */
typedef int (*FilePointFn)(const FilePoint *point, void *userdata);

typedef enum FileReaderFlags {
        FILE_READER_RAW = 1 << 0, /* do not decode the cells of ASCII-compatible files */
} FileReaderFlags;

typedef struct FileReader FileReader;

/* A reader of a file in `encoding` with `delimiter` (',', ';', '\t'),
 * starting at `start` (FILE_POINT_START, or a point reported before; a
 * UTF-16 file only from its start). NULL when out of memory or when the
 * start is not possible. */
FileReader *file_reader_new(TextEncoding encoding, char delimiter, FileReaderFlags flags, FilePoint start,
                            CsvRecordFn fn, void *userdata);
void file_reader_free(FileReader *r);

/* Reports row boundaries to point_fn: the first once `first` records
 * have passed (counted from the file's start), then after every `every`
 * more (every > 0). Call before any feed. No effect on UTF-16 files. */
void file_reader_split(FileReader *r, unsigned long first, unsigned long every, FilePointFn point_fn);

/* Takes the next stored bytes. 0; -EBADMSG on a CSV error (see
 * file_reader_error()); a callback's negative value; -ENOMEM. */
int file_reader_feed(FileReader *r, const void *data, size_t len) _must_check_;
/* Ends the input: passes a last record without a line break. */
int file_reader_finish(FileReader *r) _must_check_;

/* The CSV error that stopped the reader, or NULL. Owned by r. */
const CsvError *file_reader_error(const FileReader *r);

DEFINE_CLEANUP_FUNC(FileReader *, file_reader_free);
