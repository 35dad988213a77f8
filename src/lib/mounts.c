#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounts.h"
#include "syscalls.h"
#include "userns.h"
#include "util.h"

#define RESOLVE_FLAGS (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV * 0)

static int open_in_root(int rootfd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        do
                fd = gb_openat2(rootfd, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return fd;
}

GB_EXPORT int gb_resolve_in_root(int rootfd, const char *path, bool create, bool dir, int *ret_fd, struct gb_error *err)
{
        char buf[PATH_MAX];
        _cleanup_close_ int parent = -EBADF;
        size_t len = strlen(path);
        int fd;

        if (len >= sizeof(buf))
                return gb_error_set(err, ENAMETOOLONG, "Failed to resolve '%s': path too long", path);
        fd = open_in_root(rootfd, path, O_PATH | (dir ? O_DIRECTORY : 0));
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (errno != ENOENT || !create)
                return gb_error_sys(err, errno, "Failed to resolve '%s' inside the rootfs", path);

        /* Walk component by component; each new one is made relative to the
         * fd of its resolved parent, so no path string is followed twice. */
        parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (parent < 0)
                return gb_error_sys(err, errno, "Failed to dup the rootfs fd");
        memcpy(buf, path, len + 1);
        for (char *p = buf;;) {
                char *name, *end;
                bool last;
                int next;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                name = p;
                end = strchr(p, '/');
                if (end)
                        *end = 0;
                last = !end || !end[1 + strspn(end + 1, "/")];
                if (!strcmp(name, "..") || !strcmp(name, "."))
                        return gb_error_set(err, EINVAL, "Failed to create '%s': '.' or '..' in a mount path", path);
                if (!last || dir) {
                        if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
                                return gb_error_sys(err, errno, "Failed to create directory '%s' in '%s'", name, path);
                } else {
                        int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                        if (f < 0 && errno != EEXIST)
                                return gb_error_sys(err, errno, "Failed to create file '%s' in '%s'", name, path);
                        if (f >= 0)
                                close(f);
                }
                /* Resolve the prefix so far, inside the root: a symlink
                 * component is followed as if the rootfs were "/". */
                if (end)
                        *end = 0;
                next = open_in_root(rootfd, buf, O_PATH | ((!last || dir) ? O_DIRECTORY : 0));
                if (next < 0)
                        return gb_error_sys(err, errno, "Failed to resolve '%s' inside the rootfs", buf);
                close(parent);
                parent = next;
                if (!end || last)
                        break;
                *end = '/';
                p = end + 1;
        }
        *ret_fd = TAKE_FD(parent);
        return 0;
}

static unsigned long long ms_to_attr(unsigned long ms)
{
        unsigned long long a = 0;

        if (ms & MS_RDONLY)
                a |= MOUNT_ATTR_RDONLY;
        if (ms & MS_NOSUID)
                a |= MOUNT_ATTR_NOSUID;
        if (ms & MS_NODEV)
                a |= MOUNT_ATTR_NODEV;
        if (ms & MS_NOEXEC)
                a |= MOUNT_ATTR_NOEXEC;
        if (ms & MS_NODIRATIME)
                a |= MOUNT_ATTR_NODIRATIME;
        if (ms & MS_NOATIME)
                a |= MOUNT_ATTR_NOATIME;
        else if (ms & MS_STRICTATIME)
                a |= MOUNT_ATTR_STRICTATIME;
        return a;
}

static int attach(int tree, int destfd, const char *what, struct gb_error *err)
{
        if (move_mount(tree, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return gb_error_sys(err, errno, "Failed to attach mount at '%s'", what);
        return 0;
}

static bool path_is_under(const char *path, const char *dir);

/* Mount points missing from the rootfs are made here, as host root: in the
 * child, the container's root often may not write the image (a rootfs
 * owned by host root). Only destinations that will not be covered by an
 * earlier filesystem mount (e.g. /dev/pts on the /dev tmpfs) are made on
 * the image; the child makes the rest. */
static int precreate_mountpoints(const struct gb_spec *s, const char *rootfs, struct gb_error *err)
{
        _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (rootfd < 0)
                return gb_error_sys(err, errno, "root.path: Failed to open the rootfs '%s'", rootfs);
        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct gb_spec_mount *m = &s->mounts[i];
                _cleanup_close_ int fd = -EBADF;
                bool covered = false, dir = true;
                struct stat st;

                for (size_t j = 0; j < i; j++)
                        if (!s->mounts[j].bind && path_is_under(m->destination, s->mounts[j].destination))
                                covered = true;
                if (covered || path_is_under(m->destination, "/proc"))
                        continue;
                if (m->bind && stat(m->source, &st) == 0)
                        dir = S_ISDIR(st.st_mode);
                if (gb_resolve_in_root(rootfd, m->destination, true, dir, &fd, err) < 0) {
                        /* On an idmapped root filesystem host root has no
                         * mapping, so creating fails with EOVERFLOW; the
                         * child creates it as the container's root. */
                        if (err->code == EOVERFLOW) {
                                gb_error_clear(err);
                                continue;
                        }
                        return gb_error_prefix(err, "mounts[%zu]", i);
                }
        }
        return 0;
}

GB_EXPORT int gb_mounts_prepare(const struct gb_spec *s, const char *rootfs, struct gb_mounts_prep *ret,
                                struct gb_error *err)
{
        struct gb_mounts_prep p = {.tree_fds = gb_xcalloc(s->n_mounts + 1, sizeof(int)), .n = s->n_mounts};
        int r;

        if (rootfs && precreate_mountpoints(s, rootfs, err) < 0) {
                gb_mounts_prep_done(&p);
                return -err->code;
        }

        for (size_t i = 0; i < p.n; i++)
                p.tree_fds[i] = -EBADF;
        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct gb_spec_mount *m = &s->mounts[i];
                _cleanup_close_ int ns = -EBADF;
                const struct gb_idmap *um, *gm;

                if (!m->idmapped) {
                        /* Plain binds are opened here too, as host root:
                         * in the child, inside the user namespace, the
                         * source's path is walked as the container's root,
                         * and a directory on the way that only host root may
                         * enter (a 0700 home or build directory) would refuse
                         * it. Docker's daemon (and runc since it took mount
                         * source fds) mounts binds with host privileges too;
                         * the container still only reaches the source's own
                         * files with its mapped IDs. */
                        if (m->bind && m->source && m->source[0] == '/') {
                                p.tree_fds[i] = open_tree(AT_FDCWD, m->source,
                                                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                                  (m->recursive ? AT_RECURSIVE : 0));
                                if (p.tree_fds[i] < 0) {
                                        r = gb_error_sys(err, errno, "mounts[%zu]: Failed to bind '%s'", i, m->source);
                                        gb_mounts_prep_done(&p);
                                        return r;
                                }
                        }
                        continue;
                }
                /* "idmap" without explicit mappings: the container's own. */
                um = m->uid_map ? m->uid_map : s->uid_map;
                gm = m->gid_map ? m->gid_map : s->gid_map;
                if (!um || !gm) {
                        gb_mounts_prep_done(&p);
                        return gb_error_set(err, EINVAL,
                                            "mounts[%zu]: an idmap mount needs uidMappings/gidMappings or a user "
                                            "namespace",
                                            i);
                }
                r = gb_userns_open(um, gm, &ns, err);
                if (r >= 0)
                        r = gb_idmapped_tree(AT_FDCWD, m->source, ns, m->recursive, &p.tree_fds[i], err);
                if (r < 0) {
                        gb_mounts_prep_done(&p);
                        return gb_error_prefix(err, "mounts[%zu] ('%s')", i, m->destination);
                }
        }
        *ret = p;
        return 0;
}

GB_EXPORT void gb_mounts_prep_done(struct gb_mounts_prep *p)
{
        for (size_t i = 0; p->tree_fds && i < p->n; i++)
                if (p->tree_fds[i] >= 0)
                        close(p->tree_fds[i]);
        free(p->tree_fds);
        p->tree_fds = NULL;
}

static int set_attrs(int tree, unsigned long flags, unsigned long clear, unsigned long prop, bool recursive,
                     const char *what, struct gb_error *err)
{
        struct mount_attr a = {
                .attr_set = ms_to_attr(flags),
                .attr_clr = ms_to_attr(clear),
        };

        /* An atime mode is one field: clearing the others before setting one. */
        if (a.attr_set & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME) || (flags & MS_RELATIME))
                a.attr_clr |= MOUNT_ATTR__ATIME;
        a.attr_clr &= ~a.attr_set;
        if (prop)
                a.propagation = prop & ~MS_REC;
        if (!a.attr_set && !a.attr_clr && !a.propagation)
                return 0;
        if (mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0)
                return gb_error_sys(err, errno, "Failed to set mount flags on '%s'", what);
        return 0;
}

static bool path_is_under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

/* Bind mounts onto /proc paths could hide or reopen what maskedPaths hides
 * (runc's /proc mask bypasses); only lxcfs-style files are allowed. */
static bool proc_dest_allowed(const char *dest)
{
        static const char *const ok[] = {"/proc/cpuinfo",
                                         "/proc/diskstats",
                                         "/proc/meminfo",
                                         "/proc/stat",
                                         "/proc/swaps",
                                         "/proc/uptime",
                                         "/proc/loadavg",
                                         "/proc/slabinfo",
                                         "/proc/sys/kernel/ns_last_pid",
                                         NULL};
        for (const char *const *p = ok; *p; p++)
                if (!strcmp(dest, *p))
                        return true;
        return false;
}

static int do_bind(int rootfd, const struct gb_spec_mount *m, size_t i, int pre_tree, struct gb_error *err)
{
        _cleanup_close_ int tree = pre_tree, dest = -EBADF;
        struct stat st;
        int r;

        if (tree < 0) {
                tree = open_tree(AT_FDCWD, m->source,
                                 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m->recursive ? AT_RECURSIVE : 0));
                if (tree < 0)
                        return gb_error_sys(err, errno, "mounts[%zu]: Failed to bind '%s'", i, m->source);
        }
        if (fstat(tree, &st) < 0)
                return gb_error_sys(err, errno, "mounts[%zu]: Failed to stat '%s'", i, m->source);
        r = gb_resolve_in_root(rootfd, m->destination, true, S_ISDIR(st.st_mode), &dest, err);
        if (r < 0)
                return gb_error_prefix(err, "mounts[%zu]", i);
        r = set_attrs(tree, m->flags & ~(MS_BIND | MS_REC), m->clear_flags, m->propagation, m->recursive,
                      m->destination, err);
        if (r < 0)
                return r;
        return attach(tree, dest, m->destination, err);
}

static int mount_on_fd(const char *src, int fd, const char *type, unsigned long flags, const char *data)
{
        char p[64];

        (void)snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        return mount(src, p, type, flags, data);
}

static int do_fs_mount(int rootfd, const struct gb_spec_mount *m, size_t i, const struct gb_spec *s,
                       struct gb_error *err)
{
        _cleanup_close_ int dest = -EBADF;
        unsigned long fl = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
        int r;

        r = gb_resolve_in_root(rootfd, m->destination, true, true, &dest, err);
        if (r < 0)
                return gb_error_prefix(err, "mounts[%zu]", i);
        if (!strcmp(m->type, "cgroup") || !strcmp(m->type, "cgroup2")) {
                /* A cgroup2 mount needs a cgroup namespace (and a unified
                 * or hybrid host); otherwise give a read-only view of the
                 * host's hierarchy, which works on v1, v2 and hybrid. */
                if (mount_on_fd("cgroup2", dest, "cgroup2", fl, NULL) == 0)
                        return 0;
                {
                        _cleanup_close_ int tree = open_tree(AT_FDCWD, "/sys/fs/cgroup",
                                                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
                        if (tree < 0)
                                return gb_error_sys(err, errno, "mounts[%zu]: Failed to bind /sys/fs/cgroup", i);
                        r = set_attrs(tree, fl | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, MS_PRIVATE, true,
                                      m->destination, err);
                        if (r < 0)
                                return r;
                        return attach(tree, dest, m->destination, err);
                }
        }
        if (mount_on_fd(m->source, dest, m->type, fl, m->data) == 0) {
                if (m->propagation && mount_on_fd(NULL, dest, NULL, m->propagation, NULL) < 0)
                        return gb_error_sys(err, errno, "mounts[%zu]: Failed to set propagation", i);
                return 0;
        }
        r = errno;
        if (!strcmp(m->type, "sysfs") && (r == EPERM || r == EACCES) &&
            (!gb_spec_namespace(s, CLONE_NEWNET) || gb_spec_namespace(s, CLONE_NEWNET)->path)) {
                /* sysfs can only be mounted by the owner of the network
                 * namespace; without one of our own, bind the host's. */
                _cleanup_close_ int tree =
                        open_tree(AT_FDCWD, "/sys", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
                if (tree < 0)
                        return gb_error_sys(err, errno, "mounts[%zu]: Failed to bind /sys", i);
                r = set_attrs(tree, fl | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, MS_PRIVATE, true,
                              m->destination, err);
                if (r < 0)
                        return r;
                return attach(tree, dest, m->destination, err);
        }
        return gb_error_sys(err, r, "mounts[%zu]: Failed to mount %s on '%s'%s%s%s", i, m->type, m->destination,
                            m->data ? " (options '" : "", m->data ? m->data : "", m->data ? "')" : "");
}

static const struct gb_spec_device default_devices[] = {
        {.path = (char *)"/dev/null", .type = 'c', .major = 1, .minor = 3},
        {.path = (char *)"/dev/zero", .type = 'c', .major = 1, .minor = 5},
        {.path = (char *)"/dev/full", .type = 'c', .major = 1, .minor = 7},
        {.path = (char *)"/dev/random", .type = 'c', .major = 1, .minor = 8},
        {.path = (char *)"/dev/urandom", .type = 'c', .major = 1, .minor = 9},
        {.path = (char *)"/dev/tty", .type = 'c', .major = 5, .minor = 0},
};

static int make_device(int rootfd, const struct gb_spec_device *d, const char *field, bool in_userns,
                       struct gb_error *err)
{
        _cleanup_close_ int dest = -EBADF, tree = -EBADF;
        struct stat st;
        mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
        dev_t dev = makedev((unsigned)d->major, (unsigned)d->minor);
        const char *host;
        char found[PATH_MAX];
        int r;

        if (!path_is_under(d->path, "/dev"))
                return gb_error_set(err, EINVAL, "%s: device path '%s' must be under /dev", field, d->path);
        if (!in_userns) {
                char dir[PATH_MAX], *slash;
                _cleanup_close_ int parent = -EBADF;
                (void)snprintf(dir, sizeof(dir), "%s", d->path);
                slash = strrchr(dir, '/');
                *slash = 0;
                r = gb_resolve_in_root(rootfd, *dir ? dir : "/", true, true, &parent, err);
                if (r < 0)
                        return gb_error_prefix(err, "%s", field);
                {
                        char p[64];
                        _cleanup_close_ int pd = -EBADF;
                        (void)snprintf(p, sizeof(p), "/proc/self/fd/%d", parent);
                        pd = open(p, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
                        if (pd < 0)
                                return gb_error_sys(err, errno, "%s: Failed to open '%s'", field, dir);
                        (void)unlinkat(pd, slash + 1, 0);
                        if (mknodat(pd, slash + 1, type | (d->has_mode ? d->mode : 0666), dev) < 0)
                                return gb_error_sys(err, errno, "%s: Failed to create device '%s'", field, d->path);
                        if (fchownat(pd, slash + 1, d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0,
                                     AT_SYMLINK_NOFOLLOW) < 0)
                                return gb_error_sys(err, errno, "%s: Failed to chown '%s'", field, d->path);
                }
                return 0;
        }
        /* mknod is refused in a user namespace: bind the host's node with
         * the same type and number (at the same path, or anywhere in /dev). */
        host = d->path;
        if (stat(host, &st) < 0 || (st.st_mode & S_IFMT) != type || (type != S_IFIFO && st.st_rdev != dev)) {
                _cleanup_(gb_closedirp) DIR *dd = opendir("/dev");
                struct dirent *de;
                host = NULL;
                while (dd && type != S_IFIFO && (de = readdir(dd))) {
                        (void)snprintf(found, sizeof(found), "/dev/%s", de->d_name);
                        if (lstat(found, &st) == 0 && (st.st_mode & S_IFMT) == type && st.st_rdev == dev) {
                                host = found;
                                break;
                        }
                }
        }
        if (!host)
                return gb_error_set(err, ENODEV,
                                    "%s: the host has no device %c %lld:%lld to bind-mount for '%s' (mknod is "
                                    "refused in a user namespace, so devices come from the host's /dev)",
                                    field, d->type, (long long)d->major, (long long)d->minor, d->path);
        r = gb_resolve_in_root(rootfd, d->path, true, false, &dest, err);
        if (r < 0)
                return gb_error_prefix(err, "%s", field);
        tree = open_tree(AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return gb_error_sys(err, errno, "%s: Failed to bind '%s'", field, host);
        if (set_attrs(tree, MS_NOSUID | MS_NOEXEC, 0, MS_PRIVATE, false, d->path, err) < 0)
                return -err->code;
        return attach(tree, dest, d->path, err);
}

static int mask_path(int rootfd, const char *path, size_t i, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF, tree = -EBADF;
        struct stat st;

        fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return gb_error_sys(err, errno, "linux.maskedPaths[%zu]: Failed to resolve '%s'", i, path);
        }
        if (fstat(fd, &st) < 0)
                return gb_error_sys(err, errno, "linux.maskedPaths[%zu]: Failed to stat '%s'", i, path);
        if (S_ISDIR(st.st_mode)) {
                if (mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0)
                        return gb_error_sys(err, errno, "linux.maskedPaths[%zu]: Failed to mask '%s'", i, path);
                return 0;
        }
        tree = open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return gb_error_sys(err, errno, "linux.maskedPaths[%zu]: Failed to bind /dev/null", i);
        if (set_attrs(tree, MS_RDONLY | MS_NOSUID | MS_NOEXEC, 0, MS_PRIVATE, false, path, err) < 0)
                return -err->code;
        return attach(tree, fd, path, err);
}

static int readonly_path(int rootfd, const char *path, size_t i, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF, tree = -EBADF;

        fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0;
                return gb_error_sys(err, errno, "linux.readonlyPaths[%zu]: Failed to resolve '%s'", i, path);
        }
        tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
        if (tree < 0)
                return gb_error_sys(err, errno, "linux.readonlyPaths[%zu]: Failed to clone '%s'", i, path);
        if (set_attrs(tree, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, MS_PRIVATE, true, path, err) < 0)
                return -err->code;
        return attach(tree, fd, path, err);
}

static int dev_symlinks(int rootfd, struct gb_error *err)
{
        static const char *const links[][2] = {
                {"/proc/self/fd", "fd"},
                {"/proc/self/fd/0", "stdin"},
                {"/proc/self/fd/1", "stdout"},
                {"/proc/self/fd/2", "stderr"},
        };
        _cleanup_close_ int dev = open_in_root(rootfd, "/dev", O_DIRECTORY | O_RDONLY);
        struct stat st;

        if (dev < 0)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(links); i++)
                if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
                        return gb_error_sys(err, errno, "Failed to create /dev/%s", links[i][1]);
        /* With a private devpts, /dev/ptmx must be its ptmx. */
        if (fstatat(dev, "pts/ptmx", &st, 0) == 0) {
                (void)unlinkat(dev, "ptmx", 0);
                if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
                        return gb_error_sys(err, errno, "Failed to create /dev/ptmx");
        }
        return 0;
}

GB_EXPORT int gb_mounts_setup(const struct gb_spec *s, const char *rootfs, const struct gb_mounts_prep *prep,
                              bool in_userns, bool no_pivot, struct gb_error *err)
{
        _cleanup_close_ int rootfd = -EBADF;
        unsigned long prop = s->rootfs_propagation ? s->rootfs_propagation : (MS_SLAVE | MS_REC);
        int r;

        /* Nothing we mount may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | (prop & MS_SHARED ? MS_SLAVE : prop & ~MS_REC), NULL) < 0)
                return gb_error_sys(err, errno, "Failed to make / %s", "rslave");
        if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return gb_error_sys(err, errno, "Failed to bind the rootfs '%s' onto itself", rootfs);
        rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return gb_error_sys(err, errno, "Failed to open the rootfs '%s'", rootfs);

        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct gb_spec_mount *m = &s->mounts[i];
                int pre = prep && i < prep->n ? prep->tree_fds[i] : -EBADF;
                if (path_is_under(m->destination, "/proc") && strcmp(m->destination, "/proc") &&
                    !(m->bind && proc_dest_allowed(m->destination)))
                        return gb_error_set(err, EPERM,
                                            "mounts[%zu]: destination '%s' is inside /proc, where a mount could "
                                            "undo linux.maskedPaths; only lxcfs-style files are allowed",
                                            i, m->destination);
                if (!strcmp(m->destination, "/proc") && (m->bind || !m->type || strcmp(m->type, "proc")))
                        return gb_error_set(err, EPERM, "mounts[%zu]: /proc must be a proc mount", i);
                if (m->bind) {
                        /* The prepared tree fd is handed over: duplicate so
                         * the prep keeps its own. */
                        if (pre >= 0) {
                                pre = fcntl(pre, F_DUPFD_CLOEXEC, 3);
                                if (pre < 0)
                                        return gb_error_sys(err, errno, "Failed to dup");
                        }
                        r = do_bind(rootfd, m, i, pre, err);
                } else {
                        r = do_fs_mount(rootfd, m, i, s, err);
                }
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
                bool listed = false;
                for (size_t j = 0; j < s->n_devices; j++)
                        if (!strcmp(s->devices[j].path, default_devices[i].path))
                                listed = true;
                if (listed)
                        continue;
                r = make_device(rootfd, &default_devices[i], "default devices", in_userns, err);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; j < s->n_devices; j++) {
                char field[64];
                (void)snprintf(field, sizeof(field), "linux.devices[%zu]", j);
                r = make_device(rootfd, &s->devices[j], field, in_userns, err);
                if (r < 0)
                        return r;
        }
        r = dev_symlinks(rootfd, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_sysctl; i++) {
                char path[PATH_MAX];
                _cleanup_close_ int fd = -EBADF;
                int n = snprintf(path, sizeof(path), "/proc/sys/%s", s->sysctl[i].key);
                if (n < 0 || (size_t)n >= sizeof(path))
                        return gb_error_set(err, ENAMETOOLONG, "linux.sysctl.%s: name too long", s->sysctl[i].key);
                for (char *p = path + strlen("/proc/sys/"); *p; p++)
                        if (*p == '.')
                                *p = '/';
                fd = open_in_root(rootfd, path, O_WRONLY | O_NOFOLLOW);
                if (fd < 0 || gb_write_all(fd, s->sysctl[i].value, strlen(s->sysctl[i].value)) < 0)
                        return gb_error_sys(err, errno,
                                            "linux.sysctl.%s: Failed to write '%s' (only namespaced sysctls can be "
                                            "set)",
                                            s->sysctl[i].key, path);
        }
        /* Masks go on last, over every other mount, so that no spec mount
         * can reopen what they hide. */
        for (size_t i = 0; s->readonly_paths && s->readonly_paths[i]; i++)
                if ((r = readonly_path(rootfd, s->readonly_paths[i], i, err)) < 0)
                        return r;
        for (size_t i = 0; s->masked_paths && s->masked_paths[i]; i++)
                if ((r = mask_path(rootfd, s->masked_paths[i], i, err)) < 0)
                        return r;

        if (s->rootfs_propagation && mount(rootfs, rootfs, NULL, s->rootfs_propagation, NULL) < 0 && errno != EINVAL)
                return gb_error_sys(err, errno, "linux.rootfsPropagation: Failed to apply");

        if (fchdir(rootfd) < 0)
                return gb_error_sys(err, errno, "Failed to enter the rootfs");
        if (no_pivot) {
                if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                        return gb_error_sys(err, errno, "Failed to move the rootfs to /");
                if (chroot(".") < 0)
                        return gb_error_sys(err, errno, "Failed to chroot into the rootfs");
        } else {
                /* pivot_root(".", "."): the old root ends up stacked under
                 * the new one and is detached right away. */
                if (syscall(SYS_pivot_root, ".", ".") < 0)
                        return gb_error_sys(err, errno,
                                            "Failed to pivot_root into '%s' (use --no-pivot on a "
                                            "ramfs root)",
                                            rootfs);
                if (umount2(".", MNT_DETACH) < 0)
                        return gb_error_sys(err, errno, "Failed to detach the old root");
        }
        if (chdir("/") < 0)
                return gb_error_sys(err, errno, "Failed to chdir to /");
        return 0;
}

GB_EXPORT int gb_mounts_finish(const struct gb_spec *s, struct gb_error *err)
{
        if (s->root_readonly) {
                struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
                if (mount_setattr(AT_FDCWD, "/", 0, &a, sizeof(a)) < 0)
                        return gb_error_sys(err, errno, "root.readonly: Failed to make / read-only");
        }
        return 0;
}
