#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "json_util.h"

LogLevel log_max_level = LOG_LEVEL_INFO;
static LogFormat log_format = LOG_FORMAT_TEXT;
static const char *log_program = "roster";

static const char *const level_names[] = {
        [LOG_LEVEL_ERROR] = "error",
        [LOG_LEVEL_WARNING] = "warning",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

void log_setup(const char *program, LogFormat format, LogLevel max_level) {
        log_program = program;
        log_format = format;
        log_max_level = max_level;
}

int log_format_from_string(const char *s, LogFormat *ret) {
        if (strcmp(s, "text") == 0)
                *ret = LOG_FORMAT_TEXT;
        else if (strcmp(s, "json") == 0)
                *ret = LOG_FORMAT_JSON;
        else
                return -EINVAL;
        return 0;
}

int log_level_from_string(const char *s, LogLevel *ret) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcmp(s, level_names[i]) == 0) {
                        *ret = (LogLevel) i;
                        return 0;
                }
        return -EINVAL;
}

/* Appends s with control characters written as \xNN: a text log line is
 * one line, whatever a message quotes (a URL, a file name). */
static int append_escaped(Buf *b, const char *s) {
        static const char hex[] = "0123456789abcdef";
        int r = 0;
        for (const unsigned char *p = (const unsigned char *) s; *p && r >= 0; p++) {
                if (*p < 0x20 || *p == 0x7f) {
                        char e[4] = { '\\', 'x', hex[*p >> 4], hex[*p & 15] };
                        r = buf_append(b, e, sizeof e);
                } else
                        r = buf_append_char(b, (char) *p);
        }
        return r;
}

void log_emit(LogLevel level, const char *obj_kind, const char *obj_id, const char *fmt, ...) {
        int saved_errno = errno;
        char ts[40];
        struct timespec now;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        /* Build the whole line first and write it with one call, so that
         * lines from different threads never interleave. */
        Buf line = BUF_INIT;
        int r;
        if (log_format == LOG_FORMAT_JSON) {
                r = buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"program\":", ts, level_names[level]);
                if (r >= 0)
                        r = json_util_append_string(&line, log_program);
                if (r >= 0 && obj_kind && obj_id) {
                        r = buf_printf(&line, ",\"%s_id\":", obj_kind);
                        if (r >= 0)
                                r = json_util_append_string(&line, obj_id);
                }
                if (r >= 0)
                        r = buf_append_str(&line, ",\"msg\":");
                if (r >= 0)
                        r = json_util_append_string(&line, msg);
                if (r >= 0)
                        r = buf_append_str(&line, "}\n");
        } else {
                r = buf_printf(&line, "%s %s %s[%d]: ", ts, level_names[level], log_program, (int) getpid());
                if (r >= 0 && obj_kind && obj_id) {
                        r = buf_printf(&line, "%s ", obj_kind);
                        if (r >= 0)
                                r = append_escaped(&line, obj_id);
                        if (r >= 0)
                                r = buf_append_str(&line, ": ");
                }
                if (r >= 0)
                        r = append_escaped(&line, msg);
                if (r >= 0)
                        r = buf_append_char(&line, '\n');
        }

        if (r >= 0)
                (void) !write(STDERR_FILENO, line.data, line.len);
        else
                (void) !write(STDERR_FILENO, "log: out of memory\n", 19);
        buf_done(&line);
        errno = saved_errno;
}
