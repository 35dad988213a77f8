#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build.h"
#include "cfs.h"
#include "cleanup.h"
#include "container.h"
#include "dockerfile.h"
#include "layer.h"
#include "logfile.h"
#include "monitor.h"
#include "runspec.h"
#include "store.h"
#include "util.h"

#define _cleanup_json_ _cleanup_(json_decrefp)
#define MAX_DOCKERFILE (4 * 1024 * 1024)

struct builder {
        struct gb_engine *e;
        struct gb_store *s;
        const struct gb_build_opts *o;
        struct gb_dockerfile df;
        json_t *cfg; /* the current image's "config" object */
        char image[GB_DIGEST_LEN];
        bool has_image;     /* false after FROM scratch until the first commit */
        bool cmd_set;       /* CMD given in this stage (ENTRYPOINT then keeps it) */
        json_t *meta_args;  /* ARGs before the first FROM */
        json_t *args;       /* this stage's ARGs: name -> string or null */
        json_t *build_args; /* --build-arg: name -> string or null */
        json_t *used_args;  /* build args some ARG declared */
        json_t *stages;     /* lower-cased name or index -> image ID */
        char **created;     /* images this build made (deleted at the end but the final) */
        char **containers;  /* containers alive now (removed on every path) */
        unsigned step;
        char tmpdir[4096];
};

static void strv_push(char ***v, char *s)
{
        size_t n = gb_strv_len(*v);
        *v = gb_xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

static void say(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct builder *b, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int n;

        if (!b->o->log)
                return;
        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n >= 0)
                b->o->log(s, (size_t)n, b->o->log_data);
}

static const char *short_id(const char *id)
{
        return gb_str_has_prefix(id, "sha256:") ? id + 7 : id;
}

/* ---- variables ----------------------------------------------------------- */

static const char *env_get(json_t *cfg, const char *name)
{
        json_t *env = json_object_get(cfg, "Env"), *v;
        size_t i, n = strlen(name);

        json_array_foreach (env, i, v) {
                const char *s = json_string_value(v);
                if (s && !strncmp(s, name, n) && s[n] == '=')
                        return s + n + 1;
        }
        return NULL;
}

/* ENV wins over ARG, as in Docker. */
static const char *lookup(const char *name, void *data)
{
        struct builder *b = data;
        const char *v = env_get(b->cfg, name);

        if (v)
                return v;
        return json_string_value(json_object_get(b->args, name));
}

static const char *lookup_meta(const char *name, void *data)
{
        struct builder *b = data;
        return json_string_value(json_object_get(b->meta_args, name));
}

static void env_set(json_t *cfg, const char *key, const char *val)
{
        json_t *env = json_object_get(cfg, "Env"), *v;
        _cleanup_free_ char *kv = gb_xasprintf("%s=%s", key, val);
        size_t i, n = strlen(key);

        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(cfg, "Env", env);
        }
        json_array_foreach (env, i, v) {
                const char *s = json_string_value(v);
                if (s && !strncmp(s, key, n) && s[n] == '=') {
                        json_array_set_new(env, i, json_string(kv));
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
}

/* Failures name the file, line and step, as Docker's "Step 3/7". */
static int ins_error(struct builder *b, const struct gb_df_instr *ins, struct gb_error *err)
{
        return gb_error_prefix(err, "%s:%u: step %u/%zu '%.80s'", b->df.name, ins->line, b->step, b->df.n,
                               ins->original);
}

/* The words of an instruction, expanded; JSON form: each element. */
static int words_of(struct builder *b, const struct gb_df_instr *ins, char ***ret, struct gb_error *err)
{
        int r;

        if (ins->json) {
                _cleanup_strv_ char **out = gb_xcalloc(1, sizeof(char *));
                for (char **w = ins->json; *w; w++) {
                        _cleanup_strv_ char **one = NULL;
                        r = gb_df_words(*w, b->df.escape, true, lookup, b, &one, err);
                        if (r < 0)
                                return r;
                        strv_push(&out, gb_xstrdup(one[0] ? one[0] : ""));
                }
                *ret = TAKE_PTR(out);
                return 0;
        }
        return gb_df_words(ins->rest, b->df.escape, false, lookup, b, ret, err);
}

/* ---- commits and containers ------------------------------------------------ */

static int commit(struct builder *b, int layer_fd, const char *created_by, struct gb_error *err)
{
        char id[GB_DIGEST_LEN];
        struct gb_commit_opts co = {
                .parent = b->has_image ? b->image : NULL, .config = b->cfg, .created_by = created_by};
        int r = gb_store_commit(b->s, layer_fd, &co, id, err);

        if (r < 0)
                return r;
        strv_push(&b->created, gb_xstrdup(id));
        memcpy(b->image, id, sizeof(id));
        b->has_image = true;
        say(b, " ---> %.12s\n", short_id(id));
        return 0;
}

static int commit_meta(struct builder *b, const struct gb_df_instr *ins, struct gb_error *err)
{
        _cleanup_free_ char *by = gb_xasprintf("/bin/sh -c #(nop)  %s", ins->original);
        return commit(b, -EBADF, by, err);
}

static int build_tmpfile(struct builder *b, struct gb_error *err)
{
        int fd = open(b->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create a temporary file in '%s'", b->tmpdir);
        return fd;
}

/* A container can only be made from an image with a layer: FROM scratch
 * gets an empty one before its first COPY. */
static int ensure_layer(struct builder *b, struct gb_error *err)
{
        struct gb_layer_meta *layers = NULL;
        size_t n = 0;
        _cleanup_close_ int fd = -EBADF;
        static const char zeros[1024];
        int r;

        if (b->has_image) {
                r = gb_store_image_layers(b->s, b->image, &layers, &n, err);
                if (r < 0)
                        return r;
                gb_layer_metas_free(layers, n);
                if (n > 0)
                        return 0;
        }
        fd = build_tmpfile(b, err);
        if (fd < 0)
                return fd;
        if (gb_write_all(fd, zeros, sizeof(zeros)) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return gb_error_sys(err, errno, "Failed to write an empty layer");
        struct gb_commit_opts co = {
                .parent = b->has_image ? b->image : NULL, .config = b->cfg, .created_by = "#(nop) scratch"};
        char id[GB_DIGEST_LEN];
        r = gb_store_commit(b->s, fd, &co, id, err);
        if (r < 0)
                return r;
        strv_push(&b->created, gb_xstrdup(id));
        memcpy(b->image, id, sizeof(id));
        b->has_image = true;
        return 0;
}

static void drop_container(struct builder *b, const char *id)
{
        size_t n = gb_strv_len(b->containers);

        (void)gb_engine_remove(b->e, id, true, true, NULL);
        for (size_t i = 0; i < n; i++)
                if (!strcmp(b->containers[i], id)) {
                        free(b->containers[i]);
                        b->containers[i] = b->containers[n - 1];
                        b->containers[n - 1] = NULL;
                        return;
                }
}

/* A container from image (not started unless the caller starts it). */
static int make_container(struct builder *b, const char *image, char **cmd, char **env, const char *user,
                          char id[GB_CONTAINER_ID_LEN + 1], struct gb_error *err)
{
        struct gb_run_opts ro = {0};
        struct gb_create_src src = {.image_ref = image};
        int r;

        ro.userns_size = 65536;
        for (char **c = cmd; c && *c; c++)
                strv_push(&ro.cmd, gb_xstrdup(*c));
        for (char **c = env; c && *c; c++)
                strv_push(&ro.env, gb_xstrdup(*c));
        ro.entrypoint = gb_xcalloc(1, sizeof(char *));
        ro.entrypoint_set = true;
        if (user)
                ro.user = gb_xstrdup(user);
        r = gb_engine_create(b->e, &ro, &src, id, err);
        gb_run_opts_clear(&ro);
        if (r < 0)
                return r;
        strv_push(&b->containers, gb_xstrdup(id));
        return 0;
}

static int open_cfs(struct builder *b, const char *id, struct gb_cfs *f, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        int r = gb_container_lookup(b->e->cfg.data_root, id, false, &c, err);

        if (r < 0)
                return r;
        return gb_cfs_open(b->e->cfg.data_root, c, f, err);
}

/* The container's upper directory as the next layer. */
static int commit_container(struct builder *b, const char *id, const char *created_by, struct gb_error *err)
{
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = open_cfs(b, id, &f, err);
        if (r < 0)
                return r;
        fd = build_tmpfile(b, err);
        if (fd < 0)
                return fd;
        r = gb_cfs_layer_tar(&f, fd, err);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return gb_error_sys(err, errno, "Failed to rewind the layer");
        return commit(b, fd, created_by, err);
}

/* mkdir -p inside the container's root, each component resolved by the
 * kernel inside it (a symlink in the image cannot lead out). New
 * directories belong to the container's root. */
static int mkdir_in_root(const struct gb_cfs *f, const char *path, struct gb_error *err)
{
        _cleanup_free_ char *p = gb_xstrdup(path);
        uint32_t hu = 0, hg = 0;

        if (f->remapped && (gb_idmap_to_host(&f->uids, 0, &hu) < 0 || gb_idmap_to_host(&f->gids, 0, &hg) < 0))
                return gb_error_set(err, EINVAL, "Failed to create '%s': the container's map has no root", path);
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char save = *s;
                *s = '\0';
                _cleanup_close_ int fd = -EBADF;
                int r = gb_open_in_root(f->root_fd, p, O_PATH | O_DIRECTORY, &fd, NULL);
                if (r == -ENOENT) {
                        char *slash = strrchr(p, '/');
                        _cleanup_close_ int pfd = -EBADF;
                        *slash = '\0';
                        r = gb_open_in_root(f->root_fd, *p ? p : "/", O_PATH | O_DIRECTORY, &pfd, err);
                        *slash = '/';
                        if (r < 0)
                                return r;
                        if (mkdirat(pfd, slash + 1, 0755) < 0 && errno != EEXIST)
                                return gb_error_sys(err, errno, "Failed to create directory '%s'", p);
                        if (fchownat(pfd, slash + 1, hu, hg, AT_SYMLINK_NOFOLLOW) < 0)
                                return gb_error_sys(err, errno, "Failed to chown '%s'", p);
                } else if (r < 0 && p[1])
                        return gb_error_sys(err, -r, "Failed to create directory '%s': a component is not a directory",
                                            p);
                *s = save;
                if (!save)
                        break;
        }
        return 0;
}

/* Lexical clean of a context path; false when it climbs out. */
static bool context_path(const char *in, char **ret)
{
        _cleanup_free_ char *out = gb_xcalloc(1, strlen(in) + 2);
        const char *s = in;
        size_t n = 0;

        while (*s) {
                while (*s == '/')
                        s++;
                size_t l = strcspn(s, "/");
                if (l == 0)
                        break;
                if (l == 1 && s[0] == '.') {
                } else if (l == 2 && s[0] == '.' && s[1] == '.') {
                        if (n == 0)
                                return false;
                        while (n > 0 && out[n - 1] != '/')
                                n--;
                        if (n > 0)
                                n--;
                } else {
                        if (n)
                                out[n++] = '/';
                        memcpy(out + n, s, l);
                        n += l;
                }
                s += l;
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return true;
}

static bool is_archive(int fd)
{
        unsigned char h[512];
        ssize_t n = pread(fd, h, sizeof(h), 0);

        if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
                return true;
        return n == 512 && !memcmp(h + 257, "ustar", 5);
}

static int parse_chown(struct builder *b, const struct gb_cfs *f, const char *spec, struct gb_cfs_put_opts *po,
                       struct gb_error *err)
{
        _cleanup_strv_ char **w = NULL;
        const char *colon;
        char *end;
        int r;

        r = gb_df_words(spec, b->df.escape, true, lookup, b, &w, err);
        if (r < 0)
                return r;
        colon = strchr(w[0], ':');
        unsigned long u = strtoul(w[0], &end, 10);
        if (end != w[0] && (*end == '\0' || *end == ':')) {
                po->uid = (uint32_t)u;
                po->gid = (uint32_t)u;
                if (colon) {
                        unsigned long g = strtoul(colon + 1, &end, 10);
                        if (end == colon + 1 || *end)
                                goto names;
                        po->gid = (uint32_t)g;
                }
                po->chown = true;
                return 0;
        }
names : {
        struct gb_run_user ru = {0};
        r = gb_runspec_resolve_user(f->root_fd, w[0], &ru, err);
        if (r < 0)
                return r;
        po->uid = ru.uid;
        po->gid = ru.gid;
        po->chown = true;
        gb_run_user_clear(&ru);
        return 0;
}
}

/* The image a COPY --from names: a stage (name or index) or an image. */
static int from_image(struct builder *b, const char *name, char ret[GB_DIGEST_LEN], struct gb_error *err)
{
        _cleanup_free_ char *low = gb_xstrdup(name);
        const char *id;

        for (char *p = low; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        id = json_string_value(json_object_get(b->stages, low));
        if (id) {
                snprintf(ret, GB_DIGEST_LEN, "%s", id);
                return 0;
        }
        return gb_store_resolve(b->s, name, ret, err);
}

/* Expand a glob source (last component only) against the context. */
static int glob_sources(const struct gb_cfs *src, const char *path, char ***out, struct gb_error *err)
{
        _cleanup_free_ char *dir = gb_xstrdup(path);
        char *slash = strrchr(dir, '/');
        const char *pat = slash ? slash + 1 : dir;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        size_t n0 = gb_strv_len(*out);
        int r;

        if (slash)
                *slash = '\0';
        if (slash && strpbrk(dir, "*?["))
                return gb_error_set(err, EINVAL, "'%s': wildcards are only supported in the last component", path);
        r = gb_open_in_root(src->root_fd, slash ? (*dir ? dir : "/") : "/", O_RDONLY | O_DIRECTORY, &fd, err);
        if (r < 0)
                return r;
        d = fdopendir(fd);
        if (!d)
                return gb_error_sys(err, errno, "Failed to read '%s'", path);
        TAKE_FD(fd);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && fnmatch(pat, de->d_name, 0) == 0)
                        strv_push(out, slash ? gb_xasprintf("%s/%s", dir, de->d_name) : gb_xstrdup(de->d_name));
        if (gb_strv_len(*out) == n0)
                return gb_error_set(err, ENOENT, "no source files were specified: '%s' matches nothing", path);
        return 0;
}

/* Path of fd relative to root (both as the kernel names them). */
static int rel_to_root(const struct gb_cfs *f, int fd, char **ret, struct gb_error *err)
{
        char p[64], buf[4096];
        size_t rl = strlen(f->root_path);
        ssize_t n;

        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        n = readlink(p, buf, sizeof(buf) - 1);
        if (n < 0)
                return gb_error_sys(err, errno, "Failed to read the path of a source");
        buf[n] = '\0';
        if (!strcmp(f->root_path, "/")) {
                *ret = gb_xstrdup(buf);
                return 0;
        }
        if (strncmp(buf, f->root_path, rl) != 0 || (buf[rl] != '/' && buf[rl] != '\0'))
                return gb_error_set(err, EPERM, "Failed to copy: a source resolved outside the context");
        *ret = gb_xasprintf("/%s", buf[rl] ? buf + rl + 1 : "");
        return 0;
}

static int put_tar(struct builder *b, const struct gb_cfs *src, const char *path, const char *name,
                   const struct gb_cfs *dst, const char *dest_dir, const struct gb_cfs_put_opts *po,
                   struct gb_error *err)
{
        _cleanup_close_ int fd = build_tmpfile(b, err);
        int r;

        if (fd < 0)
                return fd;
        r = gb_cfs_tar_as(src, path, name, fd, err);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return gb_error_sys(err, errno, "Failed to rewind");
        return gb_cfs_put(dst, dest_dir, fd, po, err);
}

static char *join_workdir(struct builder *b, const char *p)
{
        const char *wd = json_string_value(json_object_get(b->cfg, "WorkingDir"));

        if (p[0] == '/')
                return gb_xstrdup(p);
        if (!wd || !*wd)
                wd = "/";
        return gb_xasprintf("%s%s%s", wd, wd[strlen(wd) - 1] == '/' ? "" : "/", p);
}

static int do_copy(struct builder *b, const struct gb_df_instr *ins, bool add, struct gb_error *err)
{
        _cleanup_strv_ char **w = NULL, **srcs = NULL;
        _cleanup_(gb_cfs_done) struct gb_cfs sf = {.root_fd = -EBADF}, df = {.root_fd = -EBADF};
        _cleanup_free_ char *dest = NULL, *by = NULL;
        struct gb_cfs_put_opts po = {0};
        const char *from = gb_df_flag(ins, "from"), *chown = gb_df_flag(ins, "chown");
        char ctr[GB_CONTAINER_ID_LEN + 1], sctr[GB_CONTAINER_ID_LEN + 1] = "";
        char *const cmd[] = {"/dev/null", NULL};
        size_t n;
        bool dest_dir;
        int r;

        for (char **fl = ins->flags; *fl; fl++)
                if (!gb_str_has_prefix(*fl, "--from=") && !gb_str_has_prefix(*fl, "--chown="))
                        return gb_error_set(err, EINVAL, "unknown flag %s (supported: --chown%s)", *fl,
                                            add ? "" : ", --from");
        if (add && from)
                return gb_error_set(err, EINVAL, "ADD has no --from flag: use COPY --from");
        r = words_of(b, ins, &w, err);
        if (r < 0)
                return r;
        n = gb_strv_len(w);
        if (n < 2)
                return gb_error_set(err, EINVAL, "requires at least two arguments (source and destination)");
        dest = join_workdir(b, w[n - 1]);
        dest_dir = n > 2 || dest[strlen(dest) - 1] == '/';

        /* Sources first: a missing one fails before any container. */
        if (from) {
                char img[GB_DIGEST_LEN];
                r = from_image(b, from, img, err);
                if (r < 0)
                        return gb_error_prefix(err, "--from=%s: no stage or image of that name", from);
                r = make_container(b, img, (char **)cmd, NULL, "0", sctr, err);
                if (r < 0)
                        return r;
                r = open_cfs(b, sctr, &sf, err);
        } else
                r = gb_cfs_open_dir(b->o->context_dir, &sf, err);
        if (r < 0)
                return r;
        srcs = gb_xcalloc(1, sizeof(char *));
        for (size_t i = 0; i + 1 < n; i++) {
                _cleanup_free_ char *clean = NULL;
                if (add && (gb_str_has_prefix(w[i], "http://") || gb_str_has_prefix(w[i], "https://")))
                        return gb_error_set(err, EOPNOTSUPP,
                                            "ADD of a URL ('%s') is not supported: ghostbox builds without network; "
                                            "download the file into the context and COPY it",
                                            w[i]);
                if (!from && !context_path(w[i], &clean))
                        return gb_error_set(err, EPERM, "forbidden path outside the build context: %s", w[i]);
                if (from)
                        clean = gb_xstrdup(w[i]);
                if (strpbrk(clean, "*?[")) {
                        r = glob_sources(&sf, clean, &srcs, err);
                        if (r < 0)
                                return r;
                } else
                        strv_push(&srcs, TAKE_PTR(clean));
        }
        if (gb_strv_len(srcs) > 1)
                dest_dir = true;

        r = ensure_layer(b, err);
        if (r < 0)
                return r;
        r = make_container(b, b->image, (char **)cmd, NULL, "0", ctr, err);
        if (r < 0)
                return r;
        r = open_cfs(b, ctr, &df, err);
        if (r < 0)
                return r;
        if (chown) {
                r = parse_chown(b, &df, chown, &po, err);
                if (r < 0)
                        return gb_error_prefix(err, "--chown=%s", chown);
        }
        if (!dest_dir) {
                /* An existing directory is a directory destination too. */
                _cleanup_close_ int t = -EBADF;
                if (gb_open_in_root(df.root_fd, dest, O_PATH | O_DIRECTORY, &t, NULL) == 0)
                        dest_dir = true;
        }
        for (char **s = srcs; *s; s++) {
                _cleanup_close_ int fd = -EBADF;
                _cleanup_free_ char *rel = NULL, *base = NULL;
                struct stat st;
                const char *slash;

                /* Followed as the kernel resolves it with the context as
                 * "/": a symlink to /etc/shadow is <context>/etc/shadow. */
                r = gb_open_in_root(sf.root_fd, **s ? *s : "/", O_PATH, &fd, NULL);
                if (r < 0 || fstat(fd, &st) < 0)
                        return gb_error_set(err, ENOENT,
                                            "file not found in build context%s: stat %s: file does not exist",
                                            from ? " (or in the --from image)" : "", *s);
                r = rel_to_root(&sf, fd, &rel, err);
                if (r < 0)
                        return r;
                slash = strrchr(*s, '/');
                base = gb_xstrdup(slash ? slash + 1 : *s);
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_free_ char *contents = gb_xasprintf("%s/.", rel);
                        r = mkdir_in_root(&df, dest, err);
                        if (r >= 0)
                                r = put_tar(b, &sf, contents, NULL, &df, dest, &po, err);
                } else if (add && S_ISREG(st.st_mode)) {
                        _cleanup_close_ int afd = -EBADF;
                        r = gb_open_in_root(sf.root_fd, rel, O_RDONLY, &afd, err);
                        if (r >= 0 && is_archive(afd)) {
                                struct gb_cfs_put_opts ao = {.copy_uidgid = true};
                                r = mkdir_in_root(&df, dest, err);
                                if (r >= 0)
                                        r = gb_cfs_put(&df, dest, afd, &ao, err);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        goto file;
                } else {
                file:
                        if (dest_dir) {
                                r = mkdir_in_root(&df, dest, err);
                                if (r >= 0)
                                        r = put_tar(b, &sf, rel, base, &df, dest, &po, err);
                        } else {
                                _cleanup_free_ char *dd = gb_xstrdup(dest);
                                char *ls = strrchr(dd, '/');
                                const char *leaf = ls[1] ? ls + 1 : base;
                                _cleanup_free_ char *lf = gb_xstrdup(leaf);
                                ls[ls == dd ? 1 : 0] = '\0';
                                r = mkdir_in_root(&df, dd, err);
                                if (r >= 0)
                                        r = put_tar(b, &sf, rel, lf, &df, dd, &po, err);
                        }
                }
                if (r < 0)
                        return r;
        }
        gb_cfs_done(&sf);
        gb_cfs_done(&df);
        if (sctr[0])
                drop_container(b, sctr);
        by = gb_xasprintf("/bin/sh -c #(nop) %s", ins->original);
        r = commit_container(b, ctr, by, err);
        drop_container(b, ctr);
        return r;
}

/* ---- RUN ------------------------------------------------------------------ */

static void pump(struct builder *b, int afd)
{
        char buf[32768];
        uint8_t hdr[8];
        size_t have = 0;

        for (;;) {
                ssize_t n = read(afd, hdr + have, sizeof(hdr) - have);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                have += (size_t)n;
                if (have < sizeof(hdr))
                        continue;
                have = 0;
                enum gb_stream st;
                uint32_t len;
                if (gb_stdcopy_parse_header(hdr, &st, &len) < 0)
                        return;
                while (len > 0) {
                        n = read(afd, buf, len < sizeof(buf) ? len : sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return;
                        if (b->o->log)
                                b->o->log(buf, (size_t)n, b->o->log_data);
                        len -= (uint32_t)n;
                }
        }
}

static int do_run(struct builder *b, const struct gb_df_instr *ins, struct gb_error *err)
{
        _cleanup_strv_ char **cmd = NULL, **env = NULL;
        _cleanup_free_ char *by = NULL;
        _cleanup_close_ int afd = -EBADF;
        char ctr[GB_CONTAINER_ID_LEN + 1];
        const char *key;
        json_t *v, *shell = json_object_get(b->cfg, "Shell");
        pid_t mon = 0;
        int r, code = -1, status;
        size_t i;

        if (ins->flags[0])
                return gb_error_set(err, EINVAL, "unknown flag %s (RUN --mount/--network need BuildKit)",
                                    ins->flags[0]);
        cmd = gb_xcalloc(1, sizeof(char *));
        if (ins->json) {
                for (char **c = ins->json; *c; c++)
                        strv_push(&cmd, gb_xstrdup(*c));
        } else {
                if (json_is_array(shell) && json_array_size(shell) > 0) {
                        json_array_foreach (shell, i, v)
                                strv_push(&cmd, gb_xstrdup(json_string_value(v) ? json_string_value(v) : ""));
                } else {
                        strv_push(&cmd, gb_xstrdup("/bin/sh"));
                        strv_push(&cmd, gb_xstrdup("-c"));
                }
                strv_push(&cmd, gb_xstrdup(ins->rest));
        }
        if (!cmd[0])
                return gb_error_set(err, EINVAL, "the exec form is empty");
        /* ARG values reach RUN as environment, not the image (Docker). */
        env = gb_xcalloc(1, sizeof(char *));
        json_object_foreach (b->args, key, v)
                if (json_is_string(v) && !env_get(b->cfg, key))
                        strv_push(&env, gb_xasprintf("%s=%s", key, json_string_value(v)));
        if (!b->has_image)
                return gb_error_set(err, EINVAL, "RUN on an empty image (FROM scratch): there is no shell to run");
        r = make_container(b, b->image, cmd, env, NULL, ctr, err);
        if (r < 0)
                return r;
        say(b, " ---> Running in %.12s\n", ctr);
        r = gb_engine_start(b->e, ctr, GB_ATTACH_STDOUT | GB_ATTACH_STDERR, &afd, &mon, err);
        if (r < 0)
                return r;
        pump(b, afd);
        pid_t w;
        while ((w = waitpid(mon, &status, 0)) < 0 && errno == EINTR)
                ;
        if (w == mon && WIFEXITED(status))
                code = WEXITSTATUS(status);
        else {
                r = gb_engine_wait(b->e, ctr, &code, err);
                if (r < 0)
                        return r;
        }
        if (code != 0) {
                _cleanup_free_ char *joined = gb_xstrdup("");
                for (char **c = cmd; *c; c++) {
                        char *n = gb_xasprintf("%s%s%s", joined, *joined ? " " : "", *c);
                        free(joined);
                        joined = n;
                }
                return gb_error_set(err, ECANCELED, "The command '%s' returned a non-zero code: %d", joined, code);
        }
        by = ins->json ? gb_xstrdup(ins->rest) : gb_xasprintf("%s", "");
        if (!ins->json) {
                free(by);
                by = gb_xstrdup("");
                for (char **c = cmd; *c; c++) {
                        char *n = gb_xasprintf("%s%s%s", by, *by ? " " : "", *c);
                        free(by);
                        by = n;
                }
        }
        say(b, "Removing intermediate container %.12s\n", ctr);
        r = commit_container(b, ctr, by, err);
        drop_container(b, ctr);
        return r;
}

/* ---- the other instructions -------------------------------------------------- */

static json_t *shell_or_json(struct builder *b, const struct gb_df_instr *ins)
{
        json_t *a = json_array(), *shell = json_object_get(b->cfg, "Shell");

        if (ins->json) {
                for (char **c = ins->json; *c; c++)
                        json_array_append_new(a, json_string(*c));
                return a;
        }
        if (json_is_array(shell) && json_array_size(shell) > 0)
                json_array_extend(a, shell);
        else {
                json_array_append_new(a, json_string("/bin/sh"));
                json_array_append_new(a, json_string("-c"));
        }
        json_array_append_new(a, json_string(ins->rest));
        return a;
}

static json_t *obj_of(json_t *cfg, const char *key)
{
        json_t *o = json_object_get(cfg, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(cfg, key, o);
        }
        return o;
}

static int do_kv(struct builder *b, const struct gb_df_instr *ins, bool env, struct gb_error *err)
{
        _cleanup_strv_ char **w = NULL;
        int r;

        r = gb_df_words(ins->rest, b->df.escape, false, lookup, b, &w, err);
        if (r < 0)
                return r;
        if (w[0] && !strchr(w[0], '=')) {
                /* Legacy "ENV KEY value with spaces". */
                _cleanup_strv_ char **val = NULL;
                const char *p = ins->rest + strcspn(ins->rest, " \t");
                p += strspn(p, " \t");
                if (!*p)
                        return gb_error_set(err, EINVAL, "'%s' has no value (write %s=VALUE)", w[0], w[0]);
                r = gb_df_words(p, b->df.escape, true, lookup, b, &val, err);
                if (r < 0)
                        return r;
                if (env)
                        env_set(b->cfg, w[0], val[0]);
                else
                        json_object_set_new(obj_of(b->cfg, "Labels"), w[0], json_string(val[0]));
                return 0;
        }
        for (char **kv = w; *kv; kv++) {
                char *eq = strchr(*kv, '=');
                if (!eq || eq == *kv)
                        return gb_error_set(err, EINVAL, "'%s' is not KEY=VALUE", *kv);
                *eq = '\0';
                if (env)
                        env_set(b->cfg, *kv, eq + 1);
                else
                        json_object_set_new(obj_of(b->cfg, "Labels"), *kv, json_string(eq + 1));
        }
        return 0;
}

static int do_arg(struct builder *b, const struct gb_df_instr *ins, bool meta, struct gb_error *err)
{
        _cleanup_strv_ char **w = NULL;
        int r;

        r = gb_df_words(ins->rest, b->df.escape, false, meta ? lookup_meta : lookup, b, &w, err);
        if (r < 0)
                return r;
        for (char **a = w; *a; a++) {
                char *eq = strchr(*a, '=');
                if (eq)
                        *eq = '\0';
                json_t *given = json_object_get(b->build_args, *a);
                json_t *val = given && json_is_string(given) ? json_incref(given)
                              : eq                           ? json_string(eq + 1)
                              : !meta && json_is_string(json_object_get(b->meta_args, *a))
                                      ? json_incref(json_object_get(b->meta_args, *a))
                                      : json_null();
                if (given)
                        json_object_set_new(b->used_args, *a, json_true());
                json_object_set_new(meta ? b->meta_args : b->args, *a, val);
        }
        return 0;
}

static int do_from(struct builder *b, const struct gb_df_instr *ins, unsigned stage, struct gb_error *err)
{
        _cleanup_strv_ char **w = NULL;
        int r;

        if (ins->flags[0])
                return gb_error_set(err, EINVAL, "unknown flag %s (--platform needs BuildKit)", ins->flags[0]);
        r = gb_df_words(ins->rest, b->df.escape, false, lookup_meta, b, &w, err);
        if (r < 0)
                return r;
        if (gb_strv_len(w) != 1 && !(gb_strv_len(w) == 3 && !strcasecmp(w[1], "AS")))
                return gb_error_set(err, EINVAL, "FROM requires either one or three arguments (FROM IMAGE [AS NAME])");
        json_decref(b->cfg);
        json_decref(b->args);
        b->args = json_object();
        b->cmd_set = false;
        if (!strcmp(w[0], "scratch")) {
                b->has_image = false;
                b->cfg = json_object();
                say(b, " ---> \n");
        } else {
                char id[GB_DIGEST_LEN];
                r = from_image(b, w[0], id, err);
                if (r < 0)
                        return gb_error_set(err, ENOENT,
                                            "pull access denied for %s: ghostbox does not pull from registries; "
                                            "`ghostbox load -i FILE` or `ghostbox import FILE %s` it first",
                                            w[0], w[0]);
                r = gb_store_image_config_json(b->s, id, &b->cfg, err);
                if (r < 0)
                        return r;
                memcpy(b->image, id, sizeof(id));
                b->has_image = true;
                say(b, " ---> %.12s\n", short_id(id));
        }
        if (w[1]) {
                _cleanup_free_ char *low = gb_xstrdup(w[2]);
                for (char *p = low; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                json_object_set_new(b->stages, low, json_null());
        }
        (void)stage;
        return 0;
}

static int do_workdir(struct builder *b, const struct gb_df_instr *ins, struct gb_error *err)
{
        _cleanup_strv_ char **w = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_close_ int t = -EBADF;
        char ctr[GB_CONTAINER_ID_LEN + 1];
        char *const cmd[] = {"/dev/null", NULL};
        int r;

        r = gb_df_words(ins->rest, b->df.escape, true, lookup, b, &w, err);
        if (r < 0)
                return r;
        dir = join_workdir(b, w[0]);
        json_object_set_new(b->cfg, "WorkingDir", json_string(dir));
        if (!b->has_image)
                return commit_meta(b, ins, err);
        r = make_container(b, b->image, (char **)cmd, NULL, "0", ctr, err);
        if (r < 0)
                return r;
        r = open_cfs(b, ctr, &f, err);
        if (r < 0)
                return r;
        if (gb_open_in_root(f.root_fd, dir, O_PATH | O_DIRECTORY, &t, NULL) == 0) {
                gb_cfs_done(&f);
                drop_container(b, ctr);
                return commit_meta(b, ins, err);
        }
        r = mkdir_in_root(&f, dir, err);
        gb_cfs_done(&f);
        if (r >= 0) {
                _cleanup_free_ char *by = gb_xasprintf("/bin/sh -c #(nop) %s", ins->original);
                r = commit_container(b, ctr, by, err);
        }
        drop_container(b, ctr);
        return r;
}

static int do_meta(struct builder *b, const struct gb_df_instr *ins, struct gb_error *err)
{
        const char *k = ins->keyword;
        _cleanup_strv_ char **w = NULL;
        int r = 0;

        if (!strcmp(k, "ENV") || !strcmp(k, "LABEL"))
                r = do_kv(b, ins, !strcmp(k, "ENV"), err);
        else if (!strcmp(k, "CMD")) {
                json_object_set_new(b->cfg, "Cmd", shell_or_json(b, ins));
                b->cmd_set = true;
        } else if (!strcmp(k, "ENTRYPOINT")) {
                json_object_set_new(b->cfg, "Entrypoint", shell_or_json(b, ins));
                if (!b->cmd_set)
                        json_object_set_new(b->cfg, "Cmd", json_null());
        } else if (!strcmp(k, "SHELL")) {
                json_object_set_new(b->cfg, "Shell", shell_or_json(b, ins));
        } else if (!strcmp(k, "USER") || !strcmp(k, "STOPSIGNAL")) {
                r = gb_df_words(ins->rest, b->df.escape, true, lookup, b, &w, err);
                if (r >= 0)
                        json_object_set_new(b->cfg, !strcmp(k, "USER") ? "User" : "StopSignal", json_string(w[0]));
        } else if (!strcmp(k, "EXPOSE") || !strcmp(k, "VOLUME")) {
                r = words_of(b, ins, &w, err);
                for (char **p = w; r >= 0 && *p; p++) {
                        if (!strcmp(k, "VOLUME")) {
                                json_object_set_new(obj_of(b->cfg, "Volumes"), *p, json_object());
                                continue;
                        }
                        _cleanup_free_ char *port = strchr(*p, '/') ? gb_xstrdup(*p) : gb_xasprintf("%s/tcp", *p);
                        json_object_set_new(obj_of(b->cfg, "ExposedPorts"), port, json_object());
                }
        } else if (!strcmp(k, "MAINTAINER")) {
                json_object_set_new(obj_of(b->cfg, "Labels"), "maintainer", json_string(ins->rest));
        } else if (!strcmp(k, "HEALTHCHECK")) {
                if (ins->flags[0])
                        return gb_error_set(err, EOPNOTSUPP,
                                            "HEALTHCHECK options (%s) are not supported by ghostbox (no health "
                                            "checks run); remove them",
                                            ins->flags[0]);
                json_t *t;
                if (!strcasecmp(ins->rest, "NONE"))
                        t = json_pack("[s]", "NONE");
                else if (!strncasecmp(ins->rest, "CMD", 3) && isspace((unsigned char)ins->rest[3])) {
                        const char *c = ins->rest + 4;
                        c += strspn(c, " \t");
                        json_t *a = *c == '[' ? json_loads(c, 0, NULL) : NULL;
                        if (json_is_array(a)) {
                                t = json_pack("[s]", "CMD");
                                json_array_extend(t, a);
                        } else
                                t = json_pack("[s,s]", "CMD-SHELL", c);
                        json_decref(a);
                } else
                        return gb_error_set(err, EINVAL, "HEALTHCHECK takes NONE or CMD ...");
                json_object_set_new(b->cfg, "Healthcheck", json_pack("{s:o}", "Test", t));
        }
        if (r < 0)
                return r;
        return commit_meta(b, ins, err);
}

/* ---- the build -------------------------------------------------------------- */

static int read_dockerfile(const struct gb_build_opts *o, char **ret, size_t *ret_len, struct gb_error *err)
{
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *clean = NULL;
        char p[64];
        int r;

        if (!context_path(o->dockerfile ? o->dockerfile : "Dockerfile", &clean))
                return gb_error_set(err, EPERM, "the Dockerfile '%s' is outside the build context", o->dockerfile);
        r = gb_cfs_open_dir(o->context_dir, &f, err);
        if (r < 0)
                return r;
        r = gb_open_in_root(f.root_fd, clean, O_RDONLY, &fd, NULL);
        if (r < 0)
                return gb_error_sys(err, -r, "Cannot locate specified Dockerfile: %s",
                                    o->dockerfile ? o->dockerfile : "Dockerfile");
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        r = gb_read_file_at(AT_FDCWD, p, MAX_DOCKERFILE, ret, ret_len);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read the Dockerfile '%s'", clean);
        return 0;
}

static int run_steps(struct builder *b, char ret_id[GB_DIGEST_LEN], struct gb_error *err)
{
        unsigned stage = 0;
        bool in_stage = false;
        char *stage_name = NULL;
        int r;

        for (size_t i = 0; i < b->df.n; i++) {
                const struct gb_df_instr *ins = &b->df.v[i];
                const char *k = ins->keyword;

                if (b->o->cancelled && b->o->cancelled(b->o->log_data))
                        return gb_error_set(err, ECANCELED, "The build was canceled before step %zu/%zu", i + 1,
                                            b->df.n);
                b->step = (unsigned)(i + 1);
                say(b, "Step %zu/%zu : %s\n", i + 1, b->df.n, ins->original);
                if (!strcmp(k, "FROM")) {
                        if (in_stage) {
                                char idx[16];
                                snprintf(idx, sizeof(idx), "%u", stage - 1);
                                json_object_set_new(b->stages, idx, json_string(b->image));
                                if (stage_name)
                                        json_object_set_new(b->stages, stage_name, json_string(b->image));
                                if (b->o->target && stage_name && !strcasecmp(stage_name, b->o->target))
                                        goto done;
                        }
                        r = do_from(b, ins, stage, err);
                        if (r < 0)
                                return ins_error(b, ins, err);
                        stage_name = NULL;
                        {
                                _cleanup_strv_ char **w = NULL;
                                if (gb_df_words(ins->rest, b->df.escape, false, lookup_meta, b, &w, NULL) == 0 &&
                                    gb_strv_len(w) == 3) {
                                        for (char *p = w[2]; *p; p++)
                                                *p = (char)tolower((unsigned char)*p);
                                        void *it = json_object_iter_at(b->stages, w[2]);
                                        stage_name = (char *)json_object_iter_key(it);
                                }
                        }
                        stage++;
                        in_stage = true;
                        continue;
                }
                if (!in_stage) {
                        r = do_arg(b, ins, true, err);
                        if (r < 0)
                                return ins_error(b, ins, err);
                        continue;
                }
                if (!strcmp(k, "RUN"))
                        r = do_run(b, ins, err);
                else if (!strcmp(k, "COPY") || !strcmp(k, "ADD"))
                        r = do_copy(b, ins, !strcmp(k, "ADD"), err);
                else if (!strcmp(k, "WORKDIR"))
                        r = do_workdir(b, ins, err);
                else if (!strcmp(k, "ARG")) {
                        r = do_arg(b, ins, false, err);
                        if (r >= 0)
                                r = commit_meta(b, ins, err);
                } else if (!strcmp(k, "ONBUILD"))
                        r = gb_error_set(err, EOPNOTSUPP,
                                         "ONBUILD is not supported by ghostbox's builder (triggers would run in "
                                         "later builds); remove it");
                else
                        r = do_meta(b, ins, err);
                if (r < 0)
                        return ins_error(b, ins, err);
        }
        if (b->o->target && (!stage_name || strcasecmp(stage_name, b->o->target) != 0))
                return gb_error_set(err, EINVAL, "failed to reach build target %s in Dockerfile", b->o->target);
done:
        if (b->o->labels && b->o->labels[0]) {
                for (char *const *l = b->o->labels; *l; l++) {
                        const char *eq = strchr(*l, '=');
                        _cleanup_free_ char *key = eq ? strndup(*l, (size_t)(eq - *l)) : gb_xstrdup(*l);
                        json_object_set_new(obj_of(b->cfg, "Labels"), key, json_string(eq ? eq + 1 : ""));
                }
                r = commit(b, -EBADF, "/bin/sh -c #(nop)  LABEL (build labels)", err);
                if (r < 0)
                        return r;
        }
        if (!b->has_image) {
                r = commit(b, -EBADF, "/bin/sh -c #(nop)  FROM scratch", err);
                if (r < 0)
                        return r;
        }
        snprintf(ret_id, GB_DIGEST_LEN, "%s", b->image);
        return 0;
}

GB_EXPORT int gb_engine_build(struct gb_engine *e, const struct gb_build_opts *o, char ret_id[GB_DIGEST_LEN],
                              struct gb_error *err)
{
        struct builder b = {.e = e, .o = o};
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        char id[GB_DIGEST_LEN] = "";
        int r;

        snprintf(b.tmpdir, sizeof(b.tmpdir), "%s/tmp", e->cfg.data_root);
        b.meta_args = json_object();
        b.args = json_object();
        b.build_args = json_object();
        b.used_args = json_object();
        b.stages = json_object();
        b.cfg = json_object();
        for (char *const *a = o->build_args; a && *a; a++) {
                const char *eq = strchr(*a, '=');
                _cleanup_free_ char *key = eq ? strndup(*a, (size_t)(eq - *a)) : gb_xstrdup(*a);
                json_object_set_new(b.build_args, key, eq ? json_string(eq + 1) : json_null());
        }
        if (!o->dockerfile_text) {
                r = read_dockerfile(o, &text, &len, err);
                if (r < 0)
                        goto out;
        }
        r = gb_dockerfile_parse(o->dockerfile_text ? o->dockerfile_text : text,
                                o->dockerfile_text ? o->dockerfile_len : len,
                                o->dockerfile ? o->dockerfile : "Dockerfile", &b.df, err);
        if (r < 0)
                goto out;
        r = gb_store_open(e->cfg.data_root, &b.s, err);
        if (r < 0)
                goto out;
        r = run_steps(&b, id, err);
        if (r < 0)
                goto out;
        {
                const char *key;
                json_t *v;
                _cleanup_free_ char *unused = NULL;
                json_object_foreach (b.build_args, key, v)
                        if (!json_object_get(b.used_args, key)) {
                                char *n = gb_xasprintf("%s%s%s", unused ? unused : "", unused ? " " : "", key);
                                free(unused);
                                unused = n;
                        }
                if (unused)
                        say(&b, "[Warning] One or more build-args [%s] were not consumed\n", unused);
        }
        for (char *const *t = o->tags; t && *t; t++) {
                r = gb_store_tag(b.s, id, *t, err);
                if (r < 0)
                        goto out;
        }
        if (o->built)
                o->built(id, o->log_data);
        say(&b, "Successfully built %.12s\n", short_id(id));
        for (char *const *t = o->tags; t && *t; t++)
                say(&b, "Successfully tagged %s%s\n", *t,
                    strchr(strrchr(*t, '/') ? strrchr(*t, '/') : *t, ':') ? "" : ":latest");
        snprintf(ret_id, GB_DIGEST_LEN, "%s", id);
        r = 0;
out:
        /* Docker's --force-rm, always: no container outlives the build. */
        while (b.containers && b.containers[0])
                drop_container(&b, b.containers[0]);
        for (char **c = b.created; b.s && c && *c; c++) {
                char **lines = NULL;
                if (r >= 0 && !strcmp(*c, id))
                        continue;
                (void)gb_store_rmi(b.s, *c, true, &lines, NULL);
                gb_strv_free(lines);
        }
        gb_strv_free(b.created);
        gb_strv_free(b.containers);
        gb_store_free(b.s);
        gb_dockerfile_done(&b.df);
        json_decref(b.cfg);
        json_decref(b.meta_args);
        json_decref(b.args);
        json_decref(b.build_args);
        json_decref(b.used_args);
        json_decref(b.stages);
        return r;
}
