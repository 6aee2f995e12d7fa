/* Fuzz target for common/core/events_token.h: any bytes as the access_token of
 * an events URL (attacker-controlled, before any database lookup).
 *
 * Parsing must not crash or read past the string, a token that parses must
 * give a positive id and expiry, and nothing but the exact token made with
 * the key validates: a valid verdict for the fuzzer's bytes means they are
 * the token events_token_make() gives for the same id and expiry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMPORT "0b7d2c1e-4a5f-4f3a-9c1d-2e3f4a5b6c7d"
#define HASH "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';

        int64_t id = 0, expires = 0;
        if (events_token_parse(s, &id, &expires) == 0 && (id <= 0 || expires <= 0))
                abort();
        if (events_token_valid(s, HASH, IMPORT, expires > 60 ? expires - 60 : 0)) {
                char made[EVENTS_TOKEN_SIZE];
                if (events_token_make(id, HASH, IMPORT, expires, made) < 0 || strcmp(made, s) != 0)
                        abort();
        }
        free(s);
        return 0;
}
