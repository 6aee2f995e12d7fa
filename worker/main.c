/* roster-worker: takes import jobs from the Redis stream and runs them.
 *
 * The libuv loop owns the scheduling; everything that blocks (PostgreSQL,
 * Redis) runs on the thread pool: one slot per concurrent import, each with
 * its own connections (and two threads of its own: one reads the rows of a
 * range while the slot writes, one publishes invites), one fetcher reading
 * the stream, one maintenance round every few seconds, one round of
 * webhooks every second. SIGTERM/SIGINT stop fetching and let running
 * imports reach their next checkpoint, where they are handed back. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "job_queue.h"
#include "job_runner.h"
#include "log.h"
#include "maintenance.h"
#include "publisher.h"
#include "redis_client.h"
#include "schema.h"
#include "webhook_sender.h"
#include "program.h"

#define FETCH_BLOCK_MS 1000
#define MAINTENANCE_EVERY_MS 5000
#define WEBHOOKS_EVERY_MS 1000
#define MAX_FETCH 64

typedef struct Worker Worker;

typedef struct Slot {
        uv_work_t work;
        Worker *w;
        bool busy;
        Db *db;
        Db *read_db;
        Redis *redis;
        Publisher *publisher;
        Job job;
        JobResult result;
} Slot;

struct Worker {
        uv_loop_t *loop;
        Config cfg;
        char id[160];
        atomic_bool stopping;

        Slot *slots;
        size_t n_slots, busy;

        uv_work_t fetch_work;
        bool fetching;
        Redis *fetch_redis;
        bool group_ready;
        Job fetched[MAX_FETCH];
        size_t n_fetched, want;

        uv_work_t maint_work;
        bool maintaining;
        Maintenance maint;
        uv_timer_t maint_timer;

        uv_work_t webhook_work;
        bool sending;
        WebhookSender webhooks;
        uv_timer_t webhook_timer;

        uv_signal_t sigterm, sigint;
        uint64_t first_signal_ms; /* 0 until a stop was asked for */
};

static void schedule_fetch(Worker *w);
static void maybe_finish(Worker *w);

static void job_work(uv_work_t *req) {
        Slot *s = req->data;
        char err[256];
        if (!s->redis)
                s->redis = redis_new(s->w->cfg.redis_url, 10000, err, sizeof err);
        if (!s->publisher)
                s->publisher = publisher_new(&s->w->cfg);
        JobEnv env = {
                .cfg = &s->w->cfg,
                .worker_id = s->w->id,
                .db = &s->db,
                .read_db = &s->read_db,
                .redis = &s->redis,
                .publisher = s->publisher,
                .stopping = &s->w->stopping,
        };
        /* A fetch that was under way when the stop came may bring jobs
         * (even one just handed back): pass them on unstarted. */
        if (atomic_load(&s->w->stopping))
                s->result = job_runner_hand_back(&env, &s->job);
        else
                s->result = job_runner_run(&env, &s->job);
}

static void job_after(uv_work_t *req, int status) {
        Slot *s = req->data;
        Worker *w = s->w;
        s->busy = false;
        w->busy--;
        schedule_fetch(w);
        maybe_finish(w);
}

static void fetch_work(uv_work_t *req) {
        Worker *w = req->data;
        char err[256];

        w->n_fetched = 0;
        if (!w->fetch_redis) {
                /* Socket timeout well above the BLOCK time. */
                w->fetch_redis = redis_new(w->cfg.redis_url, FETCH_BLOCK_MS + 10000, err, sizeof err);
                if (!w->fetch_redis)
                        return;
        }
        Redis *r = w->fetch_redis;
        if (!w->group_ready) {
                if (job_queue_setup(r) < 0) {
                        log_warning("cannot set up the job queue, retrying: %s", r->errstr);
                        sleep(1);
                        return;
                }
                w->group_ready = true;
        }
        /* Jobs whose worker went silent for a whole lease come first. */
        int k = job_queue_claim_stale(r, w->id, w->cfg.job_lease_seconds * 1000, w->want, w->fetched, &w->n_fetched);
        if (k == 0 && w->n_fetched == 0)
                k = job_queue_read(r, w->id, w->want, FETCH_BLOCK_MS, w->fetched, &w->n_fetched);
        if (k < 0) {
                log_warning("cannot read the job queue, retrying: %s", r->errstr);
                if (k == -EIO)
                        w->group_ready = false;
                sleep(1);
        }
}

static void fetch_after(uv_work_t *req, int status) {
        Worker *w = req->data;
        w->fetching = false;
        for (size_t i = 0; i < w->n_fetched; i++) {
                Slot *s = NULL;
                for (size_t k = 0; k < w->n_slots && !s; k++)
                        if (!w->slots[k].busy)
                                s = &w->slots[k];
                if (!s)
                        break; /* cannot happen: we asked for no more than free slots */
                s->busy = true;
                s->job = w->fetched[i];
                w->busy++;
                uv_queue_work(w->loop, &s->work, job_work, job_after);
        }
        w->n_fetched = 0;
        schedule_fetch(w);
        maybe_finish(w);
}

static void schedule_fetch(Worker *w) {
        if (w->fetching || atomic_load(&w->stopping) || w->busy >= w->n_slots)
                return;
        w->want = MIN(w->n_slots - w->busy, (size_t) MAX_FETCH);
        w->fetching = true;
        uv_queue_work(w->loop, &w->fetch_work, fetch_work, fetch_after);
}

static void maint_work(uv_work_t *req) {
        Worker *w = req->data;
        maintenance_run(&w->maint);
}

static void maint_after(uv_work_t *req, int status) {
        Worker *w = req->data;
        w->maintaining = false;
        maybe_finish(w);
}

static void on_maint_timer(uv_timer_t *t) {
        Worker *w = t->data;
        if (w->maintaining || atomic_load(&w->stopping))
                return;
        w->maintaining = true;
        uv_queue_work(w->loop, &w->maint_work, maint_work, maint_after);
}

static void webhook_work(uv_work_t *req) {
        Worker *w = req->data;
        (void) webhook_sender_run(&w->webhooks);
}

static void webhook_after(uv_work_t *req, int status) {
        Worker *w = req->data;
        w->sending = false;
        maybe_finish(w);
}

static void on_webhook_timer(uv_timer_t *t) {
        Worker *w = t->data;
        if (w->sending || atomic_load(&w->stopping))
                return;
        w->sending = true;
        uv_queue_work(w->loop, &w->webhook_work, webhook_work, webhook_after);
}

static void maybe_finish(Worker *w) {
        if (!atomic_load(&w->stopping) || w->busy || w->fetching || w->maintaining || w->sending)
                return;
        if (!uv_is_closing((uv_handle_t *) &w->maint_timer)) {
                uv_close((uv_handle_t *) &w->maint_timer, NULL);
                uv_close((uv_handle_t *) &w->webhook_timer, NULL);
                uv_close((uv_handle_t *) &w->sigterm, NULL);
                uv_close((uv_handle_t *) &w->sigint, NULL);
        }
}

static void on_signal(uv_signal_t *h, int signum) {
        Worker *w = h->data;
        uint64_t now = uv_now(w->loop);
        if (w->first_signal_ms) {
                /* Some supervisors signal the process and its group at
                 * once: only a signal well after the first forces exit. */
                if (now - w->first_signal_ms < 2000)
                        return;
                log_warning("second stop signal: exiting without waiting for running imports");
                _exit(1);
        }
        w->first_signal_ms = now ? now : 1;
        log_info("stopping: running imports end at their next checkpoint (%zu running)", w->busy);
        atomic_store(&w->stopping, true);
        uv_timer_stop(&w->maint_timer);
        uv_timer_stop(&w->webhook_timer);
        maybe_finish(w);
}

/* Waits for the database to answer and to have the current schema. */
static int check_database(Worker *w) {
        char err[512];
        for (int attempt = 0;; attempt++) {
                _cleanup_(db_freep) Db *db = db_connect(w->cfg.database_url, "roster-worker", err, sizeof err);
                if (db) {
                        int v = schema_check(db);
                        if (v == -ENOENT) {
                                log_error("the database schema is missing or old: run roster-admin migrate");
                                return -ENOENT;
                        }
                        if (v >= 0)
                                return 0;
                        snprintf(err, sizeof err, "%s", db->errmsg);
                }
                if (attempt == 0)
                        log_warning("waiting for PostgreSQL: %s", err);
                if (attempt >= 60)
                        return -EIO;
                sleep(1);
        }
}

int main(int argc, char **argv) {
        static Worker w;

        int started = program_start(argc, argv, "roster-worker", "Runs roster's import jobs from the Redis queue.",
                                    &w.cfg);
        if (started >= 0)
                return started;

        if (*w.cfg.worker_id)
                snprintf(w.id, sizeof w.id, "%s", w.cfg.worker_id);
        else {
                char host[128] = "localhost";
                gethostname(host, sizeof host - 1);
                snprintf(w.id, sizeof w.id, "%s:%d", host, (int) getpid());
        }

        /* One pool thread per import slot, plus the fetcher, the
         * maintenance round and the webhook sender; must be set before the
         * pool starts. */
        char pool[16];
        snprintf(pool, sizeof pool, "%d", (int) w.cfg.worker_concurrency + 3);
        setenv("UV_THREADPOOL_SIZE", pool, 1);

        if (check_database(&w) < 0) {
                config_done(&w.cfg);
                return 1;
        }

        w.loop = uv_default_loop();
        w.n_slots = (size_t) w.cfg.worker_concurrency;
        w.slots = calloc(w.n_slots, sizeof *w.slots);
        if (!w.slots) {
                log_error("out of memory");
                return 1;
        }
        for (size_t i = 0; i < w.n_slots; i++) {
                w.slots[i].w = &w;
                w.slots[i].work.data = &w.slots[i];
        }
        w.fetch_work.data = &w;
        w.maint_work.data = &w;
        w.maint.cfg = &w.cfg;
        w.webhook_work.data = &w;
        w.webhooks.cfg = &w.cfg;
        w.webhooks.stopping = &w.stopping;
        if (webhook_sender_global_init() < 0) {
                log_error("libcurl could not be set up");
                return 1;
        }

        uv_timer_init(w.loop, &w.maint_timer);
        w.maint_timer.data = &w;
        uv_timer_start(&w.maint_timer, on_maint_timer, 1000, MAINTENANCE_EVERY_MS);
        uv_timer_init(w.loop, &w.webhook_timer);
        w.webhook_timer.data = &w;
        uv_timer_start(&w.webhook_timer, on_webhook_timer, 500, WEBHOOKS_EVERY_MS);
        uv_signal_init(w.loop, &w.sigterm);
        uv_signal_init(w.loop, &w.sigint);
        w.sigterm.data = w.sigint.data = &w;
        uv_signal_start(&w.sigterm, on_signal, SIGTERM);
        uv_signal_start(&w.sigint, on_signal, SIGINT);

        log_info("worker %s started: %zu concurrent imports, batches of %d rows", w.id, w.n_slots,
                 (int) w.cfg.batch_rows);
        schedule_fetch(&w);
        uv_run(w.loop, UV_RUN_DEFAULT);
        uv_loop_close(w.loop);

        for (size_t i = 0; i < w.n_slots; i++) {
                db_free(w.slots[i].db);
                db_free(w.slots[i].read_db);
                publisher_free(w.slots[i].publisher);
                redis_free(w.slots[i].redis);
        }
        free(w.slots);
        redis_free(w.fetch_redis);
        maintenance_done(&w.maint);
        webhook_sender_done(&w.webhooks);
        webhook_sender_global_done();
        log_info("worker %s stopped", w.id);
        config_done(&w.cfg);
        return 0;
}
