/* Config: roster's settings, read from environment variables.
 *
 * One table (config.c) lists every variable with its default, range and a
 * line of help; every process reads the whole table, so the API, the worker
 * and roster-admin agree. config_load() validates all of them and reports
 * every problem at once. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "log.h"

typedef struct Config {
        char *database_url;
        char *redis_url;
        char *listen;
        int64_t max_upload_bytes;
        int64_t max_body_bytes;
        int64_t worker_concurrency;
        int64_t db_pool_size;
        int64_t token_cache_seconds;
        int64_t status_max_lag_ms;
        int64_t max_concurrent_uploads;
        int64_t max_uploads_per_account;
        int64_t upload_timeout_seconds;
        int64_t batch_rows;
        int64_t range_rows;
        int64_t job_lease_seconds;
        int64_t max_attempts;
        int64_t invite_retention_days;
        int64_t retention_days;
        int64_t drain_seconds;
        int64_t request_timeout_seconds;
        int64_t max_connections;
        int64_t max_connections_per_ip;
        int64_t header_timeout_seconds;
        int64_t webhook_timeout_seconds;
        int64_t webhook_retry_seconds;
        int64_t webhook_retry_hours;
        bool webhook_allow_private;
        char *cors_origins;
        char *worker_id;
        LogFormat log_format;
        LogLevel log_level;
} Config;

/* Fills *c from the environment (getenv), defaults for unset variables.
 * Returns 0, or -EINVAL with one message per bad variable appended to
 * *errors (a Buf, lines separated by "\n"); -ENOMEM. On failure *c holds
 * whatever was parsed and must still be released with config_done(). */
int config_load(Config *c, Buf *errors) _must_check_;

/* config_load() for a program's start: on failure prints
 * "<program>: bad configuration:" and every problem to stderr and returns
 * -EINVAL (or -ENOMEM); *c is then already released. */
int config_load_or_report(Config *c, const char *program) _must_check_;

/* Frees the strings of *c. NULL is a no-op. */
void config_done(Config *c);

/* Prints the table (name, default, meaning) as Markdown rows. */
void config_print_table(FILE *f);

/* Prints the values in effect, as the environment gives them (or the
 * default), one NAME=value a line, "# default" after those not set, with
 * the passwords of URLs and connection strings masked. Call after
 * config_load() accepted them. */
void config_print_effective(FILE *f);

/* Copies value to out with passwords replaced by "****": the password of
 * a URL's user information (scheme://user:password@host) and the value of
 * password=... (a libpq connection string or URL query). */
void config_mask_secrets(const char *value, char *out, size_t size);
