/* ghostbox volume create|ls|inspect|rm|prune|chown. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "runspec.h"
#include "store.h"
#include "util.h"
#include "volume.h"

static void usage(FILE *f)
{
        fprintf(f, "Usage: ghostbox volume COMMAND\n\n"
                   "Named volumes live in the remapped root's area and belong to it, so a container\n"
                   "writes to them without any chown.\n\n"
                   "Commands:\n"
                   "  create [--label K=V] [NAME]    create a volume (a random name if none)\n"
                   "  ls [-q]                        list volumes\n"
                   "  inspect NAME...                show volumes as JSON\n"
                   "  rm [-f] NAME...                remove volumes no container uses\n"
                   "  prune [-f]                     remove every volume no container uses\n"
                   "  chown [--rootfs DIR|--image IMAGE] PATH USER[:GROUP]\n"
                   "                                 give a host directory to a container user, printing\n"
                   "                                 the arithmetic (container UID u = host UID base+u);\n"
                   "                                 names resolve through the image's (or DIR's)\n"
                   "                                 /etc/passwd\n");
}

static int vol_create(struct gb_engine *e, int argc, char **argv)
{
        static const struct option opts[] = {{"label", required_argument, NULL, 'l'}, {}};
        _cleanup_strv_ char **labels = NULL;
        _cleanup_free_ char *area = NULL, *name = NULL;
        struct gb_error err = {0};
        size_t n = 0;
        uid_t u;
        gid_t g;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                if (c != 'l')
                        return EXIT_ENGINE;
                labels = gb_xrealloc(labels, (n + 2) * sizeof(char *));
                labels[n++] = gb_xstrdup(optarg);
                labels[n] = NULL;
        }
        area = gb_engine_volume_area(e, &u, &g);
        if (gb_volume_create(e->cfg.data_root, area, u, g, optind < argc ? argv[optind] : NULL, labels, &name, &err) <
            0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        printf("%s\n", name);
        return 0;
}

static int vol_ls(struct gb_engine *e, int argc, char **argv)
{
        _cleanup_free_ char *area = gb_engine_volume_area(e, NULL, NULL);
        _cleanup_strv_ char **names = NULL;
        struct gb_error err = {0};
        bool quiet = argc > 1 && (!strcmp(argv[1], "-q") || !strcmp(argv[1], "--quiet"));

        if (gb_volume_list(e->cfg.data_root, area, &names, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        if (!quiet)
                printf("%-10s %s\n", "DRIVER", "VOLUME NAME");
        for (char **n = names; *n; n++)
                if (quiet)
                        printf("%s\n", *n);
                else
                        printf("%-10s %s\n", "local", *n);
        return 0;
}

static int vol_inspect(struct gb_engine *e, int argc, char **argv)
{
        _cleanup_free_ char *area = gb_engine_volume_area(e, NULL, NULL);
        json_t *all = json_array();
        char *text;
        int rc = 0;

        for (int i = 1; i < argc; i++) {
                struct gb_error err = {0};
                json_t *doc;
                if (gb_volume_inspect(e->cfg.data_root, area, argv[i], &doc, &err) < 0) {
                        cli_errorf("Error: %s", err.msg);
                        rc = 1;
                        continue;
                }
                json_object_del(doc, "Anonymous");
                json_array_append_new(all, doc);
        }
        text = json_dumps(all, JSON_INDENT(4));
        printf("%s\n", text);
        free(text);
        json_decref(all);
        return rc;
}

/* Remove name unless a container uses it (Docker refuses even with -f). */
static int remove_one(struct gb_engine *e, const char *area, const char *name, bool quiet_in_use, struct gb_error *err)
{
        _cleanup_strv_ char **users = NULL;
        int r = gb_engine_volume_users(e, name, &users, err);

        if (r < 0)
                return r;
        if (users[0]) {
                if (quiet_in_use)
                        return 1;
                return gb_error_set(err, EBUSY, "remove %s: volume is in use - [%s]", name, users[0]);
        }
        return gb_volume_remove(e->cfg.data_root, area, name, err);
}

static int vol_rm(struct gb_engine *e, int argc, char **argv)
{
        _cleanup_free_ char *area = gb_engine_volume_area(e, NULL, NULL);
        bool force = false;
        int rc = 0;

        for (int i = 1; i < argc; i++) {
                struct gb_error err = {0};
                if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force")) {
                        force = true;
                        continue;
                }
                if (remove_one(e, area, argv[i], false, &err) < 0) {
                        if (force && err.code == ENOENT)
                                continue;
                        cli_errorf("Error response from daemon: %s", err.msg);
                        rc = 1;
                } else
                        printf("%s\n", argv[i]);
        }
        return rc;
}

static int vol_prune(struct gb_engine *e)
{
        _cleanup_free_ char *area = gb_engine_volume_area(e, NULL, NULL);
        _cleanup_strv_ char **names = NULL;
        struct gb_error err = {0};

        if (gb_volume_list(e->cfg.data_root, area, &names, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        printf("Deleted Volumes:\n");
        for (char **n = names; *n; n++)
                if (remove_one(e, area, *n, true, &err) == 0)
                        printf("%s\n", *n);
        return 0;
}

/* seeds/004's arithmetic, done for the user: the host IDs a container user
 * has, and a chown of PATH to them. */
static int vol_chown(struct gb_engine *e, int argc, char **argv)
{
        static const struct option opts[] = {
                {"rootfs", required_argument, NULL, 'r'},
                {"image", required_argument, NULL, 'i'},
                {},
        };
        _cleanup_close_ int rootfd = -EBADF;
        _cleanup_free_ char *layer_dir = NULL;
        const char *image = NULL;
        struct gb_run_user u = {0};
        struct gb_error err = {0};
        const char *rootfs = NULL;
        uint32_t hu, hg;
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                if (c == 'r')
                        rootfs = optarg;
                else if (c == 'i')
                        image = optarg;
                else
                        return EXIT_ENGINE;
        }
        if (argc - optind != 2) {
                cli_errorf("usage: ghostbox volume chown [--rootfs DIR | --image IMAGE] PATH USER[:GROUP]");
                return EXIT_ENGINE;
        }
        if (!e->remap.enabled) {
                cli_errorf("remapping is off: container IDs are host IDs; use chown directly");
                return 1;
        }
        if (image) {
                /* The image's /etc/passwd: the topmost layer that has one. */
                struct gb_store *st = NULL;
                struct gb_layer_meta *layers = NULL;
                char id[GB_DIGEST_LEN];
                size_t n = 0;
                if (gb_store_open(e->cfg.data_root, &st, &err) < 0 || gb_store_resolve(st, image, id, &err) < 0 ||
                    gb_store_image_layers(st, id, &layers, &n, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        gb_store_free(st);
                        return 1;
                }
                for (size_t i = n; i-- > 0 && !layer_dir;) {
                        _cleanup_free_ char *p = gb_xasprintf("%s/etc/passwd", layers[i].path);
                        if (access(p, F_OK) == 0)
                                layer_dir = gb_xstrdup(layers[i].path);
                }
                gb_layer_metas_free(layers, n);
                gb_store_free(st);
                if (!layer_dir) {
                        cli_errorf("image %s has no /etc/passwd: give numeric IDs", image);
                        return 1;
                }
                rootfs = layer_dir;
        }
        rootfd = open(rootfs ? rootfs : "/nonexistent-ghostbox-rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0 && rootfs) {
                cli_errorf("Failed to open --rootfs '%s': %s", rootfs, strerror(errno));
                return 1;
        }
        /* Without a root filesystem only numbers can be resolved. */
        if (rootfd < 0) {
                _cleanup_free_ char *spec = gb_xstrdup(argv[optind + 1]);
                char *colon = strchr(spec, ':');
                if (colon)
                        *colon++ = '\0';
                if (gb_parse_u32(spec, &u.uid) < 0 || (colon && gb_parse_u32(colon, &u.gid) < 0)) {
                        cli_errorf("'%s': give numeric IDs, or --rootfs DIR to resolve names through its "
                                   "/etc/passwd",
                                   argv[optind + 1]);
                        return 1;
                }
                u.gid = colon ? u.gid : u.uid;
        } else if (gb_runspec_resolve_user(rootfd, argv[optind + 1], &u, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        if (gb_idmap_to_host(&e->remap.uids, u.uid, &hu) < 0 || gb_idmap_to_host(&e->remap.gids, u.gid, &hg) < 0) {
                cli_errorf("container ID %u:%u has no host ID in %s's ranges (see ghostbox idmap show)", u.uid, u.gid,
                           e->remap.user);
                gb_run_user_clear(&u);
                return 1;
        }
        printf("%s %u -> host %u (uid), %u -> host %u (gid)\n", argv[optind + 1], u.uid, hu, u.gid, hg);
        if (chown(argv[optind], hu, hg) < 0) {
                cli_errorf("Failed to chown '%s' to %u:%u: %s", argv[optind], hu, hg, strerror(errno));
                gb_run_user_clear(&u);
                return 1;
        }
        printf("chown %u:%u %s\n", hu, hg, argv[optind]);
        gb_run_user_clear(&u);
        return 0;
}

int cmd_volume(struct gb_cli_ctx *ctx, int argc, char **argv)
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
                rc = vol_create(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
                rc = vol_ls(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "inspect"))
                rc = vol_inspect(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
                rc = vol_rm(&e, argc - 1, argv + 1);
        else if (!strcmp(sub, "prune"))
                rc = vol_prune(&e);
        else if (!strcmp(sub, "chown"))
                rc = vol_chown(&e, argc - 1, argv + 1);
        else {
                cli_errorf("'volume %s' is not a command. See 'ghostbox volume --help'.", sub);
                rc = EXIT_ENGINE;
        }
        gb_engine_close(&e);
        return rc;
}
