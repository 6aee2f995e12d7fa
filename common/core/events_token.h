/* events_token: short-lived credentials for one import's event stream.
 *
 * A browser's EventSource cannot send an Authorization header, and an API
 * token in a URL would outlive the page in logs and histories. So a client
 * with a token asks for an events token (POST /v1/imports/{id}/events-token)
 * and puts that in the events URL (?access_token=...): it is good for that
 * one import, for reading its events only, for a few minutes.
 *
 * "rse_<token id>_<expiry, unix seconds>_<64 hex digits>": the last part is
 * HMAC-SHA256, keyed with the stored hash of the API token that asked for
 * it, over the import id (lower case), the token id and the expiry. Any
 * API process can check one with api_tokens alone, and revoking the API
 * token ends its events tokens too. Nothing about them is stored.
 *
 * Pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define EVENTS_TOKEN_PREFIX "rse_"
#define EVENTS_TOKEN_SIZE 112 /* the longest token and its NUL */
#define EVENTS_TOKEN_TTL_SECONDS 300

/* Writes the events token for import_id (a UUID) to out. 0, or -EINVAL
 * when an argument is out of range. */
int events_token_make(int64_t token_id, const char *token_hash, const char *import_id, int64_t expires,
                      char out[EVENTS_TOKEN_SIZE]) _must_check_;

/* Reads the token id and expiry of an events token. 0, or -EINVAL when s
 * does not have the shape of one. */
int events_token_parse(const char *s, int64_t *ret_token_id, int64_t *ret_expires) _must_check_;

/* Whether s is the events token that the API token with this hash made
 * for import_id, and is good at time now (unix seconds). */
bool events_token_valid(const char *s, const char *token_hash, const char *import_id, int64_t now);
