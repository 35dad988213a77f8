/* ps [--format table|json] ID: the container's processes (host pids). */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "runtime.h"
#include "util.h"

int rt_container_pids(const struct rt_state *st, pid_t **ret, size_t *ret_n);

int rt_ps(struct rt_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {}};
        struct rt_state st = {.dirfd = -EBADF};
        struct gb_error err = {0};
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        bool json = false;
        int c;

        while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
                if (c == 'f')
                        json = !strcmp(optarg, "json");
                else
                        return 1;
        }
        if (optind >= argc)
                return rt_error(ctx, "ps: expected a container ID");
        if (rt_state_load(ctx, argv[optind], false, &st, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        if (!strcmp(rt_status(ctx, &st), "stopped") || st.pid <= 0) {
                if (json)
                        printf("[]\n");
                rt_state_done(&st);
                return 0;
        }
        (void)rt_container_pids(&st, &pids, &n);
        if (json) {
                printf("[");
                for (size_t i = 0; i < n; i++)
                        printf("%s%d", i ? "," : "", (int)pids[i]);
                printf("]\n");
        } else {
                printf("%-8s %s\n", "PID", "CMD");
                for (size_t i = 0; i < n; i++) {
                        char path[64];
                        _cleanup_free_ char *cmd = NULL;
                        size_t len = 0;
                        (void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pids[i]);
                        if (gb_read_file_at(AT_FDCWD, path, 4096, &cmd, &len) < 0)
                                continue;
                        for (size_t k = 0; k + 1 < len; k++)
                                if (!cmd[k])
                                        cmd[k] = ' ';
                        printf("%-8d %s\n", (int)pids[i], cmd);
                }
        }
        rt_state_done(&st);
        return 0;
}
