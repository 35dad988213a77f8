/* -p and --expose values come from users, PortBindings and ExposedPorts
 * from remote API clients: parsing and planning must never crash or leak,
 * and whatever parses must plan and render. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *b = json_object(), *e = json_object(), *api, *ports;
        struct gb_port_map *m = NULL;
        size_t n = 0;
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        (void)gb_portspec_parse_publish(s, b, NULL);
        (void)gb_portspec_parse_expose(s, e, NULL);
        if (gb_portspec_plan(b, e, true, &m, &n, NULL) < 0)
                abort(); /* what the parsers made must always plan */
        for (size_t i = 0; i < n; i++)
                if (m[i].port == 0)
                        abort();
        ports = gb_portspec_ports_json(m, n, e);
        free(gb_portspec_ps_string(ports));
        json_decref(gb_portspec_api_list(ports));
        json_decref(ports);
        free(m);
        /* The same bytes as an API client's JSON. */
        api = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
        if (api) {
                if (gb_portspec_check_bindings(api, NULL) == 0 && gb_portspec_check_exposed(NULL, NULL) == 0) {
                        m = NULL;
                        if (gb_portspec_plan(api, api, true, &m, &n, NULL) == 0)
                                free(m);
                }
                (void)gb_portspec_check_exposed(api, NULL);
                json_decref(api);
        }
        json_decref(b);
        json_decref(e);
        free(s);
        return 0;
}
