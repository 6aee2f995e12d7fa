#include "email_filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* Bits per expected row in the filter of emails seen, and probes per
 * email: about 0.05 % false positives at the expected size. */
#define BITS_PER_ROW 16
#define PROBES 8
#define MIN_BITS (1u << 16)
#define MAX_BITS (1u << 27) /* 16 MiB; the repeats' filter adds 4 MiB */

typedef struct Bloom {
        uint64_t *words;
        uint64_t mask; /* bits - 1: sizes are powers of two */
} Bloom;

struct EmailFilter {
        Bloom seen, again;
};

static int bloom_init(Bloom *b, uint64_t bits) {
        b->words = calloc(bits / 64, sizeof *b->words);
        b->mask = bits - 1;
        return b->words ? 0 : -1;
}

/* 64-bit FNV-1a over the email with ASCII letters folded to lower case,
 * then a finaliser (splitmix64) for well-spread bits. */
static uint64_t email_hash(const char *s, size_t len) {
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c >= 'A' && c <= 'Z')
                        c = (unsigned char) (c - 'A' + 'a');
                h = (h ^ c) * 1099511628211ULL;
        }
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebULL;
        return h ^ (h >> 31);
}

/* Probe i of a hash: double hashing, the second step odd so that the
 * probes of one email differ. */
static uint64_t probe(uint64_t h, unsigned i) {
        uint64_t step = (h >> 32 | h << 32) | 1;
        return h + i * step;
}

static bool bloom_has(const Bloom *b, uint64_t h) {
        for (unsigned i = 0; i < PROBES; i++) {
                uint64_t bit = probe(h, i) & b->mask;
                if (!(b->words[bit / 64] & (1ULL << (bit % 64))))
                        return false;
        }
        return true;
}

static void bloom_set(Bloom *b, uint64_t h) {
        for (unsigned i = 0; i < PROBES; i++) {
                uint64_t bit = probe(h, i) & b->mask;
                b->words[bit / 64] |= 1ULL << (bit % 64);
        }
}

EmailFilter *email_filter_new(size_t expected_rows) {
        uint64_t bits = MIN_BITS;
        while (bits < MAX_BITS && bits / BITS_PER_ROW < expected_rows)
                bits *= 2;
        EmailFilter *f = calloc(1, sizeof *f);
        if (!f)
                return NULL;
        if (bloom_init(&f->seen, bits) < 0 || bloom_init(&f->again, bits / 4 < MIN_BITS ? MIN_BITS : bits / 4) < 0) {
                email_filter_free(f);
                return NULL;
        }
        return f;
}

void email_filter_free(EmailFilter *f) {
        if (!f)
                return;
        free(f->seen.words);
        free(f->again.words);
        free(f);
}

void email_filter_add(EmailFilter *f, const char *email, size_t len) {
        uint64_t h = email_hash(email, len);
        if (bloom_has(&f->seen, h))
                bloom_set(&f->again, h);
        else
                bloom_set(&f->seen, h);
}

bool email_filter_may_repeat(const EmailFilter *f, const char *email, size_t len) {
        return bloom_has(&f->again, email_hash(email, len));
}

struct EmailSet {
        uint64_t *hashes;
        size_t n, cap;
};

EmailSet *email_set_new(void) {
        return calloc(1, sizeof(EmailSet));
}

void email_set_free(EmailSet *s) {
        if (!s)
                return;
        free(s->hashes);
        free(s);
}

int email_set_add(EmailSet *s, const char *email, size_t len) {
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 1024;
                uint64_t *h = realloc(s->hashes, cap * sizeof *h);
                if (!h)
                        return -ENOMEM;
                s->hashes = h;
                s->cap = cap;
        }
        s->hashes[s->n++] = email_hash(email, len);
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

void email_set_seal(EmailSet *s) {
        if (s->n)
                qsort(s->hashes, s->n, sizeof *s->hashes, cmp_u64);
}

bool email_set_has(const EmailSet *s, const char *email, size_t len) {
        uint64_t h = email_hash(email, len);
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->hashes[mid] < h)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < s->n && s->hashes[lo] == h;
}
