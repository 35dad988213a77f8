#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "apihttp.h"
#include "cleanup.h"
#include "util.h"

static int parse(const char *s, struct gb_http_req *r, struct gb_error *err)
{
        size_t end = gb_http_head_end(s, strlen(s));
        assert_true(end > 0);
        return gb_http_parse_head(s, end, r, err);
}

static void test_ping_head(void **state)
{
        struct gb_http_req r = {0};
        struct gb_error err = {0};

        assert_int_equal(parse("HEAD /_ping HTTP/1.1\r\nHost: x\r\n\r\n", &r, &err), 0);
        assert_string_equal(r.method, "HEAD");
        assert_string_equal(r.path, "/_ping");
        assert_string_equal(r.version, "");
        assert_true(r.keep_alive);
        assert_int_equal(r.content_length, -1);
        gb_http_req_clear(&r);
}

static void test_version_prefix_and_query(void **state)
{
        struct gb_http_req r = {0};
        struct gb_error err = {0};
        char *v;

        assert_int_equal(parse("POST /v1.41/containers/create?name=web%2D1&x=a+b HTTP/1.1\r\n"
                               "Content-Length: 12\r\n\r\n",
                               &r, &err),
                         0);
        assert_string_equal(r.version, "1.41");
        assert_string_equal(r.path, "/containers/create");
        assert_int_equal(r.content_length, 12);
        v = gb_http_query(r.query, "name");
        assert_string_equal(v, "web-1");
        free(v);
        v = gb_http_query(r.query, "x");
        assert_string_equal(v, "a b");
        free(v);
        assert_null(gb_http_query(r.query, "nope"));
        gb_http_req_clear(&r);
}

static void test_version_range(void **state)
{
        struct gb_http_req r = {0};
        struct gb_error err = {0};

        assert_int_equal(parse("GET /v1.23/version HTTP/1.1\r\n\r\n", &r, &err), -ENOTSUP);
        assert_non_null(strstr(err.msg, "lower"));
        gb_http_req_clear(&r);
        assert_int_equal(parse("GET /v1.44/version HTTP/1.1\r\n\r\n", &r, &err), -ENOTSUP);
        gb_http_req_clear(&r);
        assert_int_equal(parse("GET /v1.24/version HTTP/1.1\r\n\r\n", &r, &err), 0);
        gb_http_req_clear(&r);
        assert_true(gb_api_version_cmp("1.9", "1.10") < 0);
        assert_int_equal(gb_api_version_cmp("1.41", "1.41"), 0);
}

static void test_smuggling_refused(void **state)
{
        struct gb_http_req r = {0};
        struct gb_error err = {0};

        assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", &r, &err),
                         -EINVAL);
        assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", &r, &err), -EINVAL);
        assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r, &err), -EINVAL);
        assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &r, &err), -EINVAL);
        assert_int_equal(parse("GET / HTTP/1.1\r\n folded: x\r\n\r\n", &r, &err), -EINVAL);
        assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", &r, &err), -EINVAL);
        assert_int_equal(parse("GET /a%00b HTTP/1.1\r\n\r\n", &r, &err), -EINVAL);
}

static void test_upgrade(void **state)
{
        struct gb_http_req r = {0};
        struct gb_error err = {0};

        assert_int_equal(parse("POST /containers/x/attach?stream=1 HTTP/1.1\r\nConnection: Upgrade\r\n"
                               "Upgrade: tcp\r\n\r\n",
                               &r, &err),
                         0);
        assert_true(r.upgrade);
        assert_true(gb_http_query_bool(r.query, "stream"));
        assert_false(gb_http_query_bool(r.query, "stdin"));
        gb_http_req_clear(&r);
        assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r, &err), 0);
        assert_false(r.keep_alive);
        assert_false(r.upgrade);
        gb_http_req_clear(&r);
}

static void test_chunked(void **state)
{
        char buf[] = "4\r\nWiki\r\n5;ext\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
        struct gb_chunked ch = {0};
        size_t out;

        assert_int_equal(gb_chunked_feed(&ch, buf, strlen(buf), &out), 1);
        assert_int_equal(out, 9);
        assert_memory_equal(buf, "Wikipedia", 9);
}

static void test_chunked_split(void **state)
{
        const char *src = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        struct gb_chunked ch = {0};
        char got[16];
        size_t glen = 0;
        int r = 0;

        for (size_t i = 0; src[i]; i++) {
                char b = src[i];
                size_t out;
                r = gb_chunked_feed(&ch, &b, 1, &out);
                assert_true(r >= 0);
                if (out)
                        got[glen++] = b;
        }
        assert_int_equal(r, 1);
        assert_int_equal(glen, 5);
        assert_memory_equal(got, "abcde", 5);
}

static void test_chunked_bad(void **state)
{
        char b1[] = "zz\r\n";
        char b2[] = "3\r\nabcX";
        char b3[] = "ffffffffffffffff\r\n";
        struct gb_chunked ch = {0};
        size_t out;

        assert_int_equal(gb_chunked_feed(&ch, b1, strlen(b1), &out), -EINVAL);
        memset(&ch, 0, sizeof(ch));
        assert_int_equal(gb_chunked_feed(&ch, b2, strlen(b2), &out), -EINVAL);
        memset(&ch, 0, sizeof(ch));
        assert_int_equal(gb_chunked_feed(&ch, b3, strlen(b3), &out), -EINVAL);
}

static void test_routes(void **state)
{
        char *caps[2] = {NULL, NULL};

        assert_true(gb_api_route_match("/containers/{}/start", "/containers/abc/start", caps, 2));
        assert_string_equal(caps[0], "abc");
        free(caps[0]);
        caps[0] = NULL;
        assert_false(gb_api_route_match("/containers/{}/start", "/containers//start", caps, 2));
        assert_false(gb_api_route_match("/containers/{}/start", "/containers/a/b/start", caps, 2));
        assert_false(gb_api_route_match("/containers/{}", "/containers/a/json", caps, 2));
        assert_null(caps[0]);
}

static void test_query_all(void **state)
{
        char **v = gb_http_query_all("names=busybox&x=1&names=a%2Fb%3A1&names=&names&nameses=z&names=c+d", "names");

        (void)state;
        assert_int_equal(gb_strv_len(v), 3);
        assert_string_equal(v[0], "busybox");
        assert_string_equal(v[1], "a/b:1");
        assert_string_equal(v[2], "c d");
        gb_strv_free(v);
        v = gb_http_query_all("", "names");
        assert_non_null(v);
        assert_null(v[0]);
        gb_strv_free(v);
        v = gb_http_query_all("names=%zz", "names"); /* a bad escape is dropped */
        assert_null(v[0]);
        gb_strv_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ping_head),     cmocka_unit_test(test_version_prefix_and_query),
                cmocka_unit_test(test_version_range), cmocka_unit_test(test_smuggling_refused),
                cmocka_unit_test(test_upgrade),       cmocka_unit_test(test_chunked),
                cmocka_unit_test(test_chunked_split), cmocka_unit_test(test_chunked_bad),
                cmocka_unit_test(test_routes),        cmocka_unit_test(test_query_all),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
