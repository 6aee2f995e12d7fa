#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

typedef enum ConfigType {
        CONFIG_STRING,
        CONFIG_INT,
        CONFIG_BYTES,
        CONFIG_LOG_FORMAT,
        CONFIG_LOG_LEVEL,
        CONFIG_BOOL,
} ConfigType;

typedef struct ConfigItem {
        const char *name;
        ConfigType type;
        const char *default_value;
        int64_t min, max; /* for CONFIG_INT and CONFIG_BYTES */
        size_t offset;
        const char *help;
} ConfigItem;

#define KiB (INT64_C(1024))
#define MiB (INT64_C(1024) * 1024)
#define GiB (INT64_C(1024) * 1024 * 1024)

/* The only list of settings. The README's configuration table is printed
 * from this (roster-admin config). */
static const ConfigItem config_table[] = {
        { "ROSTER_DATABASE_URL", CONFIG_STRING, "postgresql://roster@127.0.0.1:15432/roster", 0, 0,
          offsetof(Config, database_url), "PostgreSQL connection URI (libpq syntax)." },
        { "ROSTER_REDIS_URL", CONFIG_STRING, "redis://127.0.0.1:16379/0", 0, 0, offsetof(Config, redis_url),
          "Redis URL: redis://[:password@]host[:port][/db]." },
        { "ROSTER_LISTEN", CONFIG_STRING, "127.0.0.1:8080", 0, 0, offsetof(Config, listen),
          "Address and port the API listens on (host:port, [v6]:port)." },
        { "ROSTER_MAX_UPLOAD_BYTES", CONFIG_BYTES, "100M", 1, 64 * GiB, offsetof(Config, max_upload_bytes),
          "Largest CSV file accepted (413 above). Suffixes K, M, G (powers of 1024)." },
        { "ROSTER_MAX_BODY_BYTES", CONFIG_BYTES, "8M", 64 * KiB, 1 * GiB, offsetof(Config, max_body_bytes),
          "Largest request body that is not a multipart file part: raw text/csv uploads, JSON. "
          "Each upload in flight holds up to this much memory." },
        { "ROSTER_WORKER_CONCURRENCY", CONFIG_INT, "2", 1, 256, offsetof(Config, worker_concurrency),
          "Ranges of imports one roster-worker process works on at once; each takes three PostgreSQL "
          "connections and two Redis ones." },
        { "ROSTER_DB_POOL_SIZE", CONFIG_INT, "16", 2, 1000, offsetof(Config, db_pool_size),
          "Most PostgreSQL connections one roster-api process opens for requests; it has one more, to listen "
          "for changes to imports." },
        { "ROSTER_TOKEN_CACHE_SECONDS", CONFIG_INT, "5", 0, 60, offsetof(Config, token_cache_seconds),
          "How long roster-api trusts an API token it has checked in the database before asking again. A "
          "token revoked or deleted in the database is refused by every roster-api process at most this many "
          "seconds later. 0: every request asks the database." },
        { "ROSTER_STATUS_MAX_LAG_MS", CONFIG_INT, "100", 0, 5000, offsetof(Config, status_max_lag_ms),
          "roster-api answers GET /v1/imports/{id} from memory, kept up to date by PostgreSQL notifications; "
          "an answer reflects every change committed more than this many milliseconds before the request "
          "(usually every change up to a millisecond before). 0: each such answer first waits until every "
          "change committed before the request has been heard, which is slower." },
        { "ROSTER_MAX_CONCURRENT_UPLOADS", CONFIG_INT, "8", 1, 1000, offsetof(Config, max_concurrent_uploads),
          "Uploads one roster-api process receives at once (503 with Retry-After above); each holds a "
          "database connection while it streams." },
        { "ROSTER_MAX_UPLOADS_PER_ACCOUNT", CONFIG_INT, "4", 1, 1000, offsetof(Config, max_uploads_per_account),
          "Uploads one roster-api process receives at once for one account (429 with Retry-After above)." },
        { "ROSTER_UPLOAD_TIMEOUT_SECONDS", CONFIG_INT, "3600", 10, 86400, offsetof(Config, upload_timeout_seconds),
          "A request body not received in full after this long has its connection closed." },
        { "ROSTER_BATCH_ROWS", CONFIG_INT, "5000", 1, 100000, offsetof(Config, batch_rows),
          "Rows per worker transaction; each batch is a checkpoint a restarted import resumes after." },
        { "ROSTER_RANGE_ROWS", CONFIG_INT, "50000", 1000, 100000000, offsetof(Config, range_rows),
          "Data rows per range: the API cuts a bigger upload into ranges that several workers import at "
          "once (UTF-16 files stay one range)." },
        { "ROSTER_JOB_LEASE_SECONDS", CONFIG_INT, "60", 5, 3600, offsetof(Config, job_lease_seconds),
          "A worker silent for this long loses its import to another worker." },
        { "ROSTER_MAX_ATTEMPTS", CONFIG_INT, "5", 1, 100, offsetof(Config, max_attempts),
          "Times in a row an import is started without committing a batch (its worker died or stalled each "
          "time) before it is marked failed; a run that commits rows starts the count again." },
        { "ROSTER_INVITE_RETENTION_DAYS", CONFIG_INT, "7", 1, 90, offsetof(Config, invite_retention_days),
          "Days a published invite event is kept in PostgreSQL, to be published again if Redis loses its data." },
        { "ROSTER_RETENTION_DAYS", CONFIG_INT, "30", 1, 3650, offsetof(Config, retention_days),
          "Days after an import ends (or a dry run or held import is left uncommitted) before its stored file, "
          "its rows' cells and issues and its results are deleted by the workers; the import's record (who, "
          "when, counts, sha256) stays. DELETE /v1/imports/{id} deletes them at once." },
        { "ROSTER_DRAIN_SECONDS", CONFIG_INT, "30", 0, 3600, offsetof(Config, drain_seconds),
          "On SIGTERM roster-api stops taking connections and lets the requests in flight (uploads above all) "
          "finish for up to this long; event streams get a last event (reconnect) at once. A second signal "
          "stops it at once." },
        { "ROSTER_REQUEST_TIMEOUT_SECONDS", CONFIG_INT, "120", 5, 3600, offsetof(Config, request_timeout_seconds),
          "An idle HTTP connection (including a stalled upload) is closed after this long." },
        { "ROSTER_MAX_CONNECTIONS", CONFIG_INT, "1000", 8, 100000, offsetof(Config, max_connections),
          "HTTP connections one roster-api process holds at once, from all clients; each has a thread of its "
          "own. Connections over this are closed as they arrive." },
        { "ROSTER_MAX_CONNECTIONS_PER_IP", CONFIG_INT, "128", 0, 100000, offsetof(Config, max_connections_per_ip),
          "HTTP connections one client address may hold at once; more are closed as they arrive. 0: no cap, "
          "for an API behind a proxy or load balancer, where every connection comes from its address." },
        { "ROSTER_HEADER_TIMEOUT_SECONDS", CONFIG_INT, "20", 1, 3600, offsetof(Config, header_timeout_seconds),
          "A connection whose request line and headers have not all arrived this long after it opened (or "
          "after its previous request ended) is closed, however slowly they trickle in." },
        { "ROSTER_WEBHOOK_TIMEOUT_SECONDS", CONFIG_INT, "10", 1, 120, offsetof(Config, webhook_timeout_seconds),
          "A webhook receiver that has not answered after this long (connecting included) fails that attempt." },
        { "ROSTER_WEBHOOK_RETRY_SECONDS", CONFIG_INT, "30", 1, 3600, offsetof(Config, webhook_retry_seconds),
          "Wait before the first retry of a failed webhook; it doubles with each failure, up to an hour." },
        { "ROSTER_WEBHOOK_RETRY_HOURS", CONFIG_INT, "72", 24, 720, offsetof(Config, webhook_retry_hours),
          "A webhook event not delivered this many hours after it was made is given up (and shown so)." },
        { "ROSTER_WEBHOOK_ALLOW_PRIVATE", CONFIG_BOOL, "false", 0, 0, offsetof(Config, webhook_allow_private),
          "Allow webhooks to loopback, private, link-local and other non-public addresses (checked at upload "
          "and again on every connection). Only for receivers on a trusted network." },
        { "ROSTER_CORS_ORIGINS", CONFIG_STRING, "", 0, 0, offsetof(Config, cors_origins),
          "Comma-separated origins allowed to call the API from a browser (e.g. https://admin.example.org)." },
        { "ROSTER_WORKER_ID", CONFIG_STRING, "", 0, 0, offsetof(Config, worker_id),
          "Name of this worker in the queue; defaults to hostname:pid." },
        { "ROSTER_LOG_FORMAT", CONFIG_LOG_FORMAT, "text", 0, 0, offsetof(Config, log_format),
          "Log lines as `text` or `json`." },
        { "ROSTER_LOG_LEVEL", CONFIG_LOG_LEVEL, "info", 0, 0, offsetof(Config, log_level),
          "Most verbose level logged: error, warning, info, debug." },
};

/* Parses a non-negative decimal integer with an optional K/M/G suffix
 * (only when allow_suffix). 0 or -EINVAL/-ERANGE. */
static int parse_int(const char *s, bool allow_suffix, int64_t *ret) {
        const char *p = s;
        int64_t v = 0;

        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                if (v > (INT64_MAX - (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (*p - '0');
        }
        int64_t mult = 1;
        if (allow_suffix && *p) {
                switch (toupper((unsigned char) *p)) {
                case 'K': mult = KiB; break;
                case 'M': mult = MiB; break;
                case 'G': mult = GiB; break;
                default: return -EINVAL;
                }
                p++;
                if (toupper((unsigned char) *p) == 'I' && toupper((unsigned char) p[1]) == 'B')
                        p += 2;
                else if (toupper((unsigned char) *p) == 'B')
                        p++;
        }
        if (*p)
                return -EINVAL;
        if (v > INT64_MAX / mult)
                return -ERANGE;
        *ret = v * mult;
        return 0;
}

static int check_listen(const char *s) {
        const char *colon = strrchr(s, ':');
        int64_t port;

        if (!colon || colon == s)
                return -EINVAL;
        if (s[0] == '[' && colon[-1] != ']')
                return -EINVAL;
        /* An IPv6 address needs brackets: "::1:8080" is ambiguous. */
        if (s[0] != '[' && memchr(s, ':', (size_t) (colon - s)))
                return -EINVAL;
        if (parse_int(colon + 1, false, &port) < 0 || port < 1 || port > 65535)
                return -EINVAL;
        return 0;
}

static int check_origins(const char *s) {
        /* Each entry must be a bare origin: scheme://host[:port], no path. */
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                while (*tok == ' ')
                        tok++;
                const char *rest;
                if (strncmp(tok, "https://", 8) == 0)
                        rest = tok + 8;
                else if (strncmp(tok, "http://", 7) == 0)
                        rest = tok + 7;
                else
                        return -EINVAL;
                if (!*rest || strchr(rest, '/'))
                        return -EINVAL;
        }
        return 0;
}

static int set_item(Config *c, const ConfigItem *it, const char *value, Buf *errors) {
        void *field = (char *) c + it->offset;
        int64_t v;
        int r;

        switch (it->type) {
        case CONFIG_STRING: {
                char *copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
                free(*(char **) field);
                *(char **) field = copy;
                if (strcmp(it->name, "ROSTER_LISTEN") == 0 && check_listen(value) < 0)
                        return buf_printf(errors, "%s=%s: expected host:port with a port from 1 to 65535\n",
                                          it->name, value) < 0 ? -ENOMEM : -EINVAL;
                if (strcmp(it->name, "ROSTER_CORS_ORIGINS") == 0) {
                        r = check_origins(value);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return buf_printf(errors,
                                                  "%s=%s: expected comma-separated origins such as "
                                                  "https://admin.example.org (no path)\n",
                                                  it->name, value) < 0 ? -ENOMEM : -EINVAL;
                }
                if ((strcmp(it->name, "ROSTER_DATABASE_URL") == 0 || strcmp(it->name, "ROSTER_REDIS_URL") == 0) &&
                    !*value)
                        return buf_printf(errors, "%s: must not be empty\n", it->name) < 0 ? -ENOMEM : -EINVAL;
                return 0;
        }
        case CONFIG_INT:
        case CONFIG_BYTES:
                r = parse_int(value, it->type == CONFIG_BYTES, &v);
                if (r < 0 || v < it->min || v > it->max)
                        return buf_printf(errors, "%s=%s: expected %s from %lld to %lld\n", it->name, value,
                                          it->type == CONFIG_BYTES ? "a size in bytes (K, M, G suffixes)"
                                                                   : "a whole number",
                                          (long long) it->min, (long long) it->max) < 0 ? -ENOMEM : -EINVAL;
                *(int64_t *) field = v;
                return 0;
        case CONFIG_LOG_FORMAT:
                if (log_format_from_string(value, (LogFormat *) field) < 0)
                        return buf_printf(errors, "%s=%s: expected json or text\n", it->name, value) < 0
                                       ? -ENOMEM
                                       : -EINVAL;
                return 0;
        case CONFIG_LOG_LEVEL:
                if (log_level_from_string(value, (LogLevel *) field) < 0)
                        return buf_printf(errors, "%s=%s: expected error, warning, info or debug\n", it->name,
                                          value) < 0 ? -ENOMEM : -EINVAL;
                return 0;
        case CONFIG_BOOL:
                if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
                        *(bool *) field = true;
                else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
                        *(bool *) field = false;
                else
                        return buf_printf(errors, "%s=%s: expected true or false\n", it->name, value) < 0
                                       ? -ENOMEM
                                       : -EINVAL;
                return 0;
        }
        return -EINVAL;
}

int config_load(Config *c, Buf *errors) {
        int ret = 0;

        *c = (Config){ 0 };
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigItem *it = &config_table[i];
                const char *value = getenv(it->name);
                if (!value)
                        value = it->default_value;
                int r = set_item(c, it, value, errors);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = r;
        }
        if (ret == 0 && c->db_pool_size < c->max_concurrent_uploads + 2) {
                /* Each upload holds a connection while it streams; the rest of
                 * the API needs some too. */
                if (buf_printf(errors,
                               "ROSTER_DB_POOL_SIZE=%lld: must be at least ROSTER_MAX_CONCURRENT_UPLOADS (%lld) + 2\n",
                               (long long) c->db_pool_size, (long long) c->max_concurrent_uploads) < 0)
                        return -ENOMEM;
                ret = -EINVAL;
        }
        return ret;
}

int config_load_or_report(Config *c, const char *program) {
        Buf errors = BUF_INIT;
        int r = config_load(c, &errors);
        if (r < 0) {
                fprintf(stderr, "%s: %s:\n%s", program, r == -ENOMEM ? "out of memory" : "bad configuration",
                        buf_str(&errors));
                config_done(c);
        }
        buf_done(&errors);
        return r;
}

void config_done(Config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++)
                if (config_table[i].type == CONFIG_STRING) {
                        char **p = (char **) ((char *) c + config_table[i].offset);
                        free(*p);
                        *p = NULL;
                }
}

void config_print_table(FILE *f) {
        fputs("| Variable | Default | Meaning |\n|---|---|---|\n", f);
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigItem *it = &config_table[i];
                fprintf(f, "| `%s` | %s%s%s | %s |\n", it->name, *it->default_value ? "`" : "",
                        *it->default_value ? it->default_value : "(empty)", *it->default_value ? "`" : "",
                        it->help);
        }
}

void config_mask_secrets(const char *value, char *out, size_t size) {
        Buf b = BUF_INIT;
        const char *p = value;
        const char *scheme = strstr(value, "://");
        int r = 0;
        if (scheme) {
                /* scheme://user:password@host: the user information ends at
                 * the last '@' before the path. */
                const char *auth = scheme + 3;
                size_t auth_len = strcspn(auth, "/?#");
                const char *at = NULL;
                for (const char *q = auth; q < auth + auth_len; q++)
                        if (*q == '@')
                                at = q;
                const char *colon = at ? memchr(auth, ':', (size_t) (at - auth)) : NULL;
                if (colon) {
                        r = buf_append(&b, value, (size_t) (colon + 1 - value));
                        if (r >= 0)
                                r = buf_append_str(&b, "****");
                        p = at;
                }
        }
        /* password=... in a connection string or a query. */
        while (r >= 0 && *p) {
                const char *k = strstr(p, "password=");
                if (!k) {
                        r = buf_append_str(&b, p);
                        break;
                }
                k += strlen("password=");
                r = buf_append(&b, p, (size_t) (k - p));
                if (r >= 0)
                        r = buf_append_str(&b, "****");
                p = k + strcspn(k, " &");
        }
        snprintf(out, size, "%s", r >= 0 ? buf_str(&b) : "****");
        buf_done(&b);
}

void config_print_effective(FILE *f) {
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                const ConfigItem *it = &config_table[i];
                const char *value = getenv(it->name);
                char shown[1024];
                config_mask_secrets(value ? value : it->default_value, shown, sizeof shown);
                fprintf(f, "%s=%s%s\n", it->name, shown, value ? "" : "  # default");
        }
}
