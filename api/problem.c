#include "problem.h"

#include <stdarg.h>
#include <stdio.h>

#include "text_decode.h"

json_t *problem_document(unsigned status, const char *code, const char *title, const char *detail,
                         const char *request_id) {
        char type[96];
        snprintf(type, sizeof type, "urn:roster:problem:%s", code);
        return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s?}", "type", type, "title", title, "status", (int) status,
                         "detail", detail, "code", code, "request_id", request_id);
}

void problem_with(Request *r, unsigned status, const char *code, const char *title, const char *detail,
                  json_t *extra) {
        /* A detail may quote what the client sent, cut anywhere: JSON
         * needs valid UTF-8. */
        _cleanup_free_ char *clean = utf8_sanitize(detail);
        json_t *doc = problem_document(status, code, title, clean ? clean : "", r->id);
        if (doc && extra)
                json_object_update(doc, extra);
        json_decref(extra);
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!text) {
                ulfius_set_string_body_response(r->resp, 500, "{\"status\":500,\"title\":\"Internal error\"}");
                u_map_put(r->resp->map_header, "Content-Type", "application/problem+json");
                return;
        }
        ulfius_set_string_body_response(r->resp, status, text);
        u_map_put(r->resp->map_header, "Content-Type", "application/problem+json");
        free(text);
}

void problem(Request *r, unsigned status, const char *code, const char *title, const char *fmt, ...) {
        char detail[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        problem_with(r, status, code, title, detail, NULL);
}

unsigned problem_database_unavailable(Request *r) {
        u_map_put(r->resp->map_header, "Retry-After", "5");
        problem(r, 503, "database_unavailable", "Service unavailable",
                "the database cannot be reached; try again shortly");
        return 503;
}
