/* EmailFilter: which emails of a file may appear on more than one row.
 *
 * Filled in one pass over the whole file before its rows are imported:
 * every row's email goes into a Bloom filter of the emails seen, and an
 * email that filter already holds goes into a second one, of the emails
 * that may repeat. A Bloom filter has false positives but no false
 * negatives, so an email the second filter does not hold is on one row of
 * the file only: the duplicate check need not register it nor look it up
 * (user_store.h). Real repeats and a small share of false positives are
 * checked as before.
 *
 * Emails are compared as the row rules compare them: ASCII letters without
 * case (a valid email is ASCII); anything else byte for byte.
 *
 * Memory is fixed when the filter is made, from the number of rows
 * expected (16 bits a row for the emails seen, a quarter of that for the
 * repeats, 20 MiB at most): a file with more rows only gets more false
 * positives.
 *
 * Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct EmailFilter EmailFilter;

/* A filter sized for `expected_rows`; NULL when out of memory. */
EmailFilter *email_filter_new(size_t expected_rows);
void email_filter_free(EmailFilter *f);
DEFINE_CLEANUP_FUNC(EmailFilter *, email_filter_free);

/* Adds the email of one row. */
void email_filter_add(EmailFilter *f, const char *email, size_t len);

/* False when the email is surely on one row of the file at most. */
bool email_filter_may_repeat(const EmailFilter *f, const char *email, size_t len);

/* EmailSet: every email of a file, filled in the same pass, for files
 * with link columns: whether a link names a user the same file creates.
 * Kept as the 64-bit hashes the filters use, sorted once filled (8 bytes
 * a row): two emails of a million-row file share a hash with a chance of
 * about 1 in 10^13. Emails compare as in the filter. */
typedef struct EmailSet EmailSet;

/* A new empty set, or NULL when out of memory; free with
 * email_set_free() (NULL is a no-op). */
EmailSet *email_set_new(void);
void email_set_free(EmailSet *s);
DEFINE_CLEANUP_FUNC(EmailSet *, email_set_free);
/* 0 or -ENOMEM. */
int email_set_add(EmailSet *s, const char *email, size_t len) _must_check_;
/* Ends the filling: afterwards only email_set_has() may be called. */
void email_set_seal(EmailSet *s);
bool email_set_has(const EmailSet *s, const char *email, size_t len);
