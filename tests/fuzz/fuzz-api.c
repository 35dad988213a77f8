/* The Engine API's request side: head parsing (request line, headers,
 * framing, the /vX.YY prefix), query decoding, route matching and the
 * chunked body decoder, fed what a client could send. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apihttp.h"
#include "cleanup.h"

static const char *const patterns[] = {
        "/_ping",         "/containers/{}/json", "/containers/{}/attach", "/containers/{}",
        "/exec/{}/start", "/volumes/{}",         "/images/{}/tag",        "/containers/{}/{}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_http_req r = {0};
        struct gb_error err = {0};
        size_t end = gb_http_head_end((const char *)data, size);
        int rc;

        if (end == 0)
                end = size;
        rc = gb_http_parse_head((const char *)data, end, &r, &err);
        if (rc == 0 || rc == -ENOTSUP) {
                const char *keys[] = {"name", "all", "stream", "condition", "filters", ""};
                for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                        free(gb_http_query(r.query, keys[i]));
                        (void)gb_http_query_bool(r.query, keys[i]);
                        char **all = gb_http_query_all(r.query, keys[i]);
                        for (char **a = all; *a; a++)
                                if (!**a)
                                        abort(); /* empty values are dropped */
                        gb_strv_free(all);
                }
                for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
                        char *caps[2] = {NULL, NULL};
                        if (gb_api_route_match(patterns[i], r.path, caps, 2)) {
                                free(caps[0]);
                                free(caps[1]);
                        }
                }
                (void)gb_http_header(&r, "Content-Type");
                (void)gb_api_version_cmp(r.version, GB_API_VERSION);
        }
        gb_http_req_clear(&r);
        /* The rest as a chunked body, fed in pieces whose sizes come from
         * the first byte, as reads would split it. */
        if (end < size) {
                size_t n = size - end, step = (size_t)(data[0] % 7) + 1;
                char *buf = malloc(n);
                struct gb_chunked ch = {0};
                memcpy(buf, data + end, n);
                for (size_t off = 0; off < n; off += step) {
                        size_t len = n - off < step ? n - off : step, out;
                        if (gb_chunked_feed(&ch, buf + off, len, &out) != 0)
                                break;
                        if (out > len)
                                abort(); /* never more out than in */
                }
                free(buf);
        }
        return 0;
}
