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
#include "logfile.h"
#include "util.h"

struct collected {
        char text[65536];
        size_t len;
        int entries;
        int stderr_entries;
};

static int collect(const struct gb_log_entry *e, void *userdata)
{
        struct collected *c = userdata;

        assert_true(c->len + e->len < sizeof(c->text));
        memcpy(c->text + c->len, e->text, e->len);
        c->len += e->len;
        c->text[c->len] = '\0';
        c->entries++;
        if (e->stream == GB_STREAM_STDERR)
                c->stderr_entries++;
        assert_int_equal(strlen(e->time), 30);
        return 0;
}

static char dir[] = "/tmp/gb-log-XXXXXX";
static char *path;

static int setup(void **state)
{
        strcpy(dir, "/tmp/gb-log-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        path = gb_xasprintf("%s/c-json.log", dir);
        return 0;
}

static int teardown(void **state)
{
        (void)gb_rm_rf(dir);
        free(path);
        return 0;
}

static void test_lines_and_streams(void **state)
{
        struct gb_log_writer w = {0};
        struct gb_error err = {0};
        struct collected c = {0};

        assert_int_equal(gb_log_open(&w, path, &err), 0);
        assert_int_equal(gb_log_feed(&w, GB_STREAM_STDOUT, "hel", 3), 0);
        assert_int_equal(gb_log_feed(&w, GB_STREAM_STDERR, "oops\n", 5), 0);
        assert_int_equal(gb_log_feed(&w, GB_STREAM_STDOUT, "lo\nwor", 6), 0);
        assert_int_equal(gb_log_feed(&w, GB_STREAM_STDOUT, "ld \"q\" \t\x01\n", 10), 0);
        assert_int_equal(gb_log_feed(&w, GB_STREAM_STDOUT, "tail", 4), 0);
        gb_log_close(&w);
        assert_int_equal(gb_log_read(path, -1, false, NULL, NULL, collect, &c, &err), 0);
        assert_int_equal(c.entries, 4);
        assert_int_equal(c.stderr_entries, 1);
        assert_string_equal(c.text, "oops\nhello\nworld \"q\" \t\x01\ntail");
}

static void test_tail(void **state)
{
        struct gb_log_writer w = {0};
        struct gb_error err = {0};
        struct collected c = {0};
        char line[32];

        assert_int_equal(gb_log_open(&w, path, &err), 0);
        for (int i = 0; i < 100; i++) {
                int n = snprintf(line, sizeof(line), "%d\n", i);
                assert_int_equal(gb_log_feed(&w, GB_STREAM_STDOUT, line, (size_t)n), 0);
        }
        gb_log_close(&w);
        assert_int_equal(gb_log_read(path, 3, false, NULL, NULL, collect, &c, &err), 0);
        assert_string_equal(c.text, "97\n98\n99\n");
        memset(&c, 0, sizeof(c));
        assert_int_equal(gb_log_read(path, 0, false, NULL, NULL, collect, &c, &err), 0);
        assert_int_equal(c.entries, 0);
        memset(&c, 0, sizeof(c));
        assert_int_equal(gb_log_read(path, 1000, false, NULL, NULL, collect, &c, &err), 0);
        assert_int_equal(c.entries, 100);
}

/* A long line is split at 16 KiB; a truncated last line (crash mid-write)
 * and garbage lines are skipped, not fatal. */
static void test_long_and_damaged(void **state)
{
        struct gb_log_writer w = {0};
        struct gb_error err = {0};
        struct collected c = {0};
        _cleanup_free_ char *big = gb_xmalloc(40000);
        _cleanup_close_ int fd = -EBADF;

        memset(big, 'x', 40000);
        big[39999] = '\n';
        assert_int_equal(gb_log_open(&w, path, &err), 0);
        assert_int_equal(gb_log_feed(&w, GB_STREAM_STDOUT, big, 40000), 0);
        gb_log_close(&w);
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        {
                static const char junk[] = "not json\n{\"log\":1}\n{\"log\":\"cut";
                assert_int_equal(gb_write_all(fd, junk, strlen(junk)), 0);
        }
        assert_int_equal(gb_log_read(path, -1, false, NULL, NULL, collect, &c, &err), 0);
        assert_int_equal(c.entries, 3);
        assert_int_equal(c.len, 40000);
}

static bool never_running(void *data)
{
        return false;
}

static void test_follow_stops(void **state)
{
        struct gb_log_writer w = {0};
        struct gb_error err = {0};
        struct collected c = {0};

        assert_int_equal(gb_log_open(&w, path, &err), 0);
        assert_int_equal(gb_log_feed(&w, GB_STREAM_STDOUT, "a\n", 2), 0);
        gb_log_close(&w);
        assert_int_equal(gb_log_read(path, -1, true, never_running, NULL, collect, &c, &err), 0);
        assert_string_equal(c.text, "a\n");
        /* A container that never logged has no file yet: not an error. */
        memset(&c, 0, sizeof(c));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(gb_log_read(path, -1, false, NULL, NULL, collect, &c, &err), 0);
        assert_int_equal(c.entries, 0);
}

static void test_stdcopy(void **state)
{
        uint8_t hdr[8];
        enum gb_stream s;
        uint32_t len;
        int p[2];
        char buf[64];

        gb_stdcopy_header(hdr, GB_STREAM_STDERR, 0x01020304);
        assert_int_equal(hdr[0], 2);
        assert_int_equal(hdr[4], 1);
        assert_int_equal(hdr[7], 4);
        assert_int_equal(gb_stdcopy_parse_header(hdr, &s, &len), 0);
        assert_int_equal(s, GB_STREAM_STDERR);
        assert_int_equal(len, 0x01020304);
        hdr[0] = 7;
        assert_int_equal(gb_stdcopy_parse_header(hdr, &s, &len), -EINVAL);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(gb_stdcopy_write(p[1], GB_STREAM_STDOUT, "hi", 2), 0);
        assert_int_equal(read(p[0], buf, sizeof(buf)), 10);
        assert_memory_equal(buf, "\x01\0\0\0\0\0\0\x02hi", 10);
        close(p[0]);
        close(p[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_lines_and_streams, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_and_damaged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_follow_stops, setup, teardown),
                cmocka_unit_test(test_stdcopy),
        };
        return cmocka_run_group_tests_name("logfile", tests, NULL, NULL);
}
