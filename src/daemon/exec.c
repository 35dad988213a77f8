/* /containers/{id}/exec, /exec/{id}/start, /exec/{id}/json.
 *
 * An exec instance is a small JSON file under <exec-root>/api-exec/ (the
 * daemon keeps no state in memory: handlers are per-connection processes).
 * start runs `ghostbox exec` -- the CLI's path into a running container,
 * with its CVE-2019-5736 sealing -- as our child with its stdio on pipes
 * (stdout and stderr framed apart) or, with Tty, on a socket that the CLI
 * proxies to the process's pty. Its exit code is recorded before the
 * stream closes, so the client's following /exec/{id}/json sees it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "logfile.h"
#include "util.h"

static char *exec_path(const char *id)
{
        return gb_xasprintf("%s/api-exec/%s.json", gbd_engine.cfg.exec_root, id);
}

static bool valid_exec_id(const char *id)
{
        size_t n = strlen(id);
        if (n != GB_CONTAINER_ID_LEN)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789abcdef", id[i]))
                        return false;
        return true;
}

static json_t *load_exec(const char *id)
{
        _cleanup_free_ char *p = NULL;

        if (!valid_exec_id(id))
                return NULL;
        p = exec_path(id);
        return json_load_file(p, 0, NULL);
}

static int save_exec(json_t *doc)
{
        _cleanup_free_ char *p = exec_path(json_string_value(json_object_get(doc, "ID")));
        _cleanup_free_ char *s = json_dumps(doc, JSON_COMPACT);
        _cleanup_free_ char *dir = gb_xasprintf("%s/api-exec", gbd_engine.cfg.exec_root);

        (void)gb_mkdir_p(dir, 0700);
        return s ? gb_write_file_atomic(p, s, strlen(s), 0600) : -ENOMEM;
}

void h_exec_create(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        json_auto_t *body = NULL;
        struct gb_error err = {0};
        char id[GB_CONTAINER_ID_LEN + 1];
        json_t *cmd, *x, *doc;
        size_t i;
        int r;

        if (conn_body_json(c, &body) < 0)
                return;
        cmd = json_object_get(body, "Cmd");
        if (!json_is_object(body) || !json_is_array(cmd) || json_array_size(cmd) == 0) {
                conn_error(c, 400, "field Cmd is required (a non-empty array of strings)");
                return;
        }
        json_array_foreach (cmd, i, x)
                if (!json_is_string(x)) {
                        conn_error(c, 400, "field Cmd must be an array of strings");
                        return;
                }
        for (const char *const *k = (const char *const[]){"User", "WorkingDir", NULL}; *k; k++) {
                x = json_object_get(body, *k);
                if (x && !json_is_null(x) && !json_is_string(x)) {
                        conn_error(c, 400, "field %s must be a string", *k);
                        return;
                }
        }
        x = json_object_get(body, "Env");
        if (x && !json_is_null(x)) {
                json_t *e;
                if (!json_is_array(x)) {
                        conn_error(c, 400, "field Env must be an array of strings");
                        return;
                }
                json_array_foreach (x, i, e)
                        if (!json_is_string(e) || !strchr(json_string_value(e), '=')) {
                                conn_error(c, 400, "field Env[%zu] must be a KEY=VALUE string", i);
                                return;
                        }
        }
        r = gb_container_lookup(gbd_engine.cfg.data_root, caps[0], false, &ct, &err);
        if (r < 0) {
                conn_error(c, r == -ENOENT ? 404 : 500, "%s", r == -ENOENT ? "No such container" : err.msg);
                return;
        }
        (void)gb_engine_refresh(&gbd_engine, ct, NULL);
        if (strcmp(gb_container_status(ct), "running") != 0) {
                conn_error(c, 409, "Container %s is not running", ct->id);
                return;
        }
        r = gb_container_new_id(id, &err);
        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        doc = json_pack("{s:s, s:s, s:b, s:b, s:I, s:n, s:{s:b, s:s, s:O, s:s, s:s}, s:b, s:b, s:b, s:b, s:O, s:I}",
                        "ID", id, "ContainerID", ct->id, "Running", false, "OpenStdin",
                        json_is_true(json_object_get(body, "AttachStdin")), "ExitCode", (json_int_t)0, "ExitCodeSet",
                        "ProcessConfig", "tty", json_is_true(json_object_get(body, "Tty")), "entrypoint",
                        json_string_value(json_array_get(cmd, 0)), "arguments", cmd, "user",
                        json_string_value(json_object_get(body, "User")) ?: "", "workdir",
                        json_string_value(json_object_get(body, "WorkingDir")) ?: "", "AttachStdin",
                        json_is_true(json_object_get(body, "AttachStdin")), "AttachStdout",
                        json_is_true(json_object_get(body, "AttachStdout")), "AttachStderr",
                        json_is_true(json_object_get(body, "AttachStderr")), "Tty",
                        json_is_true(json_object_get(body, "Tty")), "Env",
                        json_is_array(json_object_get(body, "Env")) ? json_object_get(body, "Env") : json_array(),
                        "Pid", (json_int_t)0);
        json_object_del(doc, "ExitCodeSet");
        /* API 1.42+: the client's terminal size, for the pty's first size. */
        x = json_object_get(body, "ConsoleSize");
        if (json_is_array(x) && json_array_size(x) == 2 && json_is_integer(json_array_get(x, 0)) &&
            json_is_integer(json_array_get(x, 1)))
                json_object_set(doc, "ConsoleSize", x);
        json_object_set_new(doc, "ExitCode", json_null());
        if (save_exec(doc) < 0) {
                json_decref(doc);
                conn_error(c, 500, "Failed to record the exec instance: %s", strerror(errno));
                return;
        }
        json_decref(doc);
        conn_json(c, 201, json_pack("{s:s}", "Id", id));
}

void h_exec_inspect(struct conn *c, char **caps)
{
        json_t *doc = load_exec(caps[0]);

        if (!doc) {
                conn_error(c, 404, "No such exec instance: %s", caps[0]);
                return;
        }
        conn_json(c, 200, doc);
}

/* The FIFO through which resizes reach the `ghostbox exec` child (which
 * holds the pty master): <exec-root>/api-exec/<id>.winsize. A FIFO, not a
 * socket: resizes come on other connections (other handler processes),
 * and a writer needs no one to accept it; records of 4 bytes are below
 * PIPE_BUF, so concurrent writers never interleave. */
static char *winsize_path(const char *id)
{
        return gb_xasprintf("%s/api-exec/%s.winsize", gbd_engine.cfg.exec_root, id);
}

static int winsize_record(uint8_t rec[4], json_int_t rows, json_int_t cols)
{
        if (rows < 0 || cols < 0 || rows > 65535 || cols > 65535)
                return -EINVAL;
        rec[0] = (uint8_t)(rows >> 8);
        rec[1] = (uint8_t)rows;
        rec[2] = (uint8_t)(cols >> 8);
        rec[3] = (uint8_t)cols;
        return 0;
}

void h_exec_resize(struct conn *c, char **caps)
{
        json_auto_t *doc = load_exec(caps[0]);
        _cleanup_free_ char *h = q_get(c, "h"), *w = q_get(c, "w"), *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint32_t rows, cols;
        uint8_t rec[4];

        if (!doc) {
                conn_error(c, 404, "No such exec instance: %s", caps[0]);
                return;
        }
        if (!h || !w || gb_parse_u32(h, &rows) < 0 || gb_parse_u32(w, &cols) < 0 ||
            winsize_record(rec, rows, cols) < 0) {
                conn_error(c, 400, "resize needs h and w (0..65535)");
                return;
        }
        if (!json_is_true(json_object_get(doc, "Tty"))) {
                conn_error(c, 400, "exec %s has no tty to resize", caps[0]);
                return;
        }
        if (json_is_null(json_object_get(doc, "ExitCode")) && !json_is_true(json_object_get(doc, "Running"))) {
                conn_error(c, 409, "exec %s is not running", caps[0]);
                return;
        }
        path = winsize_path(caps[0]);
        /* O_NONBLOCK: no reader (the process just ended) is ENXIO, not a
         * hang. A finished exec has nothing to resize: the client's last
         * resize often races the end, and Docker's CLI would warn. */
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && (errno == ENOENT || errno == ENXIO)) {
                conn_respond(c, 200, "text/plain", NULL, 0);
                return;
        }
        if (fd < 0 || write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
                conn_error(c, 500, "Failed to resize exec %s through '%s': %s", caps[0], path, strerror(errno));
                return;
        }
        conn_respond(c, 200, "text/plain", NULL, 0);
}

/* argv for `ghostbox exec` with this daemon's configuration. */
static char **exec_argv(json_t *doc, bool detach)
{
        struct gb_engine *e = &gbd_engine;
        json_t *pc = json_object_get(doc, "ProcessConfig"), *x;
        const char *user = json_string_value(json_object_get(pc, "user"));
        const char *wd = json_string_value(json_object_get(pc, "workdir"));
        char **v = NULL;
        size_t n = 0, i;

#define ADD(s)                                                \
        do {                                                  \
                v = gb_xrealloc(v, (n + 2) * sizeof(char *)); \
                v[n++] = gb_xstrdup(s);                       \
                v[n] = NULL;                                  \
        } while (0)
        ADD(e->cli_path);
        if (e->cfg.path) {
                ADD("--config");
                ADD(e->cfg.path);
        }
        ADD("--data-root");
        ADD(e->cfg.data_root);
        ADD("--exec-root");
        ADD(e->cfg.exec_root);
        ADD("--userns-remap");
        ADD(e->cfg.userns_remap ? e->cfg.userns_remap : "");
        ADD("exec");
        if (json_is_true(json_object_get(doc, "OpenStdin")) && !detach)
                ADD("-i");
        if (json_is_true(json_object_get(doc, "Tty")))
                ADD("-t");
        if (user && *user) {
                ADD("-u");
                ADD(user);
        }
        if (wd && *wd) {
                ADD("-w");
                ADD(wd);
        }
        json_array_foreach (json_object_get(doc, "Env"), i, x) {
                ADD("-e");
                ADD(json_string_value(x));
        }
        ADD(json_string_value(json_object_get(doc, "ContainerID")));
        json_array_foreach (json_object_get(pc, "arguments"), i, x)
                ADD(json_string_value(x));
#undef ADD
        return v;
}

static void record_exit(json_t *doc, int status)
{
        json_object_set_new(doc, "Running", json_false());
        json_object_set_new(doc, "ExitCode",
                            json_integer(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)));
        (void)save_exec(doc);
}

/* Frame what fd gives as stream s to the client; false at EOF. */
static bool forward(int from, int to, bool frame, enum gb_stream s)
{
        char buf[32768];
        ssize_t n = read(from, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
                return true;
        if (n <= 0)
                return false;
        if (frame)
                (void)gb_stdcopy_write(to, s, buf, (size_t)n);
        else
                (void)gb_write_all(to, buf, (size_t)n);
        return true;
}

void h_exec_start(struct conn *c, char **caps)
{
        json_auto_t *body = NULL, *doc = NULL;
        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *wpath = NULL;
        _cleanup_close_ int wfd = -EBADF;
        int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
        bool tty, detach, with_stdin;
        pid_t pid;
        int status = 0;
        char h[256];

        if (conn_body_json(c, &body) < 0)
                return;
        doc = load_exec(caps[0]);
        if (!doc) {
                conn_error(c, 404, "No such exec instance: %s", caps[0]);
                return;
        }
        if (json_is_true(json_object_get(doc, "Running")) || !json_is_null(json_object_get(doc, "ExitCode"))) {
                conn_error(c, 409, "exec %s has already been started", caps[0]);
                return;
        }
        tty = json_is_true(json_object_get(doc, "Tty"));
        detach = json_is_true(json_object_get(body, "Detach"));
        with_stdin = json_is_true(json_object_get(doc, "OpenStdin")) && !detach;
        argv = exec_argv(doc, detach);
        json_object_set_new(doc, "Running", json_true());
        (void)save_exec(doc);
        if (detach) {
                /* A grandchild runs it and records the exit; we answer now. */
                pid = fork();
                if (pid == 0) {
                        pid_t p = fork();
                        if (p == 0) {
                                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                                (void)dup2(nul, 0);
                                (void)dup2(nul, 1);
                                (void)dup2(nul, 2);
                                execv(argv[0], argv);
                                _exit(127);
                        }
                        if (p > 0) {
                                while (waitpid(p, &status, 0) < 0 && errno == EINTR)
                                        ;
                                record_exit(doc, status);
                        }
                        _exit(0);
                }
                if (pid > 0)
                        (void)waitpid(pid, NULL, WNOHANG);
                conn_respond(c, 200, "application/json", NULL, 0);
                return;
        }
        if (tty) {
                int sv[2];
                uint8_t rec[4];
                json_t *cs = json_object_get(doc, "ConsoleSize");
                /* The resize FIFO, opened read-write so that it stays
                 * open (no EOF) while writers come and go; the child
                 * gets it as GHOSTBOX_EXEC_WINSIZE_FD. */
                wpath = winsize_path(caps[0]);
                (void)unlink(wpath);
                if (mkfifo(wpath, 0600) == 0)
                        wfd = open(wpath, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
                if (wfd >= 0 && json_is_array(cs) &&
                    winsize_record(rec, json_integer_value(json_array_get(cs, 0)),
                                   json_integer_value(json_array_get(cs, 1))) == 0 &&
                    (rec[0] | rec[1]) && (rec[2] | rec[3]))
                        (void)gb_write_all(wfd, rec, sizeof(rec));
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                        conn_error(c, 500, "Failed to create a socket: %s", strerror(errno));
                        return;
                }
                in[0] = out[1] = errp[1] = sv[1];
                in[1] = out[0] = sv[0];
        } else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
                conn_error(c, 500, "Failed to create pipes: %s", strerror(errno));
                return;
        }
        pid = fork();
        if (pid < 0) {
                conn_error(c, 500, "Failed to fork: %s", strerror(errno));
                return;
        }
        if (pid == 0) {
                int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
                (void)dup2(with_stdin ? in[0] : nul, 0);
                (void)dup2(out[1], 1);
                (void)dup2(errp[1], 2);
                if (wfd >= 0) {
                        /* dup2 onto itself would keep O_CLOEXEC. */
                        if (wfd == 3)
                                (void)fcntl(3, F_SETFD, 0);
                        else
                                (void)dup2(wfd, 3);
                        (void)setenv("GHOSTBOX_EXEC_WINSIZE_FD", "3", 1);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        if (!tty) {
                close(out[1]);
                close(errp[1]);
        }
        (void)snprintf(h, sizeof(h),
                       "HTTP/1.1 %s\r\nContent-Type: application/vnd.docker.%s-stream\r\n%sApi-Version: %s\r\n\r\n",
                       c->req.upgrade ? "101 UPGRADED" : "200 OK", tty ? "raw" : "multiplexed",
                       c->req.upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n" : "", GB_API_VERSION);
        (void)gb_write_all(c->fd, h, strlen(h));
        c->sent = c->hijacked = true;
        if (c->len > 0 && with_stdin)
                (void)gb_write_all(in[1], c->buf, c->len);
        c->len = 0;
        {
                bool o_open = true, e_open = !tty, i_open = with_stdin;
                while (o_open || e_open) {
                        struct pollfd p[3] = {{.fd = o_open ? out[0] : -1, .events = POLLIN},
                                              {.fd = e_open ? errp[0] : -1, .events = POLLIN},
                                              {.fd = i_open ? c->fd : -1, .events = POLLIN}};
                        if (poll(p, 3, -1) < 0) {
                                if (errno == EINTR)
                                        continue;
                                break;
                        }
                        if (p[0].revents && !forward(out[0], c->fd, !tty, GB_STREAM_STDOUT))
                                o_open = false;
                        if (p[1].revents && !forward(errp[0], c->fd, true, GB_STREAM_STDERR))
                                e_open = false;
                        if (p[2].revents) {
                                char buf[16384];
                                ssize_t n = read(c->fd, buf, sizeof(buf));
                                if (n <= 0) {
                                        i_open = false;
                                        if (tty)
                                                (void)shutdown(in[1], SHUT_WR);
                                        else
                                                close(in[1]);
                                } else
                                        (void)gb_write_all(in[1], buf, (size_t)n);
                        }
                }
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (wpath)
                (void)unlink(wpath);
        record_exit(doc, status);
        (void)shutdown(c->fd, SHUT_WR);
        close(out[0]);
        if (!tty)
                close(errp[0]);
}
