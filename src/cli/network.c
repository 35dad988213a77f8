/* ghostbox network create|ls|inspect|rm|prune. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "engine.h"
#include "network.h"
#include "util.h"

static void usage(FILE *f)
{
        fprintf(f, "Usage: ghostbox network COMMAND\n\n"
                   "Bridge networks: containers on the same network reach each other by address,\n"
                   "name and alias; networks are isolated from each other and from the outside\n"
                   "(no NAT, no published ports; see docs/network.md).\n\n"
                   "Commands:\n"
                   "  create [--subnet CIDR] [--gateway IP] [--label K=V] [-d bridge] NAME\n"
                   "  ls [-q]                        list networks\n"
                   "  inspect NAME...                show networks as JSON\n"
                   "  rm NAME...                     remove networks no container is on\n"
                   "  prune                          remove every unused user-defined network\n"
                   "  connect [--alias A] [--ip IP] NETWORK CONTAINER\n"
                   "                                 add a network to a container (eth1, ...)\n"
                   "  disconnect NETWORK CONTAINER   remove it again\n");
}

static int net_create(struct gb_engine *e, int argc, char **argv)
{
        static const struct option opts[] = {{"subnet", required_argument, NULL, 's'},
                                             {"gateway", required_argument, NULL, 'g'},
                                             {"label", required_argument, NULL, 'l'},
                                             {"driver", required_argument, NULL, 'd'},
                                             {}};
        const char *subnet = NULL, *gateway = NULL;
        json_auto_t *labels = json_object(), *rec = NULL;
        struct gb_error err = {0};
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+d:", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        subnet = optarg;
                        break;
                case 'g':
                        gateway = optarg;
                        break;
                case 'l': {
                        char *eq = strchr(optarg, '=');
                        _cleanup_free_ char *k = eq ? strndup(optarg, (size_t)(eq - optarg)) : gb_xstrdup(optarg);
                        json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
                        break;
                }
                case 'd':
                        if (strcmp(optarg, "bridge") != 0) {
                                cli_errorf("plugin \"%s\" not found: ghostbox has the bridge driver only", optarg);
                                return 1;
                        }
                        break;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (optind + 1 != argc) {
                cli_errorf("\"network create\" requires exactly 1 argument: NAME");
                return EXIT_ENGINE;
        }
        if (gb_network_create(e->cfg.data_root, argv[optind], subnet, gateway, labels, &rec, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        printf("%s\n", json_string_value(json_object_get(rec, "Id")));
        return 0;
}

static int net_ls(struct gb_engine *e, int argc, char **argv)
{
        json_auto_t *all = NULL;
        struct gb_error err = {0};
        bool quiet = argc > 1 && (strcmp(argv[1], "-q") == 0 || strcmp(argv[1], "--quiet") == 0);
        json_t *n;
        size_t i;

        if (gb_network_list(e->cfg.data_root, &all, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        if (!quiet)
                printf("%-14s %-24s %-8s %-18s %s\n", "NETWORK ID", "NAME", "DRIVER", "SUBNET", "SCOPE");
        json_array_foreach (all, i, n) {
                const char *id = json_string_value(json_object_get(n, "Id"));
                if (quiet)
                        printf("%.12s\n", id);
                else
                        printf("%-14.12s %-24s %-8s %-18s local\n", id, json_string_value(json_object_get(n, "Name")),
                               "bridge", json_string_value(json_object_get(n, "Subnet")));
        }
        return 0;
}

static int net_inspect(struct gb_engine *e, int argc, char **argv)
{
        json_auto_t *out = json_array();
        int rc = 0;

        for (int i = 1; i < argc; i++) {
                struct gb_error err = {0};
                json_t *n = NULL;
                if (gb_network_find(e->cfg.data_root, argv[i], &n, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        rc = 1;
                        continue;
                }
                json_array_append_new(out, n);
        }
        _cleanup_free_ char *text = json_dumps(out, JSON_INDENT(4));
        printf("%s\n", text);
        return rc;
}

static int net_rm(struct gb_engine *e, int argc, char **argv)
{
        int rc = 0;

        for (int i = 1; i < argc; i++) {
                struct gb_error err = {0};
                if (gb_network_remove(e->cfg.data_root, e->cfg.exec_root, argv[i], &err) < 0) {
                        cli_errorf("%s", err.msg);
                        rc = 1;
                } else
                        printf("%s\n", argv[i]);
        }
        return rc;
}

static int net_connect(struct gb_engine *e, int argc, char **argv, bool connect)
{
        static const struct option opts[] = {{"alias", required_argument, NULL, 'a'},
                                             {"ip", required_argument, NULL, 'i'},
                                             {"force", no_argument, NULL, 'f'},
                                             {}};
        _cleanup_strv_ char **aliases = NULL;
        const char *ip = NULL;
        struct gb_error err = {0};
        size_t n = 0;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
                if (c == 'a') {
                        aliases = gb_xrealloc(aliases, (n + 2) * sizeof(char *));
                        aliases[n++] = gb_xstrdup(optarg);
                        aliases[n] = NULL;
                } else if (c == 'i')
                        ip = optarg;
                else if (c != 'f')
                        return EXIT_ENGINE;
        }
        if (optind + 2 != argc) {
                cli_errorf("\"network %s\" requires exactly 2 arguments: NETWORK CONTAINER",
                           connect ? "connect" : "disconnect");
                return EXIT_ENGINE;
        }
        r = connect ? gb_engine_network_connect(e, argv[optind + 1], argv[optind], aliases, ip, &err)
                    : gb_engine_network_disconnect(e, argv[optind + 1], argv[optind], &err);
        if (r < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        return 0;
}

static int net_prune(struct gb_engine *e)
{
        json_auto_t *all = NULL;
        struct gb_error err = {0};
        json_t *n;
        size_t i;

        if (gb_network_list(e->cfg.data_root, &all, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        json_array_foreach (all, i, n) {
                const char *name = json_string_value(json_object_get(n, "Name"));
                if (strcmp(name, GB_NETWORK_DEFAULT) == 0 || json_object_size(json_object_get(n, "Endpoints")))
                        continue;
                if (gb_network_remove(e->cfg.data_root, e->cfg.exec_root, json_string_value(json_object_get(n, "Id")),
                                      NULL) == 0)
                        printf("%s\n", name);
        }
        return 0;
}

int cmd_network(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        struct gb_engine e = {0};
        const char *sub = argc > 1 ? argv[1] : NULL;
        int rc;

        if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
                usage(sub ? stdout : stderr);
                return sub ? 0 : EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (!strcmp(sub, "create"))
                rc = net_create(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
                rc = net_ls(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "inspect"))
                rc = net_inspect(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
                rc = net_rm(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "prune"))
                rc = net_prune(&e);
        else if (!strcmp(sub, "connect") || !strcmp(sub, "disconnect"))
                rc = net_connect(&e, argc - 1, argv + 1, sub[0] == 'c');
        else {
                cli_errorf("'network %s' is not a command. See 'ghostbox network --help'.", sub);
                rc = EXIT_ENGINE;
        }
        gb_engine_close(&e);
        return rc;
}
