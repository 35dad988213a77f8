#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "syscalls.h"
#include "util.h"

GB_EXPORT int gb_read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (cap - len < 4096) {
                        size_t ncap = cap ? cap * 2 : 8192;
                        if (ncap > max + 1)
                                ncap = max + 1;
                        if (ncap <= len)
                                return -EFBIG;
                        buf = gb_xrealloc(buf, ncap + 1);
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf)
                buf = gb_xmalloc(1);
        buf[len] = '\0';
        *ret_buf = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

GB_EXPORT int gb_write_all(int fd, const void *data, size_t len)
{
        const char *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

GB_EXPORT int gb_read_all(int fd, void *data, size_t len)
{
        char *p = data;

        while (len > 0) {
                ssize_t n = read(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int write_replace(const char *path, const void *data, size_t len, mode_t mode, bool sync);

GB_EXPORT int gb_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        return write_replace(path, data, len, mode, true);
}

GB_EXPORT int gb_write_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
        return write_replace(path, data, len, mode, false);
}

static int write_replace(const char *path, const void *data, size_t len, mode_t mode, bool sync)
{
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        char *slash;
        int r;

        tmp = gb_xasprintf("%s.tmp.%d", path, (int)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = gb_write_all(fd, data, len);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && sync && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        if (!sync)
                return 0;
        dir = gb_xstrdup(path);
        slash = strrchr(dir, '/');
        if (slash) {
                if (slash == dir)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        } else
                dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void)fsync(dfd);
        return 0;
}

GB_EXPORT int gb_mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = gb_xstrdup(path);
        size_t len = strlen(p);

        for (size_t i = 1; i <= len; i++) {
                if (p[i] == '/' || p[i] == '\0') {
                        char c = p[i];
                        p[i] = '\0';
                        if (mkdir(p, mode) < 0 && errno != EEXIST)
                                return -errno;
                        p[i] = c;
                }
        }
        return 0;
}

static int rm_rf_children(int dfd, dev_t dev)
{
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                (void)close(dfd);
                return r;
        }
        while ((de = readdir(d))) {
                struct stat st;

                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT && r == 0)
                                r = -errno;
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        int cfd;

                        /* Never descend into another filesystem: a mount left
                         * below us is a bug to report, not data to delete. */
                        if (st.st_dev != dev) {
                                if (r == 0)
                                        r = -EBUSY;
                                continue;
                        }
                        cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0) {
                                if (r == 0)
                                        r = -errno;
                                continue;
                        }
                        int q = rm_rf_children(cfd, dev);
                        if (q < 0 && r == 0)
                                r = q;
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                                r = -errno;
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0)
                        r = -errno;
        }
        return r;
}

GB_EXPORT int gb_rm_rf(const char *path)
{
        struct stat st;
        int fd, r;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = rm_rf_children(fd, st.st_dev);
        if (rmdir(path) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

GB_EXPORT int gb_parse_u64(const char *s, uint64_t *ret)
{
        uint64_t v = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        *ret = v;
        return 0;
}

GB_EXPORT int gb_parse_u32(const char *s, uint32_t *ret)
{
        uint64_t v;
        int r = gb_parse_u64(s, &v);

        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t)v;
        return 0;
}

GB_EXPORT bool gb_str_has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void oom(void)
{
        static const char m[] = "ghostbox: out of memory\n";
        (void)!write(STDERR_FILENO, m, sizeof(m) - 1);
        abort();
}

GB_EXPORT void *gb_xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

GB_EXPORT void *gb_xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

GB_EXPORT void *gb_xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

GB_EXPORT char *gb_xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

GB_EXPORT char *gb_xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (n < 0)
                oom();
        return p;
}

GB_EXPORT size_t gb_strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

GB_EXPORT void gb_close_from(int first)
{
        DIR *d;
        struct dirent *de;

        if (gb_close_range((unsigned)first, ~0U, 0) == 0)
                return;
        d = opendir("/proc/self/fd");
        if (!d) {
                for (int fd = first; fd < 65536; fd++)
                        (void)close(fd);
                return;
        }
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (fd >= first && fd != dirfd(d))
                        (void)close(fd);
        }
        closedir(d);
}

GB_EXPORT int gb_lock_file(const char *path, int *ret_fd)
{
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return -errno;
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

GB_EXPORT void gb_crash_point(const char *name)
{
        const char *at = getenv("GHOSTBOX_TEST_CRASH_AT");

        if (at && strcmp(at, name) == 0)
                (void)raise(SIGKILL);
}

GB_EXPORT void gb_ensure_std_fds(void)
{
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
                        /* The lowest free number: this very fd. Not
                         * O_CLOEXEC: it stands in for inherited stdio. */
                        int n = open("/dev/null", O_RDWR);
                        if (n >= 0 && n != fd)
                                close(n);
                }
}

static const struct {
        const char *name;
        int sig;
} signal_names[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
        {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
        {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

GB_EXPORT int gb_parse_signal(const char *s)
{
        uint32_t n;

        if (gb_parse_u32(s, &n) == 0)
                return n > 0 && n < 65 ? (int)n : -EINVAL;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ARRAY_SIZE(signal_names); i++)
                if (strcasecmp(s, signal_names[i].name) == 0)
                        return signal_names[i].sig;
        return -EINVAL;
}
