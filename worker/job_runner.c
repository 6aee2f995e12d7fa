#include "job_runner.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "account_store.h"
#include "batch_pipe.h"
#include "email_filter.h"
#include "file_reader.h"
#include "header_map.h"
#include "import_batch.h"
#include "import_store.h"
#include "invite_outbox.h"
#include "log.h"
#include "maintenance.h"
#include "range_store.h"
#include "text_decode.h"
#include "batch_writer.h"

/* A batch is written when it has ROSTER_BATCH_ROWS rows or holds this
 * much memory, whichever comes first. */
#define BATCH_BYTES (32u << 20)

/* The URNs of establishments found that a run keeps (urn_set.h): more
 * than England has schools, in 1 MiB. */
#define KNOWN_URNS (1u << 17)

/* Transactions are retried this often (with backoff up to 5 s each)
 * before the runner gives the import up to another attempt: long enough
 * to ride out a database restart. */
#define DB_ATTEMPTS 12

typedef struct Run {
        JobEnv *env;
        const Job *job;
        ImportRecord rec;
        bool prepared;
        Db *db;

        RoleInfo *roles;
        size_t n_roles;
        TeamInfo *teams;
        size_t n_teams;
        RuleContext rules;
        ColumnMap *column_map;
        HeaderMap *header;
        UserStoreJob store;

        /* The emails that may repeat in the file, from a pass over all of
         * it (scan_emails()): only those go through the duplicate check,
         * in both phases. NULL: every email does. */
        EmailFilter *emails;
        /* Every email of the file, from the same pass, when it has link
         * columns (a link may name a user the file creates); else NULL. */
        EmailSet *file_emails;
        UrnSet *known_urns; /* establishments found by earlier batches (the reader's) */
        atomic_bool known_urns_stale; /* one of them has gone: empty the set */
        bool scanning;
        Arena scan_arena;

        ImportRange range; /* the range being read */
        int64_t skip_rows; /* data rows of the range an earlier attempt committed */
        /* While a range is applied, its rows are read and checked on a
         * thread of their own (with its own connection, read_db), which
         * hands each batch over this pipe to the job thread that writes
         * it (apply_range()). NULL: the job thread reads and writes. */
        BatchPipe *pipe;
        Db *read_db;
        int ranges; /* ranges claimed for this message */
        ImportBatch batch;
        /* The batch read before, whose look-up the database is answering
         * (ahead_sent) while the reader reads the next (look_up_ahead()). */
        ImportBatch ahead;
        bool ahead_sent;
        int64_t range_seen; /* data rows of the range read so far */
        int64_t batches;
        int64_t rows_committed;
        BatchCounts totals;
        time_t last_touch, last_range_touch;

        int stop; /* why the reader stopped: -ECANCELED, -ESTALE, -EAGAIN, ... */
        char fail_code[40];
        char fail_message[400];
} Run;

static double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void set_failure(Run *run, int stop, const char *code, const char *fmt, ...) _printf_(4, 5);
static void set_failure(Run *run, int stop, const char *code, const char *fmt, ...) {
        va_list ap;
        run->stop = stop;
        snprintf(run->fail_code, sizeof run->fail_code, "%s", code);
        va_start(ap, fmt);
        vsnprintf(run->fail_message, sizeof run->fail_message, fmt, ap);
        va_end(ap);
}

/* Connects one of the thread's Dbs (env->db, env->read_db) if needed,
 * riding out a short outage. */
static Db *ensure_db(JobEnv *env, Db **db) {
        char err[512];
        for (int attempt = 0; attempt < DB_ATTEMPTS; attempt++) {
                if (*db && !(*db)->broken)
                        return *db;
                if (*db && db_reconnect(*db) == 0)
                        return *db;
                if (!*db && (*db = db_connect(env->cfg->database_url, "roster-worker", err, sizeof err)))
                        return *db;
                if (attempt == 0)
                        log_warning("cannot reach PostgreSQL, retrying: %s", *db ? (*db)->errmsg : err);
                if (atomic_load(env->stopping))
                        break;
                db_backoff(attempt);
        }
        return NULL;
}

typedef struct Flush {
        Run *run;
        ImportBatch *batch;
        BatchCounts counts;
        int attempts;
} Flush;

static int flush_tx(Db *db, void *userdata) {
        Flush *f = userdata;
        Run *run = f->run;

        /* A retry starts from the rows as the rules left them, and checks
         * them again in its transaction. */
        if (f->attempts++ > 0)
                import_batch_rewind(f->batch);
        int r = range_store_lock(db, run->rec.id, run->range.seq, run->env->worker_id, run->range.rows_done);
        if (r < 0)
                return r;
        r = batch_writer_write(db, &run->store, f->batch, &f->counts);
        if (r < 0)
                return r;
        return range_store_add_counts(db, run->rec.id, run->range.seq, &f->counts);
}

static void touch_lease(Run *run) {
        time_t now = time(NULL);
        if (now - run->last_touch < run->env->cfg->job_lease_seconds / 4)
                return;
        run->last_touch = now;
        if (*run->env->redis && job_queue_touch(*run->env->redis, run->env->worker_id, run->job->entry_id) < 0)
                log_import(LOG_LEVEL_WARNING, run->rec.id, "could not renew the queue lease: %s",
                           (*run->env->redis)->errstr);
}

/* Writes the batch as one transaction: the checkpoint. */
static int flush_apply(Run *run, ImportBatch *batch) {
        Flush f = { run, batch, { 0 }, 0 };
        int r = db_transaction(run->db, DB_ATTEMPTS, flush_tx, &f);
        if (r < 0)
                return r;

        run->range.rows_done += (int64_t) batch->n;
        run->rows_committed += (int64_t) batch->n;
        run->batches++;
        run->totals.created += f.counts.created;
        run->totals.updated += f.counts.updated;
        run->totals.unchanged += f.counts.unchanged;
        run->totals.failed += f.counts.failed;
        run->totals.invites += f.counts.invites;
        run->totals.warned += f.counts.warned;

        if (f.counts.invites > 0 && run->env->publisher)
                publisher_poke(run->env->publisher, run->rec.id);
        else if (f.counts.invites > 0 && *run->env->redis) {
                int published = 0;
                /* Committed events that fail to go out now are sent by the
                 * relay later; the import goes on. */
                if (maintenance_publish(*run->env->redis, run->db, run->rec.id, 0, 4, &published) < 0)
                        log_import(LOG_LEVEL_WARNING, run->rec.id, "invites left for the relay: %s",
                                   (*run->env->redis)->errstr[0] ? (*run->env->redis)->errstr : run->db->errmsg);
        }
        return 0;
}

/* Registers the batch's first occurrences of each email (the register
 * phase of an import of several ranges). */
static int flush_register(Run *run, const ImportBatch *batch) {
        size_t n = 0;
        const char **emails = malloc(batch->n * sizeof *emails);
        unsigned long *lines = malloc(batch->n * sizeof *lines);
        int r = emails && lines ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < batch->n; i++) {
                const BatchRow *row = &batch->rows[i];
                /* An email on one row of the file cannot repeat. */
                if (!row->register_email ||
                    (run->emails &&
                     !email_filter_may_repeat(run->emails, row->user.email_lower, strlen(row->user.email_lower))))
                        continue;
                emails[n] = row->user.email_lower;
                lines[n++] = row->user.line;
        }
        for (int attempt = 0; r == 0; attempt++) {
                r = range_store_register(run->db, run->rec.id, n, emails, lines);
                if (r != -EAGAIN || attempt >= DB_ATTEMPTS)
                        break;
                db_backoff(attempt);
                if (run->db->broken && db_reconnect(run->db) < 0)
                        continue;
                r = 0;
        }
        free(emails);
        free(lines);
        if (r < 0)
                return r;
        run->batches++;
        /* The lease, and whether the import still runs. */
        time_t now = time(NULL);
        if (now - run->last_range_touch >= run->env->cfg->job_lease_seconds / 4) {
                run->last_range_touch = now;
                r = range_store_touch(run->db, run->rec.id, run->range.seq, run->env->worker_id);
        }
        return r;
}

/* Writes a batch (on the job thread). */
static int flush(Run *run, ImportBatch *batch) {
        if (batch->n == 0)
                return 0;
        int r = run->range.task == RANGE_REGISTER ? flush_register(run, batch) : flush_apply(run, batch);
        if (r < 0)
                return r;
        import_batch_reset(batch);
        touch_lease(run);
        return 0;
}

/* Waits for the answer to the look-up under way, if any: before the
 * reader's connection is used again. A batch whose look-up failed is
 * looked up in its transaction instead. */
static void finish_look_up(Run *run) {
        if (!run->ahead_sent)
                return;
        run->ahead_sent = false;
        if (user_store_look_up_receive(run->read_db, &run->store, &run->ahead) < 0)
                log_import(LOG_LEVEL_DEBUG, run->rec.id, "batch looked up in its transaction: %s",
                           run->read_db->errmsg);
}

/* The batch whose look-up was under way (run->ahead) goes to the job
 * thread once the answer is in. */
static int hand_over(Run *run) {
        finish_look_up(run);
        return run->ahead.n ? batch_pipe_put(run->pipe, &run->ahead) : 0;
}

/* Hands the batch before over, and sends the look-up of this one (its
 * users and URNs, on the reader's connection): the database answers while
 * this thread reads the next batch and the job thread writes the one
 * before. */
static int look_up_ahead(Run *run) {
        int r = hand_over(run);
        if (r < 0)
                return r;
        ImportBatch t = run->ahead;
        run->ahead = run->batch;
        run->batch = t;
        import_batch_reset(&run->batch);
        if (atomic_exchange(&run->known_urns_stale, false))
                urn_set_clear(run->known_urns);
        r = user_store_look_up_send(run->read_db, &run->store, &run->ahead);
        if (r < 0)
                log_import(LOG_LEVEL_DEBUG, run->rec.id, "batch looked up in its transaction: %s", run->read_db->errmsg);
        run->ahead_sent = r > 0;
        return 0;
}

/* The batch read is full, or the range ends: writes it, or hands it to
 * the job thread. */
static int batch_done(Run *run) {
        if (run->batch.n == 0)
                return 0;
        int r = import_batch_mark_duplicates(&run->batch);
        if (r < 0)
                return r;
        if (run->pipe)
                return look_up_ahead(run);
        r = flush(run, &run->batch);
        /* A shutdown waits for the next checkpoint, which is now. */
        if (r == 0 && atomic_load(run->env->stopping))
                r = -ESHUTDOWN;
        return r;
}

static int on_record(const CsvRecord *rec, void *userdata) {
        Run *run = userdata;
        int r;

        if (rec->index == 0)
                return 0; /* the header: the one the upload stored is used */
        run->range_seen = (int64_t) rec->index - run->range.first_row + 1;
        if (run->scanning) {
                /* The value the row rules check and lower-case: the
                 * filter folds ASCII case as they do. */
                ImportRow in;
                arena_reset(&run->scan_arena);
                if ((r = header_map_extract(run->header, rec, 0, &run->scan_arena, &in)) < 0)
                        return r;
                const char *email = in.value[FIELD_EMAIL];
                if (email && email[0]) {
                        email_filter_add(run->emails, email, strlen(email));
                        if (run->file_emails && (r = email_set_add(run->file_emails, email, strlen(email))) < 0)
                                return r;
                }
                return 0;
        }
        if (run->range_seen <= run->skip_rows)
                return 0; /* committed by an earlier attempt */

        r = import_batch_add(&run->batch, &run->rules, run->header, rec, rec->index);
        if (r < 0)
                return r;
        if (run->batch.n < (size_t) run->env->cfg->batch_rows && run->batch.arena.used_total < BATCH_BYTES)
                return 0;

        return batch_done(run);
}

static int get_chunk(Run *run, Db *db, int seq, Buf *chunk) {
        if (db == run->read_db)
                finish_look_up(run);
        for (int attempt = 0;; attempt++) {
                int r = import_store_get_chunk(db, run->rec.id, seq, chunk);
                if (r != -EAGAIN || attempt >= DB_ATTEMPTS)
                        return r;
                db_backoff(attempt);
                if (db->broken)
                        (void) db_reconnect(db);
        }
}

/* Reads the range's bytes of the stored upload (through db) with the
 * file reader, as the upload scan read them, and the row rules, in
 * batches: batch_done() takes each. */
static int read_range(Run *run, Db *db) {
        TextEncoding enc;
        if (text_encoding_from_name(run->rec.file_encoding, &enc) < 0) {
                set_failure(run, -EBADMSG, "internal_error", "the import has an unknown encoding");
                return -EBADMSG;
        }
        char delim = run->rec.file_delimiter[0] ? run->rec.file_delimiter[0] : ',';
        const ImportRange *g = &run->range;
        _cleanup_(file_reader_freep) FileReader *reader = file_reader_new(enc, delim, 0, g->start, on_record, run);
        if (!reader)
                return -ENOMEM;
        run->range_seen = 0;

        Buf chunk = BUF_INIT;
        int r = 0;
        int seq = (int) (g->start.offset / IMPORT_CHUNK_SIZE);
        uint64_t pos = (uint64_t) seq * IMPORT_CHUNK_SIZE; /* offset of the chunk's first byte */
        while (pos < g->end_offset) {
                r = get_chunk(run, db, seq++, &chunk);
                if (r == -ENOENT) {
                        r = 0;
                        break;
                }
                if (r < 0)
                        break;
                uint64_t from = MAX(pos, g->start.offset), to = MIN(pos + chunk.len, g->end_offset);
                if (to > from && (r = file_reader_feed(reader, chunk.data + (from - pos), to - from)) < 0)
                        break;
                pos += chunk.len;
                if (chunk.len == 0)
                        break;
        }
        if (r == 0)
                r = file_reader_finish(reader);
        if (r == -EBADMSG && !run->fail_code[0]) {
                char msg[300];
                csv_reader_error_format(file_reader_error(reader), msg, sizeof msg);
                set_failure(run, -EBADMSG, csv_reader_error_code_name(file_reader_error(reader)->code), "%s", msg);
        }
        buf_done(&chunk);
        if (r == 0)
                r = batch_done(run);
        if (r == 0 && run->range_seen != g->rows)
                log_import(LOG_LEVEL_WARNING, run->rec.id, "range %d: read %" PRId64 " rows, the upload counted %" PRId64,
                           g->seq, run->range_seen, g->rows);
        return r;
}

static void *reader_main(void *userdata) {
        Run *run = userdata;
        int r = read_range(run, run->read_db);
        if (r == 0)
                r = hand_over(run);
        /* Stopped early: the answer is not wanted, but must be read. */
        finish_look_up(run);
        import_batch_reset(&run->ahead);
        batch_pipe_close(run->pipe, r);
        return NULL;
}

/* Applies the range: a thread reads and checks its rows (read_range()
 * through the slot's second connection) while this one writes the batch
 * before, so that the worker's CPU and the database's work overlap. Each
 * batch is still one transaction, in the order of the file. */
static int apply_range(Run *run) {
        if (!(run->read_db = ensure_db(run->env, run->env->read_db)))
                return -EAGAIN;
        _cleanup_(batch_pipe_freep) BatchPipe *pipe = batch_pipe_new();
        if (!pipe)
                return -ENOMEM;
        run->pipe = pipe;
        pthread_t reader;
        if (pthread_create(&reader, NULL, reader_main, run) != 0) {
                run->pipe = NULL;
                return -ENOMEM;
        }

        ImportBatch batch = IMPORT_BATCH_INIT;
        int r = 0, status = 0;
        while ((r = batch_pipe_get(pipe, &batch, &status)) > 0) {
                r = flush(run, &batch);
                /* A shutdown waits for the next checkpoint, which is now. */
                if (r == 0 && atomic_load(run->env->stopping))
                        r = -ESHUTDOWN;
                if (r < 0)
                        break;
        }
        if (r < 0)
                batch_pipe_stop(pipe);
        pthread_join(reader, NULL);
        run->pipe = NULL;
        import_batch_done(&batch);
        /* The writer's failure first; else how the reading ended. */
        return r < 0 ? r : status;
}

/* The header row as the upload stored it (decoded, as the scan read it). */
static int build_header(Run *run) {
        json_error_t jerr;
        json_t *a = json_loads(run->rec.header ? run->rec.header : "[]", 0, &jerr);
        size_t n = json_is_array(a) ? json_array_size(a) : 0;
        char **cells = calloc(n + 1, sizeof *cells);
        size_t *lens = calloc(n + 1, sizeof *lens);
        int r = a && cells && lens ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                json_t *v = json_array_get(a, i);
                cells[i] = (char *) (json_is_string(v) ? json_string_value(v) : "");
                lens[i] = json_is_string(v) ? json_string_length(v) : 0;
        }
        if (r == 0) {
                HeaderProblem problem;
                r = header_map_build(cells, lens, n, run->column_map, &run->header, &problem);
                if (r == -EINVAL) {
                        set_failure(run, -EBADMSG, "invalid_header", "%s", problem.message);
                        r = -EBADMSG;
                }
        }
        free(cells);
        free(lens);
        json_decref(a);
        return r;
}

/* A pass over the whole file before any of its rows is checked: which
 * emails may repeat (email_filter.h). Every worker of an import makes the
 * same filter from the same bytes, so the phases agree on which emails
 * are registered and looked up. A pass that fails (a file the import
 * fails on anyway) leaves every email to the check. */
static int scan_emails(Run *run) {
        ImportRange saved = run->range;
        run->emails = email_filter_new((size_t) MAX(run->rec.rows_total, 0));
        if (!run->emails)
                return -ENOMEM;
        if (run->header->n_link_columns && !(run->file_emails = email_set_new()))
                return -ENOMEM;
        run->range = (ImportRange){ .start = FILE_POINT_START, .end_offset = UINT64_MAX, .first_row = 1,
                                    .rows = run->rec.rows_total, .task = RANGE_REGISTER };
        run->scanning = true;
        run->skip_rows = 0;
        int r = read_range(run, run->db);
        run->scanning = false;
        run->range = saved;
        arena_done(&run->scan_arena);
        if (r == -ENOMEM)
                return r;
        /* Without every email of the file, links to its later lines would
         * fail as unknown: the database went away, so try again later. */
        if (r < 0 && r != -EBADMSG && run->file_emails)
                return r;
        if (r < 0) {
                email_filter_free(run->emails);
                run->emails = NULL;
                /* A file the import fails on: links are checked against the
                 * account's users only. */
                email_set_free(run->file_emails);
                run->file_emails = NULL;
                run->stop = 0;
                run->fail_code[0] = run->fail_message[0] = '\0';
        }
        if (run->file_emails)
                email_set_seal(run->file_emails);
        run->store.emails = run->emails;
        run->store.file_emails = run->file_emails;
        return 0;
}

static int prepare(Run *run) {
        int r = account_store_roles_load(run->db, run->rec.account_id, &run->roles, &run->n_roles);
        if (r == 0)
                r = account_store_teams_load(run->db, run->rec.account_id, &run->teams, &run->n_teams);
        if (r < 0)
                return r;
        run->rules = (RuleContext){ run->roles, run->n_roles, run->teams, run->n_teams, NULL };
        if (run->rec.role_key) {
                run->rules.default_role = row_rules_find_role(run->roles, run->n_roles, run->rec.role_key);
                if (!run->rules.default_role) {
                        set_failure(run, -EBADMSG, "unknown_role",
                                    "the import's role \"%.100s\" no longer exists in the account", run->rec.role_key);
                        return -EBADMSG;
                }
        }
        if (run->rec.column_map) {
                char err[300];
                r = column_map_parse(run->rec.column_map, &run->column_map, err, sizeof err);
                if (r == -EINVAL) {
                        set_failure(run, -EBADMSG, "invalid_option", "%s", err);
                        return -EBADMSG;
                }
                if (r < 0)
                        return r;
        }
        run->store = (UserStoreJob){
                .import_id = run->rec.id,
                .account_id = run->rec.account_id,
                .mode = run->rec.mode,
                .dry_run = run->rec.dry_run,
                .invite = run->rec.invite == INVITE_NEW_USERS,
                .known_urns = run->known_urns = urn_set_new(KNOWN_URNS),
                .known_urns_stale = &run->known_urns_stale,
        };
        if (!run->known_urns)
                return -ENOMEM;
        run->last_touch = time(NULL);
        return build_header(run);
}

static void run_done(Run *run) {
        import_store_record_done(&run->rec);
        email_filter_free(run->emails);
        email_set_free(run->file_emails);
        urn_set_free(run->known_urns);
        arena_done(&run->scan_arena);
        account_store_roles_free(run->roles, run->n_roles);
        account_store_teams_free(run->teams, run->n_teams);
        column_map_free(run->column_map);
        header_map_free(run->header);
        import_batch_done(&run->batch);
        import_batch_done(&run->ahead);
}

static void ack(JobEnv *env, const Job *job) {
        if (!*env->redis)
                return;
        if (job_queue_done(*env->redis, job->entry_id, job->import_id) < 0)
                /* The message comes back to a worker that finds the import
                 * finished and acknowledges it then. */
                log_import(LOG_LEVEL_WARNING, job->import_id, "could not acknowledge the queue message: %s",
                           (*env->redis)->errstr);
}

static JobResult hand_back(JobEnv *env, const Job *job, const char *why);

/* Runs the range just claimed: 0 when its task is done. */
static int run_range(Run *run, const Claim *claim) {
        JobEnv *env = run->env;
        int r = 0;
        run->range = claim->range;
        if (!run->prepared) {
                import_store_record_done(&run->rec);
                r = import_store_get(run->db, 0, run->job->import_id, &run->rec);
                if (r == -ENOENT)
                        return -ESTALE;
                if (r == 0)
                        r = prepare(run);
                if (r == 0)
                        r = scan_emails(run);
                if (r < 0)
                        return r;
                run->prepared = true;
        }
        run->batch.keys_only = claim->range.task == RANGE_REGISTER;
        run->last_range_touch = time(NULL);
        /* Another worker may help with what is left: one message more
         * for each range claimed while others wait. A worker that found
         * nothing it could take dropped its message; ranges that could not
         * be applied then can be now, since the one before was applied. */
        bool ask = claim->more;
        run->ranges++;
        if (ask && *env->redis && job_queue_enqueue(*env->redis, run->rec.id) < 0)
                log_import(LOG_LEVEL_WARNING, run->rec.id, "could not ask for another worker: %s",
                           (*env->redis)->errstr);
        log_import(LOG_LEVEL_INFO, run->rec.id, "%s range %d: %" PRId64 " rows from line %lu, resuming after %" PRId64
                   " (attempt %d)",
                   claim->range.task == RANGE_REGISTER ? "registering" : run->rec.dry_run ? "validating" : "processing",
                   claim->range.seq, claim->range.rows, claim->range.start.line,
                   claim->range.task == RANGE_APPLY ? claim->range.rows_done : 0, claim->attempts);
        run->skip_rows = claim->range.task == RANGE_APPLY ? claim->range.rows_done : 0;
        r = claim->range.task == RANGE_APPLY ? apply_range(run) : read_range(run, run->db);
        /* The invites of the range's batches go out before it is done
         * (and so before the import is). */
        if (env->publisher)
                publisher_wait(env->publisher);
        if (r == 0)
                r = range_store_done(run->db, run->rec.id, &run->range, env->worker_id);
        if (r == 0)
                log_import(LOG_LEVEL_INFO, run->rec.id, "range %d %s", claim->range.seq,
                           claim->range.task == RANGE_REGISTER ? "registered" : "committed");
        return r;
}

/* Clears what an import that stopped keeps only while it runs, once the
 * batches in flight are done (range_store_clear_stopped()). On failure
 * the next worker to find it stopped clears it. */
static void clear_stopped(Db *db, const char *id) {
        if (range_store_clear_stopped(db, id) < 0)
                log_import(LOG_LEVEL_WARNING, id, "could not clear its waiting links and registered emails yet: %s",
                           db->errmsg);
}

/* The import failed as a whole, or stopped; tells what to do with the
 * message. */
static JobResult stopped(Run *run, int r) {
        JobEnv *env = run->env;
        const char *id = run->job->import_id;
        switch (r) {
        case -ECANCELED: {
                log_import(LOG_LEVEL_INFO, id, "cancelled after %" PRId64 " rows committed by this worker",
                           run->rows_committed);
                clear_stopped(run->db, id);
                ack(env, run->job);
                return JOB_DONE;
        }
        case -ESTALE: {
                /* Another worker took the range over, or ended the import
                 * (its range failed it as a whole, or it was finished). */
                ImportRecord rec;
                ImportState state = IMPORT_STATE_QUEUED;
                if (import_store_get(run->db, 0, id, &rec) == 0) {
                        state = rec.state;
                        import_store_record_done(&rec);
                }
                if (!import_state_is_final(state)) {
                        log_import(LOG_LEVEL_WARNING, id, "another worker took range %d over", run->range.seq);
                        return JOB_LEFT;
                }
                log_import(LOG_LEVEL_INFO, id, "ended meanwhile (%s); range %d left as it stood",
                           import_state_to_string(state), run->range.seq);
                /* Emails this worker registered after the end are cleared. */
                clear_stopped(run->db, id);
                ack(env, run->job);
                return JOB_DONE;
        }
        case -ESHUTDOWN:
                /* Hand the range back so that another worker starts at once
                 * rather than after the lease. */
                log_import(LOG_LEVEL_INFO, id, "stopped for shutdown in range %d", run->range.seq);
                if (range_store_release(run->db, id, run->range.seq, env->worker_id) == 0 && *env->redis) {
                        /* Acknowledge first: if the process dies before the
                         * new message, the sweeper enqueues it again. */
                        ack(env, run->job);
                        if (job_queue_enqueue(*env->redis, id) == 0)
                                return JOB_HANDED_BACK;
                }
                return JOB_LEFT;
        case -EAGAIN:
                log_import(LOG_LEVEL_ERROR, id, "stopped in range %d, left for later: %s", run->range.seq,
                           run->db->errmsg);
                return JOB_LEFT;
        default:
                if (!run->fail_code[0]) {
                        if (r == -ENOMEM)
                                set_failure(run, r, "internal_error", "the worker ran out of memory");
                        else {
                                log_import(LOG_LEVEL_ERROR, id, "database error in range %d: %s", run->range.seq,
                                           run->db->errmsg);
                                set_failure(run, r, "internal_error",
                                            "the import stopped because of an internal error");
                        }
                }
                log_import(LOG_LEVEL_ERROR, id, "failed (%s): %s", run->fail_code, run->fail_message);
                if (range_store_fail(run->db, id, run->fail_code, run->fail_message) < 0)
                        return JOB_LEFT;
                clear_stopped(run->db, id);
                ack(env, run->job);
                return JOB_DONE;
        }
}

JobResult job_runner_run(JobEnv *env, const Job *job) {
        Run run = { .env = env, .job = job, .batch = IMPORT_BATCH_INIT, .ahead = IMPORT_BATCH_INIT };
        double started = now_seconds();
        JobResult result = JOB_LEFT;

        run.db = ensure_db(env, env->db);
        if (!run.db) {
                log_import(LOG_LEVEL_ERROR, job->import_id, "left for later: PostgreSQL cannot be reached");
                return JOB_LEFT;
        }

        /* Range after range of the import, for as long as there are. */
        for (;;) {
                Claim claim;
                int r = range_store_claim(run.db, job->import_id, env->worker_id, (int) env->cfg->job_lease_seconds,
                                          (int) env->cfg->max_attempts, &claim);
                if (r < 0) {
                        log_import(LOG_LEVEL_ERROR, job->import_id, "cannot claim the import, left for later: %s",
                                   run.db->errmsg);
                        break;
                }
                if (claim.outcome == CLAIM_OK && run.prepared && claim.dry_run != run.rec.dry_run) {
                        /* The dry run this worker read ended and was
                         * committed meanwhile: a fresh run reads it again. */
                        if (range_store_release(run.db, job->import_id, claim.range.seq, env->worker_id) < 0)
                                log_import(LOG_LEVEL_WARNING, job->import_id, "could not hand range %d back: %s",
                                           claim.range.seq, run.db->errmsg);
                        result = hand_back(env, job, "the dry run was committed meanwhile");
                        break;
                }
                if (claim.outcome == CLAIM_OK) {
                        r = run_range(&run, &claim);
                        if (r < 0) {
                                result = stopped(&run, r);
                                break;
                        }
                        if (atomic_load(env->stopping)) {
                                /* The range is done; the rest is for others. */
                                result = hand_back(env, job, "the worker is stopping");
                                break;
                        }
                        continue;
                }

                result = JOB_DONE;
                ImportState state;
                switch (claim.outcome) {
                case CLAIM_EXHAUSTED:
                        log_import(LOG_LEVEL_ERROR, job->import_id, "failed: started %d times without progress",
                                   claim.attempts);
                        clear_stopped(run.db, job->import_id);
                        break;
                case CLAIM_BUSY:
                        if (run.ranges == 0)
                                log_import(LOG_LEVEL_INFO, job->import_id,
                                           "other workers hold what is left of it; message dropped");
                        break;
                case CLAIM_FINISH:
                        r = range_store_finish(run.db, job->import_id, &state);
                        if (r == 0)
                                log_import(LOG_LEVEL_INFO, job->import_id,
                                           "%s; this worker: %d ranges in %.2f s, %" PRId64 " batches, created %" PRId64
                                           ", updated %" PRId64 ", unchanged %" PRId64 ", failed %" PRId64
                                           ", invites %" PRId64,
                                           import_state_to_string(state), run.ranges, now_seconds() - started, run.batches, run.totals.created,
                                           run.totals.updated, run.totals.unchanged, run.totals.failed,
                                           run.totals.invites);
                        else if (r == -ECANCELED)
                                log_import(LOG_LEVEL_INFO, job->import_id, "cancelled");
                        else if (r != -ESTALE) {
                                log_import(LOG_LEVEL_ERROR, job->import_id, "cannot finish, left for later: %s",
                                           run.db->errmsg);
                                result = JOB_LEFT;
                        }
                        break;
                case CLAIM_OK:
                case CLAIM_GONE:
                case CLAIM_FINAL:
                        break;
                }
                if (result == JOB_DONE)
                        ack(env, job);
                break;
        }
        run_done(&run);
        return result;
}

static JobResult hand_back(JobEnv *env, const Job *job, const char *why) {
        if (!*env->redis)
                return JOB_LEFT;
        if (job_queue_done(*env->redis, job->entry_id, job->import_id) < 0 ||
            job_queue_enqueue(*env->redis, job->import_id) < 0) {
                /* Either way the message comes back: after the lease, or
                 * through the sweeper. */
                log_import(LOG_LEVEL_WARNING, job->import_id, "could not hand the job back: %s", (*env->redis)->errstr);
                return JOB_LEFT;
        }
        log_import(LOG_LEVEL_INFO, job->import_id, "handed back: %s", why);
        return JOB_HANDED_BACK;
}

JobResult job_runner_hand_back(JobEnv *env, const Job *job) {
        return hand_back(env, job, "unstarted, the worker is stopping");
}
