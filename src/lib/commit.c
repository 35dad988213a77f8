#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs.h"
#include "cleanup.h"
#include "commit.h"
#include "container.h"
#include "store.h"
#include "util.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

/* Docker's history line for a commit: the container's command. */
static char *created_by(json_t *doc)
{
        const char *path = json_string_value(json_object_get(doc, "Path"));
        json_t *args = json_object_get(doc, "Args"), *a;
        char *s = gb_xstrdup(path ? path : "");
        size_t i;

        json_array_foreach (args, i, a) {
                char *n = gb_xasprintf("%s %s", s, json_string_value(a) ? json_string_value(a) : "");
                free(s);
                s = n;
        }
        return s;
}

GB_EXPORT int gb_engine_commit(struct gb_engine *e, const char *ref, const struct gb_commit_req *req,
                               char ret_id[GB_DIGEST_LEN], struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_(gb_store_freep) struct gb_store *s = NULL;
        _cleanup_json_ json_t *cfg = NULL;
        _cleanup_free_ char *tmpdir = NULL, *by = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *image;
        const char *key;
        json_t *v;
        int r;

        r = gb_container_lookup(e->cfg.data_root, ref, false, &c, err);
        if (r < 0)
                return r;
        image = json_string_value(json_object_get(json_object_get(c->doc, "Ghostbox"), "ImageId"));
        r = gb_cfs_open(e->cfg.data_root, c, &f, err);
        if (r < 0)
                return r;
        if (!image || !*image || !f.upper)
                return gb_error_set(err, EOPNOTSUPP,
                                    "Failed to commit container %.12s: it runs from a --rootfs directory, not an "
                                    "image, so it has no layer of its own (archive the directory with tar instead)",
                                    c->id);
        r = gb_store_open(e->cfg.data_root, &s, err);
        if (r < 0)
                return r;
        /* The layer tar goes to an unnamed file in the store's own tmp
         * (same filesystem, swept at start): nothing to clean up after a
         * crash, and add_layer reads it like any archive. */
        tmpdir = gb_xasprintf("%s/tmp", e->cfg.data_root);
        fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create a temporary file in '%s'", tmpdir);
        r = gb_cfs_layer_tar(&f, fd, err);
        if (r < 0)
                return gb_error_prefix(err, "Failed to commit container %.12s", c->id);
        if (lseek(fd, 0, SEEK_SET) < 0)
                return gb_error_sys(err, errno, "Failed to rewind the layer of container %.12s", c->id);

        cfg = json_deep_copy(json_object_get(c->doc, "Config"));
        if (!json_is_object(cfg)) {
                json_decref(cfg);
                cfg = json_object();
        }
        json_object_foreach (req->config, key, v)
                json_object_set(cfg, key, v);
        by = created_by(c->doc);
        struct gb_commit_opts o = {.parent = image,
                                   .container_config = cfg,
                                   .changes = req->changes,
                                   .comment = req->comment,
                                   .author = req->author,
                                   .created_by = by,
                                   .ref = req->ref,
                                   .container = c->id};
        return gb_store_commit(s, fd, &o, ret_id, err);
}
