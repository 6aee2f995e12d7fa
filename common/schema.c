#include "schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Each migration runs once, in its own transaction, in order. Never edit
 * one that has shipped: add the next. */
static const struct {
        int version;
        const char *description;
        const char *sql;
} migrations[] = {
        { 1, "accounts, users, links, imports, outbox, tokens",
          "CREATE TABLE accounts (\n"
          "    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
          "    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),\n"
          "    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),\n"
          "    created_at  timestamptz NOT NULL DEFAULT now()\n"
          ");\n"
          "CREATE TABLE roles (\n"
          "    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
          "    account_id          bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,\n"
          "    key                 text NOT NULL CHECK (key ~ '^[a-z0-9_]{1,64}$'),\n"
          "    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),\n"
          "    needs_establishment boolean NOT NULL DEFAULT false,\n"
          "    may_have_pupils     boolean NOT NULL DEFAULT false,\n"
          "    created_at          timestamptz NOT NULL DEFAULT now(),\n"
          "    UNIQUE (account_id, key)\n"
          ");\n"
          "CREATE UNIQUE INDEX roles_account_name ON roles (account_id, lower(name));\n"
          "CREATE TABLE establishments (\n"
          "    urn         integer PRIMARY KEY CHECK (urn BETWEEN 1 AND 999999),\n"
          "    name        text NOT NULL,\n"
          "    updated_at  timestamptz NOT NULL DEFAULT now()\n"
          ");\n"
          "CREATE TABLE teams (\n"
          "    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
          "    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,\n"
          "    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),\n"
          "    created_at  timestamptz NOT NULL DEFAULT now()\n"
          ");\n"
          "CREATE UNIQUE INDEX teams_account_name ON teams (account_id, lower(name));\n"
          "CREATE TABLE users (\n"
          "    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
          "    account_id         bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,\n"
          "    email              text NOT NULL,\n"
          "    first_name         text NOT NULL,\n"
          "    last_name          text NOT NULL,\n"
          "    job_title          text,\n"
          "    phone              text,\n"
          "    role_id            bigint NOT NULL REFERENCES roles(id),\n"
          "    establishment_urn  integer REFERENCES establishments(urn),\n"
          "    active             boolean NOT NULL DEFAULT true,\n"
          "    custom             jsonb NOT NULL DEFAULT '{}',\n"
          "    created_at         timestamptz NOT NULL DEFAULT now(),\n"
          "    updated_at         timestamptz NOT NULL DEFAULT now(),\n"
          "    created_by_import  uuid,\n"
          "    updated_by_import  uuid\n"
          ");\n"
          "CREATE UNIQUE INDEX users_account_email ON users (account_id, lower(email));\n"
          "CREATE TABLE user_pupils (\n"
          "    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
          "    upn      text NOT NULL CHECK (upn ~ '^[A-Z0-9]{13}$'),\n"
          "    PRIMARY KEY (user_id, upn)\n"
          ");\n"
          "CREATE TABLE user_teams (\n"
          "    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
          "    team_id  bigint NOT NULL REFERENCES teams(id) ON DELETE CASCADE,\n"
          "    PRIMARY KEY (user_id, team_id)\n"
          ");\n"
          "CREATE TABLE api_tokens (\n"
          "    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
          "    account_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,\n"
          "    token_hash    text NOT NULL UNIQUE,\n"
          "    actor         text NOT NULL,\n"
          "    scopes        text[] NOT NULL,\n"
          "    created_at    timestamptz NOT NULL DEFAULT now(),\n"
          "    last_used_at  timestamptz,\n"
          "    revoked_at    timestamptz\n"
          ");\n"
          "CREATE TABLE imports (\n"
          "    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
          "    account_id       bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,\n"
          "    token_id         bigint REFERENCES api_tokens(id) ON DELETE SET NULL,\n"
          "    actor            text NOT NULL,\n"
          "    state            text NOT NULL CHECK (state IN ('queued', 'processing', 'validating',\n"
          "                         'validated', 'completed', 'completed_with_errors', 'failed', 'cancelled')),\n"
          "    role_key         text,\n"
          "    mode             text NOT NULL CHECK (mode IN ('upsert', 'create_only', 'update_only')),\n"
          "    invite           text NOT NULL CHECK (invite IN ('new_users', 'none')),\n"
          "    dry_run          boolean NOT NULL DEFAULT false,\n"
          "    column_map       jsonb,\n"
          "    file_name        text,\n"
          "    file_bytes       bigint NOT NULL DEFAULT 0,\n"
          "    file_sha256      text,\n"
          "    file_encoding    text,\n"
          "    file_delimiter   text,\n"
          "    header           jsonb,\n"
          "    rows_total       integer NOT NULL DEFAULT 0,\n"
          "    rows_processed   integer NOT NULL DEFAULT 0,\n"
          "    created          integer NOT NULL DEFAULT 0,\n"
          "    updated          integer NOT NULL DEFAULT 0,\n"
          "    unchanged        integer NOT NULL DEFAULT 0,\n"
          "    failed           integer NOT NULL DEFAULT 0,\n"
          "    invites          integer NOT NULL DEFAULT 0,\n"
          "    warning_rows     integer NOT NULL DEFAULT 0,\n"
          "    warnings         jsonb NOT NULL DEFAULT '[]',\n"
          "    error_code       text,\n"
          "    error_message    text,\n"
          "    idempotency_key  text,\n"
          "    worker           text,\n"
          "    attempts         integer NOT NULL DEFAULT 0,\n"
          "    heartbeat_at     timestamptz,\n"
          "    enqueued_at      timestamptz,\n"
          "    created_at       timestamptz NOT NULL DEFAULT now(),\n"
          "    started_at       timestamptz,\n"
          "    finished_at      timestamptz\n"
          ");\n"
          "CREATE INDEX imports_account_created ON imports (account_id, created_at DESC, id DESC);\n"
          "CREATE UNIQUE INDEX imports_idempotency ON imports (account_id, idempotency_key)\n"
          "    WHERE idempotency_key IS NOT NULL;\n"
          "CREATE INDEX imports_active ON imports (state, enqueued_at)\n"
          "    WHERE state IN ('queued', 'processing', 'validating');\n"
          "CREATE TABLE import_chunks (\n"
          "    -- Deferred: the API stores chunks as they arrive and writes the\n"
          "    -- imports row, with what it learnt from them, in the same\n"
          "    -- transaction at the end.\n"
          "    import_id  uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE\n"
          "               DEFERRABLE INITIALLY DEFERRED,\n"
          "    seq        integer NOT NULL,\n"
          "    data       bytea NOT NULL,\n"
          "    PRIMARY KEY (import_id, seq)\n"
          ");\n"
          "CREATE TABLE import_issues (\n"
          "    import_id   uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE,\n"
          "    line        integer NOT NULL,\n"
          "    seq         smallint NOT NULL,\n"
          "    row_number  integer NOT NULL,\n"
          "    severity    text NOT NULL CHECK (severity IN ('error', 'warning')),\n"
          "    field       text NOT NULL,\n"
          "    code        text NOT NULL,\n"
          "    message     text NOT NULL,\n"
          "    PRIMARY KEY (import_id, line, seq)\n"
          ");\n"
          "CREATE TABLE import_rows (\n"
          "    import_id   uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE,\n"
          "    line        integer NOT NULL,\n"
          "    row_number  integer NOT NULL,\n"
          "    failed      boolean NOT NULL,\n"
          "    cells       jsonb NOT NULL,\n"
          "    PRIMARY KEY (import_id, line)\n"
          ");\n"
          "-- Scratch: the emails an import has seen, for duplicates across its\n"
          "-- batches; emptied when the import ends. No foreign key: a check\n"
          "-- per row costs more than the table's whole purpose.\n"
          "CREATE TABLE import_emails (\n"
          "    import_id    uuid NOT NULL,\n"
          "    email_lower  text NOT NULL,\n"
          "    line         integer NOT NULL,\n"
          "    PRIMARY KEY (import_id, email_lower)\n"
          ");\n"
          "-- Invite events waiting to be published; a row is deleted once its\n"
          "-- event is on the stream. Deleting a user (or their account)\n"
          "-- deletes their pending events.\n"
          "CREATE TABLE invite_outbox (\n"
          "    event_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n"
          "    account_id    bigint NOT NULL,\n"
          "    import_id     uuid NOT NULL,\n"
          "    user_id       bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
          "    email         text NOT NULL,\n"
          "    first_name    text NOT NULL,\n"
          "    last_name     text NOT NULL,\n"
          "    role          text NOT NULL,\n"
          "    created_at    timestamptz NOT NULL DEFAULT now()\n"
          ");\n"
          "CREATE INDEX invite_outbox_import ON invite_outbox (import_id);\n"
          "CREATE INDEX invite_outbox_created ON invite_outbox (created_at);\n" },
        { 2, "attempts count runs without progress; invite events kept for replay",
          "-- rows_processed when attempts was last counted: a run that\n"
          "-- committed something resets the count.\n"
          "ALTER TABLE imports ADD COLUMN attempt_rows integer NOT NULL DEFAULT 0;\n"
          "-- Published events stay for ROSTER_INVITE_RETENTION_DAYS, so that\n"
          "-- they can be published again if Redis loses its data.\n"
          "ALTER TABLE invite_outbox ADD COLUMN published_at timestamptz,\n"
          "    ADD COLUMN published_epoch uuid;\n"
          "CREATE INDEX invite_outbox_unpublished ON invite_outbox (created_at) WHERE published_at IS NULL;\n"
          "-- The Redis data epoch the database last saw (redis_epoch.c).\n"
          "CREATE TABLE redis_state (\n"
          "    id          integer PRIMARY KEY CHECK (id = 1),\n"
          "    epoch       uuid,\n"
          "    changed_at  timestamptz NOT NULL DEFAULT now()\n"
          ");\n"
          "INSERT INTO redis_state (id) VALUES (1);\n" },
        { 3, "invite events kept per batch, not per user",
          "-- One row per batch that created users with invites on: the ids of\n"
          "-- the users it created. An event's fields are read from the user\n"
          "-- when it is published, and its event_id is derived from the import\n"
          "-- and the user, so that publishing it again gives the same id.\n"
          "CREATE TABLE invite_batches (\n"
          "    import_id        uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE,\n"
          "    first_line       integer NOT NULL,\n"
          "    account_id       bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,\n"
          "    user_ids         bigint[] NOT NULL,\n"
          "    created_at       timestamptz NOT NULL DEFAULT now(),\n"
          "    published_at     timestamptz,\n"
          "    published_epoch  uuid,\n"
          "    PRIMARY KEY (import_id, first_line)\n"
          ");\n"
          "CREATE INDEX invite_batches_unpublished ON invite_batches (created_at) WHERE published_at IS NULL;\n"
          "CREATE INDEX invite_batches_created ON invite_batches (created_at);\n"
          "-- Events still in the per-user outbox move over, one batch per\n"
          "-- import (numbered below any line), keeping whether they went out.\n"
          "INSERT INTO invite_batches (import_id, first_line, account_id, user_ids, created_at, published_at,\n"
          "                            published_epoch)\n"
          "SELECT o.import_id, -row_number() OVER (PARTITION BY o.import_id ORDER BY o.published_at IS NULL),\n"
          "       min(o.account_id), array_agg(o.user_id ORDER BY o.user_id), min(o.created_at), max(o.published_at),\n"
          "       (array_agg(o.published_epoch))[1]\n"
          "FROM invite_outbox o JOIN imports i ON i.id = o.import_id\n"
          "GROUP BY o.import_id, o.published_at IS NULL, o.published_epoch;\n"
          "DROP TABLE invite_outbox;\n" },
        { 4, "imports split into ranges that workers claim",
          "-- The ranges of an import's rows, cut at row boundaries by the upload\n"
          "-- scan; workers claim one at a time (range_store.c). An import of\n"
          "-- several ranges registers the emails of every range first\n"
          "-- (registered), then applies each (rows_done, done).\n"
          "CREATE TABLE import_ranges (\n"
          "    import_id     uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE,\n"
          "    seq           integer NOT NULL,\n"
          "    start_offset  bigint NOT NULL,\n"
          "    end_offset    bigint,\n"
          "    first_line    bigint NOT NULL,\n"
          "    first_record  bigint NOT NULL,\n"
          "    rows          bigint NOT NULL,\n"
          "    registered    boolean NOT NULL,\n"
          "    rows_done     bigint NOT NULL DEFAULT 0,\n"
          "    done          boolean NOT NULL DEFAULT false,\n"
          "    worker        text,\n"
          "    heartbeat_at  timestamptz,\n"
          "    attempts      integer NOT NULL DEFAULT 0,\n"
          "    progressed    boolean NOT NULL DEFAULT false,\n"
          "    PRIMARY KEY (import_id, seq)\n"
          ");\n"
          "-- Imports from before are one range each, where they stood.\n"
          "INSERT INTO import_ranges (import_id, seq, start_offset, first_line, first_record, rows, registered,\n"
          "                           rows_done, done, attempts, progressed)\n"
          "SELECT id, 0, 0, 1, 0, rows_total, true, rows_processed,\n"
          "       state IN ('completed', 'completed_with_errors', 'failed', 'cancelled', 'validated'),\n"
          "       attempts, rows_processed > attempt_rows\n"
          "FROM imports;\n" },
        { 5, "imports tell listeners when they change",
          "-- roster-api keeps the status of imports in memory, and LISTENs on\n"
          "-- roster_imports for the id of every import that changes, by\n"
          "-- whatever process or statement. The notification goes out when the\n"
          "-- change commits; '*' stands for every import.\n"
          "CREATE FUNCTION roster_imports_notify() RETURNS trigger LANGUAGE plpgsql AS $$\n"
          "BEGIN\n"
          "    IF TG_OP = 'TRUNCATE' THEN\n"
          "        PERFORM pg_notify('roster_imports', '*');\n"
          "        RETURN NULL;\n"
          "    END IF;\n"
          "    PERFORM pg_notify('roster_imports', OLD.id::text);\n"
          "    IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN\n"
          "        PERFORM pg_notify('roster_imports', NEW.id::text);\n"
          "    END IF;\n"
          "    RETURN NULL;\n"
          "END\n"
          "$$;\n"
          "CREATE TRIGGER imports_notify AFTER UPDATE OR DELETE ON imports\n"
          "    FOR EACH ROW EXECUTE FUNCTION roster_imports_notify();\n"
          "CREATE TRIGGER imports_notify_truncate AFTER TRUNCATE ON imports\n"
          "    FOR EACH STATEMENT EXECUTE FUNCTION roster_imports_notify();\n" },
        { 6, "the error log's rows go with their import by a trigger, not a check per row",
          "-- A foreign key checks every row inserted: with one row in five of a\n"
          "-- file carrying a warning, that doubled the cost of writing the error\n"
          "-- log. Its rows are only written for an import that the same\n"
          "-- transaction holds locked; what the foreign keys did besides, delete\n"
          "-- an import's rows with it (also when its account goes), a trigger does.\n"
          "ALTER TABLE import_issues DROP CONSTRAINT IF EXISTS import_issues_import_id_fkey;\n"
          "ALTER TABLE import_rows DROP CONSTRAINT IF EXISTS import_rows_import_id_fkey;\n"
          "CREATE FUNCTION roster_import_deleted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
          "BEGIN\n"
          "    DELETE FROM import_issues WHERE import_id = OLD.id;\n"
          "    DELETE FROM import_rows WHERE import_id = OLD.id;\n"
          "    RETURN NULL;\n"
          "END\n"
          "$$;\n"
          "CREATE TRIGGER imports_deleted AFTER DELETE ON imports\n"
          "    FOR EACH ROW EXECUTE FUNCTION roster_import_deleted();\n" },
        { 7, "stored uploads are compressed with lz4 where the server has it",
          "-- Every upload is written once and read by every pass of every worker\n"
          "-- over it; pglz, the default, compressed at a fraction of the speed\n"
          "-- the upload arrives at. lz4 is many times faster both ways, at about\n"
          "-- the same size for CSV. Chunks stored before keep pglz (both read).\n"
          "-- A server built without lz4 (or older than 14) keeps pglz.\n"
          "DO $$\n"
          "BEGIN\n"
          "    EXECUTE 'ALTER TABLE import_chunks ALTER COLUMN data SET COMPRESSION lz4';\n"
          "EXCEPTION WHEN feature_not_supported OR syntax_error THEN\n"
          "    RAISE NOTICE 'this server has no lz4: stored uploads stay compressed with pglz';\n"
          "END\n"
          "$$;\n" },
        { 8, "completion webhooks: a signing secret per account, a durable outbox of events",
          "-- An account signs its webhooks with a secret of its own, made and\n"
          "-- shown by roster-admin; an import may name a URL to call.\n"
          "ALTER TABLE accounts ADD COLUMN webhook_secret text;\n"
          "ALTER TABLE imports ADD COLUMN callback_url text;\n"
          "-- One row per event to deliver (webhook_store.c); kept after its\n"
          "-- delivery, as its record. body is the exact text sent and signed.\n"
          "CREATE TABLE webhook_deliveries (\n"
          "    id               uuid PRIMARY KEY,\n"
          "    import_id        uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE,\n"
          "    account_id       bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,\n"
          "    type             text NOT NULL,\n"
          "    url              text NOT NULL,\n"
          "    body             text NOT NULL,\n"
          "    created_at       timestamptz NOT NULL DEFAULT now(),\n"
          "    next_attempt_at  timestamptz NOT NULL DEFAULT now(),\n"
          "    attempts         integer NOT NULL DEFAULT 0,\n"
          "    delivered_at     timestamptz,\n"
          "    given_up_at      timestamptz\n"
          ");\n"
          "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)\n"
          "    WHERE delivered_at IS NULL AND given_up_at IS NULL;\n"
          "CREATE INDEX webhook_deliveries_import ON webhook_deliveries (import_id, created_at);\n"
          "CREATE TABLE webhook_attempts (\n"
          "    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,\n"
          "    attempt      integer NOT NULL,\n"
          "    at           timestamptz NOT NULL,\n"
          "    duration_ms  integer NOT NULL,\n"
          "    status       integer,\n"
          "    error        text,\n"
          "    PRIMARY KEY (delivery_id, attempt)\n"
          ");\n"
          "-- The event is written by the statement that moves the import to a\n"
          "-- state a client waits for, in its transaction, whichever process or\n"
          "-- path that is: it is never lost and never written twice.\n"
          "CREATE FUNCTION roster_import_webhook() RETURNS trigger LANGUAGE plpgsql AS $$\n"
          "DECLARE\n"
          "    event_id uuid := gen_random_uuid();\n"
          "    self text := '/v1/imports/' || NEW.id;\n"
          "BEGIN\n"
          "    INSERT INTO webhook_deliveries (id, import_id, account_id, type, url, body)\n"
          "    VALUES (event_id, NEW.id, NEW.account_id, 'import.' || NEW.state, NEW.callback_url,\n"
          "        json_build_object(\n"
          "            'id', event_id,\n"
          "            'type', 'import.' || NEW.state,\n"
          "            'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),\n"
          "            'import', json_build_object(\n"
          "                'id', NEW.id,\n"
          "                'state', NEW.state,\n"
          "                'dry_run', NEW.dry_run,\n"
          "                'role', NEW.role_key,\n"
          "                'mode', NEW.mode,\n"
          "                'counts', json_build_object(\n"
          "                    'rows_total', NEW.rows_total, 'rows_processed', NEW.rows_processed,\n"
          "                    'created', NEW.created, 'updated', NEW.updated, 'unchanged', NEW.unchanged,\n"
          "                    'failed', NEW.failed, 'invites', NEW.invites, 'warnings', NEW.warning_rows),\n"
          "                'error', CASE WHEN NEW.error_code IS NULL THEN NULL ELSE\n"
          "                    json_build_object('code', NEW.error_code, 'message', coalesce(NEW.error_message, ''))\n"
          "                    END,\n"
          "                'links', json_build_object(\n"
          "                    'self', self, 'errors', self || '/errors', 'errors_csv', self || '/errors.csv'))\n"
          "        )::text);\n"
          "    RETURN NULL;\n"
          "END\n"
          "$$;\n"
          "CREATE TRIGGER imports_webhook AFTER UPDATE OF state ON imports FOR EACH ROW\n"
          "    WHEN (NEW.callback_url IS NOT NULL AND NEW.state IS DISTINCT FROM OLD.state\n"
          "          AND NEW.state IN ('validated', 'completed', 'completed_with_errors', 'failed', 'cancelled'))\n"
          "    EXECUTE FUNCTION roster_import_webhook();\n" },
        { 9, "per-row results, one row per batch",
          "-- What became of each line (result_log.c): one row per batch, written\n"
          "-- in its transaction; outcomes has one letter per line (c created,\n"
          "-- u updated, n unchanged, f failed), user_ids 0 for none; lines\n"
          "-- only when they are not first_line..last_line. Deleted with the\n"
          "-- import by the trigger, like the error log.\n"
          "CREATE TABLE import_results (\n"
          "    import_id   uuid NOT NULL,\n"
          "    first_line  integer NOT NULL,\n"
          "    last_line   integer NOT NULL,\n"
          "    lines       integer[],\n"
          "    outcomes    text NOT NULL,\n"
          "    user_ids    bigint[] NOT NULL,\n"
          "    PRIMARY KEY (import_id, first_line)\n"
          ");\n"
          "-- A batch's arrays are written once and read rarely: lz4, where the\n"
          "-- server has it, compresses them for a fraction of pglz's time.\n"
          "DO $$\n"
          "BEGIN\n"
          "    EXECUTE 'ALTER TABLE import_results ALTER COLUMN user_ids SET COMPRESSION lz4, '\n"
          "        'ALTER COLUMN outcomes SET COMPRESSION lz4, ALTER COLUMN lines SET COMPRESSION lz4';\n"
          "EXCEPTION WHEN feature_not_supported OR syntax_error THEN\n"
          "    RAISE NOTICE 'this server has no lz4: results stay compressed with pglz';\n"
          "END\n"
          "$$;\n"
          "CREATE OR REPLACE FUNCTION roster_import_deleted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
          "BEGIN\n"
          "    DELETE FROM import_issues WHERE import_id = OLD.id;\n"
          "    DELETE FROM import_rows WHERE import_id = OLD.id;\n"
          "    DELETE FROM import_results WHERE import_id = OLD.id;\n"
          "    RETURN NULL;\n"
          "END\n"
          "$$;\n" },
        { 10, "full sync: users a file does not list are archived, guarded by a threshold",
          "-- missing = 'archive': the users of the import's roles that its file\n"
          "-- does not list are set inactive when it ends (archive_store.c),\n"
          "-- unless they are more than change_threshold percent of those roles'\n"
          "-- active users: the import is then held until a commit or a cancel.\n"
          "-- email_column: the file's Email column, to find the users of its\n"
          "-- failed rows, who are listed too.\n"
          "ALTER TABLE imports ADD COLUMN missing text NOT NULL DEFAULT 'keep' CHECK (missing IN ('keep', 'archive')),\n"
          "    ADD COLUMN change_threshold integer NOT NULL DEFAULT 10 CHECK (change_threshold BETWEEN 0 AND 100),\n"
          "    ADD COLUMN archived integer NOT NULL DEFAULT 0,\n"
          "    ADD COLUMN email_column integer;\n"
          "ALTER TABLE imports DROP CONSTRAINT imports_state_check;\n"
          "ALTER TABLE imports ADD CONSTRAINT imports_state_check CHECK (state IN ('queued', 'processing',\n"
          "    'validating', 'validated', 'held', 'completed', 'completed_with_errors', 'failed', 'cancelled'));\n"
          "-- The users an import archived (or, in a dry run or while it is held,\n"
          "-- would archive).\n"
          "CREATE TABLE import_archived (\n"
          "    import_id  uuid NOT NULL REFERENCES imports(id) ON DELETE CASCADE,\n"
          "    user_id    bigint NOT NULL,\n"
          "    PRIMARY KEY (import_id, user_id)\n"
          ");\n"
          "-- Webhooks: a held import is waited for too, and events count the\n"
          "-- archived users.\n"
          "CREATE OR REPLACE FUNCTION roster_import_webhook() RETURNS trigger LANGUAGE plpgsql AS $$\n"
          "DECLARE\n"
          "    event_id uuid := gen_random_uuid();\n"
          "    self text := '/v1/imports/' || NEW.id;\n"
          "BEGIN\n"
          "    INSERT INTO webhook_deliveries (id, import_id, account_id, type, url, body)\n"
          "    VALUES (event_id, NEW.id, NEW.account_id, 'import.' || NEW.state, NEW.callback_url,\n"
          "        json_build_object(\n"
          "            'id', event_id,\n"
          "            'type', 'import.' || NEW.state,\n"
          "            'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),\n"
          "            'import', json_build_object(\n"
          "                'id', NEW.id,\n"
          "                'state', NEW.state,\n"
          "                'dry_run', NEW.dry_run,\n"
          "                'role', NEW.role_key,\n"
          "                'mode', NEW.mode,\n"
          "                'counts', json_build_object(\n"
          "                    'rows_total', NEW.rows_total, 'rows_processed', NEW.rows_processed,\n"
          "                    'created', NEW.created, 'updated', NEW.updated, 'unchanged', NEW.unchanged,\n"
          "                    'failed', NEW.failed, 'archived', NEW.archived, 'invites', NEW.invites,\n"
          "                    'warnings', NEW.warning_rows),\n"
          "                'error', CASE WHEN NEW.error_code IS NULL THEN NULL ELSE\n"
          "                    json_build_object('code', NEW.error_code, 'message', coalesce(NEW.error_message, ''))\n"
          "                    END,\n"
          "                'links', json_build_object(\n"
          "                    'self', self, 'errors', self || '/errors', 'errors_csv', self || '/errors.csv',\n"
          "                    'results', self || '/results', 'results_csv', self || '/results.csv'))\n"
          "        )::text);\n"
          "    RETURN NULL;\n"
          "END\n"
          "$$;\n"
          "DROP TRIGGER imports_webhook ON imports;\n"
          "CREATE TRIGGER imports_webhook AFTER UPDATE OF state ON imports FOR EACH ROW\n"
          "    WHEN (NEW.callback_url IS NOT NULL AND NEW.state IS DISTINCT FROM OLD.state\n"
          "          AND NEW.state IN ('validated', 'held', 'completed', 'completed_with_errors', 'failed',\n"
          "                            'cancelled'))\n"
          "    EXECUTE FUNCTION roster_import_webhook();\n" },
        { 11, "links between users of an account, by email",
          "-- link.<kind> columns (\"Manager Email\" is link.manager): the user,\n"
          "-- the kind of link, the user linked to. A row's cell replaces the\n"
          "-- user's links of that kind.\n"
          "CREATE TABLE user_links (\n"
          "    user_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
          "    kind       text NOT NULL CHECK (kind ~ '^[a-z0-9_]{1,64}$'),\n"
          "    target_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
          "    PRIMARY KEY (user_id, kind, target_id)\n"
          ");\n"
          "CREATE INDEX user_links_target ON user_links (target_id);\n"
          "-- Scratch: links to users the file creates on a later line, made when\n"
          "-- the import ends (link_store.c); emptied then, or when it stops.\n"
          "CREATE TABLE import_links (\n"
          "    import_id    uuid NOT NULL,\n"
          "    line         integer NOT NULL,\n"
          "    row_number   integer NOT NULL,\n"
          "    user_id      bigint NOT NULL,\n"
          "    kind         text NOT NULL,\n"
          "    email_lower  text NOT NULL,\n"
          "    PRIMARY KEY (import_id, line, kind, email_lower)\n"
          ");\n" },
};

int schema_latest_version(void) {
        return migrations[ELEMENTSOF(migrations) - 1].version;
}

static int exec_script(Db *db, const char *sql) {
        PGresult *r = PQexec(db->conn, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                PQclear(r);
                return 0;
        }
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
        snprintf(db->errmsg, sizeof db->errmsg, "%s", PQresultErrorMessage(r));
        if (!state)
                db->broken = PQstatus(db->conn) == CONNECTION_BAD;
        PQclear(r);
        return -EIO;
}

int schema_migrate(Db *db, int *ret_from, int *ret_to) {
        int current = 0, r;

        /* Two migrators at once (two hosts deploying) wait for each other. */
        if ((r = exec_script(db, "SELECT pg_advisory_lock(7461726)")) < 0)
                return r;
        r = exec_script(db,
                        "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
                        "    version      integer PRIMARY KEY,\n"
                        "    description  text NOT NULL,\n"
                        "    applied_at   timestamptz NOT NULL DEFAULT now()\n"
                        ")");
        if (r < 0)
                goto out;

        PGresult *res = db_exec(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
        if (!res) {
                r = -EIO;
                goto out;
        }
        current = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (ret_from)
                *ret_from = current;

        for (size_t i = 0; i < ELEMENTSOF(migrations); i++) {
                if (migrations[i].version <= current)
                        continue;
                char version[16];
                snprintf(version, sizeof version, "%d", migrations[i].version);
                const char *params[] = { version, migrations[i].description };
                if ((r = exec_script(db, "BEGIN")) < 0)
                        goto out;
                if ((r = exec_script(db, migrations[i].sql)) < 0 ||
                    (r = db_run(db, "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", 2,
                                params)) < 0 ||
                    (r = exec_script(db, "COMMIT")) < 0) {
                        char state[6], msg[512];
                        snprintf(state, sizeof state, "%s", db->sqlstate);
                        snprintf(msg, sizeof msg, "migration %d: %.480s", migrations[i].version, db->errmsg);
                        PQclear(PQexec(db->conn, "ROLLBACK"));
                        snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state);
                        snprintf(db->errmsg, sizeof db->errmsg, "%s", msg);
                        r = -EIO;
                        goto out;
                }
                current = migrations[i].version;
        }
        if (ret_to)
                *ret_to = current;
        r = 0;
out:
        if (!db->broken)
                PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock(7461726)"));
        return r;
}

int schema_check(Db *db) {
        PGresult *res = db_exec(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL);
        if (!res)
                return db_sqlstate_is(db, "42P01") ? -ENOENT : -EIO;
        int v = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (v < schema_latest_version())
                return -ENOENT;
        return v;
}
