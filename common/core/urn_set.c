#include "urn_set.h"

#include <stdlib.h>
#include <string.h>

/* Slots are 0 when free (URNs start at 1); the table is kept at most half
 * full, so a probe ends soon. */
struct UrnSet {
        uint32_t *slots;
        size_t mask;
        size_t n, capacity;
};

UrnSet *urn_set_new(size_t capacity) {
        size_t size = 16;
        while (size < capacity * 2)
                size *= 2;
        UrnSet *s = calloc(1, sizeof *s);
        if (!s)
                return NULL;
        if (!(s->slots = calloc(size, sizeof *s->slots))) {
                free(s);
                return NULL;
        }
        s->mask = size - 1;
        s->capacity = capacity;
        return s;
}

void urn_set_free(UrnSet *s) {
        if (!s)
                return;
        free(s->slots);
        free(s);
}

static size_t slot_of(const UrnSet *s, uint32_t urn) {
        size_t k = (urn * 2654435761u) & s->mask;
        while (s->slots[k] && s->slots[k] != urn)
                k = (k + 1) & s->mask;
        return k;
}

static bool valid(int64_t urn) {
        return urn > 0 && urn < INT32_MAX;
}

bool urn_set_has(const UrnSet *s, int64_t urn) {
        return s && valid(urn) && s->slots[slot_of(s, (uint32_t) urn)] == (uint32_t) urn;
}

void urn_set_add(UrnSet *s, int64_t urn) {
        if (!s || !valid(urn) || s->n >= s->capacity)
                return;
        size_t k = slot_of(s, (uint32_t) urn);
        if (!s->slots[k]) {
                s->slots[k] = (uint32_t) urn;
                s->n++;
        }
}

void urn_set_clear(UrnSet *s) {
        if (!s || !s->n)
                return;
        memset(s->slots, 0, (s->mask + 1) * sizeof *s->slots);
        s->n = 0;
}

size_t urn_set_count(const UrnSet *s) {
        return s ? s->n : 0;
}
