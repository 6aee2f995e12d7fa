/* UploadScan: everything the API learns about an upload while it streams
 * past, in one pass and bounded memory: size, SHA-256, encoding,
 * delimiter, the header row, the number of data rows, and whether the file
 * is well-formed CSV at all (strict quoting, no NUL bytes, limits).
 *
 * The scan does not decode UTF-8 or Windows-1252 (which one it is can only
 * be known at the end); it parses the raw bytes, whose delimiters and line
 * breaks are the same ASCII bytes either way, and decodes the header cells
 * at the end. UTF-16, announced by its BOM, is decoded as it comes.
 *
 * Pure. Ownership: the scan owns its buffers; the report's strings belong
 * to the report: free with upload_scan_report_done(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csv_reader.h"
#include "file_reader.h"
#include "sha256.h"
#include "text_decode.h"

typedef struct UploadReport {
        uint64_t bytes;
        char sha256[SHA256_HEX_SIZE];
        TextEncoding encoding;
        char delimiter;
        uint64_t rows; /* data rows: records after the header */
        char **header; /* UTF-8 header cells */
        size_t *header_lens;
        size_t n_header;
        /* Row boundaries that split the data rows into ranges of about
         * range_rows each (none for UTF-16 files or small ones): where the
         * second range starts, the third, ... */
        FilePoint *points;
        size_t n_points;

        /* When the file cannot be imported at all: a stable code
         * (empty_file, not_text, bad_quote, ...) and a message naming the
         * line; NULL when the file is fine. */
        const char *error_code;
        char error_message[512];
} UploadReport;

typedef struct UploadScan UploadScan;

/* delimiter: ',', ';', '\t', or 0 to detect it from the header line.
 * range_rows: how many data rows a range should hold (0: one range).
 * NULL when out of memory. */
UploadScan *upload_scan_new(char delimiter, unsigned long range_rows);
void upload_scan_free(UploadScan *s);

/* Takes the next bytes. 0, or -ENOMEM. A CSV problem is not a failure
 * here: it is reported by upload_scan_finish(); upload_scan_failed() tells
 * early that the file will be rejected. */
int upload_scan_feed(UploadScan *s, const void *data, size_t len) _must_check_;
bool upload_scan_failed(const UploadScan *s);

/* Ends the scan and fills *report. 0 or -ENOMEM. */
int upload_scan_finish(UploadScan *s, UploadReport *report) _must_check_;

/* Frees what the report owns (not r itself). */
void upload_scan_report_done(UploadReport *r);

DEFINE_CLEANUP_FUNC(UploadScan *, upload_scan_free);
