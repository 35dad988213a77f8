#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "layer.h"
#include "rootfs.h"
#include "sha256.h"
#include "userns.h"
#include "util.h"

GB_EXPORT int gb_storage_shift_parse(const char *s, enum gb_storage_shift *ret)
{
        if (!strcmp(s, "auto") || !strcmp(s, ""))
                *ret = GB_STORAGE_SHIFT_AUTO;
        else if (!strcmp(s, "idmap"))
                *ret = GB_STORAGE_SHIFT_IDMAP;
        else if (!strcmp(s, "chown"))
                *ret = GB_STORAGE_SHIFT_CHOWN;
        else
                return -EINVAL;
        return 0;
}

static bool remapped(const struct gb_rootfs_opts *o)
{
        return o->uids && o->uids->n > 0 && o->gids && o->gids->n > 0;
}

/* A short stable name for a (uids, gids) pair. */
static void map_key(const struct gb_idmap *uids, const struct gb_idmap *gids, char key[17])
{
        char buf[2 * GB_IDMAP_MAX * 34 + 4], digest[GB_DIGEST_LEN];
        ssize_t a, b;

        a = gb_idmap_format(uids, buf, sizeof(buf) / 2);
        buf[a < 0 ? 0 : a] = '|';
        b = gb_idmap_format(gids, buf + (a < 0 ? 0 : a) + 1, sizeof(buf) / 2);
        gb_sha256_digest(buf, (size_t)(a < 0 ? 0 : a) + 1 + (size_t)(b < 0 ? 0 : b), digest);
        memcpy(key, digest + 7, 16);
        key[16] = '\0';
}

static bool is_mount_root(const char *path)
{
        struct statx stx;

        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
                return false;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int id_valid(const char *h)
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

struct lockfile {
        int fd;
};

static void lockfile_done(struct lockfile *l)
{
        if (l->fd >= 0)
                close(l->fd); /* drops the flock */
        l->fd = -EBADF;
}

static int lock_path(const char *path, struct lockfile *l, struct gb_error *err)
{
        l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (l->fd < 0)
                return gb_error_sys(err, errno, "Failed to open lock '%s'", path);
        while (flock(l->fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return gb_error_sys(err, errno, "Failed to lock '%s'", path);
        return 0;
}

/* ---- idmapped views ----------------------------------------------------- */

static bool idmap_unsupported(int r)
{
        return r == -ENOSYS || r == -EINVAL || r == -EOPNOTSUPP || r == -EPERM || r == -ENOTSUP;
}

/* Mount (once per mapping) the idmapped view of the layer store and take a
 * reference for container id. */
static void views_gc(const char *dir, const char *keep);

static int view_get(struct gb_store *s, const struct gb_rootfs_opts *o, const char *key, char **ret_view,
                    struct gb_error *err)
{
        _cleanup_(lockfile_done) struct lockfile lk = {-EBADF};
        _cleanup_free_ char *dir = gb_xasprintf("%s/idmapped", o->exec_root), *lock = NULL, *view = NULL, *refs = NULL,
                            *ref = NULL, *layers = NULL;
        _cleanup_close_ int ns = -EBADF, tree = -EBADF, fd = -EBADF;
        int r;

        r = gb_mkdir_p(dir, 0700);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", dir);
        lock = gb_xasprintf("%s/.lock", dir);
        r = lock_path(lock, &lk, err);
        if (r < 0)
                return r;
        view = gb_xasprintf("%s/%s", dir, key);
        refs = gb_xasprintf("%s/%s.refs", dir, key);
        ref = gb_xasprintf("%s/%s", refs, o->container_id);
        if (!is_mount_root(view)) {
                layers = gb_xasprintf("%s/layers/sha256", gb_store_data_root(s));
                if (mkdir(view, 0700) < 0 && errno != EEXIST)
                        return gb_error_sys(err, errno, "Failed to create '%s'", view);
                r = gb_userns_open(o->uids, o->gids, &ns, err);
                if (r < 0)
                        return r;
                /* Not recursive: the store is one directory tree; a mount
                 * someone placed below it must not ride along. */
                r = gb_idmapped_tree(AT_FDCWD, layers, ns, false, &tree, err);
                if (r < 0)
                        return r;
                if (move_mount(tree, "", AT_FDCWD, view, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return gb_error_sys(err, errno, "Failed to attach idmapped view at '%s'", view);
        }
        if (mkdir(refs, 0700) < 0 && errno != EEXIST)
                return gb_error_sys(err, errno, "Failed to create '%s'", refs);
        fd = open(ref, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create '%s'", ref);
        views_gc(dir, key);
        *ret_view = TAKE_PTR(view);
        return 0;
}

/* Views nobody holds (a crash between mounting a view and recording its
 * first reference, or a container removed without release) are unmounted.
 * Called with the views lock held. */
static void views_gc(const char *dir, const char *keep)
{
        _cleanup_(gb_closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                _cleanup_free_ char *view = NULL, *refs = NULL;
                _cleanup_(gb_closedirp) DIR *rd = NULL;
                bool held = false;

                if (de->d_name[0] == '.' || strchr(de->d_name, '.') || !strcmp(de->d_name, keep))
                        continue;
                view = gb_xasprintf("%s/%s", dir, de->d_name);
                refs = gb_xasprintf("%s.refs", view);
                rd = opendir(refs);
                for (struct dirent *r; rd && (r = readdir(rd));)
                        if (r->d_name[0] != '.')
                                held = true;
                if (held)
                        continue;
                if (is_mount_root(view))
                        (void)umount2(view, MNT_DETACH | UMOUNT_NOFOLLOW);
                (void)rmdir(refs);
                (void)rmdir(view);
        }
}

static int view_put(const char *exec_root, const char *key, const char *container_id, struct gb_error *err)
{
        _cleanup_(lockfile_done) struct lockfile lk = {-EBADF};
        _cleanup_free_ char *dir = gb_xasprintf("%s/idmapped", exec_root), *lock = NULL, *view = NULL, *refs = NULL,
                            *ref = NULL;
        int r;

        if (access(dir, F_OK) < 0)
                return 0;
        lock = gb_xasprintf("%s/.lock", dir);
        r = lock_path(lock, &lk, err);
        if (r < 0)
                return r;
        view = gb_xasprintf("%s/%s", dir, key);
        refs = gb_xasprintf("%s/%s.refs", dir, key);
        ref = gb_xasprintf("%s/%s", refs, container_id);
        (void)unlink(ref);
        if (rmdir(refs) < 0 && errno != ENOENT)
                return 0; /* other containers still use the view */
        if (is_mount_root(view) && umount2(view, UMOUNT_NOFOLLOW) < 0) {
                /* A lazily detached overlay may still pin it for a moment:
                 * detach; the kernel frees it with its last user. */
                if (umount2(view, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        return gb_error_sys(err, errno, "Failed to unmount idmapped view '%s'", view);
        }
        (void)rmdir(view);
        return 0;
}

GB_EXPORT int gb_rootfs_count_views(const char *exec_root)
{
        _cleanup_free_ char *dir = gb_xasprintf("%s/idmapped", exec_root);
        _cleanup_(gb_closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        while (d && (de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
                        continue;
                p = gb_xasprintf("%s/%s", dir, de->d_name);
                if (is_mount_root(p))
                        n++;
        }
        return n;
}

/* ---- chown mode: shifted copies ------------------------------------------ */

struct shift {
        const struct gb_idmap *uids, *gids;
        uint32_t root_uid;
        /* Hard links: first copy's (src ino) -> dst path relative to the root. */
        struct {
                ino_t ino;
                char *rel;
        } * links;
        size_t n_links;
        int dst_root;
};

static int shift_id(const struct gb_idmap *m, uint32_t id, const char *what, const char *rel, uint32_t *ret,
                    struct gb_error *err)
{
        if (gb_idmap_to_host(m, id, ret) < 0)
                return gb_error_set(err, ERANGE, "Failed to shift '/%s': %s %u is outside the container's range", rel,
                                    what, id);
        return 0;
}

static int copy_xattrs(struct shift *sh, int src, int dst, const char *rel, struct gb_error *err)
{
        char names[65536], val[65536];
        ssize_t n = flistxattr(src, names, sizeof(names));

        if (n < 0)
                return errno == EOPNOTSUPP ? 0 : gb_error_sys(err, errno, "Failed to list xattrs of '/%s'", rel);
        for (char *p = names; p < names + n; p += strlen(p) + 1) {
                ssize_t v = fgetxattr(src, p, val, sizeof(val));
                if (v < 0)
                        continue;
                if (!strcmp(p, "security.capability")) {
                        uint8_t caps[24];
                        int cn;
                        if (v > 24)
                                continue;
                        memcpy(caps, val, (size_t)v);
                        cn = gb_fcaps_normalize(caps, (size_t)v);
                        if (cn < 0)
                                continue;
                        /* Not idmapped: the capability must name the host
                         * UID of the container's root (v3 rootid) or the
                         * kernel ignores it inside the user namespace. */
                        if (cn == 20)
                                cn = gb_fcaps_set_rootid(caps, 20, sh->root_uid);
                        if (fsetxattr(dst, p, caps, (size_t)cn, 0) < 0)
                                return gb_error_sys(err, errno, "Failed to set capabilities on '/%s'", rel);
                        continue;
                }
                if (fsetxattr(dst, p, val, (size_t)v, 0) < 0 && errno != EOPNOTSUPP)
                        return gb_error_sys(err, errno, "Failed to copy xattr '%s' of '/%s'", p, rel);
        }
        return 0;
}

static int copy_data(int src, int dst, off_t size, const char *rel, struct gb_error *err)
{
        if (ioctl(dst, FICLONE, src) == 0)
                return 0;
        while (size > 0) {
                ssize_t n = copy_file_range(src, NULL, dst, NULL, (size_t)size, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return gb_error_sys(err, errno, "Failed to copy '/%s'", rel);
                }
                if (n == 0)
                        break;
                size -= n;
        }
        return 0;
}

static int shift_tree(struct shift *sh, int src_dir, int dst_dir, const char *rel, struct gb_error *err)
{
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        int dfd, r;

        dfd = fcntl(src_dir, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return gb_error_sys(err, errno, "Failed to duplicate fd");
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return gb_error_sys(err, errno, "Failed to read '/%s'", rel);
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *crel = NULL;
                _cleanup_close_ int s = -EBADF, t = -EBADF;
                struct stat st;
                uint32_t hu, hg;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                crel = rel[0] ? gb_xasprintf("%s/%s", rel, de->d_name) : gb_xstrdup(de->d_name);
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return gb_error_sys(err, errno, "Failed to stat '/%s'", crel);
                if ((r = shift_id(sh->uids, st.st_uid, "UID", crel, &hu, err)) < 0 ||
                    (r = shift_id(sh->gids, st.st_gid, "GID", crel, &hg, err)) < 0)
                        return r;
                if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                        bool linked = false;
                        for (size_t i = 0; i < sh->n_links; i++)
                                if (sh->links[i].ino == st.st_ino) {
                                        if (linkat(sh->dst_root, sh->links[i].rel, dst_dir, de->d_name, 0) < 0)
                                                return gb_error_sys(err, errno, "Failed to link '/%s'", crel);
                                        linked = true;
                                        break;
                                }
                        if (linked)
                                continue;
                        sh->links = gb_xrealloc(sh->links, (sh->n_links + 1) * sizeof(*sh->links));
                        sh->links[sh->n_links].ino = st.st_ino;
                        sh->links[sh->n_links++].rel = gb_xstrdup(crel);
                }
                if (S_ISDIR(st.st_mode)) {
                        if (mkdirat(dst_dir, de->d_name, 0700) < 0)
                                return gb_error_sys(err, errno, "Failed to create '/%s'", crel);
                        s = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        t = openat(dst_dir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s < 0 || t < 0)
                                return gb_error_sys(err, errno, "Failed to open '/%s'", crel);
                        r = shift_tree(sh, s, t, crel, err);
                        if (r < 0)
                                return r;
                } else if (S_ISREG(st.st_mode)) {
                        s = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        t = openat(dst_dir, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                        if (s < 0 || t < 0)
                                return gb_error_sys(err, errno, "Failed to open '/%s'", crel);
                        r = copy_data(s, t, st.st_size, crel, err);
                        if (r < 0)
                                return r;
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                        if (n < 0)
                                return gb_error_sys(err, errno, "Failed to read link '/%s'", crel);
                        target[n] = '\0';
                        if (symlinkat(target, dst_dir, de->d_name) < 0)
                                return gb_error_sys(err, errno, "Failed to create link '/%s'", crel);
                        if (fchownat(dst_dir, de->d_name, hu, hg, AT_SYMLINK_NOFOLLOW) < 0)
                                return gb_error_sys(err, errno, "Failed to chown '/%s'", crel);
                        continue;
                } else {
                        if (mknodat(dst_dir, de->d_name, st.st_mode, st.st_rdev) < 0)
                                return gb_error_sys(err, errno, "Failed to create '/%s'", crel);
                        if (fchownat(dst_dir, de->d_name, hu, hg, AT_SYMLINK_NOFOLLOW) < 0 ||
                            fchmodat(dst_dir, de->d_name, st.st_mode & 07777, 0) < 0)
                                return gb_error_sys(err, errno, "Failed to set owner of '/%s'", crel);
                        continue;
                }
                /* chown before chmod and xattrs: chown clears setuid bits
                 * and security.capability. */
                if (fchown(t, hu, hg) < 0 || fchmod(t, st.st_mode & 07777) < 0)
                        return gb_error_sys(err, errno, "Failed to set owner/mode of '/%s'", crel);
                r = copy_xattrs(sh, s, t, crel, err);
                if (r < 0)
                        return r;
                struct timespec ts[2] = {st.st_atim, st.st_mtim};
                (void)futimens(t, ts);
        }
        return 0;
}

/* The shifted copy of one layer for this mapping, made once and shared. */
static int shifted_layer(const char *area, const char *key, const struct gb_layer_meta *l,
                         const struct gb_rootfs_opts *o, uint32_t root_uid, char **ret, struct gb_error *err)
{
        _cleanup_(lockfile_done) struct lockfile lk = {-EBADF};
        _cleanup_free_ char *dir = gb_xasprintf("%s/shifted/%s", area, key), *lock = NULL, *dst = NULL, *tmp = NULL;
        _cleanup_close_ int src = -EBADF, tfd = -EBADF;
        struct shift sh = {.uids = o->uids, .gids = o->gids, .root_uid = root_uid};
        struct stat st;
        uint32_t hu, hg;
        int r;

        r = gb_mkdir_p(dir, 0700);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", dir);
        dst = gb_xasprintf("%s/%s", dir, l->diff_id + 7);
        if (access(dst, F_OK) == 0) {
                *ret = TAKE_PTR(dst);
                return 0;
        }
        lock = gb_xasprintf("%s/.lock", dir);
        r = lock_path(lock, &lk, err);
        if (r < 0)
                return r;
        if (access(dst, F_OK) == 0) {
                *ret = TAKE_PTR(dst);
                return 0;
        }
        tmp = gb_xasprintf("%s/.tmp-%s", dir, l->diff_id + 7);
        (void)gb_rm_rf(tmp);
        src = open(l->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (src < 0 || fstat(src, &st) < 0)
                return gb_error_sys(err, errno, "Failed to open layer '%s'", l->path);
        if (mkdir(tmp, 0700) < 0 || (tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return gb_error_sys(err, errno, "Failed to create '%s'", tmp);
        sh.dst_root = tfd;
        r = shift_tree(&sh, src, tfd, "", err);
        for (size_t i = 0; i < sh.n_links; i++)
                free(sh.links[i].rel);
        free(sh.links);
        if (r >= 0 && ((r = shift_id(o->uids, st.st_uid, "UID", "", &hu, err)) >= 0 &&
                       (r = shift_id(o->gids, st.st_gid, "GID", "", &hg, err)) >= 0)) {
                if (fchown(tfd, hu, hg) < 0 || fchmod(tfd, st.st_mode & 07777) < 0)
                        r = gb_error_sys(err, errno, "Failed to set owner of '%s'", tmp);
                else
                        r = copy_xattrs(&sh, src, tfd, "", err);
        }
        if (r >= 0 && syncfs(tfd) < 0)
                r = gb_error_sys(err, errno, "Failed to sync '%s'", tmp);
        if (r >= 0 && rename(tmp, dst) < 0)
                r = gb_error_sys(err, errno, "Failed to rename '%s'", tmp);
        if (r < 0) {
                (void)gb_rm_rf(tmp);
                return r;
        }
        *ret = TAKE_PTR(dst);
        return 0;
}

/* ---- probe ---------------------------------------------------------------- */

GB_EXPORT void gb_rootfs_probe(const char *data_root, enum gb_storage_shift requested, enum gb_storage_shift *ret_mode,
                               char *reason, size_t reason_len)
{
        _cleanup_free_ char *layers = gb_xasprintf("%s/layers/sha256", data_root);
        struct gb_error e = {0};
        _cleanup_free_ char *fs = NULL;

        if (requested == GB_STORAGE_SHIFT_CHOWN) {
                *ret_mode = GB_STORAGE_SHIFT_CHOWN;
                (void)snprintf(reason, reason_len, "forced by \"storage-shift\": \"chown\"");
                return;
        }
        if (gb_read_file_at(AT_FDCWD, "/proc/filesystems", 1 << 20, &fs, NULL) < 0 || !strstr(fs, "\toverlay\n")) {
                *ret_mode = GB_STORAGE_SHIFT_CHOWN;
                (void)snprintf(reason, reason_len, "overlayfs is not available (modprobe overlay)");
                return;
        }
        (void)gb_mkdir_p(layers, 0711);
        if (gb_idmap_mounts_supported(layers, &e)) {
                *ret_mode = GB_STORAGE_SHIFT_IDMAP;
                (void)snprintf(reason, reason_len, "%s: the kernel and filesystem of '%s' support idmapped mounts",
                               requested == GB_STORAGE_SHIFT_IDMAP ? "requested" : "auto", layers);
                return;
        }
        *ret_mode = GB_STORAGE_SHIFT_CHOWN;
        (void)snprintf(reason, reason_len, "%s: idmapped mounts unavailable for '%s' (%s); using shifted copies",
                       requested == GB_STORAGE_SHIFT_IDMAP ? "requested idmap but" : "auto", layers, e.msg);
}

/* ---- prepare / release -------------------------------------------------- */

static int area_path(struct gb_store *s, const struct gb_rootfs_opts *o, uint32_t *ret_uid, uint32_t *ret_gid,
                     char **ret, struct gb_error *err)
{
        uint32_t u = 0, g = 0;

        if (remapped(o) && (gb_idmap_to_host(o->uids, 0, &u) < 0 || gb_idmap_to_host(o->gids, 0, &g) < 0))
                return gb_error_set(err, EINVAL, "Failed to prepare rootfs: the ID map does not map container root");
        *ret_uid = u;
        *ret_gid = g;
        *ret = gb_xasprintf("%s/%u.%u", gb_store_data_root(s), u, g);
        return 0;
}

static int mkdir_owned(const char *p, mode_t mode, uid_t u, gid_t g, struct gb_error *err)
{
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return gb_error_sys(err, errno, "Failed to create '%s'", p);
        if (chown(p, u, g) < 0 || chmod(p, mode) < 0)
                return gb_error_sys(err, errno, "Failed to set owner of '%s'", p);
        return 0;
}

/* overlayfs over lowers (top first), nodev. New mount API with one
 * "lowerdir+" per layer (no page-size limit on the option string); older
 * kernels get the classic colon-joined lowerdir. */
static int mount_overlay(char **lowers, size_t n, const char *upper, const char *work, const char *target,
                         struct gb_error *err)
{
        _cleanup_close_ int fsfd = -EBADF, mfd = -EBADF;
        bool plus = true;

        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return gb_error_sys(err, errno, "Failed to open overlayfs (is the overlay module loaded?)");
        for (size_t i = 0; i < n && plus; i++)
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0) < 0) {
                        if (i == 0 && errno == EINVAL)
                                plus = false;
                        else
                                return gb_error_sys(err, errno, "Failed to add overlay lower '%s'", lowers[i]);
                }
        if (!plus) {
                size_t len = 1;
                _cleanup_free_ char *joined = NULL;
                for (size_t i = 0; i < n; i++)
                        len += strlen(lowers[i]) + 1;
                joined = gb_xcalloc(1, len);
                for (size_t i = 0; i < n; i++) {
                        if (i)
                                strcat(joined, ":");
                        strcat(joined, lowers[i]);
                }
                if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", joined, 0) < 0)
                        return gb_error_sys(err, errno, "Failed to set overlay lowerdir");
        }
        /* Many overlays share each lower: the inode index (a kernel build
         * default on some distributions) ties a lower to one upper. */
        (void)fsconfig(fsfd, FSCONFIG_SET_STRING, "index", "off", 0);
        if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
            fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
                return gb_error_sys(err, errno, "Failed to set overlay upper/work dirs");
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return gb_error_sys(err, errno, "Failed to create the overlay for '%s' (see dmesg)", target);
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
        if (mfd < 0)
                return gb_error_sys(err, errno, "Failed to mount the overlay for '%s'", target);
        if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return gb_error_sys(err, errno, "Failed to attach the overlay at '%s'", target);
        return 0;
}

static int check_ranges(const struct gb_rootfs_opts *o, const struct gb_layer_meta *l, size_t n, struct gb_error *err)
{
        uint64_t nu = gb_idmap_contiguous(o->uids), ng = gb_idmap_contiguous(o->gids);

        /* The maxima recorded at extraction decide, with no tree walk:
         * everything below a contiguous-from-0 map's size is mapped. */
        for (size_t i = 0; i < n; i++) {
                if (l[i].max_uid >= nu)
                        return gb_error_set(err, ERANGE,
                                            "Failed to create the container's root filesystem: '%s' in layer %.19s "
                                            "is owned by UID %u, outside the container's UID range 0-%llu; container "
                                            "ID %u cannot be mapped to a host ID (give the container a larger "
                                            "range, e.g. 65536 IDs, or use --userns=host)",
                                            l[i].max_uid_path, l[i].diff_id, l[i].max_uid,
                                            (unsigned long long)(nu ? nu - 1 : 0), l[i].max_uid);
                if (l[i].max_gid >= ng)
                        return gb_error_set(err, ERANGE,
                                            "Failed to create the container's root filesystem: '%s' in layer %.19s "
                                            "has group GID %u, outside the container's GID range 0-%llu; container "
                                            "ID %u cannot be mapped to a host ID (give the container a larger "
                                            "range, e.g. 65536 IDs, or use --userns=host)",
                                            l[i].max_gid_path, l[i].diff_id, l[i].max_gid,
                                            (unsigned long long)(ng ? ng - 1 : 0), l[i].max_gid);
        }
        return 0;
}

GB_EXPORT void gb_rootfs_done(struct gb_rootfs *r)
{
        if (!r)
                return;
        free(r->path);
        free(r->dir);
        r->path = r->dir = NULL;
}

GB_EXPORT int gb_rootfs_prepare(struct gb_store *s, const struct gb_rootfs_opts *o, struct gb_rootfs *ret,
                                struct gb_error *err)
{
        _cleanup_free_ char *area = NULL, *cdir = NULL, *upper = NULL, *work = NULL, *rootfs = NULL, *view = NULL,
                            *state = NULL, *empty = NULL, *containers = NULL, *statebuf = NULL;
        struct gb_layer_meta *layers = NULL;
        size_t n = 0, nl = 0;
        char **lowers = NULL;
        char key[17] = "host";
        enum gb_storage_shift mode = o->shift;
        bool have_view = false;
        uint32_t ru, rg;
        int r;

        if (!o->container_id || !id_valid(o->container_id))
                return gb_error_set(err, EINVAL, "Failed to prepare rootfs: bad container ID");
        r = area_path(s, o, &ru, &rg, &area, err);
        if (r < 0)
                return r;
        r = gb_store_image_layers(s, o->image_id, &layers, &n, err);
        if (r < 0)
                return r;
        if (remapped(o)) {
                r = check_ranges(o, layers, n, err);
                if (r < 0)
                        goto out;
                map_key(o->uids, o->gids, key);
        }

        /* <area>: 0700, owned by the remapped root, as Docker lays it out. */
        r = mkdir_owned(area, 0700, ru, rg, err);
        if (r < 0)
                goto out;
        containers = gb_xasprintf("%s/containers", area);
        r = mkdir_owned(containers, 0700, ru, rg, err);
        if (r < 0)
                goto out;
        cdir = gb_xasprintf("%s/%s", containers, o->container_id);
        upper = gb_xasprintf("%s/upper", cdir);
        work = gb_xasprintf("%s/work", cdir);
        rootfs = gb_xasprintf("%s/rootfs", cdir);
        state = gb_xasprintf("%s/rootfs.state", cdir);
        if ((r = mkdir_owned(cdir, 0700, ru, rg, err)) < 0 || (r = mkdir_owned(upper, 0755, ru, rg, err)) < 0 ||
            (r = mkdir_owned(work, 0700, 0, 0, err)) < 0 || (r = mkdir_owned(rootfs, 0755, ru, rg, err)) < 0)
                goto out;
        if (is_mount_root(rootfs)) {
                r = gb_error_set(err, EBUSY, "Failed to prepare rootfs: '%s' is already mounted", rootfs);
                goto out;
        }

        lowers = gb_xcalloc(n + 2, sizeof(char *));
        if (!remapped(o)) {
                /* --userns=host: the image's true ownership, no shifting. */
                mode = GB_STORAGE_SHIFT_IDMAP;
                for (size_t i = 0; i < n; i++)
                        lowers[nl++] = gb_xstrdup(layers[n - 1 - i].path);
        } else {
                if (mode != GB_STORAGE_SHIFT_CHOWN) {
                        struct gb_error verr = {0};
                        r = view_get(s, o, key, &view, &verr);
                        if (r < 0 && mode == GB_STORAGE_SHIFT_AUTO && idmap_unsupported(r)) {
                                gb_warn("idmapped mounts unavailable (%s): using chown mode", verr.msg);
                                mode = GB_STORAGE_SHIFT_CHOWN;
                        } else if (r < 0) {
                                *err = verr;
                                goto out;
                        } else {
                                mode = GB_STORAGE_SHIFT_IDMAP;
                                have_view = true;
                        }
                }
                /* Record how to undo this before mounting, so release
                 * after a crash knows which view to drop. Renamed into place
                 * but not fsynced: a process crash keeps it (page cache); a
                 * power loss takes the views and mounts with it (they live
                 * under the exec root and in the kernel), and release copes
                 * with a missing or empty state by undoing both modes. */
                statebuf = gb_xasprintf("%s %s\n", gb_storage_shift_to_string(mode), key);
                r = gb_write_file_replace(state, statebuf, strlen(statebuf), 0600);
                if (r < 0) {
                        r = gb_error_sys(err, -r, "Failed to write '%s'", state);
                        goto out;
                }
                for (size_t i = 0; i < n; i++) {
                        const struct gb_layer_meta *l = &layers[n - 1 - i];
                        if (mode == GB_STORAGE_SHIFT_IDMAP)
                                lowers[nl++] = gb_xasprintf("%s/%s", view, l->diff_id + 7);
                        else {
                                r = shifted_layer(area, key, l, o, ru, &lowers[nl], err);
                                if (r < 0)
                                        goto out;
                                nl++;
                        }
                }
        }
        if (nl == 0) {
                /* overlayfs needs a lower: an image without layers gets an
                 * empty one. */
                empty = gb_xasprintf("%s/empty", cdir);
                if (mkdir(empty, 0755) < 0 && errno != EEXIST) {
                        r = gb_error_sys(err, errno, "Failed to create '%s'", empty);
                        goto out;
                }
                lowers[nl++] = gb_xstrdup(empty);
        }
        r = mount_overlay(lowers, nl, upper, work, rootfs, err);
        if (r < 0)
                goto out;
        ret->path = TAKE_PTR(rootfs);
        ret->dir = TAKE_PTR(cdir);
        ret->mode = mode;
        r = 0;
out:
        if (r < 0 && have_view)
                (void)view_put(o->exec_root, key, o->container_id, NULL);
        gb_layer_metas_free(layers, n);
        gb_strv_free(lowers);
        return r;
}

GB_EXPORT int gb_rootfs_release(struct gb_store *s, const struct gb_rootfs_opts *o, struct gb_error *err)
{
        _cleanup_free_ char *area = NULL, *cdir = NULL, *rootfs = NULL, *state = NULL, *buf = NULL, *p = NULL;
        uint32_t ru, rg;
        int r;

        if (!o->container_id || !id_valid(o->container_id))
                return gb_error_set(err, EINVAL, "Failed to release rootfs: bad container ID");
        r = area_path(s, o, &ru, &rg, &area, err);
        if (r < 0)
                return r;
        cdir = gb_xasprintf("%s/containers/%s", area, o->container_id);
        rootfs = gb_xasprintf("%s/rootfs", cdir);
        state = gb_xasprintf("%s/rootfs.state", cdir);
        while (is_mount_root(rootfs)) {
                if (umount2(rootfs, UMOUNT_NOFOLLOW) < 0 && umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        return gb_error_sys(err, errno, "Failed to unmount '%s'", rootfs);
        }
        if (gb_read_file_at(AT_FDCWD, state, 4096, &buf, NULL) >= 0) {
                char mode[16], key[17];
                if (sscanf(buf, "%15s %16s", mode, key) == 2 && !strcmp(mode, "idmap") && strlen(key) == 16) {
                        r = view_put(o->exec_root, key, o->container_id, err);
                        if (r < 0)
                                return r;
                }
        }
        static const char *const parts[] = {"upper", "work", "rootfs", "empty", "rootfs.state"};
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
                free(p);
                p = gb_xasprintf("%s/%s", cdir, parts[i]);
                r = gb_rm_rf(p);
                if (r < 0)
                        return gb_error_sys(err, -r, "Failed to remove '%s'", p);
        }
        /* The container dir itself belongs to the container module (it may
         * hold config and logs); remove it only when empty. */
        (void)rmdir(cdir);
        return 0;
}
