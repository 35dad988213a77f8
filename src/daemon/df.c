/* GET /system/df (`docker system df [-v]`): what images, containers and
 * volumes take on disk. Sizes are apparent sizes (file lengths, a hard
 * link counted once), as Docker reports them. Layers are shared by every
 * ID range, so an image is counted once whatever the remapping. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apihttp.h"
#include "cleanup.h"
#include "daemon.h"
#include "store.h"
#include "util.h"
#include "volume.h"

struct du {
        uint64_t bytes;
        struct {
                dev_t dev;
                ino_t ino;
        } * seen;
        size_t n_seen;
};

/* Sum below dir (leaf in dfd), never following a symlink; a tree that
 * changes meanwhile gives a best-effort number. */
static void du_walk(struct du *u, int dfd, const char *leaf, int depth)
{
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd;

        if (depth > 256)
                return;
        fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d))) {
                struct stat st;
                bool dup = false;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        du_walk(u, dirfd(d), de->d_name, depth + 1);
                        continue;
                }
                if (st.st_nlink > 1) {
                        for (size_t i = 0; i < u->n_seen && !dup; i++)
                                dup = u->seen[i].dev == st.st_dev && u->seen[i].ino == st.st_ino;
                        if (dup)
                                continue;
                        u->seen = gb_xrealloc(u->seen, (u->n_seen + 1) * sizeof(*u->seen));
                        u->seen[u->n_seen].dev = st.st_dev;
                        u->seen[u->n_seen++].ino = st.st_ino;
                }
                if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
                        u->bytes += (uint64_t)st.st_size;
        }
}

static uint64_t du(const char *path)
{
        struct du u = {0};

        du_walk(&u, AT_FDCWD, path, 0);
        free(u.seen);
        return u.bytes;
}

static long long unix_time(const char *ts)
{
        struct tm tm = {0};

        if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (long long)timegm(&tm);
}

static bool want(char **types, const char *t)
{
        if (!types || !types[0])
                return true;
        for (char **x = types; *x; x++)
                if (!strcmp(*x, t))
                        return true;
        return false;
}

void h_system_df(struct conn *c, char **caps)
{
        _cleanup_strv_ char **types = gb_http_query_all(c->req.query, "type"), **ids = NULL, **vols = NULL;
        _cleanup_free_ char *area = NULL;
        json_t *images = json_array(), *containers = json_array(), *volumes = json_array();
        json_t *per_image = json_object(); /* image ID -> number of containers */
        json_t *layer_users = json_object(), *layer_size = json_object();
        struct gb_image_summary *v = NULL;
        uint64_t layers_total = 0;
        size_t n = 0;
        const char *k;
        json_t *x;

        (void)caps;
        for (char **t = types; t && *t; t++)
                if (strcmp(*t, "container") && strcmp(*t, "image") && strcmp(*t, "volume") &&
                    strcmp(*t, "build-cache")) {
                        conn_error(c, 400, "invalid type '%s' (container, image, volume or build-cache)", *t);
                        goto done;
                }
        (void)gb_container_list(gbd_engine.cfg.data_root, &ids, NULL);
        for (char **id = ids; id && *id; id++) {
                _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                const char *img;

                if (gb_container_lookup(gbd_engine.cfg.data_root, *id, false, &ct, NULL) < 0)
                        continue;
                img = json_string_value(json_object_get(ct->doc, "Image"));
                if (img)
                        json_object_set_new(per_image, img,
                                            json_integer(json_integer_value(json_object_get(per_image, img)) + 1));
                if (want(types, "container")) {
                        _cleanup_free_ char *upper = gb_xasprintf("%s/upper", ct->dir);
                        json_t *s = gbd_container_summary(ct);
                        uint64_t rw = du(upper);
                        json_object_set_new(s, "SizeRw", json_integer((json_int_t)rw));
                        json_object_set_new(s, "SizeRootFs", json_integer((json_int_t)rw));
                        json_array_append_new(containers, s);
                }
        }

        if (want(types, "image")) {
                struct gb_store *s = gbd_open_store(c);
                if (!s)
                        goto done;
                if (gb_store_list(s, &v, &n, NULL) < 0)
                        n = 0;
                /* Which images use each layer, and each layer's size. */
                for (size_t i = 0; i < n; i++) {
                        struct gb_layer_meta *m = NULL;
                        size_t nm = 0;
                        if (gb_store_image_layers(s, v[i].id, &m, &nm, NULL) < 0)
                                continue;
                        for (size_t l = 0; l < nm; l++) {
                                json_object_set_new(
                                        layer_users, m[l].diff_id,
                                        json_integer(json_integer_value(json_object_get(layer_users, m[l].diff_id)) +
                                                     1));
                                json_object_set_new(layer_size, m[l].diff_id, json_integer((json_int_t)m[l].size));
                        }
                        gb_layer_metas_free(m, nm);
                }
                json_object_foreach (layer_size, k, x)
                        layers_total += (uint64_t)json_integer_value(x);
                for (size_t i = 0; i < n; i++) {
                        struct gb_layer_meta *m = NULL;
                        size_t nm = 0;
                        uint64_t shared = 0;
                        json_t *tags = json_array();
                        if (gb_store_image_layers(s, v[i].id, &m, &nm, NULL) == 0) {
                                for (size_t l = 0; l < nm; l++)
                                        if (json_integer_value(json_object_get(layer_users, m[l].diff_id)) > 1)
                                                shared += m[l].size;
                                gb_layer_metas_free(m, nm);
                        }
                        for (char **t = v[i].tags; t && *t; t++)
                                json_array_append_new(tags, json_string(*t));
                        json_array_append_new(
                                images, json_pack("{s:s, s:s, s:o, s:[], s:I, s:I, s:I, s:I, s:{}, s:I}", "Id", v[i].id,
                                                  "ParentId", "", "RepoTags", tags, "RepoDigests", "Created",
                                                  (json_int_t)unix_time(v[i].created), "Size", (json_int_t)v[i].size,
                                                  "VirtualSize", (json_int_t)v[i].size, "SharedSize",
                                                  (json_int_t)shared, "Labels", "Containers",
                                                  (json_int_t)json_integer_value(json_object_get(per_image, v[i].id))));
                }
                gb_image_summaries_free(v, n);
                gb_store_free(s);
        }

        if (want(types, "volume")) {
                area = gb_engine_volume_area(&gbd_engine, NULL, NULL);
                (void)gb_volume_list(gbd_engine.cfg.data_root, area, &vols, NULL);
                for (char **name = vols; name && *name; name++) {
                        _cleanup_strv_ char **users = NULL;
                        json_t *doc = NULL;
                        if (gb_volume_inspect(gbd_engine.cfg.data_root, area, *name, &doc, NULL) < 0)
                                continue;
                        (void)gb_engine_volume_users(&gbd_engine, *name, &users, NULL);
                        json_object_set_new(
                                doc, "UsageData",
                                json_pack("{s:I, s:I}", "Size",
                                          (json_int_t)du(json_string_value(json_object_get(doc, "Mountpoint")) ?: ""),
                                          "RefCount", (json_int_t)gb_strv_len(users)));
                        json_array_append_new(volumes, doc);
                }
        }

        conn_json(c, 200,
                  json_pack("{s:I, s:O, s:O, s:O, s:[]}", "LayersSize", (json_int_t)layers_total, "Images", images,
                            "Containers", containers, "Volumes", volumes, "BuildCache"));
done:
        json_decref(images);
        json_decref(containers);
        json_decref(volumes);
        json_decref(per_image);
        json_decref(layer_users);
        json_decref(layer_size);
}
