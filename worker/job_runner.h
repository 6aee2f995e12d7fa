/* The job runner: one queue message, on the calling thread (blocking;
 * roster-worker runs it on libuv's thread pool).
 *
 * It claims a range of the message's import (range_store.h), reads that
 * range of the stored upload through the file reader and the row rules,
 * and registers its emails or writes it in batches, as the range's phase
 * says. Each batch is one transaction and a checkpoint: the range's
 * rows_done moves with it, and a batch only commits while this worker
 * still holds the range (fencing out one that lost its lease). A range
 * taken over skips the rows already committed, so no row is applied
 * twice and no invite is written twice. Then it claims the next range,
 * and so on; the runner that finds every range done finishes the import.
 *
 * The queue message is acknowledged only once the database says the
 * import is over (finished, failed, cancelled) or not this worker's
 * business (what is left is held by others). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "db.h"
#include "job_queue.h"
#include "publisher.h"
#include "redis_client.h"

typedef struct JobEnv {
        const Config *cfg;
        const char *worker_id;
        Db **db; /* the thread's connection, made on first use */
        Db **read_db; /* a second one, for the rows read while a batch is written */
        Redis **redis;
        /* Publishes the invites of each batch while the next is written;
         * NULL: the runner publishes them itself, between batches. */
        Publisher *publisher;
        const atomic_bool *stopping; /* set on SIGTERM: stop at the next checkpoint */
} JobEnv;

typedef enum JobResult {
        JOB_DONE, /* over: the message was acknowledged */
        JOB_HANDED_BACK, /* stopped for shutdown: re-enqueued */
        JOB_LEFT, /* not acknowledged: another worker or a retry takes it */
} JobResult;

/* Runs one job message to its end, or to where this worker must leave
 * it; see JobResult. */
JobResult job_runner_run(JobEnv *env, const Job *job);

/* For a worker that is stopping and was handed a job it will not start:
 * acknowledges the message and queues a new one for another worker. */
JobResult job_runner_hand_back(JobEnv *env, const Job *job);
