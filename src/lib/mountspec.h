/* Docker's -v and --mount syntaxes, parsed into one request type.
 *
 *   -v /host:/ctr[:opts]   bind (host path absolute; created if missing)
 *   -v name:/ctr[:opts]    named volume
 *   -v /ctr                anonymous volume
 *   opts: ro rw z Z nocopy [r]shared [r]slave [r]private idmap
 *   --mount type=bind|volume|tmpfs,src=..,dst=..,readonly,bind-propagation=..,
 *           bind-nonrecursive,volume-nocopy,tmpfs-size=..,tmpfs-mode=..,idmap
 *
 * `idmap` is Podman's name for an idmapped bind: host files owned by host
 * UID N look owned by N inside. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "idmap.h"

enum gb_mount_type {
        GB_MOUNT_BIND,
        GB_MOUNT_VOLUME,
        GB_MOUNT_TMPFS,
};

struct gb_mount_req {
        enum gb_mount_type type;
        char *source; /* host path (bind), volume name (NULL: anonymous), NULL for tmpfs */
        char *target; /* absolute path inside */
        bool readonly;
        char *propagation; /* NULL: rprivate */
        bool nonrecursive;
        bool nocopy;
        bool idmap;
        bool create_source;  /* -v binds create a missing host path; --mount errors */
        uint64_t tmpfs_size; /* 0: unlimited (kernel default) */
        uint32_t tmpfs_mode; /* 0: default 1777 */
        /* Set by the engine, not parsed: a volume's mount mapping when the
         * container's range differs from the volume's (not owned). */
        const struct gb_idmap *shift_uids, *shift_gids;
        bool anonymous; /* an anonymous volume the engine created */
        char *volume_name;
};

void gb_mount_req_clear(struct gb_mount_req *m);

/* Parse one -v value. Errors quote the value and say what is expected. */
int gb_mountspec_parse_volume(const char *value, struct gb_mount_req *ret, struct gb_error *err);

/* Parse one --mount value. */
int gb_mountspec_parse_mount(const char *value, struct gb_mount_req *ret, struct gb_error *err);

/* Docker's volume-name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
bool gb_volume_name_valid(const char *name);
