/* From `docker run` options to an OCI runtime spec.
 *
 * The engine (CLI and API daemon) fills struct gb_run_opts from flags or a
 * create request, then gb_runspec_build() combines it with the image config
 * and the container's ID maps into the config.json that the sandbox runs.
 * Docker's defaults are reproduced: its capability set, its /dev, /proc and
 * /sys mounts, masked and read-only paths, default devices, and a default
 * seccomp profile. The remapping rules of seeds/000 and /004 are enforced
 * here, in one place: --privileged, --pid=host and --network=host need
 * --userns=host when remapping is on. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "idmap.h"
#include "mountspec.h"

enum gb_userns_mode {
        GB_USERNS_DEFAULT, /* the daemon's remap setting */
        GB_USERNS_HOST,    /* --userns=host */
        GB_USERNS_AUTO,    /* --userns=auto[:size=N] */
};

struct gb_run_opts {
        char *name;
        char *image;
        char **cmd;        /* NULL: the image's Cmd */
        char **entrypoint; /* NULL: the image's; {""} or {} clears it */
        bool entrypoint_set;
        char **env; /* KEY=VALUE, in flag order */
        char *workdir;
        char *user; /* USER[:GROUP], names or numbers */
        char *hostname;
        bool tty, interactive, detach, rm, read_only, privileged, init;
        bool no_new_privileges;
        char *seccomp; /* NULL: default profile; "unconfined"; or a file path */
        char **cap_add, **cap_drop;
        enum gb_userns_mode userns;
        uint32_t userns_size; /* --userns=auto:size=N, default 65536 */
        bool pid_host, net_host, net_none;
        bool net_private;            /* --network private: loopback only even when daemon.json has a default-network */
        char **tmpfs;                /* DST[:OPTS] */
        struct gb_mount_req *mounts; /* -v and --mount, in flag order */
        size_t n_mounts;
        char *network;         /* --network NAME: a bridge network ("bridge" or user-defined); NULL: none of them */
        char **net_aliases;    /* --network-alias, NULL-terminated */
        char *ip;              /* --ip on that network; NULL: allocated */
        json_t *port_bindings; /* -p: HostConfig.PortBindings shape (portspec.h), owned, may be NULL */
        json_t *exposed_ports; /* --expose: Config.ExposedPorts shape, owned, may be NULL */
        bool publish_all;      /* -P */
};

void gb_run_opts_clear(struct gb_run_opts *o);

/* Parse "host", "auto", "auto:size=N" (and "" for the default). */
int gb_runspec_parse_userns(const char *value, struct gb_run_opts *o, struct gb_error *err);

/* Check the combination of options against the remapping rules. remapped
 * is whether the container will get a user namespace. Error messages say
 * which flag to add. */
int gb_runspec_check(const struct gb_run_opts *o, bool remapped, struct gb_error *err);

/* The user and groups a process runs as, after resolving names. */
struct gb_run_user {
        uint32_t uid, gid;
        uint32_t *groups; /* additional GIDs; owned */
        size_t n_groups;
        char *home; /* for $HOME; owned, may be NULL */
};

void gb_run_user_clear(struct gb_run_user *u);

/* Resolve USER[:GROUP] (names or numbers; NULL or "" is root) against the
 * container's /etc/passwd and /etc/group, read through rootfs_fd with
 * RESOLVE_IN_ROOT so a symlinked /etc/passwd cannot point at the host's.
 * As Docker: a numeric user that is not in passwd is allowed (gid 0), a
 * name that is not is an error "unable to find user NAME: no matching
 * entries in passwd file". Supplementary groups come from /etc/group. */
int gb_runspec_resolve_user(int rootfs_fd, const char *spec, struct gb_run_user *ret, struct gb_error *err);

struct gb_runspec_in {
        const struct gb_run_opts *opts;
        json_t *image_config; /* OCI image config "config" object: Env, Cmd, Entrypoint, WorkingDir, User */
        const struct gb_run_user *user;
        const char *rootfs;                 /* absolute path of the prepared root filesystem */
        const char *id;                     /* container ID; hostname defaults to its first 12 chars */
        const struct gb_idmap *uids, *gids; /* NULL for --userns=host */
        const char *hosts_file, *resolv_file, *hostname_file; /* bind-mounted over /etc/..., may be NULL */
        const char *init_path; /* --init: the host's ghostbox-init, mounted at /sbin/docker-init */
};

/* Build the OCI spec. *ret is a new reference. */
int gb_runspec_build(const struct gb_runspec_in *in, json_t **ret, struct gb_error *err);

/* Docker's default capability names (CAP_...), NULL-terminated. */
extern const char *const gb_default_caps[];

/* Apply --cap-add / --cap-drop (names with or without CAP_, any case, or
 * ALL) to base. Returns a new NULL-terminated vector of CAP_ names. */
int gb_runspec_caps(const char *const *base, char *const *add, char *const *drop, char ***ret, struct gb_error *err);

/* The default seccomp profile as an OCI linux.seccomp object. */
json_t *gb_runspec_default_seccomp(void);
