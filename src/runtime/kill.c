/* kill [--all] ID [SIGNAL]: signal the init, or every process of the
 * container (those in its pid namespace). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "runtime.h"
#include "syscalls.h"
#include "util.h"

int rt_container_pids(const struct rt_state *st, pid_t **ret, size_t *ret_n);

/* Processes whose pid namespace is the init's (when the container has its
 * own), else the init alone. */
int rt_container_pids(const struct rt_state *st, pid_t **ret, size_t *ret_n)
{
        char path[64];
        struct stat ns, self, p;
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        pid_t *v = gb_xcalloc(1, sizeof(pid_t));
        size_t n = 0;

        v[n++] = st->pid;
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)st->pid);
        if (stat(path, &ns) < 0 || stat("/proc/self/ns/pid", &self) < 0 || ns.st_ino == self.st_ino)
                goto done;
        d = opendir("/proc");
        while (d && (de = readdir(d))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0 || pid == st->pid)
                        continue;
                (void)snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
                if (stat(path, &p) == 0 && p.st_ino == ns.st_ino && p.st_dev == ns.st_dev) {
                        v = gb_xrealloc(v, (n + 1) * sizeof(pid_t));
                        v[n++] = (pid_t)pid;
                }
        }
done:
        *ret = v;
        *ret_n = n;
        return 0;
}

int rt_kill(struct rt_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {}};
        struct rt_state st = {.dirfd = -EBADF};
        struct gb_error err = {0};
        const char *status;
        bool all = false;
        int c, sig = SIGTERM, r = 0;

        while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
                if (c == 'a')
                        all = true;
                else
                        return 1;
        }
        if (optind >= argc || argc - optind > 2)
                return rt_error(ctx, "kill: expected ID [SIGNAL]");
        if (argc - optind == 2) {
                sig = gb_parse_signal(argv[optind + 1]);
                if (sig < 0)
                        return rt_error(ctx, "unknown signal '%s'", argv[optind + 1]);
        }
        if (rt_state_load(ctx, argv[optind], false, &st, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        status = rt_status(ctx, &st);
        if (!strcmp(status, "stopped") || !strcmp(status, "creating")) {
                r = rt_error(ctx, "container not running: %s", argv[optind]);
                rt_state_done(&st);
                return r;
        }
        {
                _cleanup_close_ int pidfd = gb_pidfd_open(st.pid, 0);
                if (pidfd < 0 || gb_pidfd_send_signal(pidfd, sig, NULL, 0) < 0)
                        r = rt_error(ctx, "Failed to send signal %d to %d: %s", sig, (int)st.pid, strerror(errno));
        }
        if (all && !r) {
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;
                (void)rt_container_pids(&st, &pids, &n);
                for (size_t i = 1; i < n; i++)
                        (void)kill(pids[i], sig);
        }
        rt_state_done(&st);
        return r;
}
