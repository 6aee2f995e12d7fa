#include "webhook_sender.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "webhook.h"
#include "webhook_store.h"

#define GROUP 16 /* events sent at once */
#define MAX_GROUPS 8 /* per round: the rest waits for the next */
#define MAX_ANSWER_BYTES (1024 * 1024)

typedef struct Transfer {
        const WebhookDelivery *d;
        CURL *easy;
        struct curl_slist *headers;
        bool allow_private;
        bool done;
        CURLcode result;
        char refused[INET6_ADDRSTRLEN];
        char errbuf[CURL_ERROR_SIZE];
        double started, started_mono, elapsed;
} Transfer;

int webhook_sender_global_init(void) {
        return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void webhook_sender_global_done(void) {
        curl_global_cleanup();
}

static double now_real(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double now_mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Every address curl would connect to passes here first, after the
 * name is resolved: a name that resolves to a private address is refused
 * however it was written in the URL. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
        Transfer *t = clientp;
        if (purpose != CURLSOCKTYPE_IPCXN)
                return CURL_SOCKET_BAD;
        if (!t->allow_private && !webhook_addr_is_public(&a->addr)) {
                const void *raw = a->family == AF_INET ? (const void *) &((struct sockaddr_in *) &a->addr)->sin_addr
                                                       : (const void *) &((struct sockaddr_in6 *) &a->addr)->sin6_addr;
                if (!inet_ntop(a->family, raw, t->refused, sizeof t->refused))
                        snprintf(t->refused, sizeof t->refused, "?");
                return CURL_SOCKET_BAD;
        }
        return socket(a->family, a->socktype, a->protocol);
}

static size_t discard(char *data, size_t size, size_t n, void *userdata) {
        (void) data, (void) userdata;
        return size * n;
}

static int transfer_setup(Transfer *t, const Config *cfg) {
        char header[512], signature[WEBHOOK_SIGNATURE_SIZE];
        const WebhookDelivery *d = t->d;

        if (!(t->easy = curl_easy_init()))
                return -ENOMEM;
        webhook_sign(d->secret, (int64_t) time(NULL), d->body, strlen(d->body), signature);
        char attempt[16];
        snprintf(attempt, sizeof attempt, "%d", d->attempt);
        /* "Expect:" with no value: no 100-continue round trip. */
        const char *const headers[][2] = {
                { "Content-Type", "application/json" }, { "Expect", "" },
                { "Roster-Event-Id", d->id },           { "Roster-Event-Type", d->type },
                { "Roster-Signature", signature },      { "Roster-Delivery-Attempt", attempt },
        };
        for (size_t i = 0; i < ELEMENTSOF(headers); i++) {
                snprintf(header, sizeof header, "%s: %s", headers[i][0], headers[i][1]);
                struct curl_slist *l = curl_slist_append(t->headers, header);
                if (!l)
                        return -ENOMEM;
                t->headers = l;
        }
        CURL *e = t->easy;
        long timeout_ms = (long) cfg->webhook_timeout_seconds * 1000;
        bool ok = curl_easy_setopt(e, CURLOPT_URL, d->url) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->body) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(d->body)) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_USERAGENT, "roster-webhook/" ROSTER_VERSION) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) MAX_ANSWER_BYTES) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_PRIVATE, t) == CURLE_OK;
        return ok ? 0 : -EIO;
}

/* Why an attempt failed, or NULL when it was delivered. */
static const char *outcome(Transfer *t, long status, int64_t timeout, char *buf, size_t size) {
        if (!t->d->secret)
                return "the account has no webhook secret: roster-admin webhook secret makes one";
        if (!t->done)
                return "the worker stopped before the receiver answered";
        if (*t->refused) {
                snprintf(buf, size, "refused: %s is not a public address (ROSTER_WEBHOOK_ALLOW_PRIVATE)",
                         t->refused);
                return buf;
        }
        if (t->result == CURLE_OPERATION_TIMEDOUT) {
                snprintf(buf, size, "no answer within %lld s (ROSTER_WEBHOOK_TIMEOUT_SECONDS)",
                         (long long) timeout);
                return buf;
        }
        if (t->result != CURLE_OK && t->result != CURLE_FILESIZE_EXCEEDED) {
                snprintf(buf, size, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
                return buf;
        }
        if (status >= 200 && status < 300)
                return NULL;
        if (status >= 300 && status < 400)
                snprintf(buf, size, "the receiver answered %ld (redirects are not followed)", status);
        else
                snprintf(buf, size, "the receiver answered %ld", status);
        return buf;
}

/* Sends one group at once and records each attempt. Returns the number of
 * attempts recorded, or a negative errno. */
static int send_group(WebhookSender *s, WebhookDelivery *d, size_t n) {
        const Config *cfg = s->cfg;
        Transfer *t = calloc(n, sizeof *t);
        CURLM *m = curl_multi_init();
        int r = 0;

        if (!t || !m) {
                free(t);
                curl_multi_cleanup(m);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                t[i].d = &d[i];
                t[i].allow_private = cfg->webhook_allow_private;
                t[i].started = now_real();
                t[i].started_mono = now_mono();
                if (!d[i].secret)
                        continue;
                if (transfer_setup(&t[i], cfg) < 0 || curl_multi_add_handle(m, t[i].easy) != CURLM_OK) {
                        snprintf(t[i].errbuf, sizeof t[i].errbuf, "the request could not be set up");
                        t[i].done = true;
                        t[i].result = CURLE_FAILED_INIT;
                }
        }

        int running = 1;
        while (running && !atomic_load(s->stopping)) {
                if (curl_multi_perform(m, &running) != CURLM_OK)
                        break;
                CURLMsg *msg;
                int left;
                while ((msg = curl_multi_info_read(m, &left)))
                        if (msg->msg == CURLMSG_DONE) {
                                Transfer *done = NULL;
                                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &done);
                                if (done) {
                                        done->done = true;
                                        done->result = msg->data.result;
                                        done->elapsed = now_mono() - done->started_mono;
                                }
                        }
                if (running)
                        curl_multi_poll(m, NULL, 0, 200, NULL);
        }

        for (size_t i = 0; i < n; i++) {
                char why[CURL_ERROR_SIZE + 128];
                long status = 0;
                if (t[i].easy && t[i].done && t[i].result != CURLE_FAILED_INIT)
                        curl_easy_getinfo(t[i].easy, CURLINFO_RESPONSE_CODE, &status);
                WebhookAttempt a = {
                        .started = t[i].started,
                        .duration_ms = (int64_t) (t[i].elapsed * 1000),
                        .status = (int) status,
                        .error = outcome(&t[i], status, cfg->webhook_timeout_seconds, why, sizeof why),
                };
                if (a.error)
                        log_warning("webhook %s (%s) to %s, attempt %d: %s", d[i].id, d[i].type, d[i].url,
                                    d[i].attempt, a.error);
                else
                        log_info("webhook %s (%s) delivered to %s, attempt %d", d[i].id, d[i].type, d[i].url,
                                 d[i].attempt);
                int k = webhook_store_record(s->db, &d[i], &a, webhook_retry_delay(d[i].attempt,
                                                                                   cfg->webhook_retry_seconds),
                                             cfg->webhook_retry_hours);
                if (k < 0 && r >= 0) {
                        log_warning("cannot record webhook attempt %s/%d: %s", d[i].id, d[i].attempt,
                                    s->db->errmsg);
                        r = k;
                } else if (r >= 0)
                        r++;
                if (t[i].easy) {
                        curl_multi_remove_handle(m, t[i].easy);
                        curl_easy_cleanup(t[i].easy);
                }
                curl_slist_free_all(t[i].headers);
        }
        curl_multi_cleanup(m);
        free(t);
        return r;
}

int webhook_sender_run(WebhookSender *s) {
        char err[512];
        int total = 0;

        if (!s->db) {
                s->db = db_connect(s->cfg->database_url, "roster-worker webhooks", err, sizeof err);
                if (!s->db) {
                        log_warning("webhooks: cannot connect to PostgreSQL: %s", err);
                        return -EIO;
                }
        }
        /* A sender that dies mid-group leaves its events claimed until the
         * lease ends; they are sent again then. */
        int64_t lease = s->cfg->webhook_timeout_seconds + 60;
        for (int g = 0; g < MAX_GROUPS && !atomic_load(s->stopping); g++) {
                WebhookDelivery *d = NULL;
                size_t n = 0;
                int r = webhook_store_claim(s->db, GROUP, lease, &d, &n);
                if (r < 0) {
                        log_warning("webhooks: cannot claim events: %s", s->db->errmsg);
                        if (s->db->broken && db_reconnect(s->db) < 0)
                                log_warning("webhooks: cannot reconnect to PostgreSQL");
                        return r;
                }
                if (n > 0)
                        r = send_group(s, d, n);
                webhook_store_deliveries_free(d, n);
                if (r < 0)
                        return r;
                total += r;
                if (n < GROUP)
                        break;
        }
        return total;
}

void webhook_sender_done(WebhookSender *s) {
        db_free(s->db);
        s->db = NULL;
}
