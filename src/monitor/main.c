/* ghostbox-monitor: one small process per running container.
 *
 * It creates the container through the library's sandbox (so the init is
 * its child and it alone can reap it), keeps the container's stdio, writes
 * the json-file log, serves attach/start/resize on a unix socket (protocol
 * in src/lib/monitor.h), records the exit code and finish time atomically,
 * and for --rm containers removes it (as `ghostbox rm -f -v` would) once it
 * exits.
 * Its exit status is the container's exit code.
 *
 * It is a separate, small executable rather than a fork of the CLI so that
 * its private memory stays small: a forked CLI would carry the CLI's heap
 * as private pages once the CLI exits. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "engine.h"
#include "logfile.h"
#include "monitor.h"
#include "proxy.h"
#include "sandbox.h"
#include "security.h"
#include "spec.h"
#include "util.h"

#define MAX_CLIENTS 32

struct client {
        int fd;
        unsigned flags;
};

struct monitor {
        const char *data_root, *exec_root, *cli, *id, *config, *remap;
        char **argv;
        char *state_dir, *fifo_path, *sock_path;
        struct gb_container *c;
        struct gb_spec *spec;
        bool tty, open_stdin, stdin_once, auto_remove;
        int out_fd, err_fd, in_fd; /* our ends; -1 when closed */
        int pty_fd;                /* tty mode: the pty master (out/in both) */
        int listen_fd, sig_fd;
        struct gb_log_writer log;
        struct client clients[MAX_CLIENTS];
        size_t n_clients;
        struct gb_sandbox sb;
        bool started, exited;
        int exit_code;
        struct proxy proxy; /* published ports (-p) */
};

static int ready_fd = -1;

/* Tell the spawning CLI how creation went ("ok" or "error ERRNO: MSG", one
 * line); after this the CLI is free to go away. */
static void report_ready(int code, const char *msg)
{
        if (ready_fd < 0)
                return;
        if (msg) {
                char head[32];
                int n = snprintf(head, sizeof(head), "error %d: ", code);
                (void)gb_write_all(ready_fd, head, (size_t)n);
                (void)gb_write_all(ready_fd, msg, strlen(msg));
                (void)gb_write_all(ready_fd, "\n", 1);
        } else
                (void)gb_write_all(ready_fd, "ok\n", 3);
        close(ready_fd);
        ready_fd = -1;
}

/* ports: NetworkSettings.Ports to set (NULL: leave it). */
static int update_record_ports(struct monitor *m, json_t *state_patch, json_t *gb_patch, json_t *ports,
                               struct gb_error *err)
{
        int r = gb_container_lock(m->c, err);

        if (r < 0)
                return r;
        r = gb_container_reload(m->c, err);
        if (r >= 0) {
                json_t *st = json_object_get(m->c->doc, "State");
                if (!json_is_object(st)) {
                        st = json_object();
                        json_object_set_new(m->c->doc, "State", st);
                }
                if (state_patch)
                        json_object_update(st, state_patch);
                if (gb_patch) {
                        json_t *g = json_object_get(m->c->doc, "Ghostbox");
                        if (!json_is_object(g)) {
                                g = json_object();
                                json_object_set_new(m->c->doc, "Ghostbox", g);
                        }
                        json_object_update(g, gb_patch);
                }
                if (ports) {
                        json_t *ns = json_object_get(m->c->doc, "NetworkSettings");
                        if (!json_is_object(ns)) {
                                ns = json_object();
                                json_object_set_new(m->c->doc, "NetworkSettings", ns);
                        }
                        json_object_set(ns, "Ports", ports);
                }
                r = gb_container_save(m->c, err);
        }
        gb_container_unlock(m->c);
        return r;
}

static int update_record(struct monitor *m, json_t *state_patch, json_t *gb_patch, struct gb_error *err)
{
        return update_record_ports(m, state_patch, gb_patch, NULL, err);
}

static void set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void drop_client(struct monitor *m, size_t i)
{
        close(m->clients[i].fd);
        m->clients[i] = m->clients[--m->n_clients];
}

/* Send output to every attached client that asked for this stream. A
 * client that cannot keep up within the socket's send timeout is dropped
 * rather than stalling the container. */
static void broadcast(struct monitor *m, enum gb_stream s, const char *buf, size_t len)
{
        unsigned want = s == GB_STREAM_STDERR ? GB_ATTACH_STDERR : GB_ATTACH_STDOUT;

        for (size_t i = 0; i < m->n_clients;) {
                struct client *cl = &m->clients[i];
                int r = 0;
                if (cl->flags & want)
                        r = m->tty ? gb_write_all(cl->fd, buf, len) : gb_stdcopy_write(cl->fd, s, buf, len);
                if (r < 0)
                        drop_client(m, i);
                else
                        i++;
        }
}

/* Read what is available from fd (a bounded number of reads, so a chatty
 * container cannot starve the rest of the loop); false at EOF/error. */
static bool pump_output(struct monitor *m, int fd, enum gb_stream s)
{
        char buf[32768];

        for (int round = 0; round < 16; round++) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return true;
                if (n <= 0)
                        return false; /* EOF, or EIO from a pty whose slave closed */
                (void)gb_log_feed(&m->log, s, buf, (size_t)n);
                broadcast(m, s, buf, (size_t)n);
        }
        return true;
}

/* Everything still buffered in a pipe or pty after the init exited. A
 * background process in the container may hold the pipe open and keep
 * writing: stop at the first empty read rather than wait for EOF. */
static void drain(struct monitor *m, int fd, enum gb_stream s)
{
        char buf[32768];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                (void)gb_log_feed(&m->log, s, buf, (size_t)n);
                broadcast(m, s, buf, (size_t)n);
        }
}

static void close_stdin(struct monitor *m)
{
        if (m->in_fd >= 0) {
                close(m->in_fd);
                m->in_fd = -1;
        }
}

static void handle_client_input(struct monitor *m, size_t i)
{
        char buf[8192];
        ssize_t n = recv(m->clients[i].fd, buf, sizeof(buf), MSG_DONTWAIT);

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                /* The client closed its sending side. */
                bool had_stdin = m->clients[i].flags & GB_ATTACH_STDIN;
                if (had_stdin && m->stdin_once && !m->tty)
                        close_stdin(m);
                if (had_stdin)
                        m->clients[i].flags &= ~(unsigned)GB_ATTACH_STDIN;
                if (n < 0 || !(m->clients[i].flags & (GB_ATTACH_STDOUT | GB_ATTACH_STDERR)))
                        drop_client(m, i);
                return;
        }
        if (!(m->clients[i].flags & GB_ATTACH_STDIN))
                return;
        int in = m->tty ? m->pty_fd : m->in_fd;
        if (in >= 0 && gb_write_all(in, buf, (size_t)n) < 0)
                close_stdin(m);
}

static void do_start(struct monitor *m, int fd)
{
        struct gb_error err = {0};
        _cleanup_free_ char *now = NULL;

        if (m->started) {
                (void)gb_write_all(fd, "ok\n", 3);
                return;
        }
        if (gb_sandbox_start(m->fifo_path, &err) < 0) {
                _cleanup_free_ char *msg = gb_xasprintf("error: %s\n", err.msg);
                (void)gb_write_all(fd, msg, strlen(msg));
                return;
        }
        m->started = true;
        gb_crash_point("monitor:after-start");
        now = gb_timestamp_now();
        json_t *st = json_pack("{s:s, s:b, s:s}", "Status", "running", "Running", 1, "StartedAt", now);
        if (update_record(m, st, NULL, &err) < 0) {
                json_decref(st);
                _cleanup_free_ char *msg = gb_xasprintf("error: %s\n", err.msg);
                (void)gb_write_all(fd, msg, strlen(msg));
                return;
        }
        json_decref(st);
        (void)gb_write_all(fd, "ok\n", 3);
}

static void handle_new_connection(struct monitor *m)
{
        struct timeval tv = {.tv_sec = 5};
        unsigned char req[5];
        int fd;

        fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return;
        /* A client gets 5 s to say what it wants and to take output. */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (gb_read_all(fd, req, 1) < 0) {
                close(fd);
                return;
        }
        switch (req[0]) {
        case 'S':
                do_start(m, fd);
                close(fd);
                return;
        case 'R':
                if (gb_read_all(fd, req + 1, 4) == 0 && m->pty_fd >= 0) {
                        struct winsize ws = {.ws_row = (unsigned short)(req[1] << 8 | req[2]),
                                             .ws_col = (unsigned short)(req[3] << 8 | req[4])};
                        (void)ioctl(m->pty_fd, TIOCSWINSZ, &ws);
                }
                close(fd);
                return;
        case 'A':
                if (gb_read_all(fd, req + 1, 1) < 0 || m->n_clients == MAX_CLIENTS || m->exited) {
                        close(fd);
                        return;
                }
                /* The socket stays blocking: sends wait up to the 5 s send
                 * timeout (a slow client is dropped after that), reads use
                 * MSG_DONTWAIT. */
                m->clients[m->n_clients++] = (struct client){fd, req[1]};
                return;
        default:
                close(fd);
        }
}

static void finish(struct monitor *m, int status)
{
        struct gb_error err = {0};
        _cleanup_free_ char *now = gb_timestamp_now();
        json_t *st, *ports;

        m->exited = true;
        m->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        /* Drain what the container wrote before exiting. */
        if (m->tty && m->pty_fd >= 0)
                drain(m, m->pty_fd, GB_STREAM_STDOUT);
        if (m->out_fd >= 0)
                drain(m, m->out_fd, GB_STREAM_STDOUT);
        if (m->err_fd >= 0)
                drain(m, m->err_fd, GB_STREAM_STDERR);
        (void)gb_log_flush(&m->log);
        /* The ports are free again before the exit is on record: a
         * restart right after it re-binds them. */
        proxy_close(&m->proxy);
        ports = m->proxy.n_maps ? proxy_ports_json(&m->proxy, m->c->doc, false) : NULL;
        st = json_pack("{s:s, s:b, s:i, s:i, s:s, s:b}", "Status", "exited", "Running", 0, "Pid", 0, "ExitCode",
                       m->exit_code, "FinishedAt", now, "OOMKilled", 0);
        (void)update_record_ports(m, st, NULL, ports, &err);
        json_decref(st);
        json_decref(ports);
        /* Clients see EOF only after the exit is on record. */
        while (m->n_clients)
                drop_client(m, 0);
        (void)unlink(m->sock_path);
        (void)unlink(m->fifo_path);
        (void)rmdir(m->state_dir);
}

static int setup_stdio(struct monitor *m, int *console_peer, struct gb_sandbox_opts *o, struct gb_error *err)
{
        int p[2];

        if (m->tty) {
                int sv[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        return gb_error_sys(err, errno, "Failed to create the console socket");
                o->console_socket_fd = sv[0];
                *console_peer = sv[1];
                return 0;
        }
        /* The init inherits fds 0, 1, 2: put the pipes' far ends there. */
        if (pipe2(p, O_CLOEXEC) < 0)
                return gb_error_sys(err, errno, "Failed to create the stdout pipe");
        m->out_fd = p[0];
        if (dup2(p[1], 1) < 0)
                return gb_error_sys(err, errno, "Failed to set up stdout");
        close(p[1]);
        if (pipe2(p, O_CLOEXEC) < 0)
                return gb_error_sys(err, errno, "Failed to create the stderr pipe");
        m->err_fd = p[0];
        if (dup2(p[1], 2) < 0)
                return gb_error_sys(err, errno, "Failed to set up stderr");
        close(p[1]);
        if (m->open_stdin) {
                if (pipe2(p, O_CLOEXEC) < 0)
                        return gb_error_sys(err, errno, "Failed to create the stdin pipe");
                m->in_fd = p[1];
                if (dup2(p[0], 0) < 0)
                        return gb_error_sys(err, errno, "Failed to set up stdin");
                close(p[0]);
        }
        return 0;
}

/* Receive the pty master the sandbox sends over the console socket. */
static int recv_pty(int sock, int *ret_fd, struct gb_error *err)
{
        char data[256], cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c;

        if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) < 0)
                return gb_error_sys(err, errno, "Failed to receive the container's pty");
        c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_type != SCM_RIGHTS)
                return gb_error_set(err, EIO, "Failed to receive the container's pty: no fd in the message");
        memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
        return 0;
}

static int create_container(struct monitor *m, struct gb_error *err)
{
        struct gb_sandbox_opts o = {.exec_fifo_fd = -1, .console_socket_fd = -1, .label = "config.json"};
        _cleanup_free_ char *cfg = NULL;
        _cleanup_close_ int fifo = -EBADF, console_peer = -EBADF;
        json_t *cfgobj = json_object_get(m->c->doc, "Config"), *hc = json_object_get(m->c->doc, "HostConfig");
        unsigned long long start_time = 0, mon_start = 0;
        const char *log_path;
        int r, devnull;

        m->tty = json_is_true(json_object_get(cfgobj, "Tty"));
        m->open_stdin = json_is_true(json_object_get(cfgobj, "OpenStdin"));
        m->stdin_once = json_is_true(json_object_get(cfgobj, "StdinOnce"));
        m->auto_remove = json_is_true(json_object_get(hc, "AutoRemove"));

        cfg = gb_xasprintf("%s/config.json", m->c->dir);
        r = gb_spec_load_file(cfg, &m->spec, err);
        if (r < 0)
                return r;
        /* CVE-2019-5736: without a user namespace the container's root is
         * host root; our binary must not be reachable through
         * /proc/PID/exe. Run from a sealed memfd copy (re-exec with the
         * same arguments; the ready pipe stays open across it). */
        if (gb_self_exe_needs_seal(m->spec->uid_map, m->spec->gid_map) && !gb_self_exe_is_sealed()) {
                if (ready_fd >= 0)
                        (void)fcntl(ready_fd, F_SETFD, 0);
                return gb_self_exe_reexec_sealed(m->argv, environ, err);
        }
        /* Published ports are bound before the container exists: a taken
         * port fails the start with nothing to undo. */
        r = proxy_bind(&m->proxy, m->c->doc, err);
        if (r < 0)
                return r;
        log_path = json_string_value(json_object_get(m->c->doc, "LogPath"));
        if (log_path && *log_path) {
                r = gb_log_open(&m->log, log_path, err);
                if (r < 0)
                        return r;
        } else
                m->log.fd = -EBADF;

        r = gb_mkdir_p(m->state_dir, 0700);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", m->state_dir);
        (void)unlink(m->fifo_path);
        /* 0622 as runc: the init reopens it for writing through
         * /proc/self/fd after becoming the remapped root, which only the
         * inode's mode lets through; the 0700 state directory keeps
         * everyone else from reaching it by path. */
        if (mkfifo(m->fifo_path, 0622) < 0 || chmod(m->fifo_path, 0622) < 0)
                return gb_error_sys(err, errno, "Failed to create '%s'", m->fifo_path);
        fifo = open(m->fifo_path, O_PATH | O_CLOEXEC);
        if (fifo < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", m->fifo_path);
        o.exec_fifo_fd = fifo;
        o.spec = m->spec;
        o.rootfs = m->spec->root_path;

        r = setup_stdio(m, &console_peer, &o, err);
        if (r < 0)
                return r;
        r = gb_sandbox_create(&o, &m->sb, err);
        if (o.console_socket_fd >= 0)
                close(o.console_socket_fd);
        /* Our own stdio goes back to /dev/null: the pipes' far ends now
         * belong to the container alone, so EOF means the container
         * closed them. */
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
                (void)dup2(devnull, 0);
                (void)dup2(devnull, 1);
                (void)dup2(devnull, 2);
                close(devnull);
        }
        if (r < 0)
                return r;
        if (m->tty) {
                r = recv_pty(console_peer, &m->pty_fd, err);
                if (r < 0)
                        return r;
                set_nonblock(m->pty_fd);
        }
        if (m->out_fd >= 0)
                set_nonblock(m->out_fd);
        if (m->err_fd >= 0)
                set_nonblock(m->err_fd);

        r = gb_monitor_listen(m->state_dir, &m->listen_fd, err);
        if (r < 0)
                return r;
        r = proxy_set_target(&m->proxy, m->sb.pid, m->c->doc, err);
        if (r < 0)
                return r;
        (void)gb_pid_start_time(m->sb.pid, &start_time);
        (void)gb_pid_start_time(getpid(), &mon_start);
        json_t *st = json_pack("{s:s, s:i}", "Status", "created", "Pid", (int)m->sb.pid);
        json_t *g = json_pack("{s:i, s:I, s:I, s:s}", "MonitorPid", (int)getpid(), "MonitorStartTime",
                              (json_int_t)mon_start, "InitStartTime", (json_int_t)start_time, "StateDir", m->state_dir);
        json_t *ports = m->proxy.n_maps ? proxy_ports_json(&m->proxy, m->c->doc, true) : NULL;
        r = update_record_ports(m, st, g, ports, err);
        json_decref(st);
        json_decref(g);
        json_decref(ports);
        return r;
}

static void run_loop(struct monitor *m)
{
        _cleanup_free_ struct pollfd *p = gb_xcalloc(4 + MAX_CLIENTS + proxy_max_fds(&m->proxy), sizeof(*p));

        for (;;) {
                size_t n = 0, first_client, first_proxy;
                int timeout;
                int out = m->tty ? m->pty_fd : m->out_fd;

                p[n++] = (struct pollfd){.fd = m->sig_fd, .events = POLLIN};
                p[n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
                p[n++] = (struct pollfd){.fd = out, .events = POLLIN};
                p[n++] = (struct pollfd){.fd = m->tty ? -1 : m->err_fd, .events = POLLIN};
                first_client = n;
                /* Only clients that still send stdin are read. A client
                 * that half-closed (docker run without -i does at once)
                 * stays readable at EOF: polling it for POLLIN would spin
                 * the monitor for the container's whole life. A full close
                 * still shows as POLLHUP. */
                for (size_t i = 0; i < m->n_clients; i++)
                        p[n++] = (struct pollfd){.fd = m->clients[i].fd,
                                                 .events = m->clients[i].flags & GB_ATTACH_STDIN ? POLLIN : 0};
                first_proxy = n;
                timeout = proxy_expire(&m->proxy);
                n += proxy_fill(&m->proxy, p + n);
                if (poll(p, n, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (p[2].revents && !pump_output(m, out, GB_STREAM_STDOUT)) {
                        /* A pty master reports EIO whenever no slave is
                         * open; for pipes it is EOF. Either way, stop
                         * polling it; the exit is seen via SIGCHLD. */
                        if (!m->tty) {
                                close(m->out_fd);
                                m->out_fd = -1;
                        } else {
                                close(m->pty_fd);
                                m->pty_fd = -1;
                        }
                }
                if (p[3].revents && !pump_output(m, m->err_fd, GB_STREAM_STDERR)) {
                        close(m->err_fd);
                        m->err_fd = -1;
                }
                /* Clients, back to front so dropping one keeps indices. */
                for (size_t i = first_proxy; i > first_client; i--) {
                        short rev = p[i - 1].revents;
                        if (rev & POLLIN)
                                handle_client_input(m, i - 1 - first_client);
                        else if (rev & (POLLHUP | POLLERR | POLLNVAL))
                                drop_client(m, i - 1 - first_client);
                }
                if (p[1].revents)
                        handle_new_connection(m);
                proxy_handle(&m->proxy, p + first_proxy);
                if (p[0].revents & POLLNVAL) {
                        /* Our signalfd is gone (it must not be; never spin
                         * on it): fall back to a blocking wait. */
                        int status;
                        if (waitpid(m->sb.pid, &status, 0) == m->sb.pid)
                                finish(m, status);
                        return;
                }
                if (p[0].revents) {
                        struct signalfd_siginfo si;
                        while (read(m->sig_fd, &si, sizeof(si)) == sizeof(si))
                                ;
                        for (;;) {
                                int status;
                                pid_t w = waitpid(-1, &status, WNOHANG);
                                if (w <= 0)
                                        break;
                                if (w == m->sb.pid) {
                                        finish(m, status);
                                        return;
                                }
                        }
                }
        }
}

/* --rm: the same removal as `ghostbox rm -f -v`, in this process (a new CLI
 * process would cost its start-up on every --rm run). A removal that fails
 * (a busy mount, a full disk) is retried briefly, then written to the record
 * as State.Error so that a `wait?condition=removed` and `ghostbox ps` see why
 * the container is still there instead of waiting for it forever. */
static void auto_remove(struct monitor *m)
{
        struct gb_config_overrides ov = {.path = m->config,
                                         .data_root = m->data_root,
                                         .exec_root = m->exec_root,
                                         .userns_remap = m->remap ? m->remap : "default"};
        struct gb_engine e = {0};
        struct gb_error err = {0};
        int r = gb_engine_open(&ov, m->cli, &e, &err);

        for (int attempt = 0; r >= 0 && attempt < 20; attempt++) {
                gb_error_clear(&err);
                r = gb_engine_remove(&e, m->c->id, true, true, &err);
                if (r >= 0 || r == -ENOENT) {
                        r = 0;
                        break;
                }
                (void)usleep(50 * 1000);
        }
        if (r < 0) {
                _cleanup_free_ char *msg = gb_xasprintf("autoremove failed: %s", err.msg[0] ? err.msg : strerror(-r));
                json_t *st = json_pack("{s:s, s:s}", "Status", "exited", "Error", msg);
                fprintf(stderr, "ghostbox-monitor: %s: %s\n", m->c->id, msg);
                (void)update_record(m, st, NULL, NULL);
                json_decref(st);
        }
        gb_engine_close(&e);
}

static void usage(void)
{
        fprintf(stderr, "Usage: ghostbox-monitor --data-root DIR --exec-root DIR --cli PATH [--ready-fd N] ID\n"
                        "Started by ghostbox; not meant to be run by hand.\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"data-root", required_argument, NULL, 'd'},
                {"exec-root", required_argument, NULL, 'e'},
                {"cli", required_argument, NULL, 'c'},
                {"ready-fd", required_argument, NULL, 'r'},
                {"config", required_argument, NULL, 'C'},
                {"userns-remap", required_argument, NULL, 'U'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct monitor m = {.out_fd = -1,
                            .err_fd = -1,
                            .in_fd = -1,
                            .pty_fd = -1,
                            .listen_fd = -1,
                            .sig_fd = -1,
                            .proxy = {.host_ns = -1, .ctr_ns = -1}};
        struct gb_error err = {0};
        sigset_t mask;
        int c;

        gb_ensure_std_fds();
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        m.data_root = optarg;
                        break;
                case 'e':
                        m.exec_root = optarg;
                        break;
                case 'c':
                        m.cli = optarg;
                        break;
                case 'C':
                        m.config = optarg;
                        break;
                case 'U':
                        m.remap = optarg;
                        break;
                case 'r':
                        ready_fd = atoi(optarg);
                        (void)fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
                        break;
                case 'h':
                        usage();
                        return 0;
                default:
                        usage();
                        report_ready(EINVAL, "ghostbox-monitor: bad arguments (a mismatched ghostbox binary?)");
                        return 125;
                }
        }
        if (optind + 1 != argc || !m.data_root || !m.exec_root || !m.cli) {
                usage();
                report_ready(EINVAL, "ghostbox-monitor: bad arguments");
                return 125;
        }
        m.id = argv[optind];
        m.argv = argv;

        /* The container's exit reaches us as SIGCHLD through a signalfd;
         * terminal signals must not kill the monitor (the container is
         * stopped through its own pid, never through us). */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        (void)sigprocmask(SIG_BLOCK, &mask, NULL);
        (void)signal(SIGINT, SIG_IGN);
        (void)signal(SIGHUP, SIG_IGN);
        (void)signal(SIGTERM, SIG_IGN);
        (void)signal(SIGPIPE, SIG_IGN);
        m.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        /* Orphaned processes of a --pid=host container come back to us. */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);

        if (gb_container_lookup(m.data_root, m.id, false, &m.c, &err) < 0) {
                report_ready(err.code, err.msg);
                return 125;
        }
        m.state_dir = gb_monitor_state_dir(m.exec_root, m.c->id);
        m.fifo_path = gb_xasprintf("%s/exec.fifo", m.state_dir);
        m.sock_path = gb_xasprintf("%s/attach.sock", m.state_dir);

        if (create_container(&m, &err) < 0) {
                (void)unlink(m.sock_path);
                (void)unlink(m.fifo_path);
                (void)rmdir(m.state_dir);
                report_ready(err.code, err.msg);
                return 125;
        }
        gb_crash_point("monitor:before-ready");
        report_ready(0, NULL);
        run_loop(&m);
        gb_log_close(&m.log);

        if (m.auto_remove && m.exited)
                auto_remove(&m);
        return m.exited ? m.exit_code : 125;
}
