/* The route table (routes.c): every path roster-api serves, with what
 * each takes - the handler, the scope a token needs, and how big a body
 * it accepts - and the dispatcher registered on the ulfius instance. */
#pragma once

#include <stdbool.h>

#include "app.h"

/* What a route's request body may be; the guard holds a request to it
 * before ulfius reads the body (admission.h). */
typedef enum RouteBody {
        ROUTE_BODY_SMALL, /* a form or JSON of a few KiB at most */
        ROUTE_BODY_UPLOAD, /* a CSV file: multipart, or raw text/csv */
} RouteBody;

struct Route {
        const char *method;
        const char *path; /* ulfius format: ":name" matches one segment */
        unsigned (*handler)(Request *r);
        unsigned scope; /* 0: public */
        /* Also takes an events token as ?access_token= (events_token.h),
         * for browsers' EventSource, which cannot send headers. */
        bool events_token;
        RouteBody body;
};

/* Adds every route and the fallback (404/405/CORS preflight). 0 or -1. */
int routes_register(struct _u_instance *inst, App *app);

/* The route that serves method and path, or NULL when none does (the
 * fallback answers). The table's own storage. */
const Route *routes_find(const char *method, const char *path);
