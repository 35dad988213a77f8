/* daemon.json: the engine's configuration, with Docker's key names.
 *
 * Remapping is ON with "default" when the file or the key is absent and OFF
 * only with "userns-remap": "". Unknown keys and wrong types are errors naming
 * the key; malformed JSON is an error naming file, line and column; a missing
 * file is fine (all defaults). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Always /etc, whatever the install prefix: where dockerd's lives too. */
#define GB_CONFIG_FILE "/etc/ghostbox/daemon.json"
#define GB_DEFAULT_DATA_ROOT "/var/lib/ghostbox"
#define GB_DEFAULT_EXEC_ROOT "/run/ghostbox"
#define GB_DEFAULT_REMAP "default"

/* How a remapped container's root filesystem gets its ownership (DESIGN.md):
 * idmapped mounts, a chowned copy per range, or idmap where the kernel and
 * filesystem can and chown elsewhere. */
enum gb_storage_shift {
        GB_STORAGE_SHIFT_AUTO,
        GB_STORAGE_SHIFT_IDMAP,
        GB_STORAGE_SHIFT_CHOWN,
};

struct gb_config {
        char *path;                /* the file read (or looked for); owned */
        bool file_found;           /* false: no file, everything defaulted */
        char *userns_remap;        /* "default", USER[:GROUP], UID[:GID]; "" = off; owned */
        char *userns_remap_origin; /* "--userns-remap", the file's path or "built-in default"; owned */
        char *data_root;           /* absolute; owned */
        char *exec_root;           /* absolute; owned */
        char **hosts;              /* API sockets ("unix:///run/ghostbox.sock"); NULL-terminated, owned, never NULL */
        char *group;               /* group owning the API socket; NULL: not set; owned */
        char *pidfile;             /* NULL: not set; owned */
        char *log_level;           /* "debug" "info" "warn" "error" "fatal"; owned */
        bool debug;
        char *storage_driver;  /* "overlay2" (the only one); owned */
        char *cgroup_parent;   /* NULL: not set; owned */
        char *default_network; /* "default-network": the network of containers created without one; NULL:
                                  a private loopback-only namespace (docs/network.md); owned */
        enum gb_storage_shift storage_shift;
        char **labels; /* "key=value", the daemon's (docker info); NULL-terminated, owned, never NULL */
};

/* What the command line says; NULL fields mean "not given". A flag overrides
 * the file's key. */
struct gb_config_overrides {
        const char *path;         /* --config; else $GHOSTBOX_CONFIG; else GB_CONFIG_FILE */
        const char *data_root;    /* --data-root */
        const char *exec_root;    /* --exec-root */
        const char *userns_remap; /* --userns-remap ("" turns remapping off) */
};

/* Load the configuration: defaults, then the file, then the overrides.
 * ov may be NULL. On success *ret must be released with gb_config_done(); on
 * failure *ret is zeroed (gb_config_done() is still safe). */
int gb_config_load(const struct gb_config_overrides *ov, struct gb_config *ret, struct gb_error *err);

/* Parse daemon.json text (len bytes) on top of the defaults; path names the
 * file in messages. Used by gb_config_load() and the fuzzer. */
int gb_config_parse(const char *path, const char *text, size_t len, struct gb_config *ret, struct gb_error *err);

void gb_config_done(struct gb_config *c);

/* "auto", "idmap", "chown". */
const char *gb_storage_shift_to_string(enum gb_storage_shift s);
