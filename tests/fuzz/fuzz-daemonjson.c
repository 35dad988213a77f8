/* Fuzz the daemon.json loader: any bytes must give a config or an error
 * naming the file, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_config c = {0};
        struct gb_error err = {0};

        if (gb_config_parse("fuzz.json", (const char *)data, size, &c, &err) < 0) {
                if (!strstr(err.msg, "fuzz.json"))
                        abort();
                return 0;
        }
        if (!c.userns_remap || !c.data_root || c.data_root[0] != '/' || !c.exec_root || c.exec_root[0] != '/' ||
            !c.hosts)
                abort();
        (void)gb_storage_shift_to_string(c.storage_shift);
        gb_config_done(&c);
        return 0;
}
