/* daemon.json loading: defaults, every key, wrong types, unknown keys,
 * malformed JSON, and the command line's overrides. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "config.h"
#include "util.h"

static char tmpdir[64], file[128];

static int setup(void **state)
{
        (void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/gb-test-config.XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        (void)snprintf(file, sizeof(file), "%s/daemon.json", tmpdir);
        (void)unsetenv("GHOSTBOX_CONFIG");
        return 0;
}

static int teardown(void **state)
{
        (void)gb_rm_rf(tmpdir);
        return 0;
}

static void put(const char *text)
{
        assert_int_equal(gb_write_file_atomic(file, text, strlen(text), 0644), 0);
}

static void load_ok(const char *text, struct gb_config *c)
{
        struct gb_config_overrides ov = {.path = file};
        struct gb_error err = {0};

        put(text);
        if (gb_config_load(&ov, c, &err) < 0)
                fail_msg("loading %s: %s", text, err.msg);
}

static void load_fails(const char *text, const char *want1, const char *want2)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};
        struct gb_config_overrides ov = {.path = file};
        struct gb_error err = {0};

        put(text);
        assert_true(gb_config_load(&ov, &c, &err) < 0);
        if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)) || !strstr(err.msg, file))
                fail_msg("for %s: got '%s', want the file, '%s' and '%s'", text, err.msg, want1, want2 ? want2 : "");
        assert_null(c.path); /* untouched on failure */
}

static void test_missing_file_defaults(void **state)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};
        _cleanup_free_ char *p = gb_xasprintf("%s/nope.json", tmpdir);
        struct gb_config_overrides ov = {.path = p};
        struct gb_error err = {0};

        assert_int_equal(gb_config_load(&ov, &c, &err), 0);
        assert_false(c.file_found);
        assert_string_equal(c.path, p);
        assert_string_equal(c.userns_remap, "default"); /* remapping ON */
        assert_string_equal(c.userns_remap_origin, "built-in default");
        assert_string_equal(c.data_root, "/var/lib/ghostbox");
        assert_string_equal(c.exec_root, "/run/ghostbox");
        assert_non_null(c.hosts);
        assert_null(c.hosts[0]);
        assert_null(c.group);
        assert_int_equal(c.storage_shift, GB_STORAGE_SHIFT_AUTO);
        assert_string_equal(c.storage_driver, "overlay2");
        assert_false(c.debug);
}

static void test_key_absent_means_default(void **state)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};

        load_ok("{\"debug\": true}", &c);
        assert_true(c.file_found);
        assert_true(c.debug);
        assert_string_equal(c.userns_remap, "default");
}

static void test_empty_string_turns_off(void **state)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};

        load_ok("{\"userns-remap\": \"\"}", &c);
        assert_string_equal(c.userns_remap, "");
        assert_string_equal(c.userns_remap_origin, file);
}

static void test_all_keys(void **state)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};

        load_ok("{\n"
                "  \"userns-remap\": \"testuser:testuser\",\n"
                "  \"data-root\": \"/srv/gb\",\n"
                "  \"exec-root\": \"/run/gb2\",\n"
                "  \"hosts\": [\"unix:///run/gb.sock\", \"tcp://127.0.0.1:2375\"],\n"
                "  \"group\": \"docker\",\n"
                "  \"debug\": false,\n"
                "  \"log-level\": \"warn\",\n"
                "  \"pidfile\": \"/run/gb.pid\",\n"
                "  \"storage-driver\": \"overlay2\",\n"
                "  \"storage-shift\": \"chown\",\n"
                "  \"cgroup-parent\": \"ghostbox.slice\"\n"
                "}\n",
                &c);
        assert_string_equal(c.userns_remap, "testuser:testuser");
        assert_string_equal(c.data_root, "/srv/gb");
        assert_string_equal(c.exec_root, "/run/gb2");
        assert_int_equal(gb_strv_len(c.hosts), 2);
        assert_string_equal(c.hosts[1], "tcp://127.0.0.1:2375");
        assert_string_equal(c.group, "docker");
        assert_string_equal(c.log_level, "warn");
        assert_string_equal(c.pidfile, "/run/gb.pid");
        assert_int_equal(c.storage_shift, GB_STORAGE_SHIFT_CHOWN);
        assert_string_equal(c.cgroup_parent, "ghostbox.slice");
}

static void test_storage_shift_values(void **state)
{
        static const char *const names[] = {"auto", "idmap", "chown"};
        static const enum gb_storage_shift vals[] = {GB_STORAGE_SHIFT_AUTO, GB_STORAGE_SHIFT_IDMAP,
                                                     GB_STORAGE_SHIFT_CHOWN};

        for (size_t i = 0; i < 3; i++) {
                _cleanup_(gb_config_done) struct gb_config c = {0};
                _cleanup_free_ char *t = gb_xasprintf("{\"storage-shift\": \"%s\"}", names[i]);

                load_ok(t, &c);
                assert_int_equal(c.storage_shift, vals[i]);
                assert_string_equal(gb_storage_shift_to_string(c.storage_shift), names[i]);
        }
        load_fails("{\"storage-shift\": \"copy\"}", "\"storage-shift\"", "expected one of auto, idmap, chown");
}

static void test_unknown_key(void **state)
{
        load_fails("{\"userns-remap\": \"default\", \"userns_remap\": \"x\"}", "unknown key \"userns_remap\"", NULL);
        load_fails("{\"live-restore\": true}", "unknown key \"live-restore\"", NULL);
}

static void test_wrong_types(void **state)
{
        load_fails("{\"userns-remap\": false}", "\"userns-remap\" must be a string", NULL);
        load_fails("{\"userns-remap\": null}", "\"userns-remap\" must be a string", NULL);
        load_fails("{\"data-root\": 5}", "\"data-root\" must be a string", NULL);
        load_fails("{\"data-root\": \"relative/dir\"}", "\"data-root\" must be an absolute path", NULL);
        load_fails("{\"exec-root\": [\"/run\"]}", "\"exec-root\" must be a string", NULL);
        load_fails("{\"hosts\": \"unix:///x\"}", "\"hosts\" must be an array", NULL);
        load_fails("{\"hosts\": [\"unix:///x\", 3]}", "\"hosts\" element 1", NULL);
        load_fails("{\"group\": 999}", "\"group\" must be a string", NULL);
        load_fails("{\"debug\": \"yes\"}", "\"debug\" must be true or false", NULL);
        load_fails("{\"log-level\": \"loud\"}", "\"log-level\"", "expected one of");
        load_fails("{\"storage-driver\": \"aufs\"}", "\"storage-driver\"", NULL);
        load_fails("{\"pidfile\": {}}", "\"pidfile\" must be a string", NULL);
        load_fails("{\"userns-remap\": \"a\\u0000b\"}", "line 1 column", "\\u0000 is not allowed");
}

static void test_malformed_json(void **state)
{
        load_fails("{\n  \"debug\": true,\n  \"data-root\": \"/x\"\n  \"exec-root\": \"/y\"\n}\n", "line 4 column",
                   NULL);
        load_fails("{\"debug\": tru}", "line 1 column", NULL);
        load_fails("", "line", "column");
        load_fails("{} {}", "line 1 column", NULL);
        load_fails("[\"userns-remap\"]", "top level must be a JSON object", NULL);
        load_fails("\"default\"", "line 1 column", "'[' or '{' expected");
        /* Given twice: which one would win? Refuse. */
        load_fails("{\"userns-remap\": \"\", \"userns-remap\": \"default\"}", "line 1 column", "duplicate");
}

static void test_overrides(void **state)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};
        struct gb_config_overrides ov = {
                .path = file,
                .data_root = "/tmp/dr",
                .exec_root = "/tmp/er",
                .userns_remap = "",
        };
        struct gb_error err = {0};

        put("{\"userns-remap\": \"testuser\", \"data-root\": \"/srv/a\", \"exec-root\": \"/run/a\"}");
        assert_int_equal(gb_config_load(&ov, &c, &err), 0);
        assert_string_equal(c.userns_remap, "");
        assert_string_equal(c.userns_remap_origin, "--userns-remap");
        assert_string_equal(c.data_root, "/tmp/dr");
        assert_string_equal(c.exec_root, "/tmp/er");
        gb_config_done(&c);

        ov.data_root = "rel";
        assert_true(gb_config_load(&ov, &c, &err) < 0);
        assert_non_null(strstr(err.msg, "--data-root 'rel'"));
}

/* $GHOSTBOX_CONFIG when no --config, and --config over it. */
static void test_env_path(void **state)
{
        _cleanup_(gb_config_done) struct gb_config c = {0}, d = {0};
        _cleanup_free_ char *other = gb_xasprintf("%s/other.json", tmpdir);
        struct gb_error err = {0};

        put("{\"data-root\": \"/from/env\"}");
        assert_int_equal(setenv("GHOSTBOX_CONFIG", file, 1), 0);
        assert_int_equal(gb_config_load(NULL, &c, &err), 0);
        assert_string_equal(c.data_root, "/from/env");
        assert_int_equal(gb_config_load(&(struct gb_config_overrides){.path = other}, &d, &err), 0);
        assert_string_equal(d.data_root, "/var/lib/ghostbox");
        (void)unsetenv("GHOSTBOX_CONFIG");
}

static void test_unreadable(void **state)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};
        struct gb_error err = {0};

        /* A directory where the file should be. */
        assert_int_equal(gb_config_load(&(struct gb_config_overrides){.path = tmpdir}, &c, &err) < 0, 1);
        assert_non_null(strstr(err.msg, "Failed to read"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_missing_file_defaults),
                cmocka_unit_test(test_key_absent_means_default),
                cmocka_unit_test(test_empty_string_turns_off),
                cmocka_unit_test(test_all_keys),
                cmocka_unit_test(test_storage_shift_values),
                cmocka_unit_test(test_unknown_key),
                cmocka_unit_test(test_wrong_types),
                cmocka_unit_test(test_malformed_json),
                cmocka_unit_test(test_overrides),
                cmocka_unit_test(test_env_path),
                cmocka_unit_test(test_unreadable),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
