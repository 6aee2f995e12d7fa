/* Admission of uploads: the one place that decides whether an upload
 * (multipart or a raw text/csv body) may start, by the two concurrency
 * limits: ROSTER_MAX_CONCURRENT_UPLOADS for the process and
 * ROSTER_MAX_UPLOADS_PER_ACCOUNT for one account. An admitted upload holds
 * a slot of each until admission_release().
 *
 * Thread-safe (one mutex; a process holds a few dozen slots at most). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "app.h"

typedef struct AdmissionSlot {
        App *app;
        int64_t account_id;
        bool held;
} AdmissionSlot;

typedef struct AdmissionRefusal {
        unsigned status; /* 429 (the account's limit) or 503 (the process's) */
        char detail[160];
} AdmissionRefusal;

/* Takes a slot for an upload of this account: true, or false with why
 * in *ret (the caller answers with too_many_uploads and Retry-After). */
bool admission_take(App *app, int64_t account_id, AdmissionSlot *slot, AdmissionRefusal *ret);

/* Gives the slot back; a slot not held (or given back already) is a
 * no-op. */
void admission_release(AdmissionSlot *slot);

/* Uploads admitted and not yet released, in this process. */
int64_t admission_count(void);
