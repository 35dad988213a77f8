/* GET /images/get, /images/{name}/get (`docker save`) and
 * /images/{name}/history (`docker history`). */
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

/* An image config is a few KiB; this bounds a damaged one. */
#define MAX_CONFIG_BYTES (16 * 1024 * 1024)

/* Current CLIs may send normalized names (docker.io/library/x); the store
 * keeps the familiar ones, as Docker's does. */
const char *gbd_familiar(const char *n)
{
        if (gb_str_has_prefix(n, "docker.io/library/"))
                return n + strlen("docker.io/library/");
        if (gb_str_has_prefix(n, "docker.io/"))
                return n + strlen("docker.io/");
        return n;
}

/* Resolve every name first, so a missing one is a clean 404 (as Docker:
 * "No such image: X", before any byte of the archive), then write the
 * archive to an unnamed file and send it with its length. Writing first
 * means a failure halfway (a damaged layer blob) is a 500 with the
 * reason instead of a truncated tar that `docker load` would reject
 * later with a vaguer message. */
static void save(struct conn *c, char **names)
{
        _cleanup_free_ char *tmpdir = gb_xasprintf("%s/tmp", gbd_engine.cfg.data_root);
        _cleanup_(gb_store_freep) struct gb_store *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct gb_error err = {0};
        struct stat st;
        int r;

        if (!names[0]) {
                conn_error(c, 400, "no image named: pass one or more names= to save");
                return;
        }
        s = gbd_open_store(c);
        if (!s)
                return;
        for (char **n = names; *n; n++) {
                char id[GB_DIGEST_LEN];
                char *f = gb_xstrdup(gbd_familiar(*n));
                free(*n);
                *n = f;
                r = gb_store_resolve(s, *n, id, &err);
                if (r == -ENOENT) {
                        conn_error(c, 404, "No such image: %s", *n);
                        return;
                }
                if (r < 0) {
                        conn_gb_error(c, r, &err);
                        return;
                }
        }
        (void)gb_mkdir_p(tmpdir, 0700);
        fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
                conn_error(c, 500, "Failed to create a temporary file in '%s': %s", tmpdir, strerror(errno));
                return;
        }
        r = gb_store_save(s, names, fd, &err);
        if (r < 0) {
                conn_error(c, r == -ENOENT ? 404 : 500, "%s", err.msg);
                return;
        }
        if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
                conn_error(c, 500, "Failed to rewind the archive: %s", strerror(errno));
                return;
        }
        conn_respond_fd(c, 200, "application/x-tar", fd, (uint64_t)st.st_size);
}

void h_images_save(struct conn *c, char **caps)
{
        _cleanup_strv_ char **names = gb_http_query_all(c->req.query, "names");

        save(c, names);
}

void h_image_save(struct conn *c, char **caps)
{
        _cleanup_strv_ char **names = gb_xcalloc(2, sizeof(char *));

        names[0] = gb_xstrdup(caps[0]);
        save(c, names);
}

static long long unix_time(const char *ts)
{
        struct tm tm = {0};

        if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (long long)timegm(&tm);
}

/* Docker's history: the config's history entries, newest first; an entry
 * that made a layer (no empty_layer) gets that layer's uncompressed size,
 * taken in order. Only the newest row names the image (ID and tags): the
 * store keeps no parent images, so the others are "<missing>", as for
 * any pulled image in Docker. A config without history (some hand-made
 * OCI images) gets one row per layer, so the layers still show. */
void h_image_history(struct conn *c, char **caps)
{
        _cleanup_(gb_store_freep) struct gb_store *s = gbd_open_store(c);
        _cleanup_free_ char *path = NULL, *text = NULL;
        struct gb_layer_meta *layers = NULL;
        struct gb_image_summary *sums = NULL;
        struct gb_error err = {0};
        json_auto_t *cfg = NULL;
        json_t *hist, *h, *rows, *tags = NULL;
        char id[GB_DIGEST_LEN];
        size_t n_layers = 0, n_sums = 0, li = 0, len = 0, i;
        int r;

        if (!s)
                return;
        r = gb_store_resolve(s, gbd_familiar(caps[0]), id, &err);
        if (r == 0)
                r = gb_store_image_layers(s, id, &layers, &n_layers, &err);
        if (r < 0) {
                if (r == -ENOENT)
                        conn_error(c, 404, "No such image: %s", caps[0]);
                else
                        conn_gb_error(c, r, &err);
                return;
        }
        path = gb_xasprintf("%s/images/sha256/%s.json", gbd_engine.cfg.data_root, id + strlen("sha256:"));
        r = gb_read_file_at(AT_FDCWD, path, MAX_CONFIG_BYTES, &text, &len);
        if (r == 0)
                cfg = json_loadb(text, len, 0, NULL);
        if (!json_is_object(cfg)) {
                gb_layer_metas_free(layers, n_layers);
                conn_error(c, 500, "Failed to read the config of image %s at '%s': %s", id, path,
                           r < 0 ? strerror(-r) : "not a JSON object");
                return;
        }
        if (gb_store_list(s, &sums, &n_sums, NULL) == 0) {
                for (i = 0; i < n_sums; i++)
                        if (strcmp(sums[i].id, id) == 0 && sums[i].tags && sums[i].tags[0]) {
                                tags = json_array();
                                for (char **t = sums[i].tags; *t; t++)
                                        json_array_append_new(tags, json_string(*t));
                        }
                gb_image_summaries_free(sums, n_sums);
        }
        rows = json_array();
        hist = json_object_get(cfg, "history");
        if (json_is_array(hist) && json_array_size(hist) > 0) {
                json_array_foreach (hist, i, h) {
                        uint64_t size = 0;
                        if (!json_is_true(json_object_get(h, "empty_layer")) && li < n_layers)
                                size = layers[li++].size;
                        json_array_insert_new(
                                rows, 0,
                                json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>", "Created",
                                          (json_int_t)unix_time(json_string_value(json_object_get(h, "created"))),
                                          "CreatedBy", json_string_value(json_object_get(h, "created_by")) ?: "",
                                          "Tags", "Size", (json_int_t)size, "Comment",
                                          json_string_value(json_object_get(h, "comment")) ?: ""));
                }
        } else {
                long long created = unix_time(json_string_value(json_object_get(cfg, "created")));
                for (i = 0; i < n_layers; i++)
                        json_array_insert_new(rows, 0,
                                              json_pack("{s:s, s:I, s:s, s:n, s:I, s:s}", "Id", "<missing>", "Created",
                                                        (json_int_t)created, "CreatedBy", "", "Tags", "Size",
                                                        (json_int_t)layers[i].size, "Comment", ""));
        }
        gb_layer_metas_free(layers, n_layers);
        if (json_array_size(rows) > 0) {
                json_t *top = json_array_get(rows, 0);
                json_object_set_new(top, "Id", json_string(id));
                json_object_set_new(top, "Tags", tags ? tags : json_null());
        } else
                json_decref(tags);
        conn_json(c, 200, rows);
}
