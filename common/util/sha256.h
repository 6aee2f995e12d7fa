/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), streaming.
 *
 * Sha256 is a plain struct: sha256_init(), any number of sha256_update(),
 * then sha256_final() writes 32 bytes. Nothing is allocated. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (SHA256_DIGEST_SIZE * 2 + 1)

typedef struct Sha256 {
        uint32_t state[8];
        uint64_t length; /* bytes hashed so far */
        uint8_t block[64];
        size_t fill; /* bytes waiting in block */
} Sha256;

/* Streaming SHA-256: init, update with the data in any pieces, final. */
void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t len);
void sha256_final(Sha256 *s, uint8_t out[SHA256_DIGEST_SIZE]);

/* HMAC-SHA256, streaming: init with the key, update with the message in
 * as many pieces as it comes, final. */
typedef struct Sha256Hmac {
        Sha256 inner;
        uint8_t key[64];
} Sha256Hmac;

/* As sha256_init() and friends, keyed. */
void sha256_hmac_init(Sha256Hmac *h, const void *key, size_t key_len);
void sha256_hmac_update(Sha256Hmac *h, const void *data, size_t len);
void sha256_hmac_final(Sha256Hmac *h, uint8_t out[SHA256_DIGEST_SIZE]);

/* One-shot helpers. */
void sha256_digest(const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]);
void sha256_hmac(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[SHA256_DIGEST_SIZE]);

/* Writes 2*len lowercase hex digits and a NUL to out. */
void sha256_to_hex(const uint8_t *in, size_t len, char *out);
