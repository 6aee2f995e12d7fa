/* Handlers of /v1/imports: upload, status, list, error log. */
#include "imports.h"

#include <ctype.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit.h"
#include "csv_writer.h"
#include "cursor.h"
#include "error_log.h"
#include "header_map.h"
#include "import_json.h"
#include "import_purge.h"
#include "import_options.h"
#include "import_watch.h"
#include "ingest.h"
#include "job_queue.h"
#include "json_util.h"
#include "log.h"
#include "problem.h"
#include "range_store.h"
#include "upload.h"

static bool content_type_is(const char *ct, const char *type) {
        size_t n = strlen(type);
        return ct && strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

unsigned imports_load(Request *r, ImportRecord *rec) {
        const char *id = u_map_get(r->req->map_url, "id");
        Db *db = request_db(r);
        if (!db)
                return 503;
        int k = import_store_get(db, r->auth.account_id, id ? id : "", rec);
        if (k == -ENOENT) {
                problem(r, 404, "not_found", "Not found", "no import %.40s in this account", id ? id : "");
                return 404;
        }
        if (k < 0)
                return problem_database_unavailable(r);
        return 0;
}

static unsigned respond_import(Request *r, unsigned status, const char *id) {
        ImportRecord rec;
        Db *db = request_db(r);
        if (!db)
                return 503;
        if (import_store_get(db, r->auth.account_id, id, &rec) < 0)
                return problem_database_unavailable(r);
        char location[80];
        snprintf(location, sizeof location, "/v1/imports/%s", rec.id);
        u_map_put(r->resp->map_header, "Location", location);
        request_respond_json(r, status, import_json_new(&rec));
        import_store_record_done(&rec);
        return status;
}

/* The import as accepted, from what the upload said, for when it cannot
 * be read back. */
static unsigned respond_draft(Request *r, const ImportDraft *d, const char *id) {
        ImportRecord rec = { 0 };
        snprintf(rec.id, sizeof rec.id, "%s", id);
        rec.state = IMPORT_STATE_QUEUED;
        rec.mode = d->mode;
        rec.invite = d->invite;
        snprintf(rec.file_sha256, sizeof rec.file_sha256, "%s", d->file_sha256);
        snprintf(rec.file_encoding, sizeof rec.file_encoding, "%s", d->file_encoding);
        rec.file_delimiter[0] = d->file_delimiter;
        rec.dry_run = d->dry_run;
        rec.file_bytes = (int64_t) d->file_bytes;
        rec.rows_total = (int64_t) d->rows_total;
        rec.role_key = (char *) d->role_key;
        rec.actor = (char *) d->actor;
        rec.file_name = (char *) d->file_name;
        rec.warnings = (char *) d->warnings_json;
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(rec.created_at, sizeof rec.created_at, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        char location[80];
        snprintf(location, sizeof location, "/v1/imports/%s", id);
        /* Replaces the 503 that the failed read set. */
        u_map_remove_from_key(r->resp->map_header, "Retry-After");
        u_map_put(r->resp->map_header, "Location", location);
        request_respond_json(r, 202, import_json_new(&rec));
        return 202;
}

/* The header of the file against the required fields: 422 listing what
 * is missing and what was found. */
/* Checks the header; on success *ret_warnings says what it will not import
 * and *ret_email_column where the emails are. */
static unsigned check_header(Request *r, const UploadReport *rep, const ImportOptions *o, json_t **ret_warnings,
                             int *ret_email_column) {
        HeaderMap *hm = NULL;
        HeaderProblem hp;
        int k = header_map_build(rep->header, rep->header_lens, rep->n_header, o->column_map, &hm, &hp);
        if (k == -EINVAL) {
                problem(r, 422, "invalid_header", "Invalid header row", "%s", hp.message);
                return 422;
        }
        if (k < 0) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }

        Field missing[3];
        size_t n_missing = header_map_missing(hm, missing);
        bool role_missing = hm->single[FIELD_ROLE] < 0 && !o->role;
        if (n_missing || role_missing) {
                json_t *errors = json_array(), *found = json_array(), *names = json_array();
                for (size_t i = 0; i < n_missing; i++) {
                        json_array_append_new(names, json_string(field_name(missing[i])));
                        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field_name(missing[i]),
                                                                "message", "no column holds this field"));
                }
                if (role_missing) {
                        json_array_append_new(names, json_string("role"));
                        json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "role", "message",
                                                                "no Role column, and no role option for the import"));
                }
                for (size_t i = 0; i < rep->n_header && i < 200; i++)
                        json_array_append_new(found, json_string(rep->header[i]));
                Buf detail = BUF_INIT;
                int rr = buf_append_str(&detail, "the header row lacks required columns:");
                for (size_t i = 0; rr >= 0 && i < json_array_size(names); i++)
                        rr = buf_printf(&detail, "%s %s", i ? "," : "", json_string_value(json_array_get(names, i)));
                if (rr >= 0)
                        rr = buf_append_str(&detail,
                                            ". Headings are matched without regard to case and spaces "
                                            "(e.g. \"Email Address\", \"First Name\"); column_map can name others");
                problem_with(r, 422, "missing_columns", "Missing columns", buf_str(&detail),
                             json_pack("{s:o, s:o, s:o}", "errors", errors, "missing", names, "found_headers", found));
                buf_done(&detail);
                header_map_free(hm);
                return 422;
        }

        json_t *warnings = json_array();
        if (hm->n_ignored) {
                json_t *cols = json_array();
                Buf msg = BUF_INIT;
                int rr = buf_printf(&msg, "%zu column%s not imported:", hm->n_ignored, hm->n_ignored == 1 ? " is" : "s are");
                for (size_t i = 0; i < hm->n_ignored; i++) {
                        json_array_append_new(cols, json_string(hm->ignored[i]));
                        if (rr >= 0)
                                rr = buf_printf(&msg, "%s \"%s\"", i ? "," : "", hm->ignored[i]);
                }
                if (rr >= 0)
                        rr = buf_append_str(&msg, "; map them with column_map to keep them");
                json_array_append_new(warnings, json_pack("{s:s, s:s, s:o}", "code", "ignored_columns", "message",
                                                          buf_str(&msg), "columns", cols));
                buf_done(&msg);
        }
        *ret_email_column = hm->single[FIELD_EMAIL];
        header_map_free(hm);
        *ret_warnings = warnings;
        return 0;
}

static json_t *header_json(const UploadReport *rep) {
        json_t *a = json_array();
        for (size_t i = 0; i < rep->n_header; i++)
                json_array_append_new(a, json_stringn(rep->header[i], rep->header_lens[i]));
        return a;
}

static void enqueue(Request *r, const char *id) {
        App *app = r->app;
        pthread_mutex_lock(&app->redis_lock);
        int k = job_queue_enqueue(app->redis, id);
        if (k < 0)
                log_request(LOG_LEVEL_WARNING, r->id, "import %s stored but not queued (the sweeper will): %s", id,
                            app->redis->errstr);
        pthread_mutex_unlock(&app->redis_lock);
}

static bool idempotency_key_ok(const char *k) {
        size_t n = strlen(k);
        if (n == 0 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++)
                if (k[i] < 0x21 || k[i] > 0x7e)
                        return false;
        return true;
}

/* Everything after the bytes are in: options, report, header, commit,
 * enqueue, 202. Takes over (and ends) the ingest. */
static unsigned finish_upload(Request *r, Ingest *in, const char *filename, const struct _u_map *options_map,
                              const char *const *ignore) {
        ImportOptions o;
        UploadReport rep = { 0 };
        json_t *warnings = NULL;
        char *header = NULL, *warnings_text = NULL;
        unsigned st;

        const char *idem = request_header(r, "Idempotency-Key");
        if (idem && !idempotency_key_ok(idem)) {
                ingest_abort(in);
                problem(r, 400, "invalid_option", "Invalid Idempotency-Key",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters");
                return 400;
        }
        /* Until the commit, this request's database work happens on the
         * upload's connection: a second one could leave an upload that
         * has fully arrived waiting for the pool. */
        r->borrowed = ingest_db(in);
        if ((st = import_options_parse(r, options_map, ignore, &o))) {
                r->borrowed = NULL;
                ingest_abort(in);
                return st;
        }

        int k = ingest_end(in, o.delimiter, &rep);
        if (k < 0) {
                if (k == -EIO)
                        log_request(LOG_LEVEL_WARNING, r->id, "storing an upload failed: %s", ingest_error(in));
                st = k == -EIO ? problem_database_unavailable(r) : 500;
                if (k != -EIO)
                        problem(r, 500, "internal_error", "Internal error", "out of memory");
                goto out;
        }
        if (rep.error_code) {
                problem(r, 422, rep.error_code, "The file cannot be imported", "%s", rep.error_message);
                st = 422;
                goto out;
        }
        int email_column = -1;
        if ((st = check_header(r, &rep, &o, &warnings, &email_column)))
                goto out;

        json_t *hj = header_json(&rep);
        header = hj ? json_dumps(hj, JSON_COMPACT) : NULL;
        json_decref(hj);
        warnings_text = json_dumps(warnings, JSON_COMPACT);
        char delim[2] = { rep.delimiter, 0 };
        ImportDraft draft = {
                .account_id = r->auth.account_id,
                .token_id = r->auth.token_id,
                .actor = r->auth.actor,
                .role_key = o.role,
                .mode = o.mode,
                .invite = o.invite,
                .dry_run = o.dry_run,
                .column_map = o.column_map_json,
                .file_name = filename && *filename ? filename : NULL,
                .file_bytes = rep.bytes,
                .file_sha256 = rep.sha256,
                .file_encoding = text_encoding_name(rep.encoding),
                .file_delimiter = delim[0],
                .header_json = header ? header : "[]",
                .rows_total = rep.rows,
                .warnings_json = warnings_text ? warnings_text : "[]",
                .idempotency_key = idem,
                .callback_url = o.callback_url,
                .missing = o.missing,
                .change_threshold = o.change_threshold,
                .email_column = email_column,
                .points = rep.points,
                .n_points = rep.n_points,
                .request_id = r->id,
        };
        char existing[UUID_STRING_SIZE];
        char id[UUID_STRING_SIZE];
        snprintf(id, sizeof id, "%s", ingest_id(in));
        k = ingest_commit(in, &draft, existing);
        r->borrowed = NULL;
        if (k == -EEXIST) {
                /* The same request again: the first import, not a second. */
                u_map_put(r->resp->map_header, "Idempotent-Replayed", "true");
                st = respond_import(r, 202, existing);
                goto out;
        }
        if (k == -EILSEQ) {
                problem(r, 422, "idempotency_key_reused", "Idempotency-Key reused",
                        "this Idempotency-Key was used in the last 24 hours for import %s, with another file or "
                        "other options; use a new key for a new import",
                        existing);
                st = 422;
                goto out;
        }
        if (k < 0) {
                log_request(LOG_LEVEL_WARNING, r->id, "committing an upload failed: %s", ingest_error(in));
                st = problem_database_unavailable(r);
                goto out;
        }
        atomic_fetch_add(&r->app->imports_accepted, 1);
        log_request(LOG_LEVEL_INFO, r->id, "import %s accepted: %llu bytes, %llu rows, %s, delimiter %s", id,
                    (unsigned long long) rep.bytes, (unsigned long long) rep.rows, text_encoding_name(rep.encoding),
                    rep.delimiter == '\t' ? "tab" : delim);
        /* The response says what was accepted, before a worker starts.
         * It is a 202 even if reading the import back fails: it is
         * committed, and a client told otherwise would send it again. */
        st = respond_import(r, 202, id);
        if (st != 202)
                st = respond_draft(r, &draft, id);
        enqueue(r, id);
out:
        /* After a commit there is nothing to roll back: this only frees. */
        r->borrowed = NULL;
        ingest_abort(in);
        json_decref(warnings);
        free(header);
        free(warnings_text);
        upload_scan_report_done(&rep);
        import_options_done(&o);
        return st;
}

static unsigned create_multipart(Request *r) {
        Upload *u = upload_find(r->req);
        if (!u) {
                if (r->req->map_post_body && u_map_has_key(r->req->map_post_body, "file"))
                        problem(r, 400, "missing_file", "Missing file",
                                "the \"file\" part needs a filename (Content-Disposition: form-data; name=\"file\"; "
                                "filename=\"users.csv\")");
                else
                        problem(r, 400, "missing_file", "Missing file",
                                "send the CSV in a multipart/form-data field named \"file\"");
                return 400;
        }
        if (u->status) {
                if (u->status == 503 || u->status == 429)
                        u_map_put(r->resp->map_header, "Retry-After", "5");
                problem(r, u->status, u->code, u->title, "%s", u->detail);
                return u->status;
        }
        Ingest *in = u->ingest;
        u->ingest = NULL; /* finish_upload() owns it now */
        return finish_upload(r, in, u->filename, r->req->map_post_body, NULL);
}

/* A raw text/csv body: admission held it to its limit and gave it its
 * slot before it was read (admission.h); ulfius holds it in memory. */
static unsigned create_raw(Request *r, char default_delimiter) {
        App *app = r->app;
        char delim = default_delimiter, err[256];
        const char *opt = u_map_get(r->req->map_url, "delimiter");
        if (opt && import_options_delimiter(opt, &delim) == 0 && delim == 0)
                delim = default_delimiter;
        unsigned st;
        Ingest *in = ingest_begin(app, delim, &st, err, sizeof err);
        if (!in) {
                log_request(LOG_LEVEL_WARNING, r->id, "cannot start storing an upload: %s", err);
                return st == 503 ? problem_database_unavailable(r) : (problem(r, 500, "internal_error", "Internal error", "out of memory"), 500);
        }
        int k = ingest_feed(in, r->req->binary_body, r->req->binary_body_length);
        if (k < 0) {
                ingest_abort(in);
                if (k == -EFBIG) {
                        problem(r, 413, "file_too_large", "File too large", "the file is larger than the limit");
                        return 413;
                }
                return problem_database_unavailable(r);
        }
        _cleanup_free_ char *filename = import_options_filename(u_map_get(r->req->map_url, "filename"));
        static const char *const ignore[] = { "filename", NULL };
        return finish_upload(r, in, filename, r->req->map_url, ignore);
}

unsigned imports_create(Request *r) {
        const char *ct = request_header(r, "Content-Type");
        if (content_type_is(ct, "multipart/form-data"))
                return create_multipart(r);
        if (content_type_is(ct, "text/csv") || content_type_is(ct, "application/csv"))
                return create_raw(r, 0);
        if (content_type_is(ct, "text/tab-separated-values"))
                return create_raw(r, '\t');
        problem(r, 415, "unsupported_media_type", "Unsupported media type",
                "send multipart/form-data with the CSV in the field \"file\", or a text/csv or "
                "text/tab-separated-values body; got %.100s",
                ct ? ct : "no Content-Type");
        return 415;
}

/* How long a status read waits for the listener to catch up before it
 * reads the database itself. */
#define STATUS_SYNC_TIMEOUT_MS 100

/* Sets a JSON body already written out, as ulfius_set_json_body_response()
 * would. Returns the status sent: status, or 500 when out of memory. */
static unsigned respond_json_text(Request *r, unsigned status, const char *body, size_t len) {
        if (!body || ulfius_set_binary_body_response(r->resp, status, body, len) != U_OK) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return 500;
        }
        u_map_put(r->resp->map_header, "Content-Type", "application/json");
        return status;
}

unsigned imports_get(Request *r) {
        App *app = r->app;
        const char *id = u_map_get(r->req->map_url, "id");
        size_t len;

        /* From the cache when the listener has heard every change
         * committed up to ROSTER_STATUS_MAX_LAG_MS before this request
         * (import_watch.h); when it is behind, wait a little for it, but
         * only for an import it holds. Otherwise from the database. */
        int64_t lag = app->cfg.status_max_lag_ms;
        char *cached = NULL;
        int k = import_watch_sync(lag, 0);
        if (k == 0)
                cached = import_cache_get(app->imports, id, r->auth.account_id, &len);
        else if (k == -ETIMEDOUT && (cached = import_cache_get(app->imports, id, r->auth.account_id, &len))) {
                /* What it holds now may be what the wait drops. */
                free(cached);
                cached = import_watch_sync(lag, STATUS_SYNC_TIMEOUT_MS) == 0
                                 ? import_cache_get(app->imports, id, r->auth.account_id, &len)
                                 : NULL;
        }
        if (cached) {
                unsigned st = respond_json_text(r, 200, cached, len);
                free(cached);
                atomic_fetch_add(&app->status_reads_memory, 1);
                return st;
        }

        /* Before the read: a change that races it keeps its result out. */
        ImportCacheTicket ticket = import_cache_ticket(app->imports, id ? id : "");
        ImportRecord rec;
        unsigned st = imports_load(r, &rec);
        if (st)
                return st;
        json_t *doc = import_json_new(&rec);
        _cleanup_free_ char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        len = text ? strlen(text) : 0;
        if (text)
                import_cache_put(app->imports, &ticket, rec.id, rec.account_id, text, len);
        import_store_record_done(&rec);
        atomic_fetch_add(&app->status_reads_database, 1);
        return respond_json_text(r, 200, text, len);
}

/* The form the API writes timestamps in: 2026-11-22T03:00:03.529Z. */
static bool timestamp_ok(const char *s, size_t len) {
        static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
        if (len != sizeof form - 1)
                return false;
        for (size_t i = 0; i < len; i++)
                if (form[i] == 'd' ? !isdigit((unsigned char) s[i]) : s[i] != form[i])
                        return false;
        return true;
}

unsigned imports_list(Request *r) {
        int limit;
        if (request_limit(r, 20, 100, &limit) < 0)
                return 400;
        const char *state = request_query(r, "state");
        ImportState filter;
        if (state && import_state_from_string(state, &filter) < 0) {
                problem(r, 400, "invalid_option", "Invalid state",
                        "state must be one of queued, processing, validating, validated, completed, "
                        "completed_with_errors, failed, cancelled");
                return 400;
        }
        char after[128] = "", *after_id = NULL;
        const char *cursor = request_query(r, "cursor");
        if (cursor) {
                if (cursor_decode(cursor, after, sizeof after) < 0 || !(after_id = strchr(after, '|')) ||
                    !uuid_is_valid(after_id + 1) || !timestamp_ok(after, (size_t) (after_id - after))) {
                        problem(r, 400, "invalid_cursor", "Invalid cursor", "the cursor is not one this API gave out");
                        return 400;
                }
                *after_id++ = '\0';
        }
        Db *db = request_db(r);
        if (!db)
                return 503;
        ImportRecord *recs = NULL;
        size_t n = 0;
        /* One more than asked, to know whether there is a next page. */
        int k = import_store_list(db, r->auth.account_id, state, limit + 1, cursor ? after : NULL, after_id, &recs, &n);
        if (k < 0) {
                /* A date that has the form but not the values (month 13). */
                if (strncmp(db->sqlstate, "22", 2) == 0) {
                        problem(r, 400, "invalid_cursor", "Invalid cursor", "the cursor is not one this API gave out");
                        return 400;
                }
                return problem_database_unavailable(r);
        }
        json_t *items = json_array();
        for (size_t i = 0; i < n && i < (size_t) limit; i++)
                json_array_append_new(items, import_json_new(&recs[i]));
        json_t *next = json_null();
        if (n > (size_t) limit) {
                char raw[128], enc[192];
                snprintf(raw, sizeof raw, "%s|%s", recs[limit - 1].created_at, recs[limit - 1].id);
                cursor_encode(raw, enc, sizeof enc);
                next = json_string(enc);
        }
        import_store_records_free(recs, n);
        request_respond_json(r, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
        return 200;
}

typedef enum Change {
        CHANGE_COMMIT,
        CHANGE_CANCEL,
        CHANGE_DELETE,
} Change;

static unsigned change_state(Request *r, Change change) {
        static const char *const actions[] = { "import.commit", "import.cancel", "import.delete" };
        const char *id = u_map_get(r->req->map_url, "id");
        Db *db = request_db(r);
        if (!db)
                return 503;
        ImportState state = IMPORT_STATE_QUEUED;
        AuditEvent audit = audit_of(r, actions[change]);
        int k = change == CHANGE_COMMIT   ? import_store_commit(db, r->auth.account_id, id ? id : "", &audit, &state)
                : change == CHANGE_CANCEL ? import_store_cancel(db, r->auth.account_id, id ? id : "", &audit, &state)
                                          : import_store_delete(db, r->auth.account_id, id ? id : "", &audit, &state);
        if (k == -ENOENT) {
                problem(r, 404, "not_found", "Not found", "no import %.40s in this account", id ? id : "");
                return 404;
        }
        if (k == -EIDRM) {
                problem(r, 410, "purged", "Data deleted",
                        "the import's file and row data have been deleted (retention or DELETE); upload the file "
                        "again");
                return 410;
        }
        if (k == -EBUSY) {
                if (change == CHANGE_COMMIT)
                        problem(r, 409, "invalid_state", "Not a validated dry run",
                                "only a dry run in state validated or a held import can be committed; this "
                                "import is %s",
                                import_state_to_string(state));
                else if (change == CHANGE_CANCEL)
                        problem(r, 409, "invalid_state", "Not running",
                                "only a queued or running import, a validated dry run or a held import can be "
                                "cancelled; this import is %s",
                                import_state_to_string(state));
                else
                        problem(r, 409, "invalid_state", "Still running",
                                "a queued or running import cannot be deleted; cancel it first (this import is %s)",
                                import_state_to_string(state));
                return 409;
        }
        if (k < 0)
                return problem_database_unavailable(r);
        /* The notification follows; meanwhile this process's readers see
         * the change at once. */
        import_cache_invalidate(r->app->imports, id);
        if (change == CHANGE_DELETE) {
                /* At once; should it stop halfway, the workers' next round
                 * finishes it (the import stays marked). */
                int64_t rows = 0;
                if (import_purge_data(db, id, 5000, &rows) < 0)
                        log_request(LOG_LEVEL_WARNING, r->id, "import %s: deleting its data stopped: %s", id,
                                    db->errmsg);
                else
                        log_request(LOG_LEVEL_INFO, r->id, "import %s deleted (%lld rows of data)", id,
                                    (long long) rows);
                import_cache_invalidate(r->app->imports, id);
                return respond_import(r, 200, id);
        }
        /* Once the batches that read it running are done; should this
         * stop, each worker clears it as it finds the cancel. */
        if (change == CHANGE_CANCEL && import_state_is_running(state) && range_store_clear_stopped(db, id) < 0)
                log_request(LOG_LEVEL_WARNING, r->id, "import %s: its waiting links and registered emails are left "
                            "to its workers: %s", id, db->errmsg);
        bool held = state == IMPORT_STATE_HELD;
        log_request(LOG_LEVEL_INFO, r->id, "import %s %s", id,
                    change == CHANGE_CANCEL ? "cancelled" : held ? "committed: archived" : "committed: queued again");
        if (change == CHANGE_COMMIT && held)
                return respond_import(r, 200, id); /* done at once */
        if (change == CHANGE_COMMIT) {
                unsigned st = respond_import(r, 202, id);
                enqueue(r, id);
                return st;
        }
        return respond_import(r, 200, id);
}

unsigned imports_commit(Request *r) {
        return change_state(r, CHANGE_COMMIT);
}

unsigned imports_cancel(Request *r) {
        return change_state(r, CHANGE_CANCEL);
}

unsigned imports_delete(Request *r) {
        return change_state(r, CHANGE_DELETE);
}

unsigned imports_load_data(Request *r, ImportRecord *rec) {
        unsigned st = imports_load(r, rec);
        if (st || !rec->purged_at[0])
                return st;
        if (rec->deleted_at[0])
                problem(r, 410, "purged", "Data deleted", "the import's file and row data were deleted at %s",
                        rec->deleted_at);
        else
                problem(r, 410, "purged", "Data deleted",
                        "the import's file and row data were deleted at %s: they are kept for "
                        "ROSTER_RETENTION_DAYS after an import ends",
                        rec->purged_at);
        import_store_record_done(rec);
        return 410;
}
