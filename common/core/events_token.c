#include "events_token.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

#define MAC_HEX (SHA256_DIGEST_SIZE * 2)
#define UUID_LEN 36

/* The MAC's hex digits, over "events|<import id, lower case>|<token id>|<expiry>". */
static int mac_of(int64_t token_id, const char *token_hash, const char *import_id, int64_t expires,
                  char out[MAC_HEX + 1]) {
        char msg[128], id[UUID_LEN + 1];
        if (strlen(import_id) != UUID_LEN)
                return -EINVAL;
        for (size_t i = 0; i <= UUID_LEN; i++)
                id[i] = (char) tolower((unsigned char) import_id[i]);
        snprintf(msg, sizeof msg, "events|%s|%" PRId64 "|%" PRId64, id, token_id, expires);
        uint8_t mac[SHA256_DIGEST_SIZE];
        sha256_hmac(token_hash, strlen(token_hash), msg, strlen(msg), mac);
        sha256_to_hex(mac, sizeof mac, out);
        return 0;
}

int events_token_make(int64_t token_id, const char *token_hash, const char *import_id, int64_t expires,
                      char out[EVENTS_TOKEN_SIZE]) {
        char mac[MAC_HEX + 1];
        if (token_id <= 0 || expires <= 0 || !token_hash || !*token_hash || !import_id ||
            mac_of(token_id, token_hash, import_id, expires, mac) < 0)
                return -EINVAL;
        snprintf(out, EVENTS_TOKEN_SIZE, EVENTS_TOKEN_PREFIX "%" PRId64 "_%" PRId64 "_%s", token_id, expires, mac);
        return 0;
}

/* A positive decimal number of at most 18 digits, ended by '_'. */
static const char *number(const char *p, int64_t *ret) {
        int64_t v = 0;
        size_t n = 0;
        for (; isdigit((unsigned char) *p) && n < 18; p++, n++)
                v = v * 10 + (*p - '0');
        if (n == 0 || *p != '_' || v <= 0)
                return NULL;
        *ret = v;
        return p + 1;
}

int events_token_parse(const char *s, int64_t *ret_token_id, int64_t *ret_expires) {
        if (!s || strncmp(s, EVENTS_TOKEN_PREFIX, strlen(EVENTS_TOKEN_PREFIX)) != 0)
                return -EINVAL;
        int64_t id, expires;
        const char *p = number(s + strlen(EVENTS_TOKEN_PREFIX), &id);
        if (!p || !(p = number(p, &expires)) || strlen(p) != MAC_HEX)
                return -EINVAL;
        for (size_t i = 0; i < MAC_HEX; i++)
                if (!isdigit((unsigned char) p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
                        return -EINVAL;
        *ret_token_id = id;
        *ret_expires = expires;
        return 0;
}

bool events_token_valid(const char *s, const char *token_hash, const char *import_id, int64_t now) {
        int64_t id, expires;
        char mac[MAC_HEX + 1];
        if (events_token_parse(s, &id, &expires) < 0 || expires < now ||
            expires > now + EVENTS_TOKEN_TTL_SECONDS + 60 || !token_hash || !import_id ||
            mac_of(id, token_hash, import_id, expires, mac) < 0)
                return false;
        /* In constant time: the MAC is what an attacker would guess. */
        const char *given = s + strlen(s) - MAC_HEX;
        unsigned diff = 0;
        for (size_t i = 0; i < MAC_HEX; i++)
                diff |= (unsigned) (given[i] ^ mac[i]);
        return diff == 0;
}
