/* A container's root filesystem: overlayfs over the image's layers, with
 * the container's ID mapping applied in one of two ways.
 *
 * idmap: the layer store <data-root>/layers/sha256 is cloned ONCE per
 *   distinct mapping as an idmapped mount at <exec-root>/idmapped/<key>/
 *   (key = hash of the uid and gid maps) and every container with that
 *   mapping uses <view>/<layer hex> as its overlay lowers. Mounts grow with
 *   mappings, not layers x containers (containerd#12048's mount storm), and
 *   preparation does no work proportional to image size. The view is
 *   refcounted by marker files <exec-root>/idmapped/<key>.refs/<container id>
 *   and unmounted when the last container releases it.
 * chown: each layer is copied once per mapping with IDs shifted into the
 *   range (<area>/shifted/<key>/<layer hex>/), then reused by every container
 *   of that mapping: Docker's userns-remap behaviour, for kernels or
 *   filesystems that cannot idmap.
 *
 * Per-remap areas are <data-root>/<uid>.<gid>/ (uid/gid = host IDs of the
 * container's root, mode 0700, owned by it); unremapped containers use 0.0/
 * and the layer dirs directly. A container's upper/, work/ and rootfs/ live
 * in <area>/containers/<id>/. The root filesystem is mounted nodev: device
 * nodes in images are inert, devices come from the runtime's /dev. */
#pragma once

#include <stdbool.h>

#include "config.h" /* enum gb_storage_shift (daemon.json "storage-shift") */
#include "error.h"
#include "idmap.h"
#include "store.h"

/* "auto", "idmap", "chown" (daemon.json "storage-shift"); -EINVAL otherwise. */
int gb_storage_shift_parse(const char *s, enum gb_storage_shift *ret);

/* Which mode applies on this host for data_root, and why (for `ghostbox
 * info`). requested AUTO probes idmapped mounts of the layer store; CHOWN is
 * reported as forced; IDMAP is reported unsupported with the kernel's
 * reason when it cannot work. Never fails: *ret_mode is IDMAP or CHOWN and
 * reason (size reason_len) says why. */
void gb_rootfs_probe(const char *data_root, enum gb_storage_shift requested, enum gb_storage_shift *ret_mode,
                     char *reason, size_t reason_len);

struct gb_rootfs_opts {
        const char *exec_root;    /* idmapped views live in <exec_root>/idmapped */
        const char *container_id; /* [A-Za-z0-9_.-]{1,128} */
        const char *image_id;     /* "sha256:<hex>" (gb_store_resolve) */
        /* The container's maps; NULL (or n == 0) for an unremapped
         * (--userns=host) container. */
        const struct gb_idmap *uids, *gids;
        enum gb_storage_shift shift;
};

struct gb_rootfs {
        char *path;                 /* the mounted root: <area>/containers/<id>/rootfs */
        char *dir;                  /* <area>/containers/<id> (the container module may keep its files here) */
        enum gb_storage_shift mode; /* IDMAP or CHOWN as used (IDMAP also for unremapped) */
};

void gb_rootfs_done(struct gb_rootfs *r);

/* Make and mount the container's root filesystem. Fails before mounting
 * anything when a layer holds a file owned by an ID outside the maps (using
 * the maxima recorded at extraction; no tree walk), naming the file, the ID
 * and the range. On failure nothing stays mounted and no refcount is held. */
int gb_rootfs_prepare(struct gb_store *s, const struct gb_rootfs_opts *o, struct gb_rootfs *ret, struct gb_error *err);

/* Undo gb_rootfs_prepare: unmount the root, remove upper/, work/ and
 * rootfs/, drop the view's refcount (unmounting it with the last user).
 * Idempotent; safe after a crash half-way through prepare. */
int gb_rootfs_release(struct gb_store *s, const struct gb_rootfs_opts *o, struct gb_error *err);

/* Number of idmapped views mounted under exec_root (for tests and `info`). */
int gb_rootfs_count_views(const char *exec_root);
