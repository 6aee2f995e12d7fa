#include "random.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

int random_bytes(void *buf, size_t n) {
        uint8_t *p = buf;
        size_t got = 0;
        while (got < n) {
                ssize_t k = getrandom(p + got, n - got, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) k;
        }
        return 0;
}
