/* The job runner: one import, start to end, on the calling thread
 * (blocking; roster-worker runs it on libuv's thread pool).
 *
 * It claims the import in the database, reads the stored upload chunk by
 * chunk through the decoder, the CSV reader and the row rules, and writes
 * it in batches. Each batch is one transaction and a checkpoint: the
 * imports row's rows_processed moves with it, and a batch only commits
 * while this worker still holds the import (fencing out one that lost its
 * lease). A restarted import skips the rows already committed, so no row
 * is applied twice and no invite is written twice.
 *
 * The queue message is acknowledged only once the database says the
 * import is over (finished, failed, cancelled) or not this worker's
 * business. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "db.h"
#include "job_queue.h"
#include "redis_client.h"

typedef struct JobEnv {
        const Config *cfg;
        const char *worker_id;
        Db **db; /* the thread's connection, made on first use */
        Redis **redis;
        const atomic_bool *stopping; /* set on SIGTERM: stop at the next checkpoint */
} JobEnv;

typedef enum JobResult {
        JOB_DONE, /* over: the message was acknowledged */
        JOB_HANDED_BACK, /* stopped for shutdown: re-enqueued */
        JOB_LEFT, /* not acknowledged: another worker or a retry takes it */
} JobResult;

JobResult job_runner_run(JobEnv *env, const Job *job);

/* For a worker that is stopping and was handed a job it will not start:
 * acknowledges the message and queues a new one for another worker. */
JobResult job_runner_hand_back(JobEnv *env, const Job *job);
