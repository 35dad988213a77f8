/* The sandbox API as the engine calls it (no CLI): a spec built in memory,
 * the container's stdio given as fds, errors coming back from the child,
 * exec into the running container. Needs root and busybox; skipped (77)
 * otherwise. */
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
#include "sandbox.h"
#include "spec.h"
#include "syscalls.h"
#include "util.h"

static char rootfs[] = "/tmp/gb-test-sandbox.XXXXXX";
/* Not "rootfs still ends in X": mkdtemp's random suffix may end in X too. */
static bool have_rootfs;

static int setup(void **state)
{
        static const char *const dirs[] = {"bin", "proc", "dev", "sys", "tmp"};
        _cleanup_free_ char *bb = NULL;

        if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0)
                return 0;
        if (!mkdtemp(rootfs))
                return -1;
        have_rootfs = true;
        chmod(rootfs, 0755);
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                _cleanup_free_ char *d = gb_xasprintf("%s/%s", rootfs, dirs[i]);
                if (mkdir(d, 0755) < 0)
                        return -1;
        }
        bb = gb_xasprintf("cp /bin/busybox %s/bin/busybox && ln -s busybox %s/bin/sh && ln -s busybox %s/bin/cat",
                          rootfs, rootfs, rootfs);
        return system(bb) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
        if (have_rootfs)
                (void)gb_rm_rf(rootfs);
        return 0;
}

static struct gb_spec *make_spec(const char *cmd)
{
        json_t *j = gb_spec_default_json(165536, 165536, 65536);
        struct gb_spec *s = NULL;
        struct gb_error err = {0};

        json_object_set_new(json_object_get(j, "process"), "args", json_pack("[s, s, s]", "sh", "-c", cmd));
        assert_int_equal(gb_spec_from_json(j, "test", &s, &err), 0);
        json_decref(j);
        return s;
}

static int wait_exit(int pidfd)
{
        siginfo_t si = {0};

        assert_int_equal(waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED), 0);
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

static void test_stdio_and_exit_code(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_sandbox sb;
        struct gb_error err = {0};
        int p[2], stdio[3];
        char buf[256] = {0};

        if (!have_rootfs)
                skip();
        s = make_spec("cat /proc/self/uid_map; id -u; exit 3");
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        stdio[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        stdio[1] = p[1];
        stdio[2] = p[1];
        {
                struct gb_sandbox_opts o = {
                        .spec = s, .rootfs = rootfs, .exec_fifo_fd = -1, .console_socket_fd = -1, .stdio = stdio};
                if (gb_sandbox_create(&o, &sb, &err) < 0)
                        fail_msg("%s", err.msg);
        }
        close(p[1]);
        close(stdio[0]);
        assert_int_equal(wait_exit(sb.pidfd), 3);
        assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
        close(p[0]);
        close(sb.pidfd);
        if (!strstr(buf, "165536") || !strstr(buf, "\n0\n"))
                fail_msg("unexpected output: %s", buf);
}

static void test_child_error_comes_back(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_sandbox sb = {.pid = -1, .pidfd = -1};
        struct gb_error err = {0};

        if (!have_rootfs)
                skip();
        s = make_spec("true");
        free(s->process.args[0]);
        s->process.args[0] = gb_xstrdup("/nonexistent");
        {
                struct gb_sandbox_opts o = {.spec = s, .rootfs = rootfs, .exec_fifo_fd = -1, .console_socket_fd = -1};
                assert_int_equal(gb_sandbox_create(&o, &sb, &err), -ENOENT);
        }
        assert_int_equal(err.code, ENOENT);
        assert_non_null(strstr(err.msg, "process.args[0]: '/nonexistent' not found in the container"));
        assert_int_equal(sb.pidfd, -1);
        /* the child was reaped: nothing left to wait for */
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static void test_exec_joins(void **state)
{
        _cleanup_(gb_spec_freep) struct gb_spec *s = NULL;
        struct gb_spec_process proc = {0};
        struct gb_sandbox sb, ex;
        struct gb_error err = {0};
        char *args[] = {(char *)"sh", (char *)"-c", (char *)"readlink /proc/self/ns/pid >&2; exit 5", NULL};
        char *env[] = {NULL};
        int p[2], stdio[3];
        char buf[128] = {0}, host[128] = {0}, path[64];

        if (!have_rootfs)
                skip();
        s = make_spec("sleep 100");
        {
                struct gb_sandbox_opts o = {.spec = s, .rootfs = rootfs, .exec_fifo_fd = -1, .console_socket_fd = -1};
                if (gb_sandbox_create(&o, &sb, &err) < 0)
                        fail_msg("%s", err.msg);
        }
        proc.args = args;
        proc.env = env;
        proc.cwd = (char *)"/";
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        stdio[0] = stdio[1] = stdio[2] = p[1];
        {
                struct gb_exec_opts eo = {.init_pidfd = sb.pidfd,
                                          .init_pid = sb.pid,
                                          .spec = s,
                                          .process = &proc,
                                          .console_socket_fd = -1,
                                          .stdio = stdio};
                pid_t child = fork();
                /* gb_sandbox_exec moves the caller's pid namespace for
                 * children: do it in a throwaway process. */
                if (child == 0) {
                        if (gb_sandbox_exec(&eo, &ex, &err) < 0) {
                                fprintf(stderr, "%s\n", err.msg);
                                _exit(100);
                        }
                        _exit(wait_exit(ex.pidfd));
                }
                close(p[1]);
                assert_int_equal(waitpid(child, &child, 0) > 0, 1);
                assert_int_equal(WEXITSTATUS(child), 5);
        }
        assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
        close(p[0]);
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)sb.pid);
        assert_true(readlink(path, host, sizeof(host) - 1) > 0);
        buf[strcspn(buf, "\n")] = 0;
        assert_string_equal(buf, host);
        (void)gb_pidfd_send_signal(sb.pidfd, SIGKILL, NULL, 0);
        (void)wait_exit(sb.pidfd);
        close(sb.pidfd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stdio_and_exit_code),
                cmocka_unit_test(test_child_error_comes_back),
                cmocka_unit_test(test_exec_joins),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
