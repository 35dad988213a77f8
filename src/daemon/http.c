/* One connection: read request heads and bodies with a timeout, dispatch,
 * write responses; keep-alive until the client closes or a response was
 * streamed or hijacked. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "util.h"

static const char *reason(int status)
{
        switch (status) {
        case 101:
                return "UPGRADED";
        case 200:
                return "OK";
        case 201:
                return "Created";
        case 204:
                return "No Content";
        case 304:
                return "Not Modified";
        case 400:
                return "Bad Request";
        case 403:
                return "Forbidden";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 409:
                return "Conflict";
        case 411:
                return "Length Required";
        case 413:
                return "Payload Too Large";
        case 431:
                return "Request Header Fields Too Large";
        case 501:
                return "Not Implemented";
        default:
                return status >= 500 ? "Internal Server Error" : "Error";
        }
}

/* Wait until fd is readable; -ETIMEDOUT after the read timeout. */
static int wait_readable(int fd)
{
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r;

        do
                r = poll(&p, 1, GBD_READ_TIMEOUT_S * 1000);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

static ssize_t read_some(int fd, char *buf, size_t n)
{
        ssize_t k;
        int r = wait_readable(fd);

        if (r < 0)
                return r;
        do
                k = read(fd, buf, n);
        while (k < 0 && errno == EINTR);
        return k < 0 ? -errno : k;
}

static void headers(struct conn *c, int status, const char *ctype, const char *extra, long long len)
{
        char h[1024];
        int n = snprintf(h, sizeof(h),
                         "HTTP/1.1 %d %s\r\nApi-Version: %s\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
                         "Server: ghostboxd/%s\r\n%s%s%s",
                         status, reason(status), GB_API_VERSION, GB_VERSION, ctype ? "Content-Type: " : "",
                         ctype ? ctype : "", ctype ? "\r\n" : "");
        if (len >= 0)
                n += snprintf(h + n, sizeof(h) - (size_t)n, "Content-Length: %lld\r\n", len);
        if (!c->keep_alive)
                n += snprintf(h + n, sizeof(h) - (size_t)n, "Connection: close\r\n");
        n += snprintf(h + n, sizeof(h) - (size_t)n, "%s\r\n", extra ? extra : "");
        (void)gb_write_all(c->fd, h, (size_t)n);
        c->sent = true;
}

void conn_respond(struct conn *c, int status, const char *ctype, const void *body, size_t len)
{
        bool head = strcmp(c->req.method, "HEAD") == 0;

        headers(c, status, ctype, NULL, (long long)len);
        if (len && !head)
                (void)gb_write_all(c->fd, body, len);
}

void conn_json(struct conn *c, int status, json_t *doc)
{
        _cleanup_free_ char *s = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        _cleanup_free_ char *line = gb_xasprintf("%s\n", s ? s : "null");

        json_decref(doc);
        conn_respond(c, status, "application/json", line, strlen(line));
}

void conn_error(struct conn *c, int status, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        conn_json(c, status, json_pack("{s:s}", "message", msg));
}

void conn_gb_error(struct conn *c, int r, const struct gb_error *err)
{
        int status = 500;

        switch (-r) {
        case ENOENT:
                status = 404;
                break;
        case EEXIST:
        case EBUSY:
                status = 409;
                break;
        case EINVAL:
                status = 400;
                break;
        }
        conn_error(c, status, "%s", err && err->msg[0] ? err->msg : strerror(-r));
}

void conn_no_content(struct conn *c)
{
        headers(c, 204, NULL, NULL, -1);
}

void conn_stream_begin(struct conn *c, int status, const char *ctype)
{
        c->keep_alive = false;
        headers(c, status, ctype, NULL, -1);
}

ssize_t conn_body_read(struct conn *c, char *out, size_t max)
{
        for (;;) {
                size_t n;
                if (c->body_done || max == 0)
                        return 0;
                if (!c->req.chunked) {
                        if (c->body_left <= 0) {
                                c->body_done = true;
                                return 0;
                        }
                        if ((int64_t)max > c->body_left)
                                max = (size_t)c->body_left;
                }
                if (c->len > 0) {
                        n = c->len < max ? c->len : max;
                        memcpy(out, c->buf, n);
                        memmove(c->buf, c->buf + n, c->len - n);
                        c->len -= n;
                } else {
                        ssize_t k = read_some(c->fd, out, max);
                        if (k < 0)
                                return k;
                        if (k == 0)
                                return -ECONNRESET; /* the body was cut short */
                        n = (size_t)k;
                }
                if (!c->req.chunked) {
                        c->body_left -= (int64_t)n;
                        return (ssize_t)n;
                }
                size_t out_len;
                int r = gb_chunked_feed(&c->ch, out, n, &out_len);
                if (r < 0)
                        return -EBADMSG;
                if (r == 1)
                        c->body_done = true;
                if (out_len > 0 || c->body_done)
                        return (ssize_t)out_len;
        }
}

int conn_body_json(struct conn *c, json_t **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        json_error_t je;

        *ret = NULL;
        if (!c->req.chunked && c->req.content_length > GBD_MAX_JSON_BODY) {
                c->keep_alive = false;
                conn_error(c, 413, "Request body of %lld bytes is over the limit of %d bytes",
                           (long long)c->req.content_length, GBD_MAX_JSON_BODY);
                return -EFBIG;
        }
        for (;;) {
                if (cap - len < 65536) {
                        cap = cap ? cap * 2 : 65536;
                        buf = gb_xrealloc(buf, cap + 1);
                }
                ssize_t n = conn_body_read(c, buf + len, cap - len);
                if (n < 0) {
                        c->keep_alive = false;
                        conn_error(c, 400, "Failed to read the request body: %s", strerror((int)-n));
                        return (int)n;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > GBD_MAX_JSON_BODY) {
                        c->keep_alive = false;
                        conn_error(c, 413, "Request body is over the limit of %d bytes", GBD_MAX_JSON_BODY);
                        return -EFBIG;
                }
        }
        if (len == 0)
                return 0;
        *ret = json_loadb(buf, len, JSON_DECODE_ANY, &je);
        if (!*ret) {
                conn_error(c, 400, "invalid JSON in the request body: line %d column %d: %s", je.line, je.column,
                           je.text);
                return -EINVAL;
        }
        if (json_is_null(*ret)) {
                json_decref(*ret);
                *ret = NULL;
        }
        return 0;
}

char *q_get(struct conn *c, const char *key)
{
        return gb_http_query(c->req.query, key);
}

bool q_bool(struct conn *c, const char *key)
{
        return gb_http_query_bool(c->req.query, key);
}

/* Read up to a complete head; 1 on EOF before any byte (a clean close). */
static int read_head(struct conn *c, size_t *ret_end)
{
        for (;;) {
                size_t end = gb_http_head_end(c->buf, c->len);
                if (end) {
                        *ret_end = end;
                        return 0;
                }
                if (c->len >= GB_HTTP_MAX_HEAD)
                        return -E2BIG;
                ssize_t k = read_some(c->fd, c->buf + c->len, GB_HTTP_MAX_HEAD - c->len);
                if (k < 0)
                        return (int)k;
                if (k == 0)
                        return c->len == 0 ? 1 : -ECONNRESET;
                c->len += (size_t)k;
        }
}

void gbd_serve(int fd)
{
        struct conn *c = gb_xcalloc(1, sizeof(*c));

        c->fd = fd;
        for (;;) {
                struct gb_error err = {0};
                size_t end = 0;
                int r;

                /* Monitors spawned by `start` are our children: reap them. */
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                r = read_head(c, &end);
                if (r == 1 || r == -ECONNRESET)
                        break;
                c->keep_alive = false;
                if (r == -E2BIG) {
                        conn_error(c, 431, "Request head over %d bytes", GB_HTTP_MAX_HEAD);
                        break;
                }
                if (r == -ETIMEDOUT) {
                        if (c->len > 0)
                                conn_error(c, 408, "Timed out reading the request after %d seconds",
                                           GBD_READ_TIMEOUT_S);
                        break;
                }
                if (r < 0)
                        break;
                r = gb_http_parse_head(c->buf, end, &c->req, &err);
                memmove(c->buf, c->buf + end, c->len - end);
                c->len -= end;
                if (r < 0 && r != -ENOTSUP) {
                        conn_error(c, 400, "%s", err.msg);
                        break;
                }
                c->keep_alive = c->req.keep_alive;
                c->body_left = c->req.content_length > 0 ? c->req.content_length : 0;
                c->body_done = !c->req.chunked && c->body_left == 0;
                memset(&c->ch, 0, sizeof(c->ch));
                c->sent = false;
                if (r == -ENOTSUP)
                        conn_error(c, 400, "%s", err.msg);
                else {
                        /* daemon.json "debug" (or -D; SIGHUP reloads it). */
                        if (gbd_engine.cfg.debug)
                                fprintf(stderr, "ghostboxd: debug: %s %s%s%s\n", c->req.method, c->req.path,
                                        c->req.query && *c->req.query ? "?" : "", c->req.query ? c->req.query : "");
                        gbd_dispatch(c);
                }
                if (!c->sent)
                        conn_error(c, 500, "internal error: no response");
                if (c->hijacked || !c->keep_alive)
                        break;
                /* An unread body: drain a small one, else close. */
                if (!c->body_done) {
                        char junk[8192];
                        size_t total = 0;
                        ssize_t n;
                        while ((n = conn_body_read(c, junk, sizeof(junk))) > 0 && total < 1024 * 1024)
                                total += (size_t)n;
                        if (n != 0)
                                break;
                }
                gb_http_req_clear(&c->req);
        }
        gb_http_req_clear(&c->req);
        free(c);
}

void conn_respond_fd(struct conn *c, int status, const char *ctype, int fd, uint64_t len)
{
        char buf[65536];
        uint64_t left = len;

        headers(c, status, ctype, NULL, (long long)len);
        while (left > 0) {
                ssize_t n = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                /* The length is promised: a short file or a gone client
                 * can only end the connection (the client sees it cut). */
                if (n <= 0 || gb_write_all(c->fd, buf, (size_t)n) < 0) {
                        c->keep_alive = false;
                        (void)shutdown(c->fd, SHUT_RDWR);
                        return;
                }
                left -= (uint64_t)n;
        }
}

void conn_respond_extra(struct conn *c, int status, const char *ctype, const char *extra, const void *body, size_t len)
{
        bool head = strcmp(c->req.method, "HEAD") == 0;

        headers(c, status, ctype, extra, (long long)len);
        if (len && !head)
                (void)gb_write_all(c->fd, body, len);
}

void conn_stream_begin_extra(struct conn *c, int status, const char *ctype, const char *extra)
{
        c->keep_alive = false;
        headers(c, status, ctype, extra, -1);
}

/* The request body into an unnamed file in dir (O_TMPFILE), rewound: a
 * handler can then read it more than once, and a cut upload leaves
 * nothing behind. Over max bytes: 413. On failure the error is sent and
 * -1 returned. */
int conn_spool_body(struct conn *c, const char *dir, unsigned long long max, const char *what)
{
        _cleanup_close_ int fd = -EBADF;
        unsigned long long total = 0;
        char buf[65536];
        ssize_t n;

        (void)gb_mkdir_p(dir, 0700);
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
                conn_error(c, 500, "Failed to create a temporary file in '%s': %s", dir, strerror(errno));
                return -1;
        }
        while ((n = conn_body_read(c, buf, sizeof(buf))) > 0) {
                total += (unsigned long long)n;
                if (total > max) {
                        c->keep_alive = false;
                        conn_error(c, 413, "%s over %llu bytes", what, max);
                        return -1;
                }
                if (gb_write_all(fd, buf, (size_t)n) < 0) {
                        conn_error(c, 500, "Failed to store the upload: %s", strerror(errno));
                        return -1;
                }
        }
        if (n < 0) {
                c->keep_alive = false;
                conn_error(c, 400, "Failed to read the %s: %s", what, strerror((int)-n));
                return -1;
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
                conn_error(c, 500, "Failed to rewind the upload: %s", strerror(errno));
                return -1;
        }
        return TAKE_FD(fd);
}
