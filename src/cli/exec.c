/* ghostbox exec: run another process in a running container, Docker's
 * flags (-i -t -u -e -w -d). The process joins the container's namespaces
 * and root through the library's sandbox and is our child, so its exit
 * code is ours. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "sandbox.h"
#include "security.h"
#include "spec.h"
#include "syscalls.h"
#include "util.h"

static struct termios saved;
static bool saved_ok;

static void restore(void)
{
        if (saved_ok)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
}

static int recv_fd(int sock)
{
        char data[64], cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c;
        int fd;

        if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) < 0)
                return -1;
        c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_type != SCM_RIGHTS)
                return -1;
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

static volatile sig_atomic_t got_winch;

static void on_winch(int sig)
{
        (void)sig;
        got_winch = 1;
}

/* ghostboxd runs us with stdio on a socket, which has no window size: it
 * passes sizes (rows, cols: two big-endian uint16 per record, written
 * whole, so never split in a pipe) on the fd named by this variable, for
 * the Engine API's exec resize. The fd is the daemon's private FIFO. */
#define WINSIZE_FD_ENV "GHOSTBOX_EXEC_WINSIZE_FD"

static int winsize_fd(void)
{
        const char *v = getenv(WINSIZE_FD_ENV);
        uint32_t fd;

        if (!v || gb_parse_u32(v, &fd) < 0 || fd < 3 || fd > 1024 || fcntl((int)fd, F_GETFD) < 0)
                return -1;
        /* Not for the container's process (the sandbox closes stray fds
         * too, but a leak must not depend on that). */
        (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        (void)unsetenv(WINSIZE_FD_ENV);
        return (int)fd;
}

/* The newest complete record waiting on wfd, if any (never blocks). */
static bool read_winsize_record(int wfd, struct winsize *ws)
{
        struct pollfd p = {.fd = wfd, .events = POLLIN};
        uint8_t b[64];
        ssize_t n;

        if (wfd < 0 || poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
                return false;
        n = read(wfd, b, sizeof(b));
        if (n < 4)
                return false;
        size_t last = ((size_t)n / 4 - 1) * 4;
        *ws = (struct winsize){.ws_row = (unsigned short)(b[last] << 8 | b[last + 1]),
                               .ws_col = (unsigned short)(b[last + 2] << 8 | b[last + 3])};
        return true;
}

static void apply_winsize_records(int wfd, int master)
{
        struct winsize ws;

        if (read_winsize_record(wfd, &ws))
                (void)ioctl(master, TIOCSWINSZ, &ws);
}

/* Shuttle bytes between our terminal and the pty master until the process
 * exits (the master then reports EIO/EOF). wfd: window sizes from ghostboxd
 * (or -1); our own terminal's size changes arrive as SIGWINCH. */
static void proxy_pty(int master, bool with_stdin, int wfd)
{
        char buf[16384];
        struct winsize ws;

        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                struct termios raw = saved;
                saved_ok = true;
                atexit(restore);
                cfmakeraw(&raw);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                (void)ioctl(master, TIOCSWINSZ, &ws);
                (void)signal(SIGWINCH, on_winch);
        }
        for (;;) {
                struct pollfd p[3] = {{.fd = master, .events = POLLIN},
                                      {.fd = with_stdin ? STDIN_FILENO : -1, .events = POLLIN},
                                      {.fd = wfd, .events = POLLIN}};
                if (got_winch) {
                        got_winch = 0;
                        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                                (void)ioctl(master, TIOCSWINSZ, &ws);
                }
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[2].revents)
                        apply_winsize_records(wfd, master);
                if (p[1].revents) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0)
                                with_stdin = false;
                        else
                                (void)gb_write_all(master, buf, (size_t)n);
                }
                if (p[0].revents) {
                        ssize_t n = read(master, buf, sizeof(buf));
                        if (n <= 0)
                                break;
                        (void)gb_write_all(STDOUT_FILENO, buf, (size_t)n);
                }
        }
        restore();
}

int cmd_exec(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"interactive", no_argument, NULL, 'i'},   {"tty", no_argument, NULL, 't'},
                {"user", required_argument, NULL, 'u'},    {"env", required_argument, NULL, 'e'},
                {"workdir", required_argument, NULL, 'w'}, {"detach", no_argument, NULL, 'd'},
                {"help", no_argument, NULL, 'H'},          {},
        };
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_(gb_spec_freep) struct gb_spec *spec = NULL;
        _cleanup_strv_ char **env_add = NULL;
        _cleanup_close_ int pidfd = -EBADF, csock = -EBADF, psock = -EBADF, rootfd = -EBADF;
        _cleanup_free_ char *cfg = NULL;
        struct gb_spec_process proc = {0};
        struct gb_engine e = {0};
        struct gb_error err = {0};
        struct gb_sandbox sb = {.pidfd = -EBADF};
        struct gb_run_user u = {0};
        const char *user = NULL, *cwd = NULL;
        bool interactive = false, tty = false, detach = false;
        size_t n_env = 0;
        pid_t pid;
        int ch, r, code = EXIT_ENGINE, wfd = -1;

        while ((ch = getopt_long(argc, argv, "+itu:e:w:d", opts, NULL)) != -1) {
                switch (ch) {
                case 'i':
                        interactive = true;
                        break;
                case 't':
                        tty = true;
                        break;
                case 'u':
                        user = optarg;
                        break;
                case 'e':
                        if (!strchr(optarg, '=')) {
                                const char *v = getenv(optarg);
                                if (!v)
                                        break;
                                env_add = gb_xrealloc(env_add, (n_env + 2) * sizeof(char *));
                                env_add[n_env++] = gb_xasprintf("%s=%s", optarg, v);
                        } else {
                                env_add = gb_xrealloc(env_add, (n_env + 2) * sizeof(char *));
                                env_add[n_env++] = gb_xstrdup(optarg);
                        }
                        env_add[n_env] = NULL;
                        break;
                case 'w':
                        cwd = optarg;
                        break;
                case 'd':
                        detach = true;
                        break;
                case 'H':
                        printf("Usage: ghostbox exec [-i] [-t] [-u USER[:GROUP]] [-e KEY=VAL] [-w DIR] [-d] CONTAINER "
                               "COMMAND [ARG...]\n\nRun a command in a running container, as its remapped root by "
                               "default.\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (argc - optind < 2) {
                cli_errorf("\"ghostbox exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
                return EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_container_lookup(e.cfg.data_root, argv[optind], true, &c, &err) < 0) {
                cli_errorf("%s", err.msg);
                goto out;
        }
        (void)gb_engine_refresh(&e, c, NULL);
        if (strcmp(gb_container_status(c), "running") != 0 || !gb_engine_init_alive(c)) {
                cli_errorf("Container %s is not running", c->id);
                goto out;
        }
        cfg = gb_xasprintf("%s/config.json", c->dir);
        if (gb_spec_load_file(cfg, &spec, &err) < 0) {
                cli_errorf("%s", err.msg);
                goto out;
        }
        /* CVE-2019-5736: we are about to join the container; when its root
         * could write our binary (no user namespace), run from a sealed
         * copy first. The re-exec repeats this command. */
        if (gb_self_exe_needs_seal(spec->uid_map, spec->gid_map) && !gb_self_exe_is_sealed()) {
                (void)gb_self_exe_reexec_sealed(ctx->argv, environ, &err);
                cli_errorf("%s", err.msg);
                goto out;
        }
        gb_container_unlock(c);
        wfd = tty ? winsize_fd() : -1;

        /* The container's process, with the command line's changes. */
        proc = spec->process;
        proc.args = gb_xcalloc((size_t)(argc - optind), sizeof(char *));
        for (int i = optind + 1; i < argc; i++)
                proc.args[i - optind - 1] = gb_xstrdup(argv[i]);
        proc.env = gb_xcalloc(gb_strv_len(spec->process.env) + n_env + 1, sizeof(char *));
        for (size_t i = 0; spec->process.env[i]; i++)
                proc.env[i] = gb_xstrdup(spec->process.env[i]);
        for (size_t i = 0; i < n_env; i++)
                proc.env[gb_strv_len(proc.env)] = gb_xstrdup(env_add[i]);
        proc.cwd = gb_xstrdup(cwd ? cwd : spec->process.cwd);
        proc.additional_gids = NULL;
        proc.n_additional_gids = 0;
        proc.rlimits = spec->process.n_rlimits
                               ? memcpy(gb_xcalloc(spec->process.n_rlimits, sizeof(*proc.rlimits)),
                                        spec->process.rlimits, spec->process.n_rlimits * sizeof(*proc.rlimits))
                               : NULL;
        proc.terminal = tty;
        if (tty) {
                /* The first size goes in before the process runs: a
                 * resize after it starts races a command that reads its
                 * size at once (`stty size`, an editor's first screen). */
                struct winsize ws;
                if (read_winsize_record(wfd, &ws) || ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                        proc.console_height = ws.ws_row;
                        proc.console_width = ws.ws_col;
                }
        }
        if (user) {
                rootfd = open(spec->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0 || gb_runspec_resolve_user(rootfd, user, &u, &err) < 0) {
                        cli_errorf("%s", rootfd < 0 ? strerror(errno) : err.msg);
                        goto out_proc;
                }
                proc.uid = u.uid;
                proc.gid = u.gid;
                if (u.n_groups) {
                        proc.additional_gids = memcpy(gb_xcalloc(u.n_groups, sizeof(uint32_t)), u.groups,
                                                      u.n_groups * sizeof(uint32_t));
                        proc.n_additional_gids = u.n_groups;
                }
        } else if (spec->process.n_additional_gids) {
                proc.additional_gids =
                        memcpy(gb_xcalloc(spec->process.n_additional_gids, sizeof(uint32_t)),
                               spec->process.additional_gids, spec->process.n_additional_gids * sizeof(uint32_t));
                proc.n_additional_gids = spec->process.n_additional_gids;
        }
        if (!interactive && !tty) {
                /* Docker: without -i the process gets no stdin. */
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (devnull >= 0) {
                        (void)dup2(devnull, STDIN_FILENO);
                        close(devnull);
                }
        }
        if (tty) {
                int sv[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                        cli_errorf("Failed to create a socket: %s", strerror(errno));
                        goto out_proc;
                }
                csock = sv[0];
                psock = sv[1];
        }
        pid = (pid_t)json_integer_value(json_object_get(json_object_get(c->doc, "State"), "Pid"));
        pidfd = gb_pidfd_open(pid, 0);
        if (pidfd < 0 || !gb_engine_init_alive(c)) {
                cli_errorf("Container %s is not running", c->id);
                goto out_proc;
        }
        {
                struct gb_exec_opts eo = {
                        .init_pidfd = pidfd,
                        .init_pid = pid,
                        .spec = spec,
                        .process = &proc,
                        .label = "exec",
                        .console_socket_fd = csock,
                };
                r = gb_sandbox_exec(&eo, &sb, &err);
        }
        if (r < 0) {
                cli_errorf("%s", err.msg);
                if (strstr(err.msg, "not found in the container"))
                        code = err.code == ENOENT ? 127 : err.code == EACCES ? 126 : EXIT_ENGINE;
                goto out_proc;
        }
        if (detach) {
                code = 0;
                goto out_proc;
        }
        if (tty) {
                _cleanup_close_ int master = recv_fd(psock);
                if (master >= 0)
                        proxy_pty(master, interactive, wfd);
        }
        {
                int status;
                (void)signal(SIGINT, SIG_IGN);
                while (waitpid(sb.pid, &status, 0) < 0 && errno == EINTR)
                        ;
                code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
out_proc:
        if (sb.pidfd >= 0)
                close(sb.pidfd);
        gb_run_user_clear(&u);
        free(proc.cwd);
        gb_strv_free(proc.args);
        gb_strv_free(proc.env);
        free(proc.additional_gids);
        free(proc.rlimits);
out:
        gb_engine_close(&e);
        return code;
}
