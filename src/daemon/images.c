/* /images/...: the store as the Engine API shows it. There is no pull:
 * ghostbox has no registry access (images come from `load`/`import`). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "store.h"
#include "util.h"

/* `docker load` archives can be large; a bound still stops a client from
 * filling the disk through us. */
#define MAX_LOAD_BYTES (64ULL * 1024 * 1024 * 1024)

static long long unix_time(const char *ts)
{
        struct tm tm = {0};

        if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (long long)timegm(&tm);
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();
        for (; v && *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

static struct gb_store *open_store(struct conn *c)
{
        struct gb_store *s = NULL;
        struct gb_error err = {0};
        int r = gb_store_open(gbd_engine.cfg.data_root, &s, &err);

        if (r < 0) {
                conn_gb_error(c, r, &err);
                return NULL;
        }
        return s;
}

void h_images_list(struct conn *c, char **caps)
{
        struct gb_store *s = open_store(c);
        struct gb_image_summary *v = NULL;
        struct gb_error err = {0};
        size_t n = 0;
        json_t *out;
        int r;

        if (!s)
                return;
        r = gb_store_list(s, &v, &n, &err);
        gb_store_free(s);
        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        out = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(out,
                                      json_pack("{s:s, s:s, s:o, s:[], s:I, s:I, s:I, s:I, s:{}, s:I}", "Id", v[i].id,
                                                "ParentId", "", "RepoTags", strv_json(v[i].tags), "RepoDigests",
                                                "Created", (json_int_t)unix_time(v[i].created), "Size",
                                                (json_int_t)v[i].size, "VirtualSize", (json_int_t)v[i].size,
                                                "SharedSize", (json_int_t)-1, "Labels", "Containers", (json_int_t)-1));
        gb_image_summaries_free(v, n);
        conn_json(c, 200, out);
}

void h_images_create(struct conn *c, char **caps)
{
        _cleanup_free_ char *from = q_get(c, "fromImage"), *tag = q_get(c, "tag");

        conn_error(c, 404,
                   "ghostbox does not pull from registries: no image '%s%s%s' here. Load it with `docker load -i "
                   "FILE` (a `docker save` archive) or `ghostbox import FILE NAME`",
                   from ? from : "", tag && *tag ? ":" : "", tag ? tag : "");
}

void h_image_inspect(struct conn *c, char **caps)
{
        struct gb_store *s = open_store(c);
        struct gb_image_config *ic = NULL;
        struct gb_image_summary *v = NULL;
        struct gb_error err = {0};
        char id[GB_DIGEST_LEN];
        size_t n = 0;
        json_t *tags = json_array(), *cfg, *doc;
        uint64_t size = 0;
        int r;

        if (!s) {
                json_decref(tags);
                return;
        }
        r = gb_store_resolve(s, caps[0], id, &err);
        if (r == 0)
                r = gb_store_image_config(s, id, &ic, &err);
        if (r < 0) {
                gb_store_free(s);
                json_decref(tags);
                if (r == -ENOENT)
                        conn_error(c, 404, "No such image: %s", caps[0]);
                else
                        conn_gb_error(c, r, &err);
                return;
        }
        if (gb_store_list(s, &v, &n, NULL) == 0) {
                for (size_t i = 0; i < n; i++)
                        if (strcmp(v[i].id, id) == 0) {
                                json_decref(tags);
                                tags = strv_json(v[i].tags);
                                size = v[i].size;
                        }
                gb_image_summaries_free(v, n);
        }
        gb_store_free(s);
        cfg = json_pack("{s:o, s:o, s:o, s:s, s:s, s:s}", "Env", strv_json(ic->env), "Cmd",
                        ic->cmd ? strv_json(ic->cmd) : json_null(), "Entrypoint",
                        ic->entrypoint ? strv_json(ic->entrypoint) : json_null(), "WorkingDir",
                        ic->working_dir ? ic->working_dir : "", "User", ic->user ? ic->user : "", "StopSignal",
                        ic->stop_signal ? ic->stop_signal : "");
        {
                json_t *labels = json_object();
                for (char **l = ic->labels; l && *l; l++) {
                        char *eq = strchr(*l, '=');
                        if (!eq)
                                continue;
                        _cleanup_free_ char *k = strndup(*l, (size_t)(eq - *l));
                        json_object_set_new(labels, k, json_string(eq + 1));
                }
                json_object_set_new(cfg, "Labels", labels);
        }
        doc = json_pack("{s:s, s:o, s:[], s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:{s:s, s:o}, s:{s:s}}", "Id", id,
                        "RepoTags", tags, "RepoDigests", "Parent", "", "Created", ic->created ? ic->created : "",
                        "Config", cfg, "Architecture", ic->architecture ? ic->architecture : "", "Os",
                        ic->os ? ic->os : "linux", "Size", (json_int_t)size, "VirtualSize", (json_int_t)size, "RootFS",
                        "Type", "layers", "Layers", strv_json(ic->diff_ids), "GraphDriver", "Name", "overlay2");
        gb_image_config_free(ic);
        conn_json(c, 200, doc);
}

void h_image_tag(struct conn *c, char **caps)
{
        _cleanup_free_ char *repo = q_get(c, "repo"), *tag = q_get(c, "tag"), *target = NULL;
        struct gb_store *s;
        struct gb_error err = {0};
        int r;

        if (!repo || !*repo) {
                conn_error(c, 400, "repository name (repo) is required");
                return;
        }
        s = open_store(c);
        if (!s)
                return;
        /* Current CLIs send the normalized name (docker.io/library/x); the
         * store, like Docker's, keeps the familiar one. */
        const char *r0 = repo;
        if (gb_str_has_prefix(r0, "docker.io/library/"))
                r0 += strlen("docker.io/library/");
        else if (gb_str_has_prefix(r0, "docker.io/"))
                r0 += strlen("docker.io/");
        target = tag && *tag ? gb_xasprintf("%s:%s", r0, tag) : gb_xstrdup(r0);
        r = gb_store_tag(s, caps[0], target, &err);
        gb_store_free(s);
        if (r == -ENOENT)
                conn_error(c, 404, "No such image: %s", caps[0]);
        else if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_respond(c, 201, NULL, NULL, 0);
}

void h_image_delete(struct conn *c, char **caps)
{
        struct gb_store *s = open_store(c);
        struct gb_error err = {0};
        _cleanup_strv_ char **lines = NULL;
        json_t *out;
        int r;

        if (!s)
                return;
        r = gb_store_rmi(s, caps[0], q_bool(c, "force"), &lines, &err);
        gb_store_free(s);
        if (r == -ENOENT) {
                conn_error(c, 404, "No such image: %s", caps[0]);
                return;
        }
        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        out = json_array();
        for (char **l = lines; l && *l; l++) {
                const char *colon = strchr(*l, ':');
                if (!colon)
                        continue;
                _cleanup_free_ char *k = strndup(*l, (size_t)(colon - *l));
                json_array_append_new(out, json_pack("{s:s}", k, colon[1] == ' ' ? colon + 2 : colon + 1));
        }
        conn_json(c, 200, out);
}

void h_images_load(struct conn *c, char **caps)
{
        _cleanup_free_ char *tmpdir = gb_xasprintf("%s/tmp", gbd_engine.cfg.data_root);
        _cleanup_close_ int fd = -EBADF;
        _cleanup_strv_ char **loaded = NULL;
        struct gb_store *s;
        struct gb_error err = {0};
        struct gb_load_opts lo = {0};
        unsigned long long total = 0;
        char buf[65536];
        ssize_t n;
        json_t *out;
        int r;

        (void)gb_mkdir_p(tmpdir, 0700);
        /* The body goes to an unnamed file first: the store may need to
         * read the archive more than once, and a cut upload leaves nothing. */
        fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
                conn_error(c, 500, "Failed to create a temporary file in '%s': %s", tmpdir, strerror(errno));
                return;
        }
        while ((n = conn_body_read(c, buf, sizeof(buf))) > 0) {
                total += (unsigned long long)n;
                if (total > MAX_LOAD_BYTES) {
                        c->keep_alive = false;
                        conn_error(c, 413, "image archive over %llu bytes", MAX_LOAD_BYTES);
                        return;
                }
                if (gb_write_all(fd, buf, (size_t)n) < 0) {
                        conn_error(c, 500, "Failed to store the upload: %s", strerror(errno));
                        return;
                }
        }
        if (n < 0) {
                c->keep_alive = false;
                conn_error(c, 400, "Failed to read the image archive: %s", strerror((int)-n));
                return;
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
                conn_error(c, 500, "Failed to rewind the upload: %s", strerror(errno));
                return;
        }
        s = open_store(c);
        if (!s)
                return;
        r = gb_store_load(s, fd, &lo, &loaded, &err);
        gb_store_free(s);
        if (r < 0) {
                conn_gb_error(c, r == -ENOENT ? -EINVAL : r, &err);
                return;
        }
        /* A JSON message stream, as the CLI prints it. */
        {
                size_t len = 0;
                char *text = NULL;
                FILE *f = open_memstream(&text, &len);
                for (char **l = loaded; l && *l; l++) {
                        _cleanup_free_ char *line = gb_xasprintf("%s\n", *l);
                        out = json_pack("{s:s}", "stream", line);
                        char *js = json_dumps(out, JSON_COMPACT);
                        fprintf(f, "%s\n", js);
                        free(js);
                        json_decref(out);
                }
                fclose(f);
                conn_respond(c, 200, "application/json", text, len);
                free(text);
        }
}
