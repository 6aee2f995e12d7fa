/* Random bytes from the kernel (getrandom), for tokens, secrets and ids.
 * Blocks only until the kernel's pool is first seeded, at boot. */
#pragma once

#include <stddef.h>

#include "macro.h"

/* Fills buf with n random bytes. 0, or a negative errno. */
int random_bytes(void *buf, size_t n) _must_check_;
