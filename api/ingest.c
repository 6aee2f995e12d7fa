#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "range_store.h"


struct Ingest {
        App *app;
        Db *db; /* NULL once rolled back */
        char id[UUID_STRING_SIZE];
        UploadScan *scan;
        Buf chunk;
        int seq;
        uint64_t bytes;
        bool too_large;
        char error[512];
};

const char *ingest_id(const Ingest *in) {
        return in->id;
}

Db *ingest_db(const Ingest *in) {
        return in->db;
}

uint64_t ingest_bytes(const Ingest *in) {
        return in->bytes;
}

const char *ingest_error(const Ingest *in) {
        return in->error;
}

static void rollback(Ingest *in) {
        if (!in->db)
                return;
        db_rollback(in->db);
        db_pool_release(in->app->pool, in->db);
        in->db = NULL;
}

Ingest *ingest_begin(App *app, char delimiter, unsigned *ret_status, char *err, size_t err_size) {
        Ingest *in = calloc(1, sizeof *in);
        if (!in || !(in->scan = upload_scan_new(delimiter, (unsigned long) app->cfg.range_rows)) || uuid_v4(in->id) < 0) {
                if (in)
                        upload_scan_free(in->scan);
                free(in);
                snprintf(err, err_size, "out of memory");
                *ret_status = 500;
                return NULL;
        }
        in->app = app;
        int e;
        in->db = db_pool_acquire(app->pool, 5000, &e, err, err_size);
        if (!in->db || db_run(in->db, "BEGIN", 0, NULL) < 0) {
                if (in->db) {
                        snprintf(err, err_size, "%s", in->db->errmsg);
                        db_pool_release(app->pool, in->db);
                }
                upload_scan_free(in->scan);
                free(in);
                *ret_status = 503;
                return NULL;
        }
        return in;
}

void ingest_abort(Ingest *in) {
        if (!in)
                return;
        rollback(in);
        upload_scan_free(in->scan);
        buf_done(&in->chunk);
        free(in);
}

static int store_chunk(Ingest *in) {
        if (in->chunk.len == 0)
                return 0;
        int r = import_store_put_chunk(in->db, in->id, in->seq, in->chunk.data, in->chunk.len);
        if (r < 0) {
                snprintf(in->error, sizeof in->error, "%s", in->db->errmsg);
                rollback(in);
                return -EIO;
        }
        in->seq++;
        buf_clear(&in->chunk);
        return 0;
}

int ingest_feed(Ingest *in, const void *data, size_t len) {
        in->bytes += len;
        if (in->too_large)
                return -EFBIG;
        if (in->bytes > (uint64_t) in->app->cfg.max_upload_bytes) {
                in->too_large = true;
                rollback(in);
                buf_done(&in->chunk);
                return -EFBIG;
        }
        if (!in->db)
                return -EIO;

        int r = upload_scan_feed(in->scan, data, len);
        if (r < 0)
                return r;

        const char *p = data;
        while (len) {
                size_t take = MIN(len, IMPORT_CHUNK_SIZE - in->chunk.len);
                if ((r = buf_append(&in->chunk, p, take)) < 0)
                        return r;
                p += take;
                len -= take;
                if (in->chunk.len == IMPORT_CHUNK_SIZE && (r = store_chunk(in)) < 0)
                        return r;
        }
        return 0;
}

/* Scans the stored chunks again with the delimiter the client asked for
 * (given after the file part, so unknown while it streamed). */
static int rescan(Ingest *in, char delimiter, UploadReport *rep) {
        _cleanup_(upload_scan_freep) UploadScan *scan = upload_scan_new(delimiter, (unsigned long) in->app->cfg.range_rows);
        Buf chunk = BUF_INIT;
        int r = scan ? 0 : -ENOMEM;

        for (int seq = 0; r == 0 && seq < in->seq; seq++) {
                r = import_store_get_chunk(in->db, in->id, seq, &chunk);
                if (r < 0) {
                        snprintf(in->error, sizeof in->error, "%s", in->db->errmsg);
                        r = -EIO;
                        break;
                }
                r = upload_scan_feed(scan, chunk.data, chunk.len);
        }
        buf_done(&chunk);
        if (r == 0) {
                upload_scan_report_done(rep);
                r = upload_scan_finish(scan, rep);
        }
        return r;
}

int ingest_end(Ingest *in, char delimiter, UploadReport *rep) {
        if (!in->db)
                return -EIO;
        int r = store_chunk(in);
        if (r < 0)
                return r;
        buf_done(&in->chunk);
        if ((r = upload_scan_finish(in->scan, rep)) < 0)
                return r;
        if (delimiter && rep->delimiter != delimiter)
                r = rescan(in, delimiter, rep);
        return r;
}

int ingest_commit(Ingest *in, ImportDraft *draft, char existing[UUID_STRING_SIZE]) {
        if (!in->db)
                return -EIO;
        draft->id = in->id;
        int r = import_store_insert(in->db, draft, existing);
        if (r == -EEXIST || r == -EILSEQ) {
                rollback(in);
                return r;
        }
        if (r == 0)
                r = range_store_insert(in->db, in->id, draft->rows_total, draft->points, draft->n_points);
        if (r == 0)
                r = db_run(in->db, "COMMIT", 0, NULL);
        if (r < 0) {
                snprintf(in->error, sizeof in->error, "%s", in->db->errmsg);
                rollback(in);
                return -EIO;
        }
        db_pool_release(in->app->pool, in->db);
        in->db = NULL;
        return 0;
}
