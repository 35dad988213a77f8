#include <errno.h>
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
#include "idmap.h"
#include "userns.h"
#include "util.h"

/* The seeds' arithmetic: base 231072. */
static void test_translate_seed(void **state)
{
        struct gb_idmap m = {0};
        uint32_t h, c;

        assert_int_equal(gb_idmap_add(&m, 0, 231072, 65536), 0);
        assert_int_equal(gb_idmap_to_host(&m, 0, &h), 0);
        assert_int_equal(h, 231072);
        assert_int_equal(gb_idmap_to_host(&m, 33, &h), 0);
        assert_int_equal(h, 231105);
        assert_int_equal(gb_idmap_to_host(&m, 1000, &h), 0);
        assert_int_equal(h, 232072);
        assert_int_equal(gb_idmap_to_host(&m, 65535, &h), 0);
        assert_int_equal(h, 296607);
        assert_int_equal(gb_idmap_to_host(&m, 65536, &h), -ENOENT);
        assert_int_equal(gb_idmap_to_container(&m, 231105, &c), 0);
        assert_int_equal(c, 33);
        assert_int_equal(gb_idmap_to_container(&m, 0, &c), -ENOENT);
        assert_int_equal(gb_idmap_to_container(&m, 296608, &c), -ENOENT);
}

/* Two ranges: 0..19 -> 200000, 20.. -> 250000 (seeds/002). */
static void test_multi_range(void **state)
{
        struct gb_idmap m = {0};
        char buf[256];
        uint32_t h;

        assert_int_equal(gb_idmap_add(&m, 0, 200000, 20), 0);
        assert_int_equal(gb_idmap_add(&m, 20, 250000, 65516), 0);
        assert_int_equal(gb_idmap_to_host(&m, 19, &h), 0);
        assert_int_equal(h, 200019);
        assert_int_equal(gb_idmap_to_host(&m, 20, &h), 0);
        assert_int_equal(h, 250000);
        assert_int_equal(gb_idmap_size(&m), 65536);
        assert_int_equal(gb_idmap_contiguous(&m), 65536);
        assert_int_equal(gb_idmap_format(&m, buf, sizeof(buf)), strlen("0 200000 20\n20 250000 65516\n"));
        assert_string_equal(buf, "0 200000 20\n20 250000 65516\n");
        assert_int_equal(gb_idmap_format(&m, buf, 10), -ENOBUFS);
}

static void test_add_limits(void **state)
{
        struct gb_idmap m = {0};

        assert_int_equal(gb_idmap_add(&m, 0, 1, 0), -EINVAL);
        assert_int_equal(gb_idmap_add(&m, 0, UINT32_MAX, 2), -EINVAL);
        assert_int_equal(gb_idmap_add(&m, UINT32_MAX, 0, 1), 0);
        for (size_t i = 1; i < GB_IDMAP_MAX; i++)
                assert_int_equal(gb_idmap_add(&m, (uint32_t)i, (uint32_t)i, 1), 0);
        assert_int_equal(gb_idmap_add(&m, 0, 0, 1), -E2BIG);
}

static void test_parse_roundtrip(void **state)
{
        struct gb_idmap m = {0}, back;
        struct gb_error err = {0};
        char buf[256];

        assert_int_equal(gb_idmap_parse("         0     231072      65536\n", &m, &err), 0);
        assert_int_equal(m.n, 1);
        assert_int_equal(m.r[0].host_id, 231072);
        assert_true(gb_idmap_format(&m, buf, sizeof(buf)) > 0);
        assert_int_equal(gb_idmap_parse(buf, &back, &err), 0);
        assert_true(gb_idmap_equal(&m, &back));
        assert_int_equal(gb_idmap_parse("0 1\n", &m, &err), -EINVAL);
        assert_int_equal(gb_idmap_parse("0 1 2 3\n", &m, &err), -EINVAL);
        assert_int_equal(gb_idmap_parse("0 1 99999999999\n", &m, &err), -ERANGE);
        assert_int_equal(gb_idmap_parse("", &m, &err), 0);
        assert_int_equal(m.n, 0);
}

static void test_overlap(void **state)
{
        struct gb_idmap a = {0}, b = {0};

        assert_int_equal(gb_idmap_add(&a, 0, 100000, 65536), 0);
        assert_int_equal(gb_idmap_add(&b, 0, 165536, 65536), 0);
        assert_false(gb_idmap_overlaps_host(&a, &b));
        assert_int_equal(gb_idmap_add(&b, 10, 165535, 1), 0);
        assert_true(gb_idmap_overlaps_host(&a, &b));
}

/* A real user namespace with the map we asked for: read it back from
 * /proc/PID/uid_map through the fd's owner. Needs root. */
static void test_userns_open(void **state)
{
        struct gb_idmap m = {0};
        struct gb_error err = {0};
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (geteuid() != 0)
                skip();
        assert_int_equal(gb_idmap_add(&m, 0, 300000, 65536), 0);
        assert_int_equal(gb_userns_open(&m, &m, &fd, &err), 0);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        /* The namespace outlives its helper process through the fd. */
        assert_int_equal(gb_idmap_mounts_supported("/tmp", &err), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_translate_seed), cmocka_unit_test(test_multi_range),
                cmocka_unit_test(test_add_limits),     cmocka_unit_test(test_parse_roundtrip),
                cmocka_unit_test(test_overlap),        cmocka_unit_test(test_userns_open),
        };
        return cmocka_run_group_tests_name("idmap-map", tests, NULL, NULL);
}
