/* Sends the webhook outbox (webhook_store.h): each round claims the events
 * that are due, POSTs them all at once with libcurl, signed
 * (webhook.h), and records every attempt, scheduling a retry for each
 * that failed.
 *
 * An attempt succeeds on a 2xx answer within ROSTER_WEBHOOK_TIMEOUT_SECONDS.
 * Redirects are not followed, proxies from the environment are not used,
 * only http and https are spoken, and (unless
 * ROSTER_WEBHOOK_ALLOW_PRIVATE) every address a connection would go to is
 * checked to be public before the socket is opened. */
#pragma once

#include <stdatomic.h>

#include "config.h"
#include "db.h"

typedef struct WebhookSender {
        const Config *cfg;
        const atomic_bool *stopping; /* a stop cuts sends short (they are retried) */
        Db *db; /* opened by the first round */
} WebhookSender;

/* Call once at the program's start, before any thread sends. 0 or -EIO.
 * webhook_sender_global_done() at its end, after the last round. */
int webhook_sender_global_init(void);
void webhook_sender_global_done(void);

/* One round: sends every due event (in groups). Logs failures; returns the
 * number of attempts made, or a negative errno when the database failed. */
int webhook_sender_run(WebhookSender *s);
void webhook_sender_done(WebhookSender *s);
