#include "upload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "guard.h"
#include "import_options.h"
#include "log.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static Upload *registry;

void upload_registry_init(void) {
        registry = NULL;
}

Upload *upload_find(const struct _u_request *request) {
        pthread_mutex_lock(&registry_lock);
        Upload *u = registry;
        while (u && u->request != request)
                u = u->next;
        pthread_mutex_unlock(&registry_lock);
        return u;
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

static void upload_free(Upload *u) {
        ingest_abort(u->ingest);
        admission_release(&u->slot);
        free(u->filename);
        free(u);
}

void upload_request_completed(const struct _u_request *request) {
        pthread_mutex_lock(&registry_lock);
        Upload **p = &registry;
        while (*p && (*p)->request != request)
                p = &(*p)->next;
        Upload *u = *p;
        if (u)
                *p = u->next;
        pthread_mutex_unlock(&registry_lock);
        if (u)
                upload_free(u);
}

/* The first chunk of the request's first file part: decide whether to
 * take it at all. */
static void start(Upload *u, const struct _u_request *request, const char *key, const char *filename) {
        App *app = u->app;

        if (strcmp(request->http_verb, "POST") != 0 || strcmp(request->url_path, "/v1/imports") != 0) {
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

        /* The guard authenticated the caller before the body was read;
         * nothing is stored for one who may not import. */
        const AuthInfo *auth = guard_auth(request);
        if (!auth) {
                reject(u, 401, "unauthenticated", "Authentication required",
                       "send an API token: Authorization: Bearer <token>");
                return;
        }
        u->auth = *auth;
        if (!(u->auth.scopes & SCOPE_IMPORTS_WRITE)) {
                reject(u, 403, "insufficient_scope", "Forbidden",
                       "the token lacks the imports:write scope needed to import users");
                return;
        }
        char err[256];
        unsigned st;

        /* A size announced up front is refused before anything is read
         * into the database (multipart framing adds a little). */
        const char *cl = u_map_get_case(request->map_header, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long) app->cfg.max_upload_bytes + 64 * 1024) {
                reject(u, 413, "file_too_large", "File too large", "the upload is larger than the limit of %lld bytes",
                       (long long) app->cfg.max_upload_bytes);
                return;
        }

        AdmissionRefusal no;
        if (!admission_take(app, u->auth.account_id, &u->slot, &no)) {
                reject(u, no.status, "too_many_uploads", "Too many uploads", "%s", no.detail);
                return;
        }

        /* The delimiter option, if it came before the file part. */
        char delim = 0;
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
        Upload *u = upload_find(request);

        if (!u) {
                u = calloc(1, sizeof *u);
                if (!u)
                        return U_ERROR;
                u->request = request;
                u->app = app;
                pthread_mutex_lock(&registry_lock);
                u->next = registry;
                registry = u;
                pthread_mutex_unlock(&registry_lock);
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

uint64_t upload_file_bytes(const struct _u_request *request) {
        uint64_t n = 0;
        pthread_mutex_lock(&registry_lock);
        for (Upload *u = registry; u; u = u->next)
                if (u->request == request && u->ingest)
                        n = ingest_bytes(u->ingest);
        pthread_mutex_unlock(&registry_lock);
        return n;
}
