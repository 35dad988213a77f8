#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "userns.h"
#include "util.h"

static int write_map(pid_t pid, const char *file, const struct gb_idmap *m, struct gb_error *err)
{
        char path[64], buf[GB_IDMAP_MAX * 34 + 1];
        _cleanup_close_ int fd = -EBADF;
        ssize_t len;

        len = gb_idmap_format(m, buf, sizeof(buf));
        if (len < 0)
                return gb_error_set(err, ENOBUFS, "Failed to format %s", file);
        (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", path);
        /* The kernel takes a map in exactly one write(). */
        if (write(fd, buf, (size_t)len) != len)
                return gb_error_sys(err, errno, "Failed to write '%s' (\"%.*s\")", path, (int)(len > 0 ? len - 1 : 0),
                                    buf);
        return 0;
}

GB_EXPORT int gb_userns_open(const struct gb_idmap *uids, const struct gb_idmap *gids, int *ret_fd,
                             struct gb_error *err)
{
        _cleanup_close_ int ready_rd = -EBADF, ready_wr = -EBADF, done_rd = -EBADF, done_wr = -EBADF;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_pid_ pid_t pid = 0;
        int p[2], r;
        char status = 1, path[64];

        if (pipe2(p, O_CLOEXEC) < 0)
                return gb_error_sys(err, errno, "Failed to create pipe");
        ready_rd = p[0];
        ready_wr = p[1];
        if (pipe2(p, O_CLOEXEC) < 0)
                return gb_error_sys(err, errno, "Failed to create pipe");
        done_rd = p[0];
        done_wr = p[1];

        pid = fork();
        if (pid < 0)
                return gb_error_sys(err, errno, "Failed to fork");
        if (pid == 0) {
                /* Only async-signal-safe calls here: the caller may be
                 * threaded. Enter a fresh user namespace, report, then hold
                 * it until the parent closes its end of "done". */
                char e;
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                e = unshare(CLONE_NEWUSER) < 0 ? (char)errno : 0;
                (void)!write(ready_wr, &e, 1);
                close(done_wr);
                (void)!read(done_rd, &e, 1);
                _exit(0);
        }
        close(TAKE_FD(ready_wr));
        close(TAKE_FD(done_rd));
        if (read(ready_rd, &status, 1) != 1)
                return gb_error_set(err, EIO, "Failed to create a user namespace: helper process died");
        if (status != 0)
                return gb_error_sys(err, status, "Failed to create a user namespace (is user.max_user_namespaces 0?)");
        r = write_map(pid, "uid_map", uids, err);
        if (r < 0)
                return r;
        r = write_map(pid, "gid_map", gids, err);
        if (r < 0)
                return r;
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

GB_EXPORT int gb_idmapped_tree(int dirfd, const char *path, int userns_fd, bool recursive, int *ret_fd,
                               struct gb_error *err)
{
        _cleanup_close_ int tree = -EBADF;
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_IDMAP,
                .userns_fd = (uint64_t)userns_fd,
        };

        tree = open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
        if (tree < 0)
                return gb_error_sys(err, errno, "Failed to clone mount of '%s'", path);
        if (mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0)
                return gb_error_sys(err, errno, "Failed to idmap mount of '%s'", path);
        *ret_fd = TAKE_FD(tree);
        return 0;
}

GB_EXPORT int gb_idmap_mounts_supported(const char *path, struct gb_error *err)
{
        _cleanup_close_ int ns = -EBADF, tree = -EBADF;
        struct gb_idmap m = {0};

        (void)gb_idmap_add(&m, 0, 100000, 65536);
        if (gb_userns_open(&m, &m, &ns, err) < 0)
                return 0;
        if (gb_idmapped_tree(AT_FDCWD, path, ns, false, &tree, err) < 0)
                return 0;
        return 1;
}
