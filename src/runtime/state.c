/* state: the OCI state of one container as JSON. */
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

int rt_state(struct rt_ctx *ctx, int argc, char **argv)
{
        struct rt_state st = {.dirfd = -EBADF};
        struct gb_error err = {0};
        json_t *o;
        char *s;

        if (argc != 2)
                return rt_error(ctx, "state: expected exactly one container ID");
        if (rt_state_load(ctx, argv[1], false, &st, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        o = rt_state_json(ctx, &st);
        s = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(o);
        rt_state_done(&st);
        return 0;
}
