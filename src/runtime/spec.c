/* spec: write a default config.json whose container runs in a user
 * namespace mapped to the remap range. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "runtime.h"
#include "util.h"

/* TODO(idmap): replace with the idmap module's remap resolver once branch
 * idmap lands. Until then: the first range of 'ghostremap' in file, else
 * 100000 + 65536 (the range Docker's documentation uses). */
static void remap_range(const char *file, uint32_t *base, uint32_t *size)
{
        _cleanup_fclose_ FILE *f = fopen(file, "re");
        char line[256];

        *base = 100000;
        *size = 65536;
        while (f && fgets(line, sizeof(line), f)) {
                unsigned long b, n;
                if (sscanf(line, "ghostremap:%lu:%lu", &b, &n) == 2 && n > 0 && b + n <= UINT32_MAX) {
                        *base = (uint32_t)b;
                        *size = (uint32_t)(n > 65536 ? 65536 : n);
                        return;
                }
        }
}

int rt_spec(struct rt_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"bundle", required_argument, NULL, 'b'}, {"rootless", no_argument, NULL, 'r'}, {}};
        const char *bundle = ".";
        _cleanup_free_ char *path = NULL;
        uint32_t ubase, usize, gbase, gsize;
        json_t *o;
        int c, r;

        while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
                if (c == 'b')
                        bundle = optarg;
                else if (c != 'r')
                        return 1;
        }
        path = gb_xasprintf("%s/config.json", bundle);
        if (access(path, F_OK) == 0)
                return rt_error(ctx, "File %s exists. Remove it first", path);
        remap_range("/etc/subuid", &ubase, &usize);
        remap_range("/etc/subgid", &gbase, &gsize);
        o = gb_spec_default_json(ubase, gbase, usize < gsize ? usize : gsize);
        {
                _cleanup_free_ char *s = json_dumps(o, JSON_INDENT(8));
                json_decref(o);
                r = gb_write_file_atomic(path, s, strlen(s), 0644);
        }
        if (r < 0)
                return rt_error(ctx, "Failed to write '%s': %s", path, strerror(-r));
        return 0;
}
