/* spec: write a default config.json whose container runs in a user
 * namespace mapped to the remap range. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "idmap.h"
#include "runtime.h"
#include "util.h"

static json_t *maps_json(const struct gb_idmap *m)
{
        json_t *a = json_array();

        for (size_t i = 0; i < m->n; i++)
                json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "containerID", (json_int_t)m->r[i].container_id,
                                                   "hostID", (json_int_t)m->r[i].host_id, "size",
                                                   (json_int_t)m->r[i].count));
        return a;
}

int rt_spec(struct rt_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"bundle", required_argument, NULL, 'b'}, {"rootless", no_argument, NULL, 'r'}, {}};
        const char *bundle = ".";
        _cleanup_free_ char *path = NULL;
        json_t *o;
        int c, r;

        while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
                if (c == 'b')
                        bundle = optarg;
                else if (c != 'r')
                        return 1;
        }
        path = gb_xasprintf("%s/config.json", bundle);
        if (access(path, F_OK) == 0)
                return rt_error(ctx, "File %s exists. Remove it first", path);
        /* The remapping ghostbox's engine uses (daemon.json's userns-remap,
         * "default" = ghostremap, created if missing): every map line. */
        {
                struct gb_config cfg = {0};
                struct gb_remap rm = {0};
                struct gb_remap_opts ro = {.create = true};
                struct gb_error err = {0};

                if (gb_config_load(NULL, &cfg, &err) < 0)
                        return rt_error(ctx, "%s", err.msg);
                gb_subid_paths_init(&ro.paths);
                if (*cfg.userns_remap && gb_remap_resolve(cfg.userns_remap, &ro, &rm, &err) < 0) {
                        gb_remap_done(&rm);
                        gb_config_done(&cfg);
                        return rt_error(ctx, "%s", err.msg);
                }
                o = gb_spec_default_json(100000, 100000, 65536);
                if (rm.enabled) {
                        json_t *lin = json_object_get(o, "linux");
                        json_object_set_new(lin, "uidMappings", maps_json(&rm.uids));
                        json_object_set_new(lin, "gidMappings", maps_json(&rm.gids));
                } else {
                        /* Remapping off: no user namespace, as runc spec. */
                        json_t *lin = json_object_get(o, "linux"), *ns = json_object_get(lin, "namespaces"), *n;
                        size_t i;
                        json_object_del(lin, "uidMappings");
                        json_object_del(lin, "gidMappings");
                        json_array_foreach (ns, i, n)
                                if (!strcmp(json_string_value(json_object_get(n, "type")) ?: "", "user")) {
                                        json_array_remove(ns, i);
                                        break;
                                }
                }
                gb_remap_done(&rm);
                gb_config_done(&cfg);
        }
        {
                _cleanup_free_ char *txt = json_dumps(o, JSON_INDENT(8));
                json_decref(o);
                r = gb_write_file_atomic(path, txt, strlen(txt), 0644);
        }
        if (r < 0)
                return rt_error(ctx, "Failed to write '%s': %s", path, strerror(-r));
        return 0;
}
