/* config.json parsing: valid specs map to the struct, every error names the
 * JSON field path, unimplemented fields warn by name. */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "cleanup.h"
#include "spec.h"
#include "util.h"

static char warnings[8192];

static void collect_warning(const char *msg, void *userdata)
{
        (void)userdata;
        strncat(warnings, msg, sizeof(warnings) - strlen(warnings) - 2);
        strcat(warnings, "\n");
}

/* A minimal valid config with `extra` spliced into the top-level object and
 * `proc_extra` into process. */
static int parse(const char *extra, const char *proc_extra, struct gb_spec **ret, struct gb_error *err)
{
        _cleanup_free_ char *json = gb_xasprintf(
                "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"rootfs\"},"
                " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}%s%s},"
                " \"linux\": {\"namespaces\": [{\"type\": \"mount\"}]}%s%s}",
                proc_extra ? ", " : "", proc_extra ? proc_extra : "", extra ? ", " : "", extra ? extra : "");
        warnings[0] = 0;
        return gb_spec_load_data(json, strlen(json), "config.json", ret, err);
}

static void expect_error(const char *extra, const char *proc_extra, const char *msg)
{
        struct gb_spec *s = NULL;
        struct gb_error err = {0};

        assert_int_equal(parse(extra, proc_extra, &s, &err), -EINVAL);
        assert_null(s);
        if (!strstr(err.msg, msg))
                fail_msg("expected '%s' in '%s'", msg, err.msg);
}

static void test_default_spec_roundtrip(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_error err = {0};
        json_t *j = gb_spec_default_json(165536, 165536, 65536);

        assert_non_null(j);
        assert_int_equal(gb_spec_from_json(j, "config.json", &s, &err), 0);
        json_decref(j);
        assert_string_equal(s->root_path, "rootfs");
        assert_true(s->root_readonly);
        assert_non_null(gb_spec_namespace(s, CLONE_NEWUSER));
        assert_int_equal(s->uid_map->n, 1);
        assert_int_equal(s->uid_map->r[0].host_id, 165536);
        assert_int_equal(s->uid_map->r[0].count, 65536);
        assert_true(s->process.no_new_privileges);
        assert_true(s->process.caps[GB_CAP_BOUNDING] & (1ULL << CAP_KILL));
        assert_false(s->process.caps[GB_CAP_BOUNDING] & (1ULL << CAP_SYS_ADMIN));
        assert_int_equal(s->n_mounts, 6);
        assert_string_equal(s->mounts[0].destination, "/proc");
        assert_int_equal(s->process.n_rlimits, 1);
        assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
}

static void test_process_fields(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_error err = {0};

        assert_int_equal(parse(NULL,
                               "\"terminal\": true, \"consoleSize\": {\"height\": 24, \"width\": 80},"
                               " \"env\": [\"A=1\"], \"oomScoreAdj\": -500,"
                               " \"capabilities\": {\"ambient\": [\"CAP_NET_RAW\"]},"
                               " \"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"soft\": 1, \"hard\": 2}]",
                               &s, &err),
                         0);
        assert_true(s->process.terminal);
        assert_int_equal(s->process.console_height, 24);
        assert_string_equal(s->process.env[0], "A=1");
        assert_null(s->process.env[1]);
        assert_int_equal(s->process.oom_score_adj, -500);
        assert_int_equal(s->process.caps[GB_CAP_AMBIENT], 1ULL << CAP_NET_RAW);
        assert_int_equal(s->process.rlimits[0].hard, 2);
}

static void test_user_fields(void **state)
{
        struct gb_spec *s = NULL;
        struct gb_error err = {0};
        _cleanup_free_ char *json = NULL;

        /* user replaced: parse() puts its own user first, JSON_REJECT_DUPLICATES
         * would refuse a second one, so build the document here. */
        json = gb_xstrdup("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"/r\"}, \"process\": {\"args\": [\"x\"], "
                          "\"cwd\": \"/\", \"user\": {\"uid\": 33, \"gid\": 34, \"umask\": 18, \"additionalGids\": "
                          "[1, 2]}}, \"linux\": {\"namespaces\": [{\"type\": \"mount\"}]}}");
        assert_int_equal(gb_spec_load_data(json, strlen(json), "config.json", &s, &err), 0);
        assert_int_equal(s->process.uid, 33);
        assert_int_equal(s->process.gid, 34);
        assert_true(s->process.has_umask);
        assert_int_equal(s->process.umask, 022);
        assert_int_equal(s->process.n_additional_gids, 2);
        gb_spec_free(s);
}

static void test_mount_options(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_error err = {0};

        assert_int_equal(
                parse("\"mounts\": [{\"destination\": \"/a\", \"type\": \"bind\", \"source\": \"/src\","
                      " \"options\": [\"rbind\", \"ro\", \"nosuid\", \"rslave\"]},"
                      " {\"destination\": \"/t\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
                      " \"options\": [\"noexec\", \"size=1m\", \"mode=755\", \"rw\"]},"
                      " {\"destination\": \"/i\", \"type\": \"bind\", \"source\": \"/s\", \"options\": [\"bind\"],"
                      " \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}],"
                      " \"gidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}]",
                      NULL, &s, &err),
                0);
        assert_true(s->mounts[0].bind);
        assert_true(s->mounts[0].recursive);
        assert_true(s->mounts[0].flags & MS_RDONLY);
        assert_true(s->mounts[0].flags & MS_NOSUID);
        assert_int_equal(s->mounts[0].propagation, MS_SLAVE | MS_REC);
        assert_null(s->mounts[0].data);
        assert_string_equal(s->mounts[1].data, "size=1m,mode=755");
        assert_true(s->mounts[1].clear_flags & MS_RDONLY);
        assert_true(s->mounts[2].idmapped);
        assert_int_equal(s->mounts[2].uid_map->r[0].host_id, 1000);
}

static void test_linux_fields(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_error err = {0};
        const char *json =
                "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"], \"cwd\": "
                "\"/\", \"user\": {\"uid\": 0, \"gid\": 0}}, \"hostname\": \"h\", \"linux\": {"
                "\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}, {\"type\": \"uts\"}, {\"type\": "
                "\"network\", \"path\": \"/proc/1/ns/net\"}],"
                "\"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 10}, {\"containerID\": 10, "
                "\"hostID\": 200000, \"size\": 10}],"
                "\"gidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
                "\"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229, "
                "\"fileMode\": 438}],"
                "\"sysctl\": {\"net.ipv4.ip_forward\": \"1\"}, \"maskedPaths\": [\"/proc/kcore\"], "
                "\"readonlyPaths\": [\"/proc/sys\"], \"rootfsPropagation\": \"rprivate\","
                "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38, \"architectures\": "
                "[\"SCMP_ARCH_X86_64\"], \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"], \"syscalls\": [{\"names\": "
                "[\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 1, "
                "\"op\": \"SCMP_CMP_EQ\"}]}]}}}";

        assert_int_equal(gb_spec_load_data(json, strlen(json), "config.json", &s, &err), 0);
        assert_int_equal(s->uid_map->n, 2);
        assert_string_equal(gb_spec_namespace(s, CLONE_NEWNET)->path, "/proc/1/ns/net");
        assert_null(gb_spec_namespace(s, CLONE_NEWPID));
        assert_int_equal(s->devices[0].major, 10);
        assert_int_equal(s->devices[0].mode, 0666);
        assert_string_equal(s->sysctl[0].key, "net.ipv4.ip_forward");
        assert_int_equal(s->rootfs_propagation, MS_PRIVATE | MS_REC);
        assert_int_equal(s->seccomp->default_action, SCMP_ACT_ERRNO(38));
        assert_int_equal(s->seccomp->n_rules, 1);
        assert_int_equal(s->seccomp->rules[0].n_args, 1);
        assert_int_equal(s->seccomp->rules[0].args[0].op, SCMP_CMP_EQ);
}

static void test_errors_name_fields(void **state)
{
        expect_error(NULL, "\"terminal\": 1", "config.json: process.terminal: expected true or false");
        expect_error(NULL, "\"oomScoreAdj\": 5000", "process.oomScoreAdj: expected an integer from -1000 to 1000");
        expect_error(NULL, "\"env\": [\"NOEQUALS\"]", "process.env[0]: 'NOEQUALS' is not NAME=VALUE");
        expect_error(NULL, "\"capabilities\": {\"bounding\": [\"CAP_NOPE\"]}",
                     "process.capabilities.bounding[0]: unknown capability 'CAP_NOPE'");
        expect_error(NULL, "\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 10, \"hard\": 5}]",
                     "process.rlimits[0]: soft limit 10 is above the hard limit 5");
        expect_error(NULL, "\"rlimits\": [{\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": 1}]",
                     "process.rlimits[0].type: unknown rlimit 'RLIMIT_BOGUS'");
        expect_error("\"mounts\": [{\"destination\": \"rel\", \"type\": \"tmpfs\"}]", NULL,
                     "mounts[0].destination: 'rel' must be an absolute path");
        expect_error("\"mounts\": [{\"destination\": \"/x\", \"options\": [\"bind\"]}]", NULL,
                     "mounts[0].source: a bind mount needs a source");
        expect_error("\"mounts\": [{\"destination\": \"/x\", \"type\": \"tmpfs\", \"options\": [\"rro\"]}]", NULL,
                     "mounts[0].options[0]: recursive mount attribute 'rro' is not supported");
        expect_error("\"hostname\": 7", NULL, "hostname: expected a string");
        expect_error("\"hostname\": \"h\"", NULL, "hostname: setting the hostname needs a new uts namespace");
        expect_error("\"solaris\": {}", NULL, "solaris: not a Linux container configuration");
}

static void test_errors_linux(void **state)
{
        struct gb_spec *s = NULL;
        struct gb_error err = {0};
        static const struct {
                const char *linux_obj, *msg;
        } cases[] = {
                {"{\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}]}",
                 "linux.uidMappings: a new user namespace needs linux.uidMappings"},
                {"{\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"mount\"}]}",
                 "linux.namespaces[1].type: namespace 'mount' listed twice"},
                {"{\"namespaces\": [{\"type\": \"pid\"}]}", "linux.namespaces: ghostbox needs a mount namespace"},
                {"{\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"bogus\"}]}", "linux.namespaces[1].type"},
                {"{\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": "
                 "0, \"hostID\": 1, \"size\": 0}], \"gidMappings\": []}",
                 "linux.uidMappings[0]: size must be > 0"},
                {"{\"namespaces\": [{\"type\": \"mount\"}, {\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": "
                 "0, \"hostID\": 10, \"size\": 5}, {\"containerID\": 3, \"hostID\": 100, \"size\": 5}]}",
                 "linux.uidMappings[1]: containerID range overlaps linux.uidMappings[0]"},
                {"{\"namespaces\": [{\"type\": \"mount\"}], \"uidMappings\": [{\"containerID\": 0, \"hostID\": "
                 "-1, \"size\": 1}]}",
                 "linux.uidMappings[0].hostID: expected an unsigned integer"},
                {"{\"namespaces\": [{\"type\": \"mount\"}], \"uidMappings\": [{\"containerID\": 0, \"hostID\": "
                 "4294967296, \"size\": 1}]}",
                 "linux.uidMappings[0].hostID: value 4294967296 is larger than 4294967295"},
                {"{\"namespaces\": [{\"type\": \"mount\"}], \"devices\": [{\"path\": \"/dev/x\", \"type\": \"q\"}]}",
                 "linux.devices[0].type"},
                {"{\"namespaces\": [{\"type\": \"mount\"}], \"sysctl\": {\"../../etc\": \"x\"}}",
                 "linux.sysctl.../../etc: not a sysctl name"},
                {"{\"namespaces\": [{\"type\": \"mount\"}], \"seccomp\": {\"defaultAction\": \"SCMP_ACT_NOPE\"}}",
                 "linux.seccomp.defaultAction: unknown action 'SCMP_ACT_NOPE'"},
                {"{\"namespaces\": [{\"type\": \"mount\"}], \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", "
                 "\"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 9, "
                 "\"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}}",
                 "linux.seccomp.syscalls[0].args[0].index: index 9 past the 6th argument"},
                {"{\"namespaces\": [{\"type\": \"mount\"}], \"mountLabel\": \"system_u\"}",
                 "linux.mountLabel: not supported by ghostbox"},
        };

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *json = gb_xasprintf(
                        "{\"ociVersion\": \"1.1.0\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"x\"], "
                        "\"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}}, \"linux\": %s}",
                        cases[i].linux_obj);
                memset(&err, 0, sizeof(err));
                assert_int_equal(gb_spec_load_data(json, strlen(json), "config.json", &s, &err), -EINVAL);
                if (!strstr(err.msg, cases[i].msg))
                        fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].msg, err.msg);
        }
}

static void test_syntax_error_has_position(void **state)
{
        struct gb_spec *s = NULL;
        struct gb_error err = {0};

        assert_int_equal(gb_spec_load_data("{\n  \"ociVersion\": ,", 19, "config.json", &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "config.json: line 2"));
        assert_int_equal(gb_spec_load_data("{\"a\": 1, \"a\": 2}", 16, "config.json", &s, &err), -EINVAL);
}

static void test_warnings_name_fields(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_error err = {0};

        gb_set_warn_handler(collect_warning, NULL);
        assert_int_equal(parse("\"hooks\": {\"prestart\": [{\"path\": \"/x\"}]}, \"surprise\": 1", "\"ioPriority\": {}",
                               &s, &err),
                         0);
        assert_non_null(strstr(warnings, "config.json: hooks: not run yet"));
        assert_non_null(strstr(warnings, "config.json: surprise: unknown field, ignored"));
        assert_non_null(strstr(warnings, "config.json: process.ioPriority: not implemented"));
        gb_set_warn_handler(NULL, NULL);
}

static void test_process_json(void **state)
{
        struct gb_spec_process p;
        struct gb_error err = {0};
        json_t *o = json_loads("{\"args\": [\"ls\"], \"cwd\": \"/\", \"user\": {\"uid\": 5, \"gid\": 6}}", 0, NULL);
        json_t *bad = json_loads("{\"args\": [], \"cwd\": \"/\", \"user\": {\"uid\": 5, \"gid\": 6}}", 0, NULL);

        assert_int_equal(gb_spec_process_from_json(o, "process.json", &p, &err), 0);
        assert_string_equal(p.args[0], "ls");
        assert_int_equal(p.uid, 5);
        gb_spec_process_done(&p);
        assert_int_equal(gb_spec_process_from_json(bad, "process.json", &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "process.json: args: must name the program to run"));
        json_decref(o);
        json_decref(bad);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_spec_roundtrip),
                cmocka_unit_test(test_process_fields),
                cmocka_unit_test(test_user_fields),
                cmocka_unit_test(test_mount_options),
                cmocka_unit_test(test_linux_fields),
                cmocka_unit_test(test_errors_name_fields),
                cmocka_unit_test(test_errors_linux),
                cmocka_unit_test(test_syntax_error_has_position),
                cmocka_unit_test(test_warnings_name_fields),
                cmocka_unit_test(test_process_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
