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

/* ------------------------------------------------------------------------
 * /etc/subuid and /etc/subgid
 *
 * Files are read by our own parser (libsubid can only read the real /etc
 * files and reports no line numbers); libsubid is asked as well when the real
 * files are in use and they hold no range for an owner, because it also knows
 * ranges that NSS provides (nsswitch.conf "subid:"). */

#define GB_SUBUID_FILE "/etc/subuid"
#define GB_SUBGID_FILE "/etc/subgid"
#define GB_PASSWD_FILE "/etc/passwd"
#define GB_GROUP_FILE "/etc/group"

/* The user and group `default` creates, and the size of the range it grants
 * (the 65536 IDs 0..65535 a container expects). */
#define GB_REMAP_DEFAULT_USER "ghostremap"
#define GB_REMAP_DEFAULT_COUNT 65536u
/* Where `default` looks for a free range: shadow's SUB_UID_MIN/SUB_UID_MAX
 * defaults, so that ghostbox and useradd hand out from the same space. */
#define GB_SUBID_ALLOC_MIN 100000u
#define GB_SUBID_ALLOC_MAX 600100000u

/* Paths of the files the idmap module reads and writes. Every field is a
 * borrowed string. gb_subid_paths_init() fills each from its environment
 * variable (GHOSTBOX_SUBUID_FILE, GHOSTBOX_SUBGID_FILE, GHOSTBOX_PASSWD_FILE,
 * GHOSTBOX_GROUP_FILE; tests point them at throwaway copies) or the real
 * /etc path. */
struct gb_subid_paths {
        const char *subuid;
        const char *subgid;
        const char *passwd;
        const char *group;
};
void gb_subid_paths_init(struct gb_subid_paths *p);

/* One line of a subid file. */
struct gb_subid_entry {
        char *owner;    /* user/group name or decimal ID, as written; owned */
        uint32_t start; /* first host ID */
        uint32_t count; /* > 0, start + count <= 2^32-1 */
        unsigned line;  /* 1-based line number in the file */
};

struct gb_subid_file {
        char *path; /* owned copy */
        struct gb_subid_entry *e;
        size_t n;
};

/* Parse subid text (len bytes, need not be NUL-terminated). path only names
 * the file in messages. Blank lines and lines whose first non-blank character
 * is '#' are skipped. Errors name file and line: a bad or overflowing number,
 * count 0, start+count past 2^32-1, a missing or extra field, an empty owner,
 * a CR (CRLF line end) or NUL byte. On success *ret is filled and must be
 * released with gb_subid_file_done(); on failure *ret is untouched. */
int gb_subid_parse(const char *path, const char *text, size_t len, struct gb_subid_file *ret, struct gb_error *err);

/* Read and parse path. A missing file is an empty file. */
int gb_subid_load(const char *path, struct gb_subid_file *ret, struct gb_error *err);

void gb_subid_file_done(struct gb_subid_file *f);

/* Grant owner a range of count IDs in BOTH subid files, at the same start in
 * each when the owner has a range in neither, overlapping no range of any
 * owner in either file and no ID of a user or group in the passwd/group files.
 * Idempotent: a file that already has a range for owner (by name or by
 * owner_id in decimal) is left alone. Safe against concurrent callers and
 * shadow's tools: holds an flock on each file's directory (ghostbox against
 * ghostbox), lckpwdf() when the files are the real /etc ones, and shadow's
 * "<file>.lock" link lock (against useradd/usermod). Only appends a line;
 * other lines are kept byte for byte, and the file mode is kept. The starts
 * written (or found) are returned in *ret_uid_start / *ret_gid_start (may be
 * NULL); *ret_changed (may be NULL) says whether a file was written. */
int gb_subid_grant(const struct gb_subid_paths *paths, const char *owner, uint32_t owner_id, uint32_t count,
                   uint32_t *ret_uid_start, uint32_t *ret_gid_start, bool *ret_changed, struct gb_error *err);

/* ------------------------------------------------------------------------
 * Resolving a userns-remap value
 *
 * The forms of Docker's daemon.json: "default", "user", "user:group", "uid",
 * "uid:gid", "user:gid", "uid:group", and "" (remapping off). The user must
 * exist; without a group the group is the one named like the user, else the
 * user's primary group. subuid lines are matched by user name or UID; subgid
 * lines by group name or GID, else (shadow's newgidmap convention) by user
 * name or UID. */

struct gb_remap {
        bool enabled; /* false: "" (no user namespace); nothing below is set */
        char *spec;   /* the value as given; owned */
        char *user;   /* resolved user name; owned */
        char *group;  /* resolved group name; owned */
        uid_t uid;    /* the remap user's own UID/GID (owner of the ranges) */
        gid_t gid;
        /* The owner's lines, in file order (owned copies). These are all
         * ranges, including any the map could not use. */
        struct gb_subid_entry *uid_ranges, *gid_ranges;
        size_t n_uid_ranges, n_gid_ranges;
        /* The maps containers get: container 0 = first range's start, next
         * ranges continue, capped at kernel_max_lines lines. Plain values:
         * copy them freely (e.g. into a forked child). */
        struct gb_idmap uids, gids;
        uint32_t root_uid, root_gid; /* host IDs of container 0:0 */
        /* The kernel's map line limit when it mattered (more than 5
         * ranges), else 0: not probed (gb_idmap_kernel_max_lines() tells). */
        size_t kernel_max_lines;
        /* What resolving `default` did this time. */
        bool created_user, granted_ranges;
        /* Human-readable findings (dropped ranges, short ranges, overlaps
         * with other owners or real users); NULL-terminated, owned, may be
         * NULL. The library does not print them: front ends do. */
        char **warnings;
};

struct gb_remap_opts {
        struct gb_subid_paths paths; /* zero fields: gb_subid_paths_init() */
        /* `default` may create the user/group and grant ranges. When false a
         * missing user or range is an error telling what to run. */
        bool create;
        /* 0: probe the kernel (gb_idmap_kernel_max_lines()). */
        size_t max_lines;
        /* Where the value came from, for messages ("/etc/ghostbox/daemon.json"
         * or "--userns-remap"); NULL: "userns-remap". */
        const char *origin;
};

/* Resolve spec into *ret (which must be released with gb_remap_done(), also
 * on failure: it is zeroed first). Errors name the file to fix: /etc/passwd
 * or /etc/group for an unknown user or group, /etc/subuid or /etc/subgid for
 * missing ranges. */
int gb_remap_resolve(const char *spec, const struct gb_remap_opts *opts, struct gb_remap *ret, struct gb_error *err);

void gb_remap_done(struct gb_remap *r);

/* Build a map from ranges in order (container 0 = first start), at most
 * max_lines lines. Ranges that would not fit, or that overlap an earlier
 * range's host IDs (the kernel refuses overlapping lines), are left out;
 * one message per left-out range is appended to *warnings (a strv, may be
 * grown from NULL) naming file and line. */
int gb_idmap_from_ranges(const struct gb_subid_entry *ranges, size_t n, const char *file, size_t max_lines,
                         struct gb_idmap *ret, char ***warnings);
