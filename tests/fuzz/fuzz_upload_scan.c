/* Fuzz target for common/core/upload_scan.h: any bytes as an upload, cut
 * anywhere, as the network cuts them.
 *
 * The scan runs twice, over the input in one piece and cut as
 * fuzz_input.h says, and both reports must be the same to the byte. Each
 * report must be consistent: its size and digest are those of the input,
 * an accepted file has a header of UTF-8 cells and at least one row, a
 * rejected one a code and a message, and a scan that said early that the
 * file would fail does fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "sha256.h"
#include "upload_scan.h"
#include "utf8.h"

static void check_report(const UploadReport *rep, const FuzzInput *in, bool failed_early) {
        if (rep->bytes != in->len)
                abort();

        uint8_t digest[SHA256_DIGEST_SIZE];
        char hex[SHA256_HEX_SIZE];
        sha256_digest(in->body, in->len, digest);
        sha256_to_hex(digest, sizeof digest, hex);
        if (strcmp(hex, rep->sha256) != 0)
                abort();

        if (rep->delimiter != ',' && rep->delimiter != ';' && rep->delimiter != '\t')
                abort();
        if (in->delimiter && rep->delimiter != in->delimiter)
                abort();
        if (!text_encoding_name(rep->encoding))
                abort();
        if (strnlen(rep->error_message, sizeof rep->error_message) == sizeof rep->error_message)
                abort();

        if (rep->error_code) {
                if (!*rep->error_code || !*rep->error_message ||
                    !utf8_is_valid(rep->error_message, strlen(rep->error_message)))
                        abort();
                return;
        }
        if (failed_early || rep->n_header == 0 || rep->rows == 0 || rep->rows >= in->len)
                abort();
        for (size_t i = 0; i < rep->n_header; i++)
                if (strlen(rep->header[i]) != rep->header_lens[i] ||
                    !utf8_is_valid(rep->header[i], rep->header_lens[i]))
                        abort();
}

/* A report as one hash, to compare two scans. */
static uint64_t report_hash(const UploadReport *rep) {
        uint64_t h = FUZZ_HASH_INIT;
        h = fuzz_hash_u64(h, rep->bytes);
        h = fuzz_hash(h, rep->sha256, sizeof rep->sha256);
        h = fuzz_hash_u64(h, (uint64_t) rep->encoding);
        h = fuzz_hash_u64(h, (uint64_t) rep->delimiter);
        h = fuzz_hash_u64(h, rep->rows);
        h = fuzz_hash_u64(h, rep->n_header);
        for (size_t i = 0; i < rep->n_header; i++)
                h = fuzz_hash(fuzz_hash_u64(h, rep->header_lens[i]), rep->header[i], rep->header_lens[i]);
        if (rep->error_code)
                h = fuzz_hash(h, rep->error_code, strlen(rep->error_code) + 1);
        return fuzz_hash(h, rep->error_message, strlen(rep->error_message));
}

static uint64_t scan(FuzzInput *in, bool whole) {
        _cleanup_(upload_scan_freep) UploadScan *s = upload_scan_new(in->delimiter, 3);
        UploadReport rep;
        bool failed = false;

        if (!s)
                abort();
        fuzz_input_rewind(in);
        for (size_t off = 0; off < in->len;) {
                size_t n = whole ? in->len : fuzz_input_cut(in, in->len - off);
                if (upload_scan_feed(s, in->body + off, n) != 0)
                        abort();
                off += n;
                /* Once the scan says the file fails, it keeps saying so. */
                if (failed && !upload_scan_failed(s))
                        abort();
                failed = upload_scan_failed(s);
        }
        if (upload_scan_finish(s, &rep) != 0)
                abort();
        check_report(&rep, in, failed);
        uint64_t h = report_hash(&rep);
        upload_scan_report_done(&rep);
        upload_scan_report_done(&rep); /* a second time does nothing */
        return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzInput in;

        fuzz_input_init(&in, data, size, true);
        if (scan(&in, true) != scan(&in, false)) {
                fprintf(stderr, "the report depends on how the upload was cut\n");
                abort();
        }
        fuzz_input_done(&in);
        return 0;
}
