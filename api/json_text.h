/* Small jansson helpers for the API's resources (json_text.c). */
#pragma once

#include <jansson.h>

/* text parsed as JSON, or fallback when text is NULL or not JSON. Takes
 * fallback's reference either way; returns a new reference. */
json_t *json_text_parse_or(const char *text, json_t *fallback);

/* A JSON string of s, or null when s is NULL or empty. */
json_t *json_text_opt_string(const char *s);
