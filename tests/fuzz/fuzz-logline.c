/* A json-file log line may be truncated or damaged on disk: parsing must
 * never crash, and a parsed entry must be internally consistent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_log_entry e = {0};

        if (gb_log_parse_line((const char *)data, size, &e) == 0) {
                if (e.text[e.len] != '\0' || (e.stream != GB_STREAM_STDOUT && e.stream != GB_STREAM_STDERR))
                        abort();
                gb_log_entry_clear(&e);
        }
        if (size >= 8) {
                enum gb_stream s;
                uint32_t len;
                (void)gb_stdcopy_parse_header(data, &s, &len);
        }
        return 0;
}
