/* ghostbox ps: Docker's columns, -a, -q, --format json|TEMPLATE. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "portspec.h"
#include "util.h"

static char *command_text(json_t *doc)
{
        json_t *args = json_object_get(doc, "Args"), *v;
        const char *path = json_string_value(json_object_get(doc, "Path"));
        char *s = gb_xasprintf("%s", path ? path : "");
        size_t i;

        json_array_foreach (args, i, v) {
                char *n = gb_xasprintf("%s %s", s, json_string_value(v) ?: "");
                free(s);
                s = n;
        }
        if (strlen(s) > 20) {
                char *n = gb_xasprintf("\"%.19s…\"", s);
                free(s);
                return n;
        }
        char *n = gb_xasprintf("\"%s\"", s);
        free(s);
        return n;
}

/* The row Docker's `ps --format json` prints. */
static json_t *ps_row(json_t *doc)
{
        _cleanup_free_ char *cmd = command_text(doc), *status = cli_status_text(doc);
        _cleanup_free_ char *ago = cli_ago(json_string_value(json_object_get(doc, "Created")));
        const char *id = json_string_value(json_object_get(doc, "Id")) ?: "";
        const char *name = json_string_value(json_object_get(doc, "Name")) ?: "/";
        const char *state = json_string_value(json_object_get(json_object_get(doc, "State"), "Status")) ?: "";
        /* As Docker: the bound ports of a running container only. */
        _cleanup_free_ char *ports =
                strcmp(state, "running") == 0
                        ? gb_portspec_ps_string(json_object_get(json_object_get(doc, "NetworkSettings"), "Ports"))
                        : gb_xstrdup("");
        char short_id[13];

        snprintf(short_id, sizeof(short_id), "%.12s", id);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", short_id, "Image",
                         json_string_value(json_object_get(json_object_get(doc, "Config"), "Image")) ?: "", "Command",
                         cmd, "CreatedAt", json_string_value(json_object_get(doc, "Created")) ?: "", "RunningFor", ago,
                         "Status", status, "State",
                         json_string_value(json_object_get(json_object_get(doc, "State"), "Status")) ?: "", "Names",
                         name[0] == '/' ? name + 1 : name, "Ports", ports, "UsernsMode",
                         json_string_value(json_object_get(json_object_get(doc, "HostConfig"), "UsernsMode")) ?: "");
}

int cmd_ps(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"all", no_argument, NULL, 'a'},          {"quiet", no_argument, NULL, 'q'},
                {"format", required_argument, NULL, 'F'}, {"no-trunc", no_argument, NULL, 'N'},
                {"help", no_argument, NULL, 'H'},         {},
        };
        struct gb_engine e = {0};
        struct gb_error err = {0};
        _cleanup_strv_ char **ids = NULL;
        const char *format = NULL;
        bool all = false, quiet = false, no_trunc = false;
        int c;

        while ((c = getopt_long(argc, argv, "+aq", opts, NULL)) != -1) {
                switch (c) {
                case 'a':
                        all = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'F':
                        format = optarg;
                        break;
                case 'N':
                        no_trunc = true;
                        break;
                case 'H':
                        printf("Usage: ghostbox ps [-a] [-q] [--no-trunc] [--format json|TEMPLATE]\n\nList "
                               "containers (running ones unless -a).\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_container_list(e.cfg.data_root, &ids, &err) < 0) {
                cli_errorf("%s", err.msg);
                gb_engine_close(&e);
                return EXIT_ENGINE;
        }
        if (!quiet && !format)
                printf("%-12s   %-15s %-22s %-15s %-28s %-6s %s\n", "CONTAINER ID", "IMAGE", "COMMAND", "CREATED",
                       "STATUS", "PORTS", "NAMES");
        for (char **id = ids; *id; id++) {
                _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                json_t *row;

                if (gb_container_lookup(e.cfg.data_root, *id, true, &ct, NULL) < 0)
                        continue;
                (void)gb_engine_refresh(&e, ct, NULL);
                if (!all && strcmp(gb_container_status(ct), "running") != 0)
                        continue;
                if (quiet) {
                        printf("%.*s\n", no_trunc ? 64 : 12, ct->id);
                        continue;
                }
                row = ps_row(ct->doc);
                if (no_trunc)
                        json_object_set_new(row, "ID", json_string(ct->id));
                if (format && strcmp(format, "json") == 0) {
                        char *s = json_dumps(row, JSON_COMPACT);
                        printf("%s\n", s);
                        free(s);
                } else if (format) {
                        const char *terr = NULL;
                        char *s = gb_template_render(format, row, &terr);
                        if (!s) {
                                cli_errorf("invalid --format: %s", terr);
                                json_decref(row);
                                gb_engine_close(&e);
                                return EXIT_ENGINE;
                        }
                        printf("%s\n", s);
                        free(s);
                } else
                        printf("%-12s   %-15s %-22s %-15s %-28s %-6s %s\n",
                               json_string_value(json_object_get(row, "ID")),
                               json_string_value(json_object_get(row, "Image")),
                               json_string_value(json_object_get(row, "Command")),
                               json_string_value(json_object_get(row, "RunningFor")),
                               json_string_value(json_object_get(row, "Status")),
                               json_string_value(json_object_get(row, "Ports")),
                               json_string_value(json_object_get(row, "Names")));
                json_decref(row);
        }
        gb_engine_close(&e);
        return 0;
}
