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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "container.h"
#include "util.h"

static char root[] = "/tmp/gb-ctr-XXXXXX";

static int setup(void **state)
{
        strcpy(root, "/tmp/gb-ctr-XXXXXX");
        return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)gb_rm_rf(root);
        return 0;
}

static json_t *new_doc(const char *id, const char *name, const char *created)
{
        char slashed[300];

        snprintf(slashed, sizeof(slashed), "/%s", name);
        return json_pack("{s:s, s:s, s:s, s:{s:s}}", "Id", id, "Name", slashed, "Created", created, "State", "Status",
                         "created");
}

static void make(const char *name, const char *created, char id[GB_CONTAINER_ID_LEN + 1])
{
        struct gb_container *c = NULL;
        struct gb_error err = {0};
        json_t *doc;

        assert_int_equal(gb_container_new_id(id, &err), 0);
        doc = new_doc(id, name, created);
        assert_int_equal(gb_container_create(root, "231072.231072", getuid(), getgid(), doc, &c, &err), 0);
        json_decref(doc);
        gb_container_free(c);
}

static void test_ids_and_names(void **state)
{
        char id[GB_CONTAINER_ID_LEN + 1];
        struct gb_error err = {0};
        _cleanup_free_ char *n = gb_container_random_name();

        assert_int_equal(gb_container_new_id(id, &err), 0);
        assert_int_equal(strlen(id), 64);
        assert_int_equal(strspn(id, "0123456789abcdef"), 64);
        assert_true(gb_container_name_valid(n));
        assert_true(gb_container_name_valid("web-1"));
        assert_true(gb_container_name_valid("/web_1.x"));
        assert_false(gb_container_name_valid("-web"));
        assert_false(gb_container_name_valid("a"));
        assert_false(gb_container_name_valid("a/b"));
        assert_false(gb_container_name_valid("a b"));
        assert_false(gb_container_name_valid("../x"));
}

static void test_create_lookup_remove(void **state)
{
        char a[GB_CONTAINER_ID_LEN + 1], b[GB_CONTAINER_ID_LEN + 1], prefix[13];
        struct gb_container *c = NULL;
        struct gb_error err = {0};
        _cleanup_strv_ char **ids = NULL;
        struct stat st;

        make("alpha", "2026-01-01T00:00:00.000000001Z", a);
        make("beta", "2026-01-02T00:00:00.000000001Z", b);

        assert_int_equal(gb_container_lookup(root, "alpha", false, &c, &err), 0);
        assert_string_equal(c->id, a);
        assert_string_equal(gb_container_name(c), "alpha");
        assert_string_equal(gb_container_status(c), "created");
        assert_int_equal(stat(c->dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        gb_container_free(TAKE_PTR(c));

        assert_int_equal(gb_container_lookup(root, "/beta", true, &c, &err), 0);
        assert_string_equal(c->id, b);
        assert_true(c->lock_fd >= 0);
        gb_container_free(TAKE_PTR(c));

        memcpy(prefix, a, 12);
        prefix[12] = '\0';
        assert_int_equal(gb_container_lookup(root, prefix, false, &c, &err), 0);
        assert_string_equal(c->id, a);
        gb_container_free(TAKE_PTR(c));
        assert_int_equal(gb_container_lookup(root, a, false, &c, &err), 0);
        gb_container_free(TAKE_PTR(c));

        assert_int_equal(gb_container_lookup(root, "gamma", false, &c, &err), -ENOENT);
        assert_string_equal(err.msg, "No such container: gamma");
        assert_int_equal(gb_container_lookup(root, "../../etc", false, &c, &err), -ENOENT);

        /* Newest first. */
        assert_int_equal(gb_container_list(root, &ids, &err), 0);
        assert_int_equal(gb_strv_len(ids), 2);
        assert_string_equal(ids[0], b);
        assert_string_equal(ids[1], a);

        assert_int_equal(gb_container_lookup(root, "alpha", true, &c, &err), 0);
        assert_int_equal(gb_container_remove(root, c, &err), 0);
        gb_container_free(TAKE_PTR(c));
        assert_int_equal(gb_container_lookup(root, "alpha", false, &c, &err), -ENOENT);
        /* The name is free again. */
        make("alpha", "2026-01-03T00:00:00.000000001Z", a);
}

static void test_name_conflict_leaves_nothing(void **state)
{
        char a[GB_CONTAINER_ID_LEN + 1], id[GB_CONTAINER_ID_LEN + 1];
        struct gb_container *c = NULL;
        struct gb_error err = {0};
        _cleanup_free_ char *dir = NULL;
        json_t *doc;

        make("web", "2026-01-01T00:00:00.000000001Z", a);
        assert_int_equal(gb_container_new_id(id, &err), 0);
        doc = new_doc(id, "web", "2026-01-01T00:00:00.000000002Z");
        assert_int_equal(gb_container_create(root, "231072.231072", getuid(), getgid(), doc, &c, &err), -EEXIST);
        json_decref(doc);
        assert_non_null(strstr(err.msg, "is already in use by container"));
        assert_non_null(strstr(err.msg, a));
        dir = gb_xasprintf("%s/231072.231072/containers/%s", root, id);
        assert_int_equal(access(dir, F_OK), -1);
}

static void test_rename(void **state)
{
        char a[GB_CONTAINER_ID_LEN + 1], b[GB_CONTAINER_ID_LEN + 1];
        struct gb_container *c = NULL;
        struct gb_error err = {0};

        make("one", "2026-01-01T00:00:00.000000001Z", a);
        make("two", "2026-01-01T00:00:00.000000002Z", b);
        assert_int_equal(gb_container_lookup(root, "one", true, &c, &err), 0);
        assert_int_equal(gb_container_rename(root, c, "two", &err), -EEXIST);
        assert_int_equal(gb_container_rename(root, c, "bad name", &err), -EINVAL);
        assert_int_equal(gb_container_rename(root, c, "three", &err), 0);
        gb_container_free(TAKE_PTR(c));
        assert_int_equal(gb_container_lookup(root, "one", false, &c, &err), -ENOENT);
        assert_int_equal(gb_container_lookup(root, "three", false, &c, &err), 0);
        assert_string_equal(c->id, a);
        gb_container_free(TAKE_PTR(c));
}

/* Eight processes create a container with the same name at once: exactly
 * one wins, and the losers leave no directory behind. */
static void test_concurrent_same_name(void **state)
{
        int wins = 0, losses = 0;
        _cleanup_strv_ char **ids = NULL;
        struct gb_error err = {0};

        for (int i = 0; i < 8; i++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        char id[GB_CONTAINER_ID_LEN + 1];
                        struct gb_container *c = NULL;
                        json_t *doc;
                        if (gb_container_new_id(id, NULL) < 0)
                                _exit(3);
                        doc = new_doc(id, "racer", "2026-01-01T00:00:00.000000001Z");
                        _exit(gb_container_create(root, "0.0", getuid(), getgid(), doc, &c, NULL) == 0 ? 0 : 1);
                }
        }
        for (int i = 0; i < 8; i++) {
                int status;
                assert_true(wait(&status) > 0);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) == 0)
                        wins++;
                else
                        losses++;
        }
        assert_int_equal(wins, 1);
        assert_int_equal(losses, 7);
        assert_int_equal(gb_container_list(root, &ids, &err), 0);
        assert_int_equal(gb_strv_len(ids), 1);
}

static void test_pid_alive(void **state)
{
        unsigned long long st;
        pid_t pid;
        int status;

        assert_int_equal(gb_pid_start_time(getpid(), &st), 0);
        assert_true(gb_pid_alive(getpid(), st));
        assert_false(gb_pid_alive(getpid(), st + 1));
        pid = fork();
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_false(gb_pid_alive(pid, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ids_and_names),
                cmocka_unit_test_setup_teardown(test_create_lookup_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_name_conflict_leaves_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_same_name, setup, teardown),
                cmocka_unit_test(test_pid_alive),
        };
        return cmocka_run_group_tests_name("container", tests, NULL, NULL);
}
