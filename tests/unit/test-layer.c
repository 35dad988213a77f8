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
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "layer.h"
#include "sha256.h"
#include "util.h"

/* FIPS 180-2 test vectors. */
/* The CPU's SHA instructions and the portable code agree on every length
 * around the block and padding boundaries, and over many blocks. The
 * vectors test runs with whichever path this CPU takes. */
static void test_sha256_paths_agree(void **state)
{
        static uint8_t buf[4096 + 130];
        char a[GB_DIGEST_LEN], b[GB_DIGEST_LEN];
        bool accel = gb_sha256_accelerated(-1);

        (void)state;
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 131 + (i >> 7));
        if (!accel)
                print_message("# the CPU has no SHA instructions: the portable path only\n");
        for (size_t len = 0; len < sizeof(buf); len += len < 200 ? 1 : 61) {
                gb_sha256_accelerated(1);
                gb_sha256_digest(buf, len, a);
                gb_sha256_accelerated(0);
                gb_sha256_digest(buf, len, b);
                assert_string_equal(a, b);
        }
        gb_sha256_accelerated(1);
        assert_true(gb_sha256_accelerated(-1) == accel);
}

static void test_sha256_vectors(void **state)
{
        char d[GB_DIGEST_LEN];
        struct gb_sha256 s;
        static char million[1000000];

        gb_sha256_digest("abc", 3, d);
        assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        gb_sha256_digest("", 0, d);
        assert_string_equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        gb_sha256_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
        assert_string_equal(d, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        memset(million, 'a', sizeof(million));
        gb_sha256_init(&s);
        /* Odd chunk sizes exercise the buffering. */
        for (size_t off = 0; off < sizeof(million);) {
                size_t n = sizeof(million) - off < 777 ? sizeof(million) - off : 777;
                gb_sha256_update(&s, million + off, n);
                off += n;
        }
        gb_sha256_final_digest(&s, d);
        assert_string_equal(d, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        assert_true(gb_digest_valid("sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
        assert_false(gb_digest_valid("sha256:CDC76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
        assert_false(gb_digest_valid("sha256:../../etc"));
        assert_false(gb_digest_valid("sha512:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

static void test_fcaps(void **state)
{
        /* v3, effective, cap_net_raw permitted, rootid 100000. */
        uint8_t v3[24] = {0x01, 0, 0, 0x03, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa0, 0x86, 0x01, 0};
        uint8_t bad[20] = {0x01, 0, 0, 0x07};

        assert_int_equal(gb_fcaps_normalize(v3, 24), 20);
        assert_int_equal(v3[3], 0x02); /* now v2 */
        assert_int_equal(v3[0], 0x01); /* effective kept */
        assert_int_equal(v3[5], 0x20); /* permitted kept */
        assert_int_equal(gb_fcaps_normalize(v3, 20), 20);
        assert_int_equal(gb_fcaps_normalize(bad, 20), -EINVAL);
        assert_int_equal(gb_fcaps_normalize(v3, 19), -EINVAL);
        assert_int_equal(gb_fcaps_set_rootid(v3, 20, 231072), 24);
        assert_int_equal(v3[3], 0x03);
        assert_int_equal(v3[20] | v3[21] << 8 | v3[22] << 16, 231072);
}

struct entry {
        const char *name;
        mode_t type;
        const char *data; /* file data, or link target */
        int uid;
        bool hardlink;
};

/* Build a tar in a memfd with libarchive's writer. */
static int make_tar(const struct entry *e, size_t n)
{
        struct archive *a = archive_write_new();
        int fd = memfd_create("tar", MFD_CLOEXEC);

        assert_true(fd >= 0);
        archive_write_set_format_pax_restricted(a);
        assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *ae = archive_entry_new();
                archive_entry_set_pathname(ae, e[i].name);
                archive_entry_set_uid(ae, e[i].uid);
                archive_entry_set_gid(ae, e[i].uid);
                if (e[i].hardlink) {
                        archive_entry_set_filetype(ae, AE_IFREG);
                        archive_entry_set_hardlink(ae, e[i].data);
                } else {
                        archive_entry_set_filetype(ae, e[i].type);
                        archive_entry_set_perm(ae, e[i].type == AE_IFDIR ? 0755 : 0644);
                        if (e[i].type == AE_IFLNK)
                                archive_entry_set_symlink(ae, e[i].data);
                        if (e[i].type == AE_IFREG)
                                archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
                }
                assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
                if (e[i].type == AE_IFREG && !e[i].hardlink)
                        archive_write_data(a, e[i].data, strlen(e[i].data));
                archive_entry_free(ae);
        }
        archive_write_close(a);
        archive_write_free(a);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static char *scratch(void)
{
        char *t = gb_xstrdup("/tmp/gb-test-layer.XXXXXX");
        assert_non_null(mkdtemp(t));
        return t;
}

static int extract(const char *dir, int fd, struct gb_layer_info *info, struct gb_error *err)
{
        _cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct gb_layer_opts o = {.blob_fd = -1};
        return gb_layer_extract(fd, root, &o, info, err);
}

static void test_extract_basic(void **state)
{
        static const struct entry e[] = {
                {"./", AE_IFDIR, NULL, 0, false},
                {"./etc/passwd", AE_IFREG, "root:x:0:0\n", 0, false}, /* parent created implicitly */
                {"home/u", AE_IFDIR, NULL, 1000, false},
                {"home/u/f", AE_IFREG, "hi", 1000, false},
                {"home/u/hl", AE_IFREG, "home/u/f", 1000, true},
                {"sl", AE_IFLNK, "/etc/passwd", 0, false},
                {"gone/.wh.x", AE_IFREG, "", 0, false},
                {"opq/.wh..wh..opq", AE_IFREG, "", 0, false},
        };
        _cleanup_free_ char *dir = scratch(), *p = NULL, *buf = NULL;
        _cleanup_close_ int fd = make_tar(e, ARRAY_SIZE(e));
        struct gb_layer_info info;
        struct gb_error err = {0};
        struct stat st, st2;
        char digest[GB_DIGEST_LEN], x[4];

        assert_int_equal(extract(dir, fd, &info, &err), 0);
        p = gb_xasprintf("%s/etc/passwd", dir);
        assert_int_equal(gb_read_file_at(AT_FDCWD, p, 100, &buf, NULL), 0);
        assert_string_equal(buf, "root:x:0:0\n");
        free(p);
        p = gb_xasprintf("%s/home/u/f", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, 1000);
        free(p);
        p = gb_xasprintf("%s/home/u/hl", dir);
        assert_int_equal(stat(p, &st2), 0);
        assert_int_equal(st.st_ino, st2.st_ino);
        free(p);
        p = gb_xasprintf("%s/gone/x", dir);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, 0);
        free(p);
        p = gb_xasprintf("%s/opq", dir);
        if (getuid() == 0) {
                assert_int_equal(getxattr(p, "trusted.overlay.opaque", x, sizeof(x)), 1);
                assert_int_equal(x[0], 'y');
        }
        assert_int_equal(info.max_uid, 1000);
        assert_string_equal(info.max_uid_path, "/home/u");
        assert_string_equal(info.compression, "none");
        /* diff ID = sha256 of the whole stream */
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        free(p);
        p = gb_xasprintf("/proc/self/fd/%d", fd);
        assert_int_equal(gb_sha256_file_at(AT_FDCWD, p, digest), 0);
        assert_string_equal(digest, info.diff_id);
        assert_string_equal(digest, info.blob_digest);
        assert_int_equal(gb_rm_rf(dir), 0);
}

static void test_extract_rejects(void **state)
{
        static const struct entry dotdot[] = {{"a/../../x", AE_IFREG, "x", 0, false}};
        static const struct entry hl_out[] = {{"h", AE_IFREG, "/etc/passwd", 0, true}};
        static const struct entry neutral[] = {{"l", AE_IFLNK, "/", 0, false}, {"l/tmp/zz", AE_IFREG, "in", 0, false}};
        _cleanup_free_ char *dir = scratch(), *p = NULL;
        struct gb_layer_info info;
        struct gb_error err = {0};
        int fd;

        fd = make_tar(dotdot, 1);
        assert_int_equal(extract(dir, fd, &info, &err), -EPERM);
        assert_non_null(strstr(err.msg, "leaves the layer"));
        close(fd);
        fd = make_tar(hl_out, 1);
        assert_int_equal(extract(dir, fd, &info, &err), -EPERM);
        close(fd);
        /* A symlinked parent is followed only inside the layer. */
        fd = make_tar(neutral, 2);
        assert_int_equal(extract(dir, fd, &info, &err), 0);
        close(fd);
        p = gb_xasprintf("%s/tmp/zz", dir);
        assert_int_equal(access(p, F_OK), 0);
        assert_int_equal(gb_rm_rf(dir), 0);
}

static void test_extract_garbage(void **state)
{
        _cleanup_free_ char *dir = scratch();
        struct gb_layer_info info;
        struct gb_error err = {0};
        int fd = memfd_create("junk", MFD_CLOEXEC);

        assert_int_equal(gb_write_all(fd, "this is not a tar archive at all", 32), 0);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_true(extract(dir, fd, &info, &err) < 0);
        close(fd);
        assert_int_equal(gb_rm_rf(dir), 0);
}

/* GB_LAYER_COPY (docker cp into a container): whiteout names are plain
 * files, owners are fixed or shifted through the map, and
 * GB_LAYER_NO_DIR_NONDIR refuses a file over a directory. */
static void test_extract_copy(void **state)
{
        static const struct entry e[] = {
                {"d", AE_IFDIR, NULL, 5, false},
                {"d/.wh.x", AE_IFREG, "kept", 5, false},
        };
        static const struct entry over[] = {{"d", AE_IFREG, "file", 0, false}};
        static const struct entry big[] = {{"b", AE_IFREG, "x", 70000, false}};
        _cleanup_free_ char *dir = scratch(), *p = NULL;
        _cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct gb_idmap m = {0};
        struct gb_layer_opts o = {
                .flags = GB_LAYER_COPY, .blob_fd = -1, .fixed_owner = true, .owner_uid = 7, .owner_gid = 8};
        struct gb_layer_info info;
        struct gb_error err = {0};
        struct stat st;
        int fd;

        if (getuid() != 0)
                skip();
        fd = make_tar(e, ARRAY_SIZE(e));
        assert_int_equal(gb_layer_extract(fd, root, &o, &info, &err), 0);
        close(fd);
        p = gb_xasprintf("%s/d/.wh.x", dir);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_uid, 7);
        assert_int_equal(st.st_gid, 8);
        /* Shifted through the map: 5 -> 400005. */
        assert_int_equal(gb_idmap_add(&m, 0, 400000, 65536), 0);
        o.fixed_owner = false;
        o.uids = o.gids = &m;
        fd = make_tar(e, ARRAY_SIZE(e));
        assert_int_equal(gb_layer_extract(fd, root, &o, &info, &err), 0);
        close(fd);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_uid, 400005);
        fd = make_tar(big, 1);
        assert_int_equal(gb_layer_extract(fd, root, &o, &info, &err), -ERANGE);
        close(fd);
        o.flags |= GB_LAYER_NO_DIR_NONDIR;
        fd = make_tar(over, 1);
        assert_int_equal(gb_layer_extract(fd, root, &o, &info, &err), -EISDIR);
        close(fd);
        assert_int_equal(lstat(p, &st), 0); /* the directory survived */
        o.flags &= ~(unsigned)GB_LAYER_NO_DIR_NONDIR;
        fd = make_tar(over, 1);
        assert_int_equal(gb_layer_extract(fd, root, &o, &info, &err), 0);
        close(fd);
        free(p);
        p = gb_xasprintf("%s/d", dir);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(gb_rm_rf(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256_vectors),  cmocka_unit_test(test_sha256_paths_agree),
                cmocka_unit_test(test_fcaps),           cmocka_unit_test(test_extract_basic),
                cmocka_unit_test(test_extract_rejects), cmocka_unit_test(test_extract_garbage),
                cmocka_unit_test(test_extract_copy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
