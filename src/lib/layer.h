/* Safe extraction of image layers (tar, optionally gzip or zstd) with
 * libarchive, converting OCI/Docker whiteouts to overlayfs form.
 *
 * Every path is resolved inside the destination with
 * openat2(RESOLVE_IN_ROOT): absolute names, "..", symlinked parents and
 * absolute symlinks cannot make an entry land outside it (the kernel does the
 * resolution, not string checks). Entries with a ".." component and hardlinks
 * whose target is not inside the layer are rejected; the caller removes the
 * half-written directory (the store extracts into a temp dir and renames it
 * into place only on success). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "idmap.h"
#include "sha256.h"

/* Longest path or symlink target accepted from an archive (PATH_MAX - 1):
 * oversized headers are refused before they reach a syscall. */
#define GB_LAYER_PATH_MAX 4095

enum {
        /* Outer archives (docker save / OCI layout): regular files,
         * directories and symlinks only, no ownership, modes 0644/0755, no
         * xattrs, devices or whiteout conversion. */
        GB_LAYER_PLAIN = 1 << 0,
        /* `docker cp` into a container (PUT /containers/{id}/archive): no
         * whiteout conversion (".wh.x" is an ordinary name), only user.*
         * xattrs (no file capabilities), no device nodes (the rootfs is
         * nodev, and a 0/0 char device would become an overlay whiteout);
         * owners go through the ID fields of gb_layer_opts. No digests
         * (diff_id and blob_digest of the info are not meaningful). */
        GB_LAYER_COPY = 1 << 1,
        /* With COPY: refuse to replace a directory with a non-directory or
         * the reverse (Docker's noOverwriteDirNonDir), -EISDIR/-ENOTDIR. */
        GB_LAYER_NO_DIR_NONDIR = 1 << 2,
};

typedef void (*gb_progress_fn)(uint64_t bytes_read, void *userdata);

struct gb_layer_opts {
        unsigned flags;
        int blob_fd; /* >= 0: the raw input bytes are copied here as read */
        gb_progress_fn progress;
        void *progress_userdata;
        /* GB_LAYER_COPY owners on the host: with fixed_owner every entry
         * gets owner_uid:owner_gid; else with maps each archive ID is
         * shifted to the host through them (-ERANGE for an ID outside);
         * else the archive's IDs are kept. */
        bool fixed_owner;
        uint32_t owner_uid, owner_gid;
        const struct gb_idmap *uids, *gids;
};

struct gb_layer_info {
        char diff_id[GB_DIGEST_LEN];     /* sha256 of the uncompressed tar */
        char blob_digest[GB_DIGEST_LEN]; /* sha256 of the bytes as read */
        uint64_t blob_size;
        uint64_t size;           /* bytes of the uncompressed tar */
        const char *compression; /* "none", "gzip" or "zstd" (static) */
        uint64_t entries;
        uint32_t max_uid, max_gid; /* highest owner IDs of any entry */
        char max_uid_path[256];    /* an entry owned by max_uid (truncated) */
        char max_gid_path[256];
        uint64_t dropped_xattrs; /* trusted.overlay.* and other refused xattrs */
};

/* Extract the archive read from in_fd into the directory root_fd (normally
 * empty). Returns 0 and fills *ret, or -errno with err set; on failure the
 * directory holds a partial tree the caller must remove. */
int gb_layer_extract(int in_fd, int root_fd, const struct gb_layer_opts *opts, struct gb_layer_info *ret,
                     struct gb_error *err);

/* Open path below root_fd as the kernel resolves it with root_fd as "/"
 * (symlinks included, magic links refused). flags as for openat(2). */
int gb_open_in_root(int root_fd, const char *path, int flags, int *ret_fd, struct gb_error *err);

/* Remove name in dirfd, recursively when it is a directory; never follows
 * symlinks and never crosses into another mount. */
int gb_remove_at(int dirfd, const char *name);

/* security.capability values: convert a v3 value (which carries the host
 * root ID of the namespace that wrote it) to v2, the form that means "root of
 * whichever namespace runs it" and that an idmapped mount presents as the
 * container's root. v1/v2 are kept. Returns the new size or -EINVAL for a
 * malformed value. buf must hold 24 bytes. */
int gb_fcaps_normalize(void *buf, size_t size);

/* Rewrite a v2 value as v3 with the given host root ID (for chown-mode
 * copies, which are not idmapped). buf must hold 24 bytes; returns 24. */
int gb_fcaps_set_rootid(void *buf, size_t size, uint32_t rootid);
