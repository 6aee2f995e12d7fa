#include "conn_watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Connections shut down in one pass of the watchdog that are named in the
 * log; the rest are counted. */
#define LOGGED_PER_PASS 8

typedef struct ConnRecord {
        struct ConnRecord *prev, *next;
        int fd;
        /* When the connection opened or its last request ended. */
        struct timespec since;
        bool in_request; /* headers complete, request not over */
        bool chunked_body;
        bool shut;
        char peer[INET6_ADDRSTRLEN + 8];
} ConnRecord;

/* Guards the list and every record's fields: the watchdog, the daemon's
 * thread (STARTED, CLOSED) and the connections' threads all use them. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static ConnRecord *records;
static pthread_t watchdog;
static bool running, stopping;
static int64_t timeout_s;

static struct timespec now_mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts;
}

static double seconds_between(struct timespec a, struct timespec b) {
        return (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
}

static void peer_name(struct MHD_Connection *c, char *out, size_t size) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = info ? info->client_addr : NULL;
        char host[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (sa && sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
                port = ntohs(in->sin_port);
        } else if (sa && sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
                port = ntohs(in6->sin6_port);
        }
        snprintf(out, size, sa && sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

static ConnRecord *record_of(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return info ? info->socket_context : NULL;
}

void conn_watch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code) {
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                ConnRecord *r = calloc(1, sizeof *r);
                if (!r) {
                        /* Without a record it would have no deadline: not
                         * served. */
                        if (info)
                                shutdown(info->connect_fd, SHUT_RDWR);
                        return;
                }
                r->fd = info ? info->connect_fd : -1;
                r->since = now_mono();
                peer_name(c, r->peer, sizeof r->peer);
                pthread_mutex_lock(&lock);
                r->next = records;
                if (records)
                        records->prev = r;
                records = r;
                pthread_mutex_unlock(&lock);
                *socket_context = r;
                return;
        }

        /* MHD_CONNECTION_NOTIFY_CLOSED: libmicrohttpd closes the socket
         * after this returns (MHD_cleanup_connections() in 0.9.75), so once
         * the record is off the list under the lock the watchdog cannot
         * shut down a descriptor that has been closed, or reused for
         * another connection. */
        ConnRecord *r = *socket_context;
        if (!r)
                return;
        pthread_mutex_lock(&lock);
        if (r->prev)
                r->prev->next = r->next;
        else
                records = r->next;
        if (r->next)
                r->next->prev = r->prev;
        pthread_mutex_unlock(&lock);
        *socket_context = NULL;
        free(r);
}

void conn_watch_request_started(struct MHD_Connection *c, bool chunked_body) {
        ConnRecord *r = record_of(c);
        if (!r)
                return;
        pthread_mutex_lock(&lock);
        r->in_request = true;
        r->chunked_body = chunked_body;
        pthread_mutex_unlock(&lock);
}

void conn_watch_request_done(struct MHD_Connection *c) {
        ConnRecord *r = record_of(c);
        if (!r)
                return;
        pthread_mutex_lock(&lock);
        r->in_request = false;
        r->chunked_body = false;
        r->since = now_mono();
        pthread_mutex_unlock(&lock);
}

bool conn_watch_chunked_body(struct MHD_Connection *c) {
        ConnRecord *r = record_of(c);
        if (!r)
                return false;
        pthread_mutex_lock(&lock);
        bool chunked = r->in_request && r->chunked_body;
        pthread_mutex_unlock(&lock);
        return chunked;
}

static void *watch(void *arg) {
        pthread_mutex_lock(&lock);
        while (!stopping) {
                char named[LOGGED_PER_PASS][sizeof records->peer];
                size_t shut = 0;
                struct timespec now = now_mono();
                for (ConnRecord *r = records; r; r = r->next) {
                        if (r->in_request || r->shut || r->fd < 0 || seconds_between(r->since, now) < (double) timeout_s)
                                continue;
                        /* Not close(): the descriptor stays
                         * libmicrohttpd's. Its thread's next read sees the
                         * end of the stream and closes the connection the
                         * usual way. */
                        shutdown(r->fd, SHUT_RDWR);
                        r->shut = true;
                        if (shut < LOGGED_PER_PASS)
                                memcpy(named[shut], r->peer, sizeof r->peer);
                        shut++;
                }
                if (shut) {
                        /* Not under the lock: a slow log must not hold up
                         * new connections. */
                        pthread_mutex_unlock(&lock);
                        for (size_t i = 0; i < shut && i < LOGGED_PER_PASS; i++)
                                log_warning("http: connection from %s closed: no complete request headers within "
                                            "%lld s",
                                            named[i], (long long) timeout_s);
                        if (shut > LOGGED_PER_PASS)
                                log_warning("http: %zu more connections closed for the same reason",
                                            shut - LOGGED_PER_PASS);
                        pthread_mutex_lock(&lock);
                }
                /* A quarter of a second: the deadline is met within that. */
                struct timespec until = now_mono();
                until.tv_nsec += 250 * 1000 * 1000;
                if (until.tv_nsec >= 1000 * 1000 * 1000) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000 * 1000 * 1000;
                }
                pthread_cond_timedwait(&wake, &lock, &until);
        }
        pthread_mutex_unlock(&lock);
        return NULL;
}

int conn_watch_start(int64_t header_timeout_seconds) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&wake, &attr);
        pthread_condattr_destroy(&attr);
        timeout_s = header_timeout_seconds;
        stopping = false;
        int r = pthread_create(&watchdog, NULL, watch, NULL);
        if (r != 0)
                return -r;
        running = true;
        return 0;
}

void conn_watch_stop(void) {
        if (!running)
                return;
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_signal(&wake);
        pthread_mutex_unlock(&lock);
        pthread_join(watchdog, NULL);
        running = false;
        pthread_cond_destroy(&wake);
}
