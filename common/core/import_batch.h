/* ImportBatch: the rows between two checkpoints of an import. The job
 * runner fills it record by record (each row checked by the row rules),
 * then user_store writes it in one transaction.
 *
 * Pure. Ownership: the batch owns everything in its arena; rows are valid
 * until import_batch_reset()/import_batch_done(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "csv_reader.h"
#include "header_map.h"
#include "row_rules.h"

typedef struct BatchRow {
        UserRow user;
        const char *cells_json; /* the record's cells as a JSON array */
        size_t n_rule_issues; /* issues from the row rules; later ones come from the database */
        bool register_email; /* the first row of the import with this email so far */
        /* Found by the database look-up and checks (user_store.c);
         * cleared by import_batch_rewind(). */
        int64_t user_id; /* the existing user with this email, 0 when none */
        bool user_linked; /* that user has an establishment */
        bool matches_user; /* that user has every value the row sets */
        bool urn_unknown; /* no establishment has the row's URN */
        bool pupils_ignored; /* the user's establishment overrides the row's UPNs */
        bool unchanged; /* the row did not fail and matches its user: nothing to write */
} BatchRow;

typedef struct ImportBatch {
        BatchRow *rows;
        size_t n, cap;
        Arena arena;
        /* Rows are read for their emails only (registering them): their
         * cells are not kept (cells_json is NULL). */
        bool keys_only;
        /* The rows were looked up ahead of the write (user_store_look_up_send()). */
        bool looked_up;
} ImportBatch;

#define IMPORT_BATCH_INIT ((ImportBatch){ NULL, 0, 0, ARENA_INIT, false, false })

/* Checks a data record and appends it. 0 or -ENOMEM. */
int import_batch_add(ImportBatch *b, const RuleContext *ctx, const HeaderMap *hm, const CsvRecord *rec,
                     unsigned long row_number) _must_check_;

/* Fails every row whose email appeared on an earlier row of this batch
 * (duplicate_in_file, naming that line); the first occurrence keeps
 * register_email. 0 or -ENOMEM. */
int import_batch_mark_duplicates(ImportBatch *b) _must_check_;

/* Drops the issues added after the row rules and what the database
 * look-up found (before a transaction is tried again). */
void import_batch_rewind(ImportBatch *b);

/* Rows that failed / that carry a warning (and did not fail). */
size_t import_batch_failed(const ImportBatch *b);
size_t import_batch_warned(const ImportBatch *b);

/* Empties the batch for the next rows, keeping its memory /
 * frees everything it holds (not b itself). */
void import_batch_reset(ImportBatch *b);
void import_batch_done(ImportBatch *b);
