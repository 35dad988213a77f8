#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "runspec.h"
#include "util.h"

static const char *ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static char **strv(const char *a, ...)
{
        va_list ap;
        char **v = NULL;
        size_t n = 0;

        va_start(ap, a);
        for (const char *s = a; s; s = va_arg(ap, const char *)) {
                v = gb_xrealloc(v, (n + 2) * sizeof(*v));
                v[n++] = gb_xstrdup(s);
                v[n] = NULL;
        }
        va_end(ap);
        return v;
}

static json_t *build(struct gb_run_opts *o, json_t *ic, bool remap, struct gb_error *err)
{
        struct gb_idmap m = {0};
        struct gb_runspec_in in = {.opts = o, .image_config = ic, .rootfs = "/r", .id = ID};
        json_t *spec = NULL;

        (void)gb_idmap_add(&m, 0, 231072, 65536);
        if (remap)
                in.uids = in.gids = &m;
        if (gb_runspec_build(&in, &spec, err) < 0)
                return NULL;
        return spec;
}

static const char *args_str(json_t *spec, char *buf, size_t size)
{
        json_t *v;
        size_t i, len = 0;

        buf[0] = '\0';
        json_array_foreach (json_object_get(json_object_get(spec, "process"), "args"), i, v)
                len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", json_string_value(v));
        return buf;
}

static bool has_env(json_t *spec, const char *kv)
{
        json_t *v;
        size_t i;

        json_array_foreach (json_object_get(json_object_get(spec, "process"), "env"), i, v)
                if (strcmp(json_string_value(v), kv) == 0)
                        return true;
        return false;
}

static bool has_ns(json_t *spec, const char *type)
{
        json_t *v;
        size_t i;

        json_array_foreach (json_object_get(json_object_get(spec, "linux"), "namespaces"), i, v)
                if (strcmp(json_string_value(json_object_get(v, "type")), type) == 0)
                        return true;
        return false;
}

static void test_refusals(void **state)
{
        struct gb_run_opts o = {0};
        struct gb_error err = {0};

        o.privileged = true;
        assert_int_equal(gb_runspec_check(&o, true, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "--userns=host"));
        assert_int_equal(gb_runspec_check(&o, false, &err), 0);
        o.privileged = false;
        o.pid_host = true;
        assert_int_equal(gb_runspec_check(&o, true, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "--pid=host"));
        o.pid_host = false;
        o.net_host = true;
        assert_int_equal(gb_runspec_check(&o, true, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "--network=host"));
        assert_int_equal(gb_runspec_check(&o, false, &err), 0);
}

static void test_userns_parse(void **state)
{
        struct gb_run_opts o = {0};
        struct gb_error err = {0};

        assert_int_equal(gb_runspec_parse_userns("host", &o, &err), 0);
        assert_int_equal(o.userns, GB_USERNS_HOST);
        assert_int_equal(gb_runspec_parse_userns("auto", &o, &err), 0);
        assert_int_equal(o.userns, GB_USERNS_AUTO);
        assert_int_equal(o.userns_size, 65536);
        assert_int_equal(gb_runspec_parse_userns("auto:size=1000", &o, &err), 0);
        assert_int_equal(o.userns_size, 1000);
        assert_int_equal(gb_runspec_parse_userns("auto:size=0", &o, &err), -EINVAL);
        assert_int_equal(gb_runspec_parse_userns("auto:sz=5", &o, &err), -EINVAL);
        assert_int_equal(gb_runspec_parse_userns("private", &o, &err), -EINVAL);
        assert_int_equal(gb_runspec_parse_userns("", &o, &err), 0);
        assert_int_equal(o.userns, GB_USERNS_DEFAULT);
}

static void test_caps(void **state)
{
        _cleanup_strv_ char **out = NULL, **add = strv("net_admin", "CAP_SYS_TIME", NULL),
                            **drop = strv("chown", "cap_kill", NULL), **bad = strv("flying", NULL),
                            **all = strv("ALL", NULL);
        struct gb_error err = {0};
        size_t n_all;

        assert_int_equal(gb_runspec_caps(gb_default_caps, add, drop, &out, &err), 0);
        assert_int_equal(gb_strv_len(out), 14);
        assert_string_equal(out[12], "CAP_NET_ADMIN");
        assert_string_equal(out[13], "CAP_SYS_TIME");
        for (char **p = out; *p; p++) {
                assert_string_not_equal(*p, "CAP_CHOWN");
                assert_string_not_equal(*p, "CAP_KILL");
        }
        gb_strv_free(TAKE_PTR(out));
        assert_int_equal(gb_runspec_caps(gb_default_caps, bad, NULL, &out, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "flying"));
        assert_int_equal(gb_runspec_caps(gb_default_caps, NULL, bad, &out, &err), -EINVAL);
        assert_int_equal(gb_runspec_caps(gb_default_caps, all, NULL, &out, &err), 0);
        n_all = gb_strv_len(out);
        assert_true(n_all >= 38);
        gb_strv_free(TAKE_PTR(out));
        assert_int_equal(gb_runspec_caps(gb_default_caps, NULL, all, &out, &err), 0);
        assert_int_equal(gb_strv_len(out), 0);
}

static void test_args(void **state)
{
        json_t *ic = json_pack("{s:[s], s:[s,s]}", "Entrypoint", "/bin/ep", "Cmd", "sh", "-c");
        struct gb_run_opts o = {0};
        struct gb_error err = {0};
        char buf[256];
        json_t *spec;

        spec = build(&o, ic, true, &err);
        assert_non_null(spec);
        assert_string_equal(args_str(spec, buf, sizeof(buf)), "/bin/ep sh -c");
        json_decref(spec);

        o.cmd = strv("echo", "hi", NULL);
        spec = build(&o, ic, true, &err);
        assert_string_equal(args_str(spec, buf, sizeof(buf)), "/bin/ep echo hi");
        json_decref(spec);

        /* --entrypoint replaces the image's and drops its Cmd. */
        gb_strv_free(o.cmd);
        o.cmd = NULL;
        o.entrypoint = strv("/bin/true", NULL);
        o.entrypoint_set = true;
        spec = build(&o, ic, true, &err);
        assert_string_equal(args_str(spec, buf, sizeof(buf)), "/bin/true");
        json_decref(spec);

        gb_strv_free(o.entrypoint);
        o.entrypoint = strv("", NULL);
        assert_null(build(&o, ic, true, &err));
        assert_non_null(strstr(err.msg, "No command specified"));
        gb_run_opts_clear(&o);
        json_decref(ic);
}

static void test_env_and_defaults(void **state)
{
        json_t *ic = json_pack("{s:[s], s:[s,s], s:s}", "Cmd", "sh", "Env", "A=1", "B=2", "WorkingDir", "/srv");
        struct gb_run_opts o = {0};
        struct gb_error err = {0};
        json_t *spec, *linux_;

        o.env = strv("B=3", "C=4", NULL);
        o.tty = true;
        spec = build(&o, ic, true, &err);
        assert_non_null(spec);
        assert_true(has_env(spec, "A=1"));
        assert_true(has_env(spec, "B=3"));
        assert_false(has_env(spec, "B=2"));
        assert_true(has_env(spec, "C=4"));
        assert_true(has_env(spec, "TERM=xterm"));
        assert_true(has_env(spec, "HOSTNAME=0123456789ab"));
        assert_true(has_env(spec, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        assert_string_equal(json_string_value(json_object_get(spec, "hostname")), "0123456789ab");
        assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "process"), "cwd")), "/srv");
        assert_true(json_is_true(json_object_get(json_object_get(spec, "process"), "terminal")));
        linux_ = json_object_get(spec, "linux");
        assert_true(has_ns(spec, "user"));
        assert_true(has_ns(spec, "network"));
        assert_true(has_ns(spec, "pid"));
        assert_int_equal(json_integer_value(
                                 json_object_get(json_array_get(json_object_get(linux_, "uidMappings"), 0), "hostID")),
                         231072);
        assert_int_equal(json_array_size(json_object_get(linux_, "maskedPaths")), 11);
        assert_non_null(json_object_get(linux_, "seccomp"));
        assert_int_equal(json_array_size(json_object_get(linux_, "devices")), 6);
        json_decref(spec);

        o.workdir = gb_xstrdup("relative");
        assert_null(build(&o, ic, true, &err));
        assert_non_null(strstr(err.msg, "absolute"));
        gb_run_opts_clear(&o);
        json_decref(ic);
}

static void test_host_and_privileged(void **state)
{
        json_t *ic = json_pack("{s:[s]}", "Cmd", "sh");
        struct gb_run_opts o = {0};
        struct gb_error err = {0};
        json_t *spec, *linux_;

        o.privileged = true;
        assert_null(build(&o, ic, true, &err));
        assert_non_null(strstr(err.msg, "--userns=host"));
        o.net_host = true;
        o.pid_host = true;
        spec = build(&o, ic, false, &err);
        assert_non_null(spec);
        assert_false(has_ns(spec, "user"));
        assert_false(has_ns(spec, "network"));
        assert_false(has_ns(spec, "pid"));
        linux_ = json_object_get(spec, "linux");
        assert_null(json_object_get(linux_, "uidMappings"));
        assert_null(json_object_get(linux_, "maskedPaths"));
        assert_null(json_object_get(linux_, "seccomp"));
        assert_true(json_array_size(json_object_get(json_object_get(json_object_get(spec, "process"), "capabilities"),
                                                    "bounding")) >= 38);
        json_decref(spec);
        json_decref(ic);
}

static bool seccomp_denies(json_t *spec, const char *name)
{
        json_t *rule, *n;
        size_t i, j;

        json_array_foreach (json_object_get(json_object_get(json_object_get(spec, "linux"), "seccomp"), "syscalls"), i,
                            rule)
                json_array_foreach (json_object_get(rule, "names"), j, n)
                        if (strcmp(json_string_value(n), name) == 0 && !json_object_get(rule, "args"))
                                return true;
        return false;
}

static void test_seccomp_follows_caps(void **state)
{
        json_t *ic = json_pack("{s:[s]}", "Cmd", "sh");
        struct gb_run_opts o = {0};
        struct gb_error err = {0};
        json_t *spec;

        spec = build(&o, ic, true, &err);
        assert_true(seccomp_denies(spec, "mount"));
        assert_true(seccomp_denies(spec, "keyctl"));
        assert_true(seccomp_denies(spec, "clone3"));
        json_decref(spec);
        o.cap_add = strv("SYS_ADMIN", NULL);
        spec = build(&o, ic, true, &err);
        assert_false(seccomp_denies(spec, "mount"));
        assert_false(seccomp_denies(spec, "clone3"));
        assert_true(seccomp_denies(spec, "keyctl"));
        json_decref(spec);
        gb_run_opts_clear(&o);
        o.seccomp = gb_xstrdup("unconfined");
        spec = build(&o, ic, true, &err);
        assert_null(json_object_get(json_object_get(spec, "linux"), "seccomp"));
        json_decref(spec);
        free(o.seccomp);
        o.seccomp = gb_xstrdup("/nonexistent/profile.json");
        assert_null(build(&o, ic, true, &err));
        assert_non_null(strstr(err.msg, "/nonexistent/profile.json"));
        gb_run_opts_clear(&o);
        json_decref(ic);
}

static void test_tmpfs_readonly(void **state)
{
        json_t *ic = json_pack("{s:[s]}", "Cmd", "sh");
        struct gb_run_opts o = {0};
        struct gb_error err = {0};
        json_t *spec, *m, *last;

        o.tmpfs = strv("/run:size=1m,mode=700", NULL);
        o.read_only = true;
        spec = build(&o, ic, true, &err);
        assert_true(json_is_true(json_object_get(json_object_get(spec, "root"), "readonly")));
        m = json_object_get(spec, "mounts");
        last = json_array_get(m, json_array_size(m) - 1);
        assert_string_equal(json_string_value(json_object_get(last, "destination")), "/run");
        assert_string_equal(json_string_value(json_object_get(last, "type")), "tmpfs");
        assert_string_equal(json_string_value(json_array_get(json_object_get(last, "options"), 3)), "size=1m");
        json_decref(spec);
        gb_strv_free(o.tmpfs);
        o.tmpfs = strv("run", NULL);
        assert_null(build(&o, ic, true, &err));
        gb_run_opts_clear(&o);
        json_decref(ic);
}

static void write_at(const char *dir, const char *rel, const char *text)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/%s", dir, rel);
        assert_int_equal(gb_write_file_atomic(p, text, strlen(text), 0644), 0);
}

static void test_resolve_user(void **state)
{
        char dir[] = "/tmp/gb-rs-XXXXXX";
        _cleanup_free_ char *etc = NULL, *pw = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct gb_run_user u = {0};
        struct gb_error err = {0};

        assert_non_null(mkdtemp(dir));
        etc = gb_xasprintf("%s/etc", dir);
        assert_int_equal(mkdir(etc, 0755), 0);
        write_at(dir, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www:/var/www:/bin/sh\nbad line\n");
        write_at(dir, "etc/group", "root:x:0:\nwww-data:x:33:\nweb:x:800:www-data,other\nstaff:x:50:\n");
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);

        assert_int_equal(gb_runspec_resolve_user(fd, NULL, &u, &err), 0);
        assert_int_equal(u.uid, 0);
        assert_string_equal(u.home, "/root");
        gb_run_user_clear(&u);
        assert_int_equal(gb_runspec_resolve_user(fd, "www-data", &u, &err), 0);
        assert_int_equal(u.uid, 33);
        assert_int_equal(u.gid, 33);
        assert_int_equal(u.n_groups, 1);
        assert_int_equal(u.groups[0], 800);
        gb_run_user_clear(&u);
        assert_int_equal(gb_runspec_resolve_user(fd, "33:staff", &u, &err), 0);
        assert_int_equal(u.uid, 33);
        assert_int_equal(u.gid, 50);
        assert_int_equal(u.n_groups, 0);
        gb_run_user_clear(&u);
        assert_int_equal(gb_runspec_resolve_user(fd, "1234:5678", &u, &err), 0);
        assert_int_equal(u.uid, 1234);
        assert_int_equal(u.gid, 5678);
        gb_run_user_clear(&u);
        assert_int_equal(gb_runspec_resolve_user(fd, "ghost", &u, &err), -ENOENT);
        assert_string_equal(err.msg, "unable to find user ghost: no matching entries in passwd file");
        assert_int_equal(gb_runspec_resolve_user(fd, "root:nogroup", &u, &err), -ENOENT);
        assert_int_equal(gb_runspec_resolve_user(fd, "root:", &u, &err), -EINVAL);

        /* An absolute symlink must resolve inside the rootfs, never to the
         * host's /etc/passwd (which has a "daemon" user; ours does not). */
        pw = gb_xasprintf("%s/etc/passwd", dir);
        assert_int_equal(unlink(pw), 0);
        assert_int_equal(symlink("/etc/passwd", pw), 0);
        assert_int_equal(gb_runspec_resolve_user(fd, "daemon", &u, &err), -ENOENT);
        assert_int_equal(gb_rm_rf(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_userns_parse),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_args),
                cmocka_unit_test(test_env_and_defaults),
                cmocka_unit_test(test_host_and_privileged),
                cmocka_unit_test(test_seccomp_follows_caps),
                cmocka_unit_test(test_tmpfs_readonly),
                cmocka_unit_test(test_resolve_user),
        };
        return cmocka_run_group_tests_name("runspec", tests, NULL, NULL);
}
