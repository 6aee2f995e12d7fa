/* The job queue: a Redis Stream ("roster:jobs") read by the consumer group
 * "workers". A message carries an import id only; the imports row in
 * PostgreSQL is the record, and a sweeper re-enqueues what the database
 * says is waiting but Redis does not hold.
 *
 * Delivery is at least once: a worker acknowledges (job_queue_done) only
 * after the database says the import is finished; a worker that dies
 * leaves its messages pending, and job_queue_claim_stale() hands them to
 * another after the lease. A set ("roster:jobs:queued") records which
 * imports have a message, for the sweeper.
 *
 * Functions return 0, -EIO when the connection failed (r->errstr), or
 * -EPROTO when Redis answered with an error. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "redis_client.h"

#define JOB_STREAM "roster:jobs"
#define JOB_GROUP "workers"
#define JOB_QUEUED_SET "roster:jobs:queued"

typedef struct Job {
        char entry_id[48]; /* the stream entry, "1700000000000-0" */
        char import_id[40];
        int64_t deliveries; /* from XAUTOCLAIM/XPENDING, 0 when unknown */
} Job;

/* Creates the stream and the group when missing. */
int job_queue_setup(Redis *r) _must_check_;

/* Adds a message for the import. */
int job_queue_enqueue(Redis *r, const char *import_id) _must_check_;

/* Reads up to max new messages for this consumer, waiting up to block_ms.
 * *ret_n is 0 on timeout. Re-creates the group if Redis lost it. */
int job_queue_read(Redis *r, const char *consumer, size_t max, int block_ms, Job *jobs, size_t *ret_n) _must_check_;

/* Takes over up to max messages that other consumers have held for more
 * than min_idle_ms (their worker died or stalled). */
int job_queue_claim_stale(Redis *r, const char *consumer, int64_t min_idle_ms, size_t max, Job *jobs,
                          size_t *ret_n) _must_check_;

/* Resets the idle time of a message this consumer holds: the lease. */
int job_queue_touch(Redis *r, const char *consumer, const char *entry_id) _must_check_;

/* Acknowledges and deletes a message once its import is final (or handed
 * back with job_queue_enqueue()). */
int job_queue_done(Redis *r, const char *entry_id, const char *import_id) _must_check_;

/* 1 when the import has a message in the stream, 0 when not. */
int job_queue_holds(Redis *r, const char *import_id);

/* How many messages the job stream holds: 0, or -EIO. */
int job_queue_length(Redis *r, int64_t *ret) _must_check_;
