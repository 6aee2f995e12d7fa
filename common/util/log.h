/* Process logging: one line per message on stderr, as text or JSON.
 *
 * Library code does not log; the process edges (request handlers, the job
 * runner, the commands) log each failure once, naming the object it is
 * about: a request id, an import id. Never pass cell values or other
 * personal data to these functions. */
#pragma once

#include <stdbool.h>

#include "macro.h"

typedef enum LogLevel {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
} LogLevel;

typedef enum LogFormat {
        LOG_FORMAT_TEXT,
        LOG_FORMAT_JSON,
} LogFormat;

/* Sets the program name printed with each line, the format and the most
 * verbose level that is printed. Call once at start, before threads. */
void log_setup(const char *program, LogFormat format, LogLevel max_level);

/* Parses "json"/"text" and "error"/"warning"/"info"/"debug". 0 or -EINVAL. */
int log_format_from_string(const char *s, LogFormat *ret);
int log_level_from_string(const char *s, LogLevel *ret);

extern LogLevel log_max_level;

/* Writes one line. obj_kind/obj_id ("import", "<uuid>") may be NULL. */
void log_emit(LogLevel level, const char *obj_kind, const char *obj_id, const char *fmt, ...)
        _printf_(4, 5);

#define log_at(level, kind, id, ...)                                     \
        do {                                                             \
                if ((level) <= log_max_level)                            \
                        log_emit((level), (kind), (id), __VA_ARGS__);    \
        } while (0)

#define log_error(...) log_at(LOG_LEVEL_ERROR, NULL, NULL, __VA_ARGS__)
#define log_warning(...) log_at(LOG_LEVEL_WARNING, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, NULL, NULL, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, NULL, NULL, __VA_ARGS__)

#define log_import(level, id, ...) log_at((level), "import", (id), __VA_ARGS__)
#define log_request(level, id, ...) log_at((level), "request", (id), __VA_ARGS__)
