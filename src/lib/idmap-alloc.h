/* Per-container ID ranges for --userns=auto.
 *
 * A pool (host IDs the remap user owns, minus the shared default range) is
 * carved into per-container ranges. Allocations are persisted in one JSON
 * file guarded by flock(2) on a sibling lock file, so concurrent `ghostbox
 * run --userns=auto` processes never hand out overlapping ranges, and a
 * range stays reserved until released (at `rm`), even across reboots of the
 * engine. Offsets are counted in the pool's own ID space: pool ranges are
 * concatenated in order, so one allocation may span several host ranges and
 * then becomes a multi-line map. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "idmap.h"

#define GB_AUTO_DEFAULT_SIZE 65536U

/* Reserve size IDs for owner (a container ID; at most 128 bytes of
 * [A-Za-z0-9_.-]) at the lowest free offset of pool, write the result to
 * *ret_map (container ID 0 = first host ID of the reservation). If owner
 * already holds a reservation of that size it is returned again (idempotent
 * retry after a crash). state_path is the JSON file; "<state_path>.lock" is
 * created next to it. -ENOSPC when the pool has no gap that large. */
int gb_auto_alloc(const char *state_path, const struct gb_idmap *pool, const char *owner, uint32_t size,
                  struct gb_idmap *ret_map, struct gb_error *err);

/* Release owner's reservation; 0 also when it had none. */
int gb_auto_release(const char *state_path, const char *owner, struct gb_error *err);

/* Look up owner's reservation: 0 and *ret_map filled, or -ENOENT. */
int gb_auto_lookup(const char *state_path, const struct gb_idmap *pool, const char *owner, struct gb_idmap *ret_map,
                   struct gb_error *err);

/* Drop reservations older than min_age seconds whose owner alive() says is
 * gone (a create that crashed between reserving and registering). Returns
 * how many were dropped. */
int gb_auto_reclaim(const char *state_path, bool (*alive)(const char *owner, void *data), void *data, int64_t min_age,
                    struct gb_error *err);

/* Turn a [offset, offset+size) slice of the pool's ID space into a map with
 * container IDs starting at 0. -ERANGE when the slice runs past the pool. */
int gb_auto_slice(const struct gb_idmap *pool, uint64_t offset, uint32_t size, struct gb_idmap *ret_map);
