#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounts.h"
#include "sandbox.h"
#include "security.h"
#include "syscalls.h"
#include "util.h"

/* One message per rendezvous on the SOCK_SEQPACKET pair; both sides check
 * the phase they expect. EOF means the peer died (or the child exec'd: its
 * end is close-on-exec). */
enum sync_phase {
        SYNC_MAPS_WRITTEN = 1, /* parent -> child: uid/gid maps and oom_score_adj written */
        SYNC_CHILD_READY,      /* child -> parent: container set up, about to wait or exec */
        SYNC_CHILD_ERROR,      /* child -> parent: errno + message, child exits */
};

struct sync_msg {
        uint32_t phase;
        int32_t code;
        char msg[GB_ERROR_MSG_MAX];
};

static int sync_send(int fd, enum sync_phase phase, int code, const char *msg)
{
        struct sync_msg m = {.phase = phase, .code = code};
        size_t len = offsetof(struct sync_msg, msg);

        if (msg) {
                (void)snprintf(m.msg, sizeof(m.msg), "%s", msg);
                len += strlen(m.msg) + 1;
        }
        if (send(fd, &m, len, MSG_NOSIGNAL) < 0)
                return -errno;
        return 0;
}

/* Receive the next message; 0 on EOF. */
static int sync_recv(int fd, struct sync_msg *m)
{
        ssize_t n;

        memset(m, 0, sizeof(*m));
        do
                n = recv(fd, m, sizeof(*m) - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n > 0 && (size_t)n < offsetof(struct sync_msg, msg))
                return -EBADMSG;
        return (int)n;
}

/* Parent side: expect `want`, turn SYNC_CHILD_ERROR into the child's error. */
static int sync_expect(int fd, enum sync_phase want, bool eof_ok, const char *what, struct gb_error *err)
{
        struct sync_msg m;
        int r = sync_recv(fd, &m);

        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read from the container (%s)", what);
        if (r == 0) {
                if (eof_ok)
                        return 0;
                return gb_error_set(err, ECHILD, "Failed to create the container: its init died before %s", what);
        }
        if (m.phase == SYNC_CHILD_ERROR)
                return gb_error_set(err, m.code > 0 ? m.code : EIO, "%s", m.msg);
        if (m.phase != want)
                return gb_error_set(err, EPROTO, "Failed to sync with the container: got phase %u, expected %u (%s)",
                                    m.phase, want, what);
        return 0;
}

/* Child side: report and exit. Never returns. */
static _Noreturn void child_fail(int sock, const struct gb_error *err)
{
        if (sock < 0 || sync_send(sock, SYNC_CHILD_ERROR, err->code, err->msg) < 0) {
                /* Nobody listens any more (create already returned): the
                 * init's stderr is the only place left. */
                (void)!write(STDERR_FILENO, "ghostbox-runtime: ", 18);
                (void)!write(STDERR_FILENO, err->msg, strlen(err->msg));
                (void)!write(STDERR_FILENO, "\n", 1);
        }
        _exit(127);
}

GB_EXPORT int gb_find_executable(const char *argv0, char *const *env, char *buf, size_t size)
{
        const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        int last = -ENOENT;

        if (strchr(argv0, '/')) {
                if ((size_t)snprintf(buf, size, "%s", argv0) >= size)
                        return -ENAMETOOLONG;
                return access(buf, X_OK) == 0 ? 0 : -errno;
        }
        for (char *const *e = env; e && *e; e++)
                if (!strncmp(*e, "PATH=", 5))
                        path = *e + 5;
        while (*path) {
                size_t n = strcspn(path, ":");
                int w = snprintf(buf, size, "%.*s%s%s", (int)n, n ? path : ".", "/", argv0);
                struct stat st;
                if (w > 0 && (size_t)w < size) {
                        if (access(buf, X_OK) == 0 && stat(buf, &st) == 0 && S_ISREG(st.st_mode))
                                return 0;
                        if (errno == EACCES)
                                last = -EACCES;
                }
                path += n;
                if (*path == ':')
                        path++;
        }
        return last;
}

/* runc's console protocol: the pty master goes over the console socket with
 * SCM_RIGHTS, its name as the payload. */
static int send_fd(int sock, int fd, const char *name)
{
        char cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int setup_console(const struct gb_spec_process *p, int console_sock, struct gb_error *err)
{
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        int unlock = 0;

        if (console_sock < 0)
                return gb_error_set(err, EINVAL,
                                    "process.terminal is set but no console socket was given "
                                    "(--console-socket)");
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return gb_error_sys(err, errno,
                                    "Failed to open /dev/ptmx in the container (is /dev/pts a devpts "
                                    "mount with ptmxmode=0666?)");
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return gb_error_sys(err, errno, "Failed to unlock the pty");
        /* TIOCGPTPEER opens the peer through the master: no path lookup of
         * /dev/pts/N that the container could race. */
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return gb_error_sys(err, errno, "Failed to open the pty peer");
        if (p->console_height || p->console_width) {
                struct winsize ws = {.ws_row = (unsigned short)p->console_height,
                                     .ws_col = (unsigned short)p->console_width};
                (void)ioctl(slave, TIOCSWINSZ, &ws);
        }
        if (send_fd(console_sock, master, "/dev/ptmx") < 0)
                return gb_error_sys(err, errno, "Failed to send the pty master to the console socket");
        if (setsid() < 0)
                return gb_error_sys(err, errno, "Failed to create a session");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return gb_error_sys(err, errno, "Failed to set the controlling terminal");
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return gb_error_sys(err, errno, "Failed to dup the pty onto fd %d", i);
        return 0;
}

/* Close everything but 0-2, the preserved fds and the sync socket, for
 * real (not just close-on-exec): before chdir(process.cwd), so a cwd of
 * "/proc/self/fd/N" cannot reach a host directory (runc CVE-2024-21626). */
static int close_fds(unsigned preserve, int keep, struct gb_error *err)
{
        unsigned first = 3 + preserve;

        for (unsigned fd = 3; fd < first; fd++)
                if (fcntl((int)fd, F_SETFD, 0) < 0 && errno != EBADF)
                        return gb_error_sys(err, errno, "Failed to pass fd %u", fd);
        if (keep >= (int)first) {
                if (keep > (int)first && gb_close_range(first, (unsigned)keep - 1, 0) < 0)
                        return gb_error_sys(err, errno, "Failed to close fds");
                if (gb_close_range((unsigned)keep + 1, ~0U, 0) < 0)
                        return gb_error_sys(err, errno, "Failed to close fds");
        } else if (gb_close_range(first, ~0U, 0) < 0) {
                return gb_error_sys(err, errno, "Failed to close fds");
        }
        return 0;
}

static int setup_stdio(const int *stdio, struct gb_error *err)
{
        for (int i = 0; stdio && i < 3; i++) {
                /* dup2(i, i) would keep a close-on-exec flag. */
                int r = stdio[i] == i ? fcntl(i, F_SETFD, 0) : dup2(stdio[i], i);
                if (r < 0)
                        return gb_error_sys(err, errno, "Failed to set up fd %d of the process", i);
        }
        return 0;
}

static int enter_cwd(const char *cwd, struct gb_error *err)
{
        char buf[PATH_MAX];

        if (chdir(cwd) < 0)
                return gb_error_sys(err, errno, "process.cwd: Failed to chdir to '%s'", cwd);
        /* A directory outside our root shows as "(unreachable)/..." */
        if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
                return gb_error_set(err, EPERM, "process.cwd: '%s' is outside the container", cwd);
        return 0;
}

/* The last steps shared by init and exec: fds, cwd, umask, credentials,
 * execve. Never returns. */
static _Noreturn void finish_and_exec(const struct gb_spec_process *p, const struct gb_security *sec, const char *exe,
                                      unsigned preserve, int sock)
{
        struct gb_error err = {0};

        if (gb_security_apply_rlimits(p, &err) < 0)
                child_fail(sock, &err);
        if (close_fds(preserve, sock, &err) < 0)
                child_fail(sock, &err);
        if (enter_cwd(p->cwd, &err) < 0)
                child_fail(sock, &err);
        umask(p->has_umask ? p->umask : 022);
        if (gb_security_apply(p, sec, &err) < 0)
                child_fail(sock, &err);
        execve(exe, p->args, p->env);
        gb_error_sys(&err, errno, "Failed to execute '%s'", exe);
        child_fail(sock, &err);
}

struct child_args {
        const struct gb_sandbox_opts *o;
        const struct gb_mounts_prep *prep;
        const struct gb_security *sec;
        bool new_userns;
        int sock;
};

static _Noreturn void init_main(const struct child_args *a)
{
        const struct gb_spec *s = a->o->spec;
        struct gb_error err = {0};
        struct sync_msg m;
        char exe[PATH_MAX];
        int r, fifo_dir = -EBADF;
        sigset_t none;

        /* Not dumpable: no container process may ptrace us or open
         * /proc/1/exe, which is the runtime binary until execve. */
        (void)prctl(PR_SET_DUMPABLE, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* The runtime blocks signals to forward them; the container gets a
         * clean slate. */
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)signal(sig, SIG_DFL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        /* The host's /proc/self/fd, opened before pivot_root: the FIFO is
         * reopened through it later even if the container has no /proc. */
        if (a->o->exec_fifo_fd >= 0)
                fifo_dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);

        /* sync #1: maps written */
        r = sync_recv(a->sock, &m);
        if (r <= 0 || m.phase != SYNC_MAPS_WRITTEN)
                _exit(126);
        if (gb_spec_namespace(s, CLONE_NEWUSER)) {
                /* Become the container's root (when it is mapped: EINVAL
                 * otherwise) so files the setup creates belong to it, not to
                 * the unmapped host root (EOVERFLOW on most filesystems). */
                if (setresgid(0, 0, 0) < 0 && errno != EINVAL) {
                        gb_error_sys(&err, errno, "Failed to become gid 0 in the user namespace");
                        child_fail(a->sock, &err);
                }
                if (setresuid(0, 0, 0) < 0 && errno != EINVAL) {
                        gb_error_sys(&err, errno, "Failed to become uid 0 in the user namespace");
                        child_fail(a->sock, &err);
                }
        }
        if (s->hostname && *s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
                gb_error_sys(&err, errno, "hostname: Failed to set '%s'", s->hostname);
                child_fail(a->sock, &err);
        }
        if (s->domainname && *s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0) {
                gb_error_sys(&err, errno, "domainname: Failed to set '%s'", s->domainname);
                child_fail(a->sock, &err);
        }
        if (gb_mounts_setup(s, a->o->rootfs, a->prep, a->new_userns || gb_spec_namespace(s, CLONE_NEWUSER),
                            a->o->no_pivot, &err) < 0)
                child_fail(a->sock, &err);
        if (gb_mounts_finish(s, &err) < 0)
                child_fail(a->sock, &err);
        if (setup_stdio(a->o->stdio, &err) < 0)
                child_fail(a->sock, &err);
        if (s->process.terminal && setup_console(&s->process, a->o->console_socket_fd, &err) < 0)
                child_fail(a->sock, &err);
        r = gb_find_executable(s->process.args[0], s->process.env, exe, sizeof(exe));
        if (r < 0) {
                gb_error_sys(&err, -r, "process.args[0]: '%s' not found in the container%s", s->process.args[0],
                             strchr(s->process.args[0], '/') ? "" : " (searched PATH)");
                child_fail(a->sock, &err);
        }

        /* From here the container outlives the runtime (create, run
         * --detach). A credential change would clear this anyway; without a
         * user namespace nothing would. Cleared before "ready", not after:
         * the runtime may exit as soon as it reads it, and a child not yet
         * past this line would be killed with it (seen under load: a
         * `create` whose container was already stopped). */
        (void)prctl(PR_SET_PDEATHSIG, 0);
        /* sync #2: ready */
        if (sync_send(a->sock, SYNC_CHILD_READY, 0, NULL) < 0)
                _exit(126);

        if (a->o->exec_fifo_fd >= 0) {
                char p[32];
                int fd;
                /* The runtime that created us exits now; we wait for
                 * "start", which opens the FIFO for reading. */
                close(a->sock);
                (void)snprintf(p, sizeof(p), "%d", a->o->exec_fifo_fd);
                fd = openat(fifo_dir, p, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, "0", 1) != 1) {
                        gb_error_sys(&err, errno, "Failed to wait for start on the exec FIFO");
                        child_fail(-1, &err);
                }
                close(fd);
                close(fifo_dir);
                close(a->o->exec_fifo_fd);
                finish_and_exec(&s->process, a->sec, exe, a->o->preserve_fds, -1);
        }
        finish_and_exec(&s->process, a->sec, exe, a->o->preserve_fds, a->sock);
}

static int write_proc(pid_t pid, const char *file, const char *data, size_t len, struct gb_error *err)
{
        char path[64];
        _cleanup_close_ int fd = -EBADF;

        (void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", path);
        /* The kernel takes a whole map in exactly one write(). */
        if (write(fd, data, len) != (ssize_t)len)
                return gb_error_sys(err, errno, "Failed to write '%s' (\"%.*s\")", path,
                                    (int)(len && data[len - 1] == '\n' ? len - 1 : len), data);
        return 0;
}

static int write_map(pid_t pid, const char *file, const struct gb_idmap *m, const char *field, struct gb_error *err)
{
        char buf[GB_IDMAP_MAX * 34 + 1];
        ssize_t len = gb_idmap_format(m, buf, sizeof(buf));

        if (len < 0)
                return gb_error_set(err, ENOBUFS, "Failed to format %s", field);
        if (write_proc(pid, file, buf, (size_t)len, err) < 0)
                return gb_error_prefix(err, "%s", field);
        return 0;
}

static int ns_type_name(int type, const char **ret)
{
        switch (type) {
        case CLONE_NEWUSER:
                *ret = "user";
                return 0;
        case CLONE_NEWNS:
                *ret = "mnt";
                return 0;
        case CLONE_NEWPID:
                *ret = "pid";
                return 0;
        case CLONE_NEWNET:
                *ret = "net";
                return 0;
        case CLONE_NEWIPC:
                *ret = "ipc";
                return 0;
        case CLONE_NEWUTS:
                *ret = "uts";
                return 0;
        case CLONE_NEWCGROUP:
                *ret = "cgroup";
                return 0;
        default:
                *ret = "time";
                return 0;
        }
}

/* Join the namespaces given by path, the user namespace last so the others
 * are joined with the host privileges they need. */
static int join_namespaces(const struct gb_spec *s, const char *label, struct gb_error *err)
{
        int userfd = -EBADF;

        for (size_t i = 0; i < s->n_namespaces; i++) {
                const struct gb_spec_namespace *ns = &s->namespaces[i];
                _cleanup_close_ int fd = -EBADF;
                const char *name;
                if (!ns->path)
                        continue;
                (void)ns_type_name(ns->type, &name);
                if (ns->type == CLONE_NEWNS)
                        return gb_error_set(err, ENOTSUP,
                                            "%s: linux.namespaces[%zu].path: joining a mount namespace is not "
                                            "supported (the rootfs is set up in a new one)",
                                            label, i);
                fd = open(ns->path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return gb_error_sys(err, errno, "%s: linux.namespaces[%zu].path: Failed to open '%s'", label, i,
                                            ns->path);
                if (ns->type == CLONE_NEWUSER) {
                        userfd = TAKE_FD(fd);
                        continue;
                }
                if (setns(fd, ns->type) < 0) {
                        int e = errno;
                        if (userfd >= 0)
                                close(userfd);
                        return gb_error_sys(err, e, "%s: linux.namespaces[%zu].path: Failed to join %s namespace '%s'",
                                            label, i, name, ns->path);
                }
        }
        if (userfd >= 0) {
                int r = setns(userfd, CLONE_NEWUSER);
                int e = errno;
                close(userfd);
                if (r < 0)
                        return gb_error_sys(err, e, "%s: Failed to join the user namespace", label);
        }
        return 0;
}

static pid_t clone_child(unsigned long flags, int *ret_pidfd)
{
        struct clone_args ca = {
                .flags = flags | CLONE_PIDFD,
                .pidfd = (uint64_t)(uintptr_t)ret_pidfd,
                .exit_signal = SIGCHLD,
        };
        pid_t pid = (pid_t)gb_clone3(&ca, sizeof(ca));

        if (pid >= 0 || (errno != ENOSYS && errno != E2BIG))
                return pid;
        /* Kernels before 5.3: clone() with a NULL stack behaves like fork();
         * the pidfd is opened right after (the child cannot be reaped before
         * we wait for it, so the pid cannot be reused in between). */
        pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid > 0)
                *ret_pidfd = gb_pidfd_open(pid, 0);
        return pid;
}

GB_EXPORT int gb_sandbox_create(const struct gb_sandbox_opts *o, struct gb_sandbox *ret, struct gb_error *err)
{
        const struct gb_spec *s = o->spec;
        const char *label = o->label ? o->label : "config.json";
        const struct gb_spec_namespace *userns = gb_spec_namespace(s, CLONE_NEWUSER);
        bool new_userns = userns && !userns->path;
        struct gb_security sec = {0};
        struct gb_mounts_prep prep = {0};
        _cleanup_close_ int psock = -EBADF, csock = -EBADF, pidfd = -EBADF;
        _cleanup_pid_ pid_t pid = 0;
        unsigned long flags = 0;
        int sv[2], r;

        if (userns && userns->path && gb_spec_namespace(s, CLONE_NEWPID) && !gb_spec_namespace(s, CLONE_NEWPID)->path)
                return gb_error_set(err, ENOTSUP,
                                    "%s: linux.namespaces: a new pid namespace inside a joined user "
                                    "namespace is not supported; join its pid namespace too",
                                    label);
        for (size_t i = 0; i < s->n_namespaces; i++)
                if (!s->namespaces[i].path)
                        flags |= (unsigned long)s->namespaces[i].type;

        r = gb_security_prepare(&s->process, s->seccomp, userns != NULL, label, &sec, err);
        if (r < 0)
                return r;
        r = gb_mounts_prepare(s, o->rootfs, &prep, err);
        if (r < 0)
                goto out;
        r = join_namespaces(s, label, err);
        if (r < 0)
                goto out;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                r = gb_error_sys(err, errno, "Failed to create the sync socket");
                goto out;
        }
        psock = sv[0];
        csock = sv[1];

        pid = clone_child(flags, &pidfd);
        if (pid < 0) {
                pid = 0;
                r = gb_error_sys(
                        err, errno, "Failed to create the container's namespaces (clone3 flags 0x%lx)%s", flags,
                        errno == ENOSPC || errno == EUSERS ? ": namespace limit reached (user.max_*_namespaces)"
                        : errno == EPERM && new_userns ? ": are user namespaces disabled (user.max_user_namespaces, "
                                                         "kernel.unprivileged_userns_clone)?"
                                                       : "");
                goto out;
        }
        if (pid == 0) {
                struct child_args a = {.o = o, .prep = &prep, .sec = &sec, .new_userns = new_userns, .sock = csock};
                close(psock);
                init_main(&a);
        }
        close(TAKE_FD(csock));

        if (new_userns) {
                if ((r = write_map(pid, "uid_map", s->uid_map, "linux.uidMappings", err)) < 0)
                        goto out;
                if ((r = write_map(pid, "gid_map", s->gid_map, "linux.gidMappings", err)) < 0)
                        goto out;
        }
        if (s->process.has_oom_score_adj) {
                char buf[16];
                int n = snprintf(buf, sizeof(buf), "%d", s->process.oom_score_adj);
                r = write_proc(pid, "oom_score_adj", buf, (size_t)n, err);
                if (r < 0) {
                        if (err->code == EACCES || err->code == EPERM)
                                gb_error_prefix(err,
                                                "%s: process.oomScoreAdj: %d is below the runtime's own score "
                                                "and lowering it needs CAP_SYS_RESOURCE",
                                                label, s->process.oom_score_adj);
                        goto out;
                }
        }
        /* sync #1: maps written */
        if (sync_send(psock, SYNC_MAPS_WRITTEN, 0, NULL) < 0) {
                r = gb_error_sys(err, errno, "Failed to release the container's init");
                goto out;
        }
        /* sync #2: ready */
        r = sync_expect(psock, SYNC_CHILD_READY, false, "it was set up", err);
        if (r < 0)
                goto out;
        if (o->exec_fifo_fd < 0) {
                /* sync #3: EOF = execve() succeeded */
                r = sync_expect(psock, 0, true, "exec", err);
                if (r < 0)
                        goto out;
        }
        ret->pid = pid;
        pid = 0; /* handed to the caller: no kill on return */
        r = 0;
out:
        gb_security_done(&sec);
        gb_mounts_prep_done(&prep);
        if (r == 0) {
                ret->pidfd = TAKE_FD(pidfd);
        }
        return r;
}

GB_EXPORT int gb_sandbox_start(const char *fifo_path, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        char c;

        /* O_NONBLOCK: never hang when no init waits on the other side. */
        fd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to open the exec FIFO '%s'", fifo_path);
        for (int i = 0; i < 5000; i++) {
                ssize_t n = read(fd, &c, 1);
                if (n == 1)
                        return 0;
                if (n < 0 && errno != EAGAIN)
                        return gb_error_sys(err, errno, "Failed to read the exec FIFO");
                /* n == 0: no writer yet (the init is still opening it) or it
                 * died; wait briefly for it. */
                {
                        struct pollfd pfd = {.fd = fd, .events = POLLIN};
                        (void)poll(&pfd, 1, 1);
                }
        }
        return gb_error_set(err, ENXIO, "Failed to start: the container's init is not waiting (did it die?)");
}

static int ns_differs(pid_t pid, const char *name)
{
        char p[64];
        struct stat a, b;

        (void)snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, name);
        if (stat(p, &a) < 0)
                return -errno;
        (void)snprintf(p, sizeof(p), "/proc/self/ns/%s", name);
        if (stat(p, &b) < 0)
                return 0; /* namespace type unknown to this kernel */
        return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

struct exec_args {
        const struct gb_exec_opts *o;
        const struct gb_security *sec;
        int flags;
        int rootfd;
        bool userns;
        int sock;
};

static _Noreturn void exec_main(const struct exec_args *a)
{
        const struct gb_spec_process *p = a->o->process;
        struct gb_error err = {0};
        char exe[PATH_MAX];
        int r;

        /* Not dumpable before joining: a container process must not reach
         * /proc/PID/exe (the runtime binary) of this process (CVE-2019-5736). */
        (void)prctl(PR_SET_DUMPABLE, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (a->flags && setns(a->o->init_pidfd, a->flags) < 0) {
                gb_error_sys(&err, errno, "Failed to join the container's namespaces");
                child_fail(a->sock, &err);
        }
        /* Also right for --no-pivot containers, whose root is a chroot. */
        if (fchdir(a->rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
                gb_error_sys(&err, errno, "Failed to enter the container's root");
                child_fail(a->sock, &err);
        }
        close(a->rootfd);
        if (a->userns) {
                uint32_t h;
                const struct gb_spec *s = a->o->spec;
                if (s->gid_map && gb_idmap_to_host(s->gid_map, 0, &h) == 0 && setresgid(0, 0, 0) < 0) {
                        gb_error_sys(&err, errno, "Failed to become gid 0 in the user namespace");
                        child_fail(a->sock, &err);
                }
                if (s->uid_map && gb_idmap_to_host(s->uid_map, 0, &h) == 0 && setresuid(0, 0, 0) < 0) {
                        gb_error_sys(&err, errno, "Failed to become uid 0 in the user namespace");
                        child_fail(a->sock, &err);
                }
        }
        if (setup_stdio(a->o->stdio, &err) < 0)
                child_fail(a->sock, &err);
        if (p->terminal && setup_console(p, a->o->console_socket_fd, &err) < 0)
                child_fail(a->sock, &err);
        r = gb_find_executable(p->args[0], p->env, exe, sizeof(exe));
        if (r < 0) {
                gb_error_sys(&err, -r, "'%s' not found in the container", p->args[0]);
                child_fail(a->sock, &err);
        }
        /* Our parent is the runtime, not in the container: the process
         * must not be killed with it when the runtime exits (--detach). */
        (void)prctl(PR_SET_PDEATHSIG, 0);
        finish_and_exec(p, a->sec, exe, a->o->preserve_fds, a->sock);
}

GB_EXPORT int gb_sandbox_exec(const struct gb_exec_opts *o, struct gb_sandbox *ret, struct gb_error *err)
{
        static const struct {
                const char *name;
                int flag;
        } types[] = {
                {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},  {"net", CLONE_NEWNET},
                {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS}, {"cgroup", CLONE_NEWCGROUP},
        };
        const char *label = o->label ? o->label : "process";
        struct gb_security sec = {0};
        _cleanup_close_ int psock = -EBADF, csock = -EBADF, pidfd = -EBADF, rootfd = -EBADF, saved_pidns = -EBADF;
        _cleanup_pid_ pid_t pid = 0;
        struct exec_args a = {.o = o};
        char path[64];
        int sv[2], r;

        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                r = ns_differs(o->init_pid, types[i].name);
                if (r < 0)
                        return gb_error_sys(err, -r, "Failed to inspect the container's %s namespace", types[i].name);
                if (r > 0)
                        a.flags |= types[i].flag;
        }
        a.userns = a.flags & CLONE_NEWUSER;
        r = gb_security_prepare(o->process, o->spec ? o->spec->seccomp : NULL, a.userns, label, &sec, err);
        if (r < 0)
                return r;
        (void)snprintf(path, sizeof(path), "/proc/%d/root", (int)o->init_pid);
        rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
                r = gb_error_sys(err, errno, "Failed to open '%s'", path);
                goto out;
        }
        a.rootfd = rootfd;
        /* setns(CLONE_NEWPID) moves only our future children: the clone
         * below lands in the container's pid namespace directly, and we
         * move back right after (our own pid namespace is always a valid
         * target), so later forks of the caller stay on the host. */
        r = ns_differs(o->init_pid, "pid");
        if (r > 0) {
                saved_pidns = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
                if (saved_pidns < 0 || setns(o->init_pidfd, CLONE_NEWPID) < 0) {
                        r = gb_error_sys(err, errno, "Failed to join the container's pid namespace");
                        goto out;
                }
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                r = gb_error_sys(err, errno, "Failed to create the sync socket");
                goto out;
        }
        psock = sv[0];
        csock = sv[1];
        pid = clone_child(0, &pidfd);
        if (pid != 0 && saved_pidns >= 0 && setns(saved_pidns, CLONE_NEWPID) < 0) {
                r = gb_error_sys(err, errno, "Failed to return to the host's pid namespace");
                goto out;
        }
        if (pid < 0) {
                pid = 0;
                r = gb_error_sys(err, errno, "Failed to create the process");
                goto out;
        }
        if (pid == 0) {
                close(psock);
                a.sec = &sec;
                a.sock = csock;
                exec_main(&a);
        }
        close(TAKE_FD(csock));
        /* EOF = execve() succeeded */
        r = sync_expect(psock, 0, true, "exec", err);
        if (r < 0)
                goto out;
        ret->pid = pid;
        ret->pidfd = TAKE_FD(pidfd);
        pid = 0;
out:
        gb_security_done(&sec);
        return r;
}
