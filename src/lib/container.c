#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "idmap.h"
#include "util.h"

#define RECORD_MAX (8U << 20)

GB_EXPORT int gb_container_new_id(char out[GB_CONTAINER_ID_LEN + 1], struct gb_error *err)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[GB_CONTAINER_ID_LEN / 2];
        size_t got = 0;

        while (got < sizeof(raw)) {
                ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return gb_error_sys(err, errno, "Failed to read random bytes for a container ID");
                }
                got += (size_t)n;
        }
        /* An all-digit short ID (the first 12 characters) parses as a
         * number in some tools: make its first character a letter. */
        for (size_t i = 0; i < sizeof(raw); i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[GB_CONTAINER_ID_LEN] = '\0';
        if (strspn(out, "0123456789") >= 12)
                out[0] = 'a' + (char)(raw[0] % 6);
        return 0;
}

static const char *const adjectives[] = {
        "amber",  "brave",  "calm",   "clever",   "cosmic", "daring", "eager", "fervent", "gentle",
        "hidden", "jolly",  "keen",   "lucid",    "mellow", "nimble", "odd",   "pale",    "quiet",
        "rapid",  "silent", "spooky", "tranquil", "unseen", "vivid",  "wary",  "wistful", "zealous",
};
static const char *const nouns[] = {
        "banshee",     "candle", "crypt",    "ember",  "fog",     "lantern", "moth",    "owl",    "phantom",
        "poltergeist", "raven",  "shade",    "shroud", "specter", "spirit",  "wisp",    "wraith", "yurei",
        "kelpie",      "lemure", "revenant", "sprite", "echo",    "mist",    "whisper", "veil",   "haunt",
};

GB_EXPORT char *gb_container_random_name(void)
{
        unsigned int r[2] = {0, 0};

        /* Before the entropy pool is ready, any spread will do for a name. */
        if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
                r[0] = (unsigned int)getpid();
                r[1] = (unsigned int)time(NULL);
        }
        return gb_xasprintf("%s_%s", adjectives[r[0] % ARRAY_SIZE(adjectives)], nouns[r[1] % ARRAY_SIZE(nouns)]);
}

GB_EXPORT bool gb_container_name_valid(const char *name)
{
        if (name[0] == '/')
                name++;
        if (strlen(name) < 2 || strlen(name) > 255)
                return false;
        for (const char *p = name; *p; p++) {
                bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
                if (p == name ? !alnum : !(alnum || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        }
        return true;
}

GB_EXPORT char *gb_timestamp_now(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[32];

        (void)clock_gettime(CLOCK_REALTIME, &ts);
        (void)gmtime_r(&ts.tv_sec, &tm);
        (void)strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return gb_xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

GB_EXPORT int gb_pid_start_time(pid_t pid, unsigned long long *ret)
{
        _cleanup_free_ char *buf = NULL;
        char path[64], *p;
        unsigned long long v = 0;
        int r;

        (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        r = gb_read_file_at(AT_FDCWD, path, 4096, &buf, NULL);
        if (r < 0)
                return r;
        /* comm may hold spaces and ')': fields resume after the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return -EINVAL;
        for (int field = 2; field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return -EINVAL;
        }
        if (sscanf(p + 1, "%llu", &v) != 1)
                return -EINVAL;
        *ret = v;
        return 0;
}

GB_EXPORT bool gb_pid_alive(pid_t pid, unsigned long long start_time)
{
        _cleanup_free_ char *buf = NULL;
        unsigned long long now;
        char path[64], *p;

        if (pid <= 0)
                return false;
        if (gb_pid_start_time(pid, &now) < 0)
                return false;
        if (start_time != 0 && now != start_time)
                return false;
        /* A zombie still has /proc/PID (until someone reaps it: the
         * monitor's parent may be long gone), but it is dead. */
        (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (gb_read_file_at(AT_FDCWD, path, 4096, &buf, NULL) < 0)
                return false;
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static char *record_path(const char *dir)
{
        return gb_xasprintf("%s/container.json", dir);
}

static int read_doc(const char *dir, json_t **ret, struct gb_error *err)
{
        _cleanup_free_ char *path = record_path(dir), *buf = NULL;
        json_error_t jerr;
        json_t *doc;
        int r;

        r = gb_read_file_at(AT_FDCWD, path, RECORD_MAX, &buf, NULL);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s'", path);
        doc = json_loads(buf, 0, &jerr);
        if (!doc || !json_is_object(doc)) {
                json_decref(doc);
                return gb_error_set(err, EINVAL, "Failed to parse '%s' line %d column %d: %s", path, jerr.line,
                                    jerr.column, doc ? "not an object" : jerr.text);
        }
        *ret = doc;
        return 0;
}

GB_EXPORT int gb_container_lock(struct gb_container *c, struct gb_error *err)
{
        _cleanup_free_ char *path = gb_xasprintf("%s/lock", c->dir);
        int r;

        if (c->lock_fd >= 0)
                return 0;
        r = gb_lock_file(path, &c->lock_fd);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to lock '%s'", path);
        return 0;
}

GB_EXPORT void gb_container_unlock(struct gb_container *c)
{
        if (c && c->lock_fd >= 0) {
                (void)close(c->lock_fd);
                c->lock_fd = -EBADF;
        }
}

GB_EXPORT void gb_container_free(struct gb_container *c)
{
        if (!c)
                return;
        gb_container_unlock(c);
        json_decref(c->doc);
        free(c->dir);
        free(c);
}

GB_EXPORT int gb_container_reload(struct gb_container *c, struct gb_error *err)
{
        json_t *doc;
        int r = read_doc(c->dir, &doc, err);

        if (r < 0)
                return r;
        json_decref(c->doc);
        c->doc = doc;
        return 0;
}

static int save(struct gb_container *c, bool durable, struct gb_error *err);

GB_EXPORT int gb_container_save(struct gb_container *c, struct gb_error *err)
{
        /* An AutoRemove (--rm) record lives for the container's run only: a
         * crash that loses it loses nothing a restart would keep (Docker
         * removes such containers on restart too), so no fsync for it. */
        bool rm = json_is_true(json_object_get(json_object_get(c->doc, "HostConfig"), "AutoRemove"));

        return save(c, !rm, err);
}

GB_EXPORT int gb_container_save_transient(struct gb_container *c, struct gb_error *err)
{
        return save(c, false, err);
}

static int save(struct gb_container *c, bool durable, struct gb_error *err)
{
        _cleanup_free_ char *path = record_path(c->dir), *text = NULL;
        int r;

        text = json_dumps(c->doc, JSON_COMPACT);
        if (!text)
                return gb_error_set(err, ENOMEM, "Failed to serialize '%s'", path);
        r = durable ? gb_write_file_atomic(path, text, strlen(text), 0600)
                    : gb_write_file_replace(path, text, strlen(text), 0600);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", path);
        return 0;
}

GB_EXPORT const char *gb_container_name(const struct gb_container *c)
{
        const char *n = json_string_value(json_object_get(c->doc, "Name"));

        if (!n)
                return "";
        return n[0] == '/' ? n + 1 : n;
}

GB_EXPORT const char *gb_container_status(const struct gb_container *c)
{
        const char *s = json_string_value(json_object_get(json_object_get(c->doc, "State"), "Status"));
        return s ? s : "unknown";
}

/* Name operations are serialised by one lock: a name counts as stale (its
 * holder crashed between reserving and registering) only if no holder can
 * be mid-way, which the lock guarantees because holders register before
 * they reserve. */
static int reserve_name(const char *data_root, const char *name, const char *id, struct gb_error *err)
{
        _cleanup_free_ char *dir = gb_xasprintf("%s/names", data_root);
        _cleanup_free_ char *link = gb_xasprintf("%s/%s", dir, name);
        _cleanup_free_ char *lockp = gb_xasprintf("%s/.lock", dir);
        _cleanup_free_ char *holder = NULL;
        _cleanup_close_ int lock = -EBADF;
        char target[GB_CONTAINER_ID_LEN + 1];
        ssize_t n;
        int r;

        r = gb_mkdir_p(dir, 0700);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", dir);
        r = gb_lock_file(lockp, &lock);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to lock '%s'", lockp);
        if (symlink(id, link) == 0)
                return 0;
        if (errno != EEXIST)
                return gb_error_sys(err, errno, "Failed to reserve the name '%s' at '%s'", name, link);
        n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        holder = gb_xasprintf("%s/containers/%s", data_root, target);
        if (n > 0 && access(holder, F_OK) < 0 && errno == ENOENT) {
                if (unlink(link) == 0 && symlink(id, link) == 0)
                        return 0;
                return gb_error_sys(err, errno, "Failed to take over the stale name '%s'", name);
        }
        return gb_error_set(err, EEXIST,
                            "Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to "
                            "remove (or rename) that container to be able to reuse that name.",
                            name, target);
}

static void release_name(const char *data_root, const char *name, const char *id)
{
        _cleanup_free_ char *link = gb_xasprintf("%s/names/%s", data_root, name);
        char target[GB_CONTAINER_ID_LEN + 1];
        ssize_t n = readlink(link, target, sizeof(target) - 1);

        /* Only drop the name if it is still ours. */
        if (n == GB_CONTAINER_ID_LEN) {
                target[n] = '\0';
                if (strcmp(target, id) == 0)
                        (void)unlink(link);
        }
}

GB_EXPORT int gb_container_create(const char *data_root, const char *area, uid_t owner_uid, gid_t owner_gid,
                                  json_t *doc, struct gb_container **ret, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_free_ char *reg_dir = NULL, *reg_link = NULL, *reg_target = NULL, *area_dir = NULL;
        const char *id = json_string_value(json_object_get(doc, "Id"));
        const char *name = json_string_value(json_object_get(doc, "Name"));
        int r;

        if (!id || strlen(id) != GB_CONTAINER_ID_LEN || !name || !gb_container_name_valid(name))
                return gb_error_set(err, EINVAL, "Failed to create container: invalid ID or name");
        if (name[0] == '/')
                name++;
        c = gb_xcalloc(1, sizeof(*c));
        c->lock_fd = -EBADF;
        memcpy(c->id, id, sizeof(c->id));
        area_dir = gb_xasprintf("%s/%s/containers", data_root, area);
        c->dir = gb_xasprintf("%s/%s", area_dir, id);
        r = gb_container_area(data_root, area, owner_uid, owner_gid, err);
        if (r < 0)
                return r;
        if (mkdir(c->dir, 0700) < 0)
                return gb_error_sys(err, errno, "Failed to create '%s'", c->dir);
        /* The remapped root owns its container directory (as Docker's
         * <uid>.<gid>/containers/<id>), so nothing in it needs host root. */
        if (chown(c->dir, owner_uid, owner_gid) < 0) {
                r = gb_error_sys(err, errno, "Failed to chown '%s'", c->dir);
                goto fail_dir;
        }
        c->doc = json_incref(doc);
        r = gb_container_lock(c, err);
        if (r < 0)
                goto fail_dir;
        r = gb_container_save_transient(c, err);
        if (r < 0)
                goto fail_dir;
        reg_dir = gb_xasprintf("%s/containers", data_root);
        r = gb_mkdir_p(reg_dir, 0700);
        if (r < 0) {
                r = gb_error_sys(err, -r, "Failed to create '%s'", reg_dir);
                goto fail_dir;
        }
        reg_link = gb_xasprintf("%s/%s", reg_dir, id);
        reg_target = gb_xasprintf("../%s/containers/%s", area, id);
        if (symlink(reg_target, reg_link) < 0) {
                r = gb_error_sys(err, errno, "Failed to register container at '%s'", reg_link);
                goto fail_dir;
        }
        r = reserve_name(data_root, name, id, err);
        if (r < 0)
                goto fail_reg;
        *ret = TAKE_PTR(c);
        return 0;

fail_reg:
        (void)unlink(reg_link);
fail_dir:
        gb_container_unlock(c);
        (void)gb_rm_rf(c->dir);
        return r;
}

GB_EXPORT int gb_container_area(const char *data_root, const char *area, uid_t owner_uid, gid_t owner_gid,
                                struct gb_error *err)
{
        _cleanup_free_ char *top = gb_xasprintf("%s/%s", data_root, area);
        _cleanup_free_ char *containers = gb_xasprintf("%s/containers", top);
        int r;

        /* The data root is traversable (0711, as Docker's with remapping)
         * so a remapped root can reach its own area, which is 0700 and
         * owned by it; everything of other ranges stays closed to it. */
        r = gb_mkdir_p(data_root, 0711);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", data_root);
        if (mkdir(top, 0700) < 0 && errno != EEXIST)
                return gb_error_sys(err, errno, "Failed to create '%s'", top);
        if (chown(top, owner_uid, owner_gid) < 0 || chmod(top, 0700) < 0)
                return gb_error_sys(err, errno, "Failed to give '%s' to %u:%u", top, owner_uid, owner_gid);
        if (mkdir(containers, 0700) < 0 && errno != EEXIST)
                return gb_error_sys(err, errno, "Failed to create '%s'", containers);
        if (chown(containers, owner_uid, owner_gid) < 0)
                return gb_error_sys(err, errno, "Failed to give '%s' to %u:%u", containers, owner_uid, owner_gid);
        return 0;
}

static int open_record(const char *data_root, const char *id, bool lock, struct gb_container **ret,
                       struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_free_ char *link = gb_xasprintf("%s/containers/%s", data_root, id);
        char *real;
        int r;

        real = realpath(link, NULL);
        if (!real)
                return gb_error_sys(err, errno, "Failed to resolve container registry entry '%s'", link);
        c = gb_xcalloc(1, sizeof(*c));
        c->lock_fd = -EBADF;
        c->dir = real;
        (void)snprintf(c->id, sizeof(c->id), "%s", id);
        if (lock) {
                r = gb_container_lock(c, err);
                if (r < 0)
                        return r;
        }
        r = read_doc(c->dir, &c->doc, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static bool is_hex_id(const char *s)
{
        size_t n = strlen(s);
        return n > 0 && n <= GB_CONTAINER_ID_LEN && strspn(s, "0123456789abcdef") == n;
}

GB_EXPORT int gb_container_lookup(const char *data_root, const char *ref, bool lock, struct gb_container **ret,
                                  struct gb_error *err)
{
        _cleanup_free_ char *name_link = NULL, *reg = NULL, *match = NULL;
        _cleanup_(gb_closedirp) DIR *d = NULL;
        char target[GB_CONTAINER_ID_LEN + 1];
        const char *name = ref[0] == '/' ? ref + 1 : ref;
        struct dirent *de;
        ssize_t n;
        int matches = 0;

        if (!*name)
                return gb_error_set(err, EINVAL, "No such container: %s", ref);
        /* Docker's order: full ID, then name, then ID prefix. */
        if (strlen(name) == GB_CONTAINER_ID_LEN && is_hex_id(name)) {
                int r = open_record(data_root, name, lock, ret, NULL);
                if (r >= 0)
                        return r;
        }
        if (!strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..")) {
                name_link = gb_xasprintf("%s/names/%s", data_root, name);
                n = readlink(name_link, target, sizeof(target) - 1);
                if (n == GB_CONTAINER_ID_LEN) {
                        target[n] = '\0';
                        if (open_record(data_root, target, lock, ret, NULL) >= 0)
                                return 0;
                }
        }
        if (is_hex_id(name)) {
                reg = gb_xasprintf("%s/containers", data_root);
                d = opendir(reg);
                while (d && (de = readdir(d))) {
                        if (strncmp(de->d_name, name, strlen(name)) == 0 && strlen(de->d_name) == GB_CONTAINER_ID_LEN) {
                                matches++;
                                free(match);
                                match = gb_xstrdup(de->d_name);
                        }
                }
                if (matches > 1)
                        return gb_error_set(err, EINVAL, "Multiple IDs found with provided prefix: %s", name);
                if (matches == 1)
                        return open_record(data_root, match, lock, ret, err);
        }
        return gb_error_set(err, ENOENT, "No such container: %s", ref);
}

struct listed {
        char *id;
        char *created;
};

static int cmp_listed(const void *a, const void *b)
{
        const struct listed *x = a, *y = b;
        /* RFC 3339 UTC timestamps sort as strings; newest first. */
        int c = strcmp(y->created, x->created);
        return c ? c : strcmp(x->id, y->id);
}

GB_EXPORT int gb_container_list(const char *data_root, char ***ret_ids, struct gb_error *err)
{
        _cleanup_free_ char *reg = gb_xasprintf("%s/containers", data_root);
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct listed *l = NULL;
        struct dirent *de;
        size_t n = 0;
        char **ids;

        d = opendir(reg);
        if (!d && errno != ENOENT)
                return gb_error_sys(err, errno, "Failed to list '%s'", reg);
        while (d && (de = readdir(d))) {
                struct gb_container *c = NULL;
                const char *created;

                if (!is_hex_id(de->d_name) || strlen(de->d_name) != GB_CONTAINER_ID_LEN)
                        continue;
                /* A record that cannot be read is skipped here; `inspect`
                 * on it reports why. */
                if (open_record(data_root, de->d_name, false, &c, NULL) < 0)
                        continue;
                created = json_string_value(json_object_get(c->doc, "Created"));
                l = gb_xrealloc(l, (n + 1) * sizeof(*l));
                l[n].id = gb_xstrdup(de->d_name);
                l[n].created = gb_xstrdup(created ? created : "");
                n++;
                gb_container_free(c);
        }
        if (n > 1) /* qsort(NULL, 0) is undefined (UBSan) */
                qsort(l, n, sizeof(*l), cmp_listed);
        ids = gb_xcalloc(n + 1, sizeof(*ids));
        for (size_t i = 0; i < n; i++) {
                ids[i] = l[i].id;
                free(l[i].created);
        }
        free(l);
        *ret_ids = ids;
        return 0;
}

GB_EXPORT int gb_container_rename(const char *data_root, struct gb_container *c, const char *new_name,
                                  struct gb_error *err)
{
        _cleanup_free_ char *old = gb_xstrdup(gb_container_name(c)), *slashed = NULL;
        int r;

        if (new_name[0] == '/')
                new_name++;
        if (!gb_container_name_valid(new_name))
                return gb_error_set(err, EINVAL,
                                    "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                    new_name);
        r = reserve_name(data_root, new_name, c->id, err);
        if (r < 0)
                return r;
        slashed = gb_xasprintf("/%s", new_name);
        json_object_set_new(c->doc, "Name", json_string(slashed));
        r = gb_container_save(c, err);
        if (r < 0) {
                _cleanup_free_ char *old_slashed = gb_xasprintf("/%s", old);
                release_name(data_root, new_name, c->id);
                /* The record keeps Docker's leading '/'. */
                json_object_set_new(c->doc, "Name", json_string(old_slashed));
                return r;
        }
        release_name(data_root, old, c->id);
        return 0;
}

GB_EXPORT int gb_container_remove(const char *data_root, struct gb_container *c, struct gb_error *err)
{
        _cleanup_free_ char *reg = gb_xasprintf("%s/containers/%s", data_root, c->id);
        int r;

        /* Registry entry first: from here on the container is invisible,
         * so a crash mid-way leaves an orphan directory, never a listed
         * container with half its files. */
        if (unlink(reg) < 0 && errno != ENOENT)
                return gb_error_sys(err, errno, "Failed to unregister '%s'", reg);
        release_name(data_root, gb_container_name(c), c->id);
        r = gb_rm_rf(c->dir);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to remove '%s'%s", c->dir,
                                    r == -EBUSY ? " (something is still mounted below it)" : "");
        return 0;
}

GB_EXPORT void gb_container_idmap_from_json(json_t *a, struct gb_idmap *ret)
{
        json_t *r;
        size_t i;

        memset(ret, 0, sizeof(*ret));
        json_array_foreach (a, i, r)
                (void)gb_idmap_add(ret, (uint32_t)json_integer_value(json_object_get(r, "ContainerID")),
                                   (uint32_t)json_integer_value(json_object_get(r, "HostID")),
                                   (uint32_t)json_integer_value(json_object_get(r, "Size")));
}
