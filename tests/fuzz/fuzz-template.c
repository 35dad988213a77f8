/* --format templates come from users (and scripts): rendering must never
 * crash, whatever the template. The first line is the template, the rest a
 * JSON document to render against. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nl = memchr(data, '\n', size);
        size_t tlen = nl ? (size_t)(nl - (const char *)data) : size;
        char *tmpl = malloc(tlen + 1), *out;
        const char *err = NULL;
        json_t *doc = NULL;

        if (!tmpl)
                return 0;
        memcpy(tmpl, data, tlen);
        tmpl[tlen] = '\0';
        if (nl)
                doc = json_loadb(nl + 1, size - tlen - 1, 0, NULL);
        if (!doc)
                doc = json_pack("{s:{s:i, s:s}, s:[i,i]}", "State", "Pid", 42, "Status", "running", "List", 1, 2);
        out = gb_template_render(tmpl, doc, &err);
        if (!out && !err)
                abort();
        free(out);
        json_decref(doc);
        free(tmpl);
        return 0;
}
