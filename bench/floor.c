/* floor: the kernel floor of a container start, for bench/run.sh.
 *
 * It does only what no container runtime can skip: clone() into new user,
 * mount, PID, UTS, IPC and network namespaces, write the uid/gid maps from
 * the parent (one write() each, as the kernel allows only one), become root
 * of the namespace, chroot into the rootfs and exec the command. No pivot_root, no /proc, no capabilities,
 * no seccomp, no cgroups, no state files: whatever a runtime takes beyond this
 * program's time is its own overhead.
 *
 * Usage: floor ROOTFS HOST_ID COUNT [CMD [ARG...]]   (CMD defaults to /bin/true)
 * Exit status: the command's, or 125 when setting up failed.
 *
 * Not part of ghostbox and not a sandbox: it keeps every capability inside
 * the namespaces and the host's fds 0-2. Built by bench/run.sh with cc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define STACK_SIZE (256 * 1024)

struct child_args {
        int sync_fd; /* read end: one byte means "maps written" */
        const char *rootfs;
        char **argv;
};

static int child_main(void *data)
{
        struct child_args *a = data;
        char c;

        /* sync #1: wait for the parent to write the maps; before that the
         * child is "nobody" in its own namespace and cannot chroot. */
        if (read(a->sync_fd, &c, 1) != 1)
                _exit(125);
        /* Become the namespace's root, so the host sees the mapped ID (as
         * with every runtime) instead of the creator's root. */
        if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                fprintf(stderr, "floor: Failed to become root in the namespace: %s\n", strerror(errno));
                _exit(125);
        }
        if (chroot(a->rootfs) < 0 || chdir("/") < 0) {
                fprintf(stderr, "floor: Failed to chroot to '%s': %s\n", a->rootfs, strerror(errno));
                _exit(125);
        }
        execv(a->argv[0], a->argv);
        fprintf(stderr, "floor: Failed to exec '%s': %s\n", a->argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

static int write_map(pid_t pid, const char *file, const char *map)
{
        char path[64];
        int fd;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* The kernel accepts exactly one write per map file: build the whole
         * map first, then write it once. */
        n = write(fd, map, strlen(map));
        if (n < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        close(fd);
        return 0;
}

int main(int argc, char **argv)
{
        static char *default_cmd[] = {"/bin/true", NULL};
        struct child_args a;
        int sync[2];
        char map[64];
        char *stack;
        pid_t pid;
        int status, r;

        if (argc < 4) {
                fprintf(stderr, "Usage: %s ROOTFS HOST_ID COUNT [CMD [ARG...]]\n", argv[0]);
                return 125;
        }
        if (pipe2(sync, O_CLOEXEC) < 0)
                return 125;
        stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED)
                return 125;

        a.sync_fd = sync[0];
        a.rootfs = argv[1];
        a.argv = argc > 4 ? argv + 4 : default_cmd;
        pid = clone(child_main, stack + STACK_SIZE,
                    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD,
                    &a);
        if (pid < 0) {
                fprintf(stderr, "floor: Failed to clone: %s\n", strerror(errno));
                return 125;
        }
        close(sync[0]);

        snprintf(map, sizeof(map), "0 %s %s\n", argv[2], argv[3]);
        /* As root in the parent namespace we hold CAP_SETGID there, so the
         * gid_map may be written without denying setgroups first. */
        r = write_map(pid, "uid_map", map);
        if (r == 0)
                r = write_map(pid, "gid_map", map);
        if (r < 0) {
                fprintf(stderr, "floor: Failed to write the ID maps of %d: %s\n", (int)pid, strerror(-r));
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return 125;
        }
        /* sync #1: maps written */
        if (write(sync[1], "x", 1) != 1) {
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return 125;
        }
        close(sync[1]);

        if (waitpid(pid, &status, 0) < 0)
                return 125;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}
