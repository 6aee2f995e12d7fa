/* Redis: one blocking hiredis connection that remembers its last error and
 * re-connects on the next command after it broke.
 *
 * As in hiredis, "the server answered ERR" (a REDIS_REPLY_ERROR reply,
 * returned to the caller) is kept apart from "the connection broke" (NULL,
 * r->broken set, message in r->errstr).
 *
 * Threads: one Redis per thread. Replies belong to the caller:
 * freeReplyObject() the top-level reply only. */
#pragma once

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct Redis {
        redisContext *ctx;
        char *host;
        int port;
        char *password;
        int db;
        int timeout_ms; /* socket read/write timeout: longer than any BLOCK */
        char errstr[256];
        bool broken;
        char epoch[37]; /* the data epoch last confirmed (redis_epoch.h), "" when unknown */
} Redis;

/* Parses redis://[:password@]host[:port][/db]. 0 or -EINVAL. */
int redis_url_parse(const char *url, char **ret_host, int *ret_port, char **ret_password, int *ret_db);

/* Returns a Redis for url, connected if the server answers (r->broken
 * otherwise: the next command retries). NULL when the URL is bad (err
 * says why) or out of memory. */
Redis *redis_new(const char *url, int timeout_ms, char *err, size_t err_size);
void redis_free(Redis *r);

/* Connects now if not connected. 0 or -EIO. */
int redis_ensure(Redis *r);

/* Pipelining: queue commands with redis_append_argv(), then read each
 * reply with redis_get_reply() in order. -EIO (and r->broken) when the
 * connection failed; a reply is the caller's. */
int redis_append_argv(Redis *r, int argc, const char **argv, const size_t *lens) _must_check_;
int redis_get_reply(Redis *r, redisReply **ret) _must_check_;

/* A command, as redisCommand(). NULL when the connection failed. */
redisReply *redis_cmd(Redis *r, const char *fmt, ...);
/* PING: 0 when Redis answers, -EIO otherwise. */
int redis_ping(Redis *r);

static inline void freeReplyObjectp(redisReply **p) {
        if (*p)
                freeReplyObject(*p);
}
DEFINE_CLEANUP_FUNC(Redis *, redis_free);
