/* What every handler uses of its request: headers, query, the database
 * connection, the JSON response. */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"
#include "uuid.h"

Db *request_db(Request *r) {
        if (r->borrowed)
                return r->borrowed;
        if (r->db)
                return r->db;
        char err[256];
        int e;
        r->db = db_pool_acquire(r->app->pool, 5000, &e, err, sizeof err);
        if (!r->db) {
                log_request(LOG_LEVEL_WARNING, r->id, "no database connection: %s", err);
                problem_database_unavailable(r);
        }
        return r->db;
}

const char *request_header(const Request *r, const char *name) {
        return u_map_get_case(r->req->map_header, name);
}

const char *request_query(const Request *r, const char *name) {
        return u_map_get(r->req->map_url, name);
}

void request_respond_json(Request *r, unsigned status, json_t *body) {
        if (!body) {
                problem(r, 500, "internal_error", "Internal error", "out of memory");
                return;
        }
        ulfius_set_json_body_response(r->resp, status, body);
        json_decref(body);
}

int request_limit(Request *r, int def, int max, int *ret) {
        const char *v = request_query(r, "limit");
        if (!v) {
                *ret = def;
                return 0;
        }
        char *end;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end || n < 1 || n > max) {
                problem(r, 400, "invalid_option", "Invalid limit", "limit must be a whole number from 1 to %d", max);
                return -EINVAL;
        }
        *ret = (int) n;
        return 0;
}

void request_id_choose(const char *given, char out[65]) {
        size_t n = given ? strlen(given) : 0;
        bool ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
                ok = isalnum((unsigned char) given[i]) || strchr("-_.", given[i]);
        if (ok)
                snprintf(out, 65, "%s", given);
        else if (uuid_v4(out) < 0)
                snprintf(out, 65, "unknown");
}
