#include "admin_page.h"

#include <stdio.h>
#include <string.h>

#include "problem.h"
#include "static_files.h"

/* The page talks to this API only (connect-src 'self'); nothing else
 * loads, nothing frames it. */
#define ADMIN_CSP                                                                                        \
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "               \
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

static unsigned serve(Request *r, const char *name) {
        for (size_t i = 0; i < n_static_files; i++) {
                const StaticFile *f = &static_files[i];
                if (strcmp(f->name, name) != 0)
                        continue;
                ulfius_set_binary_body_response(r->resp, 200, f->data, f->len);
                u_map_put(r->resp->map_header, "Content-Type", f->content_type);
                u_map_put(r->resp->map_header, "Content-Security-Policy", ADMIN_CSP);
                u_map_put(r->resp->map_header, "X-Frame-Options", "DENY");
                u_map_put(r->resp->map_header, "Referrer-Policy", "no-referrer");
                /* Checked again on every load: a new release shows at once. */
                u_map_put(r->resp->map_header, "Cache-Control", "no-cache");
                return 200;
        }
        problem(r, 404, "not_found", "Not found", "no such file of the admin page");
        return 404;
}

unsigned admin_page_index(Request *r) {
        /* The page's relative URLs need the slash (the route matches the
         * path without it too). */
        const char *path = r->req->url_path;
        size_t len = strlen(path);
        if (len == 0 || path[len - 1] != '/') {
                char location[64];
                snprintf(location, sizeof location, "%.62s/", path);
                ulfius_set_empty_body_response(r->resp, 308);
                u_map_put(r->resp->map_header, "Location", location);
                return 308;
        }
        return serve(r, "index.html");
}

unsigned admin_page_file(Request *r) {
        const char *name = u_map_get(r->req->map_url, "file");
        return serve(r, name ? name : "");
}
