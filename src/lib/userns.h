/* User namespaces as objects: an fd for a user namespace carrying a given
 * mapping, and idmapped mounts made with it (mount_setattr(2)
 * MOUNT_ATTR_IDMAP). Used by the rootfs (idmapped layers), volumes (:idmap)
 * and the sandbox (OCI per-mount uidMappings). */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "idmap.h"

/* Create a user namespace whose uid_map/gid_map are the given maps and
 * return an O_CLOEXEC fd for it (/proc/PID/ns/user of a short-lived child,
 * which is killed and reaped before returning). The caller owns the fd. */
int gb_userns_open(const struct gb_idmap *uids, const struct gb_idmap *gids, int *ret_fd, struct gb_error *err);

/* Clone the mount at dirfd/path (AT_RECURSIVE when recursive) as a detached
 * mount idmapped through userns_fd. Returns the detached tree's fd in
 * *ret_fd (O_CLOEXEC); attach it with move_mount(2) or use it as a dirfd.
 * -ENOSYS/-EINVAL/-EOPNOTSUPP/-EPERM mean this kernel or filesystem cannot
 * idmap: callers fall back. */
int gb_idmapped_tree(int dirfd, const char *path, int userns_fd, bool recursive, int *ret_fd, struct gb_error *err);

/* Probe whether directory path can be idmapped on this kernel and
 * filesystem. Returns 1 yes, 0 no (with the reason in err), never fails. */
int gb_idmap_mounts_supported(const char *path, struct gb_error *err);
