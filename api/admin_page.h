/* GET /admin/ and its files: the admins' page (api/admin/), served from
 * the binary under a strict Content-Security-Policy: its own scripts and
 * styles only, no inline code, no other origin. GET /admin answers with a
 * redirect to /admin/. */
#pragma once

#include "app.h"

/* GET /admin/ (and the redirect from /admin). Returns the HTTP status. */
unsigned admin_page_index(Request *r);
/* GET /admin/{file}: one of the page's files, 404 for any other name. */
unsigned admin_page_file(Request *r);
