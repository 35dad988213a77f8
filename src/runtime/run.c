/* run: create + start in one go; without --detach, wait for the container,
 * forward signals to it, exit with its exit code and delete it. With
 * process.terminal and no --console-socket, run proxies the pty itself
 * between its own stdio and the container (as runc does). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "create.h"
#include "syscalls.h"
#include "util.h"

/* The pty master the container's init sent over our socketpair, if any. */
static int recv_master(int sock)
{
        char name[64], cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c;
        int fd = -1;

        if (recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
                return -1;
        c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

static void copy_winsize(int master)
{
        struct winsize ws;

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                (void)ioctl(master, TIOCSWINSZ, &ws);
}

/* Shuttle bytes stdin -> master and master -> stdout until the container
 * exits; SIGWINCH resizes the pty, other signals are forwarded. */
static int proxy_and_wait(int pidfd, int master, const sigset_t *fwd)
{
        _cleanup_close_ int sfd = signalfd(-1, fwd, SFD_CLOEXEC);
        struct termios saved, raw;
        bool tty = tcgetattr(STDIN_FILENO, &saved) == 0, in_open = true;
        char buf[8192];
        siginfo_t si = {0};

        if (tty) {
                raw = saved;
                cfmakeraw(&raw);
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                copy_winsize(master);
        }
        for (;;) {
                struct pollfd p[4] = {{.fd = pidfd, .events = POLLIN},
                                      {.fd = sfd, .events = POLLIN},
                                      {.fd = master, .events = POLLIN},
                                      {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN}};
                ssize_t n;
                if (poll(p, 4, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo ssi;
                        if (read(sfd, &ssi, sizeof(ssi)) == sizeof(ssi)) {
                                if (ssi.ssi_signo == SIGWINCH)
                                        copy_winsize(master);
                                else
                                        (void)gb_pidfd_send_signal(pidfd, (int)ssi.ssi_signo, NULL, 0);
                        }
                }
                if (p[2].revents & POLLIN) {
                        n = read(master, buf, sizeof(buf));
                        if (n > 0)
                                (void)gb_write_all(STDOUT_FILENO, buf, (size_t)n);
                }
                if (p[3].revents & (POLLIN | POLLHUP)) {
                        n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n > 0)
                                (void)gb_write_all(master, buf, (size_t)n);
                        else
                                in_open = false;
                }
                if (p[0].revents & POLLIN) {
                        /* Drain what the process wrote before it exited. */
                        while ((n = read(master, buf, sizeof(buf))) > 0)
                                (void)gb_write_all(STDOUT_FILENO, buf, (size_t)n);
                        break;
                }
                if ((p[2].revents & (POLLHUP | POLLERR)) && !(p[2].revents & POLLIN)) {
                        /* Every slave closed: wait for the exit alone. */
                        struct pollfd w = {.fd = pidfd, .events = POLLIN};
                        (void)poll(&w, 1, -1);
                        break;
                }
        }
        if (tty)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
                return 1;
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

int rt_run(struct rt_ctx *ctx, int argc, char **argv)
{
        struct rt_create_opts o;
        struct rt_created c;
        _cleanup_close_ int mine = -EBADF, theirs = -EBADF, master = -EBADF;
        sigset_t fwd;
        int r = rt_parse_create_opts(argc, argv, true, &o, ctx);

        if (r)
                return r;
        if (!o.detach && !o.console_socket) {
                int sv[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return rt_error(ctx, "Failed to create a console socket: %s", strerror(errno));
                mine = sv[0];
                theirs = sv[1];
                o.console_fd = theirs;
        }
        /* Blocked before the container exists so no signal is lost; the
         * sandbox unblocks them in the container's init. */
        if (!o.detach)
                rt_block_signals(&fwd);
        r = rt_create_container(ctx, &o, true, &c);
        if (r)
                return r;
        if (o.detach) {
                close(c.pidfd);
                return 0;
        }
        if (mine >= 0)
                master = recv_master(mine);
        if (master >= 0)
                r = proxy_and_wait(c.pidfd, master, &fwd);
        else
                r = rt_wait_forward(c.pidfd, &fwd);
        close(c.pidfd);
        if (!o.keep)
                (void)rt_state_remove(ctx, o.id);
        return r;
}
