/* BatchPipe: hands filled batches from the thread that reads and checks
 * rows to the thread that writes them, one at a time, so that the next
 * batch is read while the one before is written.
 *
 * The pipe holds at most one batch between the two: batch_pipe_put()
 * waits until the writer has taken the one before. Batches move by swap,
 * never by copy: put() leaves the caller an empty batch (with the memory
 * of an earlier one, for reuse), get() takes the caller's batch, emptied,
 * in exchange.
 *
 * Reader side: put() each batch, then close() with how the reading ended.
 * Writer side: get() until it returns 0, or stop() to make the reader's
 * next put() fail with -EPIPE; either way the writer joins the reader
 * before batch_pipe_free().
 *
 * Thread-safe between one reader and one writer. The pipe owns the batch
 * it holds. */
#pragma once

#include "import_batch.h"
#include "macro.h"

typedef struct BatchPipe BatchPipe;

/* NULL when out of memory. */
BatchPipe *batch_pipe_new(void);
void batch_pipe_free(BatchPipe *p);
DEFINE_CLEANUP_FUNC(BatchPipe *, batch_pipe_free);

/* Reader: waits until the pipe is empty, then swaps *b into it. 0, or
 * -EPIPE when the writer stopped (*b is left as it was). b->keys_only is
 * kept. */
int batch_pipe_put(BatchPipe *p, ImportBatch *b) _must_check_;

/* Reader: no batch follows; status is how the reading ended (0 or a
 * negative errno), which get() hands on once the pipe is empty. */
void batch_pipe_close(BatchPipe *p, int status);

/* Writer: waits for a batch and swaps it into *b (emptied first): 1. Or,
 * once the reader closed the pipe and no batch is left: 0, with the
 * reader's status in *ret_status. */
int batch_pipe_get(BatchPipe *p, ImportBatch *b, int *ret_status) _must_check_;

/* Writer: takes no more batches; the reader's next put() fails. */
void batch_pipe_stop(BatchPipe *p);
