/* The admin page's files, embedded at build time (scripts/embed-files
 * writes the table from api/admin/). Read-only, for the whole process. */
#pragma once

#include <stddef.h>

typedef struct StaticFile {
        const char *name; /* base name: "index.html" */
        const char *content_type;
        const char *data;
        size_t len;
} StaticFile;

extern const StaticFile static_files[];
extern const size_t n_static_files;
