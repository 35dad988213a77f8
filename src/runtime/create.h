#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "runtime.h"

struct rt_create_opts {
        const char *id, *bundle, *pid_file, *console_socket;
        bool no_pivot, detach, keep;
        unsigned preserve_fds;
        int console_fd; /* -1, or a socket end the runtime reads the pty master from itself (run) */
};

struct rt_created {
        pid_t pid;
        int pidfd;
};

int rt_parse_create_opts(int argc, char **argv, bool is_run, struct rt_create_opts *o, struct rt_ctx *ctx);
/* exec_now: no exec FIFO, the process runs right away (run). */
int rt_create_container(struct rt_ctx *ctx, const struct rt_create_opts *o, bool exec_now, struct rt_created *ret);

/* Kill and reap a child we still own through its pidfd. */
void rt_kill_reap(int pidfd);
