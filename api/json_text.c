#include "json_text.h"

json_t *json_text_parse_or(const char *text, json_t *fallback) {
        json_t *v = text ? json_loads(text, 0, NULL) : NULL;
        if (v) {
                json_decref(fallback);
                return v;
        }
        return fallback;
}

json_t *json_text_opt_string(const char *s) {
        return s && *s ? json_string(s) : json_null();
}
