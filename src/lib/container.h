/* Container records: the engine's view of a container, Docker-shaped.
 *
 * The record is the container's `docker inspect` document (Id, Name,
 * Created, State{...}, Config{...}, HostConfig{...}, Mounts, GraphDriver)
 * plus a "Ghostbox" object with what only we need (ID maps, area, storage
 * mode, monitor). Keeping inspect's shape as the stored form means `inspect`,
 * `ps` and the Engine API read one document, and no field can drift between
 * them.
 *
 * On disk:
 *   <data-root>/<area>/containers/<id>/container.json   the record
 *   <data-root>/containers/<id> -> ../<area>/containers/<id>   registry
 *   <data-root>/names/<name>    -> <id>                  name reservation
 * Names are reserved with symlink(2), which is atomic: two `run --name x`
 * at once cannot both win. Every change to a record happens under an
 * flock on <dir>/lock and is written with temp+fsync+rename. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

#define GB_CONTAINER_ID_LEN 64

struct gb_container {
        char id[GB_CONTAINER_ID_LEN + 1];
        char *dir;   /* <data-root>/<area>/containers/<id> */
        json_t *doc; /* the inspect document; owned */
        int lock_fd; /* >= 0 while locked */
};

/* Fill out with a fresh random 64-hex-digit ID. */
int gb_container_new_id(char out[GB_CONTAINER_ID_LEN + 1], struct gb_error *err);

/* A random "adjective_noun" name, Docker style. */
char *gb_container_random_name(void);

/* Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading '/' is
 * accepted and dropped). */
bool gb_container_name_valid(const char *name);

/* Create the record for doc (which must hold "Id" and "Name") in area
 * ("231072.231072" or "0.0"): makes the directory (mode 0700, owned by
 * owner_uid/owner_gid), reserves the name, registers it and writes
 * container.json. On failure nothing is left behind. -EEXIST (with Docker's
 * message) when the name is taken. *ret is returned locked; free it with
 * gb_container_free(). */
int gb_container_create(const char *data_root, const char *area, uid_t owner_uid, gid_t owner_gid, json_t *doc,
                        struct gb_container **ret, struct gb_error *err);

/* Create (or fix) <data-root>/<area>/ and its containers/ directory: mode
 * 0700, owned by the area's root (the remapped root, or 0:0). */
int gb_container_area(const char *data_root, const char *area, uid_t owner_uid, gid_t owner_gid, struct gb_error *err);

/* Find a container by full ID, unique ID prefix, or name (with or without a
 * leading '/'). -ENOENT: "No such container: X"; -EINVAL: ambiguous prefix.
 * With lock, the record is returned locked and re-read under the lock. */
int gb_container_lookup(const char *data_root, const char *ref, bool lock, struct gb_container **ret,
                        struct gb_error *err);

/* Every container's ID, sorted by creation time, newest first. The array
 * and strings are the caller's (gb_strv_free). */
int gb_container_list(const char *data_root, char ***ret_ids, struct gb_error *err);

/* Re-read container.json (under the lock when held). */
int gb_container_reload(struct gb_container *c, struct gb_error *err);

/* Write c->doc back atomically (temp file, fsync, rename, fsync of the
 * directory; no fsyncs for an AutoRemove container, whose record dies with
 * its run). The caller must hold the lock. */
int gb_container_save(struct gb_container *c, struct gb_error *err);

/* The same without the fsyncs, for transient states that a crash may lose
 * (a placeholder while creating, "removing"). */
int gb_container_save_transient(struct gb_container *c, struct gb_error *err);

int gb_container_lock(struct gb_container *c, struct gb_error *err);
void gb_container_unlock(struct gb_container *c);

/* Rename: reserve the new name, update the record, drop the old name. */
int gb_container_rename(const char *data_root, struct gb_container *c, const char *new_name, struct gb_error *err);

/* Remove the record, its directory, name and registry entry. The caller
 * has already stopped the container and released its mounts; a mount still
 * below the directory makes this fail with -EBUSY rather than delete
 * through it. */
int gb_container_remove(const char *data_root, struct gb_container *c, struct gb_error *err);

void gb_container_free(struct gb_container *c);
static inline void gb_container_freep(struct gb_container **c)
{
        gb_container_free(*c);
}

/* Accessors into doc for the fields every caller needs. */
const char *gb_container_name(const struct gb_container *c); /* without '/' */
const char *gb_container_status(const struct gb_container *c);

/* RFC 3339 timestamp with nanoseconds, UTC, as Docker prints them. */
char *gb_timestamp_now(void);

/* Is the process pid with the given start time (field 22 of
 * /proc/PID/stat, in clock ticks) still the same process? Guards against
 * pid reuse when a record outlives its monitor. */
bool gb_pid_alive(pid_t pid, unsigned long long start_time);
int gb_pid_start_time(pid_t pid, unsigned long long *ret);

/* A record's Ghostbox.UidMap/GidMap array ([{ContainerID, HostID, Size}])
 * back into a map; entries the map cannot take are dropped. */
struct gb_idmap;
void gb_container_idmap_from_json(json_t *a, struct gb_idmap *ret);
