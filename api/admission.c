#include "admission.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

/* The body of a request that is not an upload: a few options or a JSON
 * object at most. */
#define OTHER_BODY_MAX (64u * 1024)

/* Uploads held by account: a short list, since each entry is an upload
 * in flight. */
typedef struct AccountCount {
        int64_t account_id;
        int64_t n;
} AccountCount;

#define MAX_ACCOUNTS 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static AccountCount accounts[MAX_ACCOUNTS];
static size_t n_accounts;
static int64_t total;

static AccountCount *find(int64_t account_id) {
        for (size_t i = 0; i < n_accounts; i++)
                if (accounts[i].account_id == account_id)
                        return &accounts[i];
        return NULL;
}

bool admission_take(App *app, int64_t account_id, AdmissionSlot *slot, AdmissionRefusal *ret) {
        *slot = (AdmissionSlot){ app, account_id, false };
        pthread_mutex_lock(&lock);
        AccountCount *a = find(account_id);
        int64_t mine = a ? a->n : 0;
        bool ok = false;
        if (mine >= app->cfg.max_uploads_per_account) {
                ret->status = 429;
                snprintf(ret->detail, sizeof ret->detail,
                         "this account is sending %lld uploads already; try again when one has finished",
                         (long long) mine);
        } else if (total >= app->cfg.max_concurrent_uploads || (!a && n_accounts == MAX_ACCOUNTS)) {
                ret->status = 503;
                snprintf(ret->detail, sizeof ret->detail,
                         "the server is receiving %lld uploads already; try again shortly", (long long) total);
        } else {
                ok = true;
        }
        if (ok) {
                if (!a) {
                        a = &accounts[n_accounts++];
                        *a = (AccountCount){ account_id, 0 };
                }
                a->n++;
                total++;
                slot->held = true;
        } else {
                ret->code = "too_many_uploads";
                ret->title = "Too many uploads";
        }
        pthread_mutex_unlock(&lock);
        return ok;
}

void admission_release(AdmissionSlot *slot) {
        if (!slot || !slot->held)
                return;
        pthread_mutex_lock(&lock);
        AccountCount *a = find(slot->account_id);
        if (a && --a->n == 0)
                *a = accounts[--n_accounts];
        total--;
        pthread_mutex_unlock(&lock);
        slot->held = false;
}

int64_t admission_count(void) {
        pthread_mutex_lock(&lock);
        int64_t n = total;
        pthread_mutex_unlock(&lock);
        return n;
}

void admission_refuse(Admission *a, unsigned status, const char *code, const char *title, const char *fmt, ...) {
        if (a->refusal.status)
                return;
        a->refusal.status = status;
        a->refusal.code = code;
        a->refusal.title = title;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->refusal.detail, sizeof a->refusal.detail, fmt, ap);
        va_end(ap);
}

void admission_refuse_too_large(App *app, Admission *a) {
        if (a->multipart)
                admission_refuse(a, 413, "file_too_large", "File too large",
                                 "the file is larger than the limit of %lld bytes", (long long) app->cfg.max_upload_bytes);
        else if (a->upload)
                admission_refuse(a, 413, "file_too_large", "Body too large",
                                 "a text/csv body may be at most %llu bytes; send larger files as multipart/form-data "
                                 "(field \"file\"), up to %lld bytes",
                                 (unsigned long long) a->limit, (long long) app->cfg.max_upload_bytes);
        else
                admission_refuse(a, 413, "body_too_large", "Body too large",
                                 "this request's body may be at most %llu bytes", (unsigned long long) a->limit);
}

/* A connection for auth_check(), taken only when it must ask the
 * database; the caller gives it back. */
typedef struct PoolBorrow {
        DbPool *pool;
        Db *db;
} PoolBorrow;

static Db *borrow_db(void *userdata) {
        PoolBorrow *b = userdata;
        char err[128];
        int e;
        if (!b->db)
                b->db = db_pool_acquire(b->pool, 5000, &e, err, sizeof err);
        return b->db;
}

void admission_decide(App *app, const AdmissionHead *head, Admission *ret) {
        Admission *a = ret;
        *a = (Admission){ .route = routes_find(head->method, head->path) };
        a->upload = a->route && a->route->body == ROUTE_BODY_UPLOAD;
        a->multipart = a->upload && head->boundary_len > 0;
        if (a->multipart)
                a->limit = (uint64_t) app->cfg.max_upload_bytes + ADMISSION_FIELDS_MAX;
        else if (a->upload)
                /* ulfius holds a raw body in memory, up to ROSTER_MAX_BODY_BYTES. */
                a->limit = (uint64_t) MIN(app->cfg.max_body_bytes, app->cfg.max_upload_bytes);
        else
                a->limit = OTHER_BODY_MAX;
        if (!head->has_body)
                return;

        /* A body is only read for a caller who may send it. */
        AuthFailure fail;
        PoolBorrow borrow = { app->pool, NULL };
        unsigned scope = a->route ? a->route->scope : 0;
        unsigned st = auth_check(app, borrow_db, &borrow, head->authorization, scope, &a->auth, &fail);
        db_pool_release(app->pool, borrow.db);
        if (st) {
                admission_refuse(a, fail.status, fail.code, fail.title, "%s", fail.detail);
                return;
        }
        a->has_auth = true;
        if (head->content_length && strtoull(head->content_length, NULL, 10) > a->limit) {
                admission_refuse_too_large(app, a);
                return;
        }
        if (a->upload && !admission_take(app, a->auth.account_id, &a->slot, &a->refusal))
                return;
}
