#include "redis_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int redis_url_parse(const char *url, char **ret_host, int *ret_port, char **ret_password, int *ret_db) {
        const char *p;
        char *host = NULL, *password = NULL;
        int port = 6379, db = 0;

        if (strncmp(url, "redis://", 8) != 0)
                return -EINVAL;
        p = url + 8;

        const char *at = strchr(p, '@');
        const char *slash = strchr(p, '/');
        if (at && (!slash || at < slash)) {
                /* user:password@ or :password@; a user name is ignored
                 * (Redis 6 ACL users are not needed here). */
                const char *colon = memchr(p, ':', (size_t) (at - p));
                const char *pw = colon ? colon + 1 : p;
                password = strndup(pw, (size_t) (at - pw));
                if (!password)
                        return -ENOMEM;
                p = at + 1;
        }

        size_t hostlen = strcspn(p, ":/");
        if (hostlen == 0)
                goto bad;
        host = strndup(p, hostlen);
        if (!host)
                goto nomem;
        p += hostlen;
        if (*p == ':') {
                char *end;
                long v = strtol(p + 1, &end, 10);
                if (end == p + 1 || v < 1 || v > 65535)
                        goto bad;
                port = (int) v;
                p = end;
        }
        if (*p == '/') {
                p++;
                if (*p) {
                        char *end;
                        long v = strtol(p, &end, 10);
                        if (end == p || *end || v < 0 || v > 1000)
                                goto bad;
                        db = (int) v;
                }
        } else if (*p)
                goto bad;

        *ret_host = host;
        *ret_port = port;
        *ret_password = password;
        *ret_db = db;
        return 0;
bad:
        free(host);
        free(password);
        return -EINVAL;
nomem:
        free(password);
        return -ENOMEM;
}

static void set_broken(Redis *r, const char *what) {
        snprintf(r->errstr, sizeof r->errstr, "%s: %s", what,
                 r->ctx && r->ctx->errstr[0] ? r->ctx->errstr : "connection failed");
        r->broken = true;
        if (r->ctx) {
                redisFree(r->ctx);
                r->ctx = NULL;
        }
}

static int connect_now(Redis *r) {
        struct timeval tv = { r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000 };
        struct timeval ctv = { 5, 0 };

        if (r->ctx) {
                redisFree(r->ctx);
                r->ctx = NULL;
        }
        r->ctx = redisConnectWithTimeout(r->host, r->port, ctv);
        if (!r->ctx || r->ctx->err) {
                set_broken(r, "cannot connect to Redis");
                return -EIO;
        }
        /* The connect timeout above does not cover commands; a reply that
         * never comes must not hang the thread. */
        if (redisSetTimeout(r->ctx, tv) != REDIS_OK) {
                set_broken(r, "cannot set the Redis timeout");
                return -EIO;
        }
        if (r->password) {
                redisReply *rep = redisCommand(r->ctx, "AUTH %s", r->password);
                bool ok = rep && rep->type != REDIS_REPLY_ERROR;
                if (rep && !ok)
                        snprintf(r->errstr, sizeof r->errstr, "Redis refused the password: %s", rep->str);
                if (rep)
                        freeReplyObject(rep);
                if (!ok) {
                        if (!rep)
                                set_broken(r, "Redis AUTH failed");
                        r->broken = true;
                        return -EIO;
                }
        }
        if (r->db) {
                redisReply *rep = redisCommand(r->ctx, "SELECT %d", r->db);
                bool ok = rep && rep->type != REDIS_REPLY_ERROR;
                if (rep)
                        freeReplyObject(rep);
                if (!ok) {
                        set_broken(r, "Redis SELECT failed");
                        return -EIO;
                }
        }
        r->broken = false;
        r->errstr[0] = '\0';
        return 0;
}

Redis *redis_new(const char *url, int timeout_ms, char *err, size_t err_size) {
        Redis *r = calloc(1, sizeof *r);
        if (!r) {
                snprintf(err, err_size, "out of memory");
                return NULL;
        }
        int k = redis_url_parse(url, &r->host, &r->port, &r->password, &r->db);
        if (k < 0) {
                snprintf(err, err_size, "%s", k == -ENOMEM ? "out of memory"
                                                          : "bad Redis URL: expected redis://[:password@]host[:port][/db]");
                free(r);
                return NULL;
        }
        r->timeout_ms = timeout_ms;
        r->broken = true;
        (void) connect_now(r);
        return r;
}

void redis_free(Redis *r) {
        if (!r)
                return;
        if (r->ctx)
                redisFree(r->ctx);
        free(r->host);
        free(r->password);
        free(r);
}

int redis_ensure(Redis *r) {
        if (!r->broken && r->ctx)
                return 0;
        return connect_now(r);
}

static redisReply *finish(Redis *r, redisReply *rep) {
        if (!rep) {
                /* The context is now unusable; the next command reconnects. */
                set_broken(r, "Redis connection lost");
                return NULL;
        }
        return rep;
}

redisReply *redis_cmd(Redis *r, const char *fmt, ...) {
        if (redis_ensure(r) < 0)
                return NULL;
        va_list ap;
        va_start(ap, fmt);
        redisReply *rep = redisvCommand(r->ctx, fmt, ap);
        va_end(ap);
        return finish(r, rep);
}

int redis_append_argv(Redis *r, int argc, const char **argv, const size_t *lens) {
        if (redis_ensure(r) < 0)
                return -EIO;
        if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK) {
                set_broken(r, "Redis connection lost");
                return -EIO;
        }
        return 0;
}

int redis_get_reply(Redis *r, redisReply **ret) {
        void *reply = NULL;
        if (!r->ctx || redisGetReply(r->ctx, &reply) != REDIS_OK || !reply) {
                set_broken(r, "Redis connection lost");
                return -EIO;
        }
        *ret = reply;
        return 0;
}

int redis_ping(Redis *r) {
        redisReply *rep = redis_cmd(r, "PING");
        int k = rep && rep->type != REDIS_REPLY_ERROR ? 0 : -EIO;
        if (rep)
                freeReplyObject(rep);
        return k;
}
