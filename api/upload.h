/* Multipart uploads as they stream in.
 *
 * ulfius calls upload_file_callback() for every chunk of a file part
 * before the endpoint runs, with no per-request slot; an Upload is found
 * by its request pointer in a small registry. The first chunk
 * authenticates the caller (nothing is stored for a caller who may not
 * import), checks the part's name and the size announced, and starts an
 * Ingest. The endpoint (imports_create) takes the Upload over; whatever
 * happens, upload_request_completed() - called when the connection is
 * done with the request, also when the client went away mid-upload -
 * rolls back what was not committed and frees it. */
#pragma once

#include "admission.h"
#include "app.h"
#include "ingest.h"

typedef struct Upload {
        const struct _u_request *request;
        struct Upload *next;
        App *app;

        /* 0 while the upload is acceptable; else the status to answer. */
        unsigned status;
        const char *code;
        const char *title;
        char detail[512];

        AuthInfo auth;
        Ingest *ingest;
        char *filename;
        AdmissionSlot slot; /* the upload's place under the concurrency limits */
} Upload;

/* Empties the registry of uploads in flight; once, at start-up. */
void upload_registry_init(void);

/* ulfius's file callback: streams each part of a multipart upload into
 * its ingest as it arrives. Returns U_OK, or U_ERROR to stop reading
 * (the request's Upload then holds the error to answer with). */
int upload_file_callback(const struct _u_request *request, const char *key, const char *filename,
                         const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                         size_t size, void *cls);

/* The Upload of a request, or NULL when it had no file part. It stays
 * registered: upload_request_completed() frees it. */
Upload *upload_find(const struct _u_request *request);

/* Bytes of the file part received so far for the request (0 when none). */
uint64_t upload_file_bytes(const struct _u_request *request);

/* Frees the request's Upload, rolling back an uncommitted ingest. */
void upload_request_completed(const struct _u_request *request);
