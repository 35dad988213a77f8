/* run: create + start in one go; without --detach, wait for the container,
 * forward signals to it, exit with its exit code and delete it. */
#include <signal.h>
#include <unistd.h>

#include "create.h"

int rt_run(struct rt_ctx *ctx, int argc, char **argv)
{
        struct rt_create_opts o;
        struct rt_created c;
        sigset_t fwd;
        int r = rt_parse_create_opts(argc, argv, true, &o, ctx);

        if (r)
                return r;
        /* Blocked before the container exists so no signal is lost; the
         * sandbox unblocks them in the container's init. */
        if (!o.detach)
                rt_block_signals(&fwd);
        r = rt_create_container(ctx, &o, true, &c);
        if (r)
                return r;
        if (o.detach) {
                close(c.pidfd);
                return 0;
        }
        r = rt_wait_forward(c.pidfd, &fwd);
        close(c.pidfd);
        if (!o.keep)
                (void)rt_state_remove(ctx, o.id);
        return r;
}
