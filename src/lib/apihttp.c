#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apihttp.h"
#include "cleanup.h"
#include "util.h"

GB_EXPORT size_t gb_http_head_end(const char *buf, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                if (buf[i] != '\n')
                        continue;
                if (i + 1 < len && buf[i + 1] == '\n')
                        return i + 2;
                if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
                        return i + 3;
        }
        return 0;
}

static int hexval(int c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = tolower(c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

GB_EXPORT char *gb_http_unescape(const char *s, size_t len, bool plus_is_space)
{
        char *out = gb_xmalloc(len + 1), *o = out;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '%') {
                        int h, l;
                        if (i + 2 >= len || (h = hexval((unsigned char)s[i + 1])) < 0 ||
                            (l = hexval((unsigned char)s[i + 2])) < 0 || (h == 0 && l == 0)) {
                                free(out);
                                return NULL;
                        }
                        *o++ = (char)(h * 16 + l);
                        i += 2;
                } else if (s[i] == '+' && plus_is_space)
                        *o++ = ' ';
                else if (s[i] == '\0') {
                        free(out);
                        return NULL;
                } else
                        *o++ = s[i];
        }
        *o = '\0';
        return out;
}

GB_EXPORT char *gb_http_query(const char *query, const char *key)
{
        size_t klen = strlen(key);

        for (const char *p = query; p && *p;) {
                size_t n = strcspn(p, "&");
                const char *eq = memchr(p, '=', n);
                size_t name_len = eq ? (size_t)(eq - p) : n;
                _cleanup_free_ char *name = gb_http_unescape(p, name_len, true);
                if (name && strlen(name) == klen && memcmp(name, key, klen) == 0)
                        return eq ? gb_http_unescape(eq + 1, n - name_len - 1, true) : gb_xstrdup("");
                p += n;
                if (*p == '&')
                        p++;
        }
        return NULL;
}

GB_EXPORT char **gb_http_query_all(const char *query, const char *key)
{
        char **v = gb_xcalloc(1, sizeof(char *));
        size_t klen = strlen(key), n = 0;

        for (const char *p = query; p && *p;) {
                size_t len = strcspn(p, "&");
                const char *eq = memchr(p, '=', len);
                size_t name_len = eq ? (size_t)(eq - p) : len;
                _cleanup_free_ char *name = gb_http_unescape(p, name_len, true);
                if (eq && name && strlen(name) == klen && memcmp(name, key, klen) == 0) {
                        char *val = gb_http_unescape(eq + 1, len - name_len - 1, true);
                        if (val && *val) {
                                v = gb_xrealloc(v, (n + 2) * sizeof(char *));
                                v[n++] = val;
                                v[n] = NULL;
                        } else
                                free(val);
                }
                p += len;
                if (*p == '&')
                        p++;
        }
        return v;
}

GB_EXPORT bool gb_http_query_bool(const char *query, const char *key)
{
        _cleanup_free_ char *v = gb_http_query(query, key);

        return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0);
}

GB_EXPORT int gb_api_version_cmp(const char *a, const char *b)
{
        while (*a || *b) {
                unsigned long x = strtoul(a, (char **)&a, 10), y = strtoul(b, (char **)&b, 10);
                if (x != y)
                        return x < y ? -1 : 1;
                if (*a == '.')
                        a++;
                if (*b == '.')
                        b++;
                if ((*a && !isdigit((unsigned char)*a)) || (*b && !isdigit((unsigned char)*b)))
                        return strcmp(a, b);
        }
        return 0;
}

GB_EXPORT void gb_http_req_clear(struct gb_http_req *r)
{
        free(r->target);
        free(r->path);
        free(r->query);
        for (size_t i = 0; i < r->n_headers; i++) {
                free(r->headers[i].name);
                free(r->headers[i].value);
        }
        free(r->headers);
        memset(r, 0, sizeof(*r));
}

GB_EXPORT const char *gb_http_header(const struct gb_http_req *r, const char *name)
{
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->headers[i].name, name) == 0)
                        return r->headers[i].value;
        return NULL;
}

static bool token_char(int c)
{
        return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static bool has_token(const char *list, const char *tok)
{
        size_t tl = strlen(tok);
        for (const char *p = list; *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                size_t n = strcspn(p, ",");
                size_t m = n;
                while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
                        m--;
                if (m == tl && strncasecmp(p, tok, tl) == 0)
                        return true;
                p += n;
        }
        return false;
}

/* Split the target into path (decoded, version prefix removed) and query.
 * Docker accepts /vX.YY/... and no prefix. */
static int split_target(struct gb_http_req *r, struct gb_error *err)
{
        const char *t = r->target, *q = strchr(t, '?');
        size_t plen = q ? (size_t)(q - t) : strlen(t);
        char *path;

        if (t[0] != '/')
                return gb_error_set(err, EINVAL, "Failed to parse the request target '%.64s': it must start with '/'",
                                    t);
        path = gb_http_unescape(t, plen, false);
        if (!path)
                return gb_error_set(err, EINVAL, "Failed to parse the request target: bad %%-escape in the path");
        r->query = gb_xstrdup(q ? q + 1 : "");
        if (path[1] == 'v' && isdigit((unsigned char)path[2])) {
                size_t n = 2;
                while (isdigit((unsigned char)path[n]) || path[n] == '.')
                        n++;
                if (path[n] == '/' || path[n] == '\0') {
                        if (n - 2 >= sizeof(r->version)) {
                                free(path);
                                return gb_error_set(err, EINVAL, "Failed to parse the API version: too long");
                        }
                        memcpy(r->version, path + 2, n - 2);
                        r->version[n - 2] = '\0';
                        memmove(path, path + n, strlen(path + n) + 1);
                        if (!*path) {
                                free(path);
                                path = gb_xstrdup("/");
                        }
                }
        }
        /* Trailing slashes are not significant to Docker's router. */
        for (size_t l = strlen(path); l > 1 && path[l - 1] == '/'; l--)
                path[l - 1] = '\0';
        r->path = path;
        if (r->version[0] && (gb_api_version_cmp(r->version, GB_API_MIN_VERSION) < 0 ||
                              gb_api_version_cmp(r->version, GB_API_VERSION) > 0))
                return gb_error_set(
                        err, ENOTSUP, "client version %s is %s than the supported API version range (%s to %s)",
                        r->version, gb_api_version_cmp(r->version, GB_API_MIN_VERSION) < 0 ? "lower" : "higher",
                        GB_API_MIN_VERSION, GB_API_VERSION);
        return 0;
}

GB_EXPORT int gb_http_parse_head(const char *buf, size_t len, struct gb_http_req *ret, struct gb_error *err)
{
        struct gb_http_req r = {.content_length = -1};
        const char *p = buf, *end = buf + len, *eol;
        size_t n;
        int rc;

        if (len > GB_HTTP_MAX_HEAD)
                return gb_error_set(err, EINVAL, "Failed to parse the request: head over %d bytes", GB_HTTP_MAX_HEAD);
        if (memchr(buf, '\0', len))
                return gb_error_set(err, EINVAL, "Failed to parse the request: NUL byte in the head");
        /* Request line: METHOD SP TARGET SP HTTP/1.x */
        eol = memchr(p, '\n', len);
        if (!eol)
                return gb_error_set(err, EINVAL, "Failed to parse the request line: no end of line");
        for (n = 0; p + n < eol && token_char((unsigned char)p[n]); n++)
                ;
        if (n == 0 || n >= sizeof(r.method) || p[n] != ' ')
                return gb_error_set(err, EINVAL, "Failed to parse the request line: bad method");
        memcpy(r.method, p, n);
        p += n + 1;
        n = 0;
        while (p + n < eol && p[n] != ' ')
                n++;
        if (n == 0 || p + n >= eol)
                return gb_error_set(err, EINVAL, "Failed to parse the request line: no target");
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)p[i] <= 32 || (unsigned char)p[i] >= 127)
                        return gb_error_set(err, EINVAL, "Failed to parse the request line: bad byte in the target");
        r.target = strndup(p, n);
        if (!r.target)
                abort();
        p += n + 1;
        {
                size_t vl = (size_t)(eol - p);
                if (vl > 0 && p[vl - 1] == '\r')
                        vl--;
                if (vl == 8 && memcmp(p, "HTTP/1.1", 8) == 0)
                        r.keep_alive = true;
                else if (vl == 8 && memcmp(p, "HTTP/1.0", 8) == 0)
                        r.http10 = true;
                else {
                        gb_http_req_clear(&r);
                        return gb_error_set(err, EINVAL, "Failed to parse the request line: only HTTP/1.0 and 1.1");
                }
        }
        p = eol + 1;
        /* Headers until the empty line. */
        while (p < end) {
                const char *colon, *v, *ve;
                eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol)
                        eol = end;
                ve = eol;
                if (ve > p && ve[-1] == '\r')
                        ve--;
                if (ve == p)
                        break; /* the empty line */
                if (*p == ' ' || *p == '\t') {
                        gb_http_req_clear(&r);
                        return gb_error_set(err, EINVAL, "Failed to parse a header: obsolete line folding");
                }
                colon = memchr(p, ':', (size_t)(ve - p));
                if (!colon || colon == p) {
                        gb_http_req_clear(&r);
                        return gb_error_set(err, EINVAL, "Failed to parse a header: no name");
                }
                for (const char *c = p; c < colon; c++)
                        if (!token_char((unsigned char)*c)) {
                                gb_http_req_clear(&r);
                                return gb_error_set(err, EINVAL, "Failed to parse a header: bad name");
                        }
                if (r.n_headers >= GB_HTTP_MAX_HEADERS) {
                        gb_http_req_clear(&r);
                        return gb_error_set(err, EINVAL, "Failed to parse the request: over %d headers",
                                            GB_HTTP_MAX_HEADERS);
                }
                v = colon + 1;
                while (v < ve && (*v == ' ' || *v == '\t'))
                        v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;
                r.headers = gb_xrealloc(r.headers, (r.n_headers + 1) * sizeof(*r.headers));
                r.headers[r.n_headers].name = strndup(p, (size_t)(colon - p));
                r.headers[r.n_headers].value = strndup(v, (size_t)(ve - v));
                if (!r.headers[r.n_headers].name || !r.headers[r.n_headers].value)
                        abort();
                r.n_headers++;
                p = eol + 1;
        }
        /* Framing. Both Content-Length and chunked is a smuggling vector:
         * refuse it (RFC 9112 6.1 allows either, we need neither). */
        {
                const char *te = gb_http_header(&r, "Transfer-Encoding");
                const char *cl = NULL, *conn = gb_http_header(&r, "Connection"), *up = gb_http_header(&r, "Upgrade");
                size_t n_cl = 0;
                for (size_t i = 0; i < r.n_headers; i++)
                        if (strcasecmp(r.headers[i].name, "Content-Length") == 0) {
                                if (cl && strcmp(cl, r.headers[i].value) != 0) {
                                        gb_http_req_clear(&r);
                                        return gb_error_set(err, EINVAL, "Failed to parse Content-Length: repeated");
                                }
                                cl = r.headers[i].value;
                                n_cl++;
                        }
                if (te) {
                        if (strcasecmp(te, "chunked") != 0 || cl) {
                                /* The message first: te points into r. */
                                rc = gb_error_set(err, EINVAL,
                                                  "Failed to parse Transfer-Encoding '%.32s': only \"chunked\", "
                                                  "without Content-Length",
                                                  te);
                                gb_http_req_clear(&r);
                                return rc;
                        }
                        r.chunked = true;
                }
                if (cl) {
                        uint64_t v;
                        if (gb_parse_u64(cl, &v) < 0 || v > INT64_MAX || !isdigit((unsigned char)cl[0])) {
                                rc = gb_error_set(err, EINVAL, "Failed to parse Content-Length '%.32s'", cl);
                                gb_http_req_clear(&r);
                                return rc;
                        }
                        r.content_length = (int64_t)v;
                }
                if (conn && has_token(conn, "close"))
                        r.keep_alive = false;
                if (conn && has_token(conn, "keep-alive"))
                        r.keep_alive = true;
                if (conn && has_token(conn, "Upgrade") && up && strcasecmp(up, "tcp") == 0)
                        r.upgrade = true;
        }
        rc = split_target(&r, err);
        if (rc < 0 && rc != -ENOTSUP) {
                gb_http_req_clear(&r);
                return rc;
        }
        *ret = r;
        return rc;
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LINE, CH_DONE };

GB_EXPORT int gb_chunked_feed(struct gb_chunked *c, char *buf, size_t len, size_t *ret_out_len)
{
        size_t out = 0;

        for (size_t i = 0; i < len;) {
                char ch = buf[i];
                switch (c->state) {
                case CH_SIZE: {
                        int h = hexval((unsigned char)ch);
                        if (h >= 0) {
                                if (++c->digits > 15)
                                        return -EINVAL;
                                c->left = c->left * 16 + (uint64_t)h;
                        } else if (c->digits == 0)
                                return -EINVAL;
                        else if (ch == ';' || ch == ' ' || ch == '\t')
                                c->state = CH_EXT;
                        else if (ch == '\r')
                                c->state = CH_SIZE_LF;
                        else if (ch == '\n')
                                c->state = c->left ? CH_DATA : CH_TRAILER;
                        else
                                return -EINVAL;
                        i++;
                        break;
                }
                case CH_EXT:
                        if (ch == '\n')
                                c->state = c->left ? CH_DATA : CH_TRAILER;
                        i++;
                        break;
                case CH_SIZE_LF:
                        if (ch != '\n')
                                return -EINVAL;
                        c->state = c->left ? CH_DATA : CH_TRAILER;
                        i++;
                        break;
                case CH_DATA: {
                        size_t take = len - i < c->left ? len - i : (size_t)c->left;
                        memmove(buf + out, buf + i, take);
                        out += take;
                        i += take;
                        c->left -= take;
                        if (c->left == 0)
                                c->state = CH_DATA_CR;
                        break;
                }
                case CH_DATA_CR:
                        if (ch == '\r')
                                c->state = CH_DATA_LF;
                        else if (ch == '\n') {
                                c->state = CH_SIZE;
                                c->digits = 0;
                        } else
                                return -EINVAL;
                        i++;
                        break;
                case CH_DATA_LF:
                        if (ch != '\n')
                                return -EINVAL;
                        c->state = CH_SIZE;
                        c->digits = 0;
                        i++;
                        break;
                case CH_TRAILER:
                        /* Start of a trailer line, or the final empty line. */
                        if (ch == '\r') {
                                i++;
                                break;
                        }
                        if (ch == '\n') {
                                c->state = CH_DONE;
                                i++;
                                break;
                        }
                        c->state = CH_TRAILER_LINE;
                        break;
                case CH_TRAILER_LINE:
                        if (ch == '\n')
                                c->state = CH_TRAILER;
                        i++;
                        break;
                case CH_DONE:
                        /* Bytes after the body: a pipelined request; the
                         * daemon does not pipeline, drop them. */
                        i = len;
                        break;
                }
        }
        *ret_out_len = out;
        return c->state == CH_DONE ? 1 : 0;
}

GB_EXPORT bool gb_api_route_match(const char *pattern, const char *path, char **caps, size_t n_caps)
{
        size_t nc = 0;
        const char *p = pattern, *s = path;

        while (*p && *s) {
                if (p[0] == '{' && p[1] == '}') {
                        size_t n = strcspn(s, "/");
                        if (n == 0 || nc >= n_caps)
                                goto fail;
                        caps[nc++] = strndup(s, n);
                        if (!caps[nc - 1])
                                abort();
                        s += n;
                        p += 2;
                        continue;
                }
                if (*p != *s)
                        goto fail;
                p++;
                s++;
        }
        if (*p || *s)
                goto fail;
        return true;
fail:
        for (size_t i = 0; i < nc; i++) {
                free(caps[i]);
                caps[i] = NULL;
        }
        return false;
}
