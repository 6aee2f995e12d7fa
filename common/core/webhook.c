#include "webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "random.h"
#include "sha256.h"

static bool v4_is_public(uint32_t a) {
        static const struct {
                uint32_t net;
                int bits;
        } closed[] = {
                { 0x00000000, 8 },  /* "this network" */
                { 0x0A000000, 8 },  /* private */
                { 0x64400000, 10 }, /* shared address space (carrier NAT) */
                { 0x7F000000, 8 },  /* loopback */
                { 0xA9FE0000, 16 }, /* link-local, cloud metadata */
                { 0xAC100000, 12 }, /* private */
                { 0xC0000000, 24 }, /* IETF protocol assignments */
                { 0xC0000200, 24 }, /* documentation */
                { 0xC0586300, 24 }, /* 6to4 relay anycast */
                { 0xC0A80000, 16 }, /* private */
                { 0xC6120000, 15 }, /* benchmarking */
                { 0xC6336400, 24 }, /* documentation */
                { 0xCB007100, 24 }, /* documentation */
                { 0xE0000000, 4 },  /* multicast */
                { 0xF0000000, 4 },  /* reserved, broadcast */
        };
        for (size_t i = 0; i < ELEMENTSOF(closed); i++) {
                uint32_t mask = UINT32_MAX << (32 - closed[i].bits);
                if ((a & mask) == closed[i].net)
                        return false;
        }
        return true;
}

static uint32_t v4_at(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static bool v6_is_public(const uint8_t a[16]) {
        static const uint8_t zero[12] = { 0 };
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
        static const uint8_t nat64[12] = { 0x00, 0x64, 0xFF, 0x9B };

        /* ::, ::1 and the old IPv4-compatible form; ::ffff:a.b.c.d; the
         * well-known NAT64 prefix: judged by the IPv4 address in them. */
        if (memcmp(a, zero, 12) == 0)
                return v4_at(a + 12) > 1 && v4_is_public(v4_at(a + 12));
        if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
                return v4_is_public(v4_at(a + 12));
        if ((a[0] & 0xFE) == 0xFC) /* unique local fc00::/7 */
                return false;
        if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) /* link-local fe80::/10 */
                return false;
        if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) /* site-local fec0::/10, deprecated */
                return false;
        if (a[0] == 0xFF) /* multicast */
                return false;
        if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) /* documentation */
                return false;
        if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: the IPv4 address inside */
                return v4_is_public(v4_at(a + 2));
        if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0) /* discard-only 100::/64 */
                return false;
        /* Only global unicast (2000::/3) is routed on the internet. */
        return (a[0] & 0xE0) == 0x20;
}

bool webhook_addr_is_public(const struct sockaddr *sa) {
        if (!sa)
                return false;
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
                return v4_is_public(ntohl(in->sin_addr.s_addr));
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
                return v6_is_public(in6->sin6_addr.s6_addr);
        }
        return false;
}

/* Whether host (as curl gives it: IPv6 in brackets) is an address literal
 * or a name that means this machine, and if so, whether it is public. */
static bool host_is_closed(const char *host) {
        struct sockaddr_in in = { .sin_family = AF_INET };
        struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
        size_t len = strlen(host);

        if (inet_pton(AF_INET, host, &in.sin_addr) == 1)
                return !webhook_addr_is_public((struct sockaddr *) &in);
        if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
                char inner[64];
                if (len - 2 >= sizeof inner)
                        return true;
                memcpy(inner, host + 1, len - 2);
                inner[len - 2] = '\0';
                char *zone = strchr(inner, '%'); /* fe80::1%eth0 */
                if (zone)
                        return true;
                if (inet_pton(AF_INET6, inner, &in6.sin6_addr) != 1)
                        return true;
                return !webhook_addr_is_public((struct sockaddr *) &in6);
        }
        /* Names that resolve to this machine by convention (RFC 6761). */
        const char *dot = len && host[len - 1] == '.' ? "." : "";
        char lower[256];
        snprintf(lower, sizeof lower, "%.*s", (int) (len - strlen(dot)), host);
        size_t n = strlen(lower);
        return strcasecmp(lower, "localhost") == 0 ||
               (n > 10 && strcasecmp(lower + n - 10, ".localhost") == 0);
}

static int fail(int r, char *err, size_t err_size, const char *msg) {
        snprintf(err, err_size, "%s", msg);
        return r;
}

int webhook_url_check(const char *url, bool allow_private, char *err, size_t err_size) {
        if (strlen(url) > WEBHOOK_URL_MAX)
                return fail(-EINVAL, err, err_size, "callback_url is longer than 2048 bytes");

        CURLU *u = curl_url();
        if (!u)
                return -ENOMEM;
        char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
        int r = 0;
        CURLUcode k = curl_url_set(u, CURLUPART_URL, url, 0);
        if (k == CURLUE_OUT_OF_MEMORY)
                r = -ENOMEM;
        else if (k != CURLUE_OK)
                r = fail(-EINVAL, err, err_size,
                         "callback_url must be an absolute http:// or https:// URL, such as "
                         "https://hr.example.org/roster-events");
        else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
                 (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0))
                r = fail(-EINVAL, err, err_size, "callback_url must use http or https");
        else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                 curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
                r = fail(-EINVAL, err, err_size,
                         "callback_url must not hold a user name or password: it is shown on the import; "
                         "roster signs each request instead (Roster-Signature)");
        else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
                r = fail(-EINVAL, err, err_size, "callback_url has no host");
        else if (!allow_private && host_is_closed(host))
                r = fail(-EPERM, err, err_size,
                         "callback_url names a loopback, private, link-local or otherwise non-public address; "
                         "roster calls only public addresses (ROSTER_WEBHOOK_ALLOW_PRIVATE=true allows others)");
        curl_free(scheme);
        curl_free(host);
        curl_free(user);
        curl_free(password);
        curl_url_cleanup(u);
        return r;
}

void webhook_sign(const char *secret, int64_t t, const char *body, size_t body_len,
                  char out[WEBHOOK_SIGNATURE_SIZE]) {
        char stamp[24];
        int n = snprintf(stamp, sizeof stamp, "%" PRId64 ".", t);

        /* Over "<t>." and the body, streamed: the body is not copied. */
        uint8_t mac[SHA256_DIGEST_SIZE];
        Sha256Hmac h;
        sha256_hmac_init(&h, secret, strlen(secret));
        sha256_hmac_update(&h, stamp, (size_t) n);
        sha256_hmac_update(&h, body, body_len);
        sha256_hmac_final(&h, mac);

        char hex[SHA256_HEX_SIZE];
        sha256_to_hex(mac, sizeof mac, hex);
        snprintf(out, WEBHOOK_SIGNATURE_SIZE, "t=%" PRId64 ",v1=%s", t, hex);
}

int webhook_secret_new(char out[WEBHOOK_SECRET_SIZE]) {
        uint8_t raw[32];
        if (random_bytes(raw, sizeof raw) < 0)
                return -EIO;
        memcpy(out, WEBHOOK_SECRET_PREFIX, strlen(WEBHOOK_SECRET_PREFIX));
        sha256_to_hex(raw, sizeof raw, out + strlen(WEBHOOK_SECRET_PREFIX));
        return 0;
}

int64_t webhook_retry_delay(int attempt, int64_t first_delay) {
        int64_t d = first_delay > 0 ? first_delay : 1;
        for (int i = 1; i < attempt && d < 3600; i++)
                d *= 2;
        return d < 3600 ? d : 3600;
}
