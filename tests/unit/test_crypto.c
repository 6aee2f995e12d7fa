/* Unit tests for common/sha256.h (FIPS 180-2 vectors, RFC 4231 HMAC
 * vectors), common/core/token.h and common/util/uuid.h. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "tap.h"
#include "token.h"
#include "uuid.h"

#define S(lit) lit, sizeof(lit) - 1

static const char *hex_of(const uint8_t d[SHA256_DIGEST_SIZE]) {
        static char hex[SHA256_HEX_SIZE];
        sha256_to_hex(d, SHA256_DIGEST_SIZE, hex);
        return hex;
}

static const char *sha256_hex(const void *data, size_t len) {
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_digest(data, len, d);
        return hex_of(d);
}

static void test_sha256(void) {
        /* FIPS 180-2, appendix B. */
        is_str(sha256_hex(S("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
               "sha256(\"abc\")");
        is_str(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256(\"\")");
        static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        is_str(sha256_hex(S(msg448)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
               "sha256 of the 448-bit message");

        /* The same message fed one byte at a time. */
        Sha256 s;
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_init(&s);
        for (size_t i = 0; i < sizeof msg448 - 1; i++)
                sha256_update(&s, msg448 + i, 1);
        sha256_final(&s, d);
        is_str(hex_of(d), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
               "the 448-bit message fed byte by byte");

        /* One million 'a', fed in uneven chunks that cross block
         * boundaries in every way. */
        static const size_t chunks[] = { 1, 63, 64, 65, 3, 127, 128, 1000, 55, 56, 57, 4096, 7 };
        char *a = malloc(1000000);
        if (!a)
                abort();
        memset(a, 'a', 1000000);
        sha256_init(&s);
        size_t off = 0;
        for (size_t i = 0; off < 1000000; i++) {
                size_t n = MIN(chunks[i % ELEMENTSOF(chunks)], 1000000 - off);
                sha256_update(&s, a + off, n);
                off += n;
        }
        sha256_final(&s, d);
        is_str(hex_of(d), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
               "one million 'a' in uneven chunks");
        is_str(sha256_hex(a, 1000000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
               "one million 'a' in one piece");
        free(a);

        /* Lengths around the padding boundary: streaming and one-shot
         * agree, and no two lengths collide. */
        char buf[130];
        char prev[SHA256_HEX_SIZE] = "";
        unsigned mismatches = 0, repeats = 0;
        memset(buf, 'x', sizeof buf);
        for (size_t len = 50; len <= 130; len++) {
                char one[SHA256_HEX_SIZE];
                strcpy(one, sha256_hex(buf, len));
                sha256_init(&s);
                sha256_update(&s, buf, len / 2);
                sha256_update(&s, "", 0);
                sha256_update(&s, buf + len / 2, len - len / 2);
                sha256_final(&s, d);
                if (strcmp(one, hex_of(d)) != 0)
                        mismatches++;
                if (strcmp(one, prev) == 0)
                        repeats++;
                strcpy(prev, one);
        }
        is_int(mismatches, 0, "streaming in two halves equals one-shot for lengths 50..130");
        is_int(repeats, 0, "consecutive lengths give different digests");

        uint8_t bytes[] = { 0x00, 0x0f, 0xa5, 0xff };
        char hex[9];
        sha256_to_hex(bytes, sizeof bytes, hex);
        is_str(hex, "000fa5ff", "sha256_to_hex: lower case, two digits a byte");
}

static void test_hmac(void) {
        uint8_t d[SHA256_DIGEST_SIZE];

        /* RFC 4231 test case 1. */
        uint8_t key1[20];
        memset(key1, 0x0b, sizeof key1);
        sha256_hmac(key1, sizeof key1, S("Hi There"), d);
        is_str(hex_of(d), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "RFC 4231 test case 1");

        /* Test case 2: a key shorter than the block. */
        sha256_hmac(S("Jefe"), S("what do ya want for nothing?"), d);
        is_str(hex_of(d), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "RFC 4231 test case 2");

        /* Test case 6: a 131-byte key, hashed first. */
        uint8_t key6[131];
        memset(key6, 0xaa, sizeof key6);
        sha256_hmac(key6, sizeof key6, S("Test Using Larger Than Block-Size Key - Hash Key First"), d);
        is_str(hex_of(d), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", "RFC 4231 test case 6");

        /* Test case 7: long key and long data. */
        sha256_hmac(key6, sizeof key6,
                    S("This is a test using a larger than block-size key and a larger than block-size data. The key "
                      "needs to be hashed before being used by the HMAC algorithm."),
                    d);
        is_str(hex_of(d), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", "RFC 4231 test case 7");

        /* A 64-byte key is used as it is, a 65-byte key is hashed: they
         * must differ from each other. */
        uint8_t k64[65], d2[SHA256_DIGEST_SIZE];
        memset(k64, 'k', sizeof k64);
        sha256_hmac(k64, 64, S("data"), d);
        sha256_hmac(k64, 65, S("data"), d2);
        ok(memcmp(d, d2, sizeof d) != 0, "64- and 65-byte keys give different MACs");
}

static bool all_in(const char *s, size_t len, const char *alphabet) {
        for (size_t i = 0; i < len; i++)
                if (!strchr(alphabet, s[i]) || !s[i])
                        return false;
        return true;
}

static void test_token(void) {
        static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        char t1[TOKEN_LENGTH + 1], t2[TOKEN_LENGTH + 1];

        memset(t1, 'Z', sizeof t1);
        is_int(token_generate(t1), 0, "token_generate");
        is_int(strlen(t1), TOKEN_LENGTH, "a token is %d characters", TOKEN_LENGTH);
        ok(strncmp(t1, "rst_", 4) == 0, "a token starts with rst_: %s", t1);
        ok(all_in(t1 + 4, 43, b64url), "a token's body is base64url");
        ok(token_is_well_formed(t1, strlen(t1)), "a generated token is well formed");
        is_int(token_generate(t2), 0, "token_generate again");
        ok(strcmp(t1, t2) != 0, "two tokens differ");

        /* Over many tokens every base64url character shows up, and the
         * last character (whose low bits are padding) varies too. */
        char seen[256] = { 0 }, last_seen[256] = { 0 };
        unsigned distinct = 0, distinct_last = 0;
        for (int i = 0; i < 200; i++) {
                if (token_generate(t2) < 0)
                        abort();
                for (int k = 4; k < TOKEN_LENGTH; k++)
                        if (!seen[(unsigned char) t2[k]]++)
                                distinct++;
                if (!last_seen[(unsigned char) t2[TOKEN_LENGTH - 1]]++)
                        distinct_last++;
        }
        is_int(distinct, 64, "200 tokens use all 64 characters");
        ok(distinct_last > 8, "the last character varies (%u values)", distinct_last);

        char bad[TOKEN_LENGTH + 2];
        memcpy(bad, t1, sizeof t1);
        bad[0] = 'x';
        ok(!token_is_well_formed(bad, TOKEN_LENGTH), "a wrong prefix is refused");
        ok(!token_is_well_formed(t1, TOKEN_LENGTH - 1), "a token one short is refused");
        memcpy(bad, t1, sizeof t1);
        bad[TOKEN_LENGTH] = 'A';
        bad[TOKEN_LENGTH + 1] = '\0';
        ok(!token_is_well_formed(bad, TOKEN_LENGTH + 1), "a token one long is refused");
        static const char wrong[] = "+/=. \0";
        for (size_t i = 0; i < sizeof wrong - 1; i++) {
                memcpy(bad, t1, sizeof t1);
                bad[20] = wrong[i];
                ok(!token_is_well_formed(bad, TOKEN_LENGTH), "a token with '%c' (0x%02x) is refused",
                   isprint((unsigned char) wrong[i]) ? wrong[i] : '?', (unsigned) (unsigned char) wrong[i]);
        }
        ok(!token_is_well_formed("", 0), "an empty token is refused");
        ok(token_is_well_formed("rst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_", TOKEN_LENGTH),
           "a hand-made token of the right shape is accepted");

        char h[SHA256_HEX_SIZE];
        token_hash(S("rst_abc"), h);
        is_str(h, sha256_hex(S("rst_abc")), "token_hash is the hex sha256 of the token");

        const char *p = NULL;
        size_t len = 0;
        is_int(token_from_authorization("Bearer abc.def", &p, &len), 0, "\"Bearer x\"");
        is_mem(p, len, "abc.def", 7, "... the token");
        is_int(token_from_authorization("bearer  abc", &p, &len), 0, "\"bearer  x\": scheme case-insensitive");
        is_mem(p, len, "abc", 3, "... the token without the spaces");
        is_int(token_from_authorization("  BEARER\tabc \t", &p, &len), 0, "tabs and outer spaces");
        is_mem(p, len, "abc", 3, "... the token");

        static const struct {
                const char *h;
                int want;
        } bad_headers[] = {
                { "Basic abc", -EINVAL },  { "Bearer", -EINVAL },     { "Bearer ", -EINVAL },
                { "Bearer a b", -EINVAL }, { "Bearerabc", -EINVAL },  { "Token abc", -EINVAL },
                { "", -ENOENT },           { "   ", -ENOENT },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad_headers); i++) {
                p = (const char *) 0x1;
                is_int(token_from_authorization(bad_headers[i].h, &p, &len), bad_headers[i].want,
                       "Authorization \"%s\": %s", bad_headers[i].h,
                       bad_headers[i].want == -ENOENT ? "-ENOENT" : "-EINVAL");
                ok(p == (const char *) 0x1, "... result left alone");
        }
        is_int(token_from_authorization(NULL, &p, &len), -ENOENT, "no Authorization header: -ENOENT");
}

static void test_scope(void) {
        unsigned mask = 99;
        const char *bad = NULL;
        size_t bad_len = 0;

        is_int(token_scope_parse("imports:read", &mask, &bad, &bad_len), 0, "scope imports:read");
        is_int(mask, SCOPE_IMPORTS_READ, "... read");
        is_int(token_scope_parse("imports:read,imports:write", &mask, NULL, NULL), 0, "both import scopes");
        is_int(mask, SCOPE_IMPORTS_READ | SCOPE_IMPORTS_WRITE, "... both");
        is_int(token_scope_parse(" imports:write , users:read,imports:read ", &mask, NULL, NULL), 0,
               "spaces around scopes");
        is_int(mask, SCOPE_DEFAULT, "... all three");
        is_int(token_scope_parse("imports:write,imports:write", &mask, NULL, NULL), 0, "a scope twice");
        is_int(mask, SCOPE_IMPORTS_WRITE, "... write");

        mask = 99;
        is_int(token_scope_parse("imports:read,imports:delete", &mask, &bad, &bad_len), -EINVAL, "an unknown scope: -EINVAL");
        is_mem(bad, bad_len, "imports:delete", 14, "... names the bad scope");
        is_int(mask, 99, "... result left alone");
        is_int(token_scope_parse("imports:read,,imports:write", &mask, &bad, &bad_len), -EINVAL, "an empty scope: -EINVAL");
        is_int(bad_len, 0, "... the bad scope is empty");
        is_int(token_scope_parse("", &mask, NULL, NULL), -EINVAL, "no scope at all: -EINVAL");
        is_int(token_scope_parse("imports", &mask, &bad, &bad_len), -EINVAL, "\"imports\": -EINVAL");
        is_int(token_scope_parse("imports:readx", &mask, &bad, &bad_len), -EINVAL, "\"imports:readx\": -EINVAL");
        is_mem(bad, bad_len, "imports:readx", 13, "... names it");

        is_str(token_scope_name(SCOPE_IMPORTS_READ), "imports:read", "token_scope_name(read)");
        is_str(token_scope_name(SCOPE_IMPORTS_WRITE), "imports:write", "token_scope_name(write)");
        is_str(token_scope_name(SCOPE_USERS_READ), "users:read", "token_scope_name(users)");
        ok(token_scope_name(SCOPE_ALL) == NULL, "token_scope_name of a mask: NULL");

        char text[64];
        is_int(token_scope_format(SCOPE_ALL, text, sizeof text), 0, "format every scope");
        is_str(text, "imports:read,imports:write,users:read,audit:read", "... in the table's order");
        is_int(token_scope_format(SCOPE_USERS_READ, text, sizeof text), 0, "format one");
        is_str(text, "users:read", "... alone");
        is_int(token_scope_format(SCOPE_ALL, text, 12), -ENOBUFS, "too small a buffer: -ENOBUFS");
        ok(strstr(token_scope_missing_message(SCOPE_USERS_READ), "users:read") != NULL,
           "the 403 names the missing scope");
        ok(strstr(token_scope_missing_message(SCOPE_AUDIT_READ), "audit:read") != NULL, "... audit:read too");
        is_int(token_scope_parse("audit:read", &mask, NULL, NULL), 0, "scope audit:read");
        is_int(mask, SCOPE_AUDIT_READ, "... read the audit trail");
}

static void test_uuid(void) {
        char u1[UUID_STRING_SIZE], u2[UUID_STRING_SIZE];

        is_int(uuid_v4(u1), 0, "uuid_v4");
        is_int(strlen(u1), 36, "36 characters");
        ok(uuid_is_valid(u1), "a new UUID is valid: %s", u1);
        is_int(u1[14], '4', "version 4");
        ok(strchr("89ab", u1[19]) != NULL, "RFC 4122 variant (8, 9, a or b): %c", u1[19]);
        ok(all_in(u1, 36, "0123456789abcdef-"), "lower-case hex");
        is_int(uuid_v4(u2), 0, "uuid_v4 again");
        ok(strcmp(u1, u2) != 0, "two UUIDs differ");

        unsigned variants = 0;
        for (int i = 0; i < 100; i++) {
                if (uuid_v4(u2) < 0)
                        abort();
                if (u2[14] != '4' || !strchr("89ab", u2[19]) || !uuid_is_valid(u2))
                        variants++;
        }
        is_int(variants, 0, "100 UUIDs: all version 4, right variant, valid");

        ok(uuid_is_valid("123E4567-E89B-12D3-A456-426614174000"), "upper case and any version are valid");
        ok(!uuid_is_valid("123e4567-e89b-12d3-a456-42661417400"), "35 characters: invalid");
        ok(!uuid_is_valid("123e4567-e89b-12d3-a456-4266141740000"), "37 characters: invalid");
        ok(!uuid_is_valid("123e4567e-89b-12d3-a456-426614174000"), "a dash out of place: invalid");
        ok(!uuid_is_valid("123e4567-e89b-12d3-a456-42661417400g"), "a non-hex digit: invalid");
        ok(!uuid_is_valid("{23e4567-e89b-12d3-a456-426614174000"), "a brace: invalid");
        ok(!uuid_is_valid(""), "empty: invalid");
}

int main(void) {
        test_sha256();
        test_hmac();
        test_token();
        test_scope();
        test_uuid();
        return tap_done();
}
