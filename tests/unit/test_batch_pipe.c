/* Unit tests for common/util/batch_pipe.h: batches arrive in order and whole,
 * the reader waits while the pipe is full, its status comes after the
 * last batch, and a writer that stops makes the reader's next put fail. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "batch_pipe.h"
#include "tap.h"

#define BATCHES 200

typedef struct Reader {
        BatchPipe *pipe;
        int batches; /* put this many, then close with status */
        int status;
        int put_result; /* the last put()'s */
        int put; /* batches put */
} Reader;

/* A batch's n says which it is; its arena holds its name. */
static void *reader_main(void *arg) {
        Reader *rd = arg;
        ImportBatch b = IMPORT_BATCH_INIT;
        b.keys_only = true;
        for (int i = 1; i <= rd->batches; i++) {
                char name[32];
                snprintf(name, sizeof name, "batch %d", i);
                b.rows = NULL;
                b.n = (size_t) i;
                if (!arena_strdup(&b.arena, name))
                        break;
                if ((rd->put_result = batch_pipe_put(rd->pipe, &b)) < 0)
                        break;
                rd->put++;
                if (b.n != 0 || !b.keys_only)
                        break; /* put() leaves an empty batch, keys_only kept */
        }
        batch_pipe_close(rd->pipe, rd->status);
        import_batch_done(&b);
        return NULL;
}

int main(void) {
        /* All batches, in order, then the status. */
        Reader rd = { .pipe = batch_pipe_new(), .batches = BATCHES, .status = -EBADMSG };
        ok(rd.pipe != NULL, "a pipe");
        pthread_t t;
        ok(pthread_create(&t, NULL, reader_main, &rd) == 0, "a reader thread");
        ImportBatch b = IMPORT_BATCH_INIT;
        int status = 0, got = 0, in_order = 0;
        while (batch_pipe_get(rd.pipe, &b, &status) == 1) {
                got++;
                in_order += b.n == (size_t) got && b.arena.used_total > 0;
                if (got % 50 == 0)
                        usleep(10000); /* a slow write: the reader waits */
        }
        pthread_join(t, NULL);
        is_int(got, BATCHES, "every batch arrives");
        is_int(in_order, BATCHES, "in order, each with its own memory");
        is_int(status, -EBADMSG, "then the reader's status");
        is_int(rd.put_result, 0, "no put failed");
        is_int(batch_pipe_get(rd.pipe, &b, &status), 0, "a closed, empty pipe stays empty");
        batch_pipe_free(rd.pipe);

        /* The writer stops after three batches: the reader's next put fails. */
        rd = (Reader){ .pipe = batch_pipe_new(), .batches = BATCHES, .status = 0 };
        ok(pthread_create(&t, NULL, reader_main, &rd) == 0, "another reader thread");
        got = 0;
        while (got < 3 && batch_pipe_get(rd.pipe, &b, &status) == 1)
                got++;
        batch_pipe_stop(rd.pipe);
        pthread_join(t, NULL);
        is_int(rd.put_result, -EPIPE, "a put after the writer stopped fails with EPIPE");
        ok(rd.put >= 3 && rd.put <= 4, "the reader stopped at once (%d batches put)", rd.put);
        batch_pipe_free(rd.pipe); /* frees a batch still held */

        import_batch_done(&b);
        batch_pipe_free(NULL);
        ok(true, "batch_pipe_free(NULL) is a no-op");
        return tap_done();
}
