/* The webhook tables: the outbox of events
 * (webhook_deliveries) and the record of every attempt to deliver one
 * (webhook_attempts).
 *
 * Events are written by the database itself, by a trigger on imports
 * (schema.c, migration 8), in the transaction that moves an import to
 * validated or a final state. Workers claim due events for a lease, send
 * them (worker/webhook_sender.c) and record each attempt here.
 *
 * Functions return 0 or -ENOENT as said, -EAGAIN/-EIO for database
 * failures (db->errmsg), -ENOMEM. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "uuid.h"
#include "webhook.h"

/* An event claimed for sending. */
typedef struct WebhookDelivery {
        char id[UUID_STRING_SIZE];
        char *type;
        char *url;
        char *body;
        int64_t account_id;
        char *secret; /* NULL when the account has none (any more) */
        int attempt; /* this attempt's number, 1 for the first */
} WebhookDelivery;

/* Frees n deliveries and the array. NULL is a no-op. */
void webhook_store_deliveries_free(WebhookDelivery *d, size_t n);

/* Claims up to max due events, oldest first, for lease_seconds: no other
 * worker takes them meanwhile, and they come due again if this one dies
 * before recording the attempt. The array belongs to the caller:
 * webhook_store_deliveries_free(). */
int webhook_store_claim(Db *db, int max, int64_t lease_seconds, WebhookDelivery **ret, size_t *ret_n) _must_check_;

/* What one attempt came to. */
typedef struct WebhookAttempt {
        double started; /* unix seconds */
        int64_t duration_ms;
        int status; /* the HTTP status, 0 when there was no answer */
        const char *error; /* why it failed; NULL when delivered (a 2xx) */
} WebhookAttempt;

/* Records an attempt; a failed one is due again retry_delay seconds on,
 * or given up when that is more than retry_hours after the event was made.
 * An attempt whose lease another worker has taken over meanwhile is
 * recorded, and leaves the event's schedule to that worker. */
int webhook_store_record(Db *db, const WebhookDelivery *d, const WebhookAttempt *a, int64_t retry_delay,
                         int64_t retry_hours) _must_check_;

/* An import's events and their attempts as a JSON array text (newest
 * event last), for the API; the string belongs to the caller. */
int webhook_store_list_json(Db *db, int64_t account_id, const char *import_id, char **ret) _must_check_;
