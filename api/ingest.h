/* Ingest: an upload on its way into PostgreSQL.
 *
 * Bytes are stored as they arrive, in 1 MiB chunks, inside one open
 * transaction, while an UploadScan learns what they hold; memory stays
 * bounded whatever the size. At the end the imports row is written and the
 * transaction committed; a cut-off, oversized or rejected upload is rolled
 * back and leaves nothing.
 *
 * Ownership: an Ingest holds a pooled database connection from
 * ingest_begin() until ingest_commit() or ingest_abort(), which frees it. */
#pragma once

#include <stdint.h>

#include "app.h"
#include "import_store.h"
#include "upload_scan.h"

typedef struct Ingest Ingest;

/* Starts an upload; delimiter is the client's option when already known
 * (0: detect). Returns NULL with *ret_status 503 (no database connection)
 * or 500; a message in err. */
Ingest *ingest_begin(App *app, char delimiter, unsigned *ret_status, char *err, size_t err_size);

/* Takes more bytes. 0; -EFBIG once over ROSTER_MAX_UPLOAD_BYTES (the
 * transaction is then rolled back and later bytes are only counted);
 * -EIO when storing failed (err in ingest_error()); -ENOMEM. */
int ingest_feed(Ingest *in, const void *data, size_t len);

/* Ends the byte stream: stores the last chunk and fills *rep (see
 * UploadScan). When delimiter differs from the one the scan used, the
 * stored bytes are scanned again with it. 0, -EIO, -ENOMEM. */
int ingest_end(Ingest *in, char delimiter, UploadReport *rep);

/* Writes the imports row and commits. 0; -EEXIST when the idempotency key
 * names an earlier import of the same file and options, -EILSEQ when of
 * another (either way its id in existing; nothing is kept); -EIO. */
int ingest_commit(Ingest *in, ImportDraft *draft, char existing[UUID_STRING_SIZE]);

/* Rolls back (when still open) and frees. NULL is a no-op. */
void ingest_abort(Ingest *in);

/* The import's id, chosen when the ingest began. Owned by in. */
const char *ingest_id(const Ingest *in);
/* The connection (inside the upload's transaction) until commit or
 * abort; NULL after. */
Db *ingest_db(const Ingest *in);
uint64_t ingest_bytes(const Ingest *in);
const char *ingest_error(const Ingest *in);
