/* The map value type of idmap.h: adding, translating, formatting. The
 * subuid/remap half of the module lives in idmap.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "idmap.h"
#include "util.h"

GB_EXPORT int gb_idmap_add(struct gb_idmap *m, uint32_t container_id, uint32_t host_id, uint32_t count)
{
        if (count == 0)
                return -EINVAL;
        if ((uint64_t)container_id + count - 1 > UINT32_MAX || (uint64_t)host_id + count - 1 > UINT32_MAX)
                return -EINVAL;
        if (m->n >= GB_IDMAP_MAX)
                return -E2BIG;
        m->r[m->n++] = (struct gb_idmap_range){container_id, host_id, count};
        return 0;
}

GB_EXPORT int gb_idmap_to_host(const struct gb_idmap *m, uint32_t container_id, uint32_t *ret_host_id)
{
        for (size_t i = 0; i < m->n; i++) {
                const struct gb_idmap_range *r = &m->r[i];
                if (container_id >= r->container_id && (uint64_t)container_id < (uint64_t)r->container_id + r->count) {
                        *ret_host_id = r->host_id + (container_id - r->container_id);
                        return 0;
                }
        }
        return -ENOENT;
}

GB_EXPORT int gb_idmap_to_container(const struct gb_idmap *m, uint32_t host_id, uint32_t *ret_container_id)
{
        for (size_t i = 0; i < m->n; i++) {
                const struct gb_idmap_range *r = &m->r[i];
                if (host_id >= r->host_id && (uint64_t)host_id < (uint64_t)r->host_id + r->count) {
                        *ret_container_id = r->container_id + (host_id - r->host_id);
                        return 0;
                }
        }
        return -ENOENT;
}

GB_EXPORT uint64_t gb_idmap_size(const struct gb_idmap *m)
{
        uint64_t n = 0;
        for (size_t i = 0; i < m->n; i++)
                n += m->r[i].count;
        return n;
}

GB_EXPORT uint64_t gb_idmap_contiguous(const struct gb_idmap *m)
{
        uint64_t next = 0;
        bool progress = true;

        /* Ranges need not be sorted by container ID: keep extending. */
        while (progress) {
                progress = false;
                for (size_t i = 0; i < m->n; i++) {
                        if (m->r[i].container_id == next) {
                                next += m->r[i].count;
                                progress = true;
                        }
                }
                if (next > UINT32_MAX)
                        break;
        }
        return next;
}

GB_EXPORT bool gb_idmap_equal(const struct gb_idmap *a, const struct gb_idmap *b)
{
        if (a->n != b->n)
                return false;
        return memcmp(a->r, b->r, a->n * sizeof(a->r[0])) == 0;
}

GB_EXPORT bool gb_idmap_overlaps_host(const struct gb_idmap *a, const struct gb_idmap *b)
{
        for (size_t i = 0; i < a->n; i++)
                for (size_t j = 0; j < b->n; j++) {
                        uint64_t a0 = a->r[i].host_id, a1 = a0 + a->r[i].count;
                        uint64_t b0 = b->r[j].host_id, b1 = b0 + b->r[j].count;
                        if (a0 < b1 && b0 < a1)
                                return true;
                }
        return false;
}

/* Decimal formatting by hand: snprintf is not async-signal-safe, and this
 * runs in children created from threaded processes. */
static size_t put_u32(char *p, uint32_t v)
{
        char tmp[10];
        size_t n = 0, i;

        do {
                tmp[n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        for (i = 0; i < n; i++)
                p[i] = tmp[n - 1 - i];
        return n;
}

GB_EXPORT ssize_t gb_idmap_format(const struct gb_idmap *m, char *buf, size_t size)
{
        size_t len = 0;

        for (size_t i = 0; i < m->n; i++) {
                /* Three 10-digit numbers, two spaces, newline, NUL. */
                if (size - len < 34)
                        return -ENOBUFS;
                len += put_u32(buf + len, m->r[i].container_id);
                buf[len++] = ' ';
                len += put_u32(buf + len, m->r[i].host_id);
                buf[len++] = ' ';
                len += put_u32(buf + len, m->r[i].count);
                buf[len++] = '\n';
        }
        if (size == 0)
                return -ENOBUFS;
        buf[len] = '\0';
        return (ssize_t)len;
}

GB_EXPORT int gb_idmap_parse(const char *text, struct gb_idmap *ret, struct gb_error *err)
{
        struct gb_idmap m = {0};
        const char *p = text;
        unsigned line = 1;

        for (;;) {
                unsigned long long v[3];
                for (int k = 0; k < 3; k++) {
                        char *end;
                        while (*p == ' ' || *p == '\t')
                                p++;
                        if (k == 0) {
                                while (*p == '\n') {
                                        p++;
                                        line++;
                                        while (*p == ' ' || *p == '\t')
                                                p++;
                                }
                                if (!*p) {
                                        *ret = m;
                                        return 0;
                                }
                        }
                        if (*p < '0' || *p > '9')
                                return gb_error_set(err, EINVAL, "Failed to parse ID map line %u: expected a number",
                                                    line);
                        errno = 0;
                        v[k] = strtoull(p, &end, 10);
                        if (errno || v[k] > UINT32_MAX)
                                return gb_error_set(err, ERANGE, "Failed to parse ID map line %u: number out of range",
                                                    line);
                        p = end;
                }
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p && *p != '\n')
                        return gb_error_set(err, EINVAL, "Failed to parse ID map line %u: trailing text", line);
                int r = gb_idmap_add(&m, (uint32_t)v[0], (uint32_t)v[1], (uint32_t)v[2]);
                if (r < 0)
                        return gb_error_set(err, -r, "Failed to parse ID map line %u: %s", line,
                                            r == -E2BIG ? "too many lines" : "bad range");
        }
}
