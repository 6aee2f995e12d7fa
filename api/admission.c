#include "admission.h"

#include <pthread.h>
#include <stdio.h>

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
                if (!a) {
                        a = &accounts[n_accounts++];
                        *a = (AccountCount){ account_id, 0 };
                }
                a->n++;
                total++;
                ok = slot->held = true;
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
