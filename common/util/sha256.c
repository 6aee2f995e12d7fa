#include "sha256.h"

#include <string.h>

static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n) {
        return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t st[8], const uint8_t *p) {
        uint32_t w[64];

        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 |
                       (uint32_t) p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }

        uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
        for (int i = 0; i < 64; i++) {
                uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
                uint32_t ch = (e & f) ^ (~e & g);
                uint32_t t1 = h + S1 + ch + K[i] + w[i];
                uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
                uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
                uint32_t t2 = S0 + maj;
                h = g;
                g = f;
                f = e;
                e = d + t1;
                d = c;
                c = b;
                b = a;
                a = t1 + t2;
        }
        st[0] += a;
        st[1] += b;
        st[2] += c;
        st[3] += d;
        st[4] += e;
        st[5] += f;
        st[6] += g;
        st[7] += h;
}

void sha256_init(Sha256 *s) {
        static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
        memcpy(s->state, iv, sizeof iv);
        s->length = 0;
        s->fill = 0;
}

void sha256_update(Sha256 *s, const void *data, size_t len) {
        const uint8_t *p = data;

        s->length += len;
        if (s->fill) {
                size_t take = 64 - s->fill < len ? 64 - s->fill : len;
                memcpy(s->block + s->fill, p, take);
                s->fill += take;
                p += take;
                len -= take;
                if (s->fill < 64)
                        return;
                compress(s->state, s->block);
                s->fill = 0;
        }
        for (; len >= 64; p += 64, len -= 64)
                compress(s->state, p);
        memcpy(s->block, p, len);
        s->fill = len;
}

void sha256_final(Sha256 *s, uint8_t out[SHA256_DIGEST_SIZE]) {
        uint64_t bits = s->length * 8;

        s->block[s->fill++] = 0x80;
        if (s->fill > 56) {
                memset(s->block + s->fill, 0, 64 - s->fill);
                compress(s->state, s->block);
                s->fill = 0;
        }
        memset(s->block + s->fill, 0, 56 - s->fill);
        for (int i = 0; i < 8; i++)
                s->block[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
        compress(s->state, s->block);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t) (s->state[i] >> 24);
                out[4 * i + 1] = (uint8_t) (s->state[i] >> 16);
                out[4 * i + 2] = (uint8_t) (s->state[i] >> 8);
                out[4 * i + 3] = (uint8_t) s->state[i];
        }
}

void sha256_digest(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]) {
        Sha256 s;
        sha256_init(&s);
        sha256_update(&s, data, len);
        sha256_final(&s, out);
}

void sha256_hmac_init(Sha256Hmac *h, const void *key, size_t key_len) {
        uint8_t pad[64];

        memset(h->key, 0, sizeof h->key);
        if (key_len > sizeof h->key)
                sha256_digest(key, key_len, h->key);
        else
                memcpy(h->key, key, key_len);
        for (int i = 0; i < 64; i++)
                pad[i] = h->key[i] ^ 0x36;
        sha256_init(&h->inner);
        sha256_update(&h->inner, pad, 64);
}

void sha256_hmac_update(Sha256Hmac *h, const void *data, size_t len) {
        sha256_update(&h->inner, data, len);
}

void sha256_hmac_final(Sha256Hmac *h, uint8_t out[SHA256_DIGEST_SIZE]) {
        uint8_t pad[64], inner[SHA256_DIGEST_SIZE];
        Sha256 s;

        sha256_final(&h->inner, inner);
        for (int i = 0; i < 64; i++)
                pad[i] = h->key[i] ^ 0x5c;
        sha256_init(&s);
        sha256_update(&s, pad, 64);
        sha256_update(&s, inner, sizeof inner);
        sha256_final(&s, out);
}

void sha256_hmac(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]) {
        Sha256Hmac h;
        sha256_hmac_init(&h, key, key_len);
        sha256_hmac_update(&h, data, len);
        sha256_hmac_final(&h, out);
}

void sha256_to_hex(const uint8_t *in, size_t len, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 15];
        }
        out[2 * len] = '\0';
}
