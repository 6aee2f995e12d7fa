#include "import_watch.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "import_cache.h"
#include "log.h"
#include "uuid.h"

#define CHANNEL "roster_imports"
/* A query on the listening connection at least this often, even with no
 * reader waiting: a connection that broke without a word is noticed. With
 * ROSTER_STATUS_MAX_LAG_MS, twice in that time, but not more often than
 * every PING_MIN_MS: below that readers wait for an answer now and then. */
#define PING_MAX_MS 1000
#define PING_MIN_MS 10
/* A query unanswered for this long means the connection is lost. */
#define PING_TIMEOUT_MS 10000
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000

static struct {
        App *app;
        pthread_t thread;
        bool running;
        int wake_fd; /* readers and stop wake the thread through it */

        pthread_mutex_t lock;
        pthread_cond_t synced_cond;
        int64_t ping_every_ns;

        /* Written under lock; synced and listening are read without it
         * by readers that need not wait. */
        bool stopping;
        atomic_bool listening;       /* the connection is up and LISTENing */
        atomic_int_fast64_t synced;  /* when the last answered query was sent */
        int64_t wanted;              /* the latest time a reader needs a query sent after */
        bool wake_sent;              /* wake_fd written and not read yet */
} w = { .wake_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake_thread_locked(void) {
        if (w.wake_sent)
                return;
        uint64_t one = 1;
        if (write(w.wake_fd, &one, sizeof one) == sizeof one)
                w.wake_sent = true;
}

static void set_listening(bool listening) {
        pthread_mutex_lock(&w.lock);
        atomic_store(&w.listening, listening);
        if (!listening)
                pthread_cond_broadcast(&w.synced_cond);
        pthread_mutex_unlock(&w.lock);
}

static bool stopping(void) {
        pthread_mutex_lock(&w.lock);
        bool s = w.stopping;
        pthread_mutex_unlock(&w.lock);
        return s;
}

/* Waits up to ms for the stop; true when stopping. */
static bool pause_ms(int ms) {
        struct pollfd pfd = { .fd = w.wake_fd, .events = POLLIN };
        (void) poll(&pfd, 1, ms);
        uint64_t v;
        if (pfd.revents & POLLIN)
                (void) !read(w.wake_fd, &v, sizeof v);
        pthread_mutex_lock(&w.lock);
        w.wake_sent = false;
        pthread_mutex_unlock(&w.lock);
        return stopping();
}

/* A notification invalidates its import; anything but an import's id (a
 * TRUNCATE sends "*") stands for every import. */
static void on_notify(const char *payload, void *userdata) {
        if (uuid_is_valid(payload))
                import_cache_invalidate(w.app->imports, payload);
        else
                import_cache_reset(w.app->imports, true);
}

/* Serves one listening connection until it breaks or the thread stops.
 * Returns a description of the failure, or NULL on stop. */
static const char *serve(Db *db) {
        bool in_flight = false;
        int64_t sent_at = 0, last_sent = 0;
        for (;;) {
                int64_t now = now_ns();
                pthread_mutex_lock(&w.lock);
                bool stop = w.stopping, want = w.wanted > atomic_load(&w.synced);
                pthread_mutex_unlock(&w.lock);
                if (stop)
                        return NULL;
                if (!in_flight && (want || now - last_sent >= w.ping_every_ns)) {
                        /* The time before the query leaves: a reader who
                         * came before it is served by its answer. */
                        sent_at = last_sent = now_ns();
                        if (db_ping_send(db) < 0)
                                return db->errmsg;
                        in_flight = true;
                }

                int64_t wait_ns = in_flight ? sent_at + (int64_t) PING_TIMEOUT_MS * 1000000 - now_ns()
                                            : last_sent + w.ping_every_ns - now_ns();
                if (in_flight && wait_ns <= 0)
                        return "no answer from the server";
                struct pollfd pfd[2] = { { .fd = db_socket(db), .events = POLLIN },
                                         { .fd = w.wake_fd, .events = POLLIN } };
                int k = poll(pfd, 2, wait_ns > 0 ? (int) (wait_ns / 1000000) + 1 : 0);
                if (k < 0 && errno != EINTR)
                        return "poll failed";
                if (pfd[1].revents & POLLIN) {
                        uint64_t v;
                        (void) !read(w.wake_fd, &v, sizeof v);
                        pthread_mutex_lock(&w.lock);
                        w.wake_sent = false;
                        pthread_mutex_unlock(&w.lock);
                }
                if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL))
                        return "the connection was closed";
                if (!(pfd[0].revents & POLLIN))
                        continue;
                bool answered;
                if (db_listen_read(db, on_notify, NULL, &answered) < 0)
                        return db->errmsg;
                if (!in_flight || !answered)
                        continue;
                in_flight = false;
                pthread_mutex_lock(&w.lock);
                atomic_store(&w.synced, sent_at);
                pthread_cond_broadcast(&w.synced_cond);
                pthread_mutex_unlock(&w.lock);
        }
}

static void *watch_thread(void *userdata) {
        App *app = userdata;
        int backoff = RECONNECT_MIN_MS;
        bool said = false;
        while (!stopping()) {
                char err[512];
                Db *db = db_connect(app->cfg.database_url, "roster-api-listen", err, sizeof err);
                const char *why = db ? NULL : err;
                if (db && db_listen(db, CHANNEL) < 0) {
                        snprintf(err, sizeof err, "%s", db->errmsg);
                        why = err;
                }
                if (!why) {
                        /* From here on every change is heard: what was
                         * read before is dropped, and reads start again. */
                        import_cache_reset(app->imports, true);
                        set_listening(true);
                        if (said)
                                log_info("listening for import changes again: status reads are cached");
                        said = false;
                        backoff = RECONNECT_MIN_MS;
                        const char *broke = serve(db);
                        set_listening(false);
                        import_cache_reset(app->imports, false);
                        if (broke) {
                                snprintf(err, sizeof err, "%s", broke);
                                why = err;
                        }
                }
                db_free(db);
                if (!why)
                        break;
                if (!said) {
                        /* Once per outage: status reads go to the database
                         * meanwhile, which is slower, not wrong. */
                        size_t n = strlen(err);
                        while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
                                err[--n] = '\0';
                        log_warning("not listening for import changes (%s): status reads go to the database", err);
                        said = true;
                }
                if (pause_ms(backoff))
                        break;
                backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
        }
        set_listening(false);
        import_cache_reset(app->imports, false);
        return NULL;
}

int import_watch_start(App *app) {
        w.app = app;
        int64_t every = app->cfg.status_max_lag_ms / 2;
        if (every <= 0 || every > PING_MAX_MS)
                every = PING_MAX_MS;
        w.ping_every_ns = (every < PING_MIN_MS ? PING_MIN_MS : every) * 1000000;
        w.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w.wake_fd < 0)
                return -errno;
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&w.synced_cond, &attr);
        pthread_condattr_destroy(&attr);
        w.stopping = false;
        int r = pthread_create(&w.thread, NULL, watch_thread, app);
        if (r != 0) {
                pthread_cond_destroy(&w.synced_cond);
                close(w.wake_fd);
                w.wake_fd = -1;
                return -r;
        }
        w.running = true;
        return 0;
}

void import_watch_stop(void) {
        if (!w.running)
                return;
        pthread_mutex_lock(&w.lock);
        w.stopping = true;
        wake_thread_locked();
        pthread_mutex_unlock(&w.lock);
        pthread_join(w.thread, NULL);
        w.running = false;
        pthread_cond_destroy(&w.synced_cond);
        close(w.wake_fd);
        w.wake_fd = -1;
}

int import_watch_sync(int64_t max_lag_ms, int timeout_ms) {
        int64_t since = now_ns() - max_lag_ms * 1000000;
        /* The usual case, with a lag allowed: no lock, no wait. */
        if (atomic_load(&w.synced) >= since)
                return atomic_load(&w.listening) ? 0 : -EIO;
        if (timeout_ms <= 0)
                return atomic_load(&w.listening) ? -ETIMEDOUT : -EIO;

        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        int r = 0;
        pthread_mutex_lock(&w.lock);
        while (r == 0 && atomic_load(&w.synced) < since) {
                if (!atomic_load(&w.listening) || w.stopping) {
                        r = -EIO;
                        break;
                }
                if (w.wanted < since) {
                        w.wanted = since;
                        wake_thread_locked();
                }
                if (pthread_cond_timedwait(&w.synced_cond, &w.lock, &deadline) == ETIMEDOUT &&
                    atomic_load(&w.synced) < since)
                        r = -ETIMEDOUT;
        }
        pthread_mutex_unlock(&w.lock);
        return r;
}
