/* delete [--force] ID: remove a stopped (or created) container; --force
 * kills a running one first and also removes a half-created one. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "runtime.h"
#include "syscalls.h"

int rt_container_pids(const struct rt_state *st, pid_t **ret, size_t *ret_n);

static void kill_and_wait(const struct rt_state *st)
{
        _cleanup_close_ int pidfd = gb_pidfd_open(st->pid, 0);
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        (void)rt_container_pids(st, &pids, &n);
        for (size_t i = 0; i < n; i++)
                (void)kill(pids[i], SIGKILL);
        if (pidfd >= 0) {
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                /* Its mounts go with its mount namespace when it is gone. */
                (void)poll(&p, 1, 10000);
        }
}

/* A "creating" container has no recorded pid: its create was killed after
 * the init was set up. Such an init waits on exec.fifo, holding an fd of it:
 * find it by that fd and kill it, so nothing is left behind. */
static void kill_fifo_holders(struct rt_ctx *ctx, const char *id)
{
        _cleanup_free_ char *fifo = rt_container_path(ctx, id, "exec.fifo");
        _cleanup_(gb_closedirp) DIR *proc = opendir("/proc");
        struct dirent *de;

        while (proc && (de = readdir(proc))) {
                char path[300], link[PATH_MAX];
                _cleanup_(gb_closedirp) DIR *fds = NULL;
                struct dirent *fe;
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                if (snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name) >= (int)sizeof(path))
                        continue;
                fds = opendir(path);
                while (fds && (fe = readdir(fds))) {
                        char fp[600];
                        ssize_t n;
                        if (snprintf(fp, sizeof(fp), "%s/%s", path, fe->d_name) >= (int)sizeof(fp))
                                continue;
                        n = readlink(fp, link, sizeof(link) - 1);
                        if (n <= 0)
                                continue;
                        link[n] = 0;
                        if (!strcmp(link, fifo)) {
                                (void)kill(atoi(de->d_name), SIGKILL);
                                break;
                        }
                }
        }
}

int rt_delete(struct rt_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {}};
        struct rt_state st = {.dirfd = -EBADF};
        struct gb_error err = {0};
        const char *status;
        bool force = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
                if (c == 'f')
                        force = true;
                else
                        return 1;
        }
        if (optind != argc - 1)
                return rt_error(ctx, "delete: expected exactly one container ID");
        r = rt_state_load(ctx, argv[optind], true, &st, &err);
        if (r < 0) {
                /* runc: deleting a missing container with --force succeeds. */
                if (force && r == -ENOENT)
                        return 0;
                return rt_error(ctx, "%s", err.msg);
        }
        status = rt_status(ctx, &st);
        if (!strcmp(status, "running") && !force) {
                r = rt_error(ctx, "cannot delete container %s that is not stopped: running", argv[optind]);
                rt_state_done(&st);
                return r;
        }
        if (!strcmp(status, "creating") && !force) {
                r = rt_error(ctx, "container %s is being created; use --force to remove it", argv[optind]);
                rt_state_done(&st);
                return r;
        }
        if (!strcmp(status, "running") || !strcmp(status, "created"))
                kill_and_wait(&st);
        if (!strcmp(status, "creating"))
                kill_fifo_holders(ctx, argv[optind]);
        r = rt_state_remove(ctx, argv[optind]);
        rt_state_done(&st);
        if (r < 0)
                return rt_error(ctx, "Failed to remove the state of %s: %s", argv[optind], strerror(-r));
        return 0;
}
