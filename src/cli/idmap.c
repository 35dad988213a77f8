/* ghostbox idmap show | host-id | container-id: what the remapping is and
 * which host ID a container ID becomes (and back). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "idmap.h"
#include "util.h"
#include "cli-remap.h"
#include "verbs.h"

int cli_load_config(struct gb_cli_ctx *ctx, struct gb_config *ret)
{
        struct gb_config_overrides ov = {
                .path = ctx->config_path,
                .data_root = ctx->data_root,
                .exec_root = ctx->exec_root,
                .userns_remap = ctx->userns_remap,
        };
        struct gb_error err = {0};

        if (gb_config_load(&ov, ret, &err) < 0) {
                cli_errorf("%s", err.msg);
                return -1;
        }
        return 0;
}

int cli_resolve_remap(const struct gb_config *cfg, bool create, struct gb_remap *ret, struct gb_error *err)
{
        struct gb_remap_opts o = {.create = create, .origin = NULL};
        _cleanup_free_ char *origin = NULL;

        if (strcmp(cfg->userns_remap_origin, "--userns-remap") == 0)
                origin = gb_xstrdup("--userns-remap");
        else if (strcmp(cfg->userns_remap_origin, "built-in default") == 0)
                origin = gb_xstrdup("userns-remap (built-in default)");
        else
                origin = gb_xasprintf("\"userns-remap\" in '%s'", cfg->userns_remap_origin);
        o.origin = origin;
        return gb_remap_resolve(cfg->userns_remap, &o, ret, err);
}

static json_t *ranges_json(const char *file, const struct gb_subid_entry *e, size_t n)
{
        json_t *a = json_array();

        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_pack("{s:s, s:I, s:s, s:I, s:I}", "file", file, "line",
                                                   (json_int_t)e[i].line, "owner", e[i].owner, "start",
                                                   (json_int_t)e[i].start, "count", (json_int_t)e[i].count));
        return a;
}

static json_t *map_json(const struct gb_idmap *m)
{
        json_t *a = json_array();

        for (size_t i = 0; i < m->n; i++)
                json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "container_id", (json_int_t)m->r[i].container_id,
                                                   "host_id", (json_int_t)m->r[i].host_id, "count",
                                                   (json_int_t)m->r[i].count));
        return a;
}

json_t *cli_remap_json(const struct gb_config *cfg, const struct gb_remap *rm)
{
        struct gb_subid_paths p = {0};
        char ubuf[GB_IDMAP_MAX * 34 + 1], gbuf[GB_IDMAP_MAX * 34 + 1];
        json_t *o, *w;

        gb_subid_paths_init(&p);
        if (!rm->enabled)
                return json_pack("{s:b, s:s, s:s}", "enabled", 0, "spec", "", "origin", cfg->userns_remap_origin);
        (void)gb_idmap_format(&rm->uids, ubuf, sizeof(ubuf));
        (void)gb_idmap_format(&rm->gids, gbuf, sizeof(gbuf));
        w = json_array();
        for (char **s = rm->warnings; s && *s; s++)
                json_array_append_new(w, json_string(*s));
        o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I}", "enabled", 1, "spec", rm->spec, "origin",
                      cfg->userns_remap_origin, "user", rm->user, "uid", (json_int_t)rm->uid, "group", rm->group, "gid",
                      (json_int_t)rm->gid, "root_uid", (json_int_t)rm->root_uid, "root_gid", (json_int_t)rm->root_gid);
        json_object_set_new(o, "uid_ranges", ranges_json(p.subuid, rm->uid_ranges, rm->n_uid_ranges));
        json_object_set_new(o, "gid_ranges", ranges_json(p.subgid, rm->gid_ranges, rm->n_gid_ranges));
        json_object_set_new(o, "uid_map", json_string(ubuf));
        json_object_set_new(o, "gid_map", json_string(gbuf));
        json_object_set_new(o, "uid_map_lines", map_json(&rm->uids));
        json_object_set_new(o, "gid_map_lines", map_json(&rm->gids));
        json_object_set_new(o, "kernel_max_map_lines",
                            json_integer((json_int_t)(rm->kernel_max_lines ?: gb_idmap_kernel_max_lines())));
        json_object_set_new(o, "created_user", json_boolean(rm->created_user));
        json_object_set_new(o, "granted_ranges", json_boolean(rm->granted_ranges));
        json_object_set_new(o, "warnings", w);
        return o;
}

static void print_ranges(const char *title, const char *file, const struct gb_subid_entry *e, size_t n)
{
        printf("%s (%s):\n", title, file);
        for (size_t i = 0; i < n; i++) {
                if (e[i].line)
                        printf("  line %-4u %s:%u:%u  (host IDs %u-%u)\n", e[i].line, e[i].owner, e[i].start,
                               e[i].count, e[i].start, e[i].start + e[i].count - 1);
                else
                        printf("  from NSS  %s:%u:%u\n", e[i].owner, e[i].start, e[i].count);
        }
}

static void print_json(json_t *o)
{
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        if (s)
                printf("%s\n", s);
        free(s);
}

static void show_usage(FILE *f)
{
        fprintf(f, "Usage: ghostbox idmap show [--json]\n\n"
                   "Show the userns-remap user, its subordinate ID ranges, the exact uid_map and\n"
                   "gid_map lines containers get, and any warnings about the ranges. With the\n"
                   "\"default\" remap (the default), creates the 'ghostremap' user and its ranges\n"
                   "in /etc/subuid and /etc/subgid if they are missing (needs root).\n\n"
                   "Options:\n"
                   "  --json      machine-readable output\n"
                   "  -h, --help  this help\n");
}

static int idmap_show(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_(gb_config_done) struct gb_config cfg = {0};
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};
        struct gb_subid_paths p = {0};
        struct gb_error err = {0};
        bool json = false;
        int c;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        show_usage(stdout);
                        return 0;
                default:
                        show_usage(stderr);
                        return 125;
                }
        }
        if (optind < argc) {
                cli_errorf("'idmap show' takes no arguments");
                return 125;
        }
        if (cli_load_config(ctx, &cfg) < 0)
                return 125;
        if (cli_resolve_remap(&cfg, true, &rm, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 125;
        }
        if (json) {
                json_t *o = cli_remap_json(&cfg, &rm);
                print_json(o);
                json_decref(o);
                return 0;
        }
        if (!rm.enabled) {
                printf("User namespace remapping: off (\"userns-remap\": \"\" from %s)\n"
                       "Containers run without a user namespace: container root is host root.\n",
                       cfg.userns_remap_origin);
                return 0;
        }
        gb_subid_paths_init(&p);
        printf("Remap spec:  %s (from %s)\n", rm.spec, cfg.userns_remap_origin);
        printf("Remap user:  %s (uid %u)%s\n", rm.user, (unsigned)rm.uid, rm.created_user ? "  [created now]" : "");
        printf("Remap group: %s (gid %u)\n", rm.group, (unsigned)rm.gid);
        if (rm.granted_ranges)
                printf("Granted a new subordinate range in '%s' and '%s'.\n", p.subuid, p.subgid);
        print_ranges("Subordinate UIDs", p.subuid, rm.uid_ranges, rm.n_uid_ranges);
        print_ranges("Subordinate GIDs", p.subgid, rm.gid_ranges, rm.n_gid_ranges);
        printf("Kernel map line limit: %zu\n", rm.kernel_max_lines ?: gb_idmap_kernel_max_lines());
        printf("Container root is host %u:%u.\n", rm.root_uid, rm.root_gid);
        printf("uid_map (CONTAINER-ID HOST-ID COUNT):\n");
        for (size_t i = 0; i < rm.uids.n; i++)
                printf("%u %u %u\n", rm.uids.r[i].container_id, rm.uids.r[i].host_id, rm.uids.r[i].count);
        printf("gid_map (CONTAINER-ID HOST-ID COUNT):\n");
        for (size_t i = 0; i < rm.gids.n; i++)
                printf("%u %u %u\n", rm.gids.r[i].container_id, rm.gids.r[i].host_id, rm.gids.r[i].count);
        for (char **w = rm.warnings; w && *w; w++)
                printf("Warning: %s\n", *w);
        return 0;
}

static void translate_usage(FILE *f, bool to_host)
{
        if (to_host)
                fprintf(f, "Usage: ghostbox idmap host-id [--gid] ID\n\n"
                           "Print the host UID (or GID) that container ID ID becomes under the current\n"
                           "userns-remap. Exits 1 when ID is unmapped (it has no host ID).\n\n");
        else
                fprintf(f, "Usage: ghostbox idmap container-id [--gid] HOSTID\n\n"
                           "Print the container UID (or GID) that host ID HOSTID appears as inside\n"
                           "containers. Exits 1 when HOSTID is unmapped: files it owns show as 65534\n"
                           "(nobody/nogroup) inside.\n\n");
        fprintf(f, "Options:\n"
                   "  -g, --gid   translate a group ID (default: user ID)\n"
                   "  -h, --help  this help\n");
}

static int idmap_translate(struct gb_cli_ctx *ctx, int argc, char **argv, bool to_host)
{
        static const struct option opts[] = {
                {"gid", no_argument, NULL, 'g'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_(gb_config_done) struct gb_config cfg = {0};
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};
        struct gb_error err = {0};
        const char *kind = "UID";
        bool gid = false;
        uint32_t id, out;
        int c, r;

        while ((c = getopt_long(argc, argv, "gh", opts, NULL)) != -1) {
                switch (c) {
                case 'g':
                        gid = true;
                        kind = "GID";
                        break;
                case 'h':
                        translate_usage(stdout, to_host);
                        return 0;
                default:
                        translate_usage(stderr, to_host);
                        return 125;
                }
        }
        if (argc - optind != 1) {
                translate_usage(stderr, to_host);
                return 125;
        }
        r = gb_parse_u32(argv[optind], &id);
        if (r < 0 || id == UINT32_MAX) {
                cli_errorf("'%s' is not a %s (a decimal number below 4294967295)", argv[optind], kind);
                return 125;
        }
        if (cli_load_config(ctx, &cfg) < 0)
                return 125;
        if (cli_resolve_remap(&cfg, true, &rm, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 125;
        }
        if (!rm.enabled) {
                /* No user namespace: IDs are the host's own. */
                printf("%u\n", id);
                return 0;
        }
        if (to_host)
                r = gb_idmap_to_host(gid ? &rm.gids : &rm.uids, id, &out);
        else
                r = gb_idmap_to_container(gid ? &rm.gids : &rm.uids, id, &out);
        if (r < 0) {
                if (to_host)
                        cli_errorf("container %s %u is unmapped: it has no host %s under remap '%s' (the map covers "
                                   "%" PRIu64 " IDs); a process cannot take it, and files with it show as 65534",
                                   kind, id, kind, rm.spec, gb_idmap_size(gid ? &rm.gids : &rm.uids));
                else
                        cli_errorf("host %s %u is unmapped: it is outside the ranges of '%s', so inside a container "
                                   "it shows as 65534 (%s)",
                                   kind, id, gid ? rm.group : rm.user, gid ? "nogroup" : "nobody");
                return 1;
        }
        printf("%u\n", out);
        return 0;
}

static void idmap_usage(FILE *f)
{
        fprintf(f, "Usage: ghostbox idmap COMMAND\n\n"
                   "Inspect user-namespace remapping (/etc/subuid, /etc/subgid, daemon.json\n"
                   "\"userns-remap\").\n\n"
                   "Commands:\n"
                   "  show            the remap user, ranges and map lines containers get\n"
                   "  host-id         container ID -> host ID\n"
                   "  container-id    host ID -> container ID\n\n"
                   "Run 'ghostbox idmap COMMAND --help' for more on a command.\n");
}

int cmd_idmap(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        if (argc < 2) {
                idmap_usage(stderr);
                return 125;
        }
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
                idmap_usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "show") == 0)
                return idmap_show(ctx, argc - 1, argv + 1);
        if (strcmp(argv[1], "host-id") == 0)
                return idmap_translate(ctx, argc - 1, argv + 1, true);
        if (strcmp(argv[1], "container-id") == 0)
                return idmap_translate(ctx, argc - 1, argv + 1, false);
        cli_errorf("'%s' is not an idmap command. See 'ghostbox idmap --help'.", argv[1]);
        return 125;
}
