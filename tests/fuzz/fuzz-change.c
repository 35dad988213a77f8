/* `--change` instructions come from the command line and from the API
 * (POST /commit?changes=, import): applying one must never crash, and an
 * accepted one leaves a config that serialises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), *text;
        json_t *cfg = json_pack("{s:[s]}", "Env", "PATH=/bin");
        struct gb_error err = {0};

        if (!s || !cfg) {
                free(s);
                json_decref(cfg);
                return 0;
        }
        memcpy(s, data, size);
        s[size] = '\0';
        if (gb_image_change_apply(cfg, s, &err) == 0) {
                text = json_dumps(cfg, JSON_COMPACT);
                if (!text || !json_is_object(cfg))
                        abort();
                free(text);
        } else if (!err.msg[0]) {
                abort(); /* a refusal must say why */
        }
        json_decref(cfg);
        free(s);
        return 0;
}
