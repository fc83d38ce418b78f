/* console_files.h - the console's files as the build embedded them
 * (cmake/console_embed.cmake writes the table from console/), and the API's
 * OpenAPI document embedded the same way. */
#ifndef HOOKD_CONSOLE_FILES_H
#define HOOKD_CONSOLE_FILES_H

#include <stddef.h>

/* One embedded file; everything static, living as long as the program. */
struct hookd_console_file {
    const char *name;          /* "app.js": its path under /console/ */
    const char *content_type;  /* "text/javascript; charset=utf-8" */
    const unsigned char *data; /* the file's bytes (and a NUL past the end) */
    size_t len;                /* bytes of data, the NUL not counted */
};

extern const struct hookd_console_file hookd_console_files[];
extern const size_t hookd_console_files_n;

/* docs/openapi.json, one row (read only by api.c). */
extern const struct hookd_console_file hookd_openapi_files[];
extern const size_t hookd_openapi_files_n;

#endif
