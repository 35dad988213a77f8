/* ID maps: which host IDs a container's IDs become.
 *
 * struct gb_idmap is a fixed-size value (no allocation) so that it can be
 * used in a child created by clone() of a threaded process. The idmap module
 * also owns /etc/subuid and /etc/subgid parsing and remap-spec resolution;
 * those functions are declared below the map basics. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* The kernel accepts up to 340 lines per map since Linux 4.15, 5 before. */
#define GB_IDMAP_MAX 340

struct gb_idmap_range {
        uint32_t container_id; /* first ID inside the namespace */
        uint32_t host_id;      /* first ID outside */
        uint32_t count;
};

struct gb_idmap {
        size_t n;
        struct gb_idmap_range r[GB_IDMAP_MAX];
};

/* Append a range; -E2BIG when full, -EINVAL on count 0 or 32-bit overflow of
 * either side. */
int gb_idmap_add(struct gb_idmap *m, uint32_t container_id, uint32_t host_id, uint32_t count);

/* Translate. -ENOENT when the ID is unmapped (it then shows as the overflow
 * ID, 65534 "nobody", on the other side). */
int gb_idmap_to_host(const struct gb_idmap *m, uint32_t container_id, uint32_t *ret_host_id);
int gb_idmap_to_container(const struct gb_idmap *m, uint32_t host_id, uint32_t *ret_container_id);

/* Total number of IDs mapped. */
uint64_t gb_idmap_size(const struct gb_idmap *m);

/* Highest container ID + 1 that is mapped contiguously from 0 (0 if ID 0 is
 * unmapped). */
uint64_t gb_idmap_contiguous(const struct gb_idmap *m);

/* True when two maps map the same ranges. */
bool gb_idmap_equal(const struct gb_idmap *a, const struct gb_idmap *b);

/* True when any host ID of a is also a host ID of b. */
bool gb_idmap_overlaps_host(const struct gb_idmap *a, const struct gb_idmap *b);

/* Format as the kernel's /proc/PID/uid_map text ("0 231072 65536\n" per
 * line). Returns the length written (excluding NUL) or -ENOBUFS. Does not
 * allocate: safe in a forked child. */
ssize_t gb_idmap_format(const struct gb_idmap *m, char *buf, size_t size);

/* Parse the /proc/PID/uid_map format back (whitespace separated triples). */
int gb_idmap_parse(const char *text, struct gb_idmap *ret, struct gb_error *err);

/* How many map lines the running kernel accepts (340, or 5 on old kernels),
 * probed once by writing a map in a scratch user namespace. */
size_t gb_idmap_kernel_max_lines(void);
