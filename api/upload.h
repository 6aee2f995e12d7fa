/* Multipart uploads as they stream in.
 *
 * ulfius calls upload_file_callback() for every chunk of a file part
 * before the endpoint runs. The request's Upload is part of the guard's
 * state for it (guard.h), and the guard has admitted the request already
 * (admission.h: the route takes an upload, the caller's token and scope,
 * the size announced, the upload limits). The first chunk checks the
 * part's name and starts an Ingest. The endpoint (imports_create) takes
 * the Ingest over; whatever happens, upload_done() - called when the
 * request is done, also when the client went away mid-upload - rolls back
 * what was not committed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "ingest.h"

typedef struct Upload {
        App *app;
        bool started; /* a file part came */

        /* 0 while the upload is acceptable; else the status to answer. */
        unsigned status;
        const char *code;
        const char *title;
        char detail[512];

        Ingest *ingest;
        char *filename;
} Upload;

/* ulfius's file callback: streams each part of a multipart upload into
 * its ingest as it arrives. Returns U_OK, or U_ERROR to stop reading
 * (the request's Upload then holds the error to answer with). */
int upload_file_callback(const struct _u_request *request, const char *key, const char *filename,
                         const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                         size_t size, void *cls);

/* The request's Upload, or NULL when it had no file part. Valid until the
 * request is done (guard_request_done()). */
Upload *upload_find(const struct _u_request *request);

/* Bytes of the file part received so far (0 when none). */
uint64_t upload_file_bytes(const Upload *u);

/* Rolls back an uncommitted ingest and frees what u holds (not u
 * itself); u may be used again as not started. */
void upload_done(Upload *u);
