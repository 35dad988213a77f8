/* Container state under --root: <root>/<id>/state.json (written atomically:
 * a crash leaves the old file or the new one), config.json (the spec the
 * container was created with), exec.fifo (while created). The directory fd
 * is flock()ed by commands that change the container. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "runtime.h"
#include "security.h"
#include "syscalls.h"
#include "util.h"

int rt_check_id(const char *id, struct gb_error *err)
{
        size_t n = strlen(id);

        if (!n || n > 1024 || !strcmp(id, ".") || !strcmp(id, ".."))
                return gb_error_set(err, EINVAL, "invalid container ID '%s'", id);
        for (const char *p = id; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("_+-.", *p)))
                        return gb_error_set(err, EINVAL, "invalid container ID '%s': use letters, digits, _+-.", id);
        return 0;
}

char *rt_container_path(struct rt_ctx *ctx, const char *id, const char *file)
{
        return file ? gb_xasprintf("%s/%s/%s", ctx->root, id, file) : gb_xasprintf("%s/%s", ctx->root, id);
}

unsigned long long rt_pid_start_time(pid_t pid)
{
        char path[64], *p;
        _cleanup_free_ char *buf = NULL;
        unsigned long long v = 0;

        (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (gb_read_file_at(AT_FDCWD, path, 4096, &buf, NULL) < 0)
                return 0;
        /* comm may contain spaces and ')': fields start after the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return 0;
        p++;
        for (int field = 3; field <= 22 && p; field++) {
                p = strchr(p + 1, ' ');
                if (field == 21 && p)
                        v = strtoull(p + 1, NULL, 10);
        }
        return v;
}

void rt_state_done(struct rt_state *s)
{
        free(s->id);
        free(s->bundle);
        free(s->rootfs);
        free(s->created);
        json_decref(s->annotations);
        json_decref(s->config);
        if (s->dirfd >= 0)
                close(s->dirfd);
        memset(s, 0, sizeof(*s));
        s->dirfd = -EBADF;
}

int rt_state_load(struct rt_ctx *ctx, const char *id, bool lock, struct rt_state *ret, struct gb_error *err)
{
        _cleanup_free_ char *dir = NULL, *buf = NULL;
        struct rt_state s = {.dirfd = -EBADF};
        json_t *o;
        int r;

        r = rt_check_id(id, err);
        if (r < 0)
                return r;
        dir = rt_container_path(ctx, id, NULL);
        s.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s.dirfd < 0) {
                if (errno == ENOENT)
                        return gb_error_set(err, ENOENT, "container does not exist: %s", id);
                return gb_error_sys(err, errno, "Failed to open '%s'", dir);
        }
        if (lock && flock(s.dirfd, LOCK_EX) < 0) {
                r = gb_error_sys(err, errno, "Failed to lock '%s'", dir);
                rt_state_done(&s);
                return r;
        }
        s.id = gb_xstrdup(id);
        r = gb_read_file_at(s.dirfd, "state.json", 1 << 20, &buf, NULL);
        if (r == -ENOENT) {
                /* Created but never finished (the runtime died mid-create):
                 * status "creating"; delete --force removes it. */
                *ret = s;
                return 0;
        }
        if (r < 0) {
                rt_state_done(&s);
                return gb_error_sys(err, -r, "Failed to read the state of %s", id);
        }
        o = json_loads(buf, 0, NULL);
        if (!o) {
                /* Torn by a crash during the first write: as good as no
                 * state ("creating"); delete --force cleans it. */
                *ret = s;
                return 0;
        }
        s.pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
        s.start_time = (unsigned long long)json_integer_value(json_object_get(o, "pidStartTime"));
        if (json_string_value(json_object_get(o, "bundle")))
                s.bundle = gb_xstrdup(json_string_value(json_object_get(o, "bundle")));
        if (json_string_value(json_object_get(o, "rootfs")))
                s.rootfs = gb_xstrdup(json_string_value(json_object_get(o, "rootfs")));
        if (json_string_value(json_object_get(o, "created")))
                s.created = gb_xstrdup(json_string_value(json_object_get(o, "created")));
        s.annotations = json_incref(json_object_get(o, "annotations"));
        s.config = json_incref(json_object_get(o, "config"));
        json_decref(o);
        *ret = s;
        return 0;
}

static bool pid_alive(const struct rt_state *s)
{
        if (s->pid <= 0)
                return false;
        if (kill(s->pid, 0) < 0 && errno == ESRCH)
                return false;
        /* A recycled pid is not our init. */
        if (s->start_time && rt_pid_start_time(s->pid) != s->start_time)
                return false;
        /* A zombie has exited. */
        {
                char path[64];
                _cleanup_free_ char *buf = NULL;
                (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
                if (gb_read_file_at(AT_FDCWD, path, 4096, &buf, NULL) == 0) {
                        char *p = strrchr(buf, ')');
                        if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
                                return false;
                }
        }
        return true;
}

const char *rt_status(struct rt_ctx *ctx, const struct rt_state *s)
{
        struct stat st;

        (void)ctx;
        if (s->pid <= 0)
                return "creating";
        if (!pid_alive(s))
                return "stopped";
        if (fstatat(s->dirfd, "exec.fifo", &st, 0) == 0)
                return "created";
        return "running";
}

json_t *rt_state_json(struct rt_ctx *ctx, const struct rt_state *s)
{
        const char *status = rt_status(ctx, s);

        return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:o}", "ociVersion", "1.1.0", "id", s->id, "status",
                         status, "pid", (int)(strcmp(status, "stopped") ? s->pid : 0), "bundle",
                         s->bundle ? s->bundle : "", "rootfs", s->rootfs ? s->rootfs : "", "created",
                         s->created ? s->created : "", "owner", "", "annotations",
                         s->annotations ? json_incref(s->annotations) : json_object());
}

/* tmp + rename, without fsync: state under --root describes live
 * processes and means nothing after a reboot (runc keeps it on tmpfs), so
 * only a crash of this process matters, and rename() covers that: the old
 * file or the new one, never a torn one. fsync here cost 2-8 ms per run on
 * a disk-backed /run. */
int rt_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = gb_xasprintf("%s.tmp.%d", path, (int)getpid());
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        int r;

        if (fd < 0)
                return -errno;
        r = gb_write_all(fd, data, len);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

int rt_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

        if (fd < 0)
                return -errno;
        return gb_write_all(fd, data, len);
}

int rt_state_save(struct rt_ctx *ctx, const struct rt_state *s, struct gb_error *err)
{
        _cleanup_free_ char *path = rt_container_path(ctx, s->id, "state.json"), *text = NULL;
        json_t *o;
        int r;

        o = json_pack("{s:s, s:s, s:i, s:I, s:s, s:s, s:s}", "ociVersion", "1.1.0", "id", s->id, "pid", (int)s->pid,
                      "pidStartTime", (json_int_t)s->start_time, "bundle", s->bundle, "rootfs", s->rootfs, "created",
                      s->created);
        if (o) {
                json_object_set_new(o, "annotations", s->annotations ? json_incref(s->annotations) : json_object());
                if (s->config)
                        json_object_set(o, "config", s->config);
        }
        if (!o)
                return gb_error_set(err, ENOMEM, "Failed to build the state of %s", s->id);
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        /* Written once, into a directory nobody else uses yet: no temp file
         * and rename (each ext4 inode costs here); a torn file reads as
         * "creating". */
        r = rt_write_new(path, text, strlen(text), 0600);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", path);
        return 0;
}

int rt_state_remove(struct rt_ctx *ctx, const char *id)
{
        _cleanup_free_ char *dir = rt_container_path(ctx, id, NULL);
        return gb_rm_rf(dir);
}

int rt_write_pid_file(const char *path, pid_t pid, struct gb_error *err)
{
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%d", (int)pid), r;

        r = gb_write_file_atomic(path, buf, (size_t)n, 0644);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write the pid file '%s'", path);
        return 0;
}

int rt_connect_console(const char *path, int *ret_fd, struct gb_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;

        if (strlen(path) >= sizeof(sa.sun_path))
                return gb_error_set(err, ENAMETOOLONG, "--console-socket: path too long: '%s'", path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create a socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return gb_error_sys(err, errno, "--console-socket: Failed to connect to '%s'", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int rt_protect_exe(struct rt_ctx *ctx, const struct gb_spec *spec, struct gb_error *err)
{
        extern char **environ;

        if (!gb_self_exe_needs_seal(spec->uid_map, spec->gid_map) || gb_self_exe_is_sealed())
                return 0;
        /* Test-only: lets tests/integration/20-runtime-cve.sh show that its
         * CVE-2019-5736 check fails without the seal. */
        if (getenv("GB_TEST_UNSAFE_NO_EXE_SEAL"))
                return 0;
        return gb_self_exe_reexec_sealed(ctx->argv, environ, err);
}

static const int forwarded_signals[] = {SIGHUP,   SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
                                        SIGWINCH, SIGCONT, SIGTSTP, SIGALRM, SIGPIPE};

void rt_block_signals(sigset_t *set)
{
        sigemptyset(set);
        for (size_t i = 0; i < ARRAY_SIZE(forwarded_signals); i++)
                sigaddset(set, forwarded_signals[i]);
        (void)sigprocmask(SIG_BLOCK, set, NULL);
}

int rt_wait_forward(int pidfd, const sigset_t *forwarded)
{
        _cleanup_close_ int sfd = signalfd(-1, forwarded, SFD_CLOEXEC);
        siginfo_t si;

        for (;;) {
                struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
                if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return 1;
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo ssi;
                        if (read(sfd, &ssi, sizeof(ssi)) == sizeof(ssi))
                                (void)gb_pidfd_send_signal(pidfd, (int)ssi.ssi_signo, NULL, 0);
                }
                if (p[0].revents & (POLLIN | POLLHUP))
                        break;
        }
        memset(&si, 0, sizeof(si));
        if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
                return 1;
        if (si.si_code == CLD_EXITED)
                return si.si_status;
        return 128 + si.si_status;
}
