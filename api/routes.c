/* The only place that maps paths to handlers, and the dispatcher every
 * request goes through: request id, CORS, authentication with the route's
 * scope, the handler, the access log line. */
#include "routes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin_page.h"
#include "audit.h"
#include "auth.h"
#include "directory.h"
#include "events.h"
#include "import_errors.h"
#include "guard.h"
#include "health.h"
#include "imports.h"
#include "log.h"
#include "meta.h"
#include "problem.h"
#include "results.h"
#include "templates.h"
#include "users.h"
#include "webhooks.h"
#include "uuid.h"

static const Route routes[] = {
        { "GET", "/healthz", health_live, 0, false, ROUTE_BODY_SMALL },
        { "GET", "/readyz", health_ready, 0, false, ROUTE_BODY_SMALL },
        { "GET", "/metrics", meta_metrics, 0, false, ROUTE_BODY_SMALL },
        { "GET", "/openapi.json", meta_openapi_json, 0, false, ROUTE_BODY_SMALL },
        { "GET", "/openapi.yaml", meta_openapi_yaml, 0, false, ROUTE_BODY_SMALL },
        { "GET", "/admin/", admin_page_index, 0, false, ROUTE_BODY_SMALL },
        { "GET", "/admin/:file", admin_page_file, 0, false, ROUTE_BODY_SMALL },
        { "POST", "/v1/imports", imports_create, SCOPE_IMPORTS_WRITE, false, ROUTE_BODY_UPLOAD },
        { "GET", "/v1/imports", imports_list, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/imports/:id", imports_get, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/imports/:id/errors", import_errors_get, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/imports/:id/errors.csv", import_errors_csv, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/imports/:id/events", events_get, SCOPE_IMPORTS_READ, true, ROUTE_BODY_SMALL },
        { "POST", "/v1/imports/:id/events-token", events_issue_token, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/imports/:id/results", results_page, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/imports/:id/results.csv", results_csv, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/imports/:id/webhook-deliveries", webhooks_deliveries, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "POST", "/v1/imports/:id/commit", imports_commit, SCOPE_IMPORTS_WRITE, false, ROUTE_BODY_SMALL },
        { "POST", "/v1/imports/:id/cancel", imports_cancel, SCOPE_IMPORTS_WRITE, false, ROUTE_BODY_SMALL },
        { "DELETE", "/v1/imports/:id", imports_delete, SCOPE_IMPORTS_WRITE, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/templates/users.csv", templates_users_csv, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/users", users_list, SCOPE_USERS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/users.csv", users_csv, SCOPE_USERS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/users/:id", users_get, SCOPE_USERS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/roles", directory_roles, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/teams", directory_teams, SCOPE_IMPORTS_READ, false, ROUTE_BODY_SMALL },
        { "GET", "/v1/audit", audit_list, SCOPE_AUDIT_READ, false, ROUTE_BODY_SMALL },
};

static App *the_app;

static void begin(Request *r) {
        request_id_choose(request_header(r, "X-Request-Id"), r->id);
        u_map_put(r->resp->map_header, "X-Request-Id", r->id);
        u_map_put(r->resp->map_header, "Cache-Control", "no-store");
        u_map_put(r->resp->map_header, "X-Content-Type-Options", "nosniff");
        /* Stopping: the client goes elsewhere for its next request. */
        if (atomic_load(&r->app->draining))
                u_map_put(r->resp->map_header, "Connection", "close");

        const char *origin = guard_cors_origin(r->app, request_header(r, "Origin"));
        if (origin) {
                u_map_put(r->resp->map_header, "Access-Control-Allow-Origin", origin);
                u_map_put(r->resp->map_header, "Access-Control-Expose-Headers",
                          "Location, X-Request-Id, Idempotent-Replayed, Retry-After, Content-Disposition");
                u_map_put(r->resp->map_header, "Vary", "Origin");
        }
}

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

static void finish(Request *r, unsigned status, double started) {
        if (r->db) {
                db_pool_release(r->app->pool, r->db);
                r->db = NULL;
        }
        atomic_fetch_add(&r->app->responses[status / 100 < 6 ? status / 100 : 5], 1);
        /* The path only: a query string may carry a file name. */
        log_request(status >= 500 ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, r->id, "%s %s %u %.1fms", r->req->http_verb,
                    r->req->url_path, status, now_ms() - started);
}

static int dispatch(const struct _u_request *req, struct _u_response *resp, void *user_data) {
        const Route *route = user_data;
        Request r = { .app = the_app, .req = req, .resp = resp, .route = route };
        double started = now_ms();

        begin(&r);
        unsigned status = 0;
        const AuthInfo *checked = guard_auth(req);
        if (route->scope && checked) {
                /* The guard authenticated the caller with the headers. */
                r.auth = *checked;
                if ((r.auth.scopes & route->scope) != route->scope) {
                        AuthFailure fail = { 403, "insufficient_scope", "Forbidden",
                                             token_scope_missing_message(route->scope) };
                        auth_fail(&r, &fail);
                        status = 403;
                }
        } else if (route->scope) {
                const char *query_token = request_header(&r, "Authorization") ? NULL : request_query(&r, "access_token");
                if (query_token && route->events_token)
                        status = auth_require_events_token(&r, query_token, u_map_get(req->map_url, "id"));
                else if (query_token) {
                        AuthFailure fail = { 401, "invalid_token", "Invalid token",
                                             "access_token is taken on the events URL only; send the API token as "
                                             "Authorization: Bearer <token>" };
                        auth_fail(&r, &fail);
                        status = 401;
                } else
                        status = auth_require(&r, route->scope);
        }
        if (!status)
                status = route->handler(&r);
        finish(&r, status, started);
        return U_CALLBACK_COMPLETE;
}

/* Segment-by-segment match, as ulfius does it. */
static bool path_matches(const char *format, const char *path) {
        for (;;) {
                while (*format == '/')
                        format++;
                while (*path == '/')
                        path++;
                if (!*format || !*path)
                        return !*format && !*path;
                size_t fl = strcspn(format, "/"), pl = strcspn(path, "/");
                if (format[0] != ':' && (fl != pl || strncmp(format, path, fl) != 0))
                        return false;
                format += fl;
                path += pl;
        }
}

/* Everything no route took: CORS preflight, 405 for a known path with
 * another method, 404. */
static int fallback(const struct _u_request *req, struct _u_response *resp, void *user_data) {
        Request r = { .app = the_app, .req = req, .resp = resp };
        double started = now_ms();
        unsigned status;
        char allow[64] = "";

        begin(&r);
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                if (path_matches(routes[i].path, req->url_path) && !strstr(allow, routes[i].method))
                        snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s", *allow ? ", " : "",
                                 routes[i].method);

        if (strcmp(req->http_verb, "OPTIONS") == 0 && *allow) {
                if (!u_map_get(resp->map_header, "Access-Control-Allow-Origin")) {
                        problem(&r, 403, "cors_origin_denied", "Origin not allowed",
                                "this origin is not in ROSTER_CORS_ORIGINS");
                        status = 403;
                } else {
                        u_map_put(resp->map_header, "Access-Control-Allow-Methods", allow);
                        u_map_put(resp->map_header, "Access-Control-Allow-Headers",
                                  "Authorization, Content-Type, Accept, Idempotency-Key, X-Request-Id");
                        u_map_put(resp->map_header, "Access-Control-Max-Age", "600");
                        ulfius_set_empty_body_response(resp, 204);
                        status = 204;
                }
        } else if (*allow) {
                u_map_put(resp->map_header, "Allow", allow);
                problem(&r, 405, "method_not_allowed", "Method not allowed", "%s is not allowed here; use %s",
                        req->http_verb, allow);
                status = 405;
        } else {
                problem(&r, 404, "not_found", "Not found", "no such path");
                status = 404;
        }
        finish(&r, status, started);
        return U_CALLBACK_COMPLETE;
}

const Route *routes_find(const char *method, const char *path) {
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                if (strcmp(routes[i].method, method) == 0 && path_matches(routes[i].path, path))
                        return &routes[i];
        return NULL;
}

int routes_register(struct _u_instance *inst, App *app) {
        the_app = app;
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                if (ulfius_add_endpoint_by_val(inst, routes[i].method, NULL, routes[i].path, 0, dispatch,
                                               (void *) &routes[i]) != U_OK)
                        return -1;
        return ulfius_set_default_endpoint(inst, fallback, NULL) == U_OK ? 0 : -1;
}
