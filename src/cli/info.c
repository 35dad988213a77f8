/* ghostbox info: version, configuration, remapping and what the kernel can
 * do. Informational: unlike `idmap show` it never creates the remap user. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "cleanup.h"
#include "container.h"
#include "rootfs.h"
#include "store.h"
#include "cli-remap.h"
#include "userns.h"
#include "util.h"
#include "verbs.h"

static void info_usage(FILE *f)
{
        fprintf(f, "Usage: ghostbox info [--format text|json]\n\n"
                   "Show the ghostbox version, configuration (daemon.json, data-root, exec-root),\n"
                   "the user-namespace remapping containers get, and the kernel features ghostbox\n"
                   "uses (user namespaces, idmapped mounts, ID map line limit).\n\n"
                   "Options:\n"
                   "  -f, --format FORMAT   text (default) or json\n"
                   "  -h, --help            this help\n");
}

/* The directory idmapped mounts will be made under: data-root, or its
 * closest existing parent before first use. */
static char *probe_dir(const char *data_root)
{
        char *p = gb_xstrdup(data_root);
        struct stat st;

        while (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
                char *s = strrchr(p, '/');
                if (!s || s == p) {
                        free(p);
                        return gb_xstrdup("/");
                }
                *s = '\0';
        }
        return p;
}

int cmd_info(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        enum gb_storage_shift mode = GB_STORAGE_SHIFT_IDMAP;
        char mode_reason[256] = "";
        size_t n_images = 0, n_containers = 0, n_running = 0;
        static const struct option opts[] = {
                {"format", required_argument, NULL, 'f'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        _cleanup_(gb_config_done) struct gb_config cfg = {0};
        _cleanup_(gb_remap_done) struct gb_remap rm = {0};
        _cleanup_free_ char *dir = NULL, *maxns = NULL;
        struct gb_error rerr = {0}, uerr = {0}, merr = {0};
        struct gb_idmap one = {0};
        struct utsname un;
        bool json = false, userns_ok, idmapped_ok;
        int c, rr;
        size_t maxlines;

        while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        if (strcmp(optarg, "json") == 0 || strcmp(optarg, "{{json .}}") == 0)
                                json = true;
                        else if (strcmp(optarg, "text") != 0) {
                                cli_errorf("unknown --format '%s': use text or json", optarg);
                                return 125;
                        }
                        break;
                case 'h':
                        info_usage(stdout);
                        return 0;
                default:
                        info_usage(stderr);
                        return 125;
                }
        }
        if (optind < argc) {
                cli_errorf("'info' takes no arguments");
                return 125;
        }
        if (cli_load_config(ctx, &cfg) < 0)
                return 125;
        rr = cli_resolve_remap(&cfg, false, &rm, &rerr);

        /* Kernel features, probed (never inferred from the version). */
        {
                _cleanup_close_ int ns = -EBADF;
                (void)gb_idmap_add(&one, 0, 65534, 1);
                userns_ok = gb_userns_open(&one, &one, &ns, &uerr) == 0;
        }
        dir = probe_dir(cfg.data_root);
        idmapped_ok = gb_idmap_mounts_supported(dir, &merr) == 1;
        maxlines = gb_idmap_kernel_max_lines();
        if (gb_read_file_at(AT_FDCWD, "/proc/sys/user/max_user_namespaces", 64, &maxns, NULL) == 0)
                maxns[strcspn(maxns, "\n")] = '\0';
        if (uname(&un) < 0)
                memset(&un, 0, sizeof(un));
        /* Which root filesystem mode containers get here, and why. */
        gb_rootfs_probe(cfg.data_root, cfg.storage_shift, &mode, mode_reason, sizeof(mode_reason));
        {
                struct gb_store *st = NULL;
                _cleanup_strv_ char **ids = NULL;
                if (gb_store_open(cfg.data_root, &st, NULL) == 0) {
                        struct gb_image_summary *im = NULL;
                        if (gb_store_list(st, &im, &n_images, NULL) == 0)
                                gb_image_summaries_free(im, n_images);
                        gb_store_free(st);
                }
                if (gb_container_list(cfg.data_root, &ids, NULL) == 0)
                        for (char **i = ids; *i; i++) {
                                struct gb_container *ct = NULL;
                                n_containers++;
                                if (gb_container_lookup(cfg.data_root, *i, false, &ct, NULL) == 0) {
                                        if (strcmp(gb_container_status(ct), "running") == 0)
                                                n_running++;
                                        gb_container_free(ct);
                                }
                        }
        }

        if (json) {
                json_t *o = json_object(), *k = json_object(), *remap;
                char *s;

                json_object_set_new(o, "version", json_string(GB_VERSION));
                json_object_set_new(o, "config_file", json_string(cfg.path));
                json_object_set_new(o, "config_file_found", json_boolean(cfg.file_found));
                json_object_set_new(o, "data_root", json_string(cfg.data_root));
                json_object_set_new(o, "exec_root", json_string(cfg.exec_root));
                json_object_set_new(o, "storage_driver", json_string(cfg.storage_driver));
                json_object_set_new(o, "storage_shift", json_string(gb_storage_shift_to_string(cfg.storage_shift)));
                json_object_set_new(o, "storage_mode", json_string(gb_storage_shift_to_string(mode)));
                json_object_set_new(o, "storage_mode_reason", json_string(mode_reason));
                json_object_set_new(o, "containers", json_integer((json_int_t)n_containers));
                json_object_set_new(o, "containers_running", json_integer((json_int_t)n_running));
                json_object_set_new(o, "images", json_integer((json_int_t)n_images));
                if (rr < 0) {
                        remap = json_pack("{s:b, s:s, s:s}", "enabled", 1, "spec", cfg.userns_remap, "error", rerr.msg);
                } else
                        remap = cli_remap_json(&cfg, &rm);
                json_object_set_new(o, "userns_remap", remap);
                json_object_set_new(k, "release", json_string(un.release));
                json_object_set_new(k, "user_namespaces", json_boolean(userns_ok));
                if (!userns_ok)
                        json_object_set_new(k, "user_namespaces_error", json_string(uerr.msg));
                json_object_set_new(k, "max_user_namespaces", maxns ? json_string(maxns) : json_null());
                json_object_set_new(k, "idmapped_mounts", json_boolean(idmapped_ok));
                json_object_set_new(k, "idmapped_mounts_probe_dir", json_string(dir));
                if (!idmapped_ok)
                        json_object_set_new(k, "idmapped_mounts_error", json_string(merr.msg));
                json_object_set_new(k, "max_map_lines", json_integer((json_int_t)maxlines));
                json_object_set_new(o, "kernel", k);
                s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (s)
                        printf("%s\n", s);
                free(s);
                json_decref(o);
                return 0;
        }

        printf("Version:        %s\n", GB_VERSION);
        printf("Config file:    %s%s\n", cfg.path, cfg.file_found ? "" : " (not found: defaults)");
        printf("Data root:      %s\n", cfg.data_root);
        printf("Exec root:      %s\n", cfg.exec_root);
        printf("Storage:        %s, ownership shift %s\n", cfg.storage_driver,
               gb_storage_shift_to_string(cfg.storage_shift));
        printf("Storage mode:   %s (%s)\n", gb_storage_shift_to_string(mode), mode_reason);
        printf("Containers:     %zu (%zu running)\n", n_containers, n_running);
        printf("Images:         %zu\n", n_images);
        printf("User namespace remapping:\n");
        if (rr < 0)
                printf("  Error:        %s\n", rerr.msg);
        else if (!rm.enabled)
                printf("  Off           (\"userns-remap\": \"\" from %s): container root is host root\n",
                       cfg.userns_remap_origin);
        else {
                printf("  Spec:         %s (from %s)\n", rm.spec, cfg.userns_remap_origin);
                printf("  User:         %s (uid %u), group %s (gid %u)\n", rm.user, (unsigned)rm.uid, rm.group,
                       (unsigned)rm.gid);
                for (size_t i = 0; i < rm.n_uid_ranges; i++)
                        printf("  UID range:    %s:%u:%u\n", rm.uid_ranges[i].owner, rm.uid_ranges[i].start,
                               rm.uid_ranges[i].count);
                for (size_t i = 0; i < rm.n_gid_ranges; i++)
                        printf("  GID range:    %s:%u:%u\n", rm.gid_ranges[i].owner, rm.gid_ranges[i].start,
                               rm.gid_ranges[i].count);
                for (size_t i = 0; i < rm.uids.n; i++)
                        printf("  uid_map:      %u %u %u\n", rm.uids.r[i].container_id, rm.uids.r[i].host_id,
                               rm.uids.r[i].count);
                for (size_t i = 0; i < rm.gids.n; i++)
                        printf("  gid_map:      %u %u %u\n", rm.gids.r[i].container_id, rm.gids.r[i].host_id,
                               rm.gids.r[i].count);
                for (char **w = rm.warnings; w && *w; w++)
                        printf("  Warning:      %s\n", *w);
        }
        printf("Kernel:         %s\n", un.release);
        printf("  User namespaces:  %s", userns_ok ? "enabled" : "NOT available");
        if (maxns)
                printf(" (user.max_user_namespaces = %s)", maxns);
        printf("\n");
        if (!userns_ok)
                printf("    %s\n", uerr.msg);
        printf("  Idmapped mounts:  %s on '%s'\n", idmapped_ok ? "supported" : "NOT supported", dir);
        if (!idmapped_ok)
                printf("    %s\n", merr.msg);
        printf("  Max ID map lines: %zu\n", maxlines);
        return 0;
}
