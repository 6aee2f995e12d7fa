#include "db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pg_text.h"

static void remember_conn_error(Db *db, const char *fallback) {
        const char *msg = db->conn ? PQerrorMessage(db->conn) : NULL;
        snprintf(db->errmsg, sizeof db->errmsg, "%s", msg && *msg ? msg : fallback);
        /* libpq messages end with a newline. */
        size_t n = strlen(db->errmsg);
        while (n && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
                db->errmsg[--n] = '\0';
        db->sqlstate[0] = '\0';
        if (!db->conn || PQstatus(db->conn) == CONNECTION_BAD)
                db->broken = true;
}

#define DB_STATEMENTS_MAX 256

struct DbStatement {
        uint64_t hash;
        char *sql;
};

static uint64_t sql_hash(const char *s) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 1099511628211ULL;
        return h;
}

static void statements_forget(Db *db) {
        for (size_t i = 0; i < db->n_statements; i++)
                free(db->statements[i].sql);
        free(db->statements);
        db->statements = NULL;
        db->n_statements = 0;
}

static void ignore_notice(void *arg, const char *message) {
}

static int open_conn(Db *db) {
        /* Defaults for what the URL leaves out: a bounded connect and TCP
         * keepalives, so that a dead server is noticed rather than waited
         * on forever. libpq applies keys in order, so the URL (dbname,
         * last) overrides them. */
        const char *keys[] = { "application_name", "connect_timeout", "keepalives_idle",
                               "keepalives_interval", "keepalives_count", "dbname", NULL };
        const char *vals[] = { db->application_name, "10", "30", "10", "3", db->url, NULL };

        if (db->conn)
                PQfinish(db->conn);
        /* A new session: nothing is prepared on it yet. */
        statements_forget(db);
        db->conn = PQconnectdbParams(keys, vals, 1);
        if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
                remember_conn_error(db, "cannot connect to PostgreSQL");
                return -EIO;
        }
        db->broken = false;
        /* libpq prints notices, and the FATAL a server sends as it shuts
         * down, to stderr; the failure reaches the caller anyway. */
        PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
        /* Timestamps go out as UTC ISO 8601. */
        PGresult *r = PQexec(db->conn, "SET TIME ZONE 'UTC'; SET datestyle = 'ISO, YMD'; SET client_min_messages = warning");
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
                remember_conn_error(db, "cannot set up the session");
                return -EIO;
        }
        return 0;
}

Db *db_connect(const char *url, const char *application_name, char *err, size_t err_size) {
        Db *db = calloc(1, sizeof *db);
        if (!db) {
                snprintf(err, err_size, "out of memory");
                return NULL;
        }
        db->url = strdup(url);
        db->application_name = strdup(application_name);
        if (!db->url || !db->application_name) {
                snprintf(err, err_size, "out of memory");
                db_free(db);
                return NULL;
        }
        if (open_conn(db) < 0) {
                snprintf(err, err_size, "%s", db->errmsg);
                db_free(db);
                return NULL;
        }
        return db;
}

void db_free(Db *db) {
        if (!db)
                return;
        if (db->conn)
                PQfinish(db->conn);
        statements_forget(db);
        free(db->url);
        free(db->application_name);
        free(db);
}

int db_reconnect(Db *db) {
        return open_conn(db);
}

static PGresult *check(Db *db, PGresult *res) {
        ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN) {
                db->sqlstate[0] = '\0';
                return res;
        }
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        const char *msg = res ? PQresultErrorMessage(res) : NULL;
        if (!state || !*state) {
                /* No SQLSTATE: the connection itself failed. */
                if (res)
                        PQclear(res);
                remember_conn_error(db, "lost the connection to PostgreSQL");
                if (PQstatus(db->conn) == CONNECTION_BAD)
                        db->broken = true;
                return NULL;
        }
        snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state);
        snprintf(db->errmsg, sizeof db->errmsg, "%s", msg ? msg : "error");
        size_t n = strlen(db->errmsg);
        while (n && db->errmsg[n - 1] == '\n')
                db->errmsg[--n] = '\0';
        /* Administrator shutdown and crash recovery end the session. */
        if (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0 || PQstatus(db->conn) == CONNECTION_BAD)
                db->broken = true;
        PQclear(res);
        return NULL;
}

/* The name of sql's prepared statement on this connection, preparing it
 * on first use. Returns 1 with the name, 0 when it is not cached (the
 * cache is full, or out of memory: run it unprepared), or -1 when the
 * server refused to prepare it (the error is remembered). */
static int statement_name(Db *db, const char *sql, int n_params, char name[24]) {
        uint64_t h = sql_hash(sql);
        for (size_t i = 0; i < db->n_statements; i++)
                if (db->statements[i].hash == h && strcmp(db->statements[i].sql, sql) == 0) {
                        snprintf(name, 24, "r%zu", i);
                        return 1;
                }
        if (db->n_statements == DB_STATEMENTS_MAX)
                return 0;
        if (!db->statements && !(db->statements = calloc(DB_STATEMENTS_MAX, sizeof *db->statements)))
                return 0;
        char *copy = strdup(sql);
        if (!copy)
                return 0;
        snprintf(name, 24, "r%zu", db->n_statements);
        PGresult *prepared = check(db, PQprepare(db->conn, name, sql, n_params, NULL));
        if (!prepared) {
                free(copy);
                return -1;
        }
        PQclear(prepared);
        db->statements[db->n_statements++] = (DbStatement){ h, copy };
        return 1;
}

static PGresult *exec(Db *db, const char *sql, int n_params, const char *const *params, const int *lengths,
                      const int *formats, int result_format) {
        if (db->broken) {
                snprintf(db->errmsg, sizeof db->errmsg, "the connection to PostgreSQL is lost");
                db->sqlstate[0] = '\0';
                return NULL;
        }
        char name[24];
        int k = statement_name(db, sql, n_params, name);
        if (k < 0)
                return NULL;
        if (k == 0)
                return check(db, PQexecParams(db->conn, sql, n_params, NULL, params, lengths, formats, result_format));
        return check(db, PQexecPrepared(db->conn, name, n_params, params, lengths, formats, result_format));
}

int db_send(Db *db, const char *sql, int n_params, const char *const *params) {
        if (db->broken) {
                snprintf(db->errmsg, sizeof db->errmsg, "the connection to PostgreSQL is lost");
                db->sqlstate[0] = '\0';
                return db_error(db);
        }
        char name[24];
        int k = statement_name(db, sql, n_params, name);
        if (k < 0)
                return db_error(db);
        int sent = k == 0 ? PQsendQueryParams(db->conn, sql, n_params, NULL, params, NULL, NULL, 0)
                          : PQsendQueryPrepared(db->conn, name, n_params, params, NULL, NULL, 0);
        if (!sent) {
                remember_conn_error(db, "could not send a statement to PostgreSQL");
                return db_error(db);
        }
        return 0;
}

PGresult *db_receive(Db *db) {
        PGresult *first = PQgetResult(db->conn), *more;
        /* A statement gives one result, then NULL. */
        while ((more = PQgetResult(db->conn)))
                PQclear(more);
        return check(db, first);
}

PGresult *db_exec_binary(Db *db, const char *sql, int n_params, const char *const *params, const int *lengths,
                         const int *formats) {
        return exec(db, sql, n_params, params, lengths, formats, 0);
}

PGresult *db_exec_binary_result(Db *db, const char *sql, int n_params, const char *const *params) {
        return exec(db, sql, n_params, params, NULL, NULL, 1);
}

PGresult *db_exec(Db *db, const char *sql, int n_params, const char *const *params) {
        return db_exec_binary(db, sql, n_params, params, NULL, NULL);
}

bool db_sqlstate_is(const Db *db, const char *state) {
        return strcmp(db->sqlstate, state) == 0;
}

bool db_is_retryable(const Db *db) {
        return db->broken || db_sqlstate_is(db, "40001") || db_sqlstate_is(db, "40P01") ||
               strncmp(db->sqlstate, "57P", 3) == 0 || strncmp(db->sqlstate, "08", 2) == 0;
}

int db_error(const Db *db) {
        return db_is_retryable(db) ? -EAGAIN : -EIO;
}

int db_run(Db *db, const char *sql, int n_params, const char *const *params) {
        PGresult *r = db_exec(db, sql, n_params, params);
        if (!r)
                return db_error(db);
        PQclear(r);
        return 0;
}

void db_backoff(int attempt) {
        long ms = 50;
        for (int i = 0; i < attempt && ms < 5000; i++)
                ms *= 2;
        if (ms > 5000)
                ms = 5000;
        unsigned rnd = 0;
        (void) !getrandom(&rnd, sizeof rnd, GRND_NONBLOCK);
        ms = ms / 2 + (long) (rnd % (unsigned long) ms);
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int run_in_transaction(Db *db, const char *begin, int attempts, int (*fn)(Db *db, void *userdata),
                              void *userdata) {
        for (int attempt = 0; attempt < attempts; attempt++) {
                if (attempt)
                        db_backoff(attempt);
                if (db->broken && db_reconnect(db) < 0)
                        continue;

                int r = db_run(db, begin, 0, NULL);
                if (r == 0)
                        r = fn(db, userdata);
                if (r == 0)
                        r = db_run(db, "COMMIT", 0, NULL);
                if (r == 0)
                        return 0;
                if (!db->broken) {
                        /* PQexec directly: the failure's error stays the
                         * one remembered, not the rollback's. */
                        PGresult *rb = PQexec(db->conn, "ROLLBACK");
                        PQclear(rb);
                }
                if (r != -EAGAIN)
                        return r;
        }
        return -EAGAIN;
}

int db_transaction(Db *db, int attempts, int (*fn)(Db *db, void *userdata), void *userdata) {
        return run_in_transaction(db, "BEGIN", attempts, fn, userdata);
}

int db_snapshot(Db *db, int attempts, int (*fn)(Db *db, void *userdata), void *userdata) {
        if (db->conn && !db->broken && PQtransactionStatus(db->conn) != PQTRANS_IDLE)
                return fn(db, userdata);
        return run_in_transaction(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", attempts, fn, userdata);
}

#define COPY_PIECE (256u * 1024)

static int copy_send(Db *db, const char *data, size_t len) {
        if (len && PQputCopyData(db->conn, data, (int) len) != 1) {
                remember_conn_error(db, "COPY failed");
                return db_error(db);
        }
        return 0;
}

int db_copy_start(DbCopy *c, Db *db, const char *sql) {
        *c = (DbCopy){ .db = db, .rows = BUF_INIT };
        PGresult *r = db_exec(db, sql, 0, NULL);
        if (!r)
                return db_error(db);
        PQclear(r);
        return 0;
}

int db_copy_flush(DbCopy *c) {
        if (c->rows.len < COPY_PIECE)
                return 0;
        int r = copy_send(c->db, c->rows.data, c->rows.len);
        buf_clear(&c->rows);
        return r;
}

int db_copy_end(DbCopy *c, int status) {
        Db *db = c->db;
        if (status == 0)
                status = copy_send(db, c->rows.data, c->rows.len);
        buf_done(&c->rows);
        if (db->broken)
                return status < 0 ? status : -EAGAIN;
        if (status < 0) {
                /* Abandon the COPY; the server answers with an error that
                 * ends it, and the connection is usable again. */
                PQputCopyEnd(db->conn, "abandoned by the client");
                PGresult *r;
                while ((r = PQgetResult(db->conn)))
                        PQclear(r);
                return status;
        }
        if (PQputCopyEnd(db->conn, NULL) != 1) {
                remember_conn_error(db, "COPY failed");
                return db_error(db);
        }
        int ret = 0;
        PGresult *r;
        /* Read every result so that the connection is ready again. */
        while ((r = PQgetResult(db->conn))) {
                if (ret != 0)
                        PQclear(r);
                else if (check(db, r))
                        PQclear(r);
                else
                        ret = db_error(db);
        }
        return ret;
}

int db_copy_text(Buf *b, const char *s) {
        return pg_text_copy(b, s);
}

int db_copy_null(Buf *b) {
        return buf_append(b, "\\N", 2);
}

struct DbPool {
        pthread_mutex_t lock;
        pthread_cond_t freed;
        char *url;
        char *application_name;
        int max;
        int open; /* connections that exist, idle or in use */
        Db **idle;
        int n_idle;
};

DbPool *db_pool_new(const char *url, const char *application_name, int max) {
        DbPool *p = calloc(1, sizeof *p);
        if (!p)
                return NULL;
        p->url = strdup(url);
        p->application_name = strdup(application_name);
        p->idle = calloc((size_t) max, sizeof *p->idle);
        if (!p->url || !p->application_name || !p->idle) {
                free(p->url);
                free(p->application_name);
                free(p->idle);
                free(p);
                return NULL;
        }
        p->max = max;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->freed, NULL);
        return p;
}

void db_pool_free(DbPool *p) {
        if (!p)
                return;
        for (int i = 0; i < p->n_idle; i++)
                db_free(p->idle[i]);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->freed);
        free(p->idle);
        free(p->url);
        free(p->application_name);
        free(p);
}

/* A server that restarted, or dropped the connection while it sat idle,
 * has sent a FATAL message and closed its end: see that now, without
 * blocking, rather than fail the request that would use it. */
static bool idle_conn_alive(PGconn *conn) {
        if (PQstatus(conn) != CONNECTION_OK)
                return false;
        struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN | POLLRDHUP };
        if (poll(&pfd, 1, 0) <= 0)
                return true;
        if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
                return false;
        /* Something arrived unasked (a notice): read it and look again. */
        if (!PQconsumeInput(conn))
                return false;
        PGresult *stray;
        while (!PQisBusy(conn) && (stray = PQgetResult(conn)))
                PQclear(stray);
        return PQstatus(conn) == CONNECTION_OK;
}

Db *db_pool_acquire(DbPool *p, int timeout_ms, int *ret_err, char *err, size_t err_size) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }

        pthread_mutex_lock(&p->lock);
        while (p->n_idle == 0 && p->open >= p->max) {
                if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT) {
                        pthread_mutex_unlock(&p->lock);
                        *ret_err = -ETIMEDOUT;
                        snprintf(err, err_size, "all %d database connections are busy", p->max);
                        return NULL;
                }
        }
        while (p->n_idle) {
                Db *db = p->idle[--p->n_idle];
                if (idle_conn_alive(db->conn)) {
                        pthread_mutex_unlock(&p->lock);
                        return db;
                }
                p->open--;
                db_free(db);
        }
        p->open++;
        pthread_mutex_unlock(&p->lock);

        /* Connect outside the lock: it can take a while. */
        Db *db = db_connect(p->url, p->application_name, err, err_size);
        if (!db) {
                pthread_mutex_lock(&p->lock);
                p->open--;
                pthread_cond_signal(&p->freed);
                pthread_mutex_unlock(&p->lock);
                *ret_err = -EIO;
        }
        return db;
}

void db_pool_release(DbPool *p, Db *db) {
        if (!db)
                return;
        if (!db->broken && PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
                PGresult *r = PQexec(db->conn, "ROLLBACK");
                PQclear(r);
        }
        bool keep = !db->broken && PQstatus(db->conn) == CONNECTION_OK &&
                    PQtransactionStatus(db->conn) == PQTRANS_IDLE;
        pthread_mutex_lock(&p->lock);
        if (keep)
                p->idle[p->n_idle++] = db;
        else
                p->open--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        if (!keep)
                db_free(db);
}

int db_exec_positions(Db *db, const char *sql, int n_params, const char *const *params, size_t n,
                      bool *found) {
        _cleanup_(PQclearp) PGresult *res = db_exec(db, sql, n_params, params);
        if (!res)
                return db_error(db);
        for (size_t i = 0; i < n; i++)
                found[i] = false;
        for (int i = 0; i < PQntuples(res); i++) {
                long long k = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                if (k >= 1 && (size_t) k <= n)
                        found[k - 1] = true;
        }
        return 0;
}

int db_exec_texts(Db *db, const char *sql, int n_params, const char *const *params, size_t n, char **out) {
        _cleanup_(PQclearp) PGresult *res = db_exec(db, sql, n_params, params);
        if (!res)
                return db_error(db);
        for (int i = 0; i < PQntuples(res); i++) {
                long long k = strtoll(PQgetvalue(res, i, 0), NULL, 10);
                if (k < 1 || (size_t) k > n || out[k - 1] || PQgetisnull(res, i, 1))
                        continue;
                if (!(out[k - 1] = strdup(PQgetvalue(res, i, 1))))
                        return -ENOMEM;
        }
        return 0;
}

int db_array_sep(Buf *b) {
        return pg_text_array_sep(b);
}

int db_array_text(Buf *b, const char *s) {
        return pg_text_array_text(b, s);
}

void db_rollback(Db *db) {
        if (db && !db->broken)
                PQclear(PQexec(db->conn, "ROLLBACK"));
}

static int listen_failed(Db *db) {
        snprintf(db->errmsg, sizeof db->errmsg, "%s", PQerrorMessage(db->conn));
        return -EIO;
}

int db_listen(Db *db, const char *channel) {
        char sql[128];
        snprintf(sql, sizeof sql, "LISTEN %s", channel);
        _cleanup_(PQclearp) PGresult *r = PQexec(db->conn, sql);
        return PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : listen_failed(db);
}

int db_socket(const Db *db) {
        return PQsocket(db->conn);
}

int db_ping_send(Db *db) {
        if (!PQsendQuery(db->conn, "SELECT 1") || PQflush(db->conn) != 0)
                return listen_failed(db);
        return 0;
}

static void take_notifications(Db *db, void (*on_notify)(const char *, void *), void *userdata) {
        PGnotify *n;
        while ((n = PQnotifies(db->conn))) {
                on_notify(n->extra, userdata);
                PQfreemem(n);
        }
}

int db_listen_read(Db *db, void (*on_notify)(const char *payload, void *userdata), void *userdata,
                   bool *ret_answered) {
        *ret_answered = false;
        if (!PQconsumeInput(db->conn))
                return listen_failed(db);
        take_notifications(db, on_notify, userdata);
        while (!PQisBusy(db->conn)) {
                PGresult *r = PQgetResult(db->conn);
                if (!r) {
                        /* Whatever came ahead of the answer is in too. */
                        take_notifications(db, on_notify, userdata);
                        *ret_answered = true;
                        return 0;
                }
                bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
                PQclear(r);
                if (!ok)
                        return listen_failed(db);
        }
        return 0;
}
