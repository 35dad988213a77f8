/* create: set up the container; its init waits on <root>/<id>/exec.fifo
 * until start. run shares this with exec_now set. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "create.h"
#include "sandbox.h"
#include "syscalls.h"
#include "util.h"

static char *now_rfc3339(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[64];
        size_t n;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        (void)snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
        return gb_xstrdup(buf);
}

void rt_kill_reap(int pidfd)
{
        siginfo_t si;

        (void)gb_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        (void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
}

int rt_parse_create_opts(int argc, char **argv, bool is_run, struct rt_create_opts *o, struct rt_ctx *ctx)
{
        static const struct option opts[] = {
                {"bundle", required_argument, NULL, 'b'},
                {"pid-file", required_argument, NULL, 'p'},
                {"console-socket", required_argument, NULL, 'c'},
                {"no-pivot", no_argument, NULL, 'P'},
                {"no-new-keyring", no_argument, NULL, 'K'},
                {"preserve-fds", required_argument, NULL, 'F'},
                {"detach", no_argument, NULL, 'd'},
                {"keep", no_argument, NULL, 'k'},
                {"no-subreaper", no_argument, NULL, 'S'},
                {},
        };
        int c;

        memset(o, 0, sizeof(*o));
        o->bundle = ".";
        o->console_fd = -1;
        while ((c = getopt_long(argc, argv, is_run ? "+b:d" : "+b:", opts, NULL)) != -1) {
                switch (c) {
                case 'b':
                        o->bundle = optarg;
                        break;
                case 'p':
                        o->pid_file = optarg;
                        break;
                case 'c':
                        o->console_socket = optarg;
                        break;
                case 'P':
                        o->no_pivot = true;
                        break;
                case 'K':
                case 'S':
                        break;
                case 'F': {
                        uint32_t n;
                        if (gb_parse_u32(optarg, &n) < 0 || n > 65536)
                                return rt_error(ctx, "--preserve-fds: expected a number, not '%s'", optarg);
                        o->preserve_fds = n;
                        break;
                }
                case 'd':
                        if (!is_run)
                                return rt_error(ctx, "--detach is an option of run");
                        o->detach = true;
                        break;
                case 'k':
                        o->keep = true;
                        break;
                default:
                        return 1;
                }
        }
        if (optind != argc - 1)
                return rt_error(ctx, "%s: expected exactly one container ID", is_run ? "run" : "create");
        o->id = argv[optind];
        return 0;
}

int rt_create_container(struct rt_ctx *ctx, const struct rt_create_opts *o, bool exec_now, struct rt_created *ret)
{
        _cleanup_(gb_spec_freep) struct gb_spec *spec = NULL;
        _cleanup_free_ char *bundle = NULL, *cfg = NULL, *rootfs = NULL, *dir = NULL, *fifo = NULL, *raw = NULL;
        _cleanup_close_ int fifo_fd = -EBADF, console = -EBADF;
        struct gb_error err = {0};
        struct gb_sandbox sb = {.pidfd = -EBADF};
        struct rt_state st = {.dirfd = -EBADF};
        size_t raw_len = 0;
        json_t *config = NULL;
        bool made_dir = false;
        int r;

        if (rt_check_id(o->id, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        bundle = realpath(o->bundle, NULL);
        if (!bundle)
                return rt_error(ctx, "Failed to find the bundle '%s': %s", o->bundle, strerror(errno));
        cfg = gb_xasprintf("%s/config.json", bundle);
        r = gb_read_file_at(AT_FDCWD, cfg, 16 << 20, &raw, &raw_len);
        if (r < 0)
                return rt_error(ctx, "Failed to read '%s': %s", cfg, strerror(-r));
        {
                json_error_t je;
                config = json_loadb(raw, raw_len, JSON_REJECT_DUPLICATES, &je);
                if (!config)
                        return rt_error(ctx, "config.json: line %d column %d: %s", je.line, je.column, je.text);
        }
        if (gb_spec_from_json(config, "config.json", &spec, &err) < 0) {
                json_decref(config);
                return rt_error(ctx, "%s", err.msg);
        }
        /* CVE-2019-5736: may re-exec this command from a sealed copy. */
        if (rt_protect_exe(ctx, spec, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        rootfs = spec->root_path[0] == '/' ? gb_xstrdup(spec->root_path)
                                           : gb_xasprintf("%s/%s", bundle, spec->root_path);
        {
                char *real = realpath(rootfs, NULL);
                if (!real)
                        return rt_error(ctx, "root.path: Failed to find the rootfs '%s': %s", rootfs, strerror(errno));
                free(rootfs);
                rootfs = real;
        }
        if (o->console_socket && rt_connect_console(o->console_socket, &console, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        if (!o->console_socket && o->console_fd >= 0 && spec->process.terminal) {
                struct winsize ws;
                console = fcntl(o->console_fd, F_DUPFD_CLOEXEC, 3);
                if (console < 0)
                        return rt_error(ctx, "Failed to dup the console socket: %s", strerror(errno));
                /* run proxies the pty: the process starts with our terminal's
                 * size unless the config sets one. */
                if (!spec->process.console_height && !spec->process.console_width &&
                    ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
                        spec->process.console_height = ws.ws_row;
                        spec->process.console_width = ws.ws_col;
                }
        }
        if (spec->process.terminal && console < 0)
                return rt_error(ctx, "process.terminal is true: pass --console-socket (only run without "
                                     "--detach proxies a terminal itself)");

        r = gb_mkdir_p(ctx->root, 0700);
        if (r < 0)
                return rt_error(ctx, "Failed to create the state root '%s': %s", ctx->root, strerror(-r));
        dir = rt_container_path(ctx, o->id, NULL);
        if (mkdir(dir, 0700) < 0) {
                if (errno == EEXIST)
                        return rt_error(ctx, "container with id exists: %s", o->id);
                return rt_error(ctx, "Failed to create '%s': %s", dir, strerror(errno));
        }
        made_dir = true;
        st.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st.dirfd < 0) {
                r = rt_error(ctx, "Failed to open '%s': %s", dir, strerror(errno));
                goto fail;
        }
        if (!exec_now) {
                fifo = rt_container_path(ctx, o->id, "exec.fifo");
                /* 0622: the init writes it after becoming the container's
                 * (unprivileged) user. */
                if (mkfifo(fifo, 0622) < 0 || chmod(fifo, 0622) < 0) {
                        r = rt_error(ctx, "Failed to create the exec FIFO '%s': %s", fifo, strerror(errno));
                        goto fail;
                }
                fifo_fd = open(fifo, O_PATH | O_CLOEXEC);
                if (fifo_fd < 0) {
                        r = rt_error(ctx, "Failed to open '%s': %s", fifo, strerror(errno));
                        goto fail;
                }
        }
        {
                struct gb_sandbox_opts so = {
                        .spec = spec,
                        .rootfs = rootfs,
                        .label = "config.json",
                        .no_pivot = o->no_pivot,
                        .exec_fifo_fd = fifo_fd,
                        .console_socket_fd = console,
                        .preserve_fds = o->preserve_fds,
                };
                r = gb_sandbox_create(&so, &sb, &err);
                if (r < 0) {
                        r = rt_error(ctx, "%s", err.msg);
                        goto fail;
                }
        }
        st.id = gb_xstrdup(o->id);
        st.pid = sb.pid;
        st.start_time = rt_pid_start_time(sb.pid);
        st.bundle = TAKE_PTR(bundle);
        st.rootfs = TAKE_PTR(rootfs);
        st.created = now_rfc3339();
        st.annotations = spec->annotations ? json_incref(spec->annotations) : NULL;
        st.config = TAKE_PTR(config);
        if (rt_state_save(ctx, &st, &err) < 0 || (o->pid_file && rt_write_pid_file(o->pid_file, sb.pid, &err) < 0)) {
                r = rt_error(ctx, "%s", err.msg);
                goto fail;
        }
        ret->pid = sb.pid;
        ret->pidfd = sb.pidfd;
        rt_state_done(&st);
        return 0;
fail:
        if (sb.pidfd >= 0) {
                rt_kill_reap(sb.pidfd);
                close(sb.pidfd);
        }
        rt_state_done(&st);
        json_decref(config);
        if (made_dir)
                (void)rt_state_remove(ctx, o->id);
        return r ? r : 1;
}

int rt_create(struct rt_ctx *ctx, int argc, char **argv)
{
        struct rt_create_opts o;
        struct rt_created c;
        int r = rt_parse_create_opts(argc, argv, false, &o, ctx);

        if (r)
                return r;
        r = rt_create_container(ctx, &o, false, &c);
        if (r)
                return r;
        close(c.pidfd);
        return 0;
}
