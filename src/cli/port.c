/* ghostbox port: the published ports of a container, as `docker port`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "portspec.h"
#include "util.h"

int cmd_port(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        struct gb_engine e = {0};
        struct gb_error err = {0};
        const char *k;
        json_t *ports, *v;
        char want[16] = "";
        bool found = false;
        int rc = 0;

        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
                printf("Usage: ghostbox port CONTAINER [PRIVATE_PORT[/PROTO]]\n\n"
                       "List the port mappings of a container, or the host address of one port.\n");
                return 0;
        }
        if (argc < 2 || argc > 3) {
                cli_errorf("\"ghostbox port\" requires 1 or 2 arguments: CONTAINER [PRIVATE_PORT[/PROTO]]");
                return EXIT_ENGINE;
        }
        if (argc == 3) {
                uint16_t p;
                bool udp;
                if (gb_portspec_parse_key(argv[2], &p, &udp, &err) < 0) {
                        cli_errorf("Error: %s", err.msg);
                        return EXIT_ENGINE;
                }
                gb_portspec_key(want, p, udp);
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_container_lookup(e.cfg.data_root, argv[1], false, &ct, &err) < 0) {
                cli_errorf("Error: %s", err.msg);
                gb_engine_close(&e);
                return 1;
        }
        ports = json_object_get(json_object_get(ct->doc, "NetworkSettings"), "Ports");
        json_object_foreach (json_is_object(ports) ? ports : NULL, k, v) {
                json_t *b;
                size_t i;
                if (*want && strcmp(k, want) != 0)
                        continue;
                json_array_foreach (json_is_array(v) ? v : NULL, i, b) {
                        const char *ip = json_string_value(json_object_get(b, "HostIp")) ?: "";
                        const char *hp = json_string_value(json_object_get(b, "HostPort")) ?: "";
                        if (*want)
                                printf("%s:%s\n", ip, hp);
                        else
                                printf("%s -> %s:%s\n", k, ip, hp);
                        found = true;
                }
        }
        if (*want && !found) {
                cli_errorf("Error: No public port '%s' published for %s", want, argv[1]);
                rc = 1;
        }
        gb_engine_close(&e);
        return rc;
}
