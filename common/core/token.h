/* API tokens: generation, the stored hash, the Authorization header and
 * scopes. Pure apart from token_generate() (reads the kernel's random
 * source).
 *
 * A token is "rst_" followed by 43 base64url characters (256 random bits).
 * Only sha256(token) is stored; the token itself is shown once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "sha256.h"

#define TOKEN_PREFIX "rst_"
#define TOKEN_LENGTH (4 + 43)

typedef enum Scope {
        SCOPE_IMPORTS_READ = 1u << 0,
        SCOPE_IMPORTS_WRITE = 1u << 1,
        SCOPE_USERS_READ = 1u << 2,
        SCOPE_AUDIT_READ = 1u << 3,
} Scope;

/* What a token gets when no scopes are named: all but reading the audit
 * trail, which is for those who oversee the others. */
#define SCOPE_DEFAULT (SCOPE_IMPORTS_READ | SCOPE_IMPORTS_WRITE | SCOPE_USERS_READ)
#define SCOPE_ALL (SCOPE_DEFAULT | SCOPE_AUDIT_READ)

/* Writes a new NUL-terminated token into out. 0 or -errno. */
int token_generate(char out[TOKEN_LENGTH + 1]) _must_check_;

/* True when s has the shape of a token (prefix, length, alphabet). */
bool token_is_well_formed(const char *s, size_t len);

/* The hex sha256 of the token, as stored in api_tokens.token_hash. */
void token_hash(const char *token, size_t len, char out[SHA256_HEX_SIZE]);

/* Finds the token in an Authorization header value ("Bearer <token>",
 * scheme case-insensitive). Returns 0 with *ret and *ret_len pointing into
 * header, -ENOENT when header is NULL or empty, -EINVAL when it is not a
 * Bearer credential. */
int token_from_authorization(const char *header, const char **ret, size_t *ret_len);

/* Parses "imports:read,imports:write" into a mask. -EINVAL names the bad
 * scope in *ret_bad (pointing into s, with its length) when given. */
int token_scope_parse(const char *s, unsigned *ret, const char **ret_bad, size_t *ret_bad_len);
const char *token_scope_name(Scope s);
/* Writes the names of the scopes in the mask, comma-separated, to out.
 * 0, or -ENOBUFS when size is too small. */
int token_scope_format(unsigned scopes, char *out, size_t size) _must_check_;
/* What a 403 says to a token without the scope a route needs. Static. */
const char *token_scope_missing_message(unsigned needed);
