/* roster-api: the HTTP API. Stateless; run as many as needed behind a load
 * balancer.
 *
 * libmicrohttpd runs a thread per connection (handlers make blocking
 * PostgreSQL calls); the main thread only waits for SIGTERM/SIGINT. */
#include <errno.h>
#include <stdatomic.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "conn_watch.h"
#include "guard.h"
#include "import_watch.h"
#include "log.h"
#include "mhd_errors.h"
#include "program.h"
#include "routes.h"
#include "schema.h"
#include "upload.h"

/* Requests begun and not completed: what a graceful stop waits for. */
static atomic_int requests_open;

/* libmicrohttpd calls this as each request begins (its line read). */
static void *uri_logger(void *cls, const char *uri) {
        atomic_fetch_add(&requests_open, 1);
        return ulfius_uri_logger(cls, uri);
}

/* Called by libmicrohttpd when it is done with a request, including one
 * whose client went away mid-upload (which never reaches a handler). */
static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
        struct connection_info_struct *ci = *con_cls;
        atomic_fetch_sub(&requests_open, 1);
        conn_watch_request_done(connection);
        if (ci && ci->request)
                guard_request_done(ci->request);
        mhd_request_completed(cls, connection, con_cls, toe);
}

/* libmicrohttpd's format strings: marked as such so that -Wformat=2 checks
 * the forwarding (clang asks for it, gcc does not). */
static void mhd_logger(void *cls, const char *fmt, va_list ap) _printf_(2, 0);
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
                msg[--n] = '\0';
        if (mhd_errors_replaces_log(msg))
                return;
        log_warning("http: %s", msg);
}

/* Resolves ROSTER_LISTEN ("host:port", "[v6]:port"). */
static int resolve_listen(const char *listen, struct sockaddr_storage *ret, socklen_t *ret_len, bool *ret_v6) {
        char host[256];
        const char *colon = strrchr(listen, ':');
        size_t hlen = (size_t) (colon - listen);
        if (listen[0] == '[') {
                listen++;
                hlen -= 2;
        }
        if (hlen >= sizeof host)
                return -EINVAL;
        memcpy(host, listen, hlen);
        host[hlen] = '\0';

        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
        struct addrinfo *res = NULL;
        if (getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res) != 0 || !res)
                return -EINVAL;
        memcpy(ret, res->ai_addr, res->ai_addrlen);
        *ret_len = res->ai_addrlen;
        *ret_v6 = res->ai_family == AF_INET6;
        freeaddrinfo(res);
        return 0;
}

static int parse_cors(App *app) {
        const char *s = app->cfg.cors_origins;
        if (!*s)
                return 0;
        size_t n = 1;
        for (const char *p = s; *p; p++)
                n += *p == ',';
        app->cors_origins = calloc(n, sizeof *app->cors_origins);
        if (!app->cors_origins)
                return -ENOMEM;
        for (const char *p = s; *p;) {
                size_t len = strcspn(p, ",");
                const char *t = p;
                size_t l = len;
                while (l && *t == ' ')
                        t++, l--;
                while (l && t[l - 1] == ' ')
                        l--;
                if (l && !(app->cors_origins[app->n_cors_origins++] = strndup(t, l)))
                        return -ENOMEM;
                p += len + (p[len] == ',');
        }
        return 0;
}

/* Each connection holds a socket: without enough file descriptors
 * accept() fails under load long before ROSTER_MAX_CONNECTIONS is
 * reached, for every client alike. Raises the soft limit as far as the
 * hard one allows. */
static void ensure_descriptors(const Config *cfg) {
        /* The database pool, Redis, the listening socket, logs, slack. */
        rlim_t want = (rlim_t) (cfg->max_connections + cfg->db_pool_size + 64);
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                rl.rlim_cur = was;
        if (rl.rlim_cur < want)
                log_warning("only %llu file descriptors (ulimit -n) for ROSTER_MAX_CONNECTIONS=%lld: connections "
                            "will be refused before that many are open",
                            (unsigned long long) rl.rlim_cur, (long long) cfg->max_connections);
}

/* A graceful stop: no new connections (the listening socket is shut, so
 * that a client is refused at once rather than left in the backlog), and
 * the requests in flight finish, for up to ROSTER_DRAIN_SECONDS; a
 * second signal ends the wait. */
static void drain(App *app, struct _u_instance *inst, const sigset_t *stop, int sig) {
        atomic_store(&app->draining, true);
        MHD_socket listener = MHD_quiesce_daemon(inst->mhd_daemon);
        if (listener != MHD_INVALID_SOCKET)
                shutdown(listener, SHUT_RDWR);
        int open = atomic_load(&requests_open);
        log_info("stopping (signal %d): %d request%s in flight, waiting up to %lld s", sig, open, open == 1 ? "" : "s",
                 (long long) app->cfg.drain_seconds);
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                if (atomic_load(&requests_open) <= 0)
                        return;
                clock_gettime(CLOCK_MONOTONIC, &now);
                double waited = (double) (now.tv_sec - start.tv_sec) + (double) (now.tv_nsec - start.tv_nsec) / 1e9;
                if (waited >= (double) app->cfg.drain_seconds) {
                        log_warning("stopping: %d request%s still in flight after %lld s are cut",
                                    atomic_load(&requests_open), atomic_load(&requests_open) == 1 ? "" : "s",
                                    (long long) app->cfg.drain_seconds);
                        return;
                }
                struct timespec tick = { 0, 50 * 1000000L };
                if (sigtimedwait(stop, NULL, &tick) >= 0) {
                        log_warning("stopping at once (second signal)");
                        return;
                }
        }
}

int main(int argc, char **argv) {
        static App app;
        int rc = 1;

        int started = program_start(argc, argv, "roster-api", "Serves roster's HTTP API on ROSTER_LISTEN.", &app.cfg);
        if (started >= 0)
                return started;
        ensure_descriptors(&app.cfg);

        struct sockaddr_storage addr;
        socklen_t addr_len;
        bool v6;
        if (resolve_listen(app.cfg.listen, &addr, &addr_len, &v6) < 0) {
                log_error("ROSTER_LISTEN=%s: cannot resolve the address", app.cfg.listen);
                goto out;
        }
        if (parse_cors(&app) < 0)
                goto out;

        app.pool = db_pool_new(app.cfg.database_url, "roster-api", (int) app.cfg.db_pool_size);
        char err[512];
        if (!app.pool)
                goto out;
        /* Room for far more tokens than one process sees in a few seconds;
         * more are looked up again, nothing worse. */
        app.tokens = token_cache_new(app.cfg.token_cache_seconds * 1000, 1024);
        /* Status bodies are about 1 KB; one with a long list of warnings
         * is read from the database each time instead. */
        app.imports = import_cache_new(512, 16 * 1024);
        if (!app.tokens || !app.imports)
                goto out;
        {
                /* A database on an old schema is a deployment mistake to
                 * report at once; one that is merely down may come back
                 * (and /readyz says so meanwhile). */
                _cleanup_(db_freep) Db *db = db_connect(app.cfg.database_url, "roster-api", err, sizeof err);
                if (!db)
                        log_warning("PostgreSQL is not reachable yet: %s", err);
                else if (schema_check(db) == -ENOENT) {
                        log_error("the database schema is missing or old: run roster-admin migrate");
                        goto out;
                }
        }
        app.redis = redis_new(app.cfg.redis_url, 2000, err, sizeof err);
        if (!app.redis) {
                log_error("ROSTER_REDIS_URL: %s", err);
                goto out;
        }
        if (app.redis->broken)
                log_warning("Redis is not reachable yet: %s", app.redis->errstr);
        pthread_mutex_init(&app.redis_lock, NULL);

        /* The port given here only satisfies ulfius: the socket address
         * that counts is MHD_OPTION_SOCK_ADDR below. */
        struct _u_instance inst;
        unsigned port = (unsigned) atoi(strrchr(app.cfg.listen, ':') + 1);
        if (ulfius_init_instance(&inst, port, NULL, NULL) != U_OK) {
                log_error("cannot set up the HTTP server");
                goto out;
        }
        /* ulfius keeps every request body in memory up to this size (a
         * multipart file part goes to the upload callback as well). The
         * guard holds a raw text/csv body to ROSTER_MAX_BODY_BYTES
         * (admission.h), so ulfius never cuts one short. */
        inst.max_post_body_size = (size_t) app.cfg.max_body_bytes + 1;
        inst.max_post_param_size = 64 * 1024;
        /* Checked where it matters; otherwise ulfius drops values that are
         * not UTF-8 without a word. */
        inst.check_utf8 = 0;
        ulfius_set_upload_file_callback_function(&inst, upload_file_callback, &app);
        if (routes_register(&inst, &app) < 0) {
                log_error("cannot register the routes");
                ulfius_clean_instance(&inst);
                goto out;
        }

        struct MHD_OptionItem ops[] = {
                /* First, or libmicrohttpd prints some messages itself. */
                { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) mhd_logger, NULL },
                { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) request_completed, NULL },
                { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t) uri_logger, NULL },
                { MHD_OPTION_SOCK_ADDR, 0, &addr },
                /* An idle timeout: conn_watch adds a deadline for a
                 * request's headers, the guard one for its body. */
                { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t) app.cfg.request_timeout_seconds, NULL },
                { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t) conn_watch_notify, NULL },
                /* A thread per connection: this bounds them. */
                { MHD_OPTION_CONNECTION_LIMIT, (intptr_t) app.cfg.max_connections, NULL },
                /* So that one client cannot take every connection (0: no
                 * cap). libmicrohttpd closes the ones over it at once. */
                { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t) app.cfg.max_connections_per_ip, NULL },
                { MHD_OPTION_END, 0, NULL },
        };
        /* MHD_USE_ITC: so that a stop can quiesce the daemon first. */
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                         MHD_USE_ERROR_LOG | MHD_USE_ITC | (v6 ? MHD_USE_IPv6 : 0);

        /* Block the stop signals before any thread starts, so that they
         * all inherit the mask and sigwait() below receives them. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);

        guard_setup(&app);
        if (mhd_errors_setup(&app) < 0)
                log_warning("libmicrohttpd's own error answers stay HTML: roster-api's MHD_queue_response is not "
                            "in front of it (was roster-api linked without --export-dynamic-symbol="
                            "MHD_queue_response?)");
        int k = auth_start(&app);
        if (k < 0) {
                log_error("cannot start the token thread: %s", strerror(-k));
                ulfius_clean_instance(&inst);
                goto out;
        }
        k = import_watch_start(&app);
        if (k < 0) {
                log_error("cannot start the import listener: %s", strerror(-k));
                ulfius_clean_instance(&inst);
                goto out;
        }
        k = conn_watch_start(app.cfg.header_timeout_seconds);
        if (k < 0) {
                log_error("cannot start the connection watchdog: %s", strerror(-k));
                ulfius_clean_instance(&inst);
                goto out;
        }
        if (ulfius_start_framework_with_mhd_options(&inst, flags, ops) != U_OK) {
                log_error("cannot listen on %s", app.cfg.listen);
                ulfius_clean_instance(&inst);
                goto out;
        }
        if (!guard_installed()) {
                /* Without it a client could make ulfius buffer bodies
                 * without limit: refuse to serve. */
                log_error("the request guard is not in front of ulfius (was roster-api linked without "
                          "--export-dynamic-symbol=MHD_start_daemon?)");
                ulfius_stop_framework(&inst);
                ulfius_clean_instance(&inst);
                goto out;
        }
        log_info("listening on http://%s (%lld MiB uploads, %lld database connections)", app.cfg.listen,
                 (long long) (app.cfg.max_upload_bytes >> 20), (long long) app.cfg.db_pool_size);

        int sig;
        sigwait(&stop, &sig);
        drain(&app, &inst, &stop, sig);
        atomic_store(&app.stopping, true);
        ulfius_stop_framework(&inst);
        ulfius_clean_instance(&inst);
        rc = 0;
out:
        conn_watch_stop();
        import_watch_stop();
        auth_stop();
        redis_free(app.redis);
        db_pool_free(app.pool);
        token_cache_free(app.tokens);
        import_cache_free(app.imports);
        for (size_t i = 0; i < app.n_cors_origins; i++)
                free(app.cors_origins[i]);
        free(app.cors_origins);
        config_done(&app.cfg);
        return rc;
}
