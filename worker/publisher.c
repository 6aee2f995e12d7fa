#include "publisher.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "log.h"
#include "maintenance.h"
#include "redis_client.h"
#include "uuid.h"

/* Outbox batches published per transaction, and transactions per poke at
 * most: a poke comes after every batch, so there are seldom more than
 * one or two to publish. */
#define BATCHES_PER_ROUND 4
#define MAX_ROUNDS 64

struct Publisher {
        const Config *cfg;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake, idle;
        bool quit;
        uint64_t poked, done; /* pokes asked for and pokes served */
        char import_id[UUID_STRING_SIZE];

        /* The thread's own. */
        Db *db;
        Redis *redis;
};

static bool publisher_connect(Publisher *p, const char *import_id) {
        char err[512];
        if (!p->db && !(p->db = db_connect(p->cfg->database_url, "roster-worker", err, sizeof err))) {
                log_import(LOG_LEVEL_WARNING, import_id, "invites left for the relay: %s", err);
                return false;
        }
        if (p->db->broken && db_reconnect(p->db) < 0) {
                log_import(LOG_LEVEL_WARNING, import_id, "invites left for the relay: %s", p->db->errmsg);
                return false;
        }
        if (!p->redis && !(p->redis = redis_new(p->cfg->redis_url, 10000, err, sizeof err))) {
                log_import(LOG_LEVEL_WARNING, import_id, "invites left for the relay: %s", err);
                return false;
        }
        return true;
}

static void publish(Publisher *p, const char *import_id) {
        if (!publisher_connect(p, import_id))
                return;
        for (int round = 0; round < MAX_ROUNDS; round++) {
                int published = 0;
                /* Committed events that fail to go out now are sent by the
                 * relay later; the import goes on. */
                if (maintenance_publish(p->redis, p->db, import_id, 0, BATCHES_PER_ROUND, &published) < 0) {
                        log_import(LOG_LEVEL_WARNING, import_id, "invites left for the relay: %s",
                                   p->redis->errstr[0] ? p->redis->errstr : p->db->errmsg);
                        return;
                }
                if (published == 0)
                        return;
        }
}

static void *run(void *userdata) {
        Publisher *p = userdata;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->quit && p->done == p->poked)
                        pthread_cond_wait(&p->wake, &p->lock);
                if (p->quit)
                        break;
                uint64_t poke = p->poked;
                char import_id[UUID_STRING_SIZE];
                snprintf(import_id, sizeof import_id, "%s", p->import_id);
                pthread_mutex_unlock(&p->lock);

                publish(p, import_id);

                pthread_mutex_lock(&p->lock);
                p->done = poke;
                pthread_cond_broadcast(&p->idle);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

Publisher *publisher_new(const Config *cfg) {
        Publisher *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        p->cfg = cfg;
        /* Each step undone in reverse if a later one fails. */
        int made = 0;
        if (pthread_mutex_init(&p->lock, NULL) == 0 && ++made && pthread_cond_init(&p->wake, NULL) == 0 && ++made &&
            pthread_cond_init(&p->idle, NULL) == 0 && ++made && pthread_create(&p->thread, NULL, run, p) == 0)
                return p;
        if (made > 2)
                pthread_cond_destroy(&p->idle);
        if (made > 1)
                pthread_cond_destroy(&p->wake);
        if (made > 0)
                pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

void publisher_free(Publisher *p) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->quit = true;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        pthread_cond_destroy(&p->idle);
        db_free(p->db);
        redis_free(p->redis);
        free(p);
}

void publisher_poke(Publisher *p, const char *import_id) {
        pthread_mutex_lock(&p->lock);
        snprintf(p->import_id, sizeof p->import_id, "%s", import_id);
        p->poked++;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
}

void publisher_wait(Publisher *p) {
        pthread_mutex_lock(&p->lock);
        while (p->done != p->poked)
                pthread_cond_wait(&p->idle, &p->lock);
        pthread_mutex_unlock(&p->lock);
}
