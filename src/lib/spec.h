/* The OCI runtime spec (config.json) in memory.
 *
 * gb_spec_load_file()/gb_spec_from_json() parse and validate a config.json
 * into a struct gb_spec that the sandbox executes. Every error names the JSON
 * field path ("config.json: process.user.uid: expected an unsigned integer").
 * Fields the spec defines but ghostbox does not implement produce a gb_warn()
 * naming the field (linux.resources, hooks, ...) or an error when ignoring
 * them would weaken isolation; unknown fields are warned about, never
 * silently dropped.
 *
 * The whole struct is owned by the caller and freed with gb_spec_free(). The
 * engine builds one in memory (gb_spec_from_json on a json_t it made) and
 * hands it to gb_sandbox_create(), the same call ghostbox-runtime makes. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "idmap.h"

/* Index into gb_spec_caps.set[] */
enum gb_cap_set {
        GB_CAP_BOUNDING,
        GB_CAP_EFFECTIVE,
        GB_CAP_INHERITABLE,
        GB_CAP_PERMITTED,
        GB_CAP_AMBIENT,
        GB_CAP_SET_MAX,
};

struct gb_spec_rlimit {
        int resource; /* RLIMIT_* */
        uint64_t soft, hard;
};

struct gb_spec_process {
        bool terminal;
        unsigned console_height, console_width;
        uint32_t uid, gid;
        uint32_t *additional_gids;
        size_t n_additional_gids;
        bool has_umask;
        mode_t umask;
        char **args; /* NULL-terminated, at least one element */
        char **env;  /* NULL-terminated */
        char *cwd;   /* absolute */
        bool has_caps;
        uint64_t caps[GB_CAP_SET_MAX]; /* bit n = capability n */
        struct gb_spec_rlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        bool has_oom_score_adj;
        int oom_score_adj;
        char *apparmor_profile; /* NULL or "" = none */
        char *selinux_label;
};

struct gb_spec_mount {
        char *destination; /* absolute, inside the container */
        char *type;        /* "bind", "proc", "tmpfs", ... */
        char *source;
        unsigned long flags;       /* MS_* set */
        unsigned long clear_flags; /* MS_* explicitly cleared (rw, suid, ...) */
        unsigned long propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE, |MS_REC */
        bool bind, recursive;
        char *data; /* comma-joined options mount(2) passes to the fs */
        bool idmapped;
        struct gb_idmap *uid_map, *gid_map; /* OCI 1.1 per-mount mappings */
};

struct gb_spec_namespace {
        int type;   /* CLONE_NEW* */
        char *path; /* join this one; NULL = create */
};

struct gb_spec_device {
        char *path;
        char type; /* 'c', 'b', 'u', 'p' */
        int64_t major, minor;
        bool has_mode;
        mode_t mode;
        bool has_uid, has_gid;
        uint32_t uid, gid;
};

struct gb_spec_kv {
        char *key, *value;
};

struct gb_seccomp_arg {
        unsigned index;
        uint64_t value, value_two;
        int op; /* enum scmp_compare */
};

struct gb_seccomp_rule {
        char **names;
        uint32_t action; /* SCMP_ACT_* (errno folded in) */
        struct gb_seccomp_arg *args;
        size_t n_args;
};

struct gb_spec_seccomp {
        uint32_t default_action;
        uint32_t *arches; /* SCMP_ARCH_* */
        size_t n_arches;
        unsigned flags; /* SECCOMP_FILTER_FLAG_* */
        struct gb_seccomp_rule *rules;
        size_t n_rules;
};

struct gb_spec {
        char *oci_version;
        char *root_path; /* as written; relative to the bundle */
        bool root_readonly;
        char *hostname, *domainname;
        struct gb_spec_process process;
        struct gb_spec_mount *mounts;
        size_t n_mounts;
        struct gb_spec_namespace *namespaces;
        size_t n_namespaces;
        struct gb_idmap *uid_map, *gid_map; /* NULL when no linux.uidMappings */
        struct gb_spec_device *devices;
        size_t n_devices;
        struct gb_spec_kv *sysctl;
        size_t n_sysctl;
        char **masked_paths;
        char **readonly_paths;
        unsigned long rootfs_propagation; /* 0 = default (rslave) */
        struct gb_spec_seccomp *seccomp;  /* NULL = none */
        json_t *annotations;              /* object or NULL, borrowed ref owned by the spec */
};

/* Parse config.json at path. The label used in error messages is the file's
 * base name ("config.json: ..."). */
int gb_spec_load_file(const char *path, struct gb_spec **ret, struct gb_error *err);

/* Parse from a buffer (the fuzz target's entry). label prefixes messages. */
int gb_spec_load_data(const char *data, size_t len, const char *label, struct gb_spec **ret, struct gb_error *err);

/* Parse from a json_t the caller keeps owning. */
int gb_spec_from_json(json_t *root, const char *label, struct gb_spec **ret, struct gb_error *err);

/* Parse just a "process" object (ghostbox-runtime exec --process FILE). */
int gb_spec_process_from_json(json_t *obj, const char *label, struct gb_spec_process *ret, struct gb_error *err);
void gb_spec_process_done(struct gb_spec_process *p);

void gb_spec_free(struct gb_spec *s);
static inline void gb_spec_freep(struct gb_spec **s)
{
        gb_spec_free(*s);
}

/* Namespace lookup: the entry for CLONE_NEW* type, or NULL. */
const struct gb_spec_namespace *gb_spec_namespace(const struct gb_spec *s, int type);

/* Capability name <-> number ("CAP_CHOWN" -> 0). -1 when unknown. */
int gb_cap_from_name(const char *name);
const char *gb_cap_name(int cap);

/* A default config.json (runc spec's defaults) with a user namespace mapping
 * container 0..size-1 to host base..base+size-1. Caller owns the result. */
json_t *gb_spec_default_json(uint32_t uid_base, uint32_t gid_base, uint32_t size);
