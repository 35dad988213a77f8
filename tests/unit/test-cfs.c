#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cfs.h"
#include "cleanup.h"
#include "util.h"

static void expect_path(const char *in, const char *dir, const char *leaf, const char *name, bool want_dir)
{
        struct gb_cfs_path p;

        assert_int_equal(gb_cfs_path_parse(in, &p), 0);
        assert_string_equal(p.dir, dir);
        assert_string_equal(p.leaf, leaf);
        assert_string_equal(p.name, name);
        assert_int_equal(p.want_dir, want_dir);
        gb_cfs_path_done(&p);
}

static void test_path_parse(void **state)
{
        struct gb_cfs_path p;

        expect_path("/etc/passwd", "etc", "passwd", "passwd", false);
        expect_path("etc/passwd", "etc", "passwd", "passwd", false); /* relative: from "/" */
        expect_path("/passwd", "", "passwd", "passwd", false);
        expect_path("/etc/", "etc", "", "etc", true);
        expect_path("/etc/.", "etc", "", ".", true);
        expect_path("/", "", "", ".", true);
        expect_path(".", "", "", ".", true);
        expect_path("//a//./b/", "a/b", "", "b", true);
        /* ".." is lexical, and stops at the root (Go's Clean on "/" + p). */
        expect_path("/a/../b", "", "b", "b", false);
        expect_path("/../../etc/shadow", "etc", "shadow", "shadow", false);
        expect_path("/a/b/..", "", "a", "a", false);
        expect_path("/..", "", "", ".", false);
        assert_int_equal(gb_cfs_path_parse("", &p), -EINVAL);
        assert_int_equal(gb_cfs_path_parse(NULL, &p), -EINVAL);
        {
                char *long_path = gb_xmalloc(5000);
                memset(long_path, 'a', 4999);
                long_path[4999] = '\0';
                assert_int_equal(gb_cfs_path_parse(long_path, &p), -ENAMETOOLONG);
                free(long_path);
        }
}

static void test_go_mode(void **state)
{
        assert_int_equal(gb_cfs_go_mode(S_IFREG | 0644), 0644);
        assert_int_equal(gb_cfs_go_mode(S_IFDIR | 0755), 0x80000000u | 0755);
        assert_int_equal(gb_cfs_go_mode(S_IFLNK | 0777), 0x08000000u | 0777);
        assert_int_equal(gb_cfs_go_mode(S_IFREG | 04755), 0x00800000u | 0755);
        assert_int_equal(gb_cfs_go_mode(S_IFDIR | 01777), 0x80000000u | 0x00100000u | 0777);
        assert_int_equal(gb_cfs_go_mode(S_IFCHR | 0666), 0x04000000u | 0x00200000u | 0666);
        assert_int_equal(gb_cfs_go_mode(S_IFIFO | 0600), 0x02000000u | 0600);
}

static void test_base64(void **state)
{
        /* RFC 4648 test vectors. */
        static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
        static const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

        for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
                _cleanup_free_ char *s = gb_base64(in[i], strlen(in[i]));
                assert_string_equal(s, out[i]);
        }
}

static void test_stat_header(void **state)
{
        struct gb_cfs_stat st = {.name = (char *)"passwd",
                                 .size = 12,
                                 .mode = S_IFREG | 0644,
                                 .mtime_sec = 0,
                                 .mtime_nsec = 5,
                                 .link_target = NULL};
        _cleanup_free_ char *h = gb_cfs_stat_header(&st);
        const char *want = "{\"name\":\"passwd\",\"size\":12,\"mode\":420,\"mtime\":\"1970-01-01T00:00:00.000000005Z\","
                           "\"linkTarget\":\"\"}";
        _cleanup_free_ char *b = gb_base64(want, strlen(want));

        assert_string_equal(h, b);
}

static void test_utf8(void **state)
{
        static const char *in[] = {"plain",        "caf\xc3\xa9",      "pas\xf3wd", "\xc0\xaf",
                                   "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\xe2\x82"};
        static const char *out[] = {"plain",
                                    "caf\xc3\xa9",
                                    "pas\xef\xbf\xbdwd",
                                    "\xef\xbf\xbd\xef\xbf\xbd",
                                    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
                                    "\xf0\x9f\x98\x80",
                                    "\xef\xbf\xbd\xef\xbf\xbd"};

        for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
                _cleanup_free_ char *s = gb_utf8_sanitize(in[i]);
                assert_string_equal(s, out[i]);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path_parse),  cmocka_unit_test(test_go_mode), cmocka_unit_test(test_base64),
                cmocka_unit_test(test_stat_header), cmocka_unit_test(test_utf8),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
