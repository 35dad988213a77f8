#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "archive-dl.h"
#include "cfs.h"
#include "cleanup.h"
#include "layer.h"
#include "store.h"
#include "syscalls.h"
#include "util.h"

/* The overflow ID the kernel shows for an unmapped owner. */
#define OVERFLOW_ID 65534

/* ---- pure helpers ------------------------------------------------------- */

GB_EXPORT int gb_cfs_path_parse(const char *path, struct gb_cfs_path *ret)
{
        size_t len = path ? strlen(path) : 0, n = 0;
        _cleanup_free_ char *joined = NULL;
        _cleanup_free_ size_t *starts = NULL; /* start of each kept component in joined */
        size_t nstarts = 0, o = 0;
        bool dot, sep;

        memset(ret, 0, sizeof(*ret));
        if (len == 0)
                return -EINVAL;
        if (len > GB_LAYER_PATH_MAX)
                return -ENAMETOOLONG;
        dot = strcmp(path, ".") == 0 || (len >= 2 && strcmp(path + len - 2, "/.") == 0);
        sep = path[len - 1] == '/';
        joined = gb_xmalloc(len + 1);
        starts = gb_xcalloc(len / 2 + 2, sizeof(size_t));
        for (const char *p = path; *p;) {
                const char *s = p;

                while (*p && *p != '/')
                        p++;
                n = (size_t)(p - s);
                if (*p)
                        p++;
                if (n == 0 || (n == 1 && s[0] == '.'))
                        continue;
                if (n == 2 && s[0] == '.' && s[1] == '.') {
                        /* Lexical, as Go's Clean on "/" + path: ".." at
                         * the root stays at the root. */
                        if (nstarts > 0) {
                                o = starts[--nstarts];
                                if (o > 0)
                                        o--; /* the '/' before it */
                        }
                        continue;
                }
                if (o)
                        joined[o++] = '/';
                starts[nstarts++] = o;
                memcpy(joined + o, s, n);
                o += n;
        }
        joined[o] = '\0';
        ret->want_dir = dot || sep;
        if (nstarts == 0) {
                ret->dir = gb_xstrdup("");
                ret->leaf = gb_xstrdup("");
                ret->name = gb_xstrdup(".");
                return 0;
        }
        const char *last = joined + starts[nstarts - 1];
        if (dot || sep) {
                ret->name = gb_xstrdup(dot ? "." : last);
                ret->leaf = gb_xstrdup("");
                ret->dir = TAKE_PTR(joined);
                return 0;
        }
        ret->name = gb_xstrdup(last);
        ret->leaf = gb_xstrdup(last);
        ret->dir = strndup(joined, starts[nstarts - 1] ? starts[nstarts - 1] - 1 : 0);
        if (!ret->dir)
                abort();
        return 0;
}

GB_EXPORT void gb_cfs_path_done(struct gb_cfs_path *p)
{
        if (!p)
                return;
        free(p->dir);
        free(p->leaf);
        free(p->name);
        p->dir = p->leaf = p->name = NULL;
}

GB_EXPORT uint32_t gb_cfs_go_mode(uint32_t m)
{
        /* Go's os.FileMode: type bits high, permission bits low, setuid,
         * setgid and sticky as their own high bits (not 04000 etc.). */
        uint32_t g = m & 0777;

        switch (m & S_IFMT) {
        case S_IFDIR:
                g |= 1u << 31;
                break;
        case S_IFLNK:
                g |= 1u << 27;
                break;
        case S_IFBLK:
                g |= 1u << 26;
                break;
        case S_IFCHR:
                g |= 1u << 26 | 1u << 21;
                break;
        case S_IFIFO:
                g |= 1u << 25;
                break;
        case S_IFSOCK:
                g |= 1u << 24;
                break;
        default:
                break;
        }
        if (m & S_ISUID)
                g |= 1u << 23;
        if (m & S_ISGID)
                g |= 1u << 22;
        if (m & S_ISVTX)
                g |= 1u << 20;
        return g;
}

GB_EXPORT char *gb_base64(const void *data, size_t len)
{
        static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const uint8_t *p = data;
        char *out = gb_xmalloc((len + 2) / 3 * 4 + 1), *o = out;

        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t)p[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t)p[i + 1] << 8;
                if (i + 2 < len)
                        v |= p[i + 2];
                *o++ = tab[(v >> 18) & 63];
                *o++ = tab[(v >> 12) & 63];
                *o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
                *o++ = i + 2 < len ? tab[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

GB_EXPORT char *gb_utf8_sanitize(const char *s)
{
        const uint8_t *p = (const uint8_t *)s;
        size_t n = strlen(s);
        char *out = gb_xmalloc(n * 3 + 1), *o = out;

        /* File names are bytes; JSON strings are UTF-8 (jansson refuses
         * anything else). Invalid bytes become U+FFFD, as Go's encoder
         * writes them for Docker. */
        while (*p) {
                size_t len = 0;
                uint32_t cp = 0;

                if (p[0] < 0x80)
                        len = 1, cp = p[0];
                else if ((p[0] & 0xE0) == 0xC0)
                        len = 2, cp = p[0] & 0x1F;
                else if ((p[0] & 0xF0) == 0xE0)
                        len = 3, cp = p[0] & 0x0F;
                else if ((p[0] & 0xF8) == 0xF0)
                        len = 4, cp = p[0] & 0x07;
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xC0) != 0x80) {
                                len = 0;
                                break;
                        }
                        cp = cp << 6 | (p[i] & 0x3F);
                }
                /* Overlong forms, surrogates and values past U+10FFFF are
                 * invalid too. */
                if (len == 0 || (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
                        memcpy(o, "\xEF\xBF\xBD", 3);
                        o += 3;
                        p++;
                        continue;
                }
                memcpy(o, p, len);
                o += len;
                p += len;
        }
        *o = '\0';
        return out;
}

GB_EXPORT char *gb_cfs_stat_header(const struct gb_cfs_stat *st)
{
        char mtime[64];
        struct tm tm;
        time_t t = (time_t)st->mtime_sec;
        json_t *doc;
        _cleanup_free_ char *s = NULL;

        if (!gmtime_r(&t, &tm) || strftime(mtime, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                (void)snprintf(mtime, sizeof(mtime), "1970-01-01T00:00:00");
        (void)snprintf(mtime + strlen(mtime), sizeof(mtime) - strlen(mtime), ".%09ldZ", st->mtime_nsec);
        _cleanup_free_ char *name = gb_utf8_sanitize(st->name ? st->name : ""),
                            *link = gb_utf8_sanitize(st->link_target ? st->link_target : "");

        doc = json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", name, "size", (json_int_t)st->size, "mode",
                        (json_int_t)gb_cfs_go_mode(st->mode), "mtime", mtime, "linkTarget", link);
        if (!doc)
                abort();
        s = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        if (!s)
                abort();
        return gb_base64(s, strlen(s));
}

/* ---- open ---------------------------------------------------------------- */

static int fd_path(int fd, char **ret)
{
        char proc[64], buf[PATH_MAX];
        ssize_t n;

        (void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        n = readlink(proc, buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        *ret = gb_xstrdup(buf);
        return 0;
}

GB_EXPORT void gb_cfs_done(struct gb_cfs *f)
{
        if (!f)
                return;
        if (f->root_fd >= 0)
                close(f->root_fd);
        f->root_fd = -EBADF;
        free(f->root_path);
        free(f->id);
        free(f->upper);
        gb_strv_free(f->lowers);
        f->root_path = f->id = f->upper = NULL;
        f->lowers = NULL;
}

GB_EXPORT int gb_cfs_open(const char *data_root, const struct gb_container *c, struct gb_cfs *ret, struct gb_error *err)
{
        _cleanup_free_ char *root = gb_xasprintf("%s/rootfs", c->dir);
        json_t *g = json_object_get(c->doc, "Ghostbox");
        const char *image_id = json_string_value(json_object_get(g, "ImageId"));
        const char *source = json_string_value(json_object_get(g, "RootfsSource"));
        struct statx stx;
        int r;

        memset(ret, 0, sizeof(*ret));
        ret->root_fd = -EBADF;
        ret->id = gb_xstrdup(c->id);
        if ((!image_id || !*image_id) && source && *source) {
                /* --rootfs DIR: the container sees DIR through an
                 * idmapped mount, so DIR itself holds the container's IDs
                 * (its root is 0 there). Work on DIR with IDs as they are:
                 * host root writing through the idmapped mount would be
                 * refused (EOVERFLOW), and chowning there to 400000 would
                 * store an ID the container sees as unmapped. */
                free(root);
                root = gb_xstrdup(source);
        } else {
                gb_container_idmap_from_json(json_object_get(g, "UidMap"), &ret->uids);
                gb_container_idmap_from_json(json_object_get(g, "GidMap"), &ret->gids);
                ret->remapped = ret->uids.n > 0 && ret->gids.n > 0;
                /* The root is mounted at create and unmounted at remove; a
                 * record without its mount (after a reboot) must not be
                 * mistaken for an empty directory we could write into. */
                if (statx(AT_FDCWD, root, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0 ||
                    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
                    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
                        r = gb_error_set(err, ENOENT,
                                         "Failed to open the filesystem of container %s: '%s' is not mounted", c->id,
                                         root);
                        goto fail;
                }
        }
        /* (The --rootfs path is the administrator's, as given to create.) */
        ret->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC | (source && *source ? 0 : O_NOFOLLOW));
        if (ret->root_fd < 0) {
                r = gb_error_sys(err, errno, "Failed to open '%s'", root);
                goto fail;
        }
        r = fd_path(ret->root_fd, &ret->root_path);
        if (r < 0) {
                r = gb_error_sys(err, -r, "Failed to read the path of '%s'", root);
                goto fail;
        }
        if (image_id && *image_id) {
                _cleanup_(gb_store_freep) struct gb_store *s = NULL;
                struct gb_layer_meta *layers = NULL;
                size_t n = 0;

                ret->upper = gb_xasprintf("%s/upper", c->dir);
                r = gb_store_open(data_root, &s, err);
                if (r >= 0)
                        r = gb_store_image_layers(s, image_id, &layers, &n, err);
                if (r < 0)
                        goto fail;
                ret->lowers = gb_xcalloc(n + 1, sizeof(char *));
                for (size_t i = 0; i < n; i++)
                        ret->lowers[i] = gb_xstrdup(layers[n - 1 - i].path);
                gb_layer_metas_free(layers, n);
        }
        return 0;
fail:
        gb_cfs_done(ret);
        return r;
}

GB_EXPORT int gb_cfs_open_dir(const char *dir, struct gb_cfs *ret, struct gb_error *err)
{
        int r;

        memset(ret, 0, sizeof(*ret));
        ret->id = gb_xstrdup(dir);
        ret->root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ret->root_fd < 0) {
                r = gb_error_sys(err, errno, "Failed to open '%s'", dir);
                gb_cfs_done(ret);
                return r;
        }
        r = fd_path(ret->root_fd, &ret->root_path);
        if (r < 0) {
                r = gb_error_sys(err, -r, "Failed to read the path of '%s'", dir);
                gb_cfs_done(ret);
        }
        return r;
}

/* ---- resolution ------------------------------------------------------------ */

static int not_found(const struct gb_cfs *f, const char *path, struct gb_error *err)
{
        return gb_error_set(err, ENOENT, "Could not find the file %s in container %s", path, f->id);
}

/* Resolve path's directory (followed, inside the root) to an O_PATH fd and
 * lstat the target. */
static int resolve(const struct gb_cfs *f, const char *path, struct gb_cfs_path *p, int *ret_dfd, struct stat *st,
                   struct gb_error *err)
{
        _cleanup_close_ int dfd = -EBADF;
        int r;

        r = gb_cfs_path_parse(path, p);
        if (r < 0)
                return gb_error_set(err, EINVAL, "Failed to resolve path '%s': %s", path ? path : "",
                                    r == -EINVAL ? "the path is empty" : "it is too long");
        r = gb_open_in_root(f->root_fd, p->dir, O_PATH | O_DIRECTORY, &dfd, NULL);
        if (r == -ENOTDIR && p->want_dir && !p->leaf[0]) {
                struct stat tmp;
                _cleanup_close_ int any = -EBADF;
                if (gb_open_in_root(f->root_fd, p->dir, O_PATH, &any, NULL) == 0 && fstat(any, &tmp) == 0)
                        return gb_error_set(err, ENOTDIR, "Failed to resolve '%s' in container %s: not a directory",
                                            path, f->id);
        }
        if (r == -ENOENT || r == -ENOTDIR)
                return not_found(f, path, err);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to resolve '%s' in container %s", path, f->id);
        if (fstatat(dfd, p->leaf, st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return not_found(f, path, err);
                return gb_error_sys(err, errno, "Failed to stat '%s' in container %s", path, f->id);
        }
        *ret_dfd = TAKE_FD(dfd);
        return 0;
}

GB_EXPORT void gb_cfs_stat_done(struct gb_cfs_stat *st)
{
        if (!st)
                return;
        free(st->name);
        free(st->link_target);
        st->name = st->link_target = NULL;
}

GB_EXPORT int gb_cfs_stat(const struct gb_cfs *f, const char *path, struct gb_cfs_stat *ret, struct gb_error *err)
{
        _cleanup_(gb_cfs_path_done) struct gb_cfs_path p = {0};
        _cleanup_close_ int dfd = -EBADF;
        struct stat st;
        int r;

        memset(ret, 0, sizeof(*ret));
        r = resolve(f, path, &p, &dfd, &st, err);
        if (r < 0)
                return r;
        ret->name = gb_xstrdup(p.name);
        ret->size = st.st_size;
        ret->mode = st.st_mode;
        ret->mtime_sec = st.st_mtim.tv_sec;
        ret->mtime_nsec = st.st_mtim.tv_nsec;
        if (S_ISLNK(st.st_mode)) {
                _cleanup_free_ char *full = p.dir[0] ? gb_xasprintf("%s/%s", p.dir, p.leaf) : gb_xstrdup(p.leaf);
                _cleanup_free_ char *host = NULL;
                _cleanup_close_ int tfd = -EBADF;
                size_t rl = strlen(f->root_path);

                /* Where the link leads as the kernel resolves it with the
                 * container's root as "/" (the CLI's `cp -L` asks for this
                 * path next). A dangling link reports its text. */
                if (gb_open_in_root(f->root_fd, full, O_PATH, &tfd, NULL) == 0 && fd_path(tfd, &host) == 0 &&
                    strncmp(host, f->root_path, rl) == 0 && (host[rl] == '/' || host[rl] == '\0'))
                        ret->link_target = gb_xstrdup(host[rl] ? host + rl : "/");
                else {
                        char buf[PATH_MAX];
                        ssize_t n = readlinkat(dfd, p.leaf, buf, sizeof(buf) - 1);
                        buf[n < 0 ? 0 : n] = '\0';
                        ret->link_target = gb_xstrdup(buf);
                }
        }
        return 0;
}

/* ---- tar out -------------------------------------------------------------- */

static void archive_write_freep(struct archive **a)
{
        if (*a)
                (void)gb_ar.archive_write_free(*a);
}

static void entry_freep(struct archive_entry **e)
{
        if (*e)
                gb_ar.archive_entry_free(*e);
}

struct tarw {
        struct archive *a;
        const struct gb_cfs *f;
        bool layer; /* the upper as an image layer (gb_cfs_layer_tar) */
        struct link {
                dev_t dev;
                ino_t ino;
                char *name;
        } * links;
        size_t n_links;
        char buf[128 * 1024];
};

static uint32_t to_container(const struct gb_cfs *f, const struct gb_idmap *m, uint32_t host)
{
        uint32_t id;

        if (!f->remapped)
                return host;
        return gb_idmap_to_container(m, host, &id) == 0 ? id : OVERFLOW_ID;
}

static int tar_write_error(struct tarw *w, const char *name, struct gb_error *err)
{
        int e = gb_ar.archive_errno(w->a);
        return gb_error_set(err, e > 0 ? e : EIO, "Failed to write '%s' to the archive: %s", name,
                            gb_ar.archive_error_string(w->a) ? gb_ar.archive_error_string(w->a) : "write error");
}

static int tar_file_data(struct tarw *w, int dfd, const char *leaf, const struct stat *st, const char *name,
                         struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat now;
        off_t left = st->st_size;

        /* O_NONBLOCK: a file swapped for a FIFO after the lstat would block
         * an open without it; the fstat below then refuses the swap. */
        fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &now) < 0 || !S_ISREG(now.st_mode) || now.st_ino != st->st_ino)
                return 0; /* gone or replaced: libarchive pads the entry */
        while (left > 0) {
                ssize_t n = read(fd, w->buf, (size_t)left < sizeof(w->buf) ? (size_t)left : sizeof(w->buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break; /* shrank meanwhile: padded with zeros */
                if (gb_ar.archive_write_data(w->a, w->buf, (size_t)n) < 0)
                        return tar_write_error(w, name, err);
                left -= n;
        }
        return 0;
}

static int tar_dir_children(struct tarw *w, int dfd, const char *leaf, const char *prefix, struct gb_error *err);
static bool is_whiteout(const struct stat *st);
static bool runtime_stub(const char *rel, const struct stat *st);
static bool lower_has(const struct gb_cfs *f, const char *rel);

/* Layer form of an overlayfs upper (the OCI image-spec's changeset):
 * a whiteout device becomes an empty ".wh.NAME" beside it, an opaque
 * directory gets a ".wh..wh..opq" entry, and a file capability is kept in
 * v2 form (root of whichever namespace runs it), since a v3 value names
 * this container's host root ID, which means nothing in another range. */
static int layer_extra(struct tarw *w, int dfd, const char *leaf, const char *name, const struct stat *st,
                       struct archive_entry *e, bool *ret_done, struct gb_error *err)
{
        _cleanup_(entry_freep) struct archive_entry *wh = NULL;
        _cleanup_free_ char *whname = NULL;
        const char *slash = strrchr(name, '/');
        unsigned char caps[24];
        ssize_t n;

        *ret_done = false;
        if (is_whiteout(st)) {
                *ret_done = true;
                whname = slash ? gb_xasprintf("%.*s/.wh.%s", (int)(slash - name), name, slash + 1)
                               : gb_xasprintf(".wh.%s", name);
                wh = gb_ar.archive_entry_new();
                if (!wh)
                        return gb_error_sys(err, ENOMEM, "Failed to allocate an archive entry");
                gb_ar.archive_entry_set_pathname(wh, whname);
                gb_ar.archive_entry_set_filetype(wh, AE_IFREG);
                gb_ar.archive_entry_set_perm(wh, 0);
                gb_ar.archive_entry_set_size(wh, 0);
                gb_ar.archive_entry_set_mtime(wh, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
                return gb_ar.archive_write_header(w->a, wh) >= ARCHIVE_WARN ? 0 : tar_write_error(w, whname, err);
        }
        /* The empty files the runtime made as mount points are not the
         * container's changes (Docker keeps them in its init layer). */
        if (runtime_stub(name, st) && !lower_has(w->f, name)) {
                *ret_done = true;
                return 0;
        }
        if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                n = fd >= 0 ? fgetxattr(fd, "security.capability", caps, sizeof(caps)) : -1;
                if (n > 0) {
                        int len = gb_fcaps_normalize(caps, (size_t)n);
                        if (len > 0)
                                gb_ar.archive_entry_xattr_add_entry(e, "security.capability", caps, (size_t)len);
                }
        }
        return 0;
}

/* Is dir (leaf in dfd) an opaque overlayfs directory? */
static bool layer_opaque(int dfd, const char *leaf)
{
        _cleanup_close_ int fd = openat(dfd, leaf[0] ? leaf : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        char v[2];

        if (fd < 0)
                return false;
        if (fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y')
                return true;
        return fgetxattr(fd, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

static int layer_opaque_marker(struct tarw *w, const char *dirname, const struct stat *st, struct gb_error *err)
{
        _cleanup_(entry_freep) struct archive_entry *e = gb_ar.archive_entry_new();
        _cleanup_free_ char *name = gb_xasprintf("%s/.wh..wh..opq", dirname);

        if (!e)
                return gb_error_sys(err, ENOMEM, "Failed to allocate an archive entry");
        gb_ar.archive_entry_set_pathname(e, name);
        gb_ar.archive_entry_set_filetype(e, AE_IFREG);
        gb_ar.archive_entry_set_perm(e, 0);
        gb_ar.archive_entry_set_size(e, 0);
        gb_ar.archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        return gb_ar.archive_write_header(w->a, e) >= ARCHIVE_WARN ? 0 : tar_write_error(w, name, err);
}

/* One entry (and below it for a directory): leaf in dfd, "" for dfd
 * itself, never followed. */
static int tar_entry(struct tarw *w, int dfd, const char *leaf, const char *name, struct gb_error *err)
{
        _cleanup_(entry_freep) struct archive_entry *e = NULL;
        struct stat st;
        char target[PATH_MAX];
        int r;

        if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) < 0)
                return errno == ENOENT ? 0 : gb_error_sys(err, errno, "Failed to stat '%s'", name);
        e = gb_ar.archive_entry_new();
        if (!e)
                return gb_error_sys(err, ENOMEM, "Failed to allocate an archive entry");
        gb_ar.archive_entry_set_pathname(e, name);
        gb_ar.archive_entry_set_perm(e, st.st_mode & 07777);
        gb_ar.archive_entry_set_uid(e, to_container(w->f, &w->f->uids, st.st_uid));
        gb_ar.archive_entry_set_gid(e, to_container(w->f, &w->f->gids, st.st_gid));
        gb_ar.archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        if (w->layer) {
                bool done;
                r = layer_extra(w, dfd, leaf, name, &st, e, &done, err);
                if (r < 0 || done)
                        return r;
        }
        switch (st.st_mode & S_IFMT) {
        case S_IFREG:
                gb_ar.archive_entry_set_filetype(e, AE_IFREG);
                if (st.st_nlink > 1) {
                        for (size_t i = 0; i < w->n_links; i++)
                                if (w->links[i].dev == st.st_dev && w->links[i].ino == st.st_ino) {
                                        gb_ar.archive_entry_set_hardlink(e, w->links[i].name);
                                        gb_ar.archive_entry_set_size(e, 0);
                                        if (gb_ar.archive_write_header(w->a, e) < ARCHIVE_WARN)
                                                return tar_write_error(w, name, err);
                                        return 0;
                                }
                        w->links = gb_xrealloc(w->links, (w->n_links + 1) * sizeof(*w->links));
                        w->links[w->n_links++] = (struct link){st.st_dev, st.st_ino, gb_xstrdup(name)};
                }
                gb_ar.archive_entry_set_size(e, st.st_size);
                if (gb_ar.archive_write_header(w->a, e) < ARCHIVE_WARN)
                        return tar_write_error(w, name, err);
                return tar_file_data(w, dfd, leaf, &st, name, err);
        case S_IFDIR:
                gb_ar.archive_entry_set_filetype(e, AE_IFDIR);
                if (gb_ar.archive_write_header(w->a, e) < ARCHIVE_WARN)
                        return tar_write_error(w, name, err);
                if (w->layer && layer_opaque(dfd, leaf)) {
                        r = layer_opaque_marker(w, name, &st, err);
                        if (r < 0)
                                return r;
                }
                return tar_dir_children(w, dfd, leaf, name, err);
        case S_IFLNK: {
                ssize_t n = readlinkat(dfd, leaf, target, sizeof(target) - 1);
                if (n < 0)
                        return errno == ENOENT ? 0 : gb_error_sys(err, errno, "Failed to read link '%s'", name);
                target[n] = '\0';
                gb_ar.archive_entry_set_filetype(e, AE_IFLNK);
                gb_ar.archive_entry_set_symlink(e, target);
                break;
        }
        case S_IFCHR:
        case S_IFBLK:
                gb_ar.archive_entry_set_filetype(e, S_ISCHR(st.st_mode) ? AE_IFCHR : AE_IFBLK);
                gb_ar.archive_entry_set_rdevmajor(e, major(st.st_rdev));
                gb_ar.archive_entry_set_rdevminor(e, minor(st.st_rdev));
                break;
        case S_IFIFO:
                gb_ar.archive_entry_set_filetype(e, AE_IFIFO);
                break;
        default:
                return 0; /* sockets: nothing a tar can carry */
        }
        r = gb_ar.archive_write_header(w->a, e);
        return r >= ARCHIVE_WARN ? 0 : tar_write_error(w, name, err);
}

static int tar_dir_children(struct tarw *w, int dfd, const char *leaf, const char *prefix, struct gb_error *err)
{
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        fd = openat(dfd, leaf[0] ? leaf : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : gb_error_sys(err, errno, "Failed to open directory '%s'", prefix);
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return gb_error_sys(err, errno, "Failed to read directory '%s'", prefix);
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *name = NULL;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                name = prefix[0] ? gb_xasprintf("%s/%s", prefix, de->d_name) : gb_xstrdup(de->d_name);
                r = tar_entry(w, dirfd(d), de->d_name, name, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int tar_begin(struct tarw *w, const struct gb_cfs *f, int out_fd, struct gb_error *err)
{
        int r = gb_archive_load(err);

        if (r < 0)
                return r;
        w->f = f;
        w->a = gb_ar.archive_write_new();
        if (!w->a)
                return gb_error_sys(err, ENOMEM, "Failed to allocate an archive writer");
        if (gb_ar.archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
            gb_ar.archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
            gb_ar.archive_write_open_fd(w->a, out_fd) != ARCHIVE_OK)
                return tar_write_error(w, "(start)", err);
        return 0;
}

static int tar_end(struct tarw *w, int r, struct gb_error *err)
{
        if (r >= 0 && gb_ar.archive_write_close(w->a) != ARCHIVE_OK)
                r = tar_write_error(w, "(end)", err);
        archive_write_freep(&w->a);
        for (size_t i = 0; i < w->n_links; i++)
                free(w->links[i].name);
        free(w->links);
        return r;
}

GB_EXPORT int gb_cfs_tar(const struct gb_cfs *f, const char *path, int out_fd, struct gb_error *err)
{
        return gb_cfs_tar_as(f, path, NULL, out_fd, err);
}

GB_EXPORT int gb_cfs_tar_as(const struct gb_cfs *f, const char *path, const char *name, int out_fd,
                            struct gb_error *err)
{
        _cleanup_(gb_cfs_path_done) struct gb_cfs_path p = {0};
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ struct tarw *w = gb_xcalloc(1, sizeof(*w));
        struct stat st;
        int r;

        r = resolve(f, path, &p, &dfd, &st, err);
        if (r < 0)
                return r;
        r = tar_begin(w, f, out_fd, err);
        if (r >= 0)
                r = tar_entry(w, dfd, p.leaf, name ? name : p.name, err);
        return tar_end(w, r, err);
}

GB_EXPORT int gb_cfs_export(const struct gb_cfs *f, int out_fd, struct gb_error *err)
{
        _cleanup_free_ struct tarw *w = gb_xcalloc(1, sizeof(*w));
        int r;

        r = tar_begin(w, f, out_fd, err);
        if (r >= 0)
                r = tar_dir_children(w, f->root_fd, "", "", err);
        return tar_end(w, r, err);
}

GB_EXPORT int gb_cfs_layer_tar(const struct gb_cfs *f, int out_fd, struct gb_error *err)
{
        _cleanup_free_ struct tarw *w = gb_xcalloc(1, sizeof(*w));
        _cleanup_close_ int ufd = -EBADF;
        int r;

        if (!f->upper)
                return gb_error_set(err, EOPNOTSUPP,
                                    "Failed to commit container %s: it runs from a --rootfs directory, not an image, "
                                    "so it has no layer of its own (archive the directory with tar instead)",
                                    f->id);
        ufd = open(f->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ufd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", f->upper);
        w->layer = true;
        r = tar_begin(w, f, out_fd, err);
        if (r >= 0)
                r = tar_dir_children(w, ufd, "", "", err);
        return tar_end(w, r, err);
}

/* ---- tar in --------------------------------------------------------------- */

GB_EXPORT int gb_cfs_put(const struct gb_cfs *f, const char *path, int in_fd, const struct gb_cfs_put_opts *o,
                         struct gb_error *err)
{
        _cleanup_(gb_cfs_path_done) struct gb_cfs_path p = {0};
        _cleanup_free_ char *full = NULL;
        _cleanup_close_ int dfd = -EBADF;
        struct gb_layer_opts lo = {.flags = GB_LAYER_COPY, .blob_fd = -1};
        struct gb_layer_info info;
        int r;

        r = gb_cfs_path_parse(path, &p);
        if (r < 0)
                return gb_error_set(err, EINVAL, "Failed to resolve path '%s': %s", path ? path : "",
                                    r == -EINVAL ? "the path is empty" : "it is too long");
        full = p.dir[0] && p.leaf[0] ? gb_xasprintf("%s/%s", p.dir, p.leaf) : gb_xasprintf("%s%s", p.dir, p.leaf);
        /* The extraction point is followed (it may be a symlink to a
         * directory) but only as the kernel resolves it inside the root,
         * and it becomes the root of every entry's resolution. */
        r = gb_open_in_root(f->root_fd, full, O_RDONLY | O_DIRECTORY, &dfd, NULL);
        if (r == -ENOTDIR) {
                _cleanup_close_ int any = -EBADF;
                if (gb_open_in_root(f->root_fd, full, O_PATH, &any, NULL) == 0)
                        return gb_error_set(err, ENOTDIR, "extraction point is not a directory");
        }
        if (r == -ENOENT || r == -ENOTDIR)
                return not_found(f, path, err);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to open '%s' in container %s", path, f->id);
        if (o && o->no_overwrite_dir_nondir)
                lo.flags |= GB_LAYER_NO_DIR_NONDIR;
        if (o && o->chown) {
                lo.fixed_owner = true;
                lo.owner_uid = o->uid;
                lo.owner_gid = o->gid;
                if (f->remapped && (gb_idmap_to_host(&f->uids, o->uid, &lo.owner_uid) < 0 ||
                                    gb_idmap_to_host(&f->gids, o->gid, &lo.owner_gid) < 0))
                        return gb_error_set(err, ERANGE,
                                            "Failed to copy into container %s: owner %u:%u is outside its ID map",
                                            f->id, o->uid, o->gid);
        } else if (o && o->copy_uidgid) {
                if (f->remapped) {
                        lo.uids = &f->uids;
                        lo.gids = &f->gids;
                }
        } else {
                /* Docker: files copied in belong to the container's root,
                 * which on the host is the first ID of the range. */
                lo.fixed_owner = true;
                if (f->remapped && (gb_idmap_to_host(&f->uids, 0, &lo.owner_uid) < 0 ||
                                    gb_idmap_to_host(&f->gids, 0, &lo.owner_gid) < 0))
                        return gb_error_set(err, EINVAL, "Failed to copy into container %s: its map has no root",
                                            f->id);
        }
        return gb_layer_extract(in_fd, dfd, &lo, &info, err);
}

/* ---- changes ------------------------------------------------------------- */

struct changes {
        const struct gb_cfs *f;
        int *lower_fds;
        size_t n_lowers;
        struct gb_cfs_change *v;
        size_t n;
};

static bool is_whiteout(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Does rel exist in the image (a lower layer, top first, whiteouts
 * hiding what is below)? Parents are resolved without following any
 * symlink: a layer's "lib -> /usr/lib" must not lead us onto the host. */
static bool in_lowers(struct changes *c, const char *rel, struct stat *ret)
{
        const char *slash = strrchr(rel, '/');
        _cleanup_free_ char *parent = slash ? strndup(rel, (size_t)(slash - rel)) : gb_xstrdup(".");
        const char *leaf = slash ? slash + 1 : rel;

        for (size_t i = 0; i < c->n_lowers; i++) {
                struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV};
                _cleanup_close_ int pfd = -EBADF;

                if (c->lower_fds[i] < 0)
                        continue;
                pfd = gb_openat2(c->lower_fds[i], parent, &how, sizeof(how));
                if (pfd < 0)
                        continue;
                if (fstatat(pfd, leaf, ret, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                return !is_whiteout(ret);
        }
        return false;
}

/* Does rel exist in any of f's image layers (not followed, parents
 * resolved beneath each layer without symlinks)? */
static bool lower_has(const struct gb_cfs *f, const char *rel)
{
        for (char **l = f->lowers; l && *l; l++) {
                struct open_how how = {.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
                                       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV};
                _cleanup_close_ int lfd = open(*l, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int fd = lfd >= 0 ? gb_openat2(lfd, rel, &how, sizeof(how)) : -EBADF;
                struct stat st;

                if (fd >= 0 && fstat(fd, &st) == 0)
                        return !is_whiteout(&st);
        }
        return false;
}

static void push_change(struct changes *c, const char *rel, int kind)
{
        c->v = gb_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
        _cleanup_free_ char *p = gb_xasprintf("/%s", rel);

        c->v[c->n].path = gb_utf8_sanitize(p);
        c->v[c->n++].kind = kind;
}

/* The empty files the runtime creates as mount points for the files it
 * bind-mounts over them. Docker keeps those in an "init" layer below the
 * container's, so `docker diff` never shows them; neither do we. */
static bool runtime_stub(const char *rel, const struct stat *st)
{
        static const char *const stubs[] = {"etc/hosts", "etc/hostname", "etc/resolv.conf"};

        if (!S_ISREG(st->st_mode) || st->st_size != 0)
                return false;
        for (size_t i = 0; i < ARRAY_SIZE(stubs); i++)
                if (strcmp(rel, stubs[i]) == 0)
                        return true;
        return false;
}

/* rel's directory is leaf in dfd: opened by name with O_NOFOLLOW, one
 * level at a time, since a running container can swap any directory of
 * its upper for a symlink to "/" between our readdir and open.
 * *ret_touched: a direct child was added or deleted. */
static int changes_walk(struct changes *c, int dfd, const char *leaf, const char *rel, bool *ret_touched,
                        struct gb_error *err)
{
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        int fd, r;

        fd = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : gb_error_sys(err, errno, "Failed to open '%s/%s'", c->f->upper, rel);
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return gb_error_sys(err, errno, "Failed to read '%s/%s'", c->f->upper, rel);
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *crel = NULL;
                struct stat st, lst;
                bool lower, same_dir, touched = false;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                crel = rel[0] ? gb_xasprintf("%s/%s", rel, de->d_name) : gb_xstrdup(de->d_name);
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (is_whiteout(&st)) {
                        push_change(c, crel, GB_CFS_DELETED);
                        *ret_touched = true;
                        continue;
                }
                lower = in_lowers(c, crel, &lst);
                if (!lower && runtime_stub(crel, &st))
                        continue;
                if (!lower)
                        *ret_touched = true;
                /* Docker's rule: a directory copied up only because
                 * something below it changed is listed only when a direct
                 * child was added or deleted. Docker tells by mode, size
                 * and mtime; we by mode alone, since the runtime's mount
                 * point stubs (which Docker keeps in a layer of their own)
                 * change /etc's mtime: a bare `touch` of an image
                 * directory is not reported. */
                same_dir = lower && S_ISDIR(st.st_mode) && S_ISDIR(lst.st_mode) && st.st_mode == lst.st_mode;
                if (!same_dir)
                        push_change(c, crel, lower ? GB_CFS_MODIFIED : GB_CFS_ADDED);
                if (S_ISDIR(st.st_mode)) {
                        r = changes_walk(c, dirfd(d), de->d_name, crel, &touched, err);
                        if (r < 0)
                                return r;
                }
                if (same_dir && touched)
                        push_change(c, crel, GB_CFS_MODIFIED); /* sorted at the end */
        }
        return 0;
}

static int change_cmp(const void *a, const void *b)
{
        return strcmp(((const struct gb_cfs_change *)a)->path, ((const struct gb_cfs_change *)b)->path);
}

GB_EXPORT void gb_cfs_changes_free(struct gb_cfs_change *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i].path);
        free(v);
}

GB_EXPORT int gb_cfs_changes(const struct gb_cfs *f, struct gb_cfs_change **ret, size_t *ret_n, struct gb_error *err)
{
        struct changes c = {.f = f};
        _cleanup_close_ int ufd = -EBADF;
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (!f->upper)
                return gb_error_set(err, EOPNOTSUPP,
                                    "Failed to list the changes of container %s: it runs from a --rootfs directory, "
                                    "not an image, so there is nothing to compare with",
                                    f->id);
        ufd = open(f->upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ufd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", f->upper);
        c.n_lowers = gb_strv_len(f->lowers);
        c.lower_fds = gb_xcalloc(c.n_lowers + 1, sizeof(int));
        for (size_t i = 0; i < c.n_lowers; i++)
                c.lower_fds[i] = open(f->lowers[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        bool touched = false;
        r = changes_walk(&c, ufd, ".", "", &touched, err);
        for (size_t i = 0; i < c.n_lowers; i++)
                if (c.lower_fds[i] >= 0)
                        close(c.lower_fds[i]);
        free(c.lower_fds);
        if (r < 0) {
                gb_cfs_changes_free(c.v, c.n);
                return r;
        }
        if (c.n > 1)
                qsort(c.v, c.n, sizeof(*c.v), change_cmp);
        *ret = c.v;
        *ret_n = c.n;
        return 0;
}
