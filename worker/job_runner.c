#include "job_runner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account_store.h"
#include "csv_reader.h"
#include "header_map.h"
#include "import_batch.h"
#include "import_store.h"
#include "invite_outbox.h"
#include "maintenance.h"
#include "log.h"
#include "text_decode.h"
#include "user_store.h"

/* A batch is written when it has ROSTER_BATCH_ROWS rows or holds this
 * much memory, whichever comes first. */
#define BATCH_BYTES (32u << 20)

/* Transactions are retried this often (with backoff up to 5 s each)
 * before the runner gives the import up to another attempt: long enough
 * to ride out a database restart. */
#define DB_ATTEMPTS 12

typedef struct Run {
        JobEnv *env;
        const Job *job;
        ImportRecord rec;
        Db *db;

        RoleInfo *roles;
        size_t n_roles;
        TeamInfo *teams;
        size_t n_teams;
        RuleContext rules;
        ColumnMap *column_map;
        HeaderMap *header;
        UserStoreJob store;

        ImportBatch batch;
        /* UTF-8 and Windows-1252 files are parsed as stored, as the API's
         * upload scan parsed them (so the same limits hold), and their
         * cells decoded afterwards with this. */
        TextEncoding encoding;
        TextDecoder *cell_decoder;
        Buf cell_text;
        char **cells;
        size_t *lens;
        size_t cap_cells;
        int64_t rows_seen; /* data rows read from the file */
        int64_t rows_done; /* data rows committed: the checkpoint */
        int64_t batches;
        BatchCounts totals;
        time_t last_touch;

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

/* Connects the thread's Db if needed, riding out a short outage. */
static Db *ensure_db(JobEnv *env) {
        char err[512];
        for (int attempt = 0; attempt < DB_ATTEMPTS; attempt++) {
                if (*env->db && !(*env->db)->broken)
                        return *env->db;
                if (*env->db && db_reconnect(*env->db) == 0)
                        return *env->db;
                if (!*env->db && (*env->db = db_connect(env->cfg->database_url, "roster-worker", err, sizeof err)))
                        return *env->db;
                if (attempt == 0)
                        log_warning("cannot reach PostgreSQL, retrying: %s",
                                    *env->db ? (*env->db)->errmsg : err);
                if (atomic_load(env->stopping))
                        break;
                db_backoff(attempt);
        }
        return NULL;
}

typedef struct Flush {
        Run *run;
        BatchCounts counts;
} Flush;

static int flush_tx(Db *db, void *userdata) {
        Flush *f = userdata;
        Run *run = f->run;

        /* A retry starts from the rows as the rules left them. */
        import_batch_rewind(&run->batch);
        int r = import_store_lock(db, run->rec.id, run->env->worker_id, run->rows_done);
        if (r < 0)
                return r;
        r = user_store_write_batch(db, &run->store, &run->batch, &f->counts);
        if (r < 0)
                return r;
        return import_store_add_counts(db, run->rec.id, &f->counts);
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
static int flush(Run *run) {
        if (run->batch.n == 0)
                return 0;
        int r = import_batch_mark_duplicates(&run->batch);
        if (r < 0)
                return r;

        Flush f = { run, { 0 } };
        r = db_transaction(run->db, DB_ATTEMPTS, flush_tx, &f);
        if (r < 0)
                return r;

        run->rows_done += (int64_t) run->batch.n;
        run->batches++;
        run->totals.created += f.counts.created;
        run->totals.updated += f.counts.updated;
        run->totals.unchanged += f.counts.unchanged;
        run->totals.failed += f.counts.failed;
        run->totals.invites += f.counts.invites;
        run->totals.warned += f.counts.warned;
        import_batch_reset(&run->batch);

        if (f.counts.invites > 0 && *run->env->redis) {
                int published = 0;
                /* Committed events that fail to go out now are sent by the
                 * relay later; the import goes on. */
                if (maintenance_publish(*run->env->redis, run->db, run->rec.id, 0, 4, &published) < 0)
                        log_import(LOG_LEVEL_WARNING, run->rec.id, "invites left for the relay: %s",
                                   (*run->env->redis)->errstr[0] ? (*run->env->redis)->errstr : run->db->errmsg);
        }
        touch_lease(run);
        return 0;
}

static bool has_high_byte(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) s[i] >= 0x80)
                        return true;
        return false;
}

/* A record as UTF-8: cells that need it decoded into run->cell_text.
 * Returns rec itself when nothing needed decoding. */
static int decode_record(Run *run, const CsvRecord *rec, CsvRecord *copy, const CsvRecord **ret) {
        /* Windows-1252 differs from ASCII only above 0x7F; a UTF-8 cell
         * needs work only when it is not valid (its bad bytes become
         * U+FFFD, and the row fails as invalid_text). */
        bool any = false;
        for (size_t i = 0; i < rec->n_cells && !any; i++)
                any = run->encoding == TEXT_ENCODING_WINDOWS_1252 ? has_high_byte(rec->cells[i], rec->lens[i])
                                                                  : !utf8_is_valid(rec->cells[i], rec->lens[i]);
        if (!any) {
                *ret = rec;
                return 0;
        }
        if (rec->n_cells > run->cap_cells) {
                char **c = realloc(run->cells, rec->n_cells * sizeof *c);
                if (c)
                        run->cells = c;
                size_t *l = realloc(run->lens, rec->n_cells * sizeof *l);
                if (l)
                        run->lens = l;
                if (!c || !l)
                        return -ENOMEM;
                run->cap_cells = rec->n_cells;
        }
        /* Offsets first: cell_text may move while it grows. */
        buf_clear(&run->cell_text);
        size_t *offsets = run->lens; /* reused: offsets, then lengths */
        for (size_t i = 0; i < rec->n_cells; i++) {
                size_t start = run->cell_text.len;
                int r = text_decoder_feed(run->cell_decoder, rec->cells[i], rec->lens[i], &run->cell_text);
                if (r >= 0)
                        r = text_decoder_finish(run->cell_decoder, &run->cell_text);
                if (r >= 0)
                        r = buf_append_char(&run->cell_text, '\0');
                if (r < 0)
                        return r;
                offsets[i] = start;
        }
        for (size_t i = 0; i < rec->n_cells; i++) {
                run->cells[i] = run->cell_text.data + offsets[i];
                run->lens[i] = strlen(run->cells[i]);
        }
        *copy = *rec;
        copy->cells = run->cells;
        copy->lens = run->lens;
        *ret = copy;
        return 0;
}

static int on_record(const CsvRecord *raw, void *userdata) {
        Run *run = userdata;
        CsvRecord copy;
        const CsvRecord *rec = raw;
        int r;

        if (run->cell_decoder && (r = decode_record(run, raw, &copy, &rec)) < 0)
                return r;

        if (rec->index == 0) {
                HeaderProblem problem;
                r = header_map_build(rec->cells, rec->lens, rec->n_cells, run->column_map, &run->header, &problem);
                if (r == -EINVAL) {
                        set_failure(run, -EBADMSG, "invalid_header", "%s", problem.message);
                        return -EBADMSG;
                }
                return r;
        }

        run->rows_seen++;
        if (run->rows_seen <= run->rows_done)
                return 0; /* committed by an earlier attempt */

        r = import_batch_add(&run->batch, &run->rules, run->header, rec, (unsigned long) run->rows_seen);
        if (r < 0)
                return r;
        if (run->batch.n < (size_t) run->env->cfg->batch_rows && run->batch.arena.used_total < BATCH_BYTES)
                return 0;

        r = flush(run);
        if (r < 0)
                return r;
        /* A shutdown waits for the next checkpoint, which is now. */
        if (atomic_load(run->env->stopping))
                return -ESHUTDOWN;
        return 0;
}

/* Reads the stored upload through the decoder and the CSV reader. */
static int read_upload(Run *run) {
        TextEncoding enc;
        if (text_encoding_from_name(run->rec.file_encoding, &enc) < 0) {
                set_failure(run, -EBADMSG, "internal_error", "the import has an unknown encoding");
                return -EBADMSG;
        }
        char delim = run->rec.file_delimiter[0] ? run->rec.file_delimiter[0] : ',';

        /* UTF-16 is decoded as a stream (as the upload scan did); other
         * files are parsed as bytes and their cells decoded. */
        run->encoding = enc;
        _cleanup_(text_decoder_freep) TextDecoder *dec = NULL;
        if (text_encoding_is_ascii_compatible(enc)) {
                run->cell_decoder = text_decoder_new(enc == TEXT_ENCODING_WINDOWS_1252 ? TEXT_ENCODING_WINDOWS_1252
                                                                                     : TEXT_ENCODING_UTF8);
                if (!run->cell_decoder)
                        return -ENOMEM;
        } else if (!(dec = text_decoder_new(enc)))
                return -ENOMEM;
        size_t bom_left = text_encoding_bom_size(enc);
        _cleanup_(csv_reader_freep) CsvReader *csv = csv_reader_new(delim, on_record, run);
        if (!csv)
                return -ENOMEM;

        Buf chunk = BUF_INIT, text = BUF_INIT;
        int r = 0;
        for (int seq = 0;; seq++) {
                for (int attempt = 0;; attempt++) {
                        r = import_store_get_chunk(run->db, run->rec.id, seq, &chunk);
                        if (r != -EAGAIN || attempt >= DB_ATTEMPTS)
                                break;
                        db_backoff(attempt);
                        if (run->db->broken && db_reconnect(run->db) < 0)
                                continue;
                }
                if (r == -ENOENT) {
                        r = 0;
                        break;
                }
                if (r < 0)
                        break;
                if (dec) {
                        buf_clear(&text);
                        if ((r = text_decoder_feed(dec, chunk.data, chunk.len, &text)) < 0)
                                break;
                        r = csv_reader_feed(csv, text.data, text.len);
                } else {
                        /* The byte-order mark of a UTF-8 file is not data. */
                        size_t skip = MIN(bom_left, chunk.len);
                        bom_left -= skip;
                        r = csv_reader_feed(csv, chunk.data + skip, chunk.len - skip);
                }
                if (r < 0)
                        break;
        }
        if (r == 0 && dec) {
                buf_clear(&text);
                r = text_decoder_finish(dec, &text);
                if (r == 0)
                        r = csv_reader_feed(csv, text.data, text.len);
        }
        if (r == 0)
                r = csv_reader_finish(csv);
        if (r == -EBADMSG && !run->fail_code[0]) {
                char msg[300];
                csv_reader_error_format(csv_reader_error(csv), msg, sizeof msg);
                set_failure(run, -EBADMSG, csv_reader_error_code_name(csv_reader_error(csv)->code), "%s", msg);
        }
        buf_done(&chunk);
        buf_done(&text);
        if (r == 0)
                r = flush(run);
        return r;
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
        ImportMode mode = IMPORT_MODE_UPSERT;
        (void) user_store_mode_from_string(run->rec.mode, &mode);
        run->store = (UserStoreJob){
                .import_id = run->rec.id,
                .account_id = run->rec.account_id,
                .mode = mode,
                .dry_run = run->rec.dry_run,
                .invite = strcmp(run->rec.invite, "new_users") == 0,
        };
        run->rows_done = run->rec.rows_processed;
        run->last_touch = time(NULL);
        return 0;
}

static void run_done(Run *run) {
        import_store_record_done(&run->rec);
        text_decoder_free(run->cell_decoder);
        buf_done(&run->cell_text);
        free(run->cells);
        free(run->lens);
        account_store_roles_free(run->roles, run->n_roles);
        account_store_teams_free(run->teams, run->n_teams);
        column_map_free(run->column_map);
        header_map_free(run->header);
        import_batch_done(&run->batch);
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

JobResult job_runner_run(JobEnv *env, const Job *job) {
        Run run = { .env = env, .job = job, .batch = IMPORT_BATCH_INIT };
        double started = now_seconds();
        JobResult result = JOB_LEFT;

        run.db = ensure_db(env);
        if (!run.db) {
                log_import(LOG_LEVEL_ERROR, job->import_id, "left for later: PostgreSQL cannot be reached");
                return JOB_LEFT;
        }

        ClaimOutcome outcome;
        int r = import_store_claim(run.db, job->import_id, env->worker_id, (int) env->cfg->job_lease_seconds,
                                   (int) env->cfg->max_attempts, &outcome, &run.rec);
        if (r < 0) {
                log_import(LOG_LEVEL_ERROR, job->import_id, "cannot claim the import, left for later: %s",
                           run.db->errmsg);
                return JOB_LEFT;
        }
        switch (outcome) {
        case CLAIM_OK:
                break;
        case CLAIM_EXHAUSTED:
                log_import(LOG_LEVEL_ERROR, job->import_id, "failed: started %d times without finishing",
                           (int) env->cfg->max_attempts);
                ack(env, job);
                return JOB_DONE;
        case CLAIM_BUSY:
                log_import(LOG_LEVEL_INFO, job->import_id, "another worker holds a live lease; message dropped");
                ack(env, job);
                return JOB_DONE;
        case CLAIM_GONE:
        case CLAIM_FINAL:
                ack(env, job);
                return JOB_DONE;
        }

        log_import(LOG_LEVEL_INFO, run.rec.id, "%s: %" PRId64 " rows, resuming after %" PRId64 " (attempt %d)",
                   run.rec.dry_run ? "validating" : "processing", run.rec.rows_total, run.rec.rows_processed,
                   run.rec.attempts);

        r = prepare(&run);
        if (r == 0)
                r = read_upload(&run);

        char state[24] = "";
        switch (r) {
        case 0:
                if (run.rows_seen != run.rec.rows_total)
                        log_import(LOG_LEVEL_WARNING, run.rec.id, "read %" PRId64 " rows, the upload counted %" PRId64,
                                   run.rows_seen, run.rec.rows_total);
                r = import_store_finish(run.db, run.rec.id, env->worker_id, run.rows_done, state);
                if (r == 0) {
                        log_import(LOG_LEVEL_INFO, run.rec.id,
                                   "%s in %.2f s: %" PRId64 " rows in %" PRId64 " batches this attempt, created %" PRId64
                                   ", updated %" PRId64 ", unchanged %" PRId64 ", failed %" PRId64 ", invites %" PRId64,
                                   state, now_seconds() - started, run.rows_done - run.rec.rows_processed, run.batches,
                                   run.totals.created, run.totals.updated, run.totals.unchanged, run.totals.failed,
                                   run.totals.invites);
                        ack(env, job);
                        result = JOB_DONE;
                } else if (r == -ECANCELED) {
                        log_import(LOG_LEVEL_INFO, run.rec.id, "cancelled");
                        ack(env, job);
                        result = JOB_DONE;
                } else if (r == -ESTALE)
                        log_import(LOG_LEVEL_WARNING, run.rec.id, "another worker took the import over");
                else
                        log_import(LOG_LEVEL_ERROR, run.rec.id, "cannot finish, left for later: %s", run.db->errmsg);
                break;
        case -ECANCELED:
                log_import(LOG_LEVEL_INFO, run.rec.id, "cancelled after %" PRId64 " rows", run.rows_done);
                {
                        const char *p[] = { run.rec.id };
                        if (db_run(run.db, "DELETE FROM import_emails WHERE import_id = $1", 1, p) < 0)
                                log_import(LOG_LEVEL_WARNING, run.rec.id, "could not clear the duplicate index: %s",
                                           run.db->errmsg);
                }
                ack(env, job);
                result = JOB_DONE;
                break;
        case -ESTALE:
                log_import(LOG_LEVEL_WARNING, run.rec.id, "another worker took the import over at row %" PRId64,
                           run.rows_done);
                break;
        case -ESHUTDOWN:
                /* Hand the import back so that another worker starts at
                 * once rather than after the lease. */
                if (import_store_release(run.db, run.rec.id, env->worker_id) == 0 && *env->redis) {
                        /* Acknowledge first: if the process dies before the
                         * new message, the sweeper enqueues it again. */
                        ack(env, job);
                        if (job_queue_enqueue(*env->redis, run.rec.id) == 0)
                                result = JOB_HANDED_BACK;
                }
                log_import(LOG_LEVEL_INFO, run.rec.id, "stopped for shutdown after %" PRId64 " rows", run.rows_done);
                break;
        case -EAGAIN:
                log_import(LOG_LEVEL_ERROR, run.rec.id, "stopped after %" PRId64 " rows, left for later: %s",
                           run.rows_done, run.db->errmsg);
                break;
        default:
                if (!run.fail_code[0]) {
                        if (r == -ENOMEM)
                                set_failure(&run, r, "internal_error", "the worker ran out of memory");
                        else {
                                log_import(LOG_LEVEL_ERROR, run.rec.id, "database error after %" PRId64 " rows: %s",
                                           run.rows_done, run.db->errmsg);
                                set_failure(&run, r, "internal_error",
                                            "the import stopped after %" PRId64 " rows because of an internal error",
                                            run.rows_done);
                        }
                }
                log_import(LOG_LEVEL_ERROR, run.rec.id, "failed (%s): %s", run.fail_code, run.fail_message);
                if (import_store_fail(run.db, run.rec.id, run.fail_code, run.fail_message) == 0) {
                        ack(env, job);
                        result = JOB_DONE;
                }
                break;
        }
        run_done(&run);
        return result;
}

JobResult job_runner_hand_back(JobEnv *env, const Job *job) {
        if (!*env->redis)
                return JOB_LEFT;
        if (job_queue_done(*env->redis, job->entry_id, job->import_id) < 0 ||
            job_queue_enqueue(*env->redis, job->import_id) < 0) {
                /* Either way the message comes back: after the lease, or
                 * through the sweeper. */
                log_import(LOG_LEVEL_WARNING, job->import_id, "could not hand the job back: %s", (*env->redis)->errstr);
                return JOB_LEFT;
        }
        log_import(LOG_LEVEL_INFO, job->import_id, "handed back unstarted: the worker is stopping");
        return JOB_HANDED_BACK;
}
