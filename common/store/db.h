/* Db: one PostgreSQL connection and its last error, and DbPool, a small
 * pool of them for the API's request threads.
 *
 * Like hiredis, a Db remembers its last failure: db->sqlstate ("" when the
 * connection itself failed), db->errmsg, and db->broken when the
 * connection is lost. Functions return NULL/negative and never log.
 *
 * Threads: a Db is used by one thread at a time. Every PGresult returned
 * belongs to the caller: PQclear() it (or use _cleanup_(PQclearp)). */
#pragma once

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "macro.h"

typedef struct DbStatement DbStatement;

typedef struct Db {
        PGconn *conn;
        char *url;
        char *application_name;
        char sqlstate[6];
        char errmsg[512];
        bool broken;
        /* Statements prepared on this connection, by their text: each is
         * parsed and planned by the server once, not at every call. */
        DbStatement *statements;
        size_t n_statements;
} Db;

/* Connects. Returns a Db, or NULL with a message in err (size err_size). */
Db *db_connect(const char *url, const char *application_name, char *err, size_t err_size);
void db_free(Db *db);

/* Reconnects a broken connection. 0 or -EIO (message in db->errmsg). */
int db_reconnect(Db *db);

/* Runs a statement with text parameters (NULL entries are SQL NULL).
 * Returns the result on PGRES_COMMAND_OK/TUPLES_OK/COPY_IN, or NULL with
 * the error remembered in db. */
PGresult *db_exec(Db *db, const char *sql, int n_params, const char *const *params);
/* Same with explicit lengths and formats (1 = binary) per parameter. */
PGresult *db_exec_binary(Db *db, const char *sql, int n_params, const char *const *params, const int *lengths,
                         const int *formats);
/* Same, with the result in binary format (for bytea). */
PGresult *db_exec_binary_result(Db *db, const char *sql, int n_params, const char *const *params);
/* Runs a statement and drops the result. 0, or -EAGAIN when the failure is
 * worth retrying (db_is_retryable()), -EIO otherwise. */
int db_run(Db *db, const char *sql, int n_params, const char *const *params) _must_check_;

/* Runs sql, whose rows are 1-based positions into an array of n elements
 * that params carry, and sets found[i] for each position it returns (the
 * others false): "which of these exist", asked in one statement. 0, or
 * -EAGAIN/-EIO (db->errmsg) with found untouched. */
int db_exec_positions(Db *db, const char *sql, int n_params, const char *const *params, size_t n,
                      bool *found) _must_check_;
/* Runs sql, whose rows are (1-based position into an array of n elements
 * that params carry, text), and sets out[position - 1] to a copy of the
 * text where it is still NULL: "the email of each of these", asked in one
 * statement. The strings belong to the caller (free()). 0, -EAGAIN/-EIO
 * (db->errmsg) or -ENOMEM (the copies made so far stay in out). */
int db_exec_texts(Db *db, const char *sql, int n_params, const char *const *params, size_t n,
                  char **out) _must_check_;
/* A connection that listens for notifications (roster-api's import
 * watch). db_listen() runs LISTEN channel; db_socket() is the socket to
 * poll; db_ping_send() sends "SELECT 1" without waiting, whose answer
 * says that everything sent before it has arrived; db_listen_read() reads
 * what the socket holds, calls on_notify with each notification's payload
 * and sets *ret_answered when a ping's answer is complete. They return 0
 * or -EIO (db->errmsg). */
int db_listen(Db *db, const char *channel) _must_check_;
int db_socket(const Db *db);
int db_ping_send(Db *db) _must_check_;
int db_listen_read(Db *db, void (*on_notify)(const char *payload, void *userdata), void *userdata,
                   bool *ret_answered) _must_check_;

/* Ends the connection's transaction, if any, discarding it; errors are
 * ignored (a broken connection is not asked). For a connection about to
 * be given back to its pool. */
void db_rollback(Db *db);

/* Sends a statement without waiting for its result, so that the caller
 * can work meanwhile; db_receive() then waits for it. One at a time, and
 * nothing else on the connection in between. 0, or -EAGAIN/-EIO with
 * the error remembered. */
int db_send(Db *db, const char *sql, int n_params, const char *const *params) _must_check_;
/* The result of what db_send() sent, as db_exec() returns it. */
PGresult *db_receive(Db *db);

/* True when the last failure was a lost connection, a serialization
 * failure or a deadlock: the whole transaction may be tried again. */
bool db_is_retryable(const Db *db);
/* -EAGAIN or -EIO for the last failure, as db_run() returns. */
int db_error(const Db *db);
/* True when the last failure had this SQLSTATE. */
bool db_sqlstate_is(const Db *db, const char *state);

/* Runs fn inside BEGIN/COMMIT. fn returns 0 to commit, -EAGAIN to roll back
 * and retry (after a jittered pause; the connection is re-made when lost),
 * anything else to roll back and return it. Gives up after `attempts`
 * tries with -EAGAIN. fn must be safe to run again from the start. */
int db_transaction(Db *db, int attempts, int (*fn)(Db *db, void *userdata), void *userdata) _must_check_;
/* Runs fn's reads with one snapshot of the database, as db_transaction()
 * runs it but in a read-only REPEATABLE READ transaction: its statements
 * all see the same committed state. Inside the caller's own transaction
 * fn runs in that one, once. */
int db_snapshot(Db *db, int attempts, int (*fn)(Db *db, void *userdata), void *userdata) _must_check_;

/* DbCopy: rows for one COPY ... FROM STDIN (text format). The caller
 * appends each row to c->rows (db_copy_text() for fields, tabs between,
 * a newline after) and calls db_copy_flush(), which sends the rows in
 * pieces of 256 KiB. db_copy_end() takes the caller's status: on 0 it
 * sends the rest and finishes the COPY; on an error it abandons the COPY
 * so that the connection stays usable. Either way the buffer is freed and
 * the result (0, -EAGAIN/-EIO, or the caller's error) is returned. */
typedef struct DbCopy {
        Db *db;
        Buf rows;
} DbCopy;

/* COPY ... FROM STDIN in pieces: start with the statement, append rows
 * to c->rows (db_copy_text(), db_copy_null()), flush when it grows, end
 * with status 0 to commit the COPY or negative to abort it. Each returns
 * 0 or -EAGAIN/-EIO (db->errmsg). */
int db_copy_start(DbCopy *c, Db *db, const char *sql) _must_check_;
int db_copy_flush(DbCopy *c) _must_check_;
int db_copy_end(DbCopy *c, int status) _must_check_;

/* Appends s to a COPY text-format row, escaped; db_copy_null() appends
 * \N. The caller writes the tab separators and the final newline. */
int db_copy_text(Buf *b, const char *s) _must_check_;

/* PostgreSQL array literals, built in b by the caller from "{" to "}":
 * db_array_sep() adds the comma before an element that is not the
 * first; db_array_text() adds one text element (with its comma), quoted,
 * or NULL for s == NULL. */
int db_array_sep(Buf *b) _must_check_;
int db_array_text(Buf *b, const char *s) _must_check_;
int db_copy_null(Buf *b) _must_check_;

/* Sleeps for attempt-th backoff step: 50 ms doubling up to 5 s, +-50 %. */
void db_backoff(int attempt);

static inline void PQclearp(PGresult **r) {
        if (*r)
                PQclear(*r);
}
DEFINE_CLEANUP_FUNC(Db *, db_free);

typedef struct DbPool DbPool;

/* A pool of at most `max` connections to url, opened on demand. NULL when
 * out of memory. */
DbPool *db_pool_new(const char *url, const char *application_name, int max);
void db_pool_free(DbPool *p);
/* Takes a connection, waiting up to timeout_ms for one to be free.
 * NULL on timeout (-ETIMEDOUT in *ret_err) or when the server cannot be
 * reached (-EIO, message in err). */
Db *db_pool_acquire(DbPool *p, int timeout_ms, int *ret_err, char *err, size_t err_size);
/* Gives a connection back. One that is broken or left inside a
 * transaction is closed instead. NULL is a no-op. */
void db_pool_release(DbPool *p, Db *db);
