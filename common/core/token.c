#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "random.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int token_generate(char out[TOKEN_LENGTH + 1]) {
        uint8_t raw[33]; /* 264 bits read, 258 used: 43 characters of 6 bits */
        int r = random_bytes(raw, sizeof raw);
        if (r < 0)
                return r;
        memcpy(out, TOKEN_PREFIX, 4);
        for (int i = 0; i < 43; i++) {
                /* Take 6 bits at bit offset 6*i. */
                unsigned bit = (unsigned) i * 6, byte = bit / 8, shift = bit % 8;
                unsigned v = ((unsigned) raw[byte] << 8 | raw[byte + 1]) >> (10 - shift);
                out[4 + i] = b64url[v & 63];
        }
        out[TOKEN_LENGTH] = '\0';
        return 0;
}

bool token_is_well_formed(const char *s, size_t len) {
        if (len != TOKEN_LENGTH || strncmp(s, TOKEN_PREFIX, 4) != 0)
                return false;
        for (size_t i = 4; i < len; i++)
                if (!memchr(b64url, s[i], 64))
                        return false;
        return true;
}

void token_hash(const char *token, size_t len, char out[SHA256_HEX_SIZE]) {
        uint8_t d[SHA256_DIGEST_SIZE];
        sha256_digest(token, len, d);
        sha256_to_hex(d, sizeof d, out);
}

int token_from_authorization(const char *header, const char **ret, size_t *ret_len) {
        if (!header)
                return -ENOENT;
        while (*header == ' ' || *header == '\t')
                header++;
        if (!*header)
                return -ENOENT;
        if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t'))
                return -EINVAL;
        const char *p = header + 6;
        while (*p == ' ' || *p == '\t')
                p++;
        size_t len = strcspn(p, " \t");
        const char *end = p + len;
        while (*end == ' ' || *end == '\t')
                end++;
        if (len == 0 || *end)
                return -EINVAL;
        *ret = p;
        *ret_len = len;
        return 0;
}

static const struct {
        Scope scope;
        const char *name;
} scope_names[] = {
        { SCOPE_IMPORTS_READ, "imports:read" },
        { SCOPE_IMPORTS_WRITE, "imports:write" },
        { SCOPE_USERS_READ, "users:read" },
        { SCOPE_AUDIT_READ, "audit:read" },
};

const char *token_scope_name(Scope s) {
        for (size_t i = 0; i < ELEMENTSOF(scope_names); i++)
                if (scope_names[i].scope == s)
                        return scope_names[i].name;
        return NULL;
}

int token_scope_format(unsigned scopes, char *out, size_t size) {
        size_t used = 0;
        if (size == 0)
                return -ENOBUFS;
        out[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(scope_names); i++) {
                if (!(scopes & scope_names[i].scope))
                        continue;
                int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", scope_names[i].name);
                if (n < 0 || (size_t) n >= size - used)
                        return -ENOBUFS;
                used += (size_t) n;
        }
        return 0;
}

const char *token_scope_missing_message(unsigned needed) {
        if (needed & SCOPE_IMPORTS_WRITE)
                return "the token lacks the imports:write scope needed to import users";
        if (needed & SCOPE_USERS_READ)
                return "the token lacks the users:read scope needed to read users";
        if (needed & SCOPE_AUDIT_READ)
                return "the token lacks the audit:read scope needed to read the audit trail";
        return "the token lacks the imports:read scope";
}

int token_scope_parse(const char *s, unsigned *ret, const char **ret_bad, size_t *ret_bad_len) {
        unsigned mask = 0;
        const char *p = s;

        for (;;) {
                size_t len = strcspn(p, ",");
                const char *tok = p;
                size_t tlen = len;
                while (tlen && *tok == ' ')
                        tok++, tlen--;
                while (tlen && tok[tlen - 1] == ' ')
                        tlen--;
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(scope_names); i++)
                        if (strlen(scope_names[i].name) == tlen && memcmp(scope_names[i].name, tok, tlen) == 0) {
                                mask |= scope_names[i].scope;
                                found = true;
                        }
                if (!found) {
                        if (ret_bad) {
                                *ret_bad = tok;
                                *ret_bad_len = tlen;
                        }
                        return -EINVAL;
                }
                if (!p[len])
                        break;
                p += len + 1;
        }
        *ret = mask;
        return 0;
}
