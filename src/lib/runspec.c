#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "runspec.h"
#include "syscalls.h"
#include "util.h"

/* Docker's default set (moby/oci/caps/defaults.go): what a container's root
 * may do without --cap-add. */
GB_EXPORT const char *const gb_default_caps[] = {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
        NULL,
};

static const char *const masked_paths[] = {
        "/proc/asound",
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
        NULL,
};

static const char *const readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static const char *const default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

GB_EXPORT void gb_run_opts_clear(struct gb_run_opts *o)
{
        free(o->name);
        free(o->image);
        gb_strv_free(o->cmd);
        gb_strv_free(o->entrypoint);
        gb_strv_free(o->env);
        free(o->workdir);
        free(o->user);
        free(o->hostname);
        free(o->seccomp);
        gb_strv_free(o->cap_add);
        gb_strv_free(o->cap_drop);
        gb_strv_free(o->tmpfs);
        for (size_t i = 0; i < o->n_mounts; i++)
                gb_mount_req_clear(&o->mounts[i]);
        free(o->mounts);
        free(o->network);
        gb_strv_free(o->net_aliases);
        free(o->ip);
        json_decref(o->port_bindings);
        json_decref(o->exposed_ports);
        memset(o, 0, sizeof(*o));
}

GB_EXPORT void gb_run_user_clear(struct gb_run_user *u)
{
        free(u->groups);
        free(u->home);
        memset(u, 0, sizeof(*u));
}

GB_EXPORT int gb_runspec_parse_userns(const char *value, struct gb_run_opts *o, struct gb_error *err)
{
        o->userns_size = 65536;
        if (!value || !*value) {
                o->userns = GB_USERNS_DEFAULT;
                return 0;
        }
        if (strcmp(value, "host") == 0) {
                o->userns = GB_USERNS_HOST;
                return 0;
        }
        if (strcmp(value, "auto") == 0) {
                o->userns = GB_USERNS_AUTO;
                return 0;
        }
        if (gb_str_has_prefix(value, "auto:")) {
                const char *p = value + 5;
                uint32_t size;
                if (!gb_str_has_prefix(p, "size=") || gb_parse_u32(p + 5, &size) < 0 || size == 0)
                        return gb_error_set(err, EINVAL,
                                            "Failed to parse --userns=%s: expected auto:size=N with N a positive "
                                            "number of IDs (e.g. auto:size=65536)",
                                            value);
                o->userns = GB_USERNS_AUTO;
                o->userns_size = size;
                return 0;
        }
        return gb_error_set(err, EINVAL, "Failed to parse --userns=%s: use host, auto or auto:size=N", value);
}

GB_EXPORT int gb_runspec_check(const struct gb_run_opts *o, bool remapped, struct gb_error *err)
{
        /* seeds/000 "User namespace known limitations": these share host
         * resources that a remapped root must not control. */
        if (remapped && o->privileged)
                return gb_error_set(err, EINVAL,
                                    "Failed to create container: --privileged is incompatible with user namespace "
                                    "remapping; add --userns=host to run it without remapping (its root is then "
                                    "host root)");
        if (remapped && o->pid_host)
                return gb_error_set(err, EINVAL,
                                    "Failed to create container: --pid=host is incompatible with user namespace "
                                    "remapping; add --userns=host");
        if (remapped && o->net_host)
                return gb_error_set(err, EINVAL,
                                    "Failed to create container: --network=host is incompatible with user namespace "
                                    "remapping; add --userns=host");
        if ((o->net_host || o->net_none) && o->network)
                return gb_error_set(err, EINVAL, "Failed to create container: --network given twice");
        if (o->net_host && o->net_none)
                return gb_error_set(err, EINVAL, "Failed to create container: --network given twice");
        return 0;
}

/* Normalise a capability name: "net_admin", "NET_ADMIN", "cap_net_admin"
 * all become "CAP_NET_ADMIN"; -EINVAL when libcap does not know it. */
static int cap_normalize(const char *in, char **ret)
{
        _cleanup_free_ char *name = NULL;
        cap_value_t v;

        name = gb_str_has_prefix(in, "CAP_") || gb_str_has_prefix(in, "cap_") ? gb_xstrdup(in)
                                                                              : gb_xasprintf("CAP_%s", in);
        for (char *p = name; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
        if (cap_from_name(name, &v) < 0)
                return -EINVAL;
        *ret = TAKE_PTR(name);
        return 0;
}

static bool strv_contains(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static void strv_push(char ***v, size_t *n, char *s)
{
        *v = gb_xrealloc(*v, (*n + 2) * sizeof(**v));
        (*v)[(*n)++] = s;
        (*v)[*n] = NULL;
}

static char **all_caps(void)
{
        char **v = NULL;
        size_t n = 0;

        for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
                char *name;
                /* "ALL" is every capability we can hand on: a host may
                 * withhold some even from root (this is what Docker's
                 * --privileged gets too). */
                if (prctl(PR_CAPBSET_READ, c) != 1)
                        continue;
                name = cap_to_name(c);
                if (!name)
                        continue;
                _cleanup_free_ char *upper = gb_xstrdup(name);
                cap_free(name);
                for (char *p = upper; *p; p++)
                        if (*p >= 'a' && *p <= 'z')
                                *p = (char)(*p - 'a' + 'A');
                /* Unnamed new caps come back as numbers: skip them. */
                if (gb_str_has_prefix(upper, "CAP_"))
                        strv_push(&v, &n, TAKE_PTR(upper));
        }
        return v;
}

GB_EXPORT int gb_runspec_caps(const char *const *base, char *const *add, char *const *drop, char ***ret,
                              struct gb_error *err)
{
        _cleanup_strv_ char **out = NULL;
        size_t n = 0;

        /* Docker applies drops to the base set first, then adds; ALL in
         * either list means every capability the kernel knows. */
        if (strv_contains(add, "ALL") || strv_contains(add, "all"))
                out = all_caps();
        else
                for (const char *const *b = base; b && *b; b++)
                        strv_push(&out, &n, gb_xstrdup(*b));
        n = gb_strv_len(out);
        for (char *const *d = drop; d && *d; d++) {
                _cleanup_free_ char *name = NULL;
                if (strcasecmp(*d, "ALL") == 0) {
                        gb_strv_free(TAKE_PTR(out));
                        n = 0;
                        continue;
                }
                if (cap_normalize(*d, &name) < 0)
                        return gb_error_set(err, EINVAL, "Failed to parse --cap-drop: unknown capability: \"%s\"", *d);
                for (size_t i = 0; i < n; i++)
                        if (strcmp(out[i], name) == 0) {
                                free(out[i]);
                                memmove(&out[i], &out[i + 1], (n - i) * sizeof(*out));
                                n--;
                                break;
                        }
        }
        for (char *const *a = add; a && *a; a++) {
                _cleanup_free_ char *name = NULL;
                if (strcasecmp(*a, "ALL") == 0)
                        continue;
                if (cap_normalize(*a, &name) < 0)
                        return gb_error_set(err, EINVAL, "Failed to parse --cap-add: unknown capability: \"%s\"", *a);
                if (!strv_contains(out, name))
                        strv_push(&out, &n, TAKE_PTR(name));
        }
        if (!out)
                out = gb_xcalloc(1, sizeof(*out));
        *ret = TAKE_PTR(out);
        return 0;
}

/* Syscalls Docker's default profile withholds, grouped by the capability
 * that would make them legitimate: with that capability added, the group
 * is allowed again (as Docker does). */
struct sc_group {
        const char *cap; /* NULL: always denied */
        const char *const *names;
};

static const char *const sc_always[] = {
        "add_key",           "keyctl",      "request_key",     "kexec_load", "kexec_file_load",
        "open_by_handle_at", "userfaultfd", "uselib",          "ustat",      "sysfs",
        "lookup_dcookie",    "nfsservctl",  "perf_event_open", "bpf",        "kcmp",
        "name_to_handle_at", NULL,
};
static const char *const sc_sys_admin[] = {
        "mount",    "umount2", "pivot_root", "setns",     "swapon",     "swapoff",       "quotactl", "fsopen",
        "fsconfig", "fsmount", "fspick",     "open_tree", "move_mount", "mount_setattr", "vhangup",  NULL,
};
static const char *const sc_sys_module[] = {"init_module", "finit_module", "delete_module", NULL};
static const char *const sc_sys_boot[] = {"reboot", NULL};
static const char *const sc_sys_time[] = {"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", NULL};
static const char *const sc_sys_pacct[] = {"acct", NULL};
static const char *const sc_sys_rawio[] = {"iopl", "ioperm", NULL};
static const char *const sc_syslog[] = {"syslog", NULL};

static const struct sc_group sc_groups[] = {
        {NULL, sc_always},
        {"CAP_SYS_ADMIN", sc_sys_admin},
        {"CAP_SYS_MODULE", sc_sys_module},
        {"CAP_SYS_BOOT", sc_sys_boot},
        {"CAP_SYS_TIME", sc_sys_time},
        {"CAP_SYS_PACCT", sc_sys_pacct},
        {"CAP_SYS_RAWIO", sc_sys_rawio},
        {"CAP_SYSLOG", sc_syslog},
};

static json_t *seccomp_for_caps(char *const *caps)
{
        json_t *syscalls = json_array(), *names = json_array();
        bool sys_admin = strv_contains(caps, "CAP_SYS_ADMIN");

        for (size_t g = 0; g < ARRAY_SIZE(sc_groups); g++) {
                if (sc_groups[g].cap && strv_contains(caps, sc_groups[g].cap))
                        continue;
                for (const char *const *n = sc_groups[g].names; *n; n++)
                        json_array_append_new(names, json_string(*n));
        }
        json_array_append_new(
                syscalls, json_pack("{s:o, s:s, s:i}", "names", names, "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM));
        if (!sys_admin) {
                /* New namespaces from inside (a nested user namespace is the
                 * usual first step of kernel exploits) need CAP_SYS_ADMIN,
                 * as in Docker. clone3 hides its flags behind a pointer a
                 * filter cannot read: ENOSYS makes libc fall back to clone. */
                const json_int_t ns_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                            CLONE_NEWNET | CLONE_NEWCGROUP;
                /* One rule per flag: MASKED_EQ(flag, flag) denies a call
                 * that sets it; calls without namespace flags pass. */
                for (unsigned b = 0; b < 63; b++) {
                        json_int_t bit = (json_int_t)1 << b;
                        if (!(ns_flags & bit))
                                continue;
                        json_array_append_new(syscalls,
                                              json_pack("{s:[s,s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names",
                                                        "unshare", "clone", "action", "SCMP_ACT_ERRNO", "errnoRet",
                                                        EPERM, "args", "index", 0, "value", bit, "valueTwo", bit, "op",
                                                        "SCMP_CMP_MASKED_EQ"));
                }
                json_array_append_new(syscalls, json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action",
                                                          "SCMP_ACT_ERRNO", "errnoRet", ENOSYS));
        }
        return json_pack("{s:s, s:o}", "defaultAction", "SCMP_ACT_ALLOW", "syscalls", syscalls);
}

GB_EXPORT json_t *gb_runspec_default_seccomp(void)
{
        return seccomp_for_caps((char *const *)gb_default_caps);
}

/* --- user resolution ------------------------------------------------ */

static int open_in_root(int rootfs_fd, const char *path, FILE **ret)
{
        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd = gb_openat2(rootfs_fd, path, &how, sizeof(how));
        FILE *f;

        if (fd < 0)
                return -errno;
        f = fdopen(fd, "re");
        if (!f) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret = f;
        return 0;
}

/* Split a passwd/group line into at most max fields at ':'. */
static size_t split_colon(char *line, char **fields, size_t max)
{
        size_t n = 0;
        char *p = line;

        line[strcspn(line, "\r\n")] = '\0';
        while (n < max) {
                fields[n++] = p;
                p = strchr(p, ':');
                if (!p)
                        break;
                *p++ = '\0';
        }
        return n;
}

GB_EXPORT int gb_runspec_resolve_user(int rootfs_fd, const char *spec, struct gb_run_user *ret, struct gb_error *err)
{
        _cleanup_free_ char *user = NULL, *line = NULL;
        _cleanup_fclose_ FILE *pw = NULL, *gr = NULL;
        struct gb_run_user u = {0};
        const char *group = NULL;
        bool user_numeric, found = false, group_found = false;
        uint32_t num;
        size_t cap = 0;
        char *colon;

        user = gb_xstrdup(spec && *spec ? spec : "0");
        colon = strchr(user, ':');
        if (colon) {
                *colon = '\0';
                group = colon + 1;
                if (!*group)
                        return gb_error_set(err, EINVAL, "Failed to parse user \"%s\": empty group after ':'", spec);
        }
        if (!*user)
                return gb_error_set(err, EINVAL, "Failed to parse user \"%s\": empty user name", spec);
        user_numeric = gb_parse_u32(user, &num) == 0;
        if (user_numeric)
                u.uid = num;

        if (open_in_root(rootfs_fd, "/etc/passwd", &pw) == 0) {
                while (getline(&line, &cap, pw) > 0) {
                        char *f[7];
                        uint32_t uid, gid;
                        if (split_colon(line, f, 7) < 7 || gb_parse_u32(f[2], &uid) < 0 || gb_parse_u32(f[3], &gid) < 0)
                                continue;
                        if (user_numeric ? uid == num : strcmp(f[0], user) == 0) {
                                u.uid = uid;
                                u.gid = gid;
                                u.home = gb_xstrdup(f[5]);
                                found = true;
                                break;
                        }
                }
        }
        if (!found && !user_numeric) {
                gb_run_user_clear(&u);
                return gb_error_set(err, ENOENT, "unable to find user %s: no matching entries in passwd file", user);
        }

        if (open_in_root(rootfs_fd, "/etc/group", &gr) == 0) {
                bool group_numeric = group && gb_parse_u32(group, &num) == 0;
                if (group_numeric) {
                        u.gid = num;
                        group_found = true;
                }
                while (getline(&line, &cap, gr) > 0) {
                        char *f[4];
                        uint32_t gid;
                        if (split_colon(line, f, 4) < 4 || gb_parse_u32(f[2], &gid) < 0)
                                continue;
                        if (group && !group_numeric && strcmp(f[0], group) == 0) {
                                u.gid = gid;
                                group_found = true;
                        }
                        /* Supplementary groups: the user is listed by name,
                         * and only when no explicit group was given
                         * (Docker's rule). */
                        if (!group && found) {
                                char *save = NULL;
                                _cleanup_free_ char *members = gb_xstrdup(f[3]);
                                for (char *m = strtok_r(members, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
                                        if (!user_numeric && strcmp(m, user) == 0 && gid != u.gid) {
                                                u.groups = gb_xrealloc(u.groups, (u.n_groups + 1) * sizeof(*u.groups));
                                                u.groups[u.n_groups++] = gid;
                                        }
                                }
                        }
                }
        } else if (group && gb_parse_u32(group, &num) == 0) {
                u.gid = num;
                group_found = true;
        }
        if (group && !group_found) {
                gb_run_user_clear(&u);
                return gb_error_set(err, ENOENT, "unable to find group %s: no matching entries in group file", group);
        }
        *ret = u;
        return 0;
}

/* --- the spec ---------------------------------------------------------- */

static json_t *strv_to_json(char *const *v)
{
        json_t *a = json_array();
        for (; v && *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

static json_t *cstrv_to_json(const char *const *v)
{
        return strv_to_json((char *const *)v);
}

/* Set KEY=VALUE in env (a JSON array of strings), replacing an existing KEY. */
static void env_set(json_t *env, const char *kv)
{
        size_t klen = strcspn(kv, "=");
        size_t i;
        json_t *e;

        json_array_foreach (env, i, e) {
                const char *s = json_string_value(e);
                if (s && strncmp(s, kv, klen) == 0 && (s[klen] == '=' || s[klen] == '\0')) {
                        json_array_set_new(env, i, json_string(kv));
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
}

static bool env_has(json_t *env, const char *key)
{
        size_t klen = strlen(key), i;
        json_t *e;

        json_array_foreach (env, i, e) {
                const char *s = json_string_value(e);
                if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
                        return true;
        }
        return false;
}

static json_t *mount_entry(const char *dst, const char *type, const char *src, const char *const *opts)
{
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src, "options",
                         cstrv_to_json(opts));
}

static int add_tmpfs_mounts(json_t *mounts, char *const *tmpfs, struct gb_error *err)
{
        for (; tmpfs && *tmpfs; tmpfs++) {
                _cleanup_free_ char *dst = gb_xstrdup(*tmpfs);
                char *opts = strchr(dst, ':');
                json_t *o = json_array();
                if (opts)
                        *opts++ = '\0';
                if (dst[0] != '/') {
                        json_decref(o);
                        return gb_error_set(err, EINVAL,
                                            "Failed to parse --tmpfs %s: the destination must be an absolute path",
                                            *tmpfs);
                }
                /* Docker's --tmpfs defaults, then the user's options. */
                json_array_append_new(o, json_string("nosuid"));
                json_array_append_new(o, json_string("nodev"));
                json_array_append_new(o, json_string("noexec"));
                if (opts && *opts) {
                        char *save = NULL;
                        for (char *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save))
                                json_array_append_new(o, json_string(t));
                }
                json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", "tmpfs",
                                                        "source", "tmpfs", "options", o));
        }
        return 0;
}

static json_t *idmap_to_json(const struct gb_idmap *m);

/* -v / --mount requests. Binds keep Docker's semantics (rbind, rprivate
 * unless asked); `idmap` binds get the container's own mapping as the
 * mount's mapping (host UID N shows as N inside) and are always nosuid and
 * nodev, because files the container creates there belong to the host IDs
 * of the same number. Named volumes are resolved by the engine before this
 * runs; one that reaches here has no source path. */
static int add_requested_mounts(json_t *mounts, const struct gb_runspec_in *in, struct gb_error *err)
{
        const struct gb_run_opts *o = in->opts;

        for (size_t i = 0; i < o->n_mounts; i++) {
                const struct gb_mount_req *m = &o->mounts[i];
                json_t *opts = json_array(), *e;

                switch (m->type) {
                case GB_MOUNT_BIND:
                        json_array_append_new(opts, json_string(m->nonrecursive ? "bind" : "rbind"));
                        json_array_append_new(opts, json_string(m->readonly ? "ro" : "rw"));
                        json_array_append_new(opts, json_string(m->propagation ? m->propagation : "rprivate"));
                        if (m->idmap) {
                                if (!in->uids) {
                                        json_decref(opts);
                                        return gb_error_set(err, EINVAL,
                                                            "Failed to mount \"%s\" with idmap: the container has no "
                                                            "user namespace (--userns=host); drop the idmap option",
                                                            m->target);
                                }
                                json_array_append_new(opts, json_string("nosuid"));
                                json_array_append_new(opts, json_string("nodev"));
                        }
                        e = json_pack("{s:s, s:s, s:s, s:o}", "destination", m->target, "type", "bind", "source",
                                      m->source, "options", opts);
                        if (m->idmap) {
                                json_object_set_new(e, "uidMappings", idmap_to_json(in->uids));
                                json_object_set_new(e, "gidMappings", idmap_to_json(in->gids));
                        }
                        json_array_append_new(mounts, e);
                        break;
                case GB_MOUNT_TMPFS:
                        json_array_append_new(opts, json_string("nosuid"));
                        json_array_append_new(opts, json_string("nodev"));
                        json_array_append_new(opts, json_string("noexec"));
                        if (m->readonly)
                                json_array_append_new(opts, json_string("ro"));
                        if (m->tmpfs_size)
                                json_array_append_new(opts,
                                                      json_sprintf("size=%llu", (unsigned long long)m->tmpfs_size));
                        json_array_append_new(opts, json_sprintf("mode=%o", m->tmpfs_mode ? m->tmpfs_mode : 01777));
                        json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:o}", "destination", m->target,
                                                                "type", "tmpfs", "source", "tmpfs", "options", opts));
                        break;
                case GB_MOUNT_VOLUME:
                        json_decref(opts);
                        if (!m->source || m->source[0] != '/')
                                return gb_error_set(err, ENOTSUP,
                                                    "Failed to mount a volume at \"%s\": named and anonymous volumes "
                                                    "are not available in this ghostbox yet; bind a host directory "
                                                    "with -v /host/path:%s",
                                                    m->target, m->target);
                        /* Resolved by the engine to <area>/volumes/NAME/_data. */
                        e = json_pack("{s:s, s:s, s:s, s:[s,s,s]}", "destination", m->target, "type", "bind", "source",
                                      m->source, "options", "rbind", m->readonly ? "ro" : "rw", "rprivate");
                        if (m->shift_uids && m->shift_gids) {
                                json_array_append_new(json_object_get(e, "options"), json_string("nosuid"));
                                json_array_append_new(json_object_get(e, "options"), json_string("nodev"));
                                json_object_set_new(e, "uidMappings", idmap_to_json(m->shift_uids));
                                json_object_set_new(e, "gidMappings", idmap_to_json(m->shift_gids));
                        }
                        json_array_append_new(mounts, e);
                        break;
                }
        }
        return 0;
}

static json_t *idmap_to_json(const struct gb_idmap *m)
{
        json_t *a = json_array();
        for (size_t i = 0; i < m->n; i++)
                json_array_append_new(a, json_pack("{s:I, s:I, s:I}", "containerID", (json_int_t)m->r[i].container_id,
                                                   "hostID", (json_int_t)m->r[i].host_id, "size",
                                                   (json_int_t)m->r[i].count));
        return a;
}

static json_t *default_devices(void)
{
        static const struct {
                const char *path;
                unsigned maj, min;
        } devs[] = {
                {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
        };
        json_t *a = json_array();

        for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
                json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "path", devs[i].path, "type",
                                                   "c", "major", devs[i].maj, "minor", devs[i].min, "fileMode", 0666,
                                                   "uid", 0, "gid", 0));
        return a;
}

GB_EXPORT int gb_runspec_build(const struct gb_runspec_in *in, json_t **ret, struct gb_error *err)
{
        const struct gb_run_opts *o = in->opts;
        json_t *ic = in->image_config;
        _cleanup_strv_ char **caps = NULL;
        json_t *spec = NULL, *process, *args, *env, *mounts, *linux_, *ns, *v;
        _cleanup_free_ char *hostname = NULL;
        const char *cwd;
        bool remapped = in->uids != NULL;
        size_t i;
        int r;

        r = gb_runspec_check(o, remapped, err);
        if (r < 0)
                return r;
        if (remapped && (!in->gids || in->uids->n == 0 || in->gids->n == 0))
                return gb_error_set(err, EINVAL, "Failed to build spec: a remapped container needs UID and GID maps");

        /* args: Docker's rules. --entrypoint replaces the image's and also
         * drops the image's Cmd; a command after the image replaces Cmd. */
        args = json_array();
        if (o->entrypoint_set) {
                for (char **p = o->entrypoint; p && *p; p++)
                        if (**p)
                                json_array_append_new(args, json_string(*p));
        } else if (json_is_array(json_object_get(ic, "Entrypoint")))
                json_array_extend(args, json_object_get(ic, "Entrypoint"));
        if (o->cmd && o->cmd[0]) {
                json_t *c = strv_to_json(o->cmd);
                json_array_extend(args, c);
                json_decref(c);
        } else if (!o->entrypoint_set && json_is_array(json_object_get(ic, "Cmd")))
                json_array_extend(args, json_object_get(ic, "Cmd"));
        if (o->init && json_array_size(args) > 0) {
                if (!in->init_path) {
                        json_decref(args);
                        return gb_error_set(err, ENOENT, "Failed to use --init: ghostbox-init is not installed");
                }
                json_array_insert_new(args, 0, json_string("--"));
                json_array_insert_new(args, 0, json_string("/sbin/docker-init"));
        }
        if (json_array_size(args) == 0) {
                json_decref(args);
                return gb_error_set(err, EINVAL,
                                    "No command specified: give one after the image name, or use an "
                                    "image with a CMD or ENTRYPOINT");
        }

        hostname = gb_xstrdup(o->hostname && *o->hostname ? o->hostname : (in->id ? in->id : "ghostbox"));
        if (!(o->hostname && *o->hostname) && strlen(hostname) > 12)
                hostname[12] = '\0';

        env = json_array();
        json_array_foreach (json_object_get(ic, "Env"), i, v)
                if (json_is_string(v))
                        env_set(env, json_string_value(v));
        if (!env_has(env, "PATH")) {
                _cleanup_free_ char *p = gb_xasprintf("PATH=%s", default_path);
                env_set(env, p);
        }
        {
                _cleanup_free_ char *h = gb_xasprintf("HOSTNAME=%s", hostname);
                env_set(env, h);
        }
        if (o->tty)
                env_set(env, "TERM=xterm");
        for (char **e = o->env; e && *e; e++)
                env_set(env, *e);
        if (!env_has(env, "HOME")) {
                _cleanup_free_ char *h =
                        gb_xasprintf("HOME=%s", in->user && in->user->home && *in->user->home ? in->user->home : "/");
                env_set(env, h);
        }

        cwd = o->workdir && *o->workdir ? o->workdir : json_string_value(json_object_get(ic, "WorkingDir"));
        if (!cwd || !*cwd)
                cwd = "/";
        if (cwd[0] != '/') {
                json_decref(args);
                json_decref(env);
                return gb_error_set(err, EINVAL, "Failed to set the working directory \"%s\": it must be absolute",
                                    cwd);
        }

        r = gb_runspec_caps(o->privileged ? NULL : gb_default_caps,
                            o->privileged ? (char *[]){(char *)"ALL", NULL} : o->cap_add,
                            o->privileged ? NULL : o->cap_drop, &caps, err);
        if (r < 0) {
                json_decref(args);
                json_decref(env);
                return r;
        }

        process =
                json_pack("{s:b, s:{s:I, s:I}, s:o, s:o, s:s, s:{s:o, s:o, s:o, s:o}, s:b}", "terminal", o->tty, "user",
                          "uid", (json_int_t)(in->user ? in->user->uid : 0), "gid",
                          (json_int_t)(in->user ? in->user->gid : 0), "args", args, "env", env, "cwd", cwd,
                          "capabilities", "bounding", strv_to_json(caps), "effective", strv_to_json(caps), "permitted",
                          strv_to_json(caps), "inheritable", json_array(), "noNewPrivileges", o->no_new_privileges);
        if (in->user && in->user->n_groups) {
                json_t *g = json_array();
                for (size_t k = 0; k < in->user->n_groups; k++)
                        json_array_append_new(g, json_integer(in->user->groups[k]));
                json_object_set_new(json_object_get(process, "user"), "additionalGids", g);
        }

        mounts = json_array();
        json_array_append_new(
                mounts, mount_entry("/proc", "proc", "proc", (const char *[]){"nosuid", "noexec", "nodev", NULL}));
        json_array_append_new(mounts,
                              mount_entry("/dev", "tmpfs", "tmpfs",
                                          (const char *[]){"nosuid", "strictatime", "mode=755", "size=65536k", NULL}));
        json_array_append_new(mounts, mount_entry("/dev/pts", "devpts", "devpts",
                                                  (const char *[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                                                   "mode=0620", "gid=5", NULL}));
        json_array_append_new(mounts,
                              mount_entry("/sys", "sysfs", "sysfs",
                                          o->privileged ? (const char *[]){"nosuid", "noexec", "nodev", NULL}
                                                        : (const char *[]){"nosuid", "noexec", "nodev", "ro", NULL}));
        json_array_append_new(mounts,
                              mount_entry("/sys/fs/cgroup", "cgroup", "cgroup",
                                          (const char *[]){"nosuid", "noexec", "nodev", "relatime", "ro", NULL}));
        json_array_append_new(mounts, mount_entry("/dev/mqueue", "mqueue", "mqueue",
                                                  (const char *[]){"nosuid", "noexec", "nodev", NULL}));
        json_array_append_new(
                mounts, mount_entry("/dev/shm", "tmpfs", "shm",
                                    (const char *[]){"nosuid", "noexec", "nodev", "mode=1777", "size=67108864", NULL}));
        if (in->resolv_file)
                json_array_append_new(mounts,
                                      mount_entry("/etc/resolv.conf", "bind", in->resolv_file,
                                                  (const char *[]){"rbind", "rprivate", "nosuid", "nodev", NULL}));
        if (in->hostname_file)
                json_array_append_new(mounts,
                                      mount_entry("/etc/hostname", "bind", in->hostname_file,
                                                  (const char *[]){"rbind", "rprivate", "nosuid", "nodev", NULL}));
        if (in->hosts_file)
                json_array_append_new(mounts,
                                      mount_entry("/etc/hosts", "bind", in->hosts_file,
                                                  (const char *[]){"rbind", "rprivate", "nosuid", "nodev", NULL}));
        if (o->init && in->init_path)
                json_array_append_new(mounts,
                                      mount_entry("/sbin/docker-init", "bind", in->init_path,
                                                  (const char *[]){"bind", "ro", "nosuid", "nodev", "rprivate", NULL}));
        r = add_tmpfs_mounts(mounts, o->tmpfs, err);
        if (r >= 0)
                r = add_requested_mounts(mounts, in, err);
        if (r < 0) {
                json_decref(process);
                json_decref(mounts);
                return r;
        }

        ns = json_array();
        if (!o->pid_host)
                json_array_append_new(ns, json_pack("{s:s}", "type", "pid"));
        json_array_append_new(ns, json_pack("{s:s}", "type", "ipc"));
        json_array_append_new(ns, json_pack("{s:s}", "type", "uts"));
        json_array_append_new(ns, json_pack("{s:s}", "type", "mount"));
        json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));
        if (!o->net_host)
                json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
        if (remapped)
                json_array_append_new(ns, json_pack("{s:s}", "type", "user"));

        linux_ = json_pack("{s:o, s:o}", "namespaces", ns, "devices", default_devices());
        if (remapped) {
                json_object_set_new(linux_, "uidMappings", idmap_to_json(in->uids));
                json_object_set_new(linux_, "gidMappings", idmap_to_json(in->gids));
        }
        if (!o->privileged) {
                json_object_set_new(linux_, "maskedPaths", cstrv_to_json(masked_paths));
                json_object_set_new(linux_, "readonlyPaths", cstrv_to_json(readonly_paths));
        }
        if (!o->privileged && !(o->seccomp && strcmp(o->seccomp, "unconfined") == 0)) {
                json_t *sc;
                if (o->seccomp) {
                        json_error_t jerr;
                        sc = json_load_file(o->seccomp, 0, &jerr);
                        if (!sc || !json_is_object(sc)) {
                                json_decref(sc);
                                json_decref(process);
                                json_decref(mounts);
                                json_decref(linux_);
                                return gb_error_set(
                                        err, EINVAL, "Failed to load seccomp profile '%s': line %d column %d: %s",
                                        o->seccomp, jerr.line, jerr.column, sc ? "not a JSON object" : jerr.text);
                        }
                } else
                        sc = seccomp_for_caps(caps);
                json_object_set_new(linux_, "seccomp", sc);
        }

        spec = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.1.0", "process", process, "root",
                         "path", in->rootfs, "readonly", o->read_only, "hostname", hostname, "mounts", mounts, "linux",
                         linux_);
        if (!spec)
                return gb_error_set(err, ENOMEM, "Failed to build the OCI spec");
        *ret = spec;
        return 0;
}
