/* Publisher: publishes an import's invite events on a thread of its own,
 * with its own PostgreSQL and Redis connections, while the import goes on
 * writing its next batch.
 *
 * The job runner pokes it after each batch that created users; it
 * publishes every committed batch of that import (maintenance_publish())
 * until none is left, and the runner waits for it before the import is
 * over, so that an import's invites are on the stream when it is final,
 * as when the runner published them itself. What it cannot publish
 * (Redis or the database unreachable) it logs and leaves to the relay of
 * the maintenance round. One publisher per import slot. */
#pragma once

#include "config.h"

typedef struct Publisher Publisher;

/* Starts the thread; connections are made on first use. NULL when out of
 * memory or the thread cannot start. */
Publisher *publisher_new(const Config *cfg);

/* Stops the thread (after the publishing under way) and frees it. NULL is
 * a no-op. */
void publisher_free(Publisher *p);

/* Asks for the committed batches of import_id to be published. Returns
 * at once. */
void publisher_poke(Publisher *p, const char *import_id);

/* Waits until every batch committed before the last poke has been
 * published, or tried. */
void publisher_wait(Publisher *p);
