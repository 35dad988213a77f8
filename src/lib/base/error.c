#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "cleanup.h"

static int normalize(int code)
{
        if (code < 0)
                code = -code;
        return code ? code : EINVAL;
}

__attribute__((format(printf, 4, 0))) static void vset(struct gb_error *err, int code, int with_strerror,
                                                       const char *fmt, va_list ap)
{
        int n;

        err->code = code;
        n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        if (n < 0)
                err->msg[0] = '\0';
        else if (with_strerror && (size_t)n < sizeof(err->msg))
                (void)snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(code));
}

GB_EXPORT int gb_error_set(struct gb_error *err, int code, const char *fmt, ...)
{
        va_list ap;

        code = normalize(code);
        if (!err)
                return -code;
        va_start(ap, fmt);
        vset(err, code, 0, fmt, ap);
        va_end(ap);
        return -code;
}

GB_EXPORT int gb_error_sys(struct gb_error *err, int code, const char *fmt, ...)
{
        va_list ap;

        code = normalize(code);
        if (!err)
                return -code;
        va_start(ap, fmt);
        vset(err, code, 1, fmt, ap);
        va_end(ap);
        return -code;
}

GB_EXPORT int gb_error_prefix(struct gb_error *err, const char *fmt, ...)
{
        char prefix[GB_ERROR_MSG_MAX], old[GB_ERROR_MSG_MAX];
        va_list ap;

        if (!err)
                return -EINVAL;
        va_start(ap, fmt);
        (void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        /* Truncation is fine: the innermost detail is the least useful. */
        size_t pl = strnlen(prefix, sizeof(err->msg) - 3);
        memcpy(err->msg, prefix, pl);
        memcpy(err->msg + pl, ": ", 2);
        size_t room = sizeof(err->msg) - pl - 3;
        size_t ol = strnlen(old, room);
        memcpy(err->msg + pl + 2, old, ol);
        err->msg[pl + 2 + ol] = '\0';
        return -normalize(err->code);
}

GB_EXPORT void gb_error_clear(struct gb_error *err)
{
        if (err) {
                err->code = 0;
                err->msg[0] = '\0';
        }
}

static gb_warn_fn warn_fn;
static void *warn_userdata;

GB_EXPORT void gb_set_warn_handler(gb_warn_fn fn, void *userdata)
{
        warn_fn = fn;
        warn_userdata = userdata;
}

GB_EXPORT void gb_warn(const char *fmt, ...)
{
        char buf[GB_ERROR_MSG_MAX];
        va_list ap;

        if (!warn_fn)
                return;
        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        warn_fn(buf, warn_userdata);
}
