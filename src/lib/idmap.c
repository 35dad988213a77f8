/* The subordinate-ID half of the idmap module: /etc/subuid and /etc/subgid,
 * granting the `default` range, and resolving a userns-remap value into the
 * maps containers get. The map value type lives in idmap-map.c. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <dlfcn.h>
#include <shadow.h>
#include <shadow/subid.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "idmap.h"
#include "userns.h"
#include "util.h"

extern char **environ;

/* Subid files are tiny; anything this large is not one. */
#define SUBID_FILE_MAX (16u << 20)

static void strv_push(char ***v, char *s)
{
        size_t n = gb_strv_len(*v);

        *v = gb_xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

GB_EXPORT void gb_subid_paths_init(struct gb_subid_paths *p)
{
        const char *e;

        if (!p->subuid)
                p->subuid = (e = getenv("GHOSTBOX_SUBUID_FILE")) && *e ? e : GB_SUBUID_FILE;
        if (!p->subgid)
                p->subgid = (e = getenv("GHOSTBOX_SUBGID_FILE")) && *e ? e : GB_SUBGID_FILE;
        if (!p->passwd)
                p->passwd = (e = getenv("GHOSTBOX_PASSWD_FILE")) && *e ? e : GB_PASSWD_FILE;
        if (!p->group)
                p->group = (e = getenv("GHOSTBOX_GROUP_FILE")) && *e ? e : GB_GROUP_FILE;
}

GB_EXPORT void gb_subid_file_done(struct gb_subid_file *f)
{
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++)
                free(f->e[i].owner);
        free(f->e);
        free(f->path);
        *f = (struct gb_subid_file){0};
}

/* A field of a subid line as a number: digits only (shadow's getulong also
 * refuses signs and spaces), at most 2^32-1. */
static int parse_field_u32(const char *path, unsigned line, const char *what, const char *s, size_t len, uint32_t *ret,
                           struct gb_error *err)
{
        uint64_t v = 0;

        if (len == 0)
                return gb_error_set(err, EINVAL, "Failed to parse '%s' line %u: the %s field is empty", path, line,
                                    what);
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return gb_error_set(err, EINVAL,
                                            "Failed to parse '%s' line %u: the %s field '%.*s' is not a decimal number",
                                            path, line, what, (int)(len > 32 ? 32 : len), s);
                v = v * 10 + (uint64_t)(s[i] - '0');
                if (v > UINT32_MAX)
                        return gb_error_set(err, ERANGE,
                                            "Failed to parse '%s' line %u: the %s %.*s is larger than 4294967295", path,
                                            line, what, (int)(len > 32 ? 32 : len), s);
        }
        *ret = (uint32_t)v;
        return 0;
}

static int parse_line(const char *path, unsigned line, const char *s, size_t len, struct gb_subid_entry *ret,
                      struct gb_error *err)
{
        const char *f[3];
        size_t flen[3], nf = 0;
        const char *p = s, *end = s + len;
        uint32_t start = 0, count = 0;
        int r;

        for (;;) {
                const char *c = memchr(p, ':', (size_t)(end - p));
                const char *fe = c ? c : end;

                if (nf == 3)
                        return gb_error_set(
                                err, EINVAL,
                                "Failed to parse '%s' line %u: more than 3 fields (expected OWNER:START:COUNT)", path,
                                line);
                f[nf] = p;
                flen[nf++] = (size_t)(fe - p);
                if (!c)
                        break;
                p = c + 1;
        }
        if (nf < 3)
                return gb_error_set(err, EINVAL,
                                    "Failed to parse '%s' line %u: %zu field%s, expected OWNER:START:COUNT", path, line,
                                    nf, nf == 1 ? "" : "s");
        if (flen[0] == 0)
                return gb_error_set(err, EINVAL, "Failed to parse '%s' line %u: the owner field is empty", path, line);
        for (size_t i = 0; i < flen[0]; i++)
                if (f[0][i] == ' ' || f[0][i] == '\t')
                        return gb_error_set(err, EINVAL, "Failed to parse '%s' line %u: blank in owner '%.*s'", path,
                                            line, (int)(flen[0] > 64 ? 64 : flen[0]), f[0]);
        r = parse_field_u32(path, line, "start", f[1], flen[1], &start, err);
        if (r < 0)
                return r;
        r = parse_field_u32(path, line, "count", f[2], flen[2], &count, err);
        if (r < 0)
                return r;
        if (count == 0)
                return gb_error_set(err, EINVAL,
                                    "Failed to parse '%s' line %u: count is 0 (a range needs at least 1 ID)", path,
                                    line);
        /* The kernel refuses a map line whose first + count wraps 32 bits
         * (and ID 2^32-1 is (uid_t)-1, never a valid ID). */
        if ((uint64_t)start + count > UINT32_MAX)
                return gb_error_set(err, ERANGE,
                                    "Failed to parse '%s' line %u: start %u + count %u runs past 4294967295", path,
                                    line, start, count);
        ret->owner = gb_xasprintf("%.*s", (int)flen[0], f[0]);
        ret->start = start;
        ret->count = count;
        ret->line = line;
        return 0;
}

GB_EXPORT int gb_subid_parse(const char *path, const char *text, size_t len, struct gb_subid_file *ret,
                             struct gb_error *err)
{
        _cleanup_(gb_subid_file_done) struct gb_subid_file f = {0};
        const char *p = text, *end = text + len;
        unsigned line = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                const char *q = p;
                size_t n = (size_t)(le - p);
                int r;

                line++;
                if (memchr(p, '\0', n))
                        return gb_error_set(err, EINVAL, "Failed to parse '%s' line %u: NUL byte", path, line);
                if (memchr(p, '\r', n))
                        return gb_error_set(err, EINVAL,
                                            "Failed to parse '%s' line %u: carriage return (CRLF line end?); "
                                            "convert the file with 'sed -i s/\\\\r$//'",
                                            path, line);
                while (q < le && (*q == ' ' || *q == '\t'))
                        q++;
                if (q < le && *q != '#') {
                        struct gb_subid_entry e;

                        r = parse_line(path, line, p, n, &e, err);
                        if (r < 0)
                                return r;
                        f.e = gb_xrealloc(f.e, (f.n + 1) * sizeof(*f.e));
                        f.e[f.n++] = e;
                }
                p = nl ? nl + 1 : end;
        }
        f.path = gb_xstrdup(path);
        *ret = f;
        f = (struct gb_subid_file){0};
        return 0;
}

GB_EXPORT int gb_subid_load(const char *path, struct gb_subid_file *ret, struct gb_error *err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = gb_read_file_at(AT_FDCWD, path, SUBID_FILE_MAX, &buf, &len);
        if (r == -ENOENT)
                return gb_subid_parse(path, "", 0, ret, err);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s'", path);
        return gb_subid_parse(path, buf, len, ret, err);
}

/* ------------------------------------------------------------------------ */

/* Does a subid owner field name this user (by name or decimal ID)? */
static bool owner_is(const char *owner, const char *name, uint32_t id)
{
        char buf[16];

        if (name && strcmp(owner, name) == 0)
                return true;
        (void)snprintf(buf, sizeof(buf), "%u", id);
        return id != UINT32_MAX && strcmp(owner, buf) == 0;
}

static bool ranges_overlap(uint32_t a, uint32_t an, uint32_t b, uint32_t bn)
{
        return (uint64_t)a < (uint64_t)b + bn && (uint64_t)b < (uint64_t)a + an;
}

GB_EXPORT int gb_idmap_from_ranges(const struct gb_subid_entry *ranges, size_t n, const char *file, size_t max_lines,
                                   struct gb_idmap *ret, char ***warnings)
{
        struct gb_idmap m = {0};
        uint64_t next = 0;
        long ps = sysconf(_SC_PAGESIZE);
        size_t page = ps > 0 ? (size_t)ps : 4096, bytes = 0, line_len;
        char buf[64];

        if (max_lines == 0 || max_lines > GB_IDMAP_MAX)
                max_lines = GB_IDMAP_MAX;
        for (size_t i = 0; i < n; i++) {
                const struct gb_subid_entry *e = &ranges[i];
                bool dup = false;

                for (size_t j = 0; j < m.n; j++)
                        if (ranges_overlap(e->start, e->count, m.r[j].host_id, m.r[j].count))
                                dup = true;
                if (dup) {
                        if (warnings)
                                strv_push(warnings,
                                          gb_xasprintf("'%s' line %u (%s:%u:%u) overlaps an earlier range of the same "
                                                       "owner; it is left out of the map (the kernel refuses "
                                                       "overlapping lines)",
                                                       file, e->line, e->owner, e->start, e->count));
                        continue;
                }
                if (m.n >= max_lines) {
                        if (warnings)
                                strv_push(warnings,
                                          gb_xasprintf("'%s' line %u (%s:%u:%u) is left out of the map: this kernel "
                                                       "takes at most %zu map lines",
                                                       file, e->line, e->owner, e->start, e->count, max_lines));
                        continue;
                }
                /* The kernel takes one write() shorter than a page. */
                line_len = (size_t)snprintf(buf, sizeof(buf), "%" PRIu64 " %u %u\n", next, e->start, e->count);
                if (bytes + line_len >= page) {
                        if (warnings)
                                strv_push(warnings,
                                          gb_xasprintf("'%s' line %u (%s:%u:%u) is left out of the map: the kernel "
                                                       "takes a map of at most %zu bytes",
                                                       file, e->line, e->owner, e->start, e->count, page - 1));
                        continue;
                }
                if (next + e->count - 1 > UINT32_MAX - 1) {
                        if (warnings)
                                strv_push(warnings,
                                          gb_xasprintf("'%s' line %u (%s:%u:%u) is left out of the map: container "
                                                       "IDs would run past 4294967294",
                                                       file, e->line, e->owner, e->start, e->count));
                        continue;
                }
                (void)gb_idmap_add(&m, (uint32_t)next, e->start, e->count);
                next += e->count;
                bytes += line_len;
        }
        *ret = m;
        return 0;
}

/* ------------------------------------------------------------------------
 * Kernel map line limit */

static int probe_lines(size_t n)
{
        _cleanup_close_ int fd = -EBADF;
        struct gb_idmap m = {0};
        struct gb_error e = {0};

        /* Disjoint single-ID lines with short numbers: the kernel also
         * refuses a map write of PAGE_SIZE bytes or more, and 340 long lines
         * would hit that first. Only root may write more than one line; the
         * namespace lives only as long as the probe. */
        for (size_t i = 0; i < n; i++)
                (void)gb_idmap_add(&m, (uint32_t)i, (uint32_t)i, 1);
        return gb_userns_open(&m, &m, &fd, &e);
}

GB_EXPORT size_t gb_idmap_kernel_max_lines(void)
{
        static size_t cached;
        size_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);

        if (v)
                return v;
        /* Linux 4.15 raised the limit from 5 to 340 lines; the only way to
         * know without comparing versions is to try. When we cannot try (not
         * root, user namespaces disabled) answer the limit every kernel takes. */
        if (probe_lines(GB_IDMAP_MAX) == 0)
                v = GB_IDMAP_MAX;
        else
                v = 5;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
        return v;
}

/* ------------------------------------------------------------------------
 * Locking and writing subid files */

static bool is_real_etc(const struct gb_subid_paths *p)
{
        return strcmp(p->subuid, GB_SUBUID_FILE) == 0 && strcmp(p->subgid, GB_SUBGID_FILE) == 0;
}

static char *dir_of(const char *path)
{
        char *d = gb_xstrdup(path), *s = strrchr(d, '/');

        if (!s) {
                free(d);
                return gb_xstrdup(".");
        }
        if (s == d)
                s[1] = '\0';
        else
                *s = '\0';
        return d;
}

/* shadow's commonio lock: write our PID to "<file>.<pid>" and link() it to
 * "<file>.lock"; link fails with EEXIST while someone holds it. A lock whose
 * PID is gone is stale (its owner crashed) and removed. useradd and usermod
 * take exactly this lock, so holding it keeps them out while we append. */
static int shadow_lock(const char *path, char **ret_lock, struct gb_error *err)
{
        _cleanup_free_ char *tmp = gb_xasprintf("%s.%d", path, (int)getpid());
        _cleanup_free_ char *lock = gb_xasprintf("%s.lock", path);
        char pidbuf[32];
        int n = snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
        _cleanup_close_ int fd = -EBADF;

        (void)unlink(tmp);
        fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return gb_error_sys(err, errno, "Failed to create lock file '%s'", tmp);
        if (gb_write_all(fd, pidbuf, (size_t)n) < 0) {
                (void)unlink(tmp);
                return gb_error_sys(err, errno, "Failed to write lock file '%s'", tmp);
        }
        /* 10 s, like lckpwdf's 15 s: long enough for useradd to finish. */
        for (int tries = 0; tries < 1000; tries++) {
                _cleanup_free_ char *other = NULL;
                size_t len;
                long pid;
                char *endp;

                if (link(tmp, lock) == 0) {
                        (void)unlink(tmp);
                        *ret_lock = TAKE_PTR(lock);
                        return 0;
                }
                if (errno != EEXIST) {
                        int e = errno;
                        (void)unlink(tmp);
                        return gb_error_sys(err, e, "Failed to take lock '%s'", lock);
                }
                if (gb_read_file_at(AT_FDCWD, lock, 64, &other, &len) == 0) {
                        pid = strtol(other, &endp, 10);
                        if (endp != other && pid > 0 && pid != getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
                                (void)unlink(lock);
                                continue;
                        }
                }
                (void)nanosleep(&(struct timespec){0, 10L * 1000 * 1000}, NULL);
        }
        (void)unlink(tmp);
        return gb_error_set(err, EBUSY, "Failed to take lock '%s': held for more than 10 s (remove it if stale)", lock);
}

struct subid_locks {
        int dirfd[2];
        bool pwd;
        char *lock[2];
};

static void subid_unlock(struct subid_locks *l)
{
        for (int i = 1; i >= 0; i--) {
                if (l->lock[i]) {
                        (void)unlink(l->lock[i]);
                        free(l->lock[i]);
                        l->lock[i] = NULL;
                }
        }
        if (l->pwd) {
                (void)ulckpwdf();
                l->pwd = false;
        }
        for (int i = 1; i >= 0; i--) {
                gb_closep(&l->dirfd[i]);
                l->dirfd[i] = -EBADF;
        }
}

static int subid_lock(const struct gb_subid_paths *p, struct subid_locks *l, struct gb_error *err)
{
        const char *files[2] = {p->subuid, p->subgid};
        int r;

        *l = (struct subid_locks){.dirfd = {-EBADF, -EBADF}};
        /* ghostbox against ghostbox: an flock on the directory. Not on the
         * file itself: the atomic rename replaces its inode, and a waiter
         * holding the old inode's lock would run alongside a newcomer
         * locking the new one. The kernel drops it if we die. */
        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *d = dir_of(files[i]);

                if (i == 1 && l->dirfd[0] >= 0) {
                        _cleanup_free_ char *d0 = dir_of(files[0]);
                        if (strcmp(d, d0) == 0)
                                break;
                }
                l->dirfd[i] = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (l->dirfd[i] < 0) {
                        r = gb_error_sys(err, errno, "Failed to open directory '%s'", d);
                        subid_unlock(l);
                        return r;
                }
                while (flock(l->dirfd[i], LOCK_EX) < 0)
                        if (errno != EINTR) {
                                r = gb_error_sys(err, errno, "Failed to lock directory '%s'", d);
                                subid_unlock(l);
                                return r;
                        }
        }
        /* Against shadow's tools on the real files: they take lckpwdf()
         * first, then the link lock. Same order here, so no deadlock. */
        if (is_real_etc(p)) {
                if (lckpwdf() < 0) {
                        r = gb_error_sys(err, errno ? errno : EBUSY,
                                         "Failed to lock the password files (/etc/.pwd.lock); is useradd running?");
                        subid_unlock(l);
                        return r;
                }
                l->pwd = true;
        }
        for (int i = 0; i < 2; i++) {
                r = shadow_lock(files[i], &l->lock[i], err);
                if (r < 0) {
                        subid_unlock(l);
                        return r;
                }
        }
        return 0;
}

/* Collect every used interval [a, b) of host IDs: all subid lines of both
 * files and every user and group ID. */
struct interval {
        uint64_t a, b;
};

static int cmp_interval(const void *x, const void *y)
{
        const struct interval *a = x, *b = y;
        return a->a < b->a ? -1 : a->a > b->a;
}

static void add_interval(struct interval **v, size_t *n, uint64_t a, uint64_t b)
{
        *v = gb_xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = (struct interval){a, b};
}

static void add_passwd_ids(const char *path, bool groups, struct interval **v, size_t *n)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f)
                return;
        if (groups) {
                struct group *g;
                while ((g = fgetgrent(f)))
                        add_interval(v, n, g->gr_gid, (uint64_t)g->gr_gid + 1);
        } else {
                struct passwd *pw;
                while ((pw = fgetpwent(f)))
                        add_interval(v, n, pw->pw_uid, (uint64_t)pw->pw_uid + 1);
        }
}

/* First-fit: the lowest start >= GB_SUBID_ALLOC_MIN with count free IDs. */
static int find_free(struct interval *v, size_t n, uint32_t count, uint32_t *ret)
{
        uint64_t cand = GB_SUBID_ALLOC_MIN;

        if (n > 0)
                qsort(v, n, sizeof(*v), cmp_interval);
        for (size_t i = 0; i < n; i++) {
                if (v[i].b <= cand)
                        continue;
                if (v[i].a >= cand + count)
                        break;
                cand = v[i].b;
        }
        if (cand + count > GB_SUBID_ALLOC_MAX)
                return -ENOSPC;
        *ret = (uint32_t)cand;
        return 0;
}

static int append_line(const char *path, const char *line, struct gb_error *err)
{
        _cleanup_free_ char *buf = NULL, *out = NULL;
        size_t len = 0;
        struct stat st;
        mode_t mode = 0644;
        int r;

        r = gb_read_file_at(AT_FDCWD, path, SUBID_FILE_MAX, &buf, &len);
        if (r < 0 && r != -ENOENT)
                return gb_error_sys(err, -r, "Failed to read '%s'", path);
        if (stat(path, &st) == 0)
                mode = st.st_mode & 07777;
        else
                st.st_uid = (uid_t)-1, st.st_gid = (gid_t)-1;
        /* Keep every other byte as it was; only make sure the last line ends
         * before ours starts. */
        out = gb_xasprintf("%.*s%s%s", (int)len, buf ? buf : "", buf && len > 0 && buf[len - 1] != '\n' ? "\n" : "",
                           line);
        r = gb_write_file_atomic(path, out, strlen(out), mode);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", path);
        /* The new inode is ours; give it back to the old file's owner. */
        if ((st.st_uid != (uid_t)-1 && st.st_uid != geteuid()) || (st.st_gid != (gid_t)-1 && st.st_gid != getegid()))
                (void)!chown(path, st.st_uid, st.st_gid);
        return 0;
}

static bool find_owner_start(const struct gb_subid_file *f, const char *owner, uint32_t owner_id, uint32_t *ret)
{
        for (size_t i = 0; i < f->n; i++)
                if (owner_is(f->e[i].owner, owner, owner_id)) {
                        *ret = f->e[i].start;
                        return true;
                }
        return false;
}

GB_EXPORT int gb_subid_grant(const struct gb_subid_paths *paths, const char *owner, uint32_t owner_id, uint32_t count,
                             uint32_t *ret_uid_start, uint32_t *ret_gid_start, bool *ret_changed, struct gb_error *err)
{
        struct gb_subid_paths p = *paths;
        _cleanup_(subid_unlock) struct subid_locks locks = {.dirfd = {-EBADF, -EBADF}};
        _cleanup_(gb_subid_file_done) struct gb_subid_file fu = {0}, fg = {0};
        _cleanup_free_ struct interval *v = NULL;
        uint32_t su = 0, sg = 0, start;
        bool hu, hg;
        size_t n = 0;
        int r;

        gb_subid_paths_init(&p);
        /* Already granted (the common case): answer without locking, so that
         * a reader who may not write /etc needs no privilege. */
        if (gb_subid_load(p.subuid, &fu, NULL) == 0 && gb_subid_load(p.subgid, &fg, NULL) == 0 &&
            find_owner_start(&fu, owner, owner_id, &su) && find_owner_start(&fg, owner, owner_id, &sg)) {
                if (ret_uid_start)
                        *ret_uid_start = su;
                if (ret_gid_start)
                        *ret_gid_start = sg;
                if (ret_changed)
                        *ret_changed = false;
                return 0;
        }
        gb_subid_file_done(&fu);
        gb_subid_file_done(&fg);
        r = subid_lock(&p, &locks, err);
        if (r < 0)
                return r;
        /* Read only after locking: what an earlier holder wrote counts. */
        r = gb_subid_load(p.subuid, &fu, err);
        if (r < 0)
                return r;
        r = gb_subid_load(p.subgid, &fg, err);
        if (r < 0)
                return r;
        hu = find_owner_start(&fu, owner, owner_id, &su);
        hg = find_owner_start(&fg, owner, owner_id, &sg);
        if (!hu || !hg) {
                /* One candidate free in both files, so a fresh owner gets
                 * the same start for UIDs and GIDs (231072:231072, not a
                 * confusing pair). */
                for (size_t i = 0; i < fu.n; i++)
                        add_interval(&v, &n, fu.e[i].start, (uint64_t)fu.e[i].start + fu.e[i].count);
                for (size_t i = 0; i < fg.n; i++)
                        add_interval(&v, &n, fg.e[i].start, (uint64_t)fg.e[i].start + fg.e[i].count);
                add_passwd_ids(p.passwd, false, &v, &n);
                add_passwd_ids(p.group, true, &v, &n);
                if (find_free(v, n, count, &start) < 0)
                        return gb_error_set(err, ENOSPC,
                                            "Failed to find %u free IDs between %u and %u in '%s' and '%s'; add a "
                                            "range for '%s' by hand",
                                            count, GB_SUBID_ALLOC_MIN, GB_SUBID_ALLOC_MAX, p.subuid, p.subgid, owner);
        }
        if (!hu) {
                _cleanup_free_ char *line = gb_xasprintf("%s:%u:%u\n", owner, start, count);
                r = append_line(p.subuid, line, err);
                if (r < 0)
                        return r;
                su = start;
        }
        if (!hg) {
                _cleanup_free_ char *line = gb_xasprintf("%s:%u:%u\n", owner, start, count);
                r = append_line(p.subgid, line, err);
                if (r < 0)
                        return r;
                sg = start;
        }
        if (ret_uid_start)
                *ret_uid_start = su;
        if (ret_gid_start)
                *ret_gid_start = sg;
        if (ret_changed)
                *ret_changed = !hu || !hg;
        return 0;
}

/* ------------------------------------------------------------------------
 * Users and groups */

static int run_tool(char *const argv[], struct gb_error *err)
{
        pid_t pid;
        int status, r;
        posix_spawn_file_actions_t fa;

        /* The tools talk on stdout; keep ours (the CLI's JSON) clean. */
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
        r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return gb_error_sys(err, r, "Failed to run '%s'", argv[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return gb_error_sys(err, errno, "Failed to wait for '%s'", argv[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return gb_error_set(err, EIO, "Failed to run '%s %s': exit status %d", argv[0], argv[1],
                                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
}

/* Create the system user and group `default` uses: no login shell, no home.
 * Another process may be creating it at the same moment: useradd then fails
 * ("already exists"), and the user being there afterwards is success. */
static int ensure_default_user(bool *created, struct gb_error *err)
{
        _cleanup_close_ int etc = -EBADF;
        char *argv[16];
        int n = 0, r;

        if (getpwnam(GB_REMAP_DEFAULT_USER) && getgrnam(GB_REMAP_DEFAULT_USER))
                return 0;
        /* ghostbox against ghostbox: one creator at a time (the same flock
         * gb_subid_grant() takes on /etc); useradd itself takes shadow's
         * locks against everyone else. Look again once we hold it. */
        etc = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (etc < 0)
                return gb_error_sys(err, errno, "Failed to open '/etc'");
        while (flock(etc, LOCK_EX) < 0)
                if (errno != EINTR)
                        return gb_error_sys(err, errno, "Failed to lock '/etc'");
        if (getpwnam(GB_REMAP_DEFAULT_USER)) {
                if (!getgrnam(GB_REMAP_DEFAULT_USER)) {
                        char *gargv[] = {"/usr/sbin/groupadd", "--system", GB_REMAP_DEFAULT_USER, NULL};
                        r = run_tool(gargv, err);
                        if (r < 0 && !getgrnam(GB_REMAP_DEFAULT_USER))
                                return gb_error_prefix(err, "Failed to create group '%s'", GB_REMAP_DEFAULT_USER);
                }
                return 0;
        }
        argv[n++] = "/usr/sbin/useradd";
        argv[n++] = "--system";
        argv[n++] = "--no-create-home";
        argv[n++] = "--home-dir";
        argv[n++] = "/nonexistent";
        argv[n++] = "--shell";
        argv[n++] = "/usr/sbin/nologin";
        argv[n++] = "--comment";
        argv[n++] = "ghostbox remapped root";
        if (getgrnam(GB_REMAP_DEFAULT_USER)) {
                argv[n++] = "--gid";
                argv[n++] = GB_REMAP_DEFAULT_USER;
        } else
                argv[n++] = "--user-group";
        argv[n++] = GB_REMAP_DEFAULT_USER;
        argv[n] = NULL;
        r = run_tool(argv, err);
        if (r < 0) {
                if (getpwnam(GB_REMAP_DEFAULT_USER) && getgrnam(GB_REMAP_DEFAULT_USER))
                        return 0; /* lost the race to a concurrent creator */
                return gb_error_prefix(err, "Failed to create the userns-remap user '%s' (is this root?)",
                                       GB_REMAP_DEFAULT_USER);
        }
        *created = true;
        return 0;
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* Copy the owner's lines of f; subgid falls back to the user. */
static void pick_ranges(const struct gb_subid_file *f, const char *name, uint32_t id, struct gb_subid_entry **ret,
                        size_t *ret_n)
{
        for (size_t i = 0; i < f->n; i++) {
                if (!owner_is(f->e[i].owner, name, id))
                        continue;
                *ret = gb_xrealloc(*ret, (*ret_n + 1) * sizeof(**ret));
                (*ret)[*ret_n] = f->e[i];
                (*ret)[*ret_n].owner = gb_xstrdup(f->e[i].owner);
                (*ret_n)++;
        }
}

/* libsubid, loaded on first use: linking it would drag SELinux, PAM and
 * audit libraries into the start-up of every ghostbox process (about 1 ms
 * each time), for a path that only runs when the files have no range. */
struct subid_api {
        bool (*init)(const char *progname, FILE *logfd);
        int (*uid_ranges)(const char *owner, struct subid_range **ranges);
        int (*gid_ranges)(const char *owner, struct subid_range **ranges);
};

static const struct subid_api *subid_api(void)
{
        static struct subid_api api;
        static int state; /* 0 untried, 1 loaded, -1 unavailable */
        void *h;

        if (state)
                return state > 0 ? &api : NULL;
        state = -1;
        h = dlopen("libsubid.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return NULL;
        api.init = (bool (*)(const char *, FILE *))dlsym(h, "subid_init");
        api.uid_ranges = (int (*)(const char *, struct subid_range **))dlsym(h, "subid_get_uid_ranges");
        api.gid_ranges = (int (*)(const char *, struct subid_range **))dlsym(h, "subid_get_gid_ranges");
        if (!api.init || !api.uid_ranges || !api.gid_ranges)
                return NULL;
        /* subid_init(NULL) opens /dev/null for libsubid's messages (the
         * library must not print): once, or it leaks an fd per call. */
        (void)api.init("ghostbox", NULL);
        state = 1;
        return &api;
}

/* Ranges NSS provides (nsswitch.conf "subid:"), through libsubid. Only for
 * the real files: libsubid cannot read others. */
static void nss_ranges(bool gid, const char *owner, struct gb_subid_entry **ret, size_t *ret_n)
{
        const struct subid_api *api = subid_api();
        struct subid_range *r = NULL;
        int n;

        if (!api)
                return;
        n = gid ? api->gid_ranges(owner, &r) : api->uid_ranges(owner, &r);
        for (int i = 0; i < n; i++) {
                if (r[i].count == 0 || r[i].start + r[i].count > UINT32_MAX)
                        continue;
                *ret = gb_xrealloc(*ret, (*ret_n + 1) * sizeof(**ret));
                (*ret)[(*ret_n)++] = (struct gb_subid_entry){
                        .owner = gb_xstrdup(owner),
                        .start = (uint32_t)r[i].start,
                        .count = (uint32_t)r[i].count,
                        .line = 0,
                };
        }
        free(r);
}

static void free_entries(struct gb_subid_entry *e, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(e[i].owner);
        free(e);
}

GB_EXPORT void gb_remap_done(struct gb_remap *r)
{
        if (!r)
                return;
        free(r->spec);
        free(r->user);
        free(r->group);
        free_entries(r->uid_ranges, r->n_uid_ranges);
        free_entries(r->gid_ranges, r->n_gid_ranges);
        gb_strv_free(r->warnings);
        *r = (struct gb_remap){0};
}

static char *describe(const struct gb_subid_entry *e)
{
        if (e->line == 0)
                return gb_xasprintf("%s:%u:%u (from NSS)", e->owner, e->start, e->count);
        return gb_xasprintf("line %u (%s:%u:%u)", e->line, e->owner, e->start, e->count);
}

/* Reports, not failures: the map still works, but a human should know. */
static void validate(struct gb_remap *rm, const struct gb_subid_file *file, const struct gb_subid_entry *mine,
                     size_t n_mine, const char *name, uint32_t id, const struct gb_idmap *map, const char *idfile,
                     bool gid)
{
        /* subgid lines may be the group's or (fallback) the user's. */
        const char *uname = rm->user;
        uint32_t uid = rm->uid;
        const char *kind = gid ? "GID" : "UID";
        uint64_t contig = gb_idmap_contiguous(map);

        for (size_t i = 0; i < n_mine; i++)
                for (size_t j = 0; j < file->n; j++) {
                        const struct gb_subid_entry *o = &file->e[j];
                        _cleanup_free_ char *a = NULL;
                        uint64_t lo, hi;

                        if (owner_is(o->owner, name, id) || owner_is(o->owner, uname, uid) ||
                            !ranges_overlap(mine[i].start, mine[i].count, o->start, o->count))
                                continue;
                        lo = mine[i].start > o->start ? mine[i].start : o->start;
                        hi = (uint64_t)mine[i].start + mine[i].count < (uint64_t)o->start + o->count
                                     ? (uint64_t)mine[i].start + mine[i].count
                                     : (uint64_t)o->start + o->count;
                        a = describe(&mine[i]);
                        strv_push(&rm->warnings,
                                  gb_xasprintf("'%s' %s overlaps line %u (%s:%u:%u) of another owner: host %ss "
                                               "%" PRIu64 "-%" PRIu64 " are shared; give one of them a free range",
                                               file->path, a, o->line, o->owner, o->start, o->count, kind, lo, hi - 1));
                }
        if (map->n > 0 && contig < GB_REMAP_DEFAULT_COUNT)
                strv_push(&rm->warnings,
                          gb_xasprintf("the %s ranges of '%s' in '%s' give only %" PRIu64 " IDs: container %ss %" PRIu64
                                       " to 65535 have no host %s (they show "
                                       "as 65534, %s); the highest container %s with a host %s is %" PRIu64
                                       "; grow the range to 65536",
                                       kind, name, file->path, contig, kind, contig, kind, gid ? "nogroup" : "nobody",
                                       kind, kind, contig ? contig - 1 : 0));

        /* A real user's ID inside the range would let container root act as
         * that user on the host (files, signals). */
        {
                /* Read once and split by hand: fgetpwent()/fgetgrent() seek
                 * back and forth for every entry, and this runs in every
                 * ghostbox process (the CLI, each monitor). */
                _cleanup_free_ char *buf = NULL;
                size_t len, reported = 0;

                if (gb_read_file_at(AT_FDCWD, idfile, 16 << 20, &buf, &len) < 0)
                        return;
                for (char *line = buf, *next; line && *line; line = next) {
                        char *f[3] = {NULL}, *p = line, *end;
                        unsigned long hid;
                        uint32_t cid;

                        next = strchr(line, '\n');
                        if (next)
                                *next++ = '\0';
                        /* name:password:ID:... */
                        for (int k = 0; k < 3 && p; k++) {
                                f[k] = p;
                                p = strchr(p, ':');
                                if (p)
                                        *p++ = '\0';
                        }
                        if (!f[2] || !p || !*f[2] || f[0][0] == '#' || f[0][0] == '+' || f[0][0] == '-')
                                continue;
                        errno = 0;
                        hid = strtoul(f[2], &end, 10);
                        if (errno || *end || hid > UINT32_MAX)
                                continue;
                        if (gb_idmap_to_container(map, (uint32_t)hid, &cid) < 0)
                                continue;
                        if (++reported > 10)
                                break;
                        strv_push(&rm->warnings,
                                  gb_xasprintf("host %s %lu is '%s' in '%s' but lies in the remap range of '%s': "
                                               "container %s %u acts as that %s on the host; move the range",
                                               kind, hid, f[0], idfile, name, kind, cid, gid ? "group" : "user"));
                }
        }
}

GB_EXPORT int gb_remap_resolve(const char *spec, const struct gb_remap_opts *opts, struct gb_remap *ret,
                               struct gb_error *err)
{
        struct gb_remap_opts o = opts ? *opts : (struct gb_remap_opts){0};
        _cleanup_(gb_subid_file_done) struct gb_subid_file fu = {0}, fg = {0};
        _cleanup_free_ char *ubuf = NULL;
        const char *origin = o.origin ? o.origin : "userns-remap";
        const char *upart, *gpart = NULL;
        struct passwd *pw;
        struct group *gr = NULL;
        char *colon;
        int r;

        *ret = (struct gb_remap){0};
        if (!spec || !*spec)
                return 0; /* "" is the one way to turn remapping off */
        gb_subid_paths_init(&o.paths);
        ret->enabled = true;
        ret->spec = gb_xstrdup(spec);
        ret->kernel_max_lines = o.max_lines;

        if (strcmp(spec, "default") == 0) {
                if (o.create) {
                        r = ensure_default_user(&ret->created_user, err);
                        if (r < 0)
                                return r;
                }
                upart = GB_REMAP_DEFAULT_USER;
                gpart = GB_REMAP_DEFAULT_USER;
        } else {
                ubuf = gb_xstrdup(spec);
                colon = strchr(ubuf, ':');
                if (colon) {
                        *colon = '\0';
                        gpart = colon + 1;
                        if (strchr(gpart, ':') || !*gpart || !*ubuf)
                                return gb_error_set(err, EINVAL,
                                                    "Failed to parse %s '%s': expected USER, USER:GROUP, UID, UID:GID "
                                                    "(names or numbers) or \"default\"",
                                                    origin, spec);
                }
                upart = ubuf;
        }

        errno = 0;
        if (all_digits(upart)) {
                uint32_t id;
                if (gb_parse_u32(upart, &id) < 0)
                        return gb_error_set(err, ERANGE, "Failed to parse %s '%s': UID %s is out of range", origin,
                                            spec, upart);
                pw = getpwuid(id);
        } else
                pw = getpwnam(upart);
        if (!pw) {
                if (strcmp(spec, "default") == 0)
                        return gb_error_set(err, ENOENT,
                                            "Failed to resolve %s 'default': user '%s' does not exist in /etc/passwd; "
                                            "run ghostbox as root once to create it",
                                            origin, GB_REMAP_DEFAULT_USER);
                return gb_error_set(err, ENOENT,
                                    "Failed to resolve %s '%s': no user '%s' in /etc/passwd; create it (useradd) or "
                                    "change %s",
                                    origin, spec, upart, origin);
        }
        ret->user = gb_xstrdup(pw->pw_name);
        ret->uid = pw->pw_uid;
        ret->gid = pw->pw_gid;

        if (gpart) {
                if (all_digits(gpart)) {
                        uint32_t id;
                        if (gb_parse_u32(gpart, &id) < 0)
                                return gb_error_set(err, ERANGE, "Failed to parse %s '%s': GID %s is out of range",
                                                    origin, spec, gpart);
                        gr = getgrgid(id);
                } else
                        gr = getgrnam(gpart);
                if (!gr)
                        return gb_error_set(err, ENOENT,
                                            "Failed to resolve %s '%s': no group '%s' in /etc/group; create it "
                                            "(groupadd) or change %s",
                                            origin, spec, gpart, origin);
        } else {
                gr = getgrnam(ret->user);
                if (!gr)
                        gr = getgrgid(ret->gid);
        }
        if (gr) {
                ret->group = gb_xstrdup(gr->gr_name);
                ret->gid = gr->gr_gid;
        } else
                ret->group = gb_xasprintf("%u", (unsigned)ret->gid);

        if (strcmp(spec, "default") == 0 && o.create) {
                r = gb_subid_grant(&o.paths, ret->user, ret->uid, GB_REMAP_DEFAULT_COUNT, NULL, NULL,
                                   &ret->granted_ranges, err);
                if (r < 0)
                        return gb_error_prefix(err, "Failed to grant '%s' a subordinate ID range",
                                               GB_REMAP_DEFAULT_USER);
        }

        r = gb_subid_load(o.paths.subuid, &fu, err);
        if (r < 0)
                return r;
        r = gb_subid_load(o.paths.subgid, &fg, err);
        if (r < 0)
                return r;
        pick_ranges(&fu, ret->user, ret->uid, &ret->uid_ranges, &ret->n_uid_ranges);
        pick_ranges(&fg, ret->group, ret->gid, &ret->gid_ranges, &ret->n_gid_ranges);
        if (ret->n_gid_ranges == 0)
                pick_ranges(&fg, ret->user, ret->uid, &ret->gid_ranges, &ret->n_gid_ranges);
        if (ret->n_uid_ranges == 0 && strcmp(o.paths.subuid, GB_SUBUID_FILE) == 0)
                nss_ranges(false, ret->user, &ret->uid_ranges, &ret->n_uid_ranges);
        if (ret->n_gid_ranges == 0 && strcmp(o.paths.subgid, GB_SUBGID_FILE) == 0)
                nss_ranges(true, ret->user, &ret->gid_ranges, &ret->n_gid_ranges);
        if ((ret->n_uid_ranges == 0 || ret->n_gid_ranges == 0) && strcmp(spec, "default") == 0)
                return gb_error_set(err, ENOENT,
                                    "Failed to resolve %s 'default': user '%s' has no range in '%s' and '%s' yet; "
                                    "run 'ghostbox idmap show' as root once to grant it",
                                    origin, ret->user, o.paths.subuid, o.paths.subgid);
        if (ret->n_uid_ranges == 0)
                return gb_error_set(err, ENOENT,
                                    "Failed to resolve %s '%s': no range for user '%s' in '%s'; add a line like "
                                    "'%s:231072:65536' (a range no other line overlaps)",
                                    origin, spec, ret->user, o.paths.subuid, ret->user);
        if (ret->n_gid_ranges == 0)
                return gb_error_set(err, ENOENT,
                                    "Failed to resolve %s '%s': no range for group '%s' (or user '%s') in '%s'; add "
                                    "a line like '%s:231072:65536' (a range no other line overlaps)",
                                    origin, spec, ret->group, ret->user, o.paths.subgid, ret->group);

        /* The probe costs a user namespace with a 340-line map: only when
         * more ranges than every kernel takes (5) are there to map. */
        if (!ret->kernel_max_lines && (ret->n_uid_ranges > 5 || ret->n_gid_ranges > 5))
                ret->kernel_max_lines = gb_idmap_kernel_max_lines();
        (void)gb_idmap_from_ranges(ret->uid_ranges, ret->n_uid_ranges, o.paths.subuid, ret->kernel_max_lines ?: 5,
                                   &ret->uids, &ret->warnings);
        (void)gb_idmap_from_ranges(ret->gid_ranges, ret->n_gid_ranges, o.paths.subgid, ret->kernel_max_lines ?: 5,
                                   &ret->gids, &ret->warnings);
        ret->root_uid = ret->uids.r[0].host_id;
        ret->root_gid = ret->gids.r[0].host_id;
        validate(ret, &fu, ret->uid_ranges, ret->n_uid_ranges, ret->user, ret->uid, &ret->uids, o.paths.passwd, false);
        validate(ret, &fg, ret->gid_ranges, ret->n_gid_ranges, ret->group, ret->gid, &ret->gids, o.paths.group, true);
        return 0;
}
