/* Periodic duties any worker may do, on the thread pool: re-enqueue
 * imports that the database says are waiting but Redis does not hold (a
 * Redis restart lost them), and publish invite events a dead worker left
 * in the outbox. */
#pragma once

#include "config.h"
#include "db.h"
#include "redis_client.h"

typedef struct Maintenance {
        const Config *cfg;
        Db *db;
        Redis *redis;
} Maintenance;

/* One round. Logs what it did and what failed; never fails itself. */
void maintenance_run(Maintenance *m);
void maintenance_done(Maintenance *m);
