/* idmap-mount: the kernel floor of an idmapped root filesystem, for
 * bench/run.sh's rootfs scenario.
 *
 * Mounts LAYER idmapped (container ID 0 -> host ID BASE, COUNT IDs) on LOWER,
 * then an overlay of LOWER with UPPER/WORK on MERGED. This is the least work
 * any idmap-based engine does to give a container its root filesystem, and it
 * costs the same for 100 files as for 100,000: the kernel translates owners
 * at access time instead of anyone rewriting them.
 *
 * Usage: idmap-mount LAYER LOWER UPPER WORK MERGED BASE COUNT
 * util-linux 2.38's X-mount.idmap would do the first step, but Debian 12's
 * libmount silently ignores it, hence this program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
        fprintf(stderr, "idmap-mount: Failed to %s '%s': %s\n", what, path, strerror(errno));
        return 1;
}

static int write_file(const char *path, const char *s)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -1;
        n = write(fd, s, strlen(s));
        close(fd);
        return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* A user namespace carrying the map: a child that unshares and then waits to
 * be killed; its /proc/PID/ns/user stays valid through the open fd. */
static int make_userns(const char *map)
{
        char path[64];
        int sync[2], fd;
        pid_t pid;
        char c;

        if (pipe2(sync, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return -1;
        if (pid == 0) {
                close(sync[1]);
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                /* Blocks until the parent is done and closes its end. */
                (void)read(sync[0], &c, 1);
                _exit(0);
        }
        close(sync[0]);
        /* The child must have unshared before its maps can be written: poll
         * its ns link until it differs from ours. */
        for (int i = 0; i < 10000; i++) {
                char a[64], b[64];
                ssize_t la, lb;

                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
                la = readlink(path, a, sizeof(a));
                lb = readlink("/proc/self/ns/user", b, sizeof(b));
                if (la > 0 && lb > 0 && (la != lb || memcmp(a, b, (size_t)la)))
                        break;
                usleep(50);
        }
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
        if (write_file(path, map) < 0)
                goto fail;
        snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
        if (write_file(path, map) < 0)
                goto fail;
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        close(sync[1]);
        (void)waitpid(pid, NULL, 0);
        return fd;
fail:
        kill(pid, SIGKILL);
        close(sync[1]);
        (void)waitpid(pid, NULL, 0);
        return -1;
}

int main(int argc, char **argv)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};
        char map[64], opts[4096];
        int userns, tree;

        if (argc != 8) {
                fprintf(stderr, "Usage: %s LAYER LOWER UPPER WORK MERGED BASE COUNT\n", argv[0]);
                return 2;
        }
        snprintf(map, sizeof(map), "0 %s %s\n", argv[6], argv[7]);
        userns = make_userns(map);
        if (userns < 0)
                return fail("create a user namespace with map", map);

        tree = (int)syscall(SYS_open_tree, AT_FDCWD, argv[1], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return fail("open_tree", argv[1]);
        attr.userns_fd = (unsigned long long)userns;
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return fail("idmap (mount_setattr)", argv[1]);
        if (syscall(SYS_move_mount, tree, "", AT_FDCWD, argv[2], MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return fail("move the idmapped mount to", argv[2]);
        snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", argv[2], argv[3], argv[4]);
        if (mount("overlay", argv[5], "overlay", 0, opts) < 0)
                return fail("mount overlay on", argv[5]);
        return 0;
}
