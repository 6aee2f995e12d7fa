#include "batch_pipe.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct BatchPipe {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        ImportBatch slot;
        bool full; /* slot holds a batch the writer has not taken */
        bool closed; /* the reader is done */
        bool stopped; /* the writer is done */
        int status; /* the reader's, once closed */
};

BatchPipe *batch_pipe_new(void) {
        BatchPipe *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        if (pthread_mutex_init(&p->lock, NULL) != 0) {
                free(p);
                return NULL;
        }
        if (pthread_cond_init(&p->changed, NULL) != 0) {
                pthread_mutex_destroy(&p->lock);
                free(p);
                return NULL;
        }
        p->slot = IMPORT_BATCH_INIT;
        return p;
}

void batch_pipe_free(BatchPipe *p) {
        if (!p)
                return;
        import_batch_done(&p->slot);
        pthread_cond_destroy(&p->changed);
        pthread_mutex_destroy(&p->lock);
        free(p);
}

static void swap(ImportBatch *a, ImportBatch *b) {
        ImportBatch t = *a;
        *a = *b;
        *b = t;
}

int batch_pipe_put(BatchPipe *p, ImportBatch *b) {
        pthread_mutex_lock(&p->lock);
        while (p->full && !p->stopped)
                pthread_cond_wait(&p->changed, &p->lock);
        int r = 0;
        if (p->stopped)
                r = -EPIPE;
        else {
                bool keys_only = b->keys_only;
                import_batch_reset(&p->slot);
                swap(&p->slot, b);
                b->keys_only = keys_only;
                p->full = true;
                pthread_cond_broadcast(&p->changed);
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}

void batch_pipe_close(BatchPipe *p, int status) {
        pthread_mutex_lock(&p->lock);
        p->closed = true;
        p->status = status;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
}

int batch_pipe_get(BatchPipe *p, ImportBatch *b, int *ret_status) {
        import_batch_reset(b);
        pthread_mutex_lock(&p->lock);
        while (!p->full && !p->closed)
                pthread_cond_wait(&p->changed, &p->lock);
        int r = 0;
        if (p->full) {
                swap(&p->slot, b);
                p->full = false;
                r = 1;
                pthread_cond_broadcast(&p->changed);
        } else
                *ret_status = p->status;
        pthread_mutex_unlock(&p->lock);
        return r;
}

void batch_pipe_stop(BatchPipe *p) {
        pthread_mutex_lock(&p->lock);
        p->stopped = true;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
}
