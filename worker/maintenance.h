/* Periodic duties any worker may do, on the thread pool: notice that
 * Redis lost its data and make up for it (redis_epoch.h), re-enqueue
 * imports that the database says are waiting but Redis does not hold,
 * publish invite events a dead worker left in the outbox, delete
 * published ones past ROSTER_INVITE_RETENTION_DAYS, and delete the file
 * and row data of imports past ROSTER_RETENTION_DAYS. */
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

/* redis_epoch_check(), logging a change (or the failure). 0 or as
 * redis_epoch_check(). */
int maintenance_check_epoch(Redis *redis, Db *db);

/* invite_outbox_publish(), catching up first with a Redis data epoch it
 * did not know (maintenance_check_epoch()). */
int maintenance_publish(Redis *redis, Db *db, const char *import_id, int min_age_seconds, int limit,
                        int *ret_published);
