/* Fuzz the /etc/subuid parser and everything built from its output: the map
 * for each owner (as resolving a remap does) and its kernel formatting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_subid_file f = {0};
        struct gb_error err = {0};

        if (gb_subid_parse("fuzz", (const char *)data, size, &f, &err) < 0) {
                /* A failure always says where. */
                if (!strstr(err.msg, "line "))
                        abort();
                return 0;
        }
        for (size_t i = 0; i < f.n && i < 8; i++) {
                struct gb_idmap m;
                char **warnings = NULL;
                char buf[GB_IDMAP_MAX * 34 + 1];
                uint32_t h, c;

                if (f.e[i].count == 0 || (uint64_t)f.e[i].start + f.e[i].count > UINT32_MAX)
                        abort(); /* the parser promised */
                (void)gb_idmap_from_ranges(f.e, f.n, "fuzz", 1 + i * 50, &m, &warnings);
                if (gb_idmap_format(&m, buf, sizeof(buf)) < 0)
                        abort();
                /* Round trip through the kernel format. */
                {
                        struct gb_idmap back;
                        if (m.n && (gb_idmap_parse(buf, &back, &err) < 0 || !gb_idmap_equal(&m, &back)))
                                abort();
                }
                if (m.n && gb_idmap_to_host(&m, 0, &h) == 0 && (gb_idmap_to_container(&m, h, &c) < 0 || c != 0))
                        abort();
                for (char **w = warnings; w && *w; w++)
                        free(*w);
                free(warnings);
        }
        gb_subid_file_done(&f);
        return 0;
}
