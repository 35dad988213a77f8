/* The engine: what `ghostbox run` and the Engine API do with a container,
 * between the front end's parsed options and the sandbox.
 *
 *   create:  config + remap (+ --userns=auto range) -> record, root
 *            filesystem, /etc/hosts & co., OCI spec (config.json)
 *   start:   spawn the monitor (which runs the sandbox), attach, start
 *   stop/kill/wait/remove: through the container's pid (checked against
 *            its start time) and the record the monitor keeps
 *
 * One struct gb_engine per front-end process: it holds the loaded
 * daemon.json and the resolved remapping. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "container.h"
#include "error.h"
#include "idmap.h"
#include "runspec.h"

struct gb_engine {
        struct gb_config cfg;
        struct gb_remap remap; /* resolved when cfg says remapping is on */
        char *cli_path;        /* the ghostbox binary (the monitor runs `rm` for --rm) */
        char *monitor_path;
        char *init_path;  /* ghostbox-init for --init */
        char *probe_path; /* ghostbox-probe for `ghostbox check` */
};

/* Load the configuration and resolve the remapping (creating `default`'s
 * user and ranges when missing). cli_path is the running ghostbox binary;
 * the monitor is looked for next to it, then in libexec. */
int gb_engine_open(const struct gb_config_overrides *ov, const char *cli_path, struct gb_engine *ret,
                   struct gb_error *err);
void gb_engine_close(struct gb_engine *e);

/* What the container runs from: an image's prepared root filesystem (a
 * later module fills these in) or a plain directory (--rootfs, as Podman). */
struct gb_create_src {
        const char *rootfs_dir; /* --rootfs DIR: mounted (idmapped when remapped) as the root */
        json_t *image_config;   /* OCI image config "config" object, may be NULL */
        const char *image_ref;  /* for the record's Config.Image */
        const char *image_id;
};

/* Create a container; *ret_id receives its ID. On failure nothing is left:
 * no record, no mount, no reserved name or range. */
int gb_engine_create(struct gb_engine *e, const struct gb_run_opts *o, const struct gb_create_src *src,
                     char ret_id[GB_CONTAINER_ID_LEN + 1], struct gb_error *err);

/* Start a created or exited container: spawn its monitor and release the
 * init. With attach_flags, attach first (before start, so no output is
 * lost) and return the stream in *ret_attach_fd. *ret_monitor is the
 * monitor's pid, a child of the caller (may be NULL). */
int gb_engine_start(struct gb_engine *e, const char *ref, unsigned attach_flags, int *ret_attach_fd, pid_t *ret_monitor,
                    struct gb_error *err);

/* Signal the container's init. -EINVAL "is not running" when it is not. */
int gb_engine_kill(struct gb_engine *e, const char *ref, int sig, struct gb_error *err);

/* SIGTERM (or the image's StopSignal), then SIGKILL after timeout seconds. */
int gb_engine_stop(struct gb_engine *e, const char *ref, int timeout, struct gb_error *err);

/* Wait until the container is not running; its exit code in *ret_code. */
int gb_engine_wait(struct gb_engine *e, const char *ref, int *ret_code, struct gb_error *err);

/* Remove: refuse a running container unless force (then kill it), unmount
 * its root filesystem, release its --userns=auto range, delete the record;
 * with volumes, also its anonymous volumes (`rm -v`, and `run --rm`). */
int gb_engine_remove(struct gb_engine *e, const char *ref, bool force, bool volumes, struct gb_error *err);

/* The area named volumes live in ("<uid>.<gid>" of the daemon's remapped
 * root, or "0.0"), and its owner. Caller frees. */
char *gb_engine_volume_area(const struct gb_engine *e, uid_t *ret_uid, gid_t *ret_gid);

/* IDs of the containers whose Mounts use volume name (a strv, caller frees). */
int gb_engine_volume_users(struct gb_engine *e, const char *name, char ***ret_ids, struct gb_error *err);

/* Bring a record in line with reality: a record saying "running" whose
 * monitor and init are gone (SIGKILLed monitor, reboot) becomes "exited"
 * (or "dead" when nobody recorded the exit). Call with c locked; returns
 * 1 when it changed the record. */
int gb_engine_refresh(struct gb_engine *e, struct gb_container *c, struct gb_error *err);

/* Is the container's init alive (pid and start time as recorded)? */
bool gb_engine_init_alive(const struct gb_container *c);

/* docker network connect / disconnect: the container joins (eth1, eth2...
 * when it is on a network already; wired at once when running) or leaves
 * network net. EPERM for host/none containers, EEXIST when already on it. */
int gb_engine_network_connect(struct gb_engine *e, const char *ref, const char *net, char *const *aliases,
                              const char *ip, struct gb_error *err);
int gb_engine_network_disconnect(struct gb_engine *e, const char *ref, const char *net, struct gb_error *err);

/* The --userns=auto state file and pool. */
char *gb_engine_auto_state(const struct gb_engine *e);
int gb_engine_auto_pool(const struct gb_engine *e, struct gb_idmap *uids, struct gb_idmap *gids, struct gb_error *err);
