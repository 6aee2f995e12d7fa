/* Unit tests for common/core/webhook.h: which addresses are public, which
 * callback URLs are accepted, the signature a receiver recomputes, the
 * retry schedule. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "tap.h"
#include "webhook.h"

static bool public4(const char *s) {
        struct sockaddr_in a = { .sin_family = AF_INET };
        if (inet_pton(AF_INET, s, &a.sin_addr) != 1)
                return false;
        return webhook_addr_is_public((struct sockaddr *) &a);
}

static bool public6(const char *s) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
        if (inet_pton(AF_INET6, s, &a.sin6_addr) != 1)
                return false;
        return webhook_addr_is_public((struct sockaddr *) &a);
}

static int check(const char *url, bool allow_private) {
        char err[300];
        return webhook_url_check(url, allow_private, err, sizeof err);
}

int main(void) {
        /* IPv4 */
        ok(public4("93.184.216.34") && public4("8.8.8.8") && public4("1.1.1.1"), "public IPv4 addresses");
        const char *closed4[] = { "127.0.0.1",   "127.255.255.254", "10.0.0.1",       "172.16.0.1",
                                  "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
                                  "0.0.0.0",     "224.0.0.1",       "255.255.255.255", "198.18.0.1",
                                  "192.0.2.1",   "240.0.0.1" };
        bool all_closed = true;
        for (size_t i = 0; i < ELEMENTSOF(closed4); i++)
                if (public4(closed4[i])) {
                        diag("%s is taken for public", closed4[i]);
                        all_closed = false;
                }
        ok(all_closed, "loopback, private, link-local, shared, multicast, reserved IPv4 are not public");
        ok(public4("172.32.0.1") && public4("100.128.0.1") && public4("169.255.0.1"),
           "the neighbours of closed ranges are public");

        /* IPv6 */
        ok(public6("2606:4700:4700::1111") && public6("2001:4860:4860::8888"), "public IPv6 addresses");
        const char *closed6[] = { "::1",           "::",           "fe80::1",         "fc00::1",
                                  "fd12:3456::1",  "ff02::1",      "2001:db8::1",     "::ffff:127.0.0.1",
                                  "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "::127.0.0.1",
                                  "fec0::1",       "100::1" };
        all_closed = true;
        for (size_t i = 0; i < ELEMENTSOF(closed6); i++)
                if (public6(closed6[i])) {
                        diag("%s is taken for public", closed6[i]);
                        all_closed = false;
                }
        ok(all_closed, "loopback, link-local, unique local, multicast, documentation, mapped closed IPv6");
        ok(public6("::ffff:93.184.216.34") && public6("2002:5db8:d822::1"),
           "mapped and 6to4 forms of a public IPv4 address are public");
        ok(!webhook_addr_is_public(NULL), "no address is not public");

        /* URLs */
        is_int(check("https://hr.example.org/roster/events?x=1", false), 0, "an https URL");
        is_int(check("http://hr.example.org:8443/", false), 0, "an http URL with a port");
        is_int(check("http://93.184.216.34/", false), 0, "a public address literal");
        is_int(check("ftp://example.org/", false), -EINVAL, "not http or https");
        is_int(check("example.org/hook", false), -EINVAL, "not absolute");
        is_int(check("https://u:p@example.org/", false), -EINVAL, "credentials in it");
        is_int(check("https://u@example.org/", false), -EINVAL, "a user name in it");
        char long_url[2100] = "https://example.org/";
        memset(long_url + strlen(long_url), 'a', sizeof long_url - 1 - strlen(long_url));
        long_url[sizeof long_url - 1] = '\0';
        is_int(check(long_url, false), -EINVAL, "longer than 2048 bytes");
        const char *refused[] = { "http://127.0.0.1:9000/",  "http://localhost/",        "http://LOCALHOST./",
                                  "http://api.localhost/",   "http://[::1]/",            "http://10.0.0.8/",
                                  "http://169.254.169.254/", "http://2130706433/",       "http://0x7f.1/",
                                  "http://[fe80::1%25eth0]/", "http://[::ffff:7f00:1]/", "http://0/" };
        bool all_refused = true;
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                int k = check(refused[i], false);
                if (k != -EPERM) {
                        diag("%s: %d", refused[i], k);
                        all_refused = false;
                }
        }
        ok(all_refused, "loopback and private targets are refused, however written");
        is_int(check("http://127.0.0.1:9000/", true), 0, "unless allowed");
        is_int(check("http://localhost/", true), 0, "localhost too, when allowed");

        /* The signature: HMAC-SHA256 over "<t>.<body>", keyed with the
         * secret's text (the value Python's hmac gives). */
        char sig[WEBHOOK_SIGNATURE_SIZE];
        webhook_sign("whsec_test", 1800000000, "{\"id\":1}", 8, sig);
        is_str(sig, "t=1800000000,v1=7495c40cde012282a92344d8fb4be1ab35233b78ec3445b87d96078f53374ee5",
               "the signature header");
        char sig2[WEBHOOK_SIGNATURE_SIZE];
        webhook_sign("whsec_tesu", 1800000000, "{\"id\":1}", 8, sig2);
        ok(strcmp(sig, sig2) != 0, "another secret signs otherwise");

        char s1[WEBHOOK_SECRET_SIZE], s2[WEBHOOK_SECRET_SIZE];
        is_int(webhook_secret_new(s1), 0, "make a secret");
        is_int(webhook_secret_new(s2), 0, "make another");
        ok(strncmp(s1, "whsec_", 6) == 0 && strlen(s1) == 70 && strcmp(s1, s2) != 0,
           "whsec_ and 64 hex digits, different each time");

        /* Retries: doubling from the first delay, at most an hour. */
        ok(webhook_retry_delay(1, 30) == 30 && webhook_retry_delay(2, 30) == 60 && webhook_retry_delay(3, 30) == 120,
           "the delay doubles");
        ok(webhook_retry_delay(8, 30) == 3600 && webhook_retry_delay(1000, 30) == 3600, "and stops at an hour");
        ok(webhook_retry_delay(1, 0) == 1, "never zero");
        return tap_done();
}
