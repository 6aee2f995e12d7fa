/* Fuzz target for common/core/webhook.h: any bytes as a callback_url option
 * (attacker-controlled, checked before it is stored), and any address as
 * one a webhook would connect to.
 *
 * The check must not crash; allowing private targets only ever accepts
 * more (a URL refused for its target, -EPERM, is accepted when allowed,
 * and one accepted stays accepted); an IPv4 address is judged the same
 * whether it comes as itself or IPv4-mapped in IPv6. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size >= 4) {
                struct sockaddr_in in = { .sin_family = AF_INET };
                struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
                memcpy(&in.sin_addr, data, 4);
                in6.sin6_addr.s6_addr[10] = 0xFF;
                in6.sin6_addr.s6_addr[11] = 0xFF;
                memcpy(&in6.sin6_addr.s6_addr[12], data, 4);
                if (webhook_addr_is_public((struct sockaddr *) &in) !=
                    webhook_addr_is_public((struct sockaddr *) &in6))
                        abort();
        }
        if (size >= 16) {
                struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
                memcpy(&in6.sin6_addr, data, 16);
                (void) webhook_addr_is_public((struct sockaddr *) &in6);
        }

        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        char err[300];
        int strict = webhook_url_check(s, false, err, sizeof err);
        int loose = webhook_url_check(s, true, err, sizeof err);
        if (strict != -ENOMEM && loose != -ENOMEM) {
                if (strict == 0 && loose != 0)
                        abort();
                if (strict == -EPERM && loose != 0)
                        abort();
                if (loose == -EPERM)
                        abort();
        }
        free(s);
        return 0;
}
