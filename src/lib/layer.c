#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "archive-dl.h"
#include "cleanup.h"
#include "layer.h"
#include "syscalls.h"
#include "util.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

static void archive_freep(struct archive **a)
{
        if (*a)
                (void)gb_ar.archive_read_free(*a);
}

/* The raw (still compressed) input: copied to the blob file and hashed as
 * the blob digest while libarchive's outer reader decompresses it. */
struct raw_reader {
        int fd;
        bool no_hash; /* GB_LAYER_COPY: nobody needs the digests */
        int blob_fd;
        int error; /* first read/write errno */
        struct gb_sha256 sha;
        uint64_t n;
        gb_progress_fn progress;
        void *progress_userdata;
        char buf[128 * 1024];
};

static la_ssize_t raw_read(struct archive *a, void *userdata, const void **ret)
{
        struct raw_reader *r = userdata;
        ssize_t n;

        do
                n = read(r->fd, r->buf, sizeof(r->buf));
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                r->error = errno;
                gb_ar.archive_set_error(a, errno, "read error");
                return -1;
        }
        if (n > 0 && r->blob_fd >= 0) {
                int q = gb_write_all(r->blob_fd, r->buf, (size_t)n);
                if (q < 0) {
                        r->error = -q;
                        gb_ar.archive_set_error(a, -q, "blob write error");
                        return -1;
                }
        }
        if (!r->no_hash)
                gb_sha256_update(&r->sha, r->buf, (size_t)n);
        r->n += (uint64_t)n;
        if (r->progress)
                r->progress(r->n, r->progress_userdata);
        *ret = r->buf;
        return n;
}

/* The decompressed tar stream, hashed as the diff ID on its way to the tar
 * reader. */
struct tar_reader {
        struct archive *outer;
        bool no_hash;
        uint64_t n;
        struct gb_sha256 sha;
        char buf[128 * 1024];
};

static la_ssize_t tar_read(struct archive *a, void *userdata, const void **ret)
{
        struct tar_reader *t = userdata;
        la_ssize_t n = gb_ar.archive_read_data(t->outer, t->buf, sizeof(t->buf));

        if (n < 0) {
                gb_ar.archive_set_error(a, gb_ar.archive_errno(t->outer) ? gb_ar.archive_errno(t->outer) : EIO, "%s",
                                        gb_ar.archive_error_string(t->outer) ? gb_ar.archive_error_string(t->outer)
                                                                             : "read error");
                return -1;
        }
        if (!t->no_hash)
                gb_sha256_update(&t->sha, t->buf, (size_t)n);
        t->n += (uint64_t)n;
        *ret = t->buf;
        return n;
}

GB_EXPORT int gb_open_in_root(int root_fd, const char *path, int flags, int *ret_fd, struct gb_error *err)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd;

        fd = gb_openat2(root_fd, path[0] ? path : ".", &how, sizeof(how));
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s' inside the layer", path);
        *ret_fd = fd;
        return 0;
}

GB_EXPORT int gb_remove_at(int dfd, const char *name)
{
        struct stat st, parent;
        int fd, r = 0;
        DIR *d;
        struct dirent *de;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        if (fstat(dfd, &parent) < 0)
                return -errno;
        if (parent.st_dev != st.st_dev)
                return -EBUSY;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                int q = gb_remove_at(dirfd(d), de->d_name);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

/* Clean an archive path to a relative one: leading "/" and "./" and empty or
 * "." components go; ".." is refused outright (Docker calls this a
 * "breakout"). Components longer than NAME_MAX are left to the kernel. */
static int clean_path(const char *in, char **ret)
{
        size_t len = strlen(in);
        _cleanup_free_ char *out = gb_xmalloc(len + 1);
        size_t o = 0;
        const char *p = in;

        if (len > GB_LAYER_PATH_MAX)
                return -ENAMETOOLONG;
        while (*p) {
                const char *s = p;
                size_t n;

                while (*p && *p != '/')
                        p++;
                n = (size_t)(p - s);
                if (*p)
                        p++;
                if (n == 0 || (n == 1 && s[0] == '.'))
                        continue;
                if (n == 2 && s[0] == '.' && s[1] == '.')
                        return -EXDEV;
                if (o)
                        out[o++] = '/';
                memcpy(out + o, s, n);
                o += n;
        }
        out[o] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

struct extract {
        int root;
        unsigned flags;
        const struct gb_layer_opts *opts;
        struct gb_layer_info *info;
        /* The last parent resolved, reused while entries stay in one
         * directory; dropped whenever anything is removed or a symlink is
         * created, since either can change what the path resolves to. */
        char *cached_parent;
        int cached_fd;
};

static void cache_drop(struct extract *x)
{
        free(x->cached_parent);
        x->cached_parent = NULL;
        if (x->cached_fd >= 0)
                close(x->cached_fd);
        x->cached_fd = -EBADF;
}

/* Resolve (and with create, make) directory rel inside the root, one
 * component at a time, each resolution done by the kernel with the layer as
 * "/". Returns a new O_RDONLY|O_DIRECTORY fd. */
static int resolve_dir(struct extract *x, const char *rel, int *ret_fd, struct gb_error *err)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int cur = -EBADF;
        int r;

        if (x->cached_parent && strcmp(x->cached_parent, rel) == 0) {
                *ret_fd = fcntl(x->cached_fd, F_DUPFD_CLOEXEC, 3);
                return *ret_fd < 0 ? gb_error_sys(err, errno, "Failed to duplicate fd") : 0;
        }
        r = gb_open_in_root(x->root, rel, O_RDONLY | O_DIRECTORY, &cur, NULL);
        if (r == -ENOENT) {
                size_t len = strlen(rel);

                buf = gb_xstrdup(rel);
                cur = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
                if (cur < 0)
                        return gb_error_sys(err, errno, "Failed to duplicate fd");
                for (size_t i = 0; i <= len; i++) {
                        _cleanup_close_ int next = -EBADF;
                        const char *comp;

                        if (buf[i] != '/' && buf[i] != '\0')
                                continue;
                        buf[i] = '\0';
                        comp = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
                        r = gb_open_in_root(x->root, buf, O_RDONLY | O_DIRECTORY, &next, NULL);
                        if (r == -ENOENT) {
                                if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
                                        return gb_error_sys(err, errno, "Failed to create directory '%s'", buf);
                                r = gb_open_in_root(x->root, buf, O_RDONLY | O_DIRECTORY, &next, NULL);
                        }
                        if (r < 0)
                                return gb_error_sys(err, -r, "Failed to open directory '%s' in the layer", buf);
                        close(cur);
                        cur = TAKE_FD(next);
                        if (i < len)
                                buf[i] = '/';
                }
        } else if (r < 0)
                return gb_error_sys(err, -r, "Failed to open directory '%s' in the layer", rel);
        cache_drop(x);
        x->cached_parent = gb_xstrdup(rel);
        x->cached_fd = fcntl(cur, F_DUPFD_CLOEXEC, 3);
        if (x->cached_fd < 0)
                cache_drop(x);
        *ret_fd = TAKE_FD(cur);
        return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Linux's vfs_cap_data layout (linux/capability.h): magic_etc, then
 * permitted/inheritable pairs, then (v3 only) rootid. */
#define CAP_REV_MASK 0xFF000000u
#define CAP_REV1 0x01000000u
#define CAP_REV2 0x02000000u
#define CAP_REV3 0x03000000u
#define CAP_FLAGS_EFFECTIVE 0x000001u

GB_EXPORT int gb_fcaps_normalize(void *buf, size_t size)
{
        uint8_t *p = buf;
        uint32_t magic;

        if (size < 4)
                return -EINVAL;
        magic = get_le32(p);
        if ((magic & ~(CAP_REV_MASK | CAP_FLAGS_EFFECTIVE)) != 0)
                return -EINVAL;
        switch (magic & CAP_REV_MASK) {
        case CAP_REV1:
                return size == 12 ? 12 : -EINVAL;
        case CAP_REV2:
                return size == 20 ? 20 : -EINVAL;
        case CAP_REV3:
                if (size != 24)
                        return -EINVAL;
                /* The rootid names a host UID of whatever machine built the
                 * image; in an image it can only mean "the container's root",
                 * which is exactly what a v2 value means. */
                put_le32(p, CAP_REV2 | (magic & CAP_FLAGS_EFFECTIVE));
                return 20;
        default:
                return -EINVAL;
        }
}

GB_EXPORT int gb_fcaps_set_rootid(void *buf, size_t size, uint32_t rootid)
{
        uint8_t *p = buf;
        uint32_t magic;

        if (size != 20 && size != 24)
                return -EINVAL;
        magic = get_le32(p);
        put_le32(p, CAP_REV3 | (magic & CAP_FLAGS_EFFECTIVE));
        put_le32(p + 20, rootid);
        return 24;
}

static int apply_xattrs(struct extract *x, struct archive_entry *e, int fd, const char *path, struct gb_error *err)
{
        const char *name;
        const void *value;
        size_t size;

        if (gb_ar.archive_entry_xattr_reset(e) == 0)
                return 0;
        while (gb_ar.archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                uint8_t caps[24];

                if (!name)
                        continue;
                if (strcmp(name, "security.capability") == 0) {
                        int n;

                        /* Copied in by whoever calls the API, not part of
                         * an image: no privilege bits ride along. */
                        if (x->flags & GB_LAYER_COPY) {
                                x->info->dropped_xattrs++;
                                continue;
                        }

                        if (size > sizeof(caps)) {
                                x->info->dropped_xattrs++;
                                continue;
                        }
                        memcpy(caps, value, size);
                        n = gb_fcaps_normalize(caps, size);
                        if (n < 0) {
                                x->info->dropped_xattrs++;
                                continue;
                        }
                        if (fsetxattr(fd, name, caps, (size_t)n, 0) < 0)
                                return gb_error_sys(err, errno, "Failed to set file capabilities on '%s'", path);
                        continue;
                }
                /* trusted.overlay.* in a lower layer steers overlayfs
                 * (redirects, opaque dirs, metacopy origins): only our own
                 * whiteout conversion may set it. user.overlay.* is the same
                 * for userxattr mounts. Other trusted.* and security.* labels
                 * belong to the host, not to an image. */
                if (!gb_str_has_prefix(name, "user.") || gb_str_has_prefix(name, "user.overlay.")) {
                        x->info->dropped_xattrs++;
                        continue;
                }
                if (size > 65536) {
                        x->info->dropped_xattrs++;
                        continue;
                }
                if (fsetxattr(fd, name, value, size, 0) < 0) {
                        /* tmpfs and friends may lack user xattrs: not
                         * worth failing an image for. */
                        if (errno == EOPNOTSUPP || errno == ENOTSUP) {
                                x->info->dropped_xattrs++;
                                continue;
                        }
                        return gb_error_sys(err, errno, "Failed to set xattr '%s' on '%s'", name, path);
                }
        }
        return 0;
}

static void note_owner(struct extract *x, const char *path, uint32_t uid, uint32_t gid)
{
        if (uid > x->info->max_uid || !x->info->max_uid_path[0]) {
                x->info->max_uid = uid;
                (void)snprintf(x->info->max_uid_path, sizeof(x->info->max_uid_path), "/%s", path);
        }
        if (gid > x->info->max_gid || !x->info->max_gid_path[0]) {
                x->info->max_gid = gid;
                (void)snprintf(x->info->max_gid_path, sizeof(x->info->max_gid_path), "/%s", path);
        }
}

/* chown first: chown(2) clears setuid/setgid bits and security.capability,
 * so the mode and the xattrs are applied after it. */
static int apply_meta_fd(struct extract *x, struct archive_entry *e, int fd, const char *path, uid_t uid, gid_t gid,
                         mode_t mode, struct gb_error *err)
{
        struct timespec ts[2];

        if (!(x->flags & GB_LAYER_PLAIN) && fchown(fd, uid, gid) < 0)
                return gb_error_sys(err, errno, "Failed to chown '%s'", path);
        if (fchmod(fd, mode) < 0)
                return gb_error_sys(err, errno, "Failed to chmod '%s'", path);
        if (!(x->flags & GB_LAYER_PLAIN)) {
                int r = apply_xattrs(x, e, fd, path, err);
                if (r < 0)
                        return r;
        }
        ts[0].tv_sec = ts[1].tv_sec = gb_ar.archive_entry_mtime(e);
        ts[0].tv_nsec = ts[1].tv_nsec = gb_ar.archive_entry_mtime_nsec(e);
        (void)futimens(fd, ts);
        return 0;
}

static int write_data(struct archive *a, int fd, struct archive_entry *e, const char *path, struct gb_error *err)
{
        const void *buf;
        size_t size;
        la_int64_t off;
        int r;

        while ((r = gb_ar.archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
                const char *p = buf;
                while (size > 0) {
                        ssize_t n = pwrite(fd, p, size, (off_t)off);
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                return gb_error_sys(err, errno, "Failed to write '%s'", path);
                        }
                        p += n;
                        size -= (size_t)n;
                        off += n;
                }
        }
        if (r != ARCHIVE_EOF)
                return gb_error_set(err, gb_ar.archive_errno(a) ? gb_ar.archive_errno(a) : EIO,
                                    "Failed to read data of '%s': %s", path,
                                    gb_ar.archive_error_string(a) ? gb_ar.archive_error_string(a) : "corrupt archive");
        if (gb_ar.archive_entry_size_is_set(e) && ftruncate(fd, (off_t)gb_ar.archive_entry_size(e)) < 0)
                return gb_error_sys(err, errno, "Failed to size '%s'", path);
        return 0;
}

/* GB_LAYER_COPY: the host owner of an entry (see gb_layer_opts). */
static int copy_owner(struct extract *x, const char *raw, uid_t *uid, gid_t *gid, struct gb_error *err)
{
        const struct gb_layer_opts *o = x->opts;
        uint32_t hu, hg;

        if (!o)
                return 0;
        if (o->fixed_owner) {
                *uid = o->owner_uid;
                *gid = o->owner_gid;
                return 0;
        }
        if (!o->uids || !o->gids || o->uids->n == 0)
                return 0;
        if (gb_idmap_to_host(o->uids, *uid, &hu) < 0 || gb_idmap_to_host(o->gids, *gid, &hg) < 0)
                return gb_error_set(err, ERANGE,
                                    "Failed to extract '%s': owner %u:%u is outside the container's ID range", raw,
                                    (unsigned)*uid, (unsigned)*gid);
        *uid = hu;
        *gid = hg;
        return 0;
}

static int extract_entry(struct extract *x, struct archive *a, struct archive_entry *e, struct gb_error *err)
{
        _cleanup_free_ char *path = NULL, *parent = NULL;
        _cleanup_close_ int pfd = -EBADF, fd = -EBADF;
        const char *raw = gb_ar.archive_entry_pathname(e), *name, *hardlink, *slash;
        bool plain = x->flags & GB_LAYER_PLAIN, copy = x->flags & GB_LAYER_COPY;
        mode_t type = gb_ar.archive_entry_filetype(e);
        mode_t perm = gb_ar.archive_entry_perm(e) & 07777;
        la_int64_t uid64 = gb_ar.archive_entry_uid(e), gid64 = gb_ar.archive_entry_gid(e);
        uid_t uid;
        gid_t gid;
        struct stat st;
        int r;

        if (!raw)
                return gb_error_set(err, EINVAL, "Failed to extract an entry: it has no (readable) name");
        r = clean_path(raw, &path);
        if (r == -EXDEV)
                return gb_error_set(err, EPERM, "Failed to extract '%s': the path leaves the layer (\"..\")", raw);
        if (r < 0)
                return gb_error_set(err, -r, "Failed to extract an entry: path of %zu bytes is too long (limit %d)",
                                    strlen(raw), GB_LAYER_PATH_MAX);
        if (uid64 < 0 || uid64 >= UINT32_MAX || gid64 < 0 || gid64 >= UINT32_MAX)
                return gb_error_set(err, ERANGE, "Failed to extract '%s': owner %lld:%lld is not a valid ID", raw,
                                    (long long)uid64, (long long)gid64);
        uid = (uid_t)uid64;
        gid = (gid_t)gid64;
        if (plain) {
                uid = 0;
                gid = 0;
                perm = type == AE_IFDIR ? 0755 : 0644;
        }
        x->info->entries++;
        if (!plain)
                note_owner(x, path, uid, gid);
        if (copy) {
                r = copy_owner(x, raw, &uid, &gid, err);
                if (r < 0)
                        return r;
        }

        if (path[0] == '\0') {
                /* "./": the layer root itself. */
                if (type != AE_IFDIR)
                        return gb_error_set(err, EINVAL, "Failed to extract '%s': the layer root must be a directory",
                                            raw);
                return apply_meta_fd(x, e, x->root, "/", uid, gid, perm, err);
        }
        slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
        parent = slash ? strndup(path, (size_t)(slash - path)) : gb_xstrdup("");
        if (!parent)
                return gb_error_sys(err, ENOMEM, "Failed to allocate");
        r = resolve_dir(x, parent, &pfd, err);
        if (r < 0)
                return gb_error_prefix(err, "Failed to extract '%s'", raw);

        if (!plain && !copy && gb_str_has_prefix(name, WHITEOUT_PREFIX)) {
                const char *victim = name + strlen(WHITEOUT_PREFIX);

                if (strcmp(name, WHITEOUT_OPAQUE) == 0) {
                        /* The opaque marker becomes the overlayfs xattr on
                         * its directory: lower layers' contents are hidden. */
                        if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
                                return gb_error_sys(err, errno, "Failed to mark '/%s' opaque", parent);
                        return 0;
                }
                if (gb_str_has_prefix(victim, WHITEOUT_PREFIX) || !victim[0] || !strcmp(victim, ".") ||
                    !strcmp(victim, ".."))
                        return 0; /* aufs metadata (.wh..wh.plnk etc.) or junk */
                cache_drop(x);
                r = gb_remove_at(pfd, victim);
                if (r < 0)
                        return gb_error_sys(err, -r, "Failed to replace '/%s/%s' with a whiteout", parent, victim);
                /* overlayfs' whiteout: a 0/0 character device. */
                if (mknodat(pfd, victim, S_IFCHR | 0600, makedev(0, 0)) < 0)
                        return gb_error_sys(err, errno, "Failed to create whiteout for '/%s/%s'", parent, victim);
                if (fchownat(pfd, victim, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return gb_error_sys(err, errno, "Failed to chown whiteout '/%s/%s'", parent, victim);
                return 0;
        }

        /* The leaf is never followed: an existing entry is replaced, unless
         * a directory meets a directory (tar's merge semantics). */
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                hardlink = gb_ar.archive_entry_hardlink(e);
                if (!(S_ISDIR(st.st_mode) && type == AE_IFDIR && !hardlink)) {
                        if ((x->flags & GB_LAYER_NO_DIR_NONDIR) && S_ISDIR(st.st_mode) != (type == AE_IFDIR))
                                return gb_error_set(err, S_ISDIR(st.st_mode) ? EISDIR : ENOTDIR,
                                                    "Failed to extract '%s': cannot overwrite %sdirectory with %s"
                                                    "directory",
                                                    raw, S_ISDIR(st.st_mode) ? "" : "non-",
                                                    type == AE_IFDIR ? "" : "non-");
                        cache_drop(x);
                        r = gb_remove_at(pfd, name);
                        if (r < 0)
                                return gb_error_sys(err, -r, "Failed to replace '%s'", raw);
                }
        }

        hardlink = gb_ar.archive_entry_hardlink(e);
        if (hardlink) {
                _cleanup_free_ char *target = NULL;
                _cleanup_close_ int tparent = -EBADF;
                const char *tname, *tslash;

                r = clean_path(hardlink, &target);
                if (r < 0 || !target[0])
                        return gb_error_set(err, EPERM, "Failed to extract hardlink '%s': target '%s' leaves the layer",
                                            raw, hardlink);
                tslash = strrchr(target, '/');
                tname = tslash ? tslash + 1 : target;
                if (tslash) {
                        target[tslash - target] = '\0';
                        r = gb_open_in_root(x->root, target, O_PATH | O_DIRECTORY, &tparent, err);
                        target[tslash - target] = '/';
                } else
                        tparent = fcntl(x->root, F_DUPFD_CLOEXEC, 3), r = tparent < 0 ? -errno : 0;
                if (r < 0)
                        return gb_error_set(err, EPERM,
                                            "Failed to extract hardlink '%s': target '%s' is not in the layer", raw,
                                            hardlink);
                /* Resolved in the layer, leaf not followed: a link to a host
                 * file (/etc/shadow) finds nothing and fails. */
                if (linkat(tparent, tname, pfd, name, 0) < 0)
                        return gb_error_sys(err, errno, "Failed to extract hardlink '%s' to '%s'", raw, hardlink);
                return 0;
        }

        switch (type) {
        case AE_IFREG:
                fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return gb_error_sys(err, errno, "Failed to create '%s'", raw);
                r = write_data(a, fd, e, raw, err);
                if (r < 0)
                        return r;
                return apply_meta_fd(x, e, fd, raw, uid, gid, perm, err);
        case AE_IFDIR:
                if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST)
                        return gb_error_sys(err, errno, "Failed to create directory '%s'", raw);
                fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return gb_error_sys(err, errno, "Failed to open directory '%s'", raw);
                return apply_meta_fd(x, e, fd, raw, uid, gid, perm, err);
        case AE_IFLNK: {
                const char *target = gb_ar.archive_entry_symlink(e);
                struct timespec ts[2];

                if (!target || !target[0] || strlen(target) > GB_LAYER_PATH_MAX)
                        return gb_error_set(err, EINVAL, "Failed to extract symlink '%s': bad target", raw);
                /* The target is stored, never followed here: every later
                 * path is resolved with the layer as "/", so an absolute or
                 * "../../" target cannot lead out of it. */
                cache_drop(x);
                if (symlinkat(target, pfd, name) < 0)
                        return gb_error_sys(err, errno, "Failed to create symlink '%s'", raw);
                if (!plain && fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return gb_error_sys(err, errno, "Failed to chown symlink '%s'", raw);
                ts[0].tv_sec = ts[1].tv_sec = gb_ar.archive_entry_mtime(e);
                ts[0].tv_nsec = ts[1].tv_nsec = gb_ar.archive_entry_mtime_nsec(e);
                (void)utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
                return 0;
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
                if (plain || (copy && type != AE_IFIFO))
                        return 0;
                /* Device nodes are kept so the image is faithful, but the
                 * root filesystem is mounted nodev: only the runtime's /dev
                 * provides usable devices. */
                if (mknodat(pfd, name, type | 0600,
                            type == AE_IFIFO
                                    ? 0
                                    : makedev(gb_ar.archive_entry_rdevmajor(e), gb_ar.archive_entry_rdevminor(e))) < 0)
                        return gb_error_sys(err, errno, "Failed to create node '%s'", raw);
                if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return gb_error_sys(err, errno, "Failed to chown '%s'", raw);
                if (fchmodat(pfd, name, perm, 0) < 0)
                        return gb_error_sys(err, errno, "Failed to chmod '%s'", raw);
                return 0;
        default:
                /* Sockets and unknown types carry nothing worth keeping. */
                return 0;
        }
}

GB_EXPORT int gb_layer_extract(int in_fd, int root_fd, const struct gb_layer_opts *opts, struct gb_layer_info *ret,
                               struct gb_error *err)
{
        _cleanup_(archive_freep) struct archive *outer = NULL, *inner = NULL;
        _cleanup_free_ struct raw_reader *raw = gb_xcalloc(1, sizeof(*raw));
        _cleanup_free_ struct tar_reader *tr = gb_xcalloc(1, sizeof(*tr));
        struct gb_layer_info info = {.compression = "none"};
        struct extract x = {
                .root = root_fd, .flags = opts ? opts->flags : 0, .opts = opts, .info = &info, .cached_fd = -EBADF};
        struct archive_entry *e;
        int r;

        r = gb_archive_load(err);
        if (r < 0)
                return r;
        raw->fd = in_fd;
        raw->blob_fd = opts ? opts->blob_fd : -1;
        raw->progress = opts ? opts->progress : NULL;
        raw->progress_userdata = opts ? opts->progress_userdata : NULL;
        gb_sha256_init(&raw->sha);
        gb_sha256_init(&tr->sha);
        /* Hashing twice costs more than the copy itself (512 MiB through
         * `docker cp`: 4.3 s with the two digests, 0.6 s without). */
        raw->no_hash = tr->no_hash = x.flags & GB_LAYER_COPY;

        /* Outer reader: undo the compression only. Filters are named one by
         * one: archive_read_support_filter_all() would also run external
         * programs (lrzip, lzop) on hostile input. */
        outer = gb_ar.archive_read_new();
        if (!outer)
                return gb_error_sys(err, ENOMEM, "Failed to allocate an archive reader");
        gb_ar.archive_read_support_filter_gzip(outer);
        gb_ar.archive_read_support_filter_zstd(outer);
        gb_ar.archive_read_support_format_raw(outer);
        if (gb_ar.archive_read_open(outer, raw, NULL, raw_read, NULL) != ARCHIVE_OK)
                return gb_error_set(err, raw->error ? raw->error : EINVAL, "Failed to read the archive: %s",
                                    gb_ar.archive_error_string(outer) ? gb_ar.archive_error_string(outer)
                                                                      : "unknown format");
        if (gb_ar.archive_read_next_header(outer, &e) != ARCHIVE_OK)
                return gb_error_set(err, EINVAL, "Failed to read the archive: %s",
                                    gb_ar.archive_error_string(outer) ? gb_ar.archive_error_string(outer)
                                                                      : "empty input");
        switch (gb_ar.archive_filter_code(outer, 0)) {
        case ARCHIVE_FILTER_GZIP:
                info.compression = "gzip";
                break;
        case ARCHIVE_FILTER_ZSTD:
                info.compression = "zstd";
                break;
        default:
                break;
        }
        tr->outer = outer;

        inner = gb_ar.archive_read_new();
        if (!inner)
                return gb_error_sys(err, ENOMEM, "Failed to allocate an archive reader");
        gb_ar.archive_read_support_format_tar(inner);
        if (gb_ar.archive_read_open(inner, tr, NULL, tar_read, NULL) != ARCHIVE_OK) {
                r = gb_error_set(err, EINVAL, "Failed to read the archive: %s",
                                 gb_ar.archive_error_string(inner) ? gb_ar.archive_error_string(inner)
                                                                   : "not a tar archive");
                goto out;
        }
        for (;;) {
                r = gb_ar.archive_read_next_header(inner, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r == ARCHIVE_WARN)
                        r = ARCHIVE_OK;
                if (r != ARCHIVE_OK) {
                        r = gb_error_set(err, gb_ar.archive_errno(inner) > 0 ? gb_ar.archive_errno(inner) : EINVAL,
                                         "Failed to read the archive after %llu entries: %s (corrupt or truncated?)",
                                         (unsigned long long)info.entries,
                                         gb_ar.archive_error_string(inner) ? gb_ar.archive_error_string(inner)
                                                                           : "bad header");
                        goto out;
                }
                r = extract_entry(&x, inner, e, err);
                if (r < 0)
                        goto out;
        }
        /* Hash what the tar reader left (end-of-archive padding) so the diff
         * ID covers the whole stream, like Docker's. */
        for (;;) {
                la_ssize_t n = gb_ar.archive_read_data(outer, tr->buf, sizeof(tr->buf));
                if (n < 0) {
                        r = gb_error_set(err, EIO, "Failed to read the archive: %s (corrupt or truncated?)",
                                         gb_ar.archive_error_string(outer) ? gb_ar.archive_error_string(outer)
                                                                           : "read error");
                        goto out;
                }
                if (n == 0)
                        break;
                gb_sha256_update(&tr->sha, tr->buf, (size_t)n);
                tr->n += (uint64_t)n;
        }
        /* And the raw bytes past the compressed stream, for the blob. */
        for (;;) {
                const void *dummy;
                if (raw_read(outer, raw, &dummy) <= 0)
                        break;
        }
        if (raw->error) {
                r = gb_error_sys(err, raw->error, "Failed to read the archive");
                goto out;
        }
        gb_sha256_final_digest(&tr->sha, info.diff_id);
        gb_sha256_final_digest(&raw->sha, info.blob_digest);
        info.blob_size = raw->n;
        info.size = tr->n;
        *ret = info;
        r = 0;
out:
        cache_drop(&x);
        return r;
}
