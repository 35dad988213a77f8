/* Errors travel up as an out-parameter (crun's libcrun_error_t, simplified):
 * an errno plus one message. Library functions return -errno and fill *err in
 * one line:
 *
 *     return gb_error_sys(err, errno, "Failed to open '%s'", path);
 *
 * Callers may prefix context on the way up with gb_error_prefix(). The library
 * never prints; front ends print err->msg. */
#pragma once

#include <stdarg.h>

#define GB_ERROR_MSG_MAX 2048

struct gb_error {
        int code; /* positive errno, 0 when unset */
        char msg[GB_ERROR_MSG_MAX];
};

/* Set the message (printf-style) and code; returns -code (or -EINVAL when
 * code is 0). err may be NULL. */
int gb_error_set(struct gb_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Same, with ": strerror(code)" appended. */
int gb_error_sys(struct gb_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepend "<context>: " to the existing message; returns -err->code. */
int gb_error_prefix(struct gb_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void gb_error_clear(struct gb_error *err);

/* Warnings the library wants a human to see (dropped map lines, ignored
 * config fields). The front end installs a handler; the default drops them.
 * The handler must not call back into the library. */
typedef void (*gb_warn_fn)(const char *msg, void *userdata);
void gb_set_warn_handler(gb_warn_fn fn, void *userdata);
void gb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
