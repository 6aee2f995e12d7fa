#include "upload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "import_options.h"
#include "log.h"

Upload *upload_find(const struct _u_request *request) {
        Upload *u = guard_upload(request);
        return u && u->started ? u : NULL;
}

static void reject(Upload *u, unsigned status, const char *code, const char *title, const char *fmt, ...)
        _printf_(5, 6);
static void reject(Upload *u, unsigned status, const char *code, const char *title, const char *fmt, ...) {
        if (u->status)
                return;
        u->status = status;
        u->code = code;
        u->title = title;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(u->detail, sizeof u->detail, fmt, ap);
        va_end(ap);
        ingest_abort(u->ingest);
        u->ingest = NULL;
}

void upload_done(Upload *u) {
        ingest_abort(u->ingest);
        u->ingest = NULL;
        free(u->filename);
        u->filename = NULL;
        u->started = false;
}

uint64_t upload_file_bytes(const Upload *u) {
        return u->ingest ? ingest_bytes(u->ingest) : 0;
}

/* The first chunk of the request's first file part: decide whether to
 * take it at all. */
static void start(Upload *u, const struct _u_request *request, const char *key, const char *filename) {
        App *app = u->app;
        const Admission *adm = guard_admission(request);

        if (!adm || !adm->upload) {
                reject(u, 400, "unexpected_file", "Unexpected file", "this endpoint takes no file upload");
                return;
        }
        /* A part may come without a name (Content-Disposition with a
         * filename only): libmicrohttpd then hands over NULL. */
        if (!key || strcmp(key, "file") != 0) {
                if (key)
                        reject(u, 400, "invalid_option", "Invalid upload",
                               "the CSV must be sent in a form field named \"file\", not \"%.100s\"", key);
                else
                        reject(u, 400, "invalid_multipart", "Invalid upload",
                               "a part of the form has no name; send the CSV in a form field named \"file\"");
                return;
        }
        /* Admission authenticated the caller, with the route's scope, and
         * gave the upload its slot before the body was read. */
        if (!adm->has_auth) {
                reject(u, 401, "unauthenticated", "Authentication required",
                       "send an API token: Authorization: Bearer <token>");
                return;
        }

        /* The delimiter option, if it came before the file part. */
        char delim = 0, err[256];
        unsigned st;
        if (import_options_delimiter(u_map_get(request->map_post_body, "delimiter"), &delim) < 0)
                delim = 0; /* refused later, with the other options */

        u->filename = import_options_filename(filename);
        u->ingest = ingest_begin(app, delim, &st, err, sizeof err);
        if (!u->ingest) {
                log_warning("cannot start storing an upload: %s", err);
                reject(u, st ? st : 500, st == 503 ? "database_unavailable" : "internal_error",
                       st == 503 ? "Service unavailable" : "Internal error",
                       "the upload cannot be stored right now; try again shortly");
        }
}

int upload_file_callback(const struct _u_request *request, const char *key, const char *filename,
                         const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
                         size_t size, void *cls) {
        App *app = cls;
        Upload *u = guard_upload(request);

        if (!u)
                return U_ERROR; /* not through the guard: never so */
        if (!u->started) {
                u->started = true;
                start(u, request, key, filename);
        } else if (off == 0 && !u->status) {
                /* A second file part. */
                reject(u, 400, "invalid_option", "Invalid upload", "send one file per import, in the field \"file\"");
        }
        if (u->status)
                /* Refused: stop parsing (ulfius still drains the body). */
                return U_ERROR;

        int r = ingest_feed(u->ingest, data, size);
        if (r == -EFBIG) {
                reject(u, 413, "file_too_large", "File too large", "the file is larger than the limit of %lld bytes",
                       (long long) app->cfg.max_upload_bytes);
                return U_ERROR;
        }
        if (r < 0) {
                if (r == -EIO)
                        log_warning("storing an upload failed: %s", ingest_error(u->ingest));
                reject(u, r == -EIO ? 503 : 500, r == -EIO ? "database_unavailable" : "internal_error",
                       r == -EIO ? "Service unavailable" : "Internal error",
                       "the upload could not be stored; try again shortly");
                return U_ERROR;
        }
        return U_OK;
}
