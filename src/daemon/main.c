/* ghostboxd: dockerd's flags, the listening sockets (or systemd's), and the
 * accept loop that forks one handler per connection (see daemon.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "util.h"
#include "verbs.h"

struct gb_engine gbd_engine;

#define MAX_LISTEN 8

/* cli-engine.c (shared with the CLI) reports through this. */
void cli_errorf(const char *fmt, ...)
{
        va_list ap;

        fputs("ghostboxd: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void cli_warn_handler(const char *msg, void *userdata)
{
        (void)userdata;
        fprintf(stderr, "ghostboxd: warning: %s\n", msg);
}

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
        (void)sig;
        got_term = 1;
}

static volatile sig_atomic_t got_hup;

static void on_hup(int sig)
{
        (void)sig;
        got_hup = 1;
}

static bool str_differs(const char *a, const char *b)
{
        return strcmp(a ? a : "", b ? b : "") != 0;
}

/* SIGHUP, as dockerd: re-read daemon.json and apply the keys that can
 * change under a running daemon (debug, log-level, labels). Handlers are
 * forked per connection, so new connections see the new values. A file
 * that does not load changes nothing. Keys that need a restart (the
 * roots, the remapping, the sockets) are named, not half-applied: a new
 * data-root under running containers would hide them. */
static void reload(const struct gb_config_overrides *ov, bool debug_flag)
{
        struct gb_config nc = {0};
        struct gb_config *oc = &gbd_engine.cfg;
        struct gb_error err = {0};

        if (gb_config_load(ov, &nc, &err) < 0) {
                fprintf(stderr, "ghostboxd: SIGHUP: the configuration was not reloaded: %s\n", err.msg);
                return;
        }
        if (str_differs(nc.data_root, oc->data_root) || str_differs(nc.exec_root, oc->exec_root) ||
            str_differs(nc.userns_remap, oc->userns_remap) || str_differs(nc.group, oc->group) ||
            str_differs(nc.storage_driver, oc->storage_driver) || nc.storage_shift != oc->storage_shift ||
            gb_strv_len(nc.hosts) != gb_strv_len(oc->hosts))
                fprintf(stderr,
                        "ghostboxd: warning: SIGHUP: '%s' changes keys that need a restart (data-root, exec-root, "
                        "userns-remap, group, hosts, storage-*): restart ghostboxd to apply them\n",
                        nc.path ? nc.path : "");
        oc->debug = nc.debug || debug_flag;
        free(oc->log_level);
        oc->log_level = TAKE_PTR(nc.log_level);
        gb_strv_free(oc->labels);
        oc->labels = TAKE_PTR(nc.labels);
        fprintf(stderr, "ghostboxd: reloaded '%s': debug=%s log-level=%s labels=%zu\n", nc.path ? nc.path : "",
                oc->debug ? "true" : "false", oc->log_level ? oc->log_level : "info", gb_strv_len(oc->labels));
        gb_config_done(&nc);
}

static void on_chld(int sig)
{
        (void)sig;
}

/* The ghostbox CLI next to us (build tree: ../cli/ghostbox): the engine
 * finds the monitor from it and the monitor runs its `rm` for AutoRemove. */
static char *find_cli(void)
{
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash, *p;

        if (n < 0)
                return NULL;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (!slash)
                return NULL;
        *slash = '\0';
        p = gb_xasprintf("%s/ghostbox", self);
        if (access(p, X_OK) == 0)
                return p;
        free(p);
        p = gb_xasprintf("%s/../cli/ghostbox", self);
        if (access(p, X_OK) == 0) {
                char *real = realpath(p, NULL);
                free(p);
                return real;
        }
        free(p);
        return NULL;
}

/* Listen on unix://PATH: mode 0660, root:group (the socket is root's
 * engine: whoever can write to it can run containers). */
static int listen_unix(const char *path, const char *group, struct gb_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -EBADF;
        gid_t gid = 0;
        mode_t old;

        if (strlen(path) >= sizeof(sa.sun_path))
                return gb_error_set(err, ENAMETOOLONG, "Failed to listen on '%s': path too long", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        {
                _cleanup_free_ char *dir = gb_xstrdup(path);
                char *s = strrchr(dir, '/');
                if (s && s != dir) {
                        *s = '\0';
                        (void)gb_mkdir_p(dir, 0755);
                }
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create a socket");
        (void)unlink(path);
        /* Bind with a umask that leaves the socket unreachable until the
         * chown/chmod below: no window where it is world-writable. */
        old = umask(0177);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                umask(old);
                return gb_error_sys(err, e, "Failed to bind '%s'", path);
        }
        umask(old);
        {
                const char *g = group ? group : "ghostbox";
                struct group *gr = getgrnam(g);
                if (gr)
                        gid = gr->gr_gid;
                else if (group && *group)
                        return gb_error_set(err, ENOENT,
                                            "Failed to set the group of '%s': group '%s' does not exist (create "
                                            "it with `groupadd %s`, or set daemon.json \"group\")",
                                            path, g, g);
                else
                        fprintf(stderr,
                                "ghostboxd: warning: group 'ghostbox' does not exist; '%s' is root's only "
                                "(groupadd ghostbox to let its members use the API)\n",
                                path);
        }
        if (chown(path, 0, gid) < 0 || chmod(path, 0660) < 0)
                return gb_error_sys(err, errno, "Failed to set the owner and mode of '%s'", path);
        if (listen(fd, 128) < 0)
                return gb_error_sys(err, errno, "Failed to listen on '%s'", path);
        return TAKE_FD(fd);
}

/* systemd socket activation: LISTEN_PID is us, LISTEN_FDS sockets from 3. */
static int inherited_fds(int *fds, int max)
{
        const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
        uint32_t p, n;

        if (!pid || !nfds || gb_parse_u32(pid, &p) < 0 || gb_parse_u32(nfds, &n) < 0 || (pid_t)p != getpid())
                return 0;
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        for (uint32_t i = 0; i < n && (int)i < max; i++) {
                fds[i] = 3 + (int)i;
                (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        }
        return (int)(n < (uint32_t)max ? n : (uint32_t)max);
}

/* Exit codes kept for `wait` (containers.c) that nobody collected: drop
 * them after a minute. */
static void expire_exit_codes(void)
{
        _cleanup_free_ char *dir = gb_xasprintf("%s/api-exit", gbd_engine.cfg.exec_root);
        _cleanup_(gb_closedirp) DIR *d = opendir(dir);
        struct dirent *de;
        struct stat st;
        time_t now = time(NULL);

        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    now - st.st_mtime > 60)
                        (void)unlinkat(dirfd(d), de->d_name, 0);
}

static void usage(FILE *f)
{
        fputs("Usage: ghostboxd [OPTIONS]\n\n"
              "Serve the Docker Engine API for ghostbox (every container remapped).\n\n"
              "Options (dockerd's):\n"
              "  -H, --host unix://PATH   socket to listen on (repeatable; default: daemon.json \"hosts\",\n"
              "                           else unix:///run/ghostbox.sock; fd:// for systemd's)\n"
              "      --config-file FILE   daemon.json (default /etc/ghostbox/daemon.json)\n"
              "      --data-root DIR      default /var/lib/ghostbox\n"
              "      --exec-root DIR      default /run/ghostbox\n"
              "      --userns-remap SPEC  default, USER[:GROUP], or \"\" for none\n"
              "  -G, --group GROUP        group owning the socket (default ghostbox)\n"
              "  -p, --pidfile FILE       write our pid here\n",
              f);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"host", required_argument, NULL, 'H'},
                {"config-file", required_argument, NULL, 'c'},
                {"data-root", required_argument, NULL, 'd'},
                {"exec-root", required_argument, NULL, 'e'},
                {"userns-remap", required_argument, NULL, 'u'},
                {"group", required_argument, NULL, 'G'},
                {"pidfile", required_argument, NULL, 'p'},
                {"debug", no_argument, NULL, 'D'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct gb_config_overrides ov = {0};
        struct gb_error err = {0};
        const char *hosts[MAX_LISTEN], *group = NULL, *pidfile = NULL;
        int n_hosts = 0, fds[MAX_LISTEN], n_fds = 0, ch;
        bool debug_flag = false;
        _cleanup_free_ char *cli = NULL;

        gb_ensure_std_fds();
        while ((ch = getopt_long(argc, argv, "H:G:p:Dh", opts, NULL)) != -1) {
                switch (ch) {
                case 'H':
                        if (n_hosts < MAX_LISTEN)
                                hosts[n_hosts++] = optarg;
                        break;
                case 'c':
                        ov.path = optarg;
                        break;
                case 'd':
                        ov.data_root = optarg;
                        break;
                case 'e':
                        ov.exec_root = optarg;
                        break;
                case 'u':
                        ov.userns_remap = optarg;
                        break;
                case 'G':
                        group = optarg;
                        break;
                case 'p':
                        pidfile = optarg;
                        break;
                case 'D':
                        debug_flag = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 1;
                }
        }
        if (!ov.path)
                ov.path = getenv("GHOSTBOX_CONFIG");
        cli = find_cli();
        if (!cli) {
                fprintf(stderr, "ghostboxd: Failed to find the ghostbox CLI next to ghostboxd (it runs the monitor "
                                "and --rm)\n");
                return 1;
        }
        gb_set_warn_handler(cli_warn_handler, NULL);
        if (gb_engine_open(&ov, cli, &gbd_engine, &err) < 0) {
                fprintf(stderr, "ghostboxd: %s\n", err.msg);
                return 1;
        }
        if (debug_flag)
                gbd_engine.cfg.debug = true;
        if (!group)
                group = gbd_engine.cfg.group;
        if (n_hosts == 0)
                for (char **h = gbd_engine.cfg.hosts; *h && n_hosts < MAX_LISTEN; h++)
                        hosts[n_hosts++] = *h;
        n_fds = inherited_fds(fds, MAX_LISTEN);
        for (int i = 0; i < n_hosts; i++) {
                if (strncmp(hosts[i], "fd://", 5) == 0)
                        continue; /* the inherited ones */
                if (strncmp(hosts[i], "unix://", 7) != 0) {
                        fprintf(stderr,
                                "ghostboxd: Failed to listen on '%s': only unix:// sockets are served (TCP "
                                "would expose a root engine without TLS)\n",
                                hosts[i]);
                        return 1;
                }
                if (n_fds >= MAX_LISTEN)
                        break;
                int fd = listen_unix(hosts[i] + 7, group, &err);
                if (fd < 0) {
                        fprintf(stderr, "ghostboxd: %s\n", err.msg);
                        return 1;
                }
                fds[n_fds++] = fd;
        }
        if (n_fds == 0) {
                fprintf(stderr, "ghostboxd: no socket to listen on (fd:// given without systemd's LISTEN_FDS)\n");
                return 1;
        }
        if (pidfile) {
                _cleanup_free_ char *s = gb_xasprintf("%d\n", (int)getpid());
                if (gb_write_file_atomic(pidfile, s, strlen(s), 0644) < 0) {
                        fprintf(stderr, "ghostboxd: Failed to write '%s': %s\n", pidfile, strerror(errno));
                        return 1;
                }
        }
        {
                struct sigaction sa = {.sa_handler = on_term};
                sigaction(SIGTERM, &sa, NULL);
                sigaction(SIGINT, &sa, NULL);
                sa.sa_handler = on_chld;
                sigaction(SIGCHLD, &sa, NULL);
                sa.sa_handler = on_hup;
                sigaction(SIGHUP, &sa, NULL);
                signal(SIGPIPE, SIG_IGN);
        }
        fprintf(stderr, "ghostboxd: API listening on %d socket(s); data-root '%s', remapping %s\n", n_fds,
                gbd_engine.cfg.data_root,
                gbd_engine.cfg.userns_remap && *gbd_engine.cfg.userns_remap ? gbd_engine.cfg.userns_remap : "off");
        time_t last_expire = time(NULL);
        while (!got_term) {
                struct pollfd p[MAX_LISTEN];
                for (int i = 0; i < n_fds; i++)
                        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                if (got_hup) {
                        got_hup = 0;
                        reload(&ov, debug_flag);
                }
                if (time(NULL) - last_expire > 60) {
                        expire_exit_codes();
                        last_expire = time(NULL);
                }
                if (poll(p, (nfds_t)n_fds, 1000) <= 0)
                        continue;
                for (int i = 0; i < n_fds; i++) {
                        if (!(p[i].revents & POLLIN))
                                continue;
                        int cfd = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
                        if (cfd < 0)
                                continue;
                        pid_t pid = fork();
                        if (pid == 0) {
                                signal(SIGTERM, SIG_DFL);
                                signal(SIGINT, SIG_DFL);
                                signal(SIGCHLD, SIG_DFL);
                                signal(SIGHUP, SIG_DFL);
                                for (int k = 0; k < n_fds; k++)
                                        close(fds[k]);
                                gbd_serve(cfd);
                                _exit(0);
                        }
                        if (pid < 0)
                                fprintf(stderr, "ghostboxd: Failed to fork a handler: %s\n", strerror(errno));
                        close(cfd);
                }
        }
        /* Handlers finish their requests; monitors and containers are not
         * ours to stop. Sockets we bound go away. */
        for (int i = 0; i < n_hosts; i++)
                if (strncmp(hosts[i], "unix://", 7) == 0)
                        (void)unlink(hosts[i] + 7);
        if (pidfile)
                (void)unlink(pidfile);
        gb_engine_close(&gbd_engine);
        return 0;
}
