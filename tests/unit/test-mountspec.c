#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mountspec.h"

static void test_volume_flag(void **state)
{
        struct gb_mount_req m = {0};
        struct gb_error err = {0};

        assert_int_equal(gb_mountspec_parse_volume("/etc:/root/etc", &m, &err), 0);
        assert_int_equal(m.type, GB_MOUNT_BIND);
        assert_string_equal(m.source, "/etc");
        assert_string_equal(m.target, "/root/etc");
        assert_true(m.create_source);
        assert_false(m.readonly);
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_volume("/srv:/data:ro,rslave,idmap,z", &m, &err), 0);
        assert_true(m.readonly);
        assert_true(m.idmap);
        assert_string_equal(m.propagation, "rslave");
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_volume("webdata:/var/www:nocopy", &m, &err), 0);
        assert_int_equal(m.type, GB_MOUNT_VOLUME);
        assert_string_equal(m.source, "webdata");
        assert_true(m.nocopy);
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_volume("/cache", &m, &err), 0);
        assert_int_equal(m.type, GB_MOUNT_VOLUME);
        assert_null(m.source);
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_volume("/a:b", &m, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "must be absolute"));
        assert_int_equal(gb_mountspec_parse_volume("/a:/", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_volume("/a:/b:ro,rw", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_volume("/a:/b:bogus", &m, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "\"bogus\""));
        assert_int_equal(gb_mountspec_parse_volume("vol:/b:idmap", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_volume("/a:/b:/c:/d", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_volume("../x:/b", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_volume(":/b", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_volume("", &m, &err), -EINVAL);
}

static void test_mount_flag(void **state)
{
        struct gb_mount_req m = {0};
        struct gb_error err = {0};

        assert_int_equal(
                gb_mountspec_parse_mount("type=bind,src=/srv,dst=/data,readonly,bind-propagation=rshared", &m, &err),
                0);
        assert_int_equal(m.type, GB_MOUNT_BIND);
        assert_false(m.create_source);
        assert_true(m.readonly);
        assert_string_equal(m.propagation, "rshared");
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_mount("source=v1,target=/v,volume-nocopy=true", &m, &err), 0);
        assert_int_equal(m.type, GB_MOUNT_VOLUME);
        assert_true(m.nocopy);
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_mount("type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=700", &m, &err), 0);
        assert_int_equal(m.tmpfs_size, 64ULL << 20);
        assert_int_equal(m.tmpfs_mode, 0700);
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_mount("type=bind,src=/a,dst=/b,readonly=false,idmap", &m, &err), 0);
        assert_false(m.readonly);
        assert_true(m.idmap);
        gb_mount_req_clear(&m);

        assert_int_equal(gb_mountspec_parse_mount("type=bind,src=rel,dst=/b", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_mount("type=bind,dst=/b", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_mount("type=nfs,dst=/b", &m, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "nfs"));
        assert_int_equal(gb_mountspec_parse_mount("type=volume,dst=/b,tmpfs-size=1", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_mount("type=tmpfs,src=x,dst=/b", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_mount("type=tmpfs,dst=/b,tmpfs-mode=9", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_mount("type=tmpfs,dst=/b,tmpfs-size=1x", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_mount("type=bind,src=/a,dst=/b,readonly=maybe", &m, &err), -EINVAL);
        assert_int_equal(gb_mountspec_parse_mount("type=bind,src=/a,dst=/b,colour=red", &m, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "\"colour\""));
        assert_int_equal(gb_mountspec_parse_mount("type=bind,src=/a", &m, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "container path"));
        assert_int_equal(gb_mountspec_parse_mount("", &m, &err), -EINVAL);
}

static void test_volume_names(void **state)
{
        assert_true(gb_volume_name_valid("data"));
        assert_true(gb_volume_name_valid("my_vol.1-x"));
        assert_false(gb_volume_name_valid("a"));
        assert_false(gb_volume_name_valid("_x"));
        assert_false(gb_volume_name_valid("a/b"));
        assert_false(gb_volume_name_valid(".."));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_volume_flag),
                cmocka_unit_test(test_mount_flag),
                cmocka_unit_test(test_volume_names),
        };
        return cmocka_run_group_tests_name("mountspec", tests, NULL, NULL);
}
