/* webhook: the rules of roster's completion webhooks that need no network.
 *
 * An import may name a callback_url; when it reaches a state a client
 * waits for, roster POSTs an event there (webhook_store.h keeps them,
 * worker/webhook_sender.c sends them). Each request carries
 *
 *     Roster-Signature: t=<unix seconds>,v1=<64 hex digits>
 *
 * where v1 is HMAC-SHA256, keyed with the account's webhook secret (the
 * whole "whsec_..." text), over "<t>.<body>". A receiver recomputes it,
 * compares in constant time and refuses an old t.
 *
 * Targets must be public: loopback, private, link-local, shared (CGNAT),
 * multicast and reserved addresses are refused unless allowed, by name at
 * upload and by address on every connection (so a name that later
 * resolves to one is refused too).
 *
 * Pure, but for webhook_secret_new(), which asks the kernel for random
 * bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "macro.h"

#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_SIZE 71 /* "whsec_", 64 hex digits, NUL */
#define WEBHOOK_SIGNATURE_SIZE 96 /* "t=<20 digits>,v1=<64 hex>" and NUL */

/* Checks a callback URL given on upload: absolute http or https, a host,
 * no user name or password, at most WEBHOOK_URL_MAX bytes, and (unless
 * allow_private) a host that is not a non-public address literal nor
 * localhost. 0; -EINVAL with the reason in err (a bad URL); -EPERM with
 * the reason in err (a refused target); -ENOMEM. */
int webhook_url_check(const char *url, bool allow_private, char *err, size_t err_size) _must_check_;

/* Whether sa (AF_INET or AF_INET6) is an address on the public internet:
 * false for loopback, private, link-local, shared, multicast, reserved,
 * documentation and unspecified ranges, IPv4-mapped and NAT64 forms of
 * those included. */
bool webhook_addr_is_public(const struct sockaddr *sa);

/* Writes the Roster-Signature header value for body at time t to out. */
void webhook_sign(const char *secret, int64_t t, const char *body, size_t body_len,
                  char out[WEBHOOK_SIGNATURE_SIZE]);

/* Writes a new random secret to out. 0, or -EIO when the system has no
 * randomness to give. */
int webhook_secret_new(char out[WEBHOOK_SECRET_SIZE]) _must_check_;

/* Seconds to wait after failed attempt number attempt (1 for the first):
 * first_delay doubling each time, at most an hour. */
int64_t webhook_retry_delay(int attempt, int64_t first_delay);
