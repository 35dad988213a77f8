/* The container filesystem as the Engine API's archive, export and changes
 * endpoints see it (`docker cp`, `docker export`, `docker diff`).
 *
 * Everything happens from the host on the container's mounted root
 * (<dir>/rootfs: the overlay of the idmapped or shifted lowers and the
 * container's upper, mounted from create until remove, so running and
 * stopped containers look the same and nothing is mounted here). The
 * container may be running and changing its tree under us, and its root
 * can hold any symlink: every path is resolved by the kernel with
 * openat2(RESOLVE_IN_ROOT) on the root's fd and every walk below goes
 * through *at() calls with O_NOFOLLOW. This is where runc's `docker cp`
 * lessons apply (CVE-2018-15664: a symlink swapped in between check and
 * use made the daemon read or write host files as root).
 *
 * IDs: files on the root carry host IDs (the mapped ones). Tars we write
 * show container IDs (shifted back through the map, unmapped ones as the
 * overflow ID 65534, as the kernel shows them inside); files we write get
 * host IDs inside the container's range, never host root's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "container.h"
#include "error.h"
#include "idmap.h"

struct gb_cfs {
        int root_fd;     /* O_PATH|O_DIRECTORY of the mounted root */
        char *root_path; /* its host path as the kernel names it */
        char *id;        /* container ID (for messages) */
        char *upper;     /* <dir>/upper, NULL for --rootfs containers */
        char **lowers;   /* the image's layer dirs, top first (strv) */
        bool remapped;
        struct gb_idmap uids, gids;
};

/* Open container c's filesystem. -ENOENT when its root is not mounted (a
 * record whose mounts did not survive a reboot). */
int gb_cfs_open(const char *data_root, const struct gb_container *c, struct gb_cfs *ret, struct gb_error *err);
void gb_cfs_done(struct gb_cfs *f);
/* A plain host directory as a root, IDs unshifted (the host side of
 * `ghostbox cp`). */
int gb_cfs_open_dir(const char *dir, struct gb_cfs *ret, struct gb_error *err);

/* A path argument of the archive endpoints, split the way Docker reads
 * it: relative paths are taken from "/", "." and ".." are cleaned
 * lexically (as Go's filepath.Clean), a trailing "/" or "/." means the
 * final component is followed (and must be a directory). Pure. */
struct gb_cfs_path {
        char *dir;  /* directory to resolve (followed), "" for the root */
        char *leaf; /* final component, not followed; "" when dir is the target */
        char *name; /* the target's name in a tar and in the stat: the last
                     * component, or "." for "/" and for "X/." (contents) */
        bool want_dir;
};
int gb_cfs_path_parse(const char *path, struct gb_cfs_path *ret);
void gb_cfs_path_done(struct gb_cfs_path *p);

struct gb_cfs_stat {
        char *name;
        int64_t size;
        uint32_t mode; /* st_mode */
        int64_t mtime_sec;
        long mtime_nsec;
        char *link_target; /* symlinks: where it leads, as a container path */
};
void gb_cfs_stat_done(struct gb_cfs_stat *st);

/* lstat path inside the container. -ENOENT with Docker's "Could not find
 * the file X in container Y", -ENOTDIR when a trailing "/" names a
 * non-directory, -EINVAL for an empty path. */
int gb_cfs_stat(const struct gb_cfs *f, const char *path, struct gb_cfs_stat *ret, struct gb_error *err);

/* Go's os.FileMode bits for st_mode (what the CLI decodes). Pure. */
uint32_t gb_cfs_go_mode(uint32_t st_mode);

/* The X-Docker-Container-Path-Stat header value: base64 of
 * {"name","size","mode","mtime","linkTarget"}. Caller frees. Pure. */
char *gb_cfs_stat_header(const struct gb_cfs_stat *st);

/* s with every byte that is not part of valid UTF-8 replaced by U+FFFD
 * (file names into JSON). Caller frees. Pure. */
char *gb_utf8_sanitize(const char *s);

/* Standard base64 of len bytes. Caller frees. Pure. */
char *gb_base64(const void *data, size_t len);

/* Write a tar of path (entries named from gb_cfs_path.name) to out_fd. */
int gb_cfs_tar(const struct gb_cfs *f, const char *path, int out_fd, struct gb_error *err);
/* The same with the top entry named name (a copy under a new name). */
int gb_cfs_tar_as(const struct gb_cfs *f, const char *path, const char *name, int out_fd, struct gb_error *err);

/* Write a tar of the whole root filesystem (`docker export`). */
int gb_cfs_export(const struct gb_cfs *f, int out_fd, struct gb_error *err);

/* Write the container's own changes (its upper directory) as an image
 * layer tar: OCI whiteouts, container IDs, v2 file capabilities, without
 * the runtime's mount-point stubs (`docker commit`). -EOPNOTSUPP for a
 * --rootfs container. */
int gb_cfs_layer_tar(const struct gb_cfs *f, int out_fd, struct gb_error *err);

struct gb_cfs_put_opts {
        bool copy_uidgid;             /* owners from the tar, shifted; else container root */
        bool no_overwrite_dir_nondir; /* refuse dir <-> non-dir replacement */
        bool chown;                   /* every entry owned by uid:gid (container IDs; COPY --chown) */
        uint32_t uid, gid;
};

/* Extract the tar (plain or gzip) read from in_fd into directory path.
 * -ENOENT: path missing; -ENOTDIR: not a directory; -EPERM: an entry
 * leaves it; -ERANGE: copy_uidgid with an owner outside the map; -EISDIR/
 * -ENOTDIR from no_overwrite_dir_nondir; -EINVAL: not a tar. */
int gb_cfs_put(const struct gb_cfs *f, const char *path, int in_fd, const struct gb_cfs_put_opts *o,
               struct gb_error *err);

enum { GB_CFS_MODIFIED = 0, GB_CFS_ADDED = 1, GB_CFS_DELETED = 2 };
struct gb_cfs_change {
        char *path;
        int kind;
};
/* What the container changed against its image, from its upper dir
 * (overlayfs whiteouts are deletions), sorted by path; paths are made
 * valid UTF-8 (gb_utf8_sanitize). -EOPNOTSUPP for a
 * --rootfs container (no layers to compare with). */
int gb_cfs_changes(const struct gb_cfs *f, struct gb_cfs_change **ret, size_t *ret_n, struct gb_error *err);
void gb_cfs_changes_free(struct gb_cfs_change *v, size_t n);
