/* Unit tests for common/core/events_token.h: a token made for an import is
 * valid for it until it expires, and for nothing else: not another
 * import, not another API token's key, not altered, not too far ahead. */
#include <errno.h>
#include <string.h>

#include "events_token.h"
#include "tap.h"

#define IMPORT "0b7d2c1e-4a5f-4f3a-9c1d-2e3f4a5b6c7d"
#define OTHER "0b7d2c1e-4a5f-4f3a-9c1d-2e3f4a5b6c7e"
#define HASH "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
#define HASH2 "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"

int main(void) {
        char tok[EVENTS_TOKEN_SIZE];
        const int64_t now = 1800000000;
        is_int(events_token_make(42, HASH, IMPORT, now + 300, tok), 0, "make a token");
        ok(strncmp(tok, "rse_42_1800000300_", 18) == 0 && strlen(tok) == 18 + 64, "its shape: rse_id_expiry_mac");

        int64_t id = 0, expires = 0;
        is_int(events_token_parse(tok, &id, &expires), 0, "parse it");
        ok(id == 42 && expires == now + 300, "its token id and expiry");

        ok(events_token_valid(tok, HASH, IMPORT, now), "valid for its import, now");
        ok(events_token_valid(tok, HASH, "0B7D2C1E-4A5F-4F3A-9C1D-2E3F4A5B6C7D", now + 300),
           "the import id in any case, until the expiry itself");
        ok(!events_token_valid(tok, HASH, IMPORT, now + 301), "not after it expires");
        ok(!events_token_valid(tok, HASH, OTHER, now), "not for another import");
        ok(!events_token_valid(tok, HASH2, IMPORT, now), "not with another API token's key");

        char forged[EVENTS_TOKEN_SIZE];
        memcpy(forged, tok, sizeof tok);
        forged[strlen(forged) - 1] ^= 1;
        ok(!events_token_valid(forged, HASH, IMPORT, now), "not with one digit of the MAC changed");
        memcpy(forged, tok, sizeof tok);
        memcpy(forged + 7, "9999999999", 10);
        ok(!events_token_valid(forged, HASH, IMPORT, now), "not with the expiry moved");

        /* A token that says it lasts a day was not made here. */
        is_int(events_token_make(42, HASH, IMPORT, now + 86400, tok), 0, "make a day-long token");
        ok(!events_token_valid(tok, HASH, IMPORT, now), "one that lasts longer than the TTL is refused");

        static const char *const bad[] = {
                "", "rse_", "rst_42_1800000300_" HASH, "rse_x_1800000300_" HASH, "rse_42__" HASH,
                "rse_0_1800000300_" HASH, "rse_42_1800000300_" HASH "0", "rse_42_1800000300_XYZ",
                "rse_42_1800000300", "rse_1234567890123456789_1800000300_" HASH,
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                ok(events_token_parse(bad[i], &id, &expires) == -EINVAL && !events_token_valid(bad[i], HASH, IMPORT, now),
                   "refused: \"%s\"", bad[i]);
        ok(events_token_parse(NULL, &id, &expires) == -EINVAL, "refused: NULL");

        is_int(events_token_make(0, HASH, IMPORT, now, tok), -EINVAL, "no token without a token id");
        is_int(events_token_make(1, HASH, "not-a-uuid", now, tok), -EINVAL, "no token for a bad import id");
        return tap_done();
}
