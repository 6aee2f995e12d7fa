/* Random (version 4) UUIDs in their 36-character text form. */
#pragma once

#include <stdbool.h>

#define UUID_STRING_SIZE 37

/* Writes a new UUID. 0 or -errno (the kernel's random source failed). */
int uuid_v4(char out[UUID_STRING_SIZE]);

/* True when s is a UUID in canonical text form (any version, any case). */
bool uuid_is_valid(const char *s);
