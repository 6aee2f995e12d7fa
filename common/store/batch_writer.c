#include "batch_writer.h"

#include <errno.h>
#include <stdlib.h>

#include "error_log.h"
#include "invite_outbox.h"
#include "link_store.h"
#include "result_log.h"

static int plan(Db *db) {
        /* Every statement of a batch is driven by its few rows and must
         * probe the big tables by index. Statistics lag behind a big
         * import (autovacuum analyses a minute later), and prepared
         * statements keep the plan made when the tables were small: the
         * planner then picks scans and hash joins over whole tables, which
         * makes a batch cost as much as the table is big. Rule those out
         * for this transaction (one round trip: SET LOCAL each). The
         * costs this gives scans would make every statement look worth
         * compiling: no JIT either. */
        return db_run(db,
                      "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), "
                      "       set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)",
                      0, NULL);
}

/* The invite outbox row of the users the batch created, when the import
 * invites them: a dry run invites no one. */
static int write_invites(Db *db, const UserStoreJob *job, const ImportBatch *batch, const bool *created,
                         const int64_t *user_ids) {
        if (!job->invite || job->dry_run)
                return 0;
        int64_t *ids = malloc((batch->n ? batch->n : 1) * sizeof *ids);
        if (!ids)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < batch->n; i++)
                if (created[i])
                        ids[n++] = user_ids[i];
        int r = invite_outbox_add(db, job->import_id, batch->n ? (long) batch->rows[0].user.line : 0,
                                  job->account_id, ids, n);
        free(ids);
        return r;
}

int batch_writer_write(Db *db, const UserStoreJob *job, ImportBatch *batch, BatchCounts *ret) {
        BatchCounts c = { .rows = (int64_t) batch->n };
        bool *created = calloc(batch->n ? batch->n : 1, sizeof *created);
        bool *changed = calloc(batch->n ? batch->n : 1, sizeof *changed);
        int64_t *user_ids = calloc(batch->n ? batch->n : 1, sizeof *user_ids);
        int r;
        if (!created || !changed || !user_ids) {
                r = -ENOMEM;
                goto out;
        }

        if ((r = plan(db)) < 0 || (r = user_store_check(db, job, batch)) < 0 ||
            (r = link_store_check(db, job, batch)) < 0)
                goto out;

        /* A dry run writes as a real run would, for exact counts, and
         * takes it back. */
        if (job->dry_run && (r = db_run(db, "SAVEPOINT dry_run", 0, NULL)) < 0)
                goto out;
        if ((r = user_store_write(db, job, batch, created, changed, user_ids, &c.invites)) < 0 ||
            (r = write_invites(db, job, batch, created, user_ids)) < 0 ||
            (r = link_store_write(db, job, batch, user_ids, changed)) < 0)
                goto out;
        if (job->dry_run && (r = db_run(db, "ROLLBACK TO SAVEPOINT dry_run", 0, NULL)) < 0)
                goto out;
        /* The users a dry run would create do not exist. */
        for (size_t i = 0; job->dry_run && i < batch->n; i++)
                if (created[i])
                        user_ids[i] = 0;

        if ((r = error_log_write(db, job->import_id, batch)) < 0 ||
            (r = result_log_write(db, job->import_id, batch, created, changed, user_ids)) < 0)
                goto out;
        for (size_t i = 0; i < batch->n; i++) {
                if (batch->rows[i].user.failed)
                        continue;
                if (created[i])
                        c.created++;
                else if (changed[i])
                        c.updated++;
                else
                        c.unchanged++;
        }
        c.failed = (int64_t) import_batch_failed(batch);
        c.warned = (int64_t) import_batch_warned(batch);
        *ret = c;
out:
        free(created);
        free(changed);
        free(user_ids);
        return r;
}
