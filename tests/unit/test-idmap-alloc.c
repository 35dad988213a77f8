#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "idmap-alloc.h"
#include "util.h"

struct fixture {
        char dir[32];
        char *state;
};

static int setup(void **state)
{
        struct fixture *f = gb_xcalloc(1, sizeof(*f));

        strcpy(f->dir, "/tmp/gb-alloc-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        f->state = gb_xasprintf("%s/userns-auto.json", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        (void)gb_rm_rf(f->dir);
        free(f->state);
        free(f);
        return 0;
}

static void test_first_fit_and_release(void **state)
{
        struct fixture *f = *state;
        struct gb_idmap pool = {0}, a, b, c, again;
        struct gb_error err = {0};

        assert_int_equal(gb_idmap_add(&pool, 0, 1000000, 65536 * 3), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "a", 65536, &a, &err), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "b", 65536, &b, &err), 0);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.r[0].container_id, 0);
        assert_int_equal(a.r[0].host_id, 1000000);
        assert_int_equal(b.r[0].host_id, 1065536);
        assert_false(gb_idmap_overlaps_host(&a, &b));
        /* Asking again for the same owner gives the same range (crash retry). */
        assert_int_equal(gb_auto_alloc(f->state, &pool, "a", 65536, &again, &err), 0);
        assert_true(gb_idmap_equal(&a, &again));
        assert_int_equal(gb_auto_alloc(f->state, &pool, "a", 10, &again, &err), -EEXIST);
        assert_int_equal(gb_auto_lookup(f->state, &pool, "b", &again, &err), 0);
        assert_true(gb_idmap_equal(&b, &again));
        /* Release a, and its hole is reused first. */
        assert_int_equal(gb_auto_release(f->state, "a", &err), 0);
        assert_int_equal(gb_auto_lookup(f->state, &pool, "a", &again, &err), -ENOENT);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "c", 1000, &c, &err), 0);
        assert_int_equal(c.r[0].host_id, 1000000);
        assert_int_equal(gb_auto_release(f->state, "nobody-had-it", &err), 0);
}

static void test_exhaustion(void **state)
{
        struct fixture *f = *state;
        struct gb_idmap pool = {0}, m;
        struct gb_error err = {0};

        assert_int_equal(gb_idmap_add(&pool, 0, 500000, 100), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "x", 60, &m, &err), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "y", 60, &m, &err), -ENOSPC);
        assert_non_null(strstr(err.msg, "/etc/subuid"));
        assert_int_equal(gb_auto_alloc(f->state, &pool, "y", 40, &m, &err), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "bad/name", 1, &m, &err), -EINVAL);
}

/* An allocation spanning two host ranges becomes a two-line map. */
static void test_span_ranges(void **state)
{
        struct fixture *f = *state;
        struct gb_idmap pool = {0}, a, b;
        struct gb_error err = {0};

        assert_int_equal(gb_idmap_add(&pool, 0, 200000, 100), 0);
        assert_int_equal(gb_idmap_add(&pool, 100, 900000, 1000), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "a", 60, &a, &err), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "b", 100, &b, &err), 0);
        assert_int_equal(b.n, 2);
        assert_int_equal(b.r[0].container_id, 0);
        assert_int_equal(b.r[0].host_id, 200060);
        assert_int_equal(b.r[0].count, 40);
        assert_int_equal(b.r[1].container_id, 40);
        assert_int_equal(b.r[1].host_id, 900000);
        assert_int_equal(b.r[1].count, 60);
}

static void test_corrupt_state(void **state)
{
        struct fixture *f = *state;
        struct gb_idmap pool = {0}, m;
        struct gb_error err = {0};

        assert_int_equal(gb_idmap_add(&pool, 0, 500000, 100), 0);
        assert_int_equal(gb_write_file_atomic(f->state, "{\"reservations\": [", 18, 0600), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "x", 10, &m, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "line 1"));
        assert_int_equal(gb_write_file_atomic(f->state, "{\"reservations\": [{\"owner\": \"a\"}]}", 34, 0600), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "x", 10, &m, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "malformed"));
}

/* Many processes allocating at once never get overlapping ranges. */
static void test_concurrent(void **state)
{
        struct fixture *f = *state;
        struct gb_idmap pool = {0}, maps[64];
        struct gb_error err = {0};
        const int procs = 8, each = 8;

        assert_int_equal(gb_idmap_add(&pool, 0, 1000000, 4096 * 64), 0);
        for (int p = 0; p < procs; p++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        for (int i = 0; i < each; i++) {
                                char owner[32];
                                struct gb_idmap m;
                                snprintf(owner, sizeof(owner), "p%d-%d", p, i);
                                if (gb_auto_alloc(f->state, &pool, owner, 4096, &m, NULL) < 0)
                                        _exit(1);
                        }
                        _exit(0);
                }
        }
        for (int p = 0; p < procs; p++) {
                int status;
                assert_true(wait(&status) > 0);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        for (int p = 0; p < procs; p++)
                for (int i = 0; i < each; i++) {
                        char owner[32];
                        snprintf(owner, sizeof(owner), "p%d-%d", p, i);
                        assert_int_equal(gb_auto_lookup(f->state, &pool, owner, &maps[p * each + i], &err), 0);
                }
        for (int i = 0; i < procs * each; i++)
                for (int j = i + 1; j < procs * each; j++)
                        assert_false(gb_idmap_overlaps_host(&maps[i], &maps[j]));
}

static bool only_a(const char *owner, void *data)
{
        return strcmp(owner, "a") == 0;
}

/* A create that crashed after reserving leaves an owner that never
 * registered: reclaim drops it, but only once it is old enough. */
static void test_reclaim(void **state)
{
        struct fixture *f = *state;
        struct gb_idmap pool = {0}, m;
        struct gb_error err = {0};

        assert_int_equal(gb_idmap_add(&pool, 0, 1000000, 65536 * 4), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "a", 65536, &m, &err), 0);
        assert_int_equal(gb_auto_alloc(f->state, &pool, "b", 65536, &m, &err), 0);
        assert_int_equal(gb_auto_reclaim(f->state, only_a, NULL, 3600, &err), 0);
        assert_int_equal(gb_auto_lookup(f->state, &pool, "b", &m, &err), 0);
        assert_int_equal(gb_auto_reclaim(f->state, only_a, NULL, 0, &err), 1);
        assert_int_equal(gb_auto_lookup(f->state, &pool, "b", &m, &err), -ENOENT);
        assert_int_equal(gb_auto_lookup(f->state, &pool, "a", &m, &err), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_first_fit_and_release, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exhaustion, setup, teardown),
                cmocka_unit_test_setup_teardown(test_span_ranges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_state, setup, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reclaim, setup, teardown),
        };
        return cmocka_run_group_tests_name("idmap-alloc", tests, NULL, NULL);
}
