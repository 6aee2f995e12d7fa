#include "webhooks.h"

#include <errno.h>

#include "imports.h"
#include "problem.h"
#include "webhook_store.h"

unsigned webhooks_deliveries(Request *r) {
        ImportRecord rec;
        unsigned st = imports_load(r, &rec);
        if (st)
                return st;

        _cleanup_free_ char *text = NULL;
        int k = webhook_store_list_json(request_db(r), r->auth.account_id, rec.id, &text);
        json_t *list = k == 0 ? json_loads(text, 0, NULL) : NULL;
        if (!list) {
                import_store_record_done(&rec);
                if (k == -ENOMEM || k == 0) {
                        problem(r, 500, "internal_error", "Internal error", "the deliveries could not be read");
                        return 500;
                }
                return problem_database_unavailable(r);
        }
        request_respond_json(r, 200,
                             json_pack("{s:s, s:o, s:o}", "import_id", rec.id, "callback_url",
                                       rec.callback_url ? json_string(rec.callback_url) : json_null(), "data",
                                       list));
        import_store_record_done(&rec);
        return 200;
}
