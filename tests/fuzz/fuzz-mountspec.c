/* -v and --mount values come straight from users (and, through the Engine
 * API, from remote clients): parsing must never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mountspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_mount_req m = {0};
        char *s = malloc(size + 1);

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (gb_mountspec_parse_volume(s, &m, NULL) == 0) {
                if (!m.target || m.target[0] != '/')
                        abort();
                gb_mount_req_clear(&m);
        }
        if (gb_mountspec_parse_mount(s, &m, NULL) == 0) {
                if (!m.target || m.target[0] != '/')
                        abort();
                gb_mount_req_clear(&m);
        }
        free(s);
        return 0;
}
