/* The container's filesystem view: rootfs, spec mounts, devices, masked and
 * read-only paths, pivot_root.
 *
 * Every destination is resolved inside the rootfs with
 * openat2(RESOLVE_IN_ROOT) and the mount is made onto the resolved O_PATH fd
 * (move_mount, or mount(2) on /proc/self/fd/N), never onto a path string:
 * a symlink swapped in after the check cannot redirect it out of the rootfs
 * (runc CVE-2021-30465). */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* Prepared in the parent while it still holds host privileges: the bind
 * mounts' sources (opened as host root, so the walk to them is not checked
 * against the container's IDs), idmapped ones among them (MOUNT_ATTR_IDMAP
 * needs CAP_SYS_ADMIN in the initial user namespace). tree_fds[i] is a detached mount for spec->mounts[i] or
 * -EBADF. */
struct gb_mounts_prep {
        int *tree_fds;
        size_t n;
};

/* rootfs: missing mount points are created in it (as the caller, host
 * root), resolved inside it. */
int gb_mounts_prepare(const struct gb_spec *s, const char *rootfs, struct gb_mounts_prep *ret, struct gb_error *err);
void gb_mounts_prep_done(struct gb_mounts_prep *p);

/* Open dir/file `path` inside rootfd (RESOLVE_IN_ROOT), creating missing
 * directories (and the last component as a file when !dir). Returns an
 * O_PATH|O_CLOEXEC fd in *ret_fd. */
int gb_resolve_in_root(int rootfd, const char *path, bool create, bool dir, int *ret_fd, struct gb_error *err);

/* In the child, in its new mount namespace: set up everything below rootfs
 * and make it the root (pivot_root, or MS_MOVE + chroot when no_pivot).
 * in_userns: devices are bind-mounted from the host (mknod is refused). */
int gb_mounts_setup(const struct gb_spec *s, const char *rootfs, const struct gb_mounts_prep *prep, bool in_userns,
                    bool no_pivot, struct gb_error *err);

/* After the root change: root.readonly and linux.sysctl. */
int gb_mounts_finish(const struct gb_spec *s, struct gb_error *err);
