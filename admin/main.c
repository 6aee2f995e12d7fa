/* roster-admin: the operators' command. Reads ROSTER_DATABASE_URL; exits 0
 * on success, prints a clear message and exits non-zero otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_store.h"
#include "config.h"
#include "db.h"
#include "cli.h"
#include "commands.h"
#include "establishments.h"
#include "schema.h"
#include "token.h"

const char admin_usage[] =
        "Usage: roster-admin COMMAND ...\n"
        "\n"
        "  migrate                              create or upgrade the database schema\n"
        "  account create SLUG [--name NAME]    add an account with the default roles\n"
        "  token create SLUG [--scopes imports:read,imports:write,users:read,audit:read]\n"
        "               [--actor LABEL] [--expires-in 90d]\n"
        "                                       print a new API token for the account (scopes:\n"
        "                                       all but audit:read unless named; expiry in\n"
        "                                       d, h or m; none unless given)\n"
        "  token list SLUG                      the account's tokens (never the tokens themselves)\n"
        "  token revoke ID | token revoke -     revoke a token by id, or the token read from stdin\n"
        "  audit SLUG [--action ACTION] [--limit N]\n"
        "                                       the account's audit trail, oldest first\n"
        "  webhook secret SLUG [--rotate]       print the account's webhook signing secret,\n"
        "                                       making one when it has none (or --rotate)\n"
        "  establishments load FILE             upsert establishments from a GIAS CSV\n"
        "  team create SLUG NAME                add a team to an account\n"
        "  role create SLUG KEY --name NAME [--needs-establishment] [--pupils]\n"
        "                                       add a role to an account\n"
        "  config                               check the ROSTER_* settings in effect and print\n"
        "                                       them (passwords masked); exits 1 naming bad ones\n"
        "  config --defaults                    every setting, its default and meaning (Markdown)\n"
        "\n"
        "Connects to ROSTER_DATABASE_URL.\n";

static int cmd_migrate(const Config *cfg, Args *a) {
        if (cli_expect_positional(a, 0, "migrate") < 0)
                return 2;
        _cleanup_(db_freep) Db *db = cli_connect_db(cfg);
        if (!db)
                return 1;
        int from = 0, to = 0;
        if (schema_migrate(db, &from, &to) < 0) {
                fprintf(stderr, "roster-admin: migration failed: %s\n", db->errmsg);
                return 1;
        }
        if (from == to)
                printf("schema is up to date (version %d)\n", to);
        else
                printf("schema migrated from version %d to %d\n", from, to);
        return 0;
}

static int cmd_account_create(const Config *cfg, Args *a) {
        int err = 0;
        const char *name = cli_take_option(a, "--name", &err);
        if (err < 0 || cli_expect_positional(a, 1, "account create") < 0)
                return 2;
        const char *slug = a->v[0];
        if (!account_store_slug_is_valid(slug)) {
                fprintf(stderr, "roster-admin: bad slug \"%s\": use a-z, 0-9 and -, at most 63 characters\n", slug);
                return 2;
        }
        if (name && (!*name || strlen(name) > 200)) {
                fprintf(stderr, "roster-admin: --name must be 1 to 200 characters\n");
                return 2;
        }
        _cleanup_(db_freep) Db *db = cli_connect_db(cfg);
        if (!db)
                return 1;
        int64_t id;
        int r = account_store_create(db, slug, name ? name : slug, &id);
        if (r == -EEXIST) {
                fprintf(stderr, "roster-admin: account \"%s\" already exists\n", slug);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
                return 1;
        }
        printf("account %s created with roles designated_teacher, social_worker, la_user, la_super_user\n", slug);
        return 0;
}

static int cmd_webhook_secret(const Config *cfg, Args *a) {
        bool rotate = cli_take_flag(a, "--rotate");
        if (cli_expect_positional(a, 1, "webhook secret") < 0)
                return 2;
        int64_t account;
        _cleanup_(db_freep) Db *db = cli_open_account(cfg, a->v[0], &account);
        if (!db)
                return 1;
        char secret[WEBHOOK_SECRET_SIZE];
        int r = rotate ? -ENOENT : account_store_webhook_secret(db, account, secret);
        if (r == -ENOENT)
                r = account_store_webhook_secret_rotate(db, account, secret);
        if (r < 0) {
                fprintf(stderr, "roster-admin: %s\n", r == -EIO && !*db->errmsg ? "no randomness" : db->errmsg);
                return 1;
        }
        if (rotate)
                fprintf(stderr, "roster-admin: a new secret for %s; signatures made with the old one no longer "
                                "verify\n",
                        a->v[0]);
        /* The secret alone on stdout, so that scripts can capture it. */
        puts(secret);
        return 0;
}

static int cmd_team_create(const Config *cfg, Args *a) {
        if (cli_expect_positional(a, 2, "team create") < 0)
                return 2;
        const char *name = a->v[1];
        if (!*name || strlen(name) > 100 || strpbrk(name, ";|")) {
                fprintf(stderr, "roster-admin: a team name must be 1 to 100 characters without ; or |\n");
                return 2;
        }
        int64_t account;
        _cleanup_(db_freep) Db *db = cli_open_account(cfg, a->v[0], &account);
        if (!db)
                return 1;
        int r = account_store_team_create(db, account, name, NULL);
        if (r == -EEXIST) {
                fprintf(stderr, "roster-admin: account %s already has a team \"%s\"\n", a->v[0], name);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
                return 1;
        }
        printf("team \"%s\" created in %s\n", name, a->v[0]);
        return 0;
}

static int cmd_role_create(const Config *cfg, Args *a) {
        int err = 0;
        const char *name = cli_take_option(a, "--name", &err);
        bool needs_est = cli_take_flag(a, "--needs-establishment");
        bool pupils = cli_take_flag(a, "--pupils");
        if (err < 0 || cli_expect_positional(a, 2, "role create") < 0)
                return 2;
        const char *key = a->v[1];
        if (!account_store_role_key_is_valid(key)) {
                fprintf(stderr, "roster-admin: bad role key \"%s\": use a-z, 0-9 and _, at most 64\n", key);
                return 2;
        }
        if (!name || !*name || strlen(name) > 100) {
                fprintf(stderr, "roster-admin: role create needs --name \"Display Name\" (1 to 100 characters)\n");
                return 2;
        }
        int64_t account;
        _cleanup_(db_freep) Db *db = cli_open_account(cfg, a->v[0], &account);
        if (!db)
                return 1;
        int r = account_store_role_create(db, account, key, name, needs_est, pupils);
        if (r == -EEXIST) {
                fprintf(stderr, "roster-admin: account %s already has a role with key \"%s\" or name \"%s\"\n",
                        a->v[0], key, name);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "roster-admin: %s\n", db->errmsg);
                return 1;
        }
        printf("role %s (\"%s\") created in %s\n", key, name, a->v[0]);
        return 0;
}

static int cmd_establishments_load(const Config *cfg, Args *a) {
        if (cli_expect_positional(a, 1, "establishments load") < 0)
                return 2;
        _cleanup_(db_freep) Db *db = cli_connect_db(cfg);
        if (!db)
                return 1;
        EstablishmentsReport rep = { 0 };
        int r = establishments_load(db, a->v[0], &rep);
        if (r < 0) {
                fprintf(stderr, "roster-admin: %s\n", rep.message);
                return 1;
        }
        printf("loaded %" PRIu64 " establishments from %s (%s): %" PRIu64 " new, %" PRIu64 " updated\n", rep.rows,
               a->v[0], rep.encoding, rep.inserted, rep.updated);
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                fputs(admin_usage, argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                puts("roster-admin " ROSTER_VERSION);
                return 0;
        }
        if (strcmp(argv[1], "config") == 0 && argc == 3 && strcmp(argv[2], "--defaults") == 0) {
                config_print_table(stdout);
                return 0;
        }

        /* Checked as roster-api and roster-worker check them. */
        Config cfg;
        if (config_load_or_report(&cfg, "roster-admin") < 0)
                return 1;
        if (strcmp(argv[1], "config") == 0) {
                config_done(&cfg);
                if (argc > 2) {
                        fprintf(stderr, "roster-admin config: unknown argument \"%s\"\n%s", argv[2], admin_usage);
                        return 2;
                }
                config_print_effective(stdout);
                return 0;
        }

        const char *cmd = argv[1];
        const char *sub = argc > 2 ? argv[2] : "";
        Args rest = { argc - 3, argv + 3 };
        int rc;
        if (strcmp(cmd, "migrate") == 0) {
                rest = (Args){ argc - 2, argv + 2 };
                rc = cmd_migrate(&cfg, &rest);
        } else if (strcmp(cmd, "account") == 0 && strcmp(sub, "create") == 0)
                rc = cmd_account_create(&cfg, &rest);
        else if (strcmp(cmd, "token") == 0 && strcmp(sub, "create") == 0)
                rc = commands_token_create(&cfg, &rest);
        else if (strcmp(cmd, "token") == 0 && strcmp(sub, "list") == 0)
                rc = commands_token_list(&cfg, &rest);
        else if (strcmp(cmd, "token") == 0 && strcmp(sub, "revoke") == 0)
                rc = commands_token_revoke(&cfg, &rest);
        else if (strcmp(cmd, "audit") == 0) {
                rest = (Args){ argc - 2, argv + 2 };
                rc = commands_audit(&cfg, &rest);
        }
        else if (strcmp(cmd, "webhook") == 0 && strcmp(sub, "secret") == 0)
                rc = cmd_webhook_secret(&cfg, &rest);
        else if (strcmp(cmd, "team") == 0 && strcmp(sub, "create") == 0)
                rc = cmd_team_create(&cfg, &rest);
        else if (strcmp(cmd, "role") == 0 && strcmp(sub, "create") == 0)
                rc = cmd_role_create(&cfg, &rest);
        else if (strcmp(cmd, "establishments") == 0 && strcmp(sub, "load") == 0)
                rc = cmd_establishments_load(&cfg, &rest);
        else {
                fprintf(stderr, "roster-admin: unknown command \"%s%s%s\"\n\n%s", cmd, *sub ? " " : "", sub,
                        admin_usage);
                rc = 2;
        }
        config_done(&cfg);
        return rc;
}
