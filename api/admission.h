/* Admission: the one policy that decides, from a request's headers and
 * before its body is read, whether the body may come in at all.
 *
 *   - The route (routes.c) says how big a body may be: a CSV upload up
 *     to ROSTER_MAX_UPLOAD_BYTES (plus 1 MiB of other form fields) as
 *     multipart, or up to ROSTER_MAX_BODY_BYTES as a raw text/csv body;
 *     anything else 64 KiB.
 *   - A request with a body must carry a token with the route's scope.
 *   - An upload takes a slot under both concurrency limits:
 *     ROSTER_MAX_CONCURRENT_UPLOADS for the process and
 *     ROSTER_MAX_UPLOADS_PER_ACCOUNT for one account, held until the
 *     request is done (admission_release()).
 *
 * The guard (guard.c) calls admission_decide() when the headers arrive,
 * keeps the decision in its state for the request, and holds the body to
 * it as the bytes come.
 *
 * Thread-safe (one mutex; a process holds a few dozen slots at most). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "routes.h"

/* Multipart parts other than the file (options, framing) may add this
 * much to an upload. */
#define ADMISSION_FIELDS_MAX (1u << 20)

typedef struct AdmissionSlot {
        App *app;
        int64_t account_id;
        bool held;
} AdmissionSlot;

typedef struct AdmissionRefusal {
        unsigned status; /* 0 when admitted; else the status to answer */
        const char *code, *title;
        char detail[256];
} AdmissionRefusal;

/* What admission_decide() looks at: the request line and headers (NULL
 * when absent). */
typedef struct AdmissionHead {
        const char *method, *path;
        const char *authorization, *content_length, *content_type;
        size_t boundary_len; /* of a multipart Content-Type; 0 otherwise */
        bool has_body;
} AdmissionHead;

typedef struct Admission {
        const Route *route; /* NULL when no route serves the path */
        bool upload; /* a CSV upload (the route takes one) */
        bool multipart; /* ... sent as multipart/form-data */
        uint64_t limit; /* body bytes the request may send */
        bool has_auth; /* the caller, authenticated with the headers */
        AuthInfo auth;
        AdmissionSlot slot; /* an upload's place under the limits */
        AdmissionRefusal refusal;
} Admission;

/* Decides on a request as above, into *ret. A request without a body is
 * only given its limit: the dispatcher authenticates it. Once the
 * request is done, admission_release(&ret->slot). */
void admission_decide(App *app, const AdmissionHead *head, Admission *ret);

/* Refuses the request in a (413, worded for its route) for a body over
 * a->limit; a request refused before keeps its first refusal. */
void admission_refuse_too_large(App *app, Admission *a);

/* Refuses the request in a with this problem, unless it was refused
 * before. */
void admission_refuse(Admission *a, unsigned status, const char *code, const char *title, const char *fmt, ...)
        _printf_(5, 6);

/* Takes a slot for an upload of this account: true, or false with why
 * in *ret (too_many_uploads, 429 or 503). */
bool admission_take(App *app, int64_t account_id, AdmissionSlot *slot, AdmissionRefusal *ret);

/* Gives the slot back; a slot not held (or given back already) is a
 * no-op. */
void admission_release(AdmissionSlot *slot);

/* Uploads admitted and not yet released, in this process. */
int64_t admission_count(void);
