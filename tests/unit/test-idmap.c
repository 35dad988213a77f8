/* The subordinate-ID half of the idmap module: subid parsing, map building,
 * remap-spec resolution, validation and `default` range granting. Every file
 * is a throwaway copy in a temp dir, never the machine's /etc/subuid. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "idmap.h"
#include "util.h"

static char tmpdir[64];
static char subuid[128], subgid[128], passwd[128], group[128];

static int setup(void **state)
{
        (void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/gb-test-idmap.XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        (void)snprintf(subuid, sizeof(subuid), "%s/subuid", tmpdir);
        (void)snprintf(subgid, sizeof(subgid), "%s/subgid", tmpdir);
        (void)snprintf(passwd, sizeof(passwd), "%s/passwd", tmpdir);
        (void)snprintf(group, sizeof(group), "%s/group", tmpdir);
        return 0;
}

static int teardown(void **state)
{
        (void)gb_rm_rf(tmpdir);
        return 0;
}

static void put(const char *path, const char *text)
{
        assert_int_equal(gb_write_file_atomic(path, text, strlen(text), 0644), 0);
}

static char *get(const char *path)
{
        char *buf = NULL;
        assert_int_equal(gb_read_file_at(AT_FDCWD, path, 1 << 20, &buf, NULL), 0);
        return buf;
}

static struct gb_subid_paths paths(void)
{
        return (struct gb_subid_paths){subuid, subgid, passwd, group};
}

/* Fresh throwaway files: the same text in both subid files, a passwd and
 * group with only root. */
static void files(const char *text)
{
        put(subuid, text);
        put(subgid, text);
        put(passwd, "root:x:0:0:root:/root:/bin/sh\n");
        put(group, "root:x:0:\n");
}

/* ---- parser ------------------------------------------------------------ */

static void test_parse_good(void **state)
{
        const char *t = "# comment\n"
                        "\n"
                        "   \t\n"
                        "  # indented comment\n"
                        "testuser:231072:65536\n"
                        "1001:300000:10\n"
                        "other:0:1\n"
                        "last:4294901759:65536"; /* no final newline; ends at 2^32-1 */
        struct gb_subid_file f = {0};
        struct gb_error err = {0};

        assert_int_equal(gb_subid_parse("/x/subuid", t, strlen(t), &f, &err), 0);
        assert_int_equal(f.n, 4);
        assert_string_equal(f.e[0].owner, "testuser");
        assert_int_equal(f.e[0].start, 231072);
        assert_int_equal(f.e[0].count, 65536);
        assert_int_equal(f.e[0].line, 5);
        assert_string_equal(f.e[1].owner, "1001");
        assert_int_equal(f.e[1].line, 6);
        assert_int_equal(f.e[2].start, 0);
        assert_int_equal(f.e[3].start, 4294901759u);
        assert_int_equal(f.e[3].line, 8);
        assert_string_equal(f.path, "/x/subuid");
        gb_subid_file_done(&f);

        assert_int_equal(gb_subid_parse("/x/subuid", "", 0, &f, &err), 0);
        assert_int_equal(f.n, 0);
        gb_subid_file_done(&f);
}

/* Each bad line: the error names the file and the line and says why. */
static void expect_bad(const char *text, unsigned line, const char *why)
{
        struct gb_subid_file f = {0};
        struct gb_error err = {0};
        char want[64];

        assert_true(gb_subid_parse("/etc/subuid-copy", text, strlen(text), &f, &err) < 0);
        (void)snprintf(want, sizeof(want), "line %u", line);
        if (!strstr(err.msg, "'/etc/subuid-copy'") || !strstr(err.msg, want) || !strstr(err.msg, why))
                fail_msg("for %s: got '%s', want file, '%s' and '%s'", text, err.msg, want, why);
        assert_int_equal(f.n, 0);
        assert_null(f.e);
}

static void test_parse_bad(void **state)
{
        expect_bad("ok:1:1\nbad:abc:10\n", 2, "not a decimal number");
        expect_bad("bad:-1:10\n", 1, "not a decimal number");
        expect_bad("bad:+1:10\n", 1, "not a decimal number");
        expect_bad("bad: 1:10\n", 1, "not a decimal number");
        expect_bad("bad:1:10 \n", 1, "not a decimal number");
        expect_bad("bad:0x10:10\n", 1, "not a decimal number");
        expect_bad("bad:1:ten\n", 1, "count field");
        expect_bad("bad:4294967296:1\n", 1, "larger than 4294967295");
        expect_bad("bad:1:99999999999999999999\n", 1, "larger than 4294967295");
        expect_bad("bad:100000:0\n", 1, "count is 0");
        expect_bad("bad:4294967295:1\n", 1, "runs past 4294967295");
        expect_bad("bad:4294901760:65536\n", 1, "runs past 4294967295");
        expect_bad("a:1:1\n\nbad:100000\n", 3, "2 fields");
        expect_bad("bad\n", 1, "1 field,");
        expect_bad("bad:1:2:3\n", 1, "more than 3 fields");
        expect_bad(":1:2\n", 1, "owner field is empty");
        expect_bad("bad::2\n", 1, "start field is empty");
        expect_bad("bad:1:\n", 1, "count field is empty");
        expect_bad("bad user:1:2\n", 1, "blank in owner");
        expect_bad("ok:1:1\r\nx:2:2\r\n", 1, "carriage return");
        expect_bad("ok:1:1\nx:2:2\r", 2, "carriage return");
}

static void test_parse_nul(void **state)
{
        static const char t[] = "ok:1:1\nb\0d:1:1\n";
        struct gb_subid_file f = {0};
        struct gb_error err = {0};

        assert_true(gb_subid_parse("f", t, sizeof(t) - 1, &f, &err) < 0);
        assert_non_null(strstr(err.msg, "line 2: NUL"));
}

static void test_load_missing_is_empty(void **state)
{
        struct gb_subid_file f = {0};
        struct gb_error err = {0};
        _cleanup_free_ char *p = gb_xasprintf("%s/does-not-exist", tmpdir);

        assert_int_equal(gb_subid_load(p, &f, &err), 0);
        assert_int_equal(f.n, 0);
        gb_subid_file_done(&f);
}

/* ---- building maps ----------------------------------------------------- */

static void test_map_multi_range(void **state)
{
        struct gb_subid_entry e[] = {
                {"u", 200000, 20, 1},
                {"u", 250000, 65516, 2},
        };
        _cleanup_strv_ char **w = NULL;
        struct gb_idmap m;
        char buf[128];
        uint32_t h;

        assert_int_equal(gb_idmap_from_ranges(e, 2, "subuid", 340, &m, &w), 0);
        assert_null(w);
        assert_true(gb_idmap_format(&m, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "0 200000 20\n20 250000 65516\n");
        assert_int_equal(gb_idmap_to_host(&m, 19, &h), 0);
        assert_int_equal(h, 200019);
        assert_int_equal(gb_idmap_to_host(&m, 20, &h), 0);
        assert_int_equal(h, 250000);
        assert_int_equal(gb_idmap_to_host(&m, 65535, &h), 0);
        assert_int_equal(h, 250000 + 65515);
        assert_int_equal(gb_idmap_to_host(&m, 65536, &h), -ENOENT);
}

static void test_map_capped(void **state)
{
        struct gb_subid_entry e[7];
        _cleanup_strv_ char **w = NULL;
        struct gb_idmap m;

        for (unsigned i = 0; i < 7; i++)
                e[i] = (struct gb_subid_entry){"u", 100000 + i * 1000, 10, i + 1};
        assert_int_equal(gb_idmap_from_ranges(e, 7, "/etc/subuid", 5, &m, &w), 0);
        assert_int_equal(m.n, 5);
        assert_int_equal(m.r[4].container_id, 40);
        assert_int_equal(gb_strv_len(w), 2);
        assert_non_null(strstr(w[0], "line 6"));
        assert_non_null(strstr(w[0], "at most 5 map lines"));
        assert_non_null(strstr(w[1], "line 7"));
}

/* The kernel refuses overlapping lines: a repeated range is left out. */
static void test_map_own_overlap(void **state)
{
        struct gb_subid_entry e[] = {
                {"u", 100000, 65536, 1},
                {"u", 120000, 10, 4},
                {"u", 300000, 10, 5},
        };
        _cleanup_strv_ char **w = NULL;
        struct gb_idmap m;

        assert_int_equal(gb_idmap_from_ranges(e, 3, "f", 340, &m, &w), 0);
        assert_int_equal(m.n, 2);
        assert_int_equal(m.r[1].container_id, 65536);
        assert_int_equal(m.r[1].host_id, 300000);
        assert_int_equal(gb_strv_len(w), 1);
        assert_non_null(strstr(w[0], "line 4"));
}

/* 340 lines of large numbers are more than a page: the kernel would refuse
 * the whole write, so lines past a page are left out. */
static void test_map_page_limit(void **state)
{
        _cleanup_free_ struct gb_subid_entry *e = gb_xcalloc(340, sizeof(*e));
        _cleanup_strv_ char **w = NULL;
        struct gb_idmap m;
        char buf[GB_IDMAP_MAX * 34 + 1];
        ssize_t len;

        for (unsigned i = 0; i < 340; i++)
                e[i] = (struct gb_subid_entry){"u", 1000000000u + i * 1000000u, 100000, i + 1};
        assert_int_equal(gb_idmap_from_ranges(e, 340, "f", 340, &m, &w), 0);
        assert_true(m.n < 340);
        len = gb_idmap_format(&m, buf, sizeof(buf));
        assert_true(len > 0 && (size_t)len < (size_t)sysconf(_SC_PAGESIZE));
        assert_int_equal(gb_strv_len(w), 340 - m.n);
        assert_non_null(strstr(w[0], "bytes"));
}

static void test_kernel_max_lines(void **state)
{
        size_t n = gb_idmap_kernel_max_lines();

        if (geteuid() != 0) {
                assert_int_equal(n, 5); /* cannot probe: the safe answer */
                return;
        }
        /* Kernel 6.x (the project's target) takes 340 lines. */
        assert_int_equal(n, 340);
        assert_int_equal(gb_idmap_kernel_max_lines(), 340); /* cached */
}

/* ---- resolving specs --------------------------------------------------- */

static struct gb_remap_opts opts(void)
{
        return (struct gb_remap_opts){.paths = paths(), .create = false, .max_lines = 340};
}

static void resolve_ok(const char *spec, struct gb_remap *rm)
{
        struct gb_remap_opts o = opts();
        struct gb_error err = {0};

        if (gb_remap_resolve(spec, &o, rm, &err) < 0)
                fail_msg("resolving '%s': %s", spec, err.msg);
}

static void test_spec_forms(void **state)
{
        /* root (0:0) and daemon (1:1) exist on every Debian system. */
        static const struct {
                const char *spec, *user, *group;
                uint32_t uid, gid, ubase, gbase;
        } cases[] = {
                {"root", "root", "root", 0, 0, 231072, 231072},
                {"root:root", "root", "root", 0, 0, 231072, 231072},
                {"0", "root", "root", 0, 0, 231072, 231072},
                {"0:0", "root", "root", 0, 0, 231072, 231072},
                {"root:0", "root", "root", 0, 0, 231072, 231072},
                {"0:root", "root", "root", 0, 0, 231072, 231072},
                {"root:daemon", "root", "daemon", 0, 1, 231072, 400000},
                {"0:1", "root", "daemon", 0, 1, 231072, 400000},
                {"daemon", "daemon", "daemon", 1, 1, 400000, 400000},
                {"1:root", "daemon", "root", 1, 0, 400000, 231072},
        };

        put(subuid, "root:231072:65536\n1:400000:65536\n");
        put(subgid, "0:231072:65536\ndaemon:400000:65536\n");
        put(passwd, "root:x:0:0::/:/bin/sh\n");
        put(group, "root:x:0:\n");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_(gb_remap_done) struct gb_remap rm = {0};

                resolve_ok(cases[i].spec, &rm);
                assert_true(rm.enabled);
                assert_string_equal(rm.spec, cases[i].spec);
                assert_string_equal(rm.user, cases[i].user);
                assert_string_equal(rm.group, cases[i].group);
                assert_int_equal(rm.uid, cases[i].uid);
                assert_int_equal(rm.gid, cases[i].gid);
                assert_int_equal(rm.root_uid, cases[i].ubase);
                assert_int_equal(rm.root_gid, cases[i].gbase);
                assert_int_equal(rm.uids.n, 1);
                assert_int_equal(rm.uids.r[0].count, 65536);
                assert_null(rm.warnings);
        }
}

static void test_spec_off(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};

        resolve_ok("", &rm);
        assert_false(rm.enabled);
        assert_int_equal(rm.uids.n, 0);
}

static void expect_resolve_error(const char *spec, const char *want1, const char *want2)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};
        struct gb_remap_opts o = opts();
        struct gb_error err = {0};

        assert_true(gb_remap_resolve(spec, &o, &rm, &err) < 0);
        if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
                fail_msg("for '%s': got '%s', want '%s' and '%s'", spec, err.msg, want1, want2 ? want2 : "");
}

static void test_spec_errors(void **state)
{
        files("root:231072:65536\n");
        expect_resolve_error("no-such-user-gb", "no user 'no-such-user-gb'", "/etc/passwd");
        expect_resolve_error("4000000000", "no user '4000000000'", "/etc/passwd");
        expect_resolve_error("root:no-such-group-gb", "no group 'no-such-group-gb'", "/etc/group");
        expect_resolve_error("root:4000000000", "no group '4000000000'", "/etc/group");
        expect_resolve_error("99999999999", "out of range", NULL);
        expect_resolve_error("root:root:root", "expected USER", NULL);
        expect_resolve_error("root:", "expected USER", NULL);
        expect_resolve_error(":root", "expected USER", NULL);
        /* An existing user without ranges: which file to fix, and how. */
        expect_resolve_error("daemon", "no range for user 'daemon'", subuid);
        put(subuid, "daemon:500000:65536\n");
        expect_resolve_error("daemon", "no range for group 'daemon'", subgid);
}

/* The seeds' arithmetic: testuser:231072:65536. */
static void test_seed_arithmetic(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};
        static const uint32_t c[] = {0, 33, 1000, 65535};
        static const uint32_t h[] = {231072, 231105, 232072, 296607};
        uint32_t out;

        files("root:231072:65536\n");
        resolve_ok("root", &rm);
        for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
                assert_int_equal(gb_idmap_to_host(&rm.uids, c[i], &out), 0);
                assert_int_equal(out, h[i]);
                assert_int_equal(gb_idmap_to_host(&rm.gids, c[i], &out), 0);
                assert_int_equal(out, h[i]);
                assert_int_equal(gb_idmap_to_container(&rm.uids, h[i], &out), 0);
                assert_int_equal(out, c[i]);
        }
        assert_int_equal(gb_idmap_to_host(&rm.uids, 65536, &out), -ENOENT);
        assert_int_equal(gb_idmap_to_container(&rm.uids, 231071, &out), -ENOENT);
        assert_int_equal(gb_idmap_to_container(&rm.uids, 296608, &out), -ENOENT);
        assert_int_equal(gb_idmap_to_container(&rm.uids, 1000, &out), -ENOENT);
}

/* All of the owner's lines, in file order, others' lines in between. */
static void test_resolve_multi_range(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};
        char buf[256];

        files("root:200000:20\nother:210000:1000\n0:250000:65516\n");
        resolve_ok("root", &rm);
        assert_int_equal(rm.n_uid_ranges, 2);
        assert_int_equal(rm.uid_ranges[1].line, 3);
        assert_true(gb_idmap_format(&rm.uids, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "0 200000 20\n20 250000 65516\n");
        assert_true(gb_idmap_equal(&rm.uids, &rm.gids));
        assert_null(rm.warnings);
}

static bool has_warning(const struct gb_remap *rm, const char *a, const char *b)
{
        for (char **w = rm->warnings; w && *w; w++)
                if (strstr(*w, a) && (!b || strstr(*w, b)))
                        return true;
        return false;
}

static void test_validate_overlap_other_owner(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};

        files("# header\nroot:100000:65536\nbob:150000:65536\n");
        resolve_ok("root", &rm);
        /* Both lines named, and the shared IDs. */
        assert_true(has_warning(&rm, "line 2 (root:100000:65536)", "line 3 (bob:150000:65536)"));
        assert_true(has_warning(&rm, "150000-165535", NULL));
}

static void test_validate_short_range(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};

        files("root:100000:1000\n");
        resolve_ok("root", &rm);
        assert_true(has_warning(&rm, "container UIDs 1000 to 65535 have no host UID",
                                "highest container UID with a host UID is 999"));
        assert_true(has_warning(&rm, "container GIDs 1000 to 65535", NULL));
}

static void test_validate_real_users(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};

        files("root:100000:65536\n");
        put(passwd, "root:x:0:0::/:/bin/sh\nalice:x:100033:100:::/bin/sh\n");
        put(group, "root:x:0:\nstaff:x:100050:\n");
        resolve_ok("root", &rm);
        assert_true(has_warning(&rm, "host UID 100033 is 'alice'", "container UID 33"));
        assert_true(has_warning(&rm, "host GID 100050 is 'staff'", "container GID 50"));
}

static void test_validate_clean(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};

        files("root:100000:65536\nbob:165536:65536\n");
        resolve_ok("root", &rm);
        assert_null(rm.warnings);
}

/* ---- granting ranges --------------------------------------------------- */

static void test_grant_empty(void **state)
{
        struct gb_subid_paths p = paths();
        struct gb_error err = {0};
        uint32_t su = 0, sg = 0;
        bool changed = false;
        _cleanup_free_ char *a = NULL, *b = NULL;

        files("");
        assert_int_equal(gb_subid_grant(&p, "ghostremap", 999, 65536, &su, &sg, &changed, &err), 0);
        assert_true(changed);
        assert_int_equal(su, GB_SUBID_ALLOC_MIN);
        assert_int_equal(sg, GB_SUBID_ALLOC_MIN);
        a = get(subuid);
        b = get(subgid);
        assert_string_equal(a, "ghostremap:100000:65536\n");
        assert_string_equal(b, "ghostremap:100000:65536\n");
}

/* Other lines are kept byte for byte (comments, odd spacing, no final
 * newline); the mode is kept; a second grant changes nothing. */
static void test_grant_keeps_lines_and_idempotent(void **state)
{
        static const char before[] = "# keep me\n\nalice:100000:65536\n  # x\nbob:165536:65536";
        struct gb_subid_paths p = paths();
        struct gb_error err = {0};
        uint32_t su = 0, sg = 0;
        bool changed = false;
        struct stat st;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        files(before);
        assert_int_equal(chmod(subuid, 0600), 0);
        assert_int_equal(gb_subid_grant(&p, "ghostremap", 999, 65536, &su, &sg, &changed, &err), 0);
        assert_true(changed);
        assert_int_equal(su, 231072); /* the seeds' number: after two 65536 ranges */
        assert_int_equal(sg, 231072);
        a = get(subuid);
        assert_string_equal(a, "# keep me\n\nalice:100000:65536\n  # x\nbob:165536:65536\nghostremap:231072:65536\n");
        assert_int_equal(stat(subuid, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_int_equal(gb_subid_grant(&p, "ghostremap", 999, 65536, &su, &sg, &changed, &err), 0);
        assert_false(changed);
        assert_int_equal(su, 231072);
        b = get(subuid);
        assert_string_equal(a, b);
        /* Numeric owner lines count as the owner's too. */
        put(subuid, "999:500000:65536\n");
        put(subgid, "999:500000:65536\n");
        assert_int_equal(gb_subid_grant(&p, "ghostremap", 999, 65536, &su, &sg, &changed, &err), 0);
        assert_false(changed);
        assert_int_equal(su, 500000);
        c = get(subuid);
        assert_string_equal(c, "999:500000:65536\n");
}

/* Free in BOTH files and off every passwd/group ID; only the missing file
 * gets a line. */
static void test_grant_avoids_everything(void **state)
{
        struct gb_subid_paths p = paths();
        struct gb_error err = {0};
        uint32_t su = 0, sg = 0;
        bool changed = false;
        _cleanup_free_ char *a = NULL;

        put(subuid, "a:100000:10\n");
        put(subgid, "b:100010:65536\n");
        put(passwd, "root:x:0:0::/:/bin/sh\nldap:x:165600:1::/:/bin/sh\n");
        put(group, "root:x:0:\n");
        assert_int_equal(gb_subid_grant(&p, "ghostremap", 999, 65536, &su, &sg, &changed, &err), 0);
        assert_int_equal(su, 165601);
        assert_int_equal(sg, 165601);

        /* Only the subgid file lacks the owner: only it is written. */
        put(passwd, "root:x:0:0::/:/bin/sh\n");
        put(subuid, "x:100000:65536\nghostremap:300000:65536\n");
        put(subgid, "x:100000:65536\n");
        assert_int_equal(gb_subid_grant(&p, "ghostremap", 999, 65536, &su, &sg, &changed, &err), 0);
        assert_int_equal(su, 300000);
        assert_int_equal(sg, 165536);
        a = get(subuid);
        assert_string_equal(a, "x:100000:65536\nghostremap:300000:65536\n");
}

static void test_grant_stale_lock(void **state)
{
        struct gb_subid_paths p = paths();
        struct gb_error err = {0};
        _cleanup_free_ char *lock = gb_xasprintf("%s.lock", subuid);
        pid_t dead;
        char pid[32];

        files("");
        /* A lock left by a process that no longer exists. */
        dead = fork();
        if (dead == 0)
                _exit(0);
        assert_int_equal(waitpid(dead, NULL, 0), dead);
        (void)snprintf(pid, sizeof(pid), "%d", (int)dead);
        put(lock, pid);
        assert_int_equal(gb_subid_grant(&p, "ghostremap", 999, 65536, NULL, NULL, NULL, &err), 0);
        assert_int_equal(access(lock, F_OK), -1); /* released */
}

/* N processes start granting at the same moment; none may overlap another
 * and each owner ends with exactly one line per file. */
static void race(const char *const *owners, size_t n)
{
        int go[2];
        pid_t pids[16];
        struct gb_subid_file fu = {0}, fg = {0};
        struct gb_error err = {0};

        files("# shared\nalice:100000:65536\n");
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        for (size_t i = 0; i < n; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        struct gb_subid_paths p = paths();
                        struct gb_error e = {0};
                        char c;

                        close(go[1]);
                        (void)!read(go[0], &c, 1); /* EOF: everyone starts */
                        _exit(gb_subid_grant(&p, owners[i], 5000 + (uint32_t)i, 65536, NULL, NULL, NULL, &e) < 0 ? 1
                                                                                                                 : 0);
                }
        }
        close(go[0]);
        close(go[1]);
        for (size_t i = 0; i < n; i++) {
                int status;
                assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        assert_int_equal(gb_subid_load(subuid, &fu, &err), 0);
        assert_int_equal(gb_subid_load(subgid, &fg, &err), 0);
        for (struct gb_subid_file *f = &fu; f; f = f == &fu ? &fg : NULL) {
                for (size_t i = 0; i < f->n; i++)
                        for (size_t j = i + 1; j < f->n; j++) {
                                uint64_t a0 = f->e[i].start, a1 = a0 + f->e[i].count;
                                uint64_t b0 = f->e[j].start, b1 = b0 + f->e[j].count;
                                if (a0 < b1 && b0 < a1)
                                        fail_msg("lines %u and %u overlap", f->e[i].line, f->e[j].line);
                                if (strcmp(f->e[i].owner, f->e[j].owner) == 0)
                                        fail_msg("owner %s twice", f->e[i].owner);
                        }
        }
        gb_subid_file_done(&fu);
        gb_subid_file_done(&fg);
}

static void test_grant_concurrent_distinct(void **state)
{
        static const char *const owners[] = {"o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7"};
        struct gb_subid_file f = {0};
        struct gb_error err = {0};

        race(owners, ARRAY_SIZE(owners));
        assert_int_equal(gb_subid_load(subuid, &f, &err), 0);
        assert_int_equal(f.n, 9); /* alice + 8 */
        gb_subid_file_done(&f);
}

static void test_grant_concurrent_same(void **state)
{
        static const char *const owners[] = {"ghostremap", "ghostremap", "ghostremap", "ghostremap",
                                             "ghostremap", "ghostremap", "ghostremap", "ghostremap"};
        _cleanup_free_ char *a = NULL;

        race(owners, ARRAY_SIZE(owners));
        a = get(subuid);
        assert_string_equal(a, "# shared\nalice:100000:65536\nghostremap:165536:65536\n");
}

/* `default` without permission to create: a clear error when the user is
 * missing, else the ranges (if any) are used as they are. */
static void test_default_no_create(void **state)
{
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};
        struct gb_remap_opts o = opts();
        struct gb_error err = {0};
        int r;

        files("");
        r = gb_remap_resolve("default", &o, &rm, &err);
        assert_true(r < 0);
        if (getpwnam(GB_REMAP_DEFAULT_USER))
                assert_non_null(strstr(err.msg, "has no range in"));
        else
                assert_non_null(strstr(err.msg, "user 'ghostremap' does not exist"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_good),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_parse_nul),
                cmocka_unit_test(test_load_missing_is_empty),
                cmocka_unit_test(test_map_multi_range),
                cmocka_unit_test(test_map_capped),
                cmocka_unit_test(test_map_own_overlap),
                cmocka_unit_test(test_map_page_limit),
                cmocka_unit_test(test_kernel_max_lines),
                cmocka_unit_test(test_spec_forms),
                cmocka_unit_test(test_spec_off),
                cmocka_unit_test(test_spec_errors),
                cmocka_unit_test(test_seed_arithmetic),
                cmocka_unit_test(test_resolve_multi_range),
                cmocka_unit_test(test_validate_overlap_other_owner),
                cmocka_unit_test(test_validate_short_range),
                cmocka_unit_test(test_validate_real_users),
                cmocka_unit_test(test_validate_clean),
                cmocka_unit_test(test_grant_empty),
                cmocka_unit_test(test_grant_keeps_lines_and_idempotent),
                cmocka_unit_test(test_grant_avoids_everything),
                cmocka_unit_test(test_grant_stale_lock),
                cmocka_unit_test(test_grant_concurrent_distinct),
                cmocka_unit_test(test_grant_concurrent_same),
                cmocka_unit_test(test_default_no_create),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
