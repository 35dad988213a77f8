/* Image metadata parsers: docker save's manifest.json, OCI index and image
 * manifest, image config, and image references. Every parser gets every
 * input: the formats overlap and the store tries more than one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gb_docker_manifest *dm = NULL;
        struct gb_oci_index *idx = NULL;
        struct gb_oci_manifest *om = NULL;
        struct gb_image_config *c = NULL;
        struct gb_error err = {0};
        char *ref = NULL, *s;

        if (gb_docker_manifest_parse((const char *)data, size, &dm, &err) == 0)
                gb_docker_manifest_free(dm);
        if (gb_oci_index_parse((const char *)data, size, &idx, &err) == 0)
                gb_oci_index_free(idx);
        if (gb_oci_manifest_parse((const char *)data, size, &om, &err) == 0)
                gb_oci_manifest_free(om);
        if (gb_image_config_parse((const char *)data, size, &c, &err) == 0)
                gb_image_config_free(c);
        if (size < 512) {
                s = malloc(size + 1);
                if (!s)
                        return 0;
                memcpy(s, data, size);
                s[size] = '\0';
                if (gb_image_ref_normalize(s, &ref, &err) == 0)
                        free(ref);
                free(s);
        }
        return 0;
}
