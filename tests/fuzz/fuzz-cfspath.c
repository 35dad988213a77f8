/* The path= query parameter of /containers/{id}/archive comes from remote
 * clients: splitting it must never crash or leak, and what comes out must
 * be clean relative names (no "..", no leading or doubled "/", no "."
 * component): the kernel's RESOLVE_IN_ROOT is the real fence, this keeps
 * the names we build tars from sane. The stat header is built too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const char *s)
{
        const char *p = s;

        if (s[0] == '/')
                abort();
        while (*p) {
                const char *c = p;
                size_t n;
                while (*p && *p != '/')
                        p++;
                n = (size_t)(p - c);
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        abort();
                if (*p)
                        p++;
                if (*p == '\0' && p[-1] == '/')
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_cfs_path p;
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (gb_cfs_path_parse(s, &p) == 0) {
                struct gb_cfs_stat st = {.name = p.name,
                                         .size = (int64_t)size,
                                         .mode = S_IFDIR | 0755,
                                         .mtime_sec = (int64_t)size * 1000003,
                                         .link_target = s};
                char *h;

                check_clean(p.dir);
                if (strchr(p.leaf, '/') || !strcmp(p.leaf, ".") || !strcmp(p.leaf, ".."))
                        abort();
                if (strcmp(p.name, ".") != 0)
                        check_clean(p.name);
                h = gb_cfs_stat_header(&st);
                free(h);
                gb_cfs_path_done(&p);
        }
        free(s);
        return 0;
}
