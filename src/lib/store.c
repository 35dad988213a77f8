#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive-dl.h"
#include "cleanup.h"
#include "store.h"
#include "util.h"

struct gb_store {
        char *root;
        int lock_fd;
        int lock_depth;
};

static void gb_json_decrefp(json_t **j)
{
        if (*j)
                json_decref(*j);
}
#define _cleanup_json_ _cleanup_(gb_json_decrefp)

static const char *hex_of(const char *digest)
{
        return digest + 7;
}

/* ---- locking ---------------------------------------------------------- */

static int store_lock(struct gb_store *s, int how, struct gb_error *err)
{
        if (s->lock_depth++ > 0)
                return 0;
        while (flock(s->lock_fd, how) < 0) {
                if (errno != EINTR) {
                        s->lock_depth--;
                        return gb_error_sys(err, errno, "Failed to lock the image store");
                }
        }
        return 0;
}

static void store_unlock(struct gb_store *s)
{
        if (--s->lock_depth == 0)
                (void)flock(s->lock_fd, LOCK_UN);
}

/* ---- open ------------------------------------------------------------- */

static void tmp_sweep(struct gb_store *s);

GB_EXPORT int gb_store_open(const char *data_root, struct gb_store **ret, struct gb_error *err)
{
        static const char *const dirs[] = {"layers/sha256", "layers/info", "layers/blobs",
                                           "images/sha256", "images/refs", "tmp"};
        _cleanup_free_ char *lock = NULL;
        struct gb_store *s;
        int r;

        r = gb_mkdir_p(data_root, 0711);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create data root '%s'", data_root);
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
                _cleanup_free_ char *p = gb_xasprintf("%s/%s", data_root, dirs[i]);
                /* layers/ must be traversable by remapped roots: in chown
                 * mode nothing there is used, in idmap mode the idmapped
                 * clone is; either way 0711 reveals no names. */
                r = gb_mkdir_p(p, 0711);
                if (r < 0)
                        return gb_error_sys(err, -r, "Failed to create '%s'", p);
        }
        lock = gb_xasprintf("%s/images/.lock", data_root);
        s = gb_xcalloc(1, sizeof(*s));
        s->root = gb_xstrdup(data_root);
        s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->lock_fd < 0) {
                r = gb_error_sys(err, errno, "Failed to open '%s'", lock);
                gb_store_free(s);
                return r;
        }
        tmp_sweep(s);
        *ret = s;
        return 0;
}

GB_EXPORT void gb_store_free(struct gb_store *s)
{
        if (!s)
                return;
        if (s->lock_fd >= 0)
                close(s->lock_fd);
        free(s->root);
        free(s);
}

GB_EXPORT const char *gb_store_data_root(const struct gb_store *s)
{
        return s->root;
}

/* ---- repositories.json ------------------------------------------------ */

static int repos_read(struct gb_store *s, json_t **ret, struct gb_error *err)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/images/repositories.json", s->root), *buf = NULL;
        json_error_t je;
        json_t *j;
        int r;

        r = gb_read_file_at(AT_FDCWD, p, 64 << 20, &buf, NULL);
        if (r == -ENOENT) {
                *ret = json_object();
                return 0;
        }
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s'", p);
        j = json_loads(buf, 0, &je);
        if (!j || !json_is_object(j)) {
                if (j)
                        json_decref(j);
                return gb_error_set(err, EINVAL,
                                    "Failed to parse '%s' line %d: %s (restore it or remove it to drop "
                                    "all tags)",
                                    p, je.line, je.text);
        }
        *ret = j;
        return 0;
}

static int repos_write(struct gb_store *s, json_t *repos, struct gb_error *err)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/images/repositories.json", s->root);
        _cleanup_free_ char *text = json_dumps(repos, JSON_INDENT(2) | JSON_SORT_KEYS);
        int r;

        if (!text)
                return gb_error_sys(err, ENOMEM, "Failed to serialise tags");
        r = gb_write_file_atomic(p, text, strlen(text), 0600);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", p);
        return 0;
}

/* ---- layers ----------------------------------------------------------- */

static char *layer_path(struct gb_store *s, const char *diff_id)
{
        return gb_xasprintf("%s/layers/sha256/%s", s->root, hex_of(diff_id));
}

static bool layer_exists(struct gb_store *s, const char *diff_id)
{
        _cleanup_free_ char *p = layer_path(s, diff_id);
        _cleanup_free_ char *i = gb_xasprintf("%s/layers/info/%s.json", s->root, hex_of(diff_id));
        return access(p, F_OK) == 0 && access(i, F_OK) == 0;
}

static int layer_info_write(struct gb_store *s, const struct gb_layer_info *info, struct gb_error *err)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/layers/info/%s.json", s->root, hex_of(info->diff_id));
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        j = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:I, s:s, s:I}", "diff_id", info->diff_id,
                      "blob_digest", info->blob_digest, "blob_size", (json_int_t)info->blob_size, "compression",
                      info->compression, "size", (json_int_t)info->size, "entries", (json_int_t)info->entries,
                      "max_uid", (json_int_t)info->max_uid, "max_uid_path", info->max_uid_path, "max_gid",
                      (json_int_t)info->max_gid, "max_gid_path", info->max_gid_path, "dropped_xattrs",
                      (json_int_t)info->dropped_xattrs);
        if (!j)
                return gb_error_set(err, EINVAL, "Failed to build layer metadata");
        text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        r = gb_write_file_atomic(p, text, strlen(text), 0644);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", p);
        return 0;
}

static int layer_info_read(struct gb_store *s, const char *diff_id, json_t **ret, struct gb_error *err)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/layers/info/%s.json", s->root, hex_of(diff_id)), *buf = NULL;
        json_t *j;
        int r;

        r = gb_read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL);
        if (r < 0)
                return gb_error_sys(err, -r,
                                    "Failed to read layer metadata '%s' (the layer is missing: load the "
                                    "image again)",
                                    p);
        j = json_loads(buf, 0, NULL);
        if (!json_is_object(j)) {
                if (j)
                        json_decref(j);
                return gb_error_set(err, EINVAL, "Failed to parse layer metadata '%s'", p);
        }
        *ret = j;
        return 0;
}

/* A private temp dir under <data-root>/tmp, flock()ed while in use: a dir
 * whose lock can be taken belongs to a process that died (crash, SIGKILL)
 * and is swept at the next gb_store_open(). */
struct tmpdir {
        char *path;
        int lock_fd;
};

static void tmpdir_done(struct tmpdir *t)
{
        if (t->path) {
                (void)gb_rm_rf(t->path);
                free(t->path);
                t->path = NULL;
        }
        if (t->lock_fd >= 0)
                close(t->lock_fd);
        t->lock_fd = -EBADF;
}

static int tmpdir_make(struct gb_store *s, const char *prefix, struct tmpdir *t, struct gb_error *err)
{
        char *p = gb_xasprintf("%s/tmp/%s-XXXXXX", s->root, prefix);

        int r;

        t->lock_fd = -EBADF;
        /* Under the store lock (shared): the sweep (exclusive) must not
         * find the dir between mkdtemp() and flock(). */
        r = store_lock(s, LOCK_SH, err);
        if (r < 0) {
                free(p);
                return r;
        }
        if (!mkdtemp(p)) {
                r = gb_error_sys(err, errno, "Failed to create a temp dir in '%s/tmp'", s->root);
                free(p);
                store_unlock(s);
                return r;
        }
        t->path = p;
        t->lock_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->lock_fd < 0 || flock(t->lock_fd, LOCK_EX | LOCK_NB) < 0)
                r = gb_error_sys(err, errno, "Failed to lock '%s'", p);
        store_unlock(s);
        return r;
}

/* Remove what crashed operations left in tmp/: unlocked temp dirs and
 * half-done layer removals (del-*). */
static void tmp_sweep(struct gb_store *s)
{
        _cleanup_free_ char *dir = gb_xasprintf("%s/tmp", s->root);
        _cleanup_(gb_closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        if (store_lock(s, LOCK_EX, NULL) < 0)
                return;
        while (d && (de = readdir(d))) {
                _cleanup_close_ int fd = -EBADF;

                if (de->d_name[0] == '.')
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        continue;
                if (!gb_str_has_prefix(de->d_name, "del-") && flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue; /* in use */
                (void)gb_remove_at(dirfd(d), de->d_name);
        }
        store_unlock(s);
}

/* Extract one layer from fd into a private temp dir, check its diff ID when
 * one is expected, then commit under the lock: metadata and blob first, the
 * tree's rename last, so a layer directory exists only when complete. */
static int add_layer(struct gb_store *s, int fd, const char *expected, const struct gb_load_opts *opts,
                     char ret_diff_id[GB_DIGEST_LEN], bool *ret_new, struct gb_error *err)
{
        _cleanup_(tmpdir_done) struct tmpdir t = {.lock_fd = -EBADF};
        _cleanup_close_ int tree_fd = -EBADF, blob_fd = -EBADF;
        _cleanup_free_ char *tree = NULL, *blob = NULL, *dst = NULL, *dst_blob = NULL;
        struct gb_layer_info info;
        struct gb_layer_opts lo = {.blob_fd = -1};
        int r;

        *ret_new = false;
        r = tmpdir_make(s, "layer", &t, err);
        if (r < 0)
                return r;
        tree = gb_xasprintf("%s/tree", t.path);
        blob = gb_xasprintf("%s/blob", t.path);
        if (mkdir(tree, 0755) < 0)
                return gb_error_sys(err, errno, "Failed to create '%s'", tree);
        tree_fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        blob_fd = open(blob, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (tree_fd < 0 || blob_fd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", t.path);
        lo.blob_fd = blob_fd;
        if (opts) {
                lo.progress = opts->progress;
                lo.progress_userdata = opts->progress_userdata;
        }
        r = gb_layer_extract(fd, tree_fd, &lo, &info, err);
        if (r < 0)
                return r;
        if (expected && strcmp(expected, info.diff_id) != 0)
                return gb_error_set(err, EINVAL,
                                    "Failed to verify layer: its content hashes to %s but the image config says %s "
                                    "(corrupt or tampered archive)",
                                    info.diff_id, expected);
        if (info.dropped_xattrs)
                gb_warn("Dropped %llu extended attribute(s) (trusted.overlay.*, security labels or malformed "
                        "capabilities) from layer %.19s",
                        (unsigned long long)info.dropped_xattrs, info.diff_id);
        /* Data on disk before the names that make it visible. */
        if (fsync(blob_fd) < 0 || syncfs(tree_fd) < 0)
                return gb_error_sys(err, errno, "Failed to sync layer data");

        r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        memcpy(ret_diff_id, info.diff_id, GB_DIGEST_LEN);
        if (layer_exists(s, info.diff_id)) {
                store_unlock(s);
                return 0; /* Someone else (or an earlier image) has it. */
        }
        dst = layer_path(s, info.diff_id);
        dst_blob = gb_xasprintf("%s/layers/blobs/%s", s->root, hex_of(info.diff_id));
        /* A stale tree from a crash between the renames is replaced. */
        (void)gb_rm_rf(dst);
        r = layer_info_write(s, &info, err);
        if (r >= 0 && rename(blob, dst_blob) < 0)
                r = gb_error_sys(err, errno, "Failed to store layer blob '%s'", dst_blob);
        if (r >= 0 && rename(tree, dst) < 0)
                r = gb_error_sys(err, errno, "Failed to store layer '%s'", dst);
        store_unlock(s);
        if (r >= 0)
                *ret_new = true;
        return r;
}

/* ---- images ----------------------------------------------------------- */

static bool image_exists(struct gb_store *s, const char *id)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/images/sha256/%s.json", s->root, hex_of(id));
        return access(p, F_OK) == 0;
}

static int image_config_read(struct gb_store *s, const char *id, char **ret, size_t *ret_len, struct gb_error *err)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/images/sha256/%s.json", s->root, hex_of(id));
        int r = gb_read_file_at(AT_FDCWD, p, GB_MANIFEST_MAX, ret, ret_len);

        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read image config '%s'", p);
        return 0;
}

/* Store config bytes verbatim: the image ID is their digest, and save must
 * reproduce them exactly for load to give the same ID. Every layer must be
 * present before the config appears. */
static int image_commit(struct gb_store *s, const char *data, size_t len, char ret_id[GB_DIGEST_LEN],
                        struct gb_error *err)
{
        _cleanup_(gb_image_config_freep) struct gb_image_config *c = NULL;
        _cleanup_free_ char *p = NULL;
        char id[GB_DIGEST_LEN];
        int r;

        r = gb_image_config_parse(data, len, &c, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_diff_ids; i++)
                if (!layer_exists(s, c->diff_ids[i]))
                        return gb_error_set(err, ENOENT, "Failed to store image: layer %s is missing", c->diff_ids[i]);
        gb_sha256_digest(data, len, id);
        p = gb_xasprintf("%s/images/sha256/%s.json", s->root, hex_of(id));
        r = gb_write_file_atomic(p, data, len, 0644);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", p);
        memcpy(ret_id, id, GB_DIGEST_LEN);
        return 0;
}

static int tag_set(struct gb_store *s, const char *ref, const char *id, struct gb_error *err)
{
        _cleanup_json_ json_t *repos = NULL;
        _cleanup_free_ char *norm = NULL;
        int r;

        r = gb_image_ref_normalize(ref, &norm, err);
        if (r < 0)
                return r;
        r = repos_read(s, &repos, err);
        if (r < 0)
                return r;
        json_object_set_new(repos, norm, json_string(id));
        return repos_write(s, repos, err);
}

/* chown mode keeps shifted copies of a layer per ID range in
 * <data-root>/<uid>.<gid>/shifted/<map key>/<hex>; they go with the layer. */
static void drop_shifted_copies(struct gb_store *s, const char *diff_id)
{
        _cleanup_free_ char *pattern = gb_xasprintf("%s/*.*/shifted/*/%s", s->root, hex_of(diff_id));
        glob_t g;

        if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
                return;
        for (size_t i = 0; i < g.gl_pathc; i++)
                (void)gb_rm_rf(g.gl_pathv[i]);
        globfree(&g);
}

/* Remove layers of the given list that no image references any more. Called
 * under the lock. */
static void gc_layers(struct gb_store *s, char **candidates)
{
        _cleanup_(gb_closedirp) DIR *d = NULL;
        _cleanup_free_ char *dir = gb_xasprintf("%s/images/sha256", s->root);
        struct dirent *de;
        size_t n = gb_strv_len(candidates);
        _cleanup_free_ bool *used = gb_xcalloc(n + 1, sizeof(bool));

        if (n == 0)
                return;
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                _cleanup_(gb_image_config_freep) struct gb_image_config *c = NULL;
                _cleanup_free_ char *buf = NULL;
                size_t len;

                if (de->d_name[0] == '.' || !strstr(de->d_name, ".json") || strstr(de->d_name, ".tmp."))
                        continue;
                if (gb_read_file_at(dirfd(d), de->d_name, GB_MANIFEST_MAX, &buf, &len) < 0)
                        continue;
                if (gb_image_config_parse(buf, len, &c, NULL) < 0)
                        continue;
                for (size_t i = 0; i < n; i++)
                        for (size_t k = 0; k < c->n_diff_ids; k++)
                                if (strcmp(candidates[i], c->diff_ids[k]) == 0)
                                        used[i] = true;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL, *del = NULL, *info = NULL, *blob = NULL;

                if (used[i])
                        continue;
                p = layer_path(s, candidates[i]);
                del = gb_xasprintf("%s/tmp/del-%s", s->root, hex_of(candidates[i]));
                info = gb_xasprintf("%s/layers/info/%s.json", s->root, hex_of(candidates[i]));
                blob = gb_xasprintf("%s/layers/blobs/%s", s->root, hex_of(candidates[i]));
                /* Rename away first: the layer vanishes atomically, the slow
                 * removal can be interrupted and redone. */
                (void)gb_rm_rf(del);
                if (rename(p, del) == 0)
                        (void)gb_rm_rf(del);
                (void)unlink(info);
                (void)unlink(blob);
                drop_shifted_copies(s, candidates[i]);
        }
}

/* ---- import ----------------------------------------------------------- */

GB_EXPORT int gb_image_change_apply(json_t *cfg, const char *change, struct gb_error *err)
{
        _cleanup_free_ char *verb = NULL;
        const char *arg;
        size_t vl = strcspn(change, " \t");

        verb = strndup(change, vl);
        if (!verb)
                return gb_error_sys(err, ENOMEM, "Failed to allocate");
        for (char *p = verb; *p; p++)
                *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        arg = change + vl;
        while (*arg == ' ' || *arg == '\t')
                arg++;
        if (!*arg)
                return gb_error_set(err, EINVAL, "Failed to apply change '%s': %s needs an argument", change, verb);

        if (!strcmp(verb, "CMD") || !strcmp(verb, "ENTRYPOINT") || !strcmp(verb, "VOLUME")) {
                json_t *v = NULL;
                if (arg[0] == '[') {
                        v = json_loads(arg, 0, NULL);
                        size_t i;
                        json_t *x;
                        if (!json_is_array(v)) {
                                if (v)
                                        json_decref(v);
                                return gb_error_set(err, EINVAL,
                                                    "Failed to apply change '%s': not a JSON array of strings", change);
                        }
                        json_array_foreach (v, i, x)
                                if (!json_is_string(x)) {
                                        json_decref(v);
                                        return gb_error_set(err, EINVAL,
                                                            "Failed to apply change '%s': element %zu is not a "
                                                            "string",
                                                            change, i);
                                }
                } else if (!strcmp(verb, "VOLUME"))
                        v = json_pack("[s]", arg);
                else
                        v = json_pack("[s,s,s]", "/bin/sh", "-c", arg); /* shell form */
                if (!strcmp(verb, "VOLUME")) {
                        json_t *vols = json_object_get(cfg, "Volumes");
                        size_t i;
                        json_t *x;
                        if (!json_is_object(vols)) {
                                vols = json_object();
                                json_object_set_new(cfg, "Volumes", vols);
                        }
                        json_array_foreach (v, i, x)
                                json_object_set_new(vols, json_string_value(x), json_object());
                        json_decref(v);
                } else
                        json_object_set_new(cfg, !strcmp(verb, "CMD") ? "Cmd" : "Entrypoint", v);
                return 0;
        }
        if (!strcmp(verb, "ENV") || !strcmp(verb, "LABEL")) {
                _cleanup_free_ char *key = NULL, *val = NULL;
                const char *eq = strchr(arg, '='), *sp = arg + strcspn(arg, " \t");

                if (eq && eq < sp) {
                        key = strndup(arg, (size_t)(eq - arg));
                        val = gb_xstrdup(eq + 1);
                } else {
                        key = strndup(arg, (size_t)(sp - arg));
                        while (*sp == ' ' || *sp == '\t')
                                sp++;
                        val = gb_xstrdup(sp);
                }
                /* Strip one level of double quotes, as the Dockerfile does. */
                size_t l = strlen(val);
                if (l >= 2 && val[0] == '"' && val[l - 1] == '"') {
                        memmove(val, val + 1, l - 2);
                        val[l - 2] = '\0';
                }
                if (!key || !key[0])
                        return gb_error_set(err, EINVAL, "Failed to apply change '%s': missing name", change);
                if (!strcmp(verb, "LABEL")) {
                        json_t *labels = json_object_get(cfg, "Labels");
                        if (!json_is_object(labels)) {
                                labels = json_object();
                                json_object_set_new(cfg, "Labels", labels);
                        }
                        json_object_set_new(labels, key, json_string(val));
                } else {
                        json_t *env = json_object_get(cfg, "Env"), *x;
                        size_t i, kl = strlen(key);
                        _cleanup_free_ char *kv = gb_xasprintf("%s=%s", key, val);
                        if (!json_is_array(env)) {
                                env = json_array();
                                json_object_set_new(cfg, "Env", env);
                        }
                        json_array_foreach (env, i, x) {
                                const char *e = json_string_value(x);
                                if (e && strncmp(e, key, kl) == 0 && e[kl] == '=') {
                                        json_array_set_new(env, i, json_string(kv));
                                        return 0;
                                }
                        }
                        json_array_append_new(env, json_string(kv));
                }
                return 0;
        }
        if (!strcmp(verb, "WORKDIR") || !strcmp(verb, "USER") || !strcmp(verb, "STOPSIGNAL")) {
                json_object_set_new(cfg,
                                    !strcmp(verb, "WORKDIR") ? "WorkingDir"
                                    : !strcmp(verb, "USER")  ? "User"
                                                             : "StopSignal",
                                    json_string(arg));
                return 0;
        }
        if (!strcmp(verb, "EXPOSE")) {
                json_t *ports = json_object_get(cfg, "ExposedPorts");
                _cleanup_free_ char *port = strchr(arg, '/') ? gb_xstrdup(arg) : gb_xasprintf("%s/tcp", arg);
                if (!json_is_object(ports)) {
                        ports = json_object();
                        json_object_set_new(cfg, "ExposedPorts", ports);
                }
                json_object_set_new(ports, port, json_object());
                return 0;
        }
        return gb_error_set(err, EINVAL,
                            "Failed to apply change '%s': '%s' is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                            "STOPSIGNAL, USER, VOLUME, WORKDIR",
                            change, verb);
}

static char *now_rfc3339(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return gb_xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

/* Store a new image's config (and tag it) under the lock; on failure drop
 * its new layer (fresh_layer, NULL when the layer was there before). */
static int store_image(struct gb_store *s, const char *text, const char *norm, char *fresh_layer,
                       char ret_id[GB_DIGEST_LEN], struct gb_error *err)
{
        char *cands[2] = {fresh_layer, NULL};
        char id[GB_DIGEST_LEN];
        int r;

        r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        r = image_commit(s, text, strlen(text), id, err);
        if (r >= 0 && norm)
                r = tag_set(s, norm, id, err);
        if (r < 0 && fresh_layer)
                gc_layers(s, cands);
        store_unlock(s);
        if (r < 0)
                return r;
        memcpy(ret_id, id, GB_DIGEST_LEN);
        return 0;
}

GB_EXPORT int gb_store_import(struct gb_store *s, int fd, const char *ref, char *const *changes,
                              const struct gb_load_opts *opts, char ret_id[GB_DIGEST_LEN], struct gb_error *err)
{
        _cleanup_json_ json_t *cfg = json_object(), *root = NULL;
        _cleanup_free_ char *created = now_rfc3339(), *text = NULL, *norm = NULL;
        char diff_id[GB_DIGEST_LEN];
        bool fresh;
        int r;

        if (ref) {
                r = gb_image_ref_normalize(ref, &norm, err);
                if (r < 0)
                        return r;
        }
        /* Docker's default PATH; an ENV PATH=... change replaces it. */
        json_object_set_new(cfg, "Env",
                            json_pack("[s]", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        for (char *const *c = changes; c && *c; c++) {
                r = gb_image_change_apply(cfg, *c, err);
                if (r < 0)
                        return r;
        }
        r = add_layer(s, fd, NULL, opts, diff_id, &fresh, err);
        if (r < 0)
                return r;
        root = json_pack("{s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s, s:s}]}", "architecture", "amd64",
                         "created", created, "os", "linux", "config", cfg, "rootfs", "type", "layers", "diff_ids",
                         diff_id, "history", "created", created, "created_by", "ghostbox import", "comment",
                         "Imported from tarball");
        if (!root)
                return gb_error_set(err, EINVAL, "Failed to build the image config");
        text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        return store_image(s, text, norm, fresh ? diff_id : NULL, ret_id, err);
}

/* The container's settings that become the image's, as Docker's commit
 * takes them: the container's Config already holds the image's values
 * merged with its own flags. */
static const char *const commit_keys[] = {"Cmd",        "Entrypoint",  "Env",          "WorkingDir",
                                          "User",       "Labels",      "ExposedPorts", "Volumes",
                                          "StopSignal", "Healthcheck", "OnBuild",      "Shell"};

static const char *host_arch(void);

GB_EXPORT int gb_store_image_config_json(struct gb_store *s, const char *id, json_t **ret, struct gb_error *err)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_json_ json_t *root = NULL;
        json_error_t jerr;
        size_t len;
        json_t *cfg;
        int r;

        r = image_config_read(s, id, &buf, &len, err);
        if (r < 0)
                return r;
        root = json_loadb(buf, len, 0, &jerr);
        if (!json_is_object(root))
                return gb_error_set(err, EINVAL, "Failed to parse the config of image %.19s: %s", id, jerr.text);
        cfg = json_object_get(root, "config");
        *ret = json_is_object(cfg) ? json_deep_copy(cfg) : json_object();
        return 0;
}

GB_EXPORT int gb_store_commit(struct gb_store *s, int layer_fd, const struct gb_commit_opts *o,
                              char ret_id[GB_DIGEST_LEN], struct gb_error *err)
{
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ char *created = now_rfc3339(), *text = NULL, *norm = NULL, *pbuf = NULL;
        char diff_id[GB_DIGEST_LEN];
        json_error_t jerr;
        json_t *cfg, *rootfs, *diff_ids, *history, *h;
        size_t plen;
        bool fresh;
        int r;

        if (o->ref) {
                r = gb_image_ref_normalize(o->ref, &norm, err);
                if (r < 0)
                        return r;
        }
        if (o->parent) {
                r = image_config_read(s, o->parent, &pbuf, &plen, err);
                if (r < 0)
                        return gb_error_prefix(err, "Failed to commit: the container's image %.19s is gone", o->parent);
                root = json_loadb(pbuf, plen, 0, &jerr);
                if (!json_is_object(root))
                        return gb_error_set(err, EINVAL,
                                            "Failed to commit: the config of image %.19s does not parse: %s", o->parent,
                                            jerr.text);
        } else
                root = json_pack("{s:s, s:s, s:{s:s, s:[]}, s:{}, s:[]}", "architecture", host_arch(), "os", "linux",
                                 "rootfs", "type", "layers", "diff_ids", "config", "history");
        if (o->config)
                json_object_set_new(root, "config", json_deep_copy(o->config));
        cfg = json_object_get(root, "config");
        if (!json_is_object(cfg)) {
                cfg = json_object();
                json_object_set_new(root, "config", cfg);
        }
        for (size_t i = 0; o->container_config && i < ARRAY_SIZE(commit_keys); i++) {
                json_t *v = json_object_get(o->container_config, commit_keys[i]);
                if (v && !json_is_null(v))
                        json_object_set_new(cfg, commit_keys[i], json_deep_copy(v));
        }
        for (char *const *c = o->changes; c && *c; c++) {
                r = gb_image_change_apply(cfg, *c, err);
                if (r < 0)
                        return r;
        }
        rootfs = json_object_get(root, "rootfs");
        diff_ids = json_object_get(rootfs, "diff_ids");
        if (!json_is_array(diff_ids))
                return gb_error_set(err, EINVAL, "Failed to commit: image %.19s has no rootfs.diff_ids", o->parent);

        fresh = false;
        if (layer_fd >= 0) {
                r = add_layer(s, layer_fd, NULL, NULL, diff_id, &fresh, err);
                if (r < 0)
                        return gb_error_prefix(err, "Failed to store the container's layer");
                json_array_append_new(diff_ids, json_string(diff_id));
        }
        history = json_object_get(root, "history");
        if (!json_is_array(history)) {
                history = json_array();
                json_object_set_new(root, "history", history);
        }
        h = json_pack("{s:s, s:s}", "created", created, "created_by",
                      o->created_by ? o->created_by : "ghostbox commit");
        if (layer_fd < 0)
                json_object_set_new(h, "empty_layer", json_true());
        if (o->comment && *o->comment)
                json_object_set_new(h, "comment", json_string(o->comment));
        if (o->author && *o->author) {
                json_object_set_new(h, "author", json_string(o->author));
                json_object_set_new(root, "author", json_string(o->author));
        }
        json_array_append_new(history, h);
        json_object_set_new(root, "created", json_string(created));
        if (o->container)
                json_object_set_new(root, "container", json_string(o->container));
        else
                json_object_del(root, "container"); /* the parent's, if it was a commit */
        text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                return gb_error_set(err, ENOMEM, "Failed to build the image config");

        return store_image(s, text, norm, fresh ? diff_id : NULL, ret_id, err);
}

/* ---- load ------------------------------------------------------------- */

static int read_in_root(int root_fd, const char *path, size_t max, char **ret, size_t *ret_len, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = gb_open_in_root(root_fd, path, O_RDONLY, &fd, err);
        if (r < 0)
                return r;
        char p[64];
        (void)snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        r = gb_read_file_at(AT_FDCWD, p, max, ret, ret_len);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s' from the archive", path);
        return 0;
}

struct loader {
        struct gb_store *s;
        int root_fd; /* the extracted outer archive */
        const struct gb_load_opts *opts;
        char **fresh_layers;
        char **lines;
};

static void strv_push(char ***v, char *s)
{
        size_t n = gb_strv_len(*v);
        *v = gb_xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

/* Verify a blob inside the archive against its digest. */
static int blob_verify(int root_fd, const char *path, const char *digest, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char got[GB_DIGEST_LEN], p[64];
        int r;

        r = gb_open_in_root(root_fd, path, O_RDONLY, &fd, err);
        if (r < 0)
                return r;
        (void)snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        r = gb_sha256_file_at(AT_FDCWD, p, got);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s'", path);
        if (strcmp(got, digest) != 0)
                return gb_error_set(err, EINVAL, "Failed to verify '%s': content is %s, expected %s", path, got,
                                    digest);
        return 0;
}

/* One image: its config bytes and its layer files (paths in the archive),
 * bottom to top; tags already validated. */
static int load_image(struct loader *l, const char *config, size_t config_len, char *const *layer_paths,
                      char *const *tags, struct gb_error *err)
{
        _cleanup_(gb_image_config_freep) struct gb_image_config *c = NULL;
        char id[GB_DIGEST_LEN];
        int r;

        r = gb_image_config_parse(config, config_len, &c, err);
        if (r < 0)
                return r;
        if (gb_strv_len(layer_paths) != c->n_diff_ids)
                return gb_error_set(err, EINVAL, "Failed to load image: %zu layer files but %zu diff IDs in its config",
                                    gb_strv_len(layer_paths), c->n_diff_ids);
        for (size_t i = 0; i < c->n_diff_ids; i++) {
                _cleanup_close_ int fd = -EBADF;
                char got[GB_DIGEST_LEN];
                bool fresh;

                if (layer_exists(l->s, c->diff_ids[i]))
                        continue;
                r = gb_open_in_root(l->root_fd, layer_paths[i], O_RDONLY, &fd, err);
                if (r < 0)
                        return r;
                r = add_layer(l->s, fd, c->diff_ids[i], l->opts, got, &fresh, err);
                if (r < 0)
                        return gb_error_prefix(err, "Failed to load layer '%s'", layer_paths[i]);
                if (fresh)
                        strv_push(&l->fresh_layers, gb_xstrdup(got));
        }
        r = store_lock(l->s, LOCK_EX, err);
        if (r < 0)
                return r;
        r = image_commit(l->s, config, config_len, id, err);
        for (char *const *t = tags; r >= 0 && t && *t; t++)
                r = tag_set(l->s, *t, id, err);
        store_unlock(l->s);
        if (r < 0)
                return r;
        if (tags && *tags)
                for (char *const *t = tags; *t; t++)
                        strv_push(&l->lines, gb_xasprintf("Loaded image: %s", *t));
        else
                strv_push(&l->lines, gb_xasprintf("Loaded image ID: %s", id));
        return 0;
}

static int load_docker(struct loader *l, const char *mbuf, size_t mlen, struct gb_error *err)
{
        _cleanup_(gb_docker_manifest_freep) struct gb_docker_manifest *m = NULL;
        int r;

        r = gb_docker_manifest_parse(mbuf, mlen, &m, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n; i++) {
                _cleanup_free_ char *cfg = NULL;
                _cleanup_strv_ char **tags = NULL;
                size_t len;

                for (char **t = m->e[i].repo_tags; *t; t++) {
                        char *norm;
                        r = gb_image_ref_normalize(*t, &norm, err);
                        if (r < 0)
                                return r;
                        strv_push(&tags, norm);
                }
                r = read_in_root(l->root_fd, m->e[i].config, GB_MANIFEST_MAX, &cfg, &len, err);
                if (r < 0)
                        return r;
                r = load_image(l, cfg, len, m->e[i].layers, tags, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static char *blob_path(const char *digest)
{
        return gb_xasprintf("blobs/sha256/%s", hex_of(digest));
}

static int load_oci_manifest(struct loader *l, const struct gb_oci_descriptor *d, const char *ref_name,
                             struct gb_error *err)
{
        _cleanup_(gb_oci_manifest_freep) struct gb_oci_manifest *m = NULL;
        _cleanup_free_ char *mp = blob_path(d->digest), *mbuf = NULL, *cp = NULL, *cfg = NULL;
        _cleanup_strv_ char **layers = NULL, **tags = NULL;
        size_t mlen, clen;
        int r;

        r = blob_verify(l->root_fd, mp, d->digest, err);
        if (r < 0)
                return r;
        r = read_in_root(l->root_fd, mp, GB_MANIFEST_MAX, &mbuf, &mlen, err);
        if (r < 0)
                return r;
        r = gb_oci_manifest_parse(mbuf, mlen, &m, err);
        if (r < 0)
                return r;
        cp = blob_path(m->config.digest);
        r = blob_verify(l->root_fd, cp, m->config.digest, err);
        if (r < 0)
                return r;
        r = read_in_root(l->root_fd, cp, GB_MANIFEST_MAX, &cfg, &clen, err);
        if (r < 0)
                return r;
        layers = gb_xcalloc(1, sizeof(char *));
        for (size_t i = 0; i < m->n_layers; i++) {
                char *lp = blob_path(m->layers[i].digest);
                strv_push(&layers, lp);
                r = blob_verify(l->root_fd, lp, m->layers[i].digest, err);
                if (r < 0)
                        return r;
        }
        /* org.opencontainers.image.ref.name is often a bare tag; only a
         * name with a repository can become a tag here. */
        if (ref_name && strpbrk(ref_name, ":/")) {
                char *norm;
                r = gb_image_ref_normalize(ref_name, &norm, err);
                if (r < 0)
                        return r;
                strv_push(&tags, norm);
        }
        return load_image(l, cfg, clen, layers, tags, err);
}

/* The platform this host runs, in OCI's words. */
static const char *host_arch(void)
{
#if defined(__x86_64__)
        return "amd64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__arm__)
        return "arm";
#elif defined(__i386__)
        return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "ppc64le";
#elif defined(__s390x__)
        return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
        return "riscv64";
#else
        return "unknown";
#endif
}

/* An index: at the top, every entry is an image; inside (a multi-platform
 * image), only the entry for this host's platform is loaded, under the
 * name the outer entry carried. */
static int load_oci(struct loader *l, const char *ibuf, size_t ilen, int depth, const char *ref_name,
                    struct gb_error *err)
{
        _cleanup_(gb_oci_index_freep) struct gb_oci_index *idx = NULL;
        size_t loaded = 0;
        int r;

        r = gb_oci_index_parse(ibuf, ilen, &idx, err);
        if (r < 0)
                return r;
        if (idx->n == 0)
                return gb_error_set(err, EINVAL, "Failed to load: the OCI index lists no images");
        for (size_t i = 0; i < idx->n; i++) {
                const struct gb_oci_descriptor *d = &idx->manifests[i];
                const char *mt = d->media_type ? d->media_type : "";
                const char *name = depth == 0 ? d->ref_name : ref_name;

                if (depth > 0 && ((d->os && strcmp(d->os, "linux") != 0) ||
                                  (d->architecture && strcmp(d->architecture, host_arch()) != 0)))
                        continue;
                if (depth > 0 && loaded > 0)
                        break;
                if (strstr(mt, "index") || strstr(mt, "manifest.list")) {
                        _cleanup_free_ char *p = blob_path(d->digest), *buf = NULL;
                        size_t len;

                        if (depth > 2)
                                return gb_error_set(err, ELOOP, "Failed to load: OCI indexes nested too deep");
                        r = blob_verify(l->root_fd, p, d->digest, err);
                        if (r < 0)
                                return r;
                        r = read_in_root(l->root_fd, p, GB_MANIFEST_MAX, &buf, &len, err);
                        if (r < 0)
                                return r;
                        r = load_oci(l, buf, len, depth + 1, name, err);
                } else if (strstr(mt, "attestation") || (d->os && !strcmp(d->os, "unknown")))
                        continue; /* buildx provenance, not an image */
                else
                        r = load_oci_manifest(l, d, name, err);
                if (r < 0)
                        return r;
                loaded++;
        }
        if (loaded == 0)
                return gb_error_set(err, ENOENT, "Failed to load: no image for linux/%s in the OCI index", host_arch());
        return 0;
}

GB_EXPORT int gb_store_load(struct gb_store *s, int fd, const struct gb_load_opts *opts, char ***ret_loaded,
                            struct gb_error *err)
{
        _cleanup_(tmpdir_done) struct tmpdir t = {.lock_fd = -EBADF};
        _cleanup_close_ int root_fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        /* Progress follows the input archive; the layers inside it are
         * extracted without a bar of their own. */
        struct loader l = {.s = s, .opts = NULL};
        struct gb_layer_opts lo = {.flags = GB_LAYER_PLAIN, .blob_fd = -1};
        struct gb_layer_info info;
        size_t len;
        int r;

        r = tmpdir_make(s, "load", &t, err);
        if (r < 0)
                return r;
        root_fd = open(t.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", t.path);
        if (opts) {
                lo.progress = opts->progress;
                lo.progress_userdata = opts->progress_userdata;
        }
        /* The outer archive goes through the same confined extractor as
         * layers (plain mode): its names are as hostile as a layer's. */
        r = gb_layer_extract(fd, root_fd, &lo, &info, err);
        if (r < 0)
                return gb_error_prefix(err, "Failed to load");
        l.root_fd = root_fd;
        if (read_in_root(root_fd, "manifest.json", GB_MANIFEST_MAX, &buf, &len, NULL) >= 0)
                r = load_docker(&l, buf, len, err);
        else if (read_in_root(root_fd, "index.json", GB_MANIFEST_MAX, &buf, &len, NULL) >= 0)
                r = load_oci(&l, buf, len, 0, NULL, err);
        else
                r = gb_error_set(err, EINVAL,
                                 "Failed to load: the archive has neither manifest.json (docker save) "
                                 "nor index.json (OCI image layout)");
        if (r < 0) {
                /* Layers this call added and no image took stay behind only
                 * as garbage: remove them. */
                if (store_lock(s, LOCK_EX, NULL) >= 0) {
                        gc_layers(s, l.fresh_layers);
                        store_unlock(s);
                }
                gb_strv_free(l.fresh_layers);
                gb_strv_free(l.lines);
                return r;
        }
        gb_strv_free(l.fresh_layers);
        *ret_loaded = l.lines ? l.lines : gb_xcalloc(1, sizeof(char *));
        return 0;
}

/* ---- resolve / list / tag / rmi -------------------------------------- */

static bool all_hex(const char *s)
{
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

static int resolve_locked(struct gb_store *s, const char *name, char ret_id[GB_DIGEST_LEN], char **ret_tag,
                          struct gb_error *err)
{
        _cleanup_json_ json_t *repos = NULL;
        _cleanup_free_ char *norm = NULL;
        const char *hex = gb_str_has_prefix(name, "sha256:") ? name + 7 : name;
        int r;

        if (ret_tag)
                *ret_tag = NULL;
        r = repos_read(s, &repos, err);
        if (r < 0)
                return r;
        if (!gb_str_has_prefix(name, "sha256:") && gb_image_ref_normalize(name, &norm, NULL) >= 0) {
                json_t *v = json_object_get(repos, norm);
                if (json_is_string(v) && gb_digest_valid(json_string_value(v))) {
                        memcpy(ret_id, json_string_value(v), GB_DIGEST_LEN);
                        if (ret_tag)
                                *ret_tag = TAKE_PTR(norm);
                        return 0;
                }
        }
        if (strlen(hex) >= 4 && strlen(hex) <= 64 && all_hex(hex)) {
                _cleanup_(gb_closedirp) DIR *d = NULL;
                _cleanup_free_ char *dir = gb_xasprintf("%s/images/sha256", s->root);
                struct dirent *de;
                int found = 0;

                d = opendir(dir);
                while (d && (de = readdir(d))) {
                        if (strlen(de->d_name) != 69 || strcmp(de->d_name + 64, ".json") != 0)
                                continue;
                        if (strncmp(de->d_name, hex, strlen(hex)) == 0) {
                                if (found++)
                                        return gb_error_set(err, EINVAL,
                                                            "Failed to find image '%s': the ID prefix is "
                                                            "ambiguous",
                                                            name);
                                (void)snprintf(ret_id, GB_DIGEST_LEN, "sha256:%.64s", de->d_name);
                        }
                }
                if (found)
                        return 0;
        }
        return gb_error_set(err, ENOENT, "Failed to find image '%s': No such image", name);
}

GB_EXPORT int gb_store_resolve(struct gb_store *s, const char *name, char ret_id[GB_DIGEST_LEN], struct gb_error *err)
{
        int r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        r = resolve_locked(s, name, ret_id, NULL, err);
        store_unlock(s);
        return r;
}

static uint64_t image_size(struct gb_store *s, const struct gb_image_config *c)
{
        uint64_t total = 0;

        for (size_t i = 0; i < c->n_diff_ids; i++) {
                _cleanup_json_ json_t *j = NULL;
                if (layer_info_read(s, c->diff_ids[i], &j, NULL) >= 0)
                        total += (uint64_t)json_integer_value(json_object_get(j, "size"));
        }
        return total;
}

GB_EXPORT void gb_image_summaries_free(struct gb_image_summary *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                gb_strv_free(v[i].tags);
                free(v[i].created);
        }
        free(v);
}

GB_EXPORT int gb_store_list(struct gb_store *s, struct gb_image_summary **ret, size_t *ret_n, struct gb_error *err)
{
        _cleanup_json_ json_t *repos = NULL;
        _cleanup_(gb_closedirp) DIR *d = NULL;
        _cleanup_free_ char *dir = gb_xasprintf("%s/images/sha256", s->root);
        struct gb_image_summary *v = NULL;
        struct dirent *de;
        size_t n = 0;
        int r;

        r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        r = repos_read(s, &repos, err);
        if (r < 0)
                goto out;
        d = opendir(dir);
        if (!d) {
                r = gb_error_sys(err, errno, "Failed to open '%s'", dir);
                goto out;
        }
        while ((de = readdir(d))) {
                _cleanup_(gb_image_config_freep) struct gb_image_config *c = NULL;
                _cleanup_free_ char *buf = NULL;
                struct gb_image_summary *e;
                const char *k;
                json_t *val;
                size_t len;

                if (strlen(de->d_name) != 69 || strcmp(de->d_name + 64, ".json") != 0)
                        continue;
                if (gb_read_file_at(dirfd(d), de->d_name, GB_MANIFEST_MAX, &buf, &len) < 0 ||
                    gb_image_config_parse(buf, len, &c, NULL) < 0)
                        continue;
                v = gb_xrealloc(v, (n + 1) * sizeof(*v));
                e = &v[n++];
                memset(e, 0, sizeof(*e));
                (void)snprintf(e->id, sizeof(e->id), "sha256:%.64s", de->d_name);
                e->tags = gb_xcalloc(1, sizeof(char *));
                json_object_foreach (repos, k, val)
                        if (json_is_string(val) && !strcmp(json_string_value(val), e->id))
                                strv_push(&e->tags, gb_xstrdup(k));
                e->created = c->created ? gb_xstrdup(c->created) : gb_xstrdup("");
                e->size = image_size(s, c);
        }
        *ret = v;
        *ret_n = n;
        v = NULL;
        r = 0;
out:
        store_unlock(s);
        gb_image_summaries_free(v, n);
        return r;
}

GB_EXPORT int gb_store_tag(struct gb_store *s, const char *source, const char *target, struct gb_error *err)
{
        char id[GB_DIGEST_LEN];
        int r;

        r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        r = resolve_locked(s, source, id, NULL, err);
        if (r >= 0)
                r = tag_set(s, target, id, err);
        store_unlock(s);
        return r;
}

static int in_use_locked(struct gb_store *s, const char *id, char **ret_holder, struct gb_error *err)
{
        _cleanup_free_ char *dir = gb_xasprintf("%s/images/refs/%s", s->root, hex_of(id));
        _cleanup_(gb_closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : gb_error_sys(err, errno, "Failed to open '%s'", dir);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (ret_holder)
                        *ret_holder = gb_xstrdup(de->d_name);
                return 1;
        }
        return 0;
}

GB_EXPORT int gb_store_rmi(struct gb_store *s, const char *name, bool force, char ***ret_lines, struct gb_error *err)
{
        _cleanup_json_ json_t *repos = NULL;
        _cleanup_free_ char *tag = NULL, *holder = NULL, *cfgp = NULL, *buf = NULL;
        _cleanup_(gb_image_config_freep) struct gb_image_config *c = NULL;
        _cleanup_strv_ char **lines = NULL, **tags = NULL;
        char id[GB_DIGEST_LEN];
        const char *k;
        json_t *v;
        void *tmp;
        size_t len;
        int r;

        r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        r = resolve_locked(s, name, id, &tag, err);
        if (r < 0)
                goto out;
        r = repos_read(s, &repos, err);
        if (r < 0)
                goto out;
        tags = gb_xcalloc(1, sizeof(char *));
        json_object_foreach (repos, k, v)
                if (json_is_string(v) && !strcmp(json_string_value(v), id))
                        strv_push(&tags, gb_xstrdup(k));
        lines = gb_xcalloc(1, sizeof(char *));
        if (tag && gb_strv_len(tags) > 1) {
                /* Other names remain: untag only. */
                json_object_del(repos, tag);
                r = repos_write(s, repos, err);
                if (r >= 0)
                        strv_push(&lines, gb_xasprintf("Untagged: %s", tag));
                goto done;
        }
        if (!tag && gb_strv_len(tags) > 1 && !force) {
                r = gb_error_set(err, EBUSY,
                                 "Failed to remove image %.19s: it is referenced by %zu tags (remove the tags, or use "
                                 "-f)",
                                 id, gb_strv_len(tags));
                goto out;
        }
        r = in_use_locked(s, id, &holder, err);
        if (r < 0)
                goto out;
        if (r > 0) {
                r = gb_error_set(err, EBUSY,
                                 "Failed to remove image %s: image is being used by container %s (remove the container "
                                 "first)",
                                 tag ? tag : id, holder);
                goto out;
        }
        json_object_foreach_safe(repos, tmp, k, v) if (json_is_string(v) && !strcmp(json_string_value(v), id))
        {
                strv_push(&lines, gb_xasprintf("Untagged: %s", k));
                json_object_del(repos, k);
        }
        r = repos_write(s, repos, err);
        if (r < 0)
                goto out;
        cfgp = gb_xasprintf("%s/images/sha256/%s.json", s->root, hex_of(id));
        if (gb_read_file_at(AT_FDCWD, cfgp, GB_MANIFEST_MAX, &buf, &len) >= 0)
                (void)gb_image_config_parse(buf, len, &c, NULL);
        if (unlink(cfgp) < 0 && errno != ENOENT) {
                r = gb_error_sys(err, errno, "Failed to remove '%s'", cfgp);
                goto out;
        }
        strv_push(&lines, gb_xasprintf("Deleted: %s", id));
        if (c)
                gc_layers(s, c->diff_ids);
done:
        if (r >= 0)
                *ret_lines = TAKE_PTR(lines);
out:
        store_unlock(s);
        return r;
}

/* The layers of every image with their sizes, as a JSON object
 * {diff_id: size} (a set: shared layers once). */
static json_t *layer_sizes(struct gb_store *s, struct gb_image_summary *v, size_t n)
{
        json_t *set = json_object();

        for (size_t i = 0; i < n; i++) {
                struct gb_layer_meta *m = NULL;
                size_t nm = 0;
                if (gb_store_image_layers(s, v[i].id, &m, &nm, NULL) < 0)
                        continue;
                for (size_t k = 0; k < nm; k++)
                        json_object_set_new(set, m[k].diff_id, json_integer((json_int_t)m[k].size));
                gb_layer_metas_free(m, nm);
        }
        return set;
}

GB_EXPORT int gb_store_prune(struct gb_store *s, bool all, bool (*wanted)(const struct gb_image_summary *, void *),
                             void *data, char ***ret_lines, uint64_t *ret_reclaimed, struct gb_error *err)
{
        _cleanup_strv_ char **lines = gb_xcalloc(1, sizeof(char *));
        _cleanup_json_ json_t *before = NULL;
        struct gb_image_summary *v = NULL;
        const char *k;
        json_t *x;
        size_t n = 0;
        uint64_t reclaimed = 0;
        int r;

        r = gb_store_list(s, &v, &n, err);
        if (r < 0)
                return r;
        before = layer_sizes(s, v, n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_strv_ char **got = NULL;
                int busy;

                if (!all && v[i].tags && v[i].tags[0])
                        continue;
                if (wanted && !wanted(&v[i], data))
                        continue;
                busy = gb_store_image_in_use(s, v[i].id, NULL, NULL);
                if (busy != 0)
                        continue; /* in use (or unknown): never pruned */
                /* force: an unused image with several tags goes as a whole. */
                if (gb_store_rmi(s, v[i].id, true, &got, NULL) < 0)
                        continue; /* taken meanwhile: left, as Docker does */
                for (char **g = got; g && *g; g++)
                        strv_push(&lines, gb_xstrdup(*g));
        }
        gb_image_summaries_free(v, n);
        json_object_foreach (before, k, x)
                if (!layer_exists(s, k))
                        reclaimed += (uint64_t)json_integer_value(x);
        *ret_lines = TAKE_PTR(lines);
        if (ret_reclaimed)
                *ret_reclaimed = reclaimed;
        return 0;
}

GB_EXPORT int gb_store_image_config(struct gb_store *s, const char *id, struct gb_image_config **ret,
                                    struct gb_error *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        if (!gb_digest_valid(id))
                return gb_error_set(err, EINVAL, "Failed to read image config: '%s' is not an image ID", id);
        r = image_config_read(s, id, &buf, &len, err);
        if (r < 0)
                return r;
        return gb_image_config_parse(buf, len, ret, err);
}

GB_EXPORT void gb_layer_metas_free(struct gb_layer_meta *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i].path);
        free(v);
}

GB_EXPORT int gb_store_image_layers(struct gb_store *s, const char *id, struct gb_layer_meta **ret, size_t *ret_n,
                                    struct gb_error *err)
{
        _cleanup_(gb_image_config_freep) struct gb_image_config *c = NULL;
        struct gb_layer_meta *v;
        int r;

        r = gb_store_image_config(s, id, &c, err);
        if (r < 0)
                return r;
        v = gb_xcalloc(c->n_diff_ids + 1, sizeof(*v));
        for (size_t i = 0; i < c->n_diff_ids; i++) {
                _cleanup_json_ json_t *j = NULL;
                const char *p;

                r = layer_info_read(s, c->diff_ids[i], &j, err);
                if (r < 0) {
                        gb_layer_metas_free(v, c->n_diff_ids);
                        return r;
                }
                memcpy(v[i].diff_id, c->diff_ids[i], GB_DIGEST_LEN);
                v[i].path = layer_path(s, c->diff_ids[i]);
                v[i].max_uid = (uint32_t)json_integer_value(json_object_get(j, "max_uid"));
                v[i].max_gid = (uint32_t)json_integer_value(json_object_get(j, "max_gid"));
                v[i].size = (uint64_t)json_integer_value(json_object_get(j, "size"));
                v[i].entries = (uint64_t)json_integer_value(json_object_get(j, "entries"));
                p = json_string_value(json_object_get(j, "max_uid_path"));
                (void)snprintf(v[i].max_uid_path, sizeof(v[i].max_uid_path), "%s", p ? p : "?");
                p = json_string_value(json_object_get(j, "max_gid_path"));
                (void)snprintf(v[i].max_gid_path, sizeof(v[i].max_gid_path), "%s", p ? p : "?");
        }
        *ret = v;
        *ret_n = c->n_diff_ids;
        return 0;
}

/* ---- in use ------------------------------------------------------------ */

static int holder_valid(const char *h)
{
        size_t n = strlen(h);
        if (n == 0 || n > 128 || h[0] == '.')
                return 0;
        for (; *h; h++)
                if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') || *h == '_' ||
                      *h == '.' || *h == '-'))
                        return 0;
        return 1;
}

GB_EXPORT int gb_store_image_ref(struct gb_store *s, const char *id, const char *holder, struct gb_error *err)
{
        _cleanup_free_ char *dir = NULL, *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!gb_digest_valid(id) || !holder_valid(holder))
                return gb_error_set(err, EINVAL, "Failed to mark image in use: bad ID or holder name");
        r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        if (!image_exists(s, id)) {
                store_unlock(s);
                return gb_error_set(err, ENOENT, "Failed to mark image %s in use: No such image", id);
        }
        dir = gb_xasprintf("%s/images/refs/%s", s->root, hex_of(id));
        p = gb_xasprintf("%s/%s", dir, holder);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                r = gb_error_sys(err, errno, "Failed to create '%s'", dir);
        else if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
                r = gb_error_sys(err, errno, "Failed to create '%s'", p);
        store_unlock(s);
        return r;
}

GB_EXPORT int gb_store_image_unref(struct gb_store *s, const char *id, const char *holder, struct gb_error *err)
{
        _cleanup_free_ char *dir = NULL, *p = NULL;
        int r;

        if (!gb_digest_valid(id) || !holder_valid(holder))
                return gb_error_set(err, EINVAL, "Failed to release image: bad ID or holder name");
        r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        dir = gb_xasprintf("%s/images/refs/%s", s->root, hex_of(id));
        p = gb_xasprintf("%s/%s", dir, holder);
        if (unlink(p) < 0 && errno != ENOENT)
                r = gb_error_sys(err, errno, "Failed to remove '%s'", p);
        (void)rmdir(dir);
        store_unlock(s);
        return r;
}

GB_EXPORT int gb_store_image_in_use(struct gb_store *s, const char *id, char **ret_holder, struct gb_error *err)
{
        int r;

        if (!gb_digest_valid(id))
                return gb_error_set(err, EINVAL, "Failed to check image: '%s' is not an image ID", id);
        r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        r = in_use_locked(s, id, ret_holder, err);
        store_unlock(s);
        return r;
}

/* ---- save ------------------------------------------------------------- */

static void archive_write_freep(struct archive **a)
{
        if (*a)
                (void)gb_ar.archive_write_free(*a);
}

static int write_member(struct archive *a, const char *name, const void *data, size_t len, int src_fd,
                        struct gb_error *err)
{
        struct archive_entry *e = gb_ar.archive_entry_new();
        int r = 0;

        gb_ar.archive_entry_set_pathname(e, name);
        gb_ar.archive_entry_set_filetype(e, AE_IFREG);
        gb_ar.archive_entry_set_perm(e, 0644);
        gb_ar.archive_entry_set_size(e, (la_int64_t)len);
        gb_ar.archive_entry_set_mtime(e, 0, 0);
        if (gb_ar.archive_write_header(a, e) != ARCHIVE_OK)
                r = gb_error_set(err, EIO, "Failed to write '%s' to the archive: %s", name,
                                 gb_ar.archive_error_string(a));
        if (r >= 0 && data && len && gb_ar.archive_write_data(a, data, len) != (la_ssize_t)len)
                r = gb_error_set(err, EIO, "Failed to write '%s' to the archive: %s", name,
                                 gb_ar.archive_error_string(a));
        if (r >= 0 && src_fd >= 0) {
                char buf[65536];
                size_t left = len;
                while (left > 0) {
                        ssize_t n = read(src_fd, buf, left < sizeof(buf) ? left : sizeof(buf));
                        if (n <= 0) {
                                r = gb_error_sys(err, n < 0 ? errno : EIO, "Failed to read blob for '%s'", name);
                                break;
                        }
                        if (gb_ar.archive_write_data(a, buf, (size_t)n) != n) {
                                r = gb_error_set(err, EIO, "Failed to write '%s': %s", name,
                                                 gb_ar.archive_error_string(a));
                                break;
                        }
                        left -= (size_t)n;
                }
        }
        gb_ar.archive_entry_free(e);
        return r;
}

static const char *layer_media_type(const char *compression)
{
        if (!strcmp(compression, "gzip"))
                return "application/vnd.oci.image.layer.v1.tar+gzip";
        if (!strcmp(compression, "zstd"))
                return "application/vnd.oci.image.layer.v1.tar+zstd";
        return "application/vnd.oci.image.layer.v1.tar";
}

GB_EXPORT int gb_store_save(struct gb_store *s, char *const *names, int fd, struct gb_error *err)
{
        _cleanup_(archive_write_freep) struct archive *a = NULL;
        _cleanup_json_ json_t *docker = json_array(), *index = NULL, *index_m = json_array();
        _cleanup_strv_ char **written = gb_xcalloc(1, sizeof(char *));
        _cleanup_free_ char *dtext = NULL, *itext = NULL;
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        int r;

        if (!names || !names[0])
                return gb_error_set(err, EINVAL, "Failed to save: no image named");
        r = gb_archive_load(err);
        if (r < 0)
                return r;
        r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        a = gb_ar.archive_write_new();
        gb_ar.archive_write_set_format_pax_restricted(a);
        gb_ar.archive_write_set_bytes_in_last_block(a, 1);
        if (gb_ar.archive_write_open_fd(a, fd) != ARCHIVE_OK) {
                r = gb_error_set(err, EIO, "Failed to start the archive: %s", gb_ar.archive_error_string(a));
                goto out;
        }
        for (char *const *n = names; *n; n++) {
                _cleanup_(gb_image_config_freep) struct gb_image_config *c = NULL;
                _cleanup_free_ char *cfg = NULL, *tag = NULL, *cpath = NULL, *mtext = NULL, *mpath = NULL;
                _cleanup_json_ json_t *layers = json_array(), *dlayers = json_array(), *manifest = NULL;
                char id[GB_DIGEST_LEN], mdigest[GB_DIGEST_LEN];
                size_t clen;
                json_t *desc;

                r = resolve_locked(s, *n, id, &tag, err);
                if (r < 0)
                        goto out;
                r = image_config_read(s, id, &cfg, &clen, err);
                if (r < 0)
                        goto out;
                r = gb_image_config_parse(cfg, clen, &c, err);
                if (r < 0)
                        goto out;
                cpath = blob_path(id);
                for (size_t i = 0; i < c->n_diff_ids; i++) {
                        _cleanup_json_ json_t *info = NULL;
                        _cleanup_free_ char *bp = NULL, *src = NULL;
                        _cleanup_close_ int bfd = -EBADF;
                        const char *bd, *comp;
                        uint64_t bsize;

                        r = layer_info_read(s, c->diff_ids[i], &info, err);
                        if (r < 0)
                                goto out;
                        bd = json_string_value(json_object_get(info, "blob_digest"));
                        comp = json_string_value(json_object_get(info, "compression"));
                        bsize = (uint64_t)json_integer_value(json_object_get(info, "blob_size"));
                        if (!bd || !gb_digest_valid(bd) || !comp) {
                                r = gb_error_set(err, EINVAL, "Failed to save: layer metadata of %s is damaged",
                                                 c->diff_ids[i]);
                                goto out;
                        }
                        bp = blob_path(bd);
                        json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType", layer_media_type(comp),
                                                                "digest", bd, "size", (json_int_t)bsize));
                        json_array_append_new(dlayers, json_string(bp));
                        bool dup = false;
                        for (char **w = written; *w; w++)
                                dup |= !strcmp(*w, bp);
                        if (dup)
                                continue;
                        src = gb_xasprintf("%s/layers/blobs/%s", s->root, hex_of(c->diff_ids[i]));
                        bfd = open(src, O_RDONLY | O_CLOEXEC);
                        if (bfd < 0) {
                                r = gb_error_sys(err, errno, "Failed to open layer blob '%s'", src);
                                goto out;
                        }
                        r = write_member(a, bp, NULL, bsize, bfd, err);
                        if (r < 0)
                                goto out;
                        strv_push(&written, gb_xstrdup(bp));
                }
                bool dup = false;
                for (char **w = written; *w; w++)
                        dup |= !strcmp(*w, cpath);
                if (!dup) {
                        r = write_member(a, cpath, cfg, clen, -1, err);
                        if (r < 0)
                                goto out;
                        strv_push(&written, gb_xstrdup(cpath));
                }
                manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
                                     "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                                     "application/vnd.oci.image.config.v1+json", "digest", id, "size", (json_int_t)clen,
                                     "layers", layers);
                mtext = json_dumps(manifest, JSON_COMPACT);
                gb_sha256_digest(mtext, strlen(mtext), mdigest);
                mpath = blob_path(mdigest);
                dup = false;
                for (char **w = written; *w; w++)
                        dup |= !strcmp(*w, mpath);
                if (!dup) {
                        r = write_member(a, mpath, mtext, strlen(mtext), -1, err);
                        if (r < 0)
                                goto out;
                        strv_push(&written, gb_xstrdup(mpath));
                }
                desc = json_pack("{s:s, s:s, s:I}", "mediaType", "application/vnd.oci.image.manifest.v1+json", "digest",
                                 mdigest, "size", (json_int_t)strlen(mtext));
                if (tag) {
                        const char *colon = strrchr(tag, ':');
                        json_object_set_new(desc, "annotations",
                                            json_pack("{s:s, s:s}", "io.containerd.image.name", tag,
                                                      "org.opencontainers.image.ref.name", colon + 1));
                }
                json_array_append_new(index_m, desc);
                json_array_append_new(docker,
                                      json_pack("{s:s, s:[], s:O}", "Config", cpath, "RepoTags", "Layers", dlayers));
                if (tag)
                        json_array_append_new(
                                json_object_get(json_array_get(docker, json_array_size(docker) - 1), "RepoTags"),
                                json_string(tag));
        }
        index = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", "application/vnd.oci.image.index.v1+json",
                          "manifests", index_m);
        itext = json_dumps(index, JSON_COMPACT);
        dtext = json_dumps(docker, JSON_COMPACT);
        if ((r = write_member(a, "oci-layout", layout, strlen(layout), -1, err)) < 0 ||
            (r = write_member(a, "index.json", itext, strlen(itext), -1, err)) < 0 ||
            (r = write_member(a, "manifest.json", dtext, strlen(dtext), -1, err)) < 0)
                goto out;
        if (gb_ar.archive_write_close(a) != ARCHIVE_OK) {
                r = gb_error_set(err, EIO, "Failed to finish the archive: %s", gb_ar.archive_error_string(a));
                goto out;
        }
        r = 0;
out:
        store_unlock(s);
        return r;
}
