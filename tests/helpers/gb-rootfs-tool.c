/* Test and benchmark driver for the rootfs module (the engine's `run` is a
 * later issue): prepare/release a container root filesystem, probe the
 * storage mode, and look at a tree from inside a user namespace carrying a
 * given map (our own unshare + chroot, not a container runtime).
 *
 *   gb-rootfs-tool prepare DATA EXEC ID IMAGE auto|idmap|chown MAP|host
 *   gb-rootfs-tool release DATA EXEC ID MAP|host
 *   gb-rootfs-tool probe DATA auto|idmap|chown
 *   gb-rootfs-tool views EXEC
 *   gb-rootfs-tool nslist MAP ROOT            ("path uid gid mode" per entry, as seen inside)
 *   gb-rootfs-tool nsexec MAP ROOT UID GID PATH ARGV0 [ARG...]  (chroot ROOT, host /proc bound in)
 *   gb-rootfs-tool ref DATA IMAGE HOLDER      (mark an image in use, as the container module will)
 *
 * MAP is "CONTAINER:HOST:COUNT" used for both UIDs and GIDs. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "idmap.h"
#include "rootfs.h"
#include "store.h"
#include "util.h"

static int die(const char *msg)
{
        fprintf(stderr, "gb-rootfs-tool: %s\n", msg);
        return 1;
}

static int parse_map(const char *s, struct gb_idmap *m)
{
        unsigned a, b, c;

        memset(m, 0, sizeof(*m));
        if (!strcmp(s, "host"))
                return 0;
        if (sscanf(s, "%u:%u:%u", &a, &b, &c) != 3)
                return -EINVAL;
        return gb_idmap_add(m, a, b, c);
}

static int list_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)type;
        (void)ftw;
        printf("%s %u %u %o\n", path, (unsigned)st->st_uid, (unsigned)st->st_gid, (unsigned)st->st_mode);
        return 0;
}

/* Run fn in a child inside a new user + mount namespace with map. */
static int in_userns(const struct gb_idmap *m, const char *root, int argc, char **argv, bool list)
{
        int go[2], r;
        pid_t pid;
        char c;

        if (pipe2(go, O_CLOEXEC) < 0)
                return die("pipe");
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return die("fork");
        if (pid == 0) {
                _cleanup_free_ char *proc = gb_xasprintf("%s/proc", root);
                close(go[1]);
                if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                        _exit(die("unshare"));
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        _exit(die("make-private"));
                if (!list && mount("/proc", proc, NULL, MS_BIND | MS_REC, NULL) < 0)
                        _exit(die("bind /proc"));
                if (chroot(root) < 0 || chdir("/") < 0)
                        _exit(die("chroot"));
                if (list) {
                        int q = nftw("/", list_cb, 64, FTW_PHYS | FTW_MOUNT);
                        /* _exit() skips stdio's flush. */
                        _exit(fflush(stdout) == 0 && q == 0 ? 0 : 1);
                }
                uid_t u = (uid_t)atoi(argv[0]);
                gid_t g = (gid_t)atoi(argv[1]);
                if (setgroups(0, NULL) < 0 || setresgid(g, g, g) < 0 || setresuid(u, u, u) < 0)
                        _exit(die("setid"));
                execv(argv[2], argv + 3);
                _exit(die("exec"));
        }
        close(go[0]);
        {
                char path[64], buf[256];
                ssize_t len = gb_idmap_format(m, buf, sizeof(buf));
                const char *files[] = {"uid_map", "gid_map"};
                /* Wait until the child is in its namespace. */
                for (int tries = 0; tries < 1000; tries++) {
                        char a[64], b[64];
                        ssize_t x, y;
                        (void)snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
                        x = readlink(path, a, sizeof(a));
                        y = readlink("/proc/self/ns/user", b, sizeof(b));
                        if (x > 0 && y > 0 && (x != y || memcmp(a, b, (size_t)x)))
                                break;
                        usleep(1000);
                }
                for (int i = 0; i < 2; i++) {
                        int fd;
                        (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[i]);
                        fd = open(path, O_WRONLY | O_CLOEXEC);
                        if (fd < 0 || write(fd, buf, (size_t)len) != len)
                                return die("write map");
                        close(fd);
                }
        }
        if (write(go[1], "x", 1) != 1)
                return die("sync");
        close(go[1]);
        while (waitpid(pid, &r, 0) < 0 && errno == EINTR)
                ;
        return WIFEXITED(r) ? WEXITSTATUS(r) : 128 + WTERMSIG(r);
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        _cleanup_(gb_store_freep) struct gb_store *s = NULL;
        struct gb_error err = {0};
        struct gb_idmap m;
        enum gb_storage_shift mode;

        if (argc < 2)
                return die("usage: see the source");
        if (!strcmp(argv[1], "prepare") && argc == 8) {
                struct gb_rootfs rf = {0};
                char id[GB_DIGEST_LEN];
                double t0;
                if (parse_map(argv[7], &m) < 0 || gb_storage_shift_parse(argv[6], &mode) < 0)
                        return die("bad map or mode");
                if (gb_store_open(argv[2], &s, &err) < 0 || gb_store_resolve(s, argv[5], id, &err) < 0)
                        return die(err.msg);
                struct gb_rootfs_opts o = {.exec_root = argv[3],
                                           .container_id = argv[4],
                                           .image_id = id,
                                           .uids = &m,
                                           .gids = &m,
                                           .shift = mode};
                t0 = now();
                if (gb_rootfs_prepare(s, &o, &rf, &err) < 0)
                        return die(err.msg);
                printf("%s %s %.6f\n", rf.path, gb_storage_shift_to_string(rf.mode), now() - t0);
                gb_rootfs_done(&rf);
                return 0;
        }
        if (!strcmp(argv[1], "release") && argc == 6) {
                if (parse_map(argv[5], &m) < 0)
                        return die("bad map");
                if (gb_store_open(argv[2], &s, &err) < 0)
                        return die(err.msg);
                struct gb_rootfs_opts o = {.exec_root = argv[3], .container_id = argv[4], .uids = &m, .gids = &m};
                if (gb_rootfs_release(s, &o, &err) < 0)
                        return die(err.msg);
                return 0;
        }
        if (!strcmp(argv[1], "probe") && argc == 4) {
                char reason[1024];
                if (gb_storage_shift_parse(argv[3], &mode) < 0)
                        return die("bad mode");
                gb_rootfs_probe(argv[2], mode, &mode, reason, sizeof(reason));
                printf("%s: %s\n", gb_storage_shift_to_string(mode), reason);
                return 0;
        }
        if (!strcmp(argv[1], "views") && argc == 3) {
                printf("%d\n", gb_rootfs_count_views(argv[2]));
                return 0;
        }
        if (!strcmp(argv[1], "nslist") && argc == 4) {
                if (parse_map(argv[2], &m) < 0)
                        return die("bad map");
                return in_userns(&m, argv[3], 0, NULL, true);
        }
        if (!strcmp(argv[1], "nsexec") && argc >= 8) {
                if (parse_map(argv[2], &m) < 0)
                        return die("bad map");
                return in_userns(&m, argv[3], argc - 4, argv + 4, false);
        }
        if (!strcmp(argv[1], "ref") && argc == 5) {
                char id[GB_DIGEST_LEN];
                if (gb_store_open(argv[2], &s, &err) < 0 || gb_store_resolve(s, argv[3], id, &err) < 0 ||
                    gb_store_image_ref(s, id, argv[4], &err) < 0)
                        return die(err.msg);
                return 0;
        }
        return die("usage: see the source");
}
