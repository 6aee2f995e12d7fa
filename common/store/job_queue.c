#include "job_queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int reply_error(Redis *r, redisReply *rep) {
        if (!rep)
                return -EIO;
        if (rep->type == REDIS_REPLY_ERROR) {
                snprintf(r->errstr, sizeof r->errstr, "Redis: %s", rep->str);
                freeReplyObject(rep);
                return -EPROTO;
        }
        return 0;
}

int job_queue_setup(Redis *r) {
        redisReply *rep = redis_cmd(r, "XGROUP CREATE %s %s 0 MKSTREAM", JOB_STREAM, JOB_GROUP);
        if (!rep)
                return -EIO;
        if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) == 0) {
                freeReplyObject(rep);
                return 0;
        }
        int k = reply_error(r, rep);
        if (k == 0)
                freeReplyObject(rep);
        return k;
}

int job_queue_enqueue(Redis *r, const char *import_id) {
        /* The set first: if the XADD then fails, the sweeper finds a
         * queued import with no message and tries again; the reverse order
         * could leave a message that the set does not know of, which is
         * harmless too. */
        redisReply *rep = redis_cmd(r, "SADD %s %s", JOB_QUEUED_SET, import_id);
        int k = reply_error(r, rep);
        if (k < 0)
                return k;
        freeReplyObject(rep);
        rep = redis_cmd(r, "XADD %s * import_id %s", JOB_STREAM, import_id);
        k = reply_error(r, rep);
        if (k < 0)
                return k;
        freeReplyObject(rep);
        return 0;
}

/* Fills a Job from one stream entry: [id, [field, value, ...]]. Returns
 * false for an entry without an import_id (deleted, or not ours). */
static bool entry_to_job(const redisReply *e, Job *job) {
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
                return false;
        snprintf(job->entry_id, sizeof job->entry_id, "%s", e->element[0]->str);
        job->import_id[0] = '\0';
        job->deliveries = 0;
        const redisReply *fields = e->element[1];
        if (fields->type != REDIS_REPLY_ARRAY)
                return false;
        for (size_t i = 0; i + 1 < fields->elements; i += 2)
                if (fields->element[i]->type == REDIS_REPLY_STRING && strcmp(fields->element[i]->str, "import_id") == 0 &&
                    fields->element[i + 1]->type == REDIS_REPLY_STRING)
                        snprintf(job->import_id, sizeof job->import_id, "%s", fields->element[i + 1]->str);
        return job->import_id[0] != '\0';
}

int job_queue_read(Redis *r, const char *consumer, size_t max, int block_ms, Job *jobs, size_t *ret_n) {
        *ret_n = 0;
        for (int attempt = 0; attempt < 2; attempt++) {
                redisReply *rep = redis_cmd(r, "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >", JOB_GROUP,
                                            consumer, (int) max, block_ms, JOB_STREAM);
                if (!rep)
                        return -EIO;
                if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOGROUP", 7) == 0) {
                        /* Redis restarted without its data: make the group
                         * again; the sweeper re-enqueues lost jobs. */
                        freeReplyObject(rep);
                        int k = job_queue_setup(r);
                        if (k < 0)
                                return k;
                        continue;
                }
                int k = reply_error(r, rep);
                if (k < 0)
                        return k;
                if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
                        const redisReply *stream = rep->element[0];
                        if (stream->type == REDIS_REPLY_ARRAY && stream->elements == 2) {
                                const redisReply *entries = stream->element[1];
                                for (size_t i = 0; i < entries->elements && *ret_n < max; i++)
                                        if (entry_to_job(entries->element[i], &jobs[*ret_n]))
                                                (*ret_n)++;
                        }
                }
                freeReplyObject(rep);
                return 0;
        }
        return -EPROTO;
}

int job_queue_claim_stale(Redis *r, const char *consumer, int64_t min_idle_ms, size_t max, Job *jobs,
                          size_t *ret_n) {
        *ret_n = 0;
        redisReply *rep = redis_cmd(r, "XAUTOCLAIM %s %s %s %lld 0-0 COUNT %d", JOB_STREAM, JOB_GROUP, consumer,
                                    (long long) min_idle_ms, (int) max);
        if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOGROUP", 7) == 0) {
                freeReplyObject(rep);
                return job_queue_setup(r);
        }
        int k = reply_error(r, rep);
        if (k < 0)
                return k;
        /* [next-id, [entries...], [deleted ids...]] */
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 && rep->element[1]->type == REDIS_REPLY_ARRAY) {
                const redisReply *entries = rep->element[1];
                for (size_t i = 0; i < entries->elements && *ret_n < max; i++)
                        if (entry_to_job(entries->element[i], &jobs[*ret_n]))
                                (*ret_n)++;
        }
        freeReplyObject(rep);
        return 0;
}

int job_queue_touch(Redis *r, const char *consumer, const char *entry_id) {
        redisReply *rep = redis_cmd(r, "XCLAIM %s %s %s 0 %s JUSTID", JOB_STREAM, JOB_GROUP, consumer, entry_id);
        int k = reply_error(r, rep);
        if (k < 0)
                return k;
        freeReplyObject(rep);
        return 0;
}

int job_queue_done(Redis *r, const char *entry_id, const char *import_id) {
        redisReply *rep = redis_cmd(r, "XACK %s %s %s", JOB_STREAM, JOB_GROUP, entry_id);
        int k = reply_error(r, rep);
        if (k < 0)
                return k;
        freeReplyObject(rep);
        rep = redis_cmd(r, "XDEL %s %s", JOB_STREAM, entry_id);
        if ((k = reply_error(r, rep)) < 0)
                return k;
        freeReplyObject(rep);
        rep = redis_cmd(r, "SREM %s %s", JOB_QUEUED_SET, import_id);
        if ((k = reply_error(r, rep)) < 0)
                return k;
        freeReplyObject(rep);
        return 0;
}

int job_queue_holds(Redis *r, const char *import_id) {
        redisReply *rep = redis_cmd(r, "SISMEMBER %s %s", JOB_QUEUED_SET, import_id);
        int k = reply_error(r, rep);
        if (k < 0)
                return k;
        int v = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
        freeReplyObject(rep);
        return v;
}

int job_queue_length(Redis *r, int64_t *ret) {
        redisReply *rep = redis_cmd(r, "XLEN %s", JOB_STREAM);
        int k = rep && rep->type == REDIS_REPLY_INTEGER ? 0 : -EIO;
        if (k == 0)
                *ret = rep->integer;
        if (rep)
                freeReplyObject(rep);
        return k;
}
