/* list: every container under --root. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "runtime.h"

int rt_list(struct rt_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"format", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'}, {}};
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        bool json = false, quiet = false;
        json_t *arr = json_array();
        int c;

        while ((c = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
                if (c == 'f')
                        json = !strcmp(optarg, "json");
                else if (c == 'q')
                        quiet = true;
                else
                        return 1;
        }
        d = opendir(ctx->root);
        if (!quiet && !json)
                printf("%-20s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
        while (d && (de = readdir(d))) {
                struct rt_state st = {.dirfd = -EBADF};
                struct gb_error err = {0};
                if (de->d_name[0] == '.')
                        continue;
                if (rt_state_load(ctx, de->d_name, false, &st, &err) < 0)
                        continue;
                if (quiet) {
                        printf("%s\n", st.id);
                } else if (json) {
                        json_array_append_new(arr, rt_state_json(ctx, &st));
                } else {
                        const char *status = rt_status(ctx, &st);
                        printf("%-20s %-8d %-10s %-40s %-30s %s\n", st.id, strcmp(status, "stopped") ? st.pid : 0,
                               status, st.bundle ? st.bundle : "", st.created ? st.created : "", "root");
                }
                rt_state_done(&st);
        }
        if (json) {
                char *s = json_dumps(arr, JSON_COMPACT);
                printf("%s\n", s);
                free(s);
        }
        json_decref(arr);
        return 0;
}
