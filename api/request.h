/* The per-request context handed to every handler, and what every
 * handler uses of its request.
 *
 * Ownership: a Request lives for one call of a handler; its Db, when a
 * handler asked for one, goes back to the pool when the handler returns
 * (routes.c). */
#pragma once

#include "app.h"

typedef struct Route Route;

typedef struct Request {
        App *app;
        const struct _u_request *req;
        struct _u_response *resp;
        const Route *route;
        AuthInfo auth;
        char id[65]; /* request id: the client's X-Request-Id, or made here */
        Db *db; /* taken from the pool by request_db(), given back after */
        Db *borrowed; /* an upload's own connection, which request_db() returns meanwhile */
} Request;

/* The request's database connection, taken from the pool on first use.
 * NULL when none can be had; a 503 problem has then been set. */
Db *request_db(Request *r);

/* A request header, case-insensitively; NULL when absent. */
const char *request_header(const Request *r, const char *name);
/* A query parameter; NULL when absent. */
const char *request_query(const Request *r, const char *name);

/* The request's id: the client's X-Request-Id when it is 1 to 64 of
 * [A-Za-z0-9._-], else a new UUID. */
void request_id_choose(const char *given, char out[65]);

/* The `limit` query parameter: def when absent; 0, or -EINVAL with a 400
 * problem set when it is not a whole number from 1 to max. */
int request_limit(Request *r, int def, int max, int *ret);

/* Sets a JSON response (takes the reference to body; NULL, from a failed
 * json_pack, answers 500). */
void request_respond_json(Request *r, unsigned status, json_t *body);
