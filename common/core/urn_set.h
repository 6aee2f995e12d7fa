/* UrnSet: a bounded set of establishment URNs (positive integers).
 *
 * The worker keeps the URNs an import has found to exist, so that later
 * batches need not ask the database again (user_store.h). Open
 * addressing in a table fixed when the set is made; once the set holds
 * its capacity, adding does nothing (the URNs not held are asked for as
 * before).
 *
 * Pure. The set owns its table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct UrnSet UrnSet;

/* A set that holds up to `capacity` URNs; NULL when out of memory. */
UrnSet *urn_set_new(size_t capacity);
void urn_set_free(UrnSet *s);
DEFINE_CLEANUP_FUNC(UrnSet *, urn_set_free);

/* Whether the URN is held. NULL holds nothing. */
bool urn_set_has(const UrnSet *s, int64_t urn);

/* Adds a URN (> 0 and < 2^31; others are ignored), unless the set is full. */
void urn_set_add(UrnSet *s, int64_t urn);

/* Empties the set. */
void urn_set_clear(UrnSet *s);

/* How many URNs the set holds. */
size_t urn_set_count(const UrnSet *s);
