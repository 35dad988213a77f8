/* ghostbox check: seeds/004's tests T1-T7, run against the live engine on
 * this host, plus its production checklist. Each row says what it proves,
 * what a remapped engine must show, what this host showed, and PASS/FAIL;
 * the exit status is 0 only when every row passes. Everything it makes
 * (containers, files, a socket) is removed at the end, also on failure and
 * on Ctrl-C, unless --keep. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "logfile.h"
#include "monitor.h"
#include "userns.h"
#include "util.h"

#define MAX_ROWS 24

struct row {
        const char *id, *what, *expected;
        char *observed;
        bool pass;
};

struct check {
        struct gb_engine *e;
        char *tmp, *rootfs;
        int seq;
        struct row rows[MAX_ROWS];
        size_t n;
        char **ids; /* containers made, to remove */
        size_t n_ids;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        (void)sig;
        interrupted = 1;
}

static void add_row(struct check *ck, const char *id, const char *what, const char *expected, bool pass, char *observed)
{
        if (ck->n == MAX_ROWS) {
                free(observed);
                return;
        }
        ck->rows[ck->n++] = (struct row){id, what, expected, observed, pass};
}

/* A throwaway root filesystem: the host's static busybox and a passwd. */
static int make_rootfs(struct check *ck)
{
        static const char *const applets[] = {"sh", "cat", "id", "sleep", "echo", "ls", "touch", "stat"};
        _cleanup_free_ char *bin = gb_xasprintf("%s/bin", ck->rootfs), *etc = gb_xasprintf("%s/etc", ck->rootfs);
        _cleanup_free_ char *bb = gb_xasprintf("%s/busybox", bin), *data = NULL;
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        char buf[65536];
        ssize_t n;

        if (gb_mkdir_p(bin, 0755) < 0 || gb_mkdir_p(etc, 0755) < 0)
                return -errno;
        in = open("/bin/busybox", O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -ENOENT;
        out = open(bb, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        if (out < 0)
                return -errno;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (gb_write_all(out, buf, (size_t)n) < 0)
                        return -EIO;
        for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
                _cleanup_free_ char *l = gb_xasprintf("%s/%s", bin, applets[i]);
                if (symlink("busybox", l) < 0)
                        return -errno;
        }
        data = gb_xasprintf("%s/passwd", etc);
        if (gb_write_file_atomic(data, "root:x:0:0:root:/root:/bin/sh\n", 31, 0644) < 0)
                return -EIO;
        free(data);
        data = gb_xasprintf("%s/group", etc);
        if (gb_write_file_atomic(data, "root:x:0:\n", 10, 0644) < 0)
                return -EIO;
        return 0;
}

static void set_cmd(struct gb_run_opts *o, const char *const *argv)
{
        size_t n = 0;
        while (argv[n])
                n++;
        o->cmd = gb_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                o->cmd[i] = gb_xstrdup(argv[i]);
}

static int create(struct check *ck, struct gb_run_opts *o, char id[GB_CONTAINER_ID_LEN + 1], struct gb_error *err)
{
        struct gb_create_src src = {.rootfs_dir = ck->rootfs};
        int r;

        o->name = gb_xasprintf("ghostbox-check-%d-%d", (int)getpid(), ++ck->seq);
        r = gb_engine_create(ck->e, o, &src, id, err);
        if (r >= 0) {
                ck->ids = gb_xrealloc(ck->ids, (ck->n_ids + 1) * sizeof(char *));
                ck->ids[ck->n_ids++] = gb_xstrdup(id);
        }
        return r;
}

/* Run to completion; stdout+stderr in *ret_out, exit code in *ret_code. */
static int run_capture(struct check *ck, struct gb_run_opts *o, char **ret_out, int *ret_code, struct gb_error *err)
{
        char id[GB_CONTAINER_ID_LEN + 1], buf[4096];
        _cleanup_close_ int afd = -EBADF;
        _cleanup_free_ char *out = gb_xstrdup("");
        size_t len = 0;
        uint8_t hdr[8];
        pid_t mon = 0;
        int r, status;

        r = create(ck, o, id, err);
        if (r < 0)
                return r;
        r = gb_engine_start(ck->e, id, GB_ATTACH_STDOUT | GB_ATTACH_STDERR, &afd, &mon, err);
        if (r < 0)
                return r;
        /* stdcopy frames: keep the payloads, both streams in order. */
        while (gb_read_all(afd, hdr, sizeof(hdr)) == 0) {
                enum gb_stream s;
                uint32_t n;
                if (gb_stdcopy_parse_header(hdr, &s, &n) < 0 || n > sizeof(buf) * 256)
                        break;
                while (n > 0) {
                        size_t take = n < sizeof(buf) ? n : sizeof(buf);
                        if (gb_read_all(afd, buf, take) < 0)
                                break;
                        out = gb_xrealloc(out, len + take + 1);
                        memcpy(out + len, buf, take);
                        len += take;
                        out[len] = '\0';
                        n -= (uint32_t)take;
                }
        }
        while (waitpid(mon, &status, 0) < 0 && errno == EINTR)
                ;
        *ret_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        while (len > 0 && out[len - 1] == '\n')
                out[--len] = '\0';
        *ret_out = TAKE_PTR(out);
        return 0;
}

static pid_t start_sleeper(struct check *ck, char id[GB_CONTAINER_ID_LEN + 1], struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        struct gb_run_opts o = {0};
        int r;

        set_cmd(&o, (const char *[]){"sleep", "600", NULL});
        r = create(ck, &o, id, err);
        gb_run_opts_clear(&o);
        if (r < 0 || gb_engine_start(ck->e, id, 0, NULL, NULL, err) < 0)
                return -1;
        if (gb_container_lookup(ck->e->cfg.data_root, id, false, &c, err) < 0)
                return -1;
        return (pid_t)json_integer_value(json_object_get(json_object_get(c->doc, "State"), "Pid"));
}

static char *read_small(const char *path)
{
        char *buf = NULL;
        if (gb_read_file_at(AT_FDCWD, path, 65536, &buf, NULL) < 0)
                return gb_xstrdup("(unreadable)");
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

static void t1(struct check *ck, uint32_t base)
{
        char id[GB_CONTAINER_ID_LEN + 1];
        struct gb_error err = {0};
        struct gb_run_opts o = {0};
        _cleanup_free_ char *inside = NULL, *status = NULL, *path = NULL;
        uint32_t host_uid = 0;
        int code = -1;
        pid_t pid;

        set_cmd(&o, (const char *[]){"id", "-u", NULL});
        if (run_capture(ck, &o, &inside, &code, &err) < 0)
                inside = gb_xasprintf("error: %s", err.msg);
        gb_run_opts_clear(&o);
        pid = start_sleeper(ck, id, &err);
        if (pid > 0) {
                path = gb_xasprintf("/proc/%d/status", (int)pid);
                if (gb_read_file_at(AT_FDCWD, path, 65536, &status, NULL) == 0) {
                        char *u = strstr(status, "\nUid:");
                        if (u)
                                (void)sscanf(u + 5, "%u", &host_uid);
                }
        }
        add_row(ck, "T1", "container root is not host root", "uid 0 inside, unprivileged host uid",
                strcmp(inside, "0") == 0 && pid > 0 && host_uid != 0 && (base == 0 || host_uid == base),
                gb_xasprintf("uid %s inside, host uid %u", inside, host_uid));
        (void)gb_engine_remove(ck->e, id, true, true, NULL);
}

static void t2(struct check *ck)
{
        _cleanup_free_ char *secret = gb_xasprintf("%s/host-secret.txt", ck->tmp), *out = NULL, *v = NULL;
        struct gb_run_opts o = {0};
        struct gb_mount_req m = {0};
        struct gb_error err = {0};
        int code = -1;

        if (gb_write_file_atomic(secret, "HOST SECRET: db_password=hunter2\n", 33, 0600) < 0 ||
            chown(secret, 0, 0) < 0) {
                add_row(ck, "T2", "cannot read host root files", "Permission denied", false,
                        gb_xstrdup("could not create the test file"));
                return;
        }
        v = gb_xasprintf("%s:/data/secret:ro", secret);
        if (gb_mountspec_parse_volume(v, &m, &err) == 0) {
                o.mounts = gb_xcalloc(1, sizeof(m));
                o.mounts[0] = m;
                o.n_mounts = 1;
        }
        set_cmd(&o, (const char *[]){"cat", "/data/secret", NULL});
        if (run_capture(ck, &o, &out, &code, &err) < 0)
                out = gb_xasprintf("error: %s", err.msg);
        gb_run_opts_clear(&o);
        add_row(ck, "T2", "cannot read host root files (mode 600, bind-mounted)", "Permission denied",
                code != 0 && !strstr(out, "hunter2"), gb_xasprintf("exit %d: %s", code, out));
}

static void t3(struct check *ck)
{
        _cleanup_free_ char *dir = gb_xasprintf("%s/host-dir", ck->tmp), *out = NULL, *v = NULL, *hack = NULL;
        struct gb_run_opts o = {0};
        struct gb_mount_req m = {0};
        struct gb_error err = {0};
        int code = -1;
        bool written;

        (void)mkdir(dir, 0755);
        v = gb_xasprintf("%s:/data", dir);
        if (gb_mountspec_parse_volume(v, &m, &err) == 0) {
                o.mounts = gb_xcalloc(1, sizeof(m));
                o.mounts[0] = m;
                o.n_mounts = 1;
        }
        set_cmd(&o, (const char *[]){"sh", "-c", "echo pwned > /data/hack.txt", NULL});
        if (run_capture(ck, &o, &out, &code, &err) < 0)
                out = gb_xasprintf("error: %s", err.msg);
        gb_run_opts_clear(&o);
        hack = gb_xasprintf("%s/hack.txt", dir);
        written = access(hack, F_OK) == 0;
        add_row(ck, "T3", "cannot write host root directories (0755, bind-mounted)",
                "Permission denied, nothing written", code != 0 && !written,
                gb_xasprintf("exit %d, %s: %s", code, written ? "hack.txt WRITTEN" : "nothing written", out));
}

static void t4(struct check *ck, uint32_t base)
{
        char id[GB_CONTAINER_ID_LEN + 1];
        struct gb_error err = {0};
        _cleanup_free_ char *um = NULL, *gm = NULL, *st = NULL, *p = NULL, *nspid = NULL;
        pid_t pid = start_sleeper(ck, id, &err);
        bool pass = false;

        if (pid > 0) {
                p = gb_xasprintf("/proc/%d/uid_map", (int)pid);
                um = read_small(p);
                free(p);
                p = gb_xasprintf("/proc/%d/gid_map", (int)pid);
                gm = read_small(p);
                free(p);
                p = gb_xasprintf("/proc/%d/status", (int)pid);
                if (gb_read_file_at(AT_FDCWD, p, 65536, &st, NULL) == 0) {
                        char *n = strstr(st, "NSpid:");
                        if (n)
                                nspid = strndup(n, strcspn(n, "\n"));
                }
                {
                        unsigned a = 1, b = 0, c = 0;
                        pass = sscanf(um, "%u %u %u", &a, &b, &c) == 3 && a == 0 && b != 0 &&
                               (base == 0 || b == base) && c <= 65536 * 1024U && nspid && strstr(nspid, "\t1");
                }
        }
        add_row(ck, "T4", "the kernel's uid_map/gid_map remap the container", "0 <base> 65536, NSpid ... 1", pass,
                gb_xasprintf("uid_map \"%s\", gid_map \"%s\", %s", um ? um : "?", gm ? gm : "?",
                             nspid ? nspid : "no NSpid"));
        (void)gb_engine_remove(ck->e, id, true, true, NULL);
}

static void t5(struct check *ck)
{
        _cleanup_free_ char *sock = gb_xasprintf("%s/engine.sock", ck->tmp), *out = NULL, *v1 = NULL, *v2 = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct gb_run_opts o = {0};
        struct gb_mount_req m = {0};
        struct gb_error err = {0};
        int code = -1;

        /* The engine's API socket where a daemon runs; here a stand-in
         * with the same protection: root-owned, mode 0660, listening. */
        if (strlen(sock) >= sizeof(sa.sun_path) || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
                add_row(ck, "T5", "the engine socket is inaccessible", "connect refused", false,
                        gb_xstrdup("could not create the test socket"));
                return;
        }
        memcpy(sa.sun_path, sock, strlen(sock) + 1);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sock, 0660) < 0 || chown(sock, 0, 0) < 0 ||
            listen(fd, 4) < 0 || access(ck->e->probe_path, X_OK) < 0) {
                add_row(ck, "T5", "the engine socket is inaccessible", "connect refused", false,
                        gb_xasprintf("could not set up the test (%s)", strerror(errno)));
                return;
        }
        o.mounts = gb_xcalloc(2, sizeof(m));
        v1 = gb_xasprintf("%s:/var/run/engine.sock", sock);
        v2 = gb_xasprintf("%s:/probe:ro", ck->e->probe_path);
        if (gb_mountspec_parse_volume(v1, &o.mounts[0], &err) == 0)
                o.n_mounts++;
        if (gb_mountspec_parse_volume(v2, &o.mounts[o.n_mounts], &err) == 0)
                o.n_mounts++;
        set_cmd(&o, (const char *[]){"/probe", "connect", "/var/run/engine.sock", NULL});
        if (run_capture(ck, &o, &out, &code, &err) < 0)
                out = gb_xasprintf("error: %s", err.msg);
        gb_run_opts_clear(&o);
        add_row(ck, "T5", "a root-owned 0660 engine socket mounted in cannot be used", "connect: Permission denied",
                code != 0 && !strstr(out, "connected"), gb_xasprintf("exit %d: %s", code, out));
}

static void t6(struct check *ck, uint32_t base, uint32_t gbase)
{
        _cleanup_free_ char *dir = gb_xasprintf("%s/container-write", ck->tmp), *out = NULL, *v = NULL, *f = NULL;
        struct gb_run_opts o = {0};
        struct gb_mount_req m = {0};
        struct gb_error err = {0};
        struct stat st = {0};
        int code = -1;
        bool found;

        (void)mkdir(dir, 0755);
        /* Pre-owned by the base UID, as seeds/004 does by hand. */
        if (chown(dir, base, gbase) < 0) {
                add_row(ck, "T6", "files created inside have remapped ownership", "owner base on the host", false,
                        gb_xasprintf("could not chown the test directory: %s", strerror(errno)));
                return;
        }
        v = gb_xasprintf("%s:/data", dir);
        if (gb_mountspec_parse_volume(v, &m, &err) == 0) {
                o.mounts = gb_xcalloc(1, sizeof(m));
                o.mounts[0] = m;
                o.n_mounts = 1;
        }
        set_cmd(&o, (const char *[]){
                            "sh", "-c",
                            "echo 'hello from container' > /data/testfile.txt && stat -c %u /data/testfile.txt", NULL});
        if (run_capture(ck, &o, &out, &code, &err) < 0)
                out = gb_xasprintf("error: %s", err.msg);
        gb_run_opts_clear(&o);
        f = gb_xasprintf("%s/testfile.txt", dir);
        found = stat(f, &st) == 0;
        add_row(ck, "T6", "files created inside have remapped ownership", "uid 0 inside, base uid on the host",
                code == 0 && found && strcmp(out, "0") == 0 && st.st_uid != 0 && st.st_uid == base,
                found ? gb_xasprintf("uid %s inside, host %u:%u", out, (unsigned)st.st_uid, (unsigned)st.st_gid)
                      : gb_xasprintf("exit %d: %s", code, out));
}

static void t7(struct check *ck)
{
        char id[GB_CONTAINER_ID_LEN + 1];
        struct gb_run_opts o = {0};
        struct gb_error err = {0};
        int r;

        o.privileged = true;
        set_cmd(&o, (const char *[]){"true", NULL});
        r = create(ck, &o, id, &err);
        gb_run_opts_clear(&o);
        add_row(ck, "T7", "--privileged cannot bypass remapping", "refused without --userns=host", r < 0,
                r < 0 ? gb_xstrdup("refused") : gb_xstrdup("a privileged container was created"));
}

static void checklist(struct check *ck)
{
        struct gb_remap *rm = &ck->e->remap;
        bool overlap = false;
        _cleanup_free_ char *area = NULL, *warn = gb_xstrdup("");
        struct stat st;
        struct gb_error err = {0};
        char *v;

        if (!rm->enabled) {
                add_row(ck, "C1", "remapping is enabled", "userns-remap set", false,
                        gb_xasprintf("off (%s)",
                                     ck->e->cfg.userns_remap_origin ? ck->e->cfg.userns_remap_origin : "?"));
                return;
        }
        for (char **w = rm->warnings; w && *w; w++)
                if (strstr(*w, "overlap")) {
                        char *n = gb_xasprintf("%s%s%s", warn, *warn ? "; " : "", *w);
                        free(warn);
                        warn = n;
                        overlap = true;
                }
        add_row(ck, "C1", "subuid/subgid ranges overlap nothing", "no overlap", !overlap,
                overlap ? gb_xstrdup(warn) : gb_xasprintf("%s's ranges are exclusive", rm->user));
        add_row(ck, "C2", "the range covers 65536 IDs", ">= 65536 contiguous",
                gb_idmap_contiguous(&rm->uids) >= 65536 && gb_idmap_contiguous(&rm->gids) >= 65536,
                gb_xasprintf("%llu UIDs, %llu GIDs", (unsigned long long)gb_idmap_contiguous(&rm->uids),
                             (unsigned long long)gb_idmap_contiguous(&rm->gids)));
        area = gb_xasprintf("%s/%u.%u", ck->e->cfg.data_root, rm->root_uid, rm->root_gid);
        if (stat(area, &st) == 0)
                add_row(ck, "C3", "the remap storage area is private to the remapped root", "0700, owner base",
                        (st.st_mode & 07777) == 0700 && st.st_uid == rm->root_uid && st.st_gid == rm->root_gid,
                        gb_xasprintf("%s %o %u:%u", area, st.st_mode & 07777, st.st_uid, st.st_gid));
        else
                add_row(ck, "C3", "the remap storage area is private to the remapped root", "0700, owner base", false,
                        gb_xasprintf("%s: %s", area, strerror(errno)));
        if (gb_read_file_at(AT_FDCWD, "/proc/sys/user/max_user_namespaces", 64, &v, NULL) == 0) {
                long n = strtol(v, NULL, 10);
                add_row(ck, "C4", "the kernel allows user namespaces", "max_user_namespaces > 0", n > 0,
                        gb_xasprintf("max_user_namespaces %ld", n));
                free(v);
        } else
                add_row(ck, "C4", "the kernel allows user namespaces", "max_user_namespaces > 0", false,
                        gb_xstrdup("/proc/sys/user/max_user_namespaces unreadable"));
        {
                int ok = gb_idmap_mounts_supported(ck->e->cfg.data_root, &err);
                add_row(ck, "C5", "the kernel and filesystem support idmapped mounts",
                        "supported (else layers are chowned copies)", ok == 1,
                        ok == 1 ? gb_xasprintf("supported on %s", ck->e->cfg.data_root) : gb_xstrdup(err.msg));
        }
        {
                struct passwd *pw = getpwnam(rm->user);
                const char *sh = pw ? pw->pw_shell : "(no such user)";
                bool nologin = pw && (strstr(sh, "nologin") || strstr(sh, "/false"));
                add_row(ck, "C6", "the remap user cannot log in", "shell nologin or false", nologin,
                        gb_xasprintf("%s: %s", rm->user, sh));
        }
}

static void print_table(struct check *ck)
{
        printf("%-4s %-56s %-36s %-6s %s\n", "TEST", "WHAT IT PROVES", "EXPECTED", "RESULT", "OBSERVED");
        for (size_t i = 0; i < ck->n; i++)
                printf("%-4s %-56s %-36s %-6s %s\n", ck->rows[i].id, ck->rows[i].what, ck->rows[i].expected,
                       ck->rows[i].pass ? "PASS" : "FAIL", ck->rows[i].observed);
}

static void print_json(struct check *ck)
{
        json_t *a = json_array();
        char *s;

        for (size_t i = 0; i < ck->n; i++)
                json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:b}", "Test", ck->rows[i].id, "Proves",
                                                   ck->rows[i].what, "Expected", ck->rows[i].expected, "Observed",
                                                   ck->rows[i].observed, "Pass", ck->rows[i].pass));
        s = json_dumps(a, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(a);
}

int cmd_check(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"keep", no_argument, NULL, 'k'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct gb_engine e = {0};
        struct check ck = {.e = &e};
        struct sigaction sa = {.sa_handler = on_signal};
        bool json = false, keep = false, all = true;
        char tmpl[] = "/tmp/ghostbox-check-XXXXXX";
        uint32_t base = 0, gbase = 0;
        int c;

        while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'k':
                        keep = true;
                        break;
                case 'h':
                        printf("Usage: ghostbox check [--json] [--keep]\n\nProve user namespace remapping on this "
                               "host: runs seeds T1-T7 (root is not host root, host files stay closed, the kernel's "
                               "maps, the engine socket, file ownership, no privileged bypass) with real containers, "
                               "and the production checklist. Exit 0 only when every row passes.\n"
                               "  --json  machine-readable rows\n  --keep  keep the test files (printed)\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (access("/bin/busybox", X_OK) < 0) {
                cli_errorf("ghostbox check runs its tests in a busybox container: install busybox-static");
                return EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (e.remap.enabled) {
                base = e.remap.root_uid;
                gbase = e.remap.root_gid;
        }
        /* Ctrl-C interrupts the running test; cleanup below still runs. */
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        if (!mkdtemp(tmpl)) {
                cli_errorf("Failed to create a temporary directory: %s", strerror(errno));
                gb_engine_close(&e);
                return EXIT_ENGINE;
        }
        (void)chmod(tmpl, 0755);
        ck.tmp = tmpl;
        ck.rootfs = gb_xasprintf("%s/rootfs", tmpl);
        if (make_rootfs(&ck) < 0) {
                cli_errorf("Failed to build the test root filesystem in '%s'", ck.rootfs);
        } else {
                t1(&ck, base);
                if (!interrupted)
                        t2(&ck);
                if (!interrupted)
                        t3(&ck);
                if (!interrupted)
                        t4(&ck, base);
                if (!interrupted)
                        t5(&ck);
                if (!interrupted)
                        t6(&ck, base, gbase);
                if (!interrupted)
                        t7(&ck);
                if (!interrupted)
                        checklist(&ck);
        }
        for (size_t i = 0; i < ck.n_ids; i++) {
                (void)gb_engine_remove(&e, ck.ids[i], true, true, NULL);
                free(ck.ids[i]);
        }
        free(ck.ids);
        if (json)
                print_json(&ck);
        else
                print_table(&ck);
        for (size_t i = 0; i < ck.n; i++) {
                all = all && ck.rows[i].pass;
                free(ck.rows[i].observed);
        }
        if (interrupted) {
                fprintf(stderr, "ghostbox check: interrupted\n");
                all = false;
        }
        if (keep)
                fprintf(stderr, "ghostbox check: test files kept in %s\n", tmpl);
        else
                (void)gb_rm_rf(tmpl);
        free(ck.rootfs);
        gb_engine_close(&e);
        return all && ck.n > 0 ? 0 : 1;
}
