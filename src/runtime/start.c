/* start: release the init of a created container. */
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "runtime.h"
#include "sandbox.h"

int rt_start(struct rt_ctx *ctx, int argc, char **argv)
{
        struct rt_state st = {.dirfd = -EBADF};
        struct gb_error err = {0};
        _cleanup_free_ char *fifo = NULL;
        const char *status;
        int r;

        if (argc != 2)
                return rt_error(ctx, "start: expected exactly one container ID");
        if (rt_state_load(ctx, argv[1], true, &st, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        status = rt_status(ctx, &st);
        if (strcmp(status, "created")) {
                r = rt_error(ctx, "cannot start a container that is %s: %s", status, argv[1]);
                rt_state_done(&st);
                return r;
        }
        fifo = rt_container_path(ctx, argv[1], "exec.fifo");
        r = gb_sandbox_start(fifo, &err);
        (void)unlinkat(st.dirfd, "exec.fifo", 0);
        rt_state_done(&st);
        if (r < 0)
                return rt_error(ctx, "%s", err.msg);
        return 0;
}
