/* fuzz_input.h: how roster's fuzz targets read an input, shared by all of
 * them. Header only.
 *
 * The first byte of an input steers the run, the rest is the body:
 *
 *   bits 0-1  the delimiter: 0 detect it, 1 ',', 2 ';', 3 tab
 *   bits 2-4  n: the next n bytes are chunk lengths (each byte + 1, used
 *             in turn); with n = 0 the lengths come from a small generator
 *             seeded with a hash of the body, so each input gets its own
 *             cuts and a mutation of the body moves them
 *   bits 5-6  two flags for the target to use as it likes
 *   bit 7     with both flags set: repeat the body until it is 70 KiB
 *             long, past the CSV reader's 64 KiB field limit and the
 *             upload scan's 64 KiB first line, which short inputs cannot
 *             reach (for targets that ask for it). Rare on purpose: such
 *             runs are slow.
 *
 * Seeds of plain text start with a space: delimiter detected, cuts from
 * the hash, flag bit 5 set, no repetition. The fixtures in tests/fixtures
 * are used as they are, their first byte steering. Any bytes are a valid
 * input.
 *
 * The checks abort(): libFuzzer then keeps the input as a crash. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REPEAT_TO (70u * 1024)

typedef struct FuzzInput {
        char delimiter; /* 0: detect */
        unsigned flags; /* bits 5-6 of the control byte, as 0..3 */
        const uint8_t *cuts;
        size_t n_cuts;
        uint64_t seed;

        const uint8_t *body;
        size_t len;
        uint8_t *owned; /* the repeated body, or NULL */

        /* Where the cutting stands: rewound for each pass. */
        size_t cut_next;
        uint64_t rng;
} FuzzInput;

/* FNV-1a, to compare runs cheaply and to seed the cuts. */
_unused_ static uint64_t fuzz_hash(uint64_t h, const void *p, size_t len) {
        const uint8_t *b = p;
        for (size_t i = 0; i < len; i++) {
                h ^= b[i];
                h *= 0x100000001b3ull;
        }
        return h;
}

#define FUZZ_HASH_INIT 0xcbf29ce484222325ull

_unused_ static uint64_t fuzz_hash_u64(uint64_t h, uint64_t v) {
        return fuzz_hash(h, &v, sizeof v);
}

_unused_ static void fuzz_input_rewind(FuzzInput *in) {
        in->cut_next = 0;
        in->rng = in->seed | 1;
}

/* Splits data into control and body; repeat: whether bit 7 may repeat
 * the body. Aborts when out of memory. */
_unused_ static void fuzz_input_init(FuzzInput *in, const uint8_t *data, size_t size, bool repeat) {
        static const char delimiters[] = { 0, ',', ';', '\t' };

        *in = (FuzzInput){ 0 };
        if (size == 0) {
                in->body = data;
                fuzz_input_rewind(in);
                return;
        }
        uint8_t c = data[0];
        data++, size--;
        in->delimiter = delimiters[c & 3];
        in->flags = (c >> 5) & 3;
        in->n_cuts = MIN((size_t) ((c >> 2) & 7), size);
        in->cuts = data;
        in->body = data + in->n_cuts;
        in->len = size - in->n_cuts;

        if (repeat && (c & 0xE0) == 0xE0 && in->len) {
                size_t times = (FUZZ_REPEAT_TO + in->len - 1) / in->len;
                in->owned = malloc(times * in->len);
                if (!in->owned)
                        abort();
                for (size_t i = 0; i < times; i++)
                        memcpy(in->owned + i * in->len, in->body, in->len);
                in->body = in->owned;
                in->len *= times;
        }
        in->seed = fuzz_hash(FUZZ_HASH_INIT, in->body, MIN(in->len, (size_t) 4096));
        fuzz_input_rewind(in);
}

_unused_ static void fuzz_input_done(FuzzInput *in) {
        free(in->owned);
        in->owned = NULL;
}

/* The length of the next chunk, 1..left (left > 0). */
_unused_ static size_t fuzz_input_cut(FuzzInput *in, size_t left) {
        size_t n;
        if (in->n_cuts) {
                n = (size_t) in->cuts[in->cut_next] + 1;
                in->cut_next = (in->cut_next + 1) % in->n_cuts;
        } else {
                /* xorshift64: mostly short chunks, now and then a long one. */
                in->rng ^= in->rng << 13;
                in->rng ^= in->rng >> 7;
                in->rng ^= in->rng << 17;
                n = (in->rng >> 8) % 8 == 0 ? (size_t) (in->rng >> 16) % 8192 + 1 : (size_t) (in->rng >> 16) % 16 + 1;
        }
        return MIN(n, left);
}
