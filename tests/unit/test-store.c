#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "manifest.h"
#include "store.h"
#include "util.h"

static void test_ref_normalize(void **state)
{
        static const char *const good[][2] = {
                {"busybox", "busybox:latest"},
                {"busybox:1.36", "busybox:1.36"},
                {"localhost:5000/a/b", "localhost:5000/a/b:latest"},
                {"localhost:5000/a/b:v1", "localhost:5000/a/b:v1"},
                {"my_org/img-x.y", "my_org/img-x.y:latest"},
        };
        static const char *const bad[] = {"", "Busybox", "a b", "a:", "/a", "a//b", "sha256:abcd", "a:b/c", "a/"};
        struct gb_error err = {0};

        for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
                _cleanup_free_ char *out = NULL;
                assert_int_equal(gb_image_ref_normalize(good[i][0], &out, &err), 0);
                assert_string_equal(out, good[i][1]);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                char *out = NULL;
                assert_int_equal(gb_image_ref_normalize(bad[i], &out, &err), -EINVAL);
                assert_null(out);
        }
}

static void test_manifest_parsers(void **state)
{
        static const char dm[] = "[{\"Config\":\"c.json\",\"RepoTags\":[\"a:1\"],\"Layers\":[\"l/layer.tar\"]}]";
        static const char dup[] = "[{\"Config\":\"c.json\",\"Config\":\"d.json\"}]";
        static const char badd[] = "{\"manifests\":[{\"digest\":\"sha256:../../../etc/passwd\"}]}";
        static const char cfg[] = "{\"rootfs\":{\"diff_ids\":[\"sha256:"
                                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"]},"
                                  "\"config\":{\"Env\":[\"A=1\"],\"Labels\":{\"k\":\"v\"},\"User\":\"33\"}}";
        struct gb_docker_manifest *m = NULL;
        struct gb_oci_index *idx = NULL;
        struct gb_image_config *c = NULL;
        struct gb_error err = {0};

        assert_int_equal(gb_docker_manifest_parse(dm, strlen(dm), &m, &err), 0);
        assert_int_equal(m->n, 1);
        assert_string_equal(m->e[0].config, "c.json");
        assert_string_equal(m->e[0].layers[0], "l/layer.tar");
        gb_docker_manifest_free(m);
        /* Duplicate keys could make two readers see different images. */
        assert_int_equal(gb_docker_manifest_parse(dup, strlen(dup), &m, &err), -EINVAL);
        /* A digest is a file name later: only sha256:<64 hex> passes. */
        assert_int_equal(gb_oci_index_parse(badd, strlen(badd), &idx, &err), -EINVAL);
        assert_int_equal(gb_image_config_parse(cfg, strlen(cfg), &c, &err), 0);
        assert_int_equal(c->n_diff_ids, 1);
        assert_string_equal(c->env[0], "A=1");
        assert_string_equal(c->labels[0], "k=v");
        assert_string_equal(c->user, "33");
        gb_image_config_free(c);
}

static int one_file_tar(void)
{
        struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        int fd = memfd_create("tar", MFD_CLOEXEC);

        archive_write_set_format_pax_restricted(a);
        archive_write_open_fd(a, fd);
        archive_entry_set_pathname(e, "hello");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 2);
        archive_write_header(a, e);
        archive_write_data(a, "hi", 2);
        archive_entry_free(e);
        archive_write_close(a);
        archive_write_free(a);
        lseek(fd, 0, SEEK_SET);
        return fd;
}

/* The "image in use" marker contract the container module builds on. */
static void test_in_use_refuses_rmi(void **state)
{
        _cleanup_free_ char *root = gb_xstrdup("/tmp/gb-test-store.XXXXXX");
        _cleanup_(gb_store_freep) struct gb_store *s = NULL;
        _cleanup_close_ int fd = one_file_tar();
        char *const changes[] = {"CMD [\"/hello\"]", "ENV A=1", NULL};
        char *const bad_changes[] = {"RUN true", NULL};
        struct gb_image_config *c = NULL;
        struct gb_error err = {0};
        char id[GB_DIGEST_LEN], id2[GB_DIGEST_LEN], *holder = NULL;
        char **lines = NULL;

        assert_non_null(mkdtemp(root));
        assert_int_equal(gb_store_open(root, &s, &err), 0);
        assert_int_equal(gb_store_import(s, fd, "t/img", bad_changes, NULL, id, &err), -EINVAL);
        assert_int_equal(gb_store_import(s, fd, "t/img", changes, NULL, id, &err), 0);
        assert_int_equal(gb_store_resolve(s, "t/img:latest", id2, &err), 0);
        assert_string_equal(id, id2);
        assert_int_equal(gb_store_resolve(s, id + 7 + 0, id2, &err), 0);
        assert_int_equal(gb_store_resolve(s, "nosuch", id2, &err), -ENOENT);
        assert_int_equal(gb_store_image_config(s, id, &c, &err), 0);
        assert_string_equal(c->cmd[0], "/hello");
        gb_image_config_free(c);

        assert_int_equal(gb_store_image_in_use(s, id, NULL, &err), 0);
        assert_int_equal(gb_store_image_ref(s, id, "ctr-1", &err), 0);
        assert_int_equal(gb_store_image_ref(s, id, "../evil", &err), -EINVAL);
        assert_int_equal(gb_store_image_in_use(s, id, &holder, &err), 1);
        assert_string_equal(holder, "ctr-1");
        free(holder);
        assert_int_equal(gb_store_rmi(s, "t/img", true, &lines, &err), -EBUSY);
        assert_non_null(strstr(err.msg, "ctr-1"));
        assert_int_equal(gb_store_image_unref(s, id, "ctr-1", &err), 0);
        assert_int_equal(gb_store_rmi(s, "t/img", false, &lines, &err), 0);
        assert_string_equal(lines[0], "Untagged: t/img:latest");
        assert_true(gb_str_has_prefix(lines[1], "Deleted: sha256:"));
        gb_strv_free(lines);
        assert_int_equal(gb_store_resolve(s, id, id2, &err), -ENOENT);
        assert_int_equal(gb_rm_rf(root), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ref_normalize),
                cmocka_unit_test(test_manifest_parsers),
                cmocka_unit_test(test_in_use_refuses_rmi),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
