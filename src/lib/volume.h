/* Named volumes: <data-root>/<area>/volumes/<name>/_data, owned by the
 * area's root so a remapped container writes there without any chown
 * (seeds/004 "option 3"), plus <name>/volume.json with Docker's inspect
 * fields. The area is the daemon's remap area (or 0.0 with remapping off):
 * every container of the default range sees the same ownership; a
 * --userns=auto container gets the volume through an idmapped mount that
 * shifts the default range onto its own (gb_idmap_compose). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "idmap.h"

/* Create a volume (idempotent for an existing name: returns 0 and leaves it
 * as it is, like `docker volume create`). name NULL makes an anonymous
 * volume with a random 64-hex name, returned in *ret_name (caller frees;
 * may be NULL). labels: "key=value" strings or NULL. */
int gb_volume_create(const char *data_root, const char *area, uid_t uid, gid_t gid, const char *name,
                     char *const *labels, char **ret_name, struct gb_error *err);

/* The inspect document (Name, Driver, Mountpoint, CreatedAt, Labels,
 * Scope, Options); -ENOENT "no such volume: NAME". */
int gb_volume_inspect(const char *data_root, const char *area, const char *name, json_t **ret, struct gb_error *err);

/* The _data path of an existing volume. */
char *gb_volume_path(const char *data_root, const char *area, const char *name);

/* Names, sorted. */
int gb_volume_list(const char *data_root, const char *area, char ***ret_names, struct gb_error *err);

/* Remove a volume and its data. The caller checks that no container uses
 * it. */
int gb_volume_remove(const char *data_root, const char *area, const char *name, struct gb_error *err);

/* True when the volume's _data directory is empty (first mount: Docker
 * copies the image's directory in). */
bool gb_volume_is_empty(const char *data_root, const char *area, const char *name);

/* A map for an idmapped mount that shows files owned by `from`'s host IDs
 * as owned by `to`'s host IDs of the same container ID: for each container
 * ID both maps have, from.host -> to.host. OCI's mount uidMappings are
 * (containerID = ID on disk, hostID = ID seen), so this is exactly the
 * mount mapping that lets a container of range `to` use files made by a
 * container of range `from`. */
int gb_idmap_compose(const struct gb_idmap *from, const struct gb_idmap *to, struct gb_idmap *ret);
