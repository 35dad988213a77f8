/* ghostbox inspect: the container records as Docker prints them (a JSON
 * array), or one rendered --format per container. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "util.h"

int cmd_inspect(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"format", required_argument, NULL, 'f'},
                {"type", required_argument, NULL, 'T'},
                {"help", no_argument, NULL, 'H'},
                {},
        };
        struct gb_engine e = {0};
        const char *format = NULL;
        json_t *all = json_array();
        int c, rc = 0;

        while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        format = optarg;
                        break;
                case 'T':
                        if (strcmp(optarg, "container") != 0) {
                                cli_errorf("inspect --type %s: only containers can be inspected here", optarg);
                                json_decref(all);
                                return EXIT_ENGINE;
                        }
                        break;
                case 'H':
                        printf("Usage: ghostbox inspect [-f json|TEMPLATE] CONTAINER [CONTAINER...]\n\nShow "
                               "containers as Docker does, e.g. -f '{{.State.Pid}}' or '{{.HostConfig.UsernsMode}}'.\n"
                               "Ghostbox.UidMap and Ghostbox.GidMap hold the container's ID maps.\n");
                        json_decref(all);
                        return 0;
                default:
                        json_decref(all);
                        return EXIT_ENGINE;
                }
        }
        if (optind >= argc) {
                cli_errorf("\"ghostbox inspect\" requires at least 1 argument.");
                json_decref(all);
                return EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0) {
                json_decref(all);
                return EXIT_ENGINE;
        }
        for (int i = optind; i < argc; i++) {
                _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                struct gb_error err = {0};

                if (gb_container_lookup(e.cfg.data_root, argv[i], true, &ct, &err) < 0) {
                        cli_errorf("Error: %s", err.msg);
                        rc = 1;
                        continue;
                }
                (void)gb_engine_refresh(&e, ct, NULL);
                if (format && strcmp(format, "json") != 0) {
                        const char *terr = NULL;
                        char *s = gb_template_render(format, ct->doc, &terr);
                        if (!s) {
                                cli_errorf("template parsing error: %s", terr);
                                rc = EXIT_ENGINE;
                                break;
                        }
                        printf("%s\n", s);
                        free(s);
                } else
                        json_array_append(all, ct->doc);
        }
        if (!format || strcmp(format, "json") == 0) {
                char *s = json_dumps(all, JSON_INDENT(4));
                printf("%s\n", s);
                free(s);
        }
        json_decref(all);
        gb_engine_close(&e);
        return rc;
}
