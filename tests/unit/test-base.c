#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "error.h"
#include "util.h"

static void test_parse_u32(void **state)
{
        uint32_t v;

        assert_int_equal(gb_parse_u32("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(gb_parse_u32("4294967295", &v), 0);
        assert_int_equal(v, UINT32_MAX);
        assert_int_equal(gb_parse_u32("4294967296", &v), -ERANGE);
        assert_int_equal(gb_parse_u32("99999999999999999999999", &v), -ERANGE);
        assert_int_equal(gb_parse_u32("", &v), -EINVAL);
        assert_int_equal(gb_parse_u32("-1", &v), -EINVAL);
        assert_int_equal(gb_parse_u32("12a", &v), -EINVAL);
        assert_int_equal(gb_parse_u32(" 1", &v), -EINVAL);
}

static void test_error_chain(void **state)
{
        struct gb_error err = {0};

        assert_int_equal(gb_error_sys(&err, ENOENT, "Failed to open '%s'", "/x"), -ENOENT);
        assert_string_equal(err.msg, "Failed to open '/x': No such file or directory");
        assert_int_equal(gb_error_prefix(&err, "Failed to load %s", "image"), -ENOENT);
        assert_string_equal(err.msg, "Failed to load image: Failed to open '/x': No such file or directory");
        assert_int_equal(gb_error_set(NULL, 0, "x"), -EINVAL);
}

static void test_atomic_write_and_read(void **state)
{
        char dir[] = "/tmp/gb-unit-XXXXXX";
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t len;

        assert_non_null(mkdtemp(dir));
        path = gb_xasprintf("%s/f", dir);
        assert_int_equal(gb_write_file_atomic(path, "hello", 5, 0600), 0);
        assert_int_equal(gb_read_file_at(AT_FDCWD, path, 100, &buf, &len), 0);
        assert_int_equal(len, 5);
        assert_string_equal(buf, "hello");
        free(TAKE_PTR(buf));
        assert_int_equal(gb_read_file_at(AT_FDCWD, path, 3, &buf, &len), -EFBIG);
        assert_null(buf);
        assert_int_equal(gb_rm_rf(dir), 0);
        assert_int_equal(access(dir, F_OK), -1);
}

static void test_parse_signal(void **state)
{
        assert_int_equal(gb_parse_signal("TERM"), SIGTERM);
        assert_int_equal(gb_parse_signal("SIGKILL"), SIGKILL);
        assert_int_equal(gb_parse_signal("sigusr1"), SIGUSR1);
        assert_int_equal(gb_parse_signal("9"), 9);
        assert_int_equal(gb_parse_signal("64"), 64);
        assert_int_equal(gb_parse_signal("0"), -EINVAL);
        assert_int_equal(gb_parse_signal("65"), -EINVAL);
        assert_int_equal(gb_parse_signal("SIG"), -EINVAL);
        assert_int_equal(gb_parse_signal("NOPE"), -EINVAL);
        assert_int_equal(gb_parse_signal(""), -EINVAL);
}

static void test_mkdir_p_rm_rf(void **state)
{
        char dir[] = "/tmp/gb-unit-XXXXXX";
        _cleanup_free_ char *deep = NULL, *link = NULL;

        assert_non_null(mkdtemp(dir));
        deep = gb_xasprintf("%s/a/b/c", dir);
        assert_int_equal(gb_mkdir_p(deep, 0755), 0);
        assert_int_equal(gb_mkdir_p(deep, 0755), 0);
        /* rm -rf must not follow a symlink out of the tree. */
        link = gb_xasprintf("%s/a/escape", dir);
        assert_int_equal(symlink("/etc", link), 0);
        assert_int_equal(gb_rm_rf(dir), 0);
        assert_int_equal(access("/etc/passwd", F_OK), 0);
        assert_int_equal(access(dir, F_OK), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_u32),
                cmocka_unit_test(test_error_chain),
                cmocka_unit_test(test_atomic_write_and_read),
                cmocka_unit_test(test_mkdir_p_rm_rf),
                cmocka_unit_test(test_parse_signal),
        };
        return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
