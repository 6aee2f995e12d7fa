#include "cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account_store.h"

/* Removes "--name VALUE" (or "--name=VALUE") from args; NULL when absent.
 * -EINVAL in *err when the value is missing. */
const char *cli_take_option(Args *a, const char *name, int *err) {
        size_t len = strlen(name);
        for (int i = 0; i < a->n; i++) {
                const char *s = a->v[i];
                const char *value = NULL;
                int used = 0;
                if (strcmp(s, name) == 0) {
                        if (i + 1 >= a->n) {
                                fprintf(stderr, "roster-admin: %s needs a value\n", name);
                                *err = -EINVAL;
                                return NULL;
                        }
                        value = a->v[i + 1];
                        used = 2;
                } else if (strncmp(s, name, len) == 0 && s[len] == '=') {
                        value = s + len + 1;
                        used = 1;
                } else
                        continue;
                memmove(&a->v[i], &a->v[i + used], (size_t) (a->n - i - used) * sizeof *a->v);
                a->n -= used;
                return value;
        }
        return NULL;
}

bool cli_take_flag(Args *a, const char *name) {
        for (int i = 0; i < a->n; i++)
                if (strcmp(a->v[i], name) == 0) {
                        memmove(&a->v[i], &a->v[i + 1], (size_t) (a->n - i - 1) * sizeof *a->v);
                        a->n--;
                        return true;
                }
        return false;
}

/* After options are taken, what is left must be exactly `want`
 * positional arguments. */
int cli_expect_positional(const Args *a, int want, const char *what) {
        for (int i = 0; i < a->n; i++)
                if (strncmp(a->v[i], "--", 2) == 0) {
                        fprintf(stderr, "roster-admin %s: unknown option %s\n", what, a->v[i]);
                        return -EINVAL;
                }
        if (a->n != want) {
                fprintf(stderr, "roster-admin %s: expected %d argument%s, got %d\n%s", what, want, want == 1 ? "" : "s",
                        a->n, admin_usage);
                return -EINVAL;
        }
        return 0;
}

Db *cli_connect_db(const Config *cfg) {
        char err[512];
        Db *db = db_connect(cfg->database_url, "roster-admin", err, sizeof err);
        if (!db)
                fprintf(stderr, "roster-admin: cannot connect to the database: %s\n", err);
        return db;
}

/* Connects and finds the account; NULL (with a message printed) when
 * either fails. */
Db *cli_open_account(const Config *cfg, const char *slug, int64_t *id) {
        Db *db = cli_connect_db(cfg);
        if (!db)
                return NULL;
        int r = account_store_find(db, slug, id);
        if (r == 0)
                return db;
        if (r == -ENOENT)
                fprintf(stderr, "roster-admin: no account \"%s\"\n", slug);
        else
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
        db_free(db);
        return NULL;
}

const char *cli_actor(void) {
        static char actor[120];
        if (!actor[0]) {
                const char *user = getenv("SUDO_USER");
                const struct passwd *pw = user && *user ? NULL : getpwuid(getuid());
                if (!user || !*user)
                        user = pw ? pw->pw_name : "unknown";
                snprintf(actor, sizeof actor, "roster-admin (%.80s)", user);
        }
        return actor;
}
