#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "network.h"
#include "portspec.h"
#include "gb-config.h"
#include "idmap-alloc.h"
#include "monitor.h"
#include "syscalls.h"
#include "rootfs.h"
#include "store.h"
#include "userns.h"
#include "util.h"
#include "volume.h"

GB_EXPORT void gb_engine_close(struct gb_engine *e)
{
        gb_config_done(&e->cfg);
        gb_remap_done(&e->remap);
        free(e->cli_path);
        free(e->monitor_path);
        free(e->init_path);
        free(e->probe_path);
        memset(e, 0, sizeof(*e));
}

static char *find_helper(const char *cli_path, const char *name, const char *builddir)
{
        _cleanup_free_ char *dir = gb_xstrdup(cli_path);
        char *slash = strrchr(dir, '/');
        char *p;

        /* Next to the CLI (build tree: build/src/cli and build/src/monitor;
         * installed: libexec). */
        if (slash) {
                *slash = '\0';
                p = gb_xasprintf("%s/%s", dir, name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
                p = gb_xasprintf("%s/../%s/%s", dir, builddir, name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
                p = gb_xasprintf("%s/../libexec/ghostbox/%s", dir, name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return gb_xasprintf("%s/ghostbox/%s", GB_LIBEXECDIR, name);
}

GB_EXPORT int gb_engine_open(const struct gb_config_overrides *ov, const char *cli_path, struct gb_engine *ret,
                             struct gb_error *err)
{
        struct gb_engine e = {0};
        struct gb_remap_opts ro = {.create = true};
        int r;

        r = gb_config_load(ov, &e.cfg, err);
        if (r < 0)
                return r;
        if (e.cfg.userns_remap && *e.cfg.userns_remap) {
                gb_subid_paths_init(&ro.paths);
                ro.origin = e.cfg.userns_remap_origin;
                r = gb_remap_resolve(e.cfg.userns_remap, &ro, &e.remap, err);
                if (r < 0) {
                        gb_engine_close(&e);
                        return r;
                }
                for (char **w = e.remap.warnings; w && *w; w++)
                        gb_warn("%s", *w);
        }
        e.cli_path = gb_xstrdup(cli_path);
        e.monitor_path = find_helper(cli_path, "ghostbox-monitor", "monitor");
        e.init_path = find_helper(cli_path, "ghostbox-init", "init");
        e.probe_path = find_helper(cli_path, "ghostbox-probe", "init");
        *ret = e;
        return 0;
}

GB_EXPORT char *gb_engine_auto_state(const struct gb_engine *e)
{
        return gb_xasprintf("%s/userns-auto.json", e->cfg.data_root);
}

/* The --userns=auto pool: every range of the subuid/subgid owner
 * "ghostbox-auto", in file order. It is an owner of its own, not the remap
 * user's extra ranges, because Docker-style remapping puts all of the remap
 * user's ranges into the default map: carving from them would overlap the
 * default containers. Like Podman's "containers" entry it is a reservation
 * (no login user), which shadow's tools also steer clear of. */
#define AUTO_OWNER "ghostbox-auto"
#define AUTO_POOL_SIZE (65536U * 1024U)

static int load_pool(const char *path, struct gb_idmap *ret, struct gb_error *err)
{
        struct gb_subid_file f = {0};
        int r = gb_subid_load(path, &f, err);

        if (r < 0)
                return r;
        memset(ret, 0, sizeof(*ret));
        for (size_t i = 0; i < f.n; i++)
                if (strcmp(f.e[i].owner, AUTO_OWNER) == 0 &&
                    gb_idmap_add(ret, (uint32_t)gb_idmap_size(ret), f.e[i].start, f.e[i].count) < 0)
                        break;
        gb_subid_file_done(&f);
        return 0;
}

GB_EXPORT int gb_engine_auto_pool(const struct gb_engine *e, struct gb_idmap *uids, struct gb_idmap *gids,
                                  struct gb_error *err)
{
        struct gb_subid_paths paths = {0};
        int r;

        if (!e->remap.enabled)
                return gb_error_set(err, EINVAL,
                                    "Failed to use --userns=auto: remapping is off (\"userns-remap\": \"\" in "
                                    "daemon.json)");
        gb_subid_paths_init(&paths);
        r = load_pool(paths.subuid, uids, err);
        if (r >= 0)
                r = load_pool(paths.subgid, gids, err);
        if (r < 0)
                return r;
        if (uids->n == 0 && gids->n == 0) {
                /* First use: reserve a pool, placed clear of every other
                 * owner's range and every real user and group ID. */
                r = gb_subid_grant(&paths, AUTO_OWNER, UINT32_MAX, AUTO_POOL_SIZE, NULL, NULL, NULL, err);
                if (r < 0)
                        return gb_error_prefix(err, "Failed to reserve the --userns=auto pool");
                r = load_pool(paths.subuid, uids, err);
                if (r >= 0)
                        r = load_pool(paths.subgid, gids, err);
        }
        return r;
}

static bool registered(const char *owner, void *data)
{
        const struct gb_engine *e = data;
        _cleanup_free_ char *p = gb_xasprintf("%s/containers/%s", e->cfg.data_root, owner);

        return access(p, F_OK) == 0 || errno != ENOENT;
}

/* Reservations of creates that died before registering their container. */
static void reclaim_auto(struct gb_engine *e, const char *state)
{
        const char *age = getenv("GHOSTBOX_AUTO_RECLAIM_AGE");
        int64_t min_age = age ? strtoll(age, NULL, 10) : 60;

        (void)gb_auto_reclaim(state, registered, e, min_age, NULL);
}

static int alloc_auto(struct gb_engine *e, const char *id, uint32_t size, struct gb_idmap *uids, struct gb_idmap *gids,
                      struct gb_error *err)
{
        _cleanup_free_ char *state = gb_engine_auto_state(e), *gstate = NULL;
        struct gb_idmap upool, gpool;
        int r;

        r = gb_engine_auto_pool(e, &upool, &gpool, err);
        if (r < 0)
                return r;
        /* The state file sits in the data root, which the first run on a
         * fresh machine may be creating right now. */
        r = gb_mkdir_p(e->cfg.data_root, 0711);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", e->cfg.data_root);
        if (gb_idmap_size(&upool) < size || gb_idmap_size(&gpool) < size)
                return gb_error_set(err, ENOSPC,
                                    "Failed to use --userns=auto: the pool ('" AUTO_OWNER "' in /etc/subuid and "
                                    "/etc/subgid) has %llu UIDs and %llu GIDs, %u are needed; give it a larger "
                                    "range in both files",
                                    (unsigned long long)gb_idmap_size(&upool),
                                    (unsigned long long)gb_idmap_size(&gpool), size);
        gstate = gb_xasprintf("%s/userns-auto-gid.json", e->cfg.data_root);
        reclaim_auto(e, state);
        reclaim_auto(e, gstate);
        r = gb_auto_alloc(state, &upool, id, size, uids, err);
        if (r < 0)
                return r;
        r = gb_auto_alloc(gstate, &gpool, id, size, gids, err);
        if (r < 0)
                (void)gb_auto_release(state, id, NULL);
        return r;
}

static void release_auto(struct gb_engine *e, const char *id)
{
        _cleanup_free_ char *state = gb_engine_auto_state(e);
        _cleanup_free_ char *gstate = gb_xasprintf("%s/userns-auto-gid.json", e->cfg.data_root);

        (void)gb_auto_release(state, id, NULL);
        (void)gb_auto_release(gstate, id, NULL);
}

GB_EXPORT char *gb_engine_volume_area(const struct gb_engine *e, uid_t *ret_uid, gid_t *ret_gid)
{
        uid_t u = e->remap.enabled ? e->remap.root_uid : 0;
        gid_t g = e->remap.enabled ? e->remap.root_gid : 0;

        if (ret_uid)
                *ret_uid = u;
        if (ret_gid)
                *ret_gid = g;
        return gb_xasprintf("%u.%u", (unsigned)u, (unsigned)g);
}

GB_EXPORT int gb_engine_volume_users(struct gb_engine *e, const char *name, char ***ret_ids, struct gb_error *err)
{
        _cleanup_strv_ char **ids = NULL;
        char **users = gb_xcalloc(1, sizeof(char *));
        size_t n = 0;
        int r;

        r = gb_container_list(e->cfg.data_root, &ids, err);
        if (r < 0) {
                free(users);
                return r;
        }
        for (char **id = ids; *id; id++) {
                _cleanup_(gb_container_freep) struct gb_container *c = NULL;
                json_t *m;
                size_t i;
                if (gb_container_lookup(e->cfg.data_root, *id, false, &c, NULL) < 0)
                        continue;
                json_array_foreach (json_object_get(c->doc, "Mounts"), i, m) {
                        const char *t = json_string_value(json_object_get(m, "Type"));
                        const char *nm = json_string_value(json_object_get(m, "Name"));
                        if (t && nm && strcmp(t, "volume") == 0 && strcmp(nm, name) == 0) {
                                users = gb_xrealloc(users, (n + 2) * sizeof(char *));
                                users[n++] = gb_xstrdup(c->id);
                                users[n] = NULL;
                                break;
                        }
                }
        }
        *ret_ids = users;
        return 0;
}

/* Copy a directory tree (first mount of an empty volume: Docker copies the
 * image's directory in). fd-based, never following symlinks, so nothing in
 * the tree can point the copy elsewhere. IDs pass through translate(). */
struct idxlate {
        const struct gb_idmap *seen_u, *seen_g; /* NULL: IDs are seen as container IDs */
        const struct gb_idmap *vol_u, *vol_g;   /* NULL: the volume stores container IDs */
};

static uint32_t xlate(const struct gb_idmap *seen, const struct gb_idmap *vol, uint32_t id)
{
        uint32_t cid = id, out = 65534;

        if (seen && gb_idmap_to_container(seen, id, &cid) < 0)
                return vol ? (gb_idmap_to_host(vol, 65534, &out) == 0 ? out : 65534) : 65534;
        if (!vol)
                return cid;
        return gb_idmap_to_host(vol, cid, &out) == 0 ? out : 65534;
}

static int copy_tree(int src, int dst, const struct idxlate *x, int depth)
{
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct dirent *de;
        int sfd = fcntl(src, F_DUPFD_CLOEXEC, 3), r = 0;

        if (sfd < 0 || depth > 64)
                return -ELOOP;
        d = fdopendir(sfd);
        if (!d) {
                close(sfd);
                return -errno;
        }
        while ((de = readdir(d)) && r >= 0) {
                struct stat st;
                uid_t u;
                gid_t g;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                u = xlate(x->seen_u, x->vol_u, st.st_uid);
                g = xlate(x->seen_g, x->vol_g, st.st_gid);
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int cs = -EBADF, cd = -EBADF;
                        if (mkdirat(dst, de->d_name, 0700) < 0 && errno != EEXIST)
                                return -errno;
                        cs = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        cd = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cs < 0 || cd < 0)
                                return -errno;
                        r = copy_tree(cs, cd, x, depth + 1);
                        if (fchown(cd, u, g) < 0 || fchmod(cd, st.st_mode & 07777) < 0)
                                r = r < 0 ? r : -errno;
                } else if (S_ISREG(st.st_mode)) {
                        _cleanup_close_ int in = -EBADF, out = -EBADF;
                        char buf[65536];
                        ssize_t n;
                        in = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        out = openat(dst, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                        if (in < 0 || out < 0)
                                return -errno;
                        while ((n = read(in, buf, sizeof(buf))) > 0)
                                if (gb_write_all(out, buf, (size_t)n) < 0)
                                        return -EIO;
                        if (fchown(out, u, g) < 0 || fchmod(out, st.st_mode & 07777) < 0)
                                return -errno;
                } else if (S_ISLNK(st.st_mode)) {
                        char target[4096];
                        ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                        if (n < 0)
                                continue;
                        target[n] = '\0';
                        if (symlinkat(target, dst, de->d_name) < 0 && errno != EEXIST)
                                return -errno;
                        if (fchownat(dst, de->d_name, u, g, AT_SYMLINK_NOFOLLOW) < 0)
                                return -errno;
                }
                /* Devices, fifos and sockets are not copied: a volume is data. */
        }
        return r;
}

/* Resolve the run's volume requests into host paths; fills copies[] (the
 * caller frees source/volume_name of each) and shift maps for containers
 * whose range is not the volume area's. */
static int resolve_volumes(struct gb_engine *e, const struct gb_run_opts *o, const char *rootfs, bool remapped,
                           const struct gb_idmap *uids, const struct gb_idmap *gids, struct gb_mount_req *copies,
                           struct gb_idmap *shift, struct gb_error *err)
{
        uid_t vu;
        gid_t vg;
        _cleanup_free_ char *varea = gb_engine_volume_area(e, &vu, &vg);
        bool same = remapped && e->remap.enabled && gb_idmap_equal(uids, &e->remap.uids) &&
                    gb_idmap_equal(gids, &e->remap.gids);
        int r;

        for (size_t i = 0; i < o->n_mounts; i++) {
                struct gb_mount_req *m = &copies[i];
                _cleanup_free_ char *name = NULL, *src = NULL;
                bool fresh;

                *m = o->mounts[i];
                m->source = NULL;
                m->volume_name = NULL;
                if (o->mounts[i].type == GB_MOUNT_BIND) {
                        struct stat st;
                        m->source = gb_xstrdup(o->mounts[i].source);
                        if (stat(m->source, &st) < 0) {
                                if (errno != ENOENT || !m->create_source)
                                        return gb_error_sys(err, errno,
                                                            "invalid mount config for type \"bind\": bind source path "
                                                            "does not exist: %s",
                                                            m->source);
                                /* -v creates a missing host path, as Docker does. */
                                r = gb_mkdir_p(m->source, 0755);
                                if (r < 0)
                                        return gb_error_sys(err, -r, "Failed to create bind source '%s'", m->source);
                        }
                        continue;
                }
                if (o->mounts[i].type != GB_MOUNT_VOLUME)
                        continue;
                r = gb_volume_create(e->cfg.data_root, varea, vu, vg, o->mounts[i].source, NULL, &name, err);
                if (r < 0)
                        return r;
                fresh = gb_volume_is_empty(e->cfg.data_root, varea, name);
                m->anonymous = o->mounts[i].source == NULL;
                m->source = gb_volume_path(e->cfg.data_root, varea, name);
                m->volume_name = TAKE_PTR(name);
                if (remapped && e->remap.enabled && !same) {
                        /* A range of its own (--userns=auto): the volume's
                         * default-range IDs appear as this container's. */
                        if (gb_idmap_compose(&e->remap.uids, uids, &shift[2 * i]) < 0 ||
                            gb_idmap_compose(&e->remap.gids, gids, &shift[2 * i + 1]) < 0)
                                return gb_error_set(err, E2BIG, "Failed to map volume '%s' into the container's range",
                                                    m->volume_name);
                        m->shift_uids = &shift[2 * i];
                        m->shift_gids = &shift[2 * i + 1];
                }
                if (fresh && !m->nocopy) {
                        _cleanup_close_ int sfd = -EBADF, dfd = -EBADF;
                        struct idxlate x = {
                                .seen_u = remapped ? uids : NULL,
                                .seen_g = remapped ? gids : NULL,
                                .vol_u = e->remap.enabled ? &e->remap.uids : NULL,
                                .vol_g = e->remap.enabled ? &e->remap.gids : NULL,
                        };
                        src = gb_xasprintf("%s%s", rootfs, m->target);
                        sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        dfd = open(m->source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sfd >= 0 && dfd >= 0) {
                                struct stat st;
                                /* The volume takes the image directory's
                                 * owner and mode too, so a non-root image
                                 * user (www-data) can write to it. */
                                if (fstat(sfd, &st) == 0 && (fchown(dfd, xlate(x.seen_u, x.vol_u, st.st_uid),
                                                                    xlate(x.seen_g, x.vol_g, st.st_gid)) < 0 ||
                                                             fchmod(dfd, st.st_mode & 07777) < 0))
                                        return gb_error_sys(err, errno, "Failed to set the owner of volume '%s'",
                                                            m->volume_name);
                                r = copy_tree(sfd, dfd, &x, 0);
                                if (r < 0)
                                        return gb_error_sys(err, -r, "Failed to copy '%s' into volume '%s'", m->target,
                                                            m->volume_name);
                        }
                }
        }
        return 0;
}

static void free_copies(struct gb_mount_req *copies, size_t n)
{
        for (size_t i = 0; copies && i < n; i++) {
                free(copies[i].source);
                free(copies[i].volume_name);
        }
        free(copies);
}

static json_t *mounts_json(const struct gb_run_opts *o, const struct gb_mount_req *copies, json_t **ret_binds)
{
        json_t *a = json_array(), *binds = json_array();

        for (size_t i = 0; i < o->n_mounts; i++) {
                const struct gb_mount_req *m = &copies[i];
                json_t *e;
                if (m->type == GB_MOUNT_TMPFS) {
                        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "tmpfs", "Source",
                                                           "", "Destination", m->target, "Mode", "", "RW", !m->readonly,
                                                           "Propagation", ""));
                        continue;
                }
                e = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", m->type == GB_MOUNT_BIND ? "bind" : "volume",
                              "Source", m->source ? m->source : "", "Destination", m->target, "Mode",
                              m->idmap ? "idmap" : "", "RW", !m->readonly, "Propagation",
                              m->type == GB_MOUNT_BIND ? (m->propagation ? m->propagation : "rprivate") : "");
                if (m->type == GB_MOUNT_VOLUME) {
                        json_object_set_new(e, "Name", json_string(m->volume_name));
                        json_object_set_new(e, "Driver", json_string("local"));
                        if (m->anonymous)
                                json_object_set_new(e, "Anonymous", json_true());
                }
                json_array_append_new(a, e);
                if (m->type == GB_MOUNT_BIND || (m->type == GB_MOUNT_VOLUME && !m->anonymous))
                        json_array_append_new(binds, json_sprintf("%s:%s%s",
                                                                  m->type == GB_MOUNT_BIND ? m->source : m->volume_name,
                                                                  m->target, m->readonly ? ":ro" : ""));
        }
        *ret_binds = binds;
        return a;
}

static json_t *strv_or_null(char *const *v)
{
        json_t *a;

        if (!v)
                return json_null();
        a = json_array();
        for (; *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

/* The parts of an OCI image config the spec builder reads. */
static json_t *image_config_json(const struct gb_image_config *c)
{
        json_t *ep = json_object();

        for (char **k = c->exposed_ports; k && *k; k++)
                json_object_set_new(ep, *k, json_object());
        return json_pack("{s:o, s:o, s:o, s:s, s:s, s:o}", "Env", strv_or_null(c->env), "Cmd", strv_or_null(c->cmd),
                         "Entrypoint", strv_or_null(c->entrypoint), "WorkingDir", c->working_dir ? c->working_dir : "",
                         "User", c->user ? c->user : "", "ExposedPorts", ep);
}

/* Undo gb_rootfs_prepare for the container a record describes. */
static int release_image_rootfs(struct gb_engine *e, struct gb_container *c, struct gb_error *err)
{
        _cleanup_(gb_store_freep) struct gb_store *store = NULL;
        json_t *g = json_object_get(c->doc, "Ghostbox");
        const char *image_id = json_string_value(json_object_get(g, "ImageId"));
        const char *mode = json_string_value(json_object_get(g, "StorageMode"));
        struct gb_idmap uids, gids;
        struct gb_rootfs_opts ro = {.exec_root = e->cfg.exec_root, .container_id = c->id, .image_id = image_id};
        int r;

        if (!image_id || !*image_id)
                return 0;
        r = gb_store_open(e->cfg.data_root, &store, err);
        if (r < 0)
                return r;
        gb_container_idmap_from_json(json_object_get(g, "UidMap"), &uids);
        gb_container_idmap_from_json(json_object_get(g, "GidMap"), &gids);
        if (uids.n) {
                ro.uids = &uids;
                ro.gids = &gids;
        }
        if (mode && *mode) {
                ro.shift = strcmp(mode, "chown") == 0 ? GB_STORAGE_SHIFT_CHOWN : GB_STORAGE_SHIFT_IDMAP;
                r = gb_rootfs_release(store, &ro, err);
        } else {
                /* A create that died inside prepare never recorded the
                 * mode: release is idempotent, so undo either. */
                ro.shift = GB_STORAGE_SHIFT_IDMAP;
                r = gb_rootfs_release(store, &ro, err);
                ro.shift = GB_STORAGE_SHIFT_CHOWN;
                if (r >= 0)
                        r = gb_rootfs_release(store, &ro, err);
        }
        if (r < 0)
                return r;
        return gb_store_image_unref(store, image_id, c->id, err);
}

static json_t *idmap_json(const struct gb_idmap *m)
{
        json_t *a = json_array();
        for (size_t i = 0; i < m->n; i++)
                json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "ContainerID", (json_int_t)m->r[i].container_id,
                                                   "HostID", (json_int_t)m->r[i].host_id, "Size",
                                                   (json_int_t)m->r[i].count));
        return a;
}

/* hostname, hosts, resolv.conf: derived, rewritten at every create, so no
 * fsync. */
static int write_owned(const char *path, const char *text, uid_t uid, gid_t gid, struct gb_error *err)
{
        int r = gb_write_file_replace(path, text, strlen(text), 0644);

        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", path);
        if (chown(path, uid, gid) < 0)
                return gb_error_sys(err, errno, "Failed to chown '%s'", path);
        return 0;
}

/* Docker's resolv.conf rule: the host's, minus loopback nameservers (they
 * cannot be reached from a private network namespace). */
static char *resolv_conf(void)
{
        _cleanup_free_ char *host = NULL;
        char *out = gb_xstrdup(""), *save = NULL;
        bool ns = false;

        if (gb_read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 16, &host, NULL) < 0)
                host = gb_xstrdup("");
        for (char *l = strtok_r(host, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (gb_str_has_prefix(l, "nameserver") &&
                    (strstr(l, " 127.") || strstr(l, " ::1") || strstr(l, "\t127.")))
                        continue;
                if (gb_str_has_prefix(l, "nameserver"))
                        ns = true;
                char *n = gb_xasprintf("%s%s\n", out, l);
                free(out);
                out = n;
        }
        if (!ns) {
                char *n = gb_xasprintf("%snameserver 8.8.8.8\nnameserver 8.8.4.4\n", out);
                free(out);
                out = n;
        }
        return out;
}

/* Mount dir at mountpoint, idmapped with the container's maps when it has
 * them, so files owned by host root in dir belong to the container's root
 * (--rootfs). */
static int mount_rootfs_dir(const char *dir, const char *mountpoint, const struct gb_idmap *uids,
                            const struct gb_idmap *gids, struct gb_error *err)
{
        _cleanup_close_ int ns = -EBADF, tree = -EBADF;
        int r;

        if (!uids) {
                if (mount(dir, mountpoint, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return gb_error_sys(err, errno, "Failed to bind '%s' onto '%s'", dir, mountpoint);
                return 0;
        }
        r = gb_userns_open(uids, gids, &ns, err);
        if (r < 0)
                return r;
        r = gb_idmapped_tree(AT_FDCWD, dir, ns, false, &tree, err);
        if (r < 0)
                return gb_error_prefix(err,
                                       "Failed to use '%s' as a remapped root filesystem (the filesystem "
                                       "cannot be idmapped)",
                                       dir);
        if (move_mount(tree, "", AT_FDCWD, mountpoint, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return gb_error_sys(err, errno, "Failed to mount '%s' onto '%s'", dir, mountpoint);
        return 0;
}

/* Unmount everything at or below dir, deepest first. */
static void unmount_below(const char *dir)
{
        for (int round = 0; round < 64; round++) {
                _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
                _cleanup_free_ char *line = NULL, *best = NULL;
                size_t cap = 0, dlen = strlen(dir);

                if (!f)
                        return;
                while (getline(&line, &cap, f) > 0) {
                        char mp[PATH_MAX];
                        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                                continue;
                        if (strncmp(mp, dir, dlen) == 0 && (mp[dlen] == '/' || mp[dlen] == '\0') &&
                            (!best || strlen(mp) > strlen(best))) {
                                free(best);
                                best = gb_xstrdup(mp);
                        }
                }
                if (!best)
                        return;
                if (umount2(best, MNT_DETACH) < 0)
                        return;
        }
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();
        for (; v && *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

/* Docker's port fields: Config.ExposedPorts (the image's, --expose's and
 * every published port's), HostConfig.PortBindings and PublishAllPorts,
 * and NetworkSettings.Ports with every exposed port unbound (null) until
 * the monitor binds them at start. With --network=host, published ports are
 * discarded as Docker does (the front end warns). */
static void set_port_fields(json_t *doc, const struct gb_run_opts *o, json_t *image_config)
{
        json_t *empty = json_object(), *v;
        /* The image's, with canonical keys; an sctp port stays out. */
        json_t *exposed = gb_portspec_canon_keys(json_object_get(image_config, "ExposedPorts"), empty);
        json_t *pb = o->port_bindings && !o->net_host ? json_deep_copy(o->port_bindings) : json_object();
        const char *k;

        json_decref(empty);
        if (o->exposed_ports)
                json_object_update(exposed, o->exposed_ports);
        json_object_foreach (pb, k, v)
                json_object_set_new(exposed, k, json_object());
        json_object_set_new(json_object_get(doc, "Config"), "ExposedPorts", exposed);
        json_object_set_new(json_object_get(doc, "HostConfig"), "PortBindings", pb);
        json_object_set_new(json_object_get(doc, "HostConfig"), "PublishAllPorts",
                            json_boolean(o->publish_all && !o->net_host));
        if (!json_is_object(json_object_get(doc, "NetworkSettings")))
                json_object_set_new(doc, "NetworkSettings", json_pack("{s:{}}", "Networks"));
        json_object_set_new(json_object_get(doc, "NetworkSettings"), "Ports", gb_portspec_ports_json(NULL, 0, exposed));
}

static json_t *build_record(const char *id, const char *name, const struct gb_run_opts *o,
                            const struct gb_create_src *src, json_t *spec, const char *dir, const char *area,
                            const struct gb_idmap *uids, const struct gb_idmap *gids)
{
        _cleanup_free_ char *now = gb_timestamp_now(), *slashed = gb_xasprintf("/%s", name);
        _cleanup_free_ char *log = gb_xasprintf("%s/%s-json.log", dir, id);
        json_t *process = json_object_get(spec, "process"), *args = json_object_get(process, "args");
        const char *usermode = o->userns == GB_USERNS_HOST ? "host" : o->userns == GB_USERNS_AUTO ? "auto" : "";
        json_t *rest = json_array(), *doc;
        json_t *entrypoint = o->entrypoint_set ? strv_json(o->entrypoint)
                             : json_is_array(json_object_get(src->image_config, "Entrypoint"))
                                     ? json_deep_copy(json_object_get(src->image_config, "Entrypoint"))
                                     : json_null();
        size_t i;
        json_t *v;

        json_array_foreach (args, i, v)
                if (i > 0)
                        json_array_append(rest, v);
        doc = json_pack("{s:s, s:s, s:s, s:O, s:o, s:{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}, s:s, "
                        "s:s, s:s, s:s}",
                        "Id", id, "Created", now, "Path", json_string_value(json_array_get(args, 0)), "Args", rest,
                        "Config",
                        json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:O, s:O, s:s, s:o, s:o}", "Hostname",
                                  json_string_value(json_object_get(spec, "hostname")), "User", o->user ? o->user : "",
                                  "Image", src->image_ref ? src->image_ref : "", "AttachStdin",
                                  o->interactive && !o->detach, "AttachStdout", !o->detach, "AttachStderr", !o->detach,
                                  "Tty", o->tty, "OpenStdin", o->interactive, "StdinOnce", o->interactive && !o->detach,
                                  "Env", json_object_get(process, "env"), "Cmd", args, "WorkingDir",
                                  json_string_value(json_object_get(process, "cwd")), "Entrypoint", entrypoint,
                                  "Labels", json_object()),
                        "State", "Status", "created", "Running", 0, "Paused", 0, "Restarting", 0, "OOMKilled", 0,
                        "Dead", 0, "Pid", 0, "ExitCode", 0, "Error", "", "StartedAt", "0001-01-01T00:00:00Z",
                        "FinishedAt", "0001-01-01T00:00:00Z", "Image", src->image_id ? src->image_id : "", "Name",
                        slashed, "LogPath", log, "Driver", "overlay2");
        json_decref(rest);
        json_object_set_new(doc, "HostConfig",
                            json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o, s:o}", "AutoRemove", o->rm,
                                      "Privileged", o->privileged, "UsernsMode", usermode, "PidMode",
                                      o->pid_host ? "host" : "", "NetworkMode",
                                      o->net_host   ? "host"
                                      : o->net_none ? "none"
                                      : o->network  ? o->network
                                                    : "default",
                                      "ReadonlyRootfs", o->read_only, "CapAdd", strv_json(o->cap_add), "CapDrop",
                                      strv_json(o->cap_drop), "Binds", json_array(), "Tmpfs", strv_json(o->tmpfs),
                                      "SecurityOpt", json_array()));
        /* The one log driver there is; SDKs read it (docker-py's run()
         * decides from it whether logs can be fetched). */
        json_object_set_new(json_object_get(doc, "HostConfig"), "LogConfig",
                            json_pack("{s:s, s:{}}", "Type", "json-file", "Config"));
        json_object_set_new(doc, "Mounts", json_array());
        set_port_fields(doc, o, src->image_config);
        json_object_set_new(doc, "GraphDriver",
                            json_pack("{s:s, s:{s:s}}", "Name", src->rootfs_dir ? "rootfs" : "overlay2", "Data",
                                      "MergedDir",
                                      json_string_value(json_object_get(json_object_get(spec, "root"), "path"))));
        json_object_set_new(doc, "Ghostbox",
                            json_pack("{s:s, s:o, s:o, s:s, s:s}", "Area", area, "UidMap",
                                      uids ? idmap_json(uids) : json_array(), "GidMap",
                                      gids ? idmap_json(gids) : json_array(), "RootfsSource",
                                      src->rootfs_dir ? src->rootfs_dir : "", "StorageMode",
                                      src->rootfs_dir ? (uids ? "idmap" : "bind") : ""));
        return doc;
}

GB_EXPORT int gb_engine_create(struct gb_engine *e, const struct gb_run_opts *o, const struct gb_create_src *src,
                               char ret_id[GB_CONTAINER_ID_LEN + 1], struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_free_ char *name = NULL, *area = NULL, *dir = NULL, *rootfs = NULL, *cfgpath = NULL;
        _cleanup_free_ char *hostname_f = NULL, *hosts_f = NULL, *resolv_f = NULL, *hosts = NULL, *resolv = NULL;
        _cleanup_free_ char *spec_text = NULL, *hn = NULL;
        _cleanup_close_ int rootfd = -EBADF;
        struct gb_run_user user = {0};
        struct gb_idmap uids = {0}, gids = {0};
        struct gb_mount_req *copies = NULL;
        struct gb_idmap *shift = NULL;
        struct gb_run_opts oc;
        _cleanup_(gb_store_freep) struct gb_store *store = NULL;
        struct gb_image_config *icfg = NULL;
        struct gb_rootfs rf = {0};
        struct gb_create_src src2 = *src;
        char image_id[GB_DIGEST_LEN] = "";
        json_t *ic = NULL;
        bool remapped = false, auto_held = false, mounted = false, image_prepared = false, net_connected = false;
        json_t *net_settings = NULL;
        const char *netname = o->network;
        _cleanup_free_ char *net_name = NULL;
        char id[GB_CONTAINER_ID_LEN + 1];
        uid_t root_uid = 0;
        gid_t root_gid = 0;
        json_t *spec = NULL, *doc = NULL;
        int r;

        if (!src->rootfs_dir) {
                if (!src->image_ref)
                        return gb_error_set(err, EINVAL, "Failed to create container: no image given");
                r = gb_store_open(e->cfg.data_root, &store, err);
                if (r < 0)
                        return r;
                r = gb_store_resolve(store, src->image_ref, image_id, err);
                if (r < 0)
                        return r == -ENOENT
                                       ? gb_error_set(err, ENOENT,
                                                      "Unable to find image '%s' locally; ghostbox does not pull "
                                                      "from registries: `ghostbox load -i FILE` or `ghostbox import "
                                                      "FILE %s` it first",
                                                      src->image_ref, src->image_ref)
                                       : r;
                r = gb_store_image_config(store, image_id, &icfg, err);
                if (r < 0)
                        return r;
                ic = image_config_json(icfg);
                gb_image_config_free(icfg);
                src2.image_config = ic;
                src2.image_id = image_id;
        }
        r = gb_container_new_id(id, err);
        if (r < 0) {
                json_decref(ic);
                return r;
        }
        if (o->name && *o->name) {
                if (!gb_container_name_valid(o->name))
                        return gb_error_set(err, EINVAL,
                                            "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                            o->name);
                name = gb_xstrdup(o->name[0] == '/' ? o->name + 1 : o->name);
        } else
                name = gb_container_random_name();

        switch (o->userns) {
        case GB_USERNS_HOST:
                break;
        case GB_USERNS_DEFAULT:
                if (e->remap.enabled) {
                        uids = e->remap.uids;
                        gids = e->remap.gids;
                        remapped = true;
                }
                break;
        case GB_USERNS_AUTO:
                r = alloc_auto(e, id, o->userns_size, &uids, &gids, err);
                if (r < 0)
                        return r;
                auto_held = true;
                remapped = true;
                gb_crash_point("create:after-auto-alloc");
                break;
        }
        r = gb_runspec_check(o, remapped, err);
        if (r < 0)
                goto fail;
        if (o->net_none && (json_object_size(o->port_bindings) > 0 || o->publish_all)) {
                r = gb_error_set(err, EINVAL,
                                 "conflicting options: port publishing and the container type network mode (--network "
                                 "none has no network to publish from; drop -p/-P or use another network)");
                goto fail;
        }
        /* No network asked for: daemon.json's default-network, if any. */
        if (!netname && !o->net_host && !o->net_none && !o->net_private && e->cfg.default_network &&
            *e->cfg.default_network)
                netname = e->cfg.default_network;
        if (remapped) {
                uint32_t hu, hg;
                if (gb_idmap_to_host(&uids, 0, &hu) < 0 || gb_idmap_to_host(&gids, 0, &hg) < 0) {
                        r = gb_error_set(err, EINVAL, "Failed to create container: its ID map leaves root unmapped");
                        goto fail;
                }
                root_uid = hu;
                root_gid = hg;
        }
        area = gb_xasprintf("%u.%u", (unsigned)root_uid, (unsigned)root_gid);
        dir = gb_xasprintf("%s/%s/containers/%s", e->cfg.data_root, area, id);
        rootfs = gb_xasprintf("%s/rootfs", dir);

        /* A placeholder record first: it reserves the name and owns the
         * directory, so a failure below has one thing to undo. */
        /* A generated name may collide with a live one (Docker's word lists
         * are finite too): draw again, then add digits, as Docker does. */
        for (int attempt = 0;; attempt++) {
                /* The placeholder already says what to undo after a crash:
                 * the image (its reference and root filesystem), the maps,
                 * and whether the range is an --userns=auto one. */
                doc = json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s, s:o, s:o}}", "Id", id, "Name", name,
                                "Created", "", "State", "Status", "creating", "HostConfig", "UsernsMode",
                                o->userns == GB_USERNS_AUTO   ? "auto"
                                : o->userns == GB_USERNS_HOST ? "host"
                                                              : "",
                                "Ghostbox", "ImageId", image_id, "UidMap", remapped ? idmap_json(&uids) : json_array(),
                                "GidMap", remapped ? idmap_json(&gids) : json_array());
                r = gb_container_create(e->cfg.data_root, area, root_uid, root_gid, doc, &c, err);
                json_decref(doc);
                doc = NULL;
                if (r != -EEXIST || (o->name && *o->name) || attempt >= 20)
                        break;
                free(name);
                name = gb_container_random_name();
                if (attempt >= 3) {
                        char *n = gb_xasprintf("%s%u", name, (unsigned)(id[attempt % 64] * 31u + (unsigned)attempt));
                        free(name);
                        name = n;
                }
        }
        if (r < 0)
                goto fail;
        gb_crash_point("create:after-record");

        if (store) {
                struct gb_rootfs_opts ro = {
                        .exec_root = e->cfg.exec_root,
                        .container_id = id,
                        .image_id = image_id,
                        .uids = remapped ? &uids : NULL,
                        .gids = remapped ? &gids : NULL,
                        .shift = e->cfg.storage_shift,
                };
                r = gb_store_image_ref(store, image_id, id, err);
                if (r < 0)
                        goto fail_record;
                r = gb_rootfs_prepare(store, &ro, &rf, err);
                if (r < 0) {
                        (void)gb_store_image_unref(store, image_id, id, NULL);
                        goto fail_record;
                }
                image_prepared = true;
                mounted = true;
        } else {
                if (mkdir(rootfs, 0755) < 0) {
                        r = gb_error_sys(err, errno, "Failed to create '%s'", rootfs);
                        goto fail_record;
                }
                r = mount_rootfs_dir(src->rootfs_dir, rootfs, remapped ? &uids : NULL, remapped ? &gids : NULL, err);
                if (r < 0)
                        goto fail_record;
                mounted = true;
        }
        gb_crash_point("create:after-rootfs");
        rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
                r = gb_error_sys(err, errno, "Failed to open '%s'", rootfs);
                goto fail_record;
        }
        /* -u, else the image's USER. */
        r = gb_runspec_resolve_user(
                rootfd, o->user && *o->user ? o->user : json_string_value(json_object_get(src2.image_config, "User")),
                &user, err);
        if (r < 0)
                goto fail_record;

        copies = gb_xcalloc(o->n_mounts + 1, sizeof(*copies));
        shift = gb_xcalloc(2 * o->n_mounts + 2, sizeof(*shift));
        r = resolve_volumes(e, o, rootfs, remapped, &uids, &gids, copies, shift, err);
        if (r < 0)
                goto fail_record;
        oc = *o;
        oc.mounts = copies;

        hn = gb_xstrdup(o->hostname && *o->hostname ? o->hostname : id);
        if (!(o->hostname && *o->hostname))
                hn[12] = '\0';
        hostname_f = gb_xasprintf("%s/hostname", dir);
        hosts_f = gb_xasprintf("%s/hosts", dir);
        resolv_f = gb_xasprintf("%s/resolv.conf", dir);
        hosts = gb_xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", hn);
        resolv = resolv_conf();
        {
                _cleanup_free_ char *hnl = gb_xasprintf("%s\n", hn);
                if ((r = write_owned(hostname_f, hnl, root_uid, root_gid, err)) < 0 ||
                    (r = write_owned(hosts_f, hosts, root_uid, root_gid, err)) < 0 ||
                    (r = write_owned(resolv_f, resolv, root_uid, root_gid, err)) < 0)
                        goto fail_record;
        }
        if (netname) {
                struct gb_endpoint_req req = {
                        .container_id = id,
                        .name = name,
                        .hostname = hn,
                        .aliases = o->net_aliases,
                        .hosts_path = hosts_f,
                        .ip = o->ip,
                };
                r = gb_network_connect(e->cfg.data_root, netname, &req, &net_settings, &net_name, err);
                if (r < 0)
                        goto fail_record;
                net_connected = true;
        }

        {
                struct gb_runspec_in in = {
                        .opts = &oc,
                        .image_config = src2.image_config,
                        .user = &user,
                        .rootfs = rootfs,
                        .id = id,
                        .uids = remapped ? &uids : NULL,
                        .gids = remapped ? &gids : NULL,
                        .hosts_file = hosts_f,
                        .resolv_file = resolv_f,
                        .hostname_file = hostname_f,
                        .init_path = o->init && access(e->init_path, X_OK) == 0 ? e->init_path : NULL,
                };
                r = gb_runspec_build(&in, &spec, err);
                if (r < 0)
                        goto fail_record;
        }
        spec_text = json_dumps(spec, JSON_INDENT(2));
        cfgpath = gb_xasprintf("%s/config.json", dir);
        /* Derived from the record, which is fsynced right after. */
        r = gb_write_file_replace(cfgpath, spec_text, strlen(spec_text), 0600);
        if (r < 0) {
                r = gb_error_sys(err, -r, "Failed to write '%s'", cfgpath);
                goto fail_record;
        }
        doc = build_record(id, name, o, &src2, spec, dir, area, remapped ? &uids : NULL, remapped ? &gids : NULL);
        if (image_prepared) {
                json_t *g = json_object_get(doc, "Ghostbox");
                json_object_set_new(g, "ImageId", json_string(image_id));
                json_object_set_new(g, "StorageMode", json_string(gb_storage_shift_to_string(rf.mode)));
                {
                        _cleanup_free_ char *upper = gb_xasprintf("%s/upper", dir),
                                            *work = gb_xasprintf("%s/work", dir);
                        json_object_set_new(
                                json_object_get(doc, "GraphDriver"), "Data",
                                json_pack("{s:s, s:s, s:s}", "MergedDir", rf.path, "UpperDir", upper, "WorkDir", work));
                }
        }
        {
                json_t *binds = NULL;
                json_object_set_new(doc, "Mounts", mounts_json(o, copies, &binds));
                json_object_set_new(json_object_get(doc, "HostConfig"), "Binds", binds);
        }
        if (net_settings) {
                /* Docker's shape; the top-level fields mirror the one
                 * network, as Docker's do for the default bridge. */
                json_t *ports = json_incref(json_object_get(json_object_get(doc, "NetworkSettings"), "Ports"));
                json_object_set_new(json_object_get(doc, "HostConfig"), "NetworkMode", json_string(net_name));
                json_object_set_new(doc, "NetworkSettings",
                                    json_pack("{s:{s:O}, s:{}, s:s, s:s, s:O, s:O, s:O, s:O}", "Networks", net_name,
                                              net_settings, "Ports", "Bridge", "", "SandboxKey", "", "IPAddress",
                                              json_object_get(net_settings, "IPAddress"), "IPPrefixLen",
                                              json_object_get(net_settings, "IPPrefixLen"), "Gateway",
                                              json_object_get(net_settings, "Gateway"), "MacAddress",
                                              json_object_get(net_settings, "MacAddress")));
                if (ports)
                        json_object_set_new(json_object_get(doc, "NetworkSettings"), "Ports", ports);
        }
        json_decref(c->doc);
        c->doc = doc;
        doc = NULL;
        gb_crash_point("create:before-final-record");
        r = gb_container_save(c, err);
        if (r < 0)
                goto fail_record;
        json_decref(spec);
        gb_run_user_clear(&user);
        free_copies(copies, o->n_mounts);
        free(shift);
        json_decref(ic);
        gb_rootfs_done(&rf);
        json_decref(net_settings);
        memcpy(ret_id, id, sizeof(id));
        return 0;

fail_record:
        if (net_connected)
                (void)gb_network_disconnect(e->cfg.data_root, e->cfg.exec_root,
                                            json_string_value(json_object_get(net_settings, "NetworkID")), id, NULL);
        json_decref(net_settings);
        net_settings = NULL;
        if (image_prepared) {
                struct gb_rootfs_opts ro = {
                        .exec_root = e->cfg.exec_root,
                        .container_id = id,
                        .image_id = image_id,
                        .uids = remapped ? &uids : NULL,
                        .gids = remapped ? &gids : NULL,
                        .shift = rf.mode,
                };
                (void)gb_rootfs_release(store, &ro, NULL);
                (void)gb_store_image_unref(store, image_id, id, NULL);
        }
        if (mounted)
                unmount_below(dir);
        (void)gb_container_remove(e->cfg.data_root, c, NULL);
        /* Anonymous volumes made for this container go with it. */
        for (size_t i = 0; copies && i < o->n_mounts; i++)
                if (copies[i].anonymous && copies[i].volume_name) {
                        _cleanup_free_ char *va = gb_engine_volume_area(e, NULL, NULL);
                        (void)gb_volume_remove(e->cfg.data_root, va, copies[i].volume_name, NULL);
                }
fail:
        free_copies(copies, o->n_mounts);
        free(shift);
        json_decref(ic);
        gb_rootfs_done(&rf);
        json_decref(spec);
        gb_run_user_clear(&user);
        if (auto_held)
                release_auto(e, id);
        return r;
}

static int lookup_locked(struct gb_engine *e, const char *ref, struct gb_container **ret, struct gb_error *err)
{
        int r = gb_container_lookup(e->cfg.data_root, ref, true, ret, err);
        if (r < 0)
                return r;
        (void)gb_engine_refresh(e, *ret, NULL);
        return 0;
}

static pid_t record_pid(const struct gb_container *c, unsigned long long *ret_start)
{
        json_t *st = json_object_get(c->doc, "State"), *g = json_object_get(c->doc, "Ghostbox");

        if (ret_start)
                *ret_start = (unsigned long long)json_integer_value(json_object_get(g, "InitStartTime"));
        return (pid_t)json_integer_value(json_object_get(st, "Pid"));
}

GB_EXPORT bool gb_engine_init_alive(const struct gb_container *c)
{
        unsigned long long start;
        pid_t pid = record_pid(c, &start);

        return pid > 0 && gb_pid_alive(pid, start);
}

static bool monitor_alive(const struct gb_container *c)
{
        json_t *g = json_object_get(c->doc, "Ghostbox");
        pid_t mpid = (pid_t)json_integer_value(json_object_get(g, "MonitorPid"));
        unsigned long long st = (unsigned long long)json_integer_value(json_object_get(g, "MonitorStartTime"));

        /* Pid and start time: a reused pid is not our monitor. (Not the
         * name: a sealed monitor runs as "memfd:...".) */
        return mpid > 0 && st > 0 && gb_pid_alive(mpid, st);
}

GB_EXPORT int gb_engine_refresh(struct gb_engine *e, struct gb_container *c, struct gb_error *err)
{
        const char *status = gb_container_status(c);
        json_t *st = json_object_get(c->doc, "State");
        bool init = gb_engine_init_alive(c);

        (void)e;
        if ((strcmp(status, "running") == 0 || strcmp(status, "created") == 0) && record_pid(c, NULL) > 0 &&
            !monitor_alive(c)) {
                _cleanup_free_ char *now = gb_timestamp_now();
                json_t *ns = json_object_get(c->doc, "NetworkSettings");
                /* The published ports' listeners were the monitor's: they
                 * died with it (Docker's null values). */
                if (json_is_object(json_object_get(ns, "Ports")))
                        json_object_set_new(
                                ns, "Ports",
                                gb_portspec_ports_json(
                                        NULL, 0, json_object_get(json_object_get(c->doc, "Config"), "ExposedPorts")));
                if (init) {
                        /* The monitor died but the container lives: it keeps
                         * running, unmonitored (no logs, no exit code). */
                        if (json_is_string(json_object_get(st, "Error")) &&
                            strlen(json_string_value(json_object_get(st, "Error"))) > 0)
                                return 0;
                        json_object_set_new(st, "Error",
                                            json_string("monitor process died; the container runs "
                                                        "unmonitored"));
                } else {
                        json_object_set_new(st, "Status", json_string("exited"));
                        json_object_set_new(st, "Running", json_false());
                        json_object_set_new(st, "Dead", json_false());
                        json_object_set_new(st, "Pid", json_integer(0));
                        json_object_set_new(st, "ExitCode", json_integer(137));
                        json_object_set_new(st, "FinishedAt", json_string(now));
                        json_object_set_new(st, "Error", json_string("monitor process died; exit code unknown"));
                }
                if (c->lock_fd < 0)
                        return 1;
                int r = gb_container_save(c, err);
                return r < 0 ? r : 1;
        }
        return 0;
}

/* Bring the loopback interface of the container's network namespace up,
 * as Docker's "none" and default networks have it. A forked child joins
 * the namespace so this process's own stays untouched. */
static int loopback_up(pid_t pid, struct gb_error *err)
{
        char path[64];
        _cleanup_close_ int nsfd = -EBADF;
        pid_t child;
        int status;

        (void)snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", path);
        child = fork();
        if (child < 0)
                return gb_error_sys(err, errno, "Failed to fork");
        if (child == 0) {
                struct ifreq ifr = {0};
                int s;
                if (setns(nsfd, CLONE_NEWNET) < 0)
                        _exit(1);
                s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (s < 0)
                        _exit(2);
                memcpy(ifr.ifr_name, "lo", 3);
                if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
                        _exit(3);
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                _exit(ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? 4 : 0);
        }
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return gb_error_set(err, EIO, "Failed to bring up the container's loopback interface (step %d)",
                                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
}

/* Wire the container to each bridge network it has an endpoint on. */
static int attach_networks(struct gb_engine *e, struct gb_container *c, struct gb_error *err)
{
        json_t *n;
        const char *name;

        json_object_foreach (json_object_get(json_object_get(c->doc, "NetworkSettings"), "Networks"), name, n) {
                const char *nid = json_string_value(json_object_get(n, "NetworkID"));
                if (!nid || !*nid)
                        continue;
                int r = gb_network_attach(e->cfg.data_root, e->cfg.exec_root, nid, c->id, record_pid(c, NULL), err);
                if (r < 0)
                        return gb_error_prefix(err, "Failed to connect container %.12s to network %s", c->id, name);
        }
        return 0;
}

static json_t *networks_of(struct gb_container *c)
{
        json_t *ns = json_object_get(c->doc, "NetworkSettings");

        if (!json_is_object(ns)) {
                ns = json_pack("{s:{}, s:{}}", "Networks", "Ports");
                json_object_set_new(c->doc, "NetworkSettings", ns);
        }
        if (!json_is_object(json_object_get(ns, "Networks")))
                json_object_set_new(ns, "Networks", json_object());
        return json_object_get(ns, "Networks");
}

GB_EXPORT int gb_engine_network_connect(struct gb_engine *e, const char *ref, const char *net, char *const *aliases,
                                        const char *ip, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_free_ char *hosts = NULL, *ifname = NULL, *net_name = NULL;
        json_auto_t *rec = NULL;
        json_t *nets, *settings = NULL;
        const char *mode;
        int r;

        r = lookup_locked(e, ref, &c, err);
        if (r < 0)
                return r;
        mode = json_string_value(json_object_get(json_object_get(c->doc, "HostConfig"), "NetworkMode")) ?: "";
        if (strcmp(mode, "host") == 0 || strcmp(mode, "none") == 0)
                return gb_error_set(err, EPERM, "container %.12s is in network mode %s: it cannot join a network",
                                    c->id, mode);
        r = gb_network_find(e->cfg.data_root, net, &rec, err);
        if (r < 0)
                return r;
        nets = networks_of(c);
        if (json_object_get(nets, json_string_value(json_object_get(rec, "Name"))))
                return gb_error_set(err, EEXIST, "endpoint with name %s already exists in network %s",
                                    gb_container_name(c), json_string_value(json_object_get(rec, "Name")));
        hosts = gb_xasprintf("%s/hosts", c->dir);
        /* The lowest ethN none of its other endpoints uses. */
        for (unsigned n = 0; !ifname; n++) {
                _cleanup_free_ char *cand = gb_xasprintf("eth%u", n);
                bool used = false;
                const char *k;
                json_t *v;
                json_object_foreach (nets, k, v) {
                        json_auto_t *other = NULL;
                        if (gb_network_find(e->cfg.data_root, json_string_value(json_object_get(v, "NetworkID")) ?: k,
                                            &other, NULL) < 0)
                                continue;
                        json_t *ep = json_object_get(json_object_get(other, "Endpoints"), c->id);
                        used |= strcmp(json_string_value(json_object_get(ep, "IfName")) ?: "eth0", cand) == 0;
                }
                if (!used)
                        ifname = TAKE_PTR(cand);
        }
        {
                _cleanup_free_ char *hn = gb_xstrdup(
                        json_string_value(json_object_get(json_object_get(c->doc, "Config"), "Hostname")) ?: c->id);
                struct gb_endpoint_req req = {
                        .container_id = c->id,
                        .name = gb_container_name(c),
                        .hostname = hn,
                        .aliases = aliases,
                        .hosts_path = hosts,
                        .ip = ip,
                        .ifname = ifname,
                };
                r = gb_network_connect(e->cfg.data_root, net, &req, &settings, &net_name, err);
                if (r < 0)
                        return r;
        }
        json_object_set_new(nets, net_name, settings);
        r = gb_container_save(c, err);
        if (r < 0)
                goto undo;
        if (strcmp(gb_container_status(c), "running") == 0 && gb_engine_init_alive(c)) {
                r = gb_network_attach(e->cfg.data_root, e->cfg.exec_root, json_string_value(json_object_get(rec, "Id")),
                                      c->id, record_pid(c, NULL), err);
                if (r < 0)
                        goto undo;
        }
        return 0;
undo:
        (void)gb_network_disconnect(e->cfg.data_root, e->cfg.exec_root, json_string_value(json_object_get(rec, "Id")),
                                    c->id, NULL);
        json_object_del(nets, net_name);
        (void)gb_container_save(c, NULL);
        return r;
}

GB_EXPORT int gb_engine_network_disconnect(struct gb_engine *e, const char *ref, const char *net, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        json_auto_t *rec = NULL;
        json_t *nets;
        const char *name;
        int r;

        r = lookup_locked(e, ref, &c, err);
        if (r < 0)
                return r;
        r = gb_network_find(e->cfg.data_root, net, &rec, err);
        if (r < 0)
                return r;
        name = json_string_value(json_object_get(rec, "Name"));
        nets = networks_of(c);
        if (!json_object_get(nets, name))
                return gb_error_set(err, EINVAL, "container %.12s is not connected to network %s", c->id, name);
        /* Deleting the host end of the pair deletes the container's end. */
        r = gb_network_disconnect(e->cfg.data_root, e->cfg.exec_root, json_string_value(json_object_get(rec, "Id")),
                                  c->id, err);
        if (r < 0)
                return r;
        json_object_del(nets, name);
        return gb_container_save(c, err);
}

GB_EXPORT int gb_engine_start(struct gb_engine *e, const char *ref, unsigned attach_flags, int *ret_attach_fd,
                              pid_t *ret_monitor, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_free_ char *state = NULL;
        _cleanup_close_ int afd = -EBADF;
        const char *status;
        pid_t mon = 0;
        int r;

        r = lookup_locked(e, ref, &c, err);
        if (r < 0)
                return r;
        status = gb_container_status(c);
        if (strcmp(status, "running") == 0 && gb_engine_init_alive(c))
                return 0; /* Docker: starting a running container is a no-op */
        if (strcmp(status, "removing") == 0 || strcmp(status, "creating") == 0)
                return gb_error_set(err, EBUSY, "Failed to start container %s: it is being %s", ref,
                                    status[0] == 'r' ? "removed" : "created");
        /* A created container whose monitor died before start: its init
         * is stuck waiting; kill it and start over. */
        if (gb_engine_init_alive(c)) {
                unsigned long long st;
                pid_t pid = record_pid(c, &st);
                (void)kill(pid, SIGKILL);
        }
        state = gb_monitor_state_dir(e->cfg.exec_root, c->id);
        /* The monitor takes the record's lock to write it. */
        gb_container_unlock(c);
        r = gb_monitor_spawn(e->monitor_path, e->cli_path, e->cfg.path, e->cfg.userns_remap ? e->cfg.userns_remap : "",
                             e->cfg.data_root, e->cfg.exec_root, c->id, &mon, err);
        if (r < 0)
                return gb_error_prefix(err, "Failed to start container %.12s", c->id);
        gb_crash_point("start:after-monitor");
        r = gb_container_reload(c, err);
        if (r < 0)
                goto kill_it;
        {
                const char *nm =
                        json_string_value(json_object_get(json_object_get(c->doc, "HostConfig"), "NetworkMode"));
                if (!nm || strcmp(nm, "host") != 0) {
                        r = loopback_up(record_pid(c, NULL), err);
                        if (r < 0)
                                goto kill_it;
                }
                r = attach_networks(e, c, err);
                if (r < 0)
                        goto kill_it;
        }
        if (attach_flags) {
                r = gb_monitor_attach(state, attach_flags, &afd, err);
                if (r < 0)
                        goto kill_it;
        }
        r = gb_monitor_start(state, err);
        if (r < 0)
                goto kill_it;
        if (ret_attach_fd)
                *ret_attach_fd = TAKE_FD(afd);
        if (ret_monitor)
                *ret_monitor = mon;
        return 0;
kill_it:
        /* The init waits for start: kill it; the monitor records the exit. */
        if (record_pid(c, NULL) > 0)
                (void)kill(record_pid(c, NULL), SIGKILL);
        (void)waitpid(mon, NULL, 0);
        return r;
}

GB_EXPORT int gb_engine_kill(struct gb_engine *e, const char *ref, int sig, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        unsigned long long st;
        pid_t pid;
        int r;

        r = lookup_locked(e, ref, &c, err);
        if (r < 0)
                return r;
        pid = record_pid(c, &st);
        if (strcmp(gb_container_status(c), "running") != 0 || !gb_engine_init_alive(c))
                return gb_error_set(err, EINVAL, "Cannot kill container: %s: Container %s is not running", ref, c->id);
        /* pidfd, then re-check the start time: the pid cannot be reused
         * between the check and the signal. */
        pidfd = gb_pidfd_open(pid, 0);
        if (pidfd < 0 || !gb_pid_alive(pid, st))
                return gb_error_set(err, ESRCH, "Cannot kill container: %s: it exited", ref);
        if (gb_pidfd_send_signal(pidfd, sig, NULL, 0) < 0)
                return gb_error_sys(err, errno, "Cannot kill container: %s", ref);
        return 0;
}

static int wait_not_running(struct gb_engine *e, const char *id, int timeout_ms, int *ret_code)
{
        for (int waited = 0; timeout_ms < 0 || waited <= timeout_ms; waited += 20) {
                _cleanup_(gb_container_freep) struct gb_container *c = NULL;
                if (gb_container_lookup(e->cfg.data_root, id, false, &c, NULL) < 0) {
                        if (ret_code)
                                *ret_code = -1;
                        return 0; /* removed (--rm) */
                }
                (void)gb_engine_refresh(e, c, NULL);
                const char *s = gb_container_status(c);
                if (strcmp(s, "running") != 0 && !(strcmp(s, "created") == 0 && gb_engine_init_alive(c))) {
                        if (ret_code)
                                *ret_code = (int)json_integer_value(
                                        json_object_get(json_object_get(c->doc, "State"), "ExitCode"));
                        return 0;
                }
                (void)usleep(20 * 1000);
        }
        return -ETIMEDOUT;
}

GB_EXPORT int gb_engine_stop(struct gb_engine *e, const char *ref, int timeout, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        int r;

        r = gb_container_lookup(e->cfg.data_root, ref, false, &c, err);
        if (r < 0)
                return r;
        if (strcmp(gb_container_status(c), "running") != 0)
                return 0;
        r = gb_engine_kill(e, c->id, SIGTERM, NULL);
        if (r >= 0 && wait_not_running(e, c->id, timeout * 1000, NULL) == 0)
                return 0;
        (void)gb_engine_kill(e, c->id, SIGKILL, NULL);
        if (wait_not_running(e, c->id, 10000, NULL) < 0)
                return gb_error_set(err, ETIMEDOUT, "Failed to stop container %s: it did not exit after SIGKILL", ref);
        return 0;
}

GB_EXPORT int gb_engine_wait(struct gb_engine *e, const char *ref, int *ret_code, struct gb_error *err)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        int r = gb_container_lookup(e->cfg.data_root, ref, false, &c, err);

        if (r < 0)
                return r;
        (void)wait_not_running(e, c->id, -1, ret_code);
        return 0;
}

GB_EXPORT int gb_engine_remove(struct gb_engine *e, const char *ref, bool force, bool volumes, struct gb_error *err)
{
        _cleanup_strv_ char **anon = NULL;
        size_t n_anon = 0;
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_free_ char *state = NULL, *id = NULL;
        int r;

        r = lookup_locked(e, ref, &c, err);
        if (r < 0)
                return r;
        id = gb_xstrdup(c->id);
        if (gb_engine_init_alive(c)) {
                if (!force)
                        return gb_error_set(err, EBUSY,
                                            "You cannot remove a running container %s. Stop the container before "
                                            "attempting removal or force remove",
                                            c->id);
                unsigned long long st;
                pid_t pid = record_pid(c, &st);
                _cleanup_close_ int pidfd = gb_pidfd_open(pid, 0);
                if (pidfd >= 0 && gb_pid_alive(pid, st))
                        (void)gb_pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                /* Let the monitor record the exit (it needs the lock). */
                gb_container_unlock(c);
                (void)wait_not_running(e, id, 10000, NULL);
                gb_container_free(TAKE_PTR(c));
                r = lookup_locked(e, id, &c, err);
                if (r < 0)
                        return r == -ENOENT ? 0 : r;
        }
        json_object_set_new(json_object_get(c->doc, "State"), "Status", json_string("removing"));
        (void)gb_container_save_transient(c, NULL);
        gb_crash_point("rm:after-status");
        r = release_image_rootfs(e, c, err);
        if (r < 0)
                return gb_error_prefix(err, "Failed to remove container %s", c->id);
        gb_crash_point("rm:after-release");
        unmount_below(c->dir);
        state = gb_monitor_state_dir(e->cfg.exec_root, c->id);
        (void)gb_rm_rf(state);
        if (strcmp(json_string_value(json_object_get(json_object_get(c->doc, "HostConfig"), "UsernsMode")) ?: "",
                   "auto") == 0)
                release_auto(e, c->id);
        if (volumes) {
                json_t *m;
                size_t i;
                json_array_foreach (json_object_get(c->doc, "Mounts"), i, m)
                        if (json_is_true(json_object_get(m, "Anonymous")) &&
                            json_is_string(json_object_get(m, "Name"))) {
                                anon = gb_xrealloc(anon, (n_anon + 2) * sizeof(char *));
                                anon[n_anon++] = gb_xstrdup(json_string_value(json_object_get(m, "Name")));
                                anon[n_anon] = NULL;
                        }
        }
        {
                json_t *n;
                const char *nname;
                json_object_foreach (json_object_get(json_object_get(c->doc, "NetworkSettings"), "Networks"), nname,
                                     n) {
                        const char *nid = json_string_value(json_object_get(n, "NetworkID"));
                        if (nid && *nid)
                                (void)gb_network_disconnect(e->cfg.data_root, e->cfg.exec_root, nid, c->id, NULL);
                }
        }
        r = gb_container_remove(e->cfg.data_root, c, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_anon; i++) {
                _cleanup_free_ char *va = gb_engine_volume_area(e, NULL, NULL);
                _cleanup_strv_ char **users = NULL;
                if (gb_engine_volume_users(e, anon[i], &users, NULL) == 0 && users[0])
                        continue; /* still used elsewhere: keep it */
                (void)gb_volume_remove(e->cfg.data_root, va, anon[i], NULL);
        }
        return 0;
}
