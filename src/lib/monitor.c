#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "monitor.h"
#include "util.h"

GB_EXPORT char *gb_monitor_state_dir(const char *exec_root, const char *id)
{
        return gb_xasprintf("%s/containers/%s", exec_root, id);
}

/* Fill sa with "/proc/self/fd/N/attach.sock" for an fd of the state
 * directory: the real path (exec root + 64-character ID) can exceed the
 * 108 bytes of sun_path. */
static void socket_addr(int dirfd, struct sockaddr_un *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        (void)snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/attach.sock", dirfd);
}

GB_EXPORT int gb_monitor_listen(const char *state_dir, int *ret_fd, struct gb_error *err)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        struct sockaddr_un sa;

        dfd = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", state_dir);
        socket_addr(dfd, &sa);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create the attach socket");
        (void)unlinkat(dfd, "attach.sock", 0);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || fchmodat(dfd, "attach.sock", 0600, 0) < 0 ||
            listen(fd, 16) < 0)
                return gb_error_sys(err, errno, "Failed to listen on '%s/attach.sock'", state_dir);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

GB_EXPORT int gb_monitor_connect(const char *state_dir, int *ret_fd, struct gb_error *err)
{
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        struct sockaddr_un sa;

        dfd = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return gb_error_sys(err, errno, "Failed to reach the container's monitor: '%s'", state_dir);
        socket_addr(dfd, &sa);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create a socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return gb_error_sys(err, errno, "Failed to reach the container's monitor at '%s/attach.sock'",
                                    state_dir);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Connect to the monitor and send one request; *ret_fd is the connection. */
static int send_request(const char *state_dir, const void *req, size_t len, const char *what, int *ret_fd,
                        struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = gb_monitor_connect(state_dir, &fd, err);
        if (r < 0)
                return r;
        r = gb_write_all(fd, req, len);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to %s", what);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Read the monitor's one-line answer ("ok" / "error ..."), stopping at the
 * newline: EOF may never come while a not-yet-exec'd init holds a copy of
 * the write end. Returns the line without its newline. */
static void read_answer(int fd, char *buf, size_t size)
{
        size_t len = 0;

        for (;;) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
                if (len == size - 1 || memchr(buf, '\n', len))
                        break;
        }
        buf[len] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
}

GB_EXPORT int gb_monitor_start(const char *state_dir, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char buf[GB_ERROR_MSG_MAX];
        int r;

        r = send_request(state_dir, "S", 1, "ask the monitor to start the container", &fd, err);
        if (r < 0)
                return r;
        read_answer(fd, buf, sizeof(buf));
        if (strcmp(buf, "ok") == 0)
                return 0;
        if (gb_str_has_prefix(buf, "error: "))
                return gb_error_set(err, EIO, "%s", buf + 7);
        return gb_error_set(err, EIO, "Failed to start the container: the monitor gave no answer");
}

GB_EXPORT int gb_monitor_attach(const char *state_dir, unsigned flags, int *ret_fd, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char req[2] = {'A', (char)flags};
        int r;

        r = send_request(state_dir, req, sizeof(req), "attach to the container", &fd, err);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

GB_EXPORT int gb_monitor_resize(const char *state_dir, unsigned rows, unsigned cols, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char req[5] = {'R', (char)(rows >> 8), (char)rows, (char)(cols >> 8), (char)cols};

        return send_request(state_dir, req, sizeof(req), "resize the container's tty", &fd, err);
}

GB_EXPORT int gb_monitor_spawn(const char *monitor_path, const char *cli_path, const char *config_path,
                               const char *userns_remap, const char *data_root, const char *exec_root, const char *id,
                               pid_t *ret_pid, struct gb_error *err)
{
        _cleanup_close_ int rd = -EBADF, wr = -EBADF;
        char buf[GB_ERROR_MSG_MAX], fdnum[16];
        pid_t pid;
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return gb_error_sys(err, errno, "Failed to create a pipe");
        rd = p[0];
        wr = p[1];
        pid = fork();
        if (pid < 0)
                return gb_error_sys(err, errno, "Failed to fork the monitor");
        if (pid == 0) {
                int devnull;

                /* The monitor outlives this CLI and its terminal: own
                 * session, stdio on /dev/null (the container's stdio is
                 * set up by the monitor itself). The ready pipe is the
                 * only fd it inherits on purpose. */
                (void)setsid();
                /* The pipe first goes above 3: were it 0-3 itself, the
                 * dup2s below would clobber it, or dup2(3, 3) would keep
                 * its close-on-exec. */
                wr = fcntl(wr, F_DUPFD_CLOEXEC, 10);
                devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (wr < 0 || devnull < 0)
                        _exit(127);
                (void)dup2(devnull, 0);
                (void)dup2(devnull, 1);
                (void)dup2(devnull, 2);
                if (dup2(wr, 3) < 0)
                        _exit(127);
                (void)snprintf(fdnum, sizeof(fdnum), "%d", 3);
                gb_close_from(4);
                execl(monitor_path, "ghostbox-monitor", "--data-root", data_root, "--exec-root", exec_root, "--cli",
                      cli_path, "--config", config_path, "--userns-remap", userns_remap, "--ready-fd", fdnum, id,
                      (char *)NULL);
                _exit(127);
        }
        close(TAKE_FD(wr));
        read_answer(rd, buf, sizeof(buf));
        if (strcmp(buf, "ok") == 0) {
                *ret_pid = pid;
                return 0;
        }
        /* The monitor failed: it exits by itself; reap it. */
        (void)waitpid(pid, NULL, 0);
        if (gb_str_has_prefix(buf, "error ")) {
                char *end;
                long code = strtol(buf + 6, &end, 10);
                if (end[0] == ':' && end[1] == ' ')
                        return gb_error_set(err, code > 0 && code < 4096 ? (int)code : EIO, "%s", end + 2);
        }
        return gb_error_set(err, EIO, "Failed to start the container's monitor '%s'%s", monitor_path,
                            buf[0] ? "" : ": it exited without a word (is it installed next to ghostbox?)");
}
