/* config.json -> struct gb_spec. Each parse function gets the JSON path of
 * the value it looks at, so that every message names the field. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "cleanup.h"
#include "spec.h"
#include "util.h"

#define PATH_MAX_JSON 256

struct ctx {
        const char *label;
        struct gb_error *err;
};

/* "label: path: message" */
static int perr(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(struct ctx *c, const char *path, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return gb_error_set(c->err, EINVAL, "%s: %s: %s", c->label, path, msg);
}

static void sub(char *out, const char *parent, const char *key)
{
        int n;

        if (!parent || !*parent)
                n = snprintf(out, PATH_MAX_JSON, "%s", key);
        else
                n = snprintf(out, PATH_MAX_JSON, "%s.%s", parent, key);
        if (n < 0 || n >= PATH_MAX_JSON)
                out[PATH_MAX_JSON - 1] = 0; /* a truncated path is still a useful hint */
}

static void idx(char *out, const char *parent, size_t i)
{
        int n = snprintf(out, PATH_MAX_JSON, "%s[%zu]", parent, i);

        if (n < 0 || n >= PATH_MAX_JSON)
                out[PATH_MAX_JSON - 1] = 0;
}

/* Warn about keys not in known[] so nothing is silently dropped. */
static void check_known(struct ctx *c, json_t *obj, const char *path, const char *const *known)
{
        const char *k;
        json_t *v;

        json_object_foreach (obj, k, v) {
                bool found = false;
                for (const char *const *p = known; *p; p++)
                        if (!strcmp(*p, k)) {
                                found = true;
                                break;
                        }
                if (!found)
                        gb_warn("%s: %s%s%s: unknown field, ignored", c->label, path, *path ? "." : "", k);
        }
}

static int get_obj(struct ctx *c, json_t *v, const char *path, json_t **ret)
{
        if (!json_is_object(v))
                return perr(c, path, "expected an object");
        *ret = v;
        return 0;
}

static int get_str(struct ctx *c, json_t *v, const char *path, char **ret)
{
        if (!json_is_string(v))
                return perr(c, path, "expected a string");
        if (strlen(json_string_value(v)) != json_string_length(v))
                return perr(c, path, "string contains a NUL byte");
        *ret = gb_xstrdup(json_string_value(v));
        return 0;
}

static int get_bool(struct ctx *c, json_t *v, const char *path, bool *ret)
{
        if (!json_is_boolean(v))
                return perr(c, path, "expected true or false");
        *ret = json_is_true(v);
        return 0;
}

static int get_u64(struct ctx *c, json_t *v, const char *path, uint64_t *ret)
{
        /* jansson stores integers as json_int_t (long long): values past
         * 2^63-1 are rejected by the parser itself. */
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return perr(c, path, "expected an unsigned integer");
        *ret = (uint64_t)json_integer_value(v);
        return 0;
}

static int get_u32(struct ctx *c, json_t *v, const char *path, uint32_t *ret)
{
        uint64_t u = 0;
        int r = get_u64(c, v, path, &u);

        if (r < 0)
                return r;
        if (u > UINT32_MAX)
                return perr(c, path, "value %llu is larger than 4294967295", (unsigned long long)u);
        *ret = (uint32_t)u;
        return 0;
}

static int get_strv(struct ctx *c, json_t *v, const char *path, char ***ret)
{
        char p[PATH_MAX_JSON];
        char **out;
        size_t i;
        json_t *e;
        int r;

        if (!json_is_array(v))
                return perr(c, path, "expected an array of strings");
        out = gb_xcalloc(json_array_size(v) + 1, sizeof(char *));
        json_array_foreach (v, i, e) {
                idx(p, path, i);
                r = get_str(c, e, p, &out[i]);
                if (r < 0) {
                        gb_strv_free(out);
                        return r;
                }
        }
        *ret = out;
        return 0;
}

static int parse_idmap(struct ctx *c, json_t *v, const char *path, struct gb_idmap **ret)
{
        static const char *const known[] = {"containerID", "hostID", "size", NULL};
        _cleanup_free_ struct gb_idmap *m = gb_xcalloc(1, sizeof(*m));
        char p[PATH_MAX_JSON], q[PATH_MAX_JSON];
        size_t i;
        json_t *e;
        int r;

        if (!json_is_array(v))
                return perr(c, path, "expected an array of {containerID, hostID, size}");
        json_array_foreach (v, i, e) {
                uint32_t cid, hid, size;
                idx(p, path, i);
                if (!json_is_object(e))
                        return perr(c, p, "expected an object");
                check_known(c, e, p, known);
                sub(q, p, "containerID");
                if ((r = get_u32(c, json_object_get(e, "containerID"), q, &cid)) < 0)
                        return r;
                sub(q, p, "hostID");
                if ((r = get_u32(c, json_object_get(e, "hostID"), q, &hid)) < 0)
                        return r;
                sub(q, p, "size");
                if ((r = get_u32(c, json_object_get(e, "size"), q, &size)) < 0)
                        return r;
                r = gb_idmap_add(m, cid, hid, size);
                if (r == -E2BIG)
                        return perr(c, p, "more than %d ranges (the kernel's limit)", GB_IDMAP_MAX);
                if (r < 0)
                        return perr(c, p, "size must be > 0 and the range must not pass 4294967295");
                /* The kernel refuses overlapping ranges on either side
                 * with a bare EINVAL at write time; name the line now. */
                for (size_t j = 0; j + 1 < m->n; j++) {
                        const struct gb_idmap_range *a = &m->r[j], *b = &m->r[m->n - 1];
                        if ((uint64_t)a->container_id < (uint64_t)b->container_id + b->count &&
                            (uint64_t)b->container_id < (uint64_t)a->container_id + a->count)
                                return perr(c, p, "containerID range overlaps %s[%zu]", path, j);
                        if ((uint64_t)a->host_id < (uint64_t)b->host_id + b->count &&
                            (uint64_t)b->host_id < (uint64_t)a->host_id + a->count)
                                return perr(c, p, "hostID range overlaps %s[%zu]", path, j);
                }
        }
        if (m->n == 0)
                return perr(c, path, "empty mapping");
        *ret = TAKE_PTR(m);
        return 0;
}

static const char *const cap_names[] = {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

int gb_cap_from_name(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
                if (!strcmp(cap_names[i], name))
                        return (int)i;
        return -1;
}

const char *gb_cap_name(int cap)
{
        if (cap < 0 || (size_t)cap >= ARRAY_SIZE(cap_names))
                return "CAP_UNKNOWN";
        return cap_names[cap];
}

static int parse_caps(struct ctx *c, json_t *v, const char *path, struct gb_spec_process *p)
{
        static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted", "ambient", NULL};
        char q[PATH_MAX_JSON], e[PATH_MAX_JSON];
        json_t *o = NULL;
        int r;

        if ((r = get_obj(c, v, path, &o)) < 0)
                return r;
        check_known(c, o, path, sets);
        p->has_caps = true;
        for (int s = 0; s < GB_CAP_SET_MAX; s++) {
                json_t *a = json_object_get(o, sets[s]), *n;
                size_t i;
                sub(q, path, sets[s]);
                if (!a)
                        continue;
                if (!json_is_array(a))
                        return perr(c, q, "expected an array of capability names");
                json_array_foreach (a, i, n) {
                        int cap;
                        idx(e, q, i);
                        if (!json_is_string(n))
                                return perr(c, e, "expected a string");
                        cap = gb_cap_from_name(json_string_value(n));
                        if (cap < 0)
                                return perr(c, e, "unknown capability '%s'", json_string_value(n));
                        p->caps[s] |= 1ULL << cap;
                }
        }
        return 0;
}

static const struct {
        const char *name;
        int res;
} rlimit_names[] = {
        {"RLIMIT_AS", RLIMIT_AS},
        {"RLIMIT_CORE", RLIMIT_CORE},
        {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA},
        {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
        {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_NPROC", RLIMIT_NPROC},
        {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
        {"RLIMIT_RTTIME", RLIMIT_RTTIME},
        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK},
};

const char *gb_rlimit_name(int res);
const char *gb_rlimit_name(int res)
{
        for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
                if (rlimit_names[i].res == res)
                        return rlimit_names[i].name;
        return "RLIMIT_?";
}

static int parse_rlimits(struct ctx *c, json_t *v, const char *path, struct gb_spec_process *p)
{
        static const char *const known[] = {"type", "soft", "hard", NULL};
        char q[PATH_MAX_JSON], e[PATH_MAX_JSON];
        size_t i;
        json_t *o = NULL;
        int r;

        if (!json_is_array(v))
                return perr(c, path, "expected an array");
        p->rlimits = gb_xcalloc(json_array_size(v) + 1, sizeof(*p->rlimits));
        json_array_foreach (v, i, o) {
                struct gb_spec_rlimit *rl = &p->rlimits[p->n_rlimits];
                const char *t;
                bool found = false;
                idx(q, path, i);
                if (!json_is_object(o))
                        return perr(c, q, "expected an object");
                check_known(c, o, q, known);
                sub(e, q, "type");
                t = json_string_value(json_object_get(o, "type"));
                if (!t)
                        return perr(c, e, "expected a string such as \"RLIMIT_NOFILE\"");
                for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
                        if (!strcmp(rlimit_names[k].name, t)) {
                                rl->resource = rlimit_names[k].res;
                                found = true;
                        }
                if (!found)
                        return perr(c, e, "unknown rlimit '%s'", t);
                sub(e, q, "soft");
                if ((r = get_u64(c, json_object_get(o, "soft"), e, &rl->soft)) < 0)
                        return r;
                sub(e, q, "hard");
                if ((r = get_u64(c, json_object_get(o, "hard"), e, &rl->hard)) < 0)
                        return r;
                if (rl->soft > rl->hard)
                        return perr(c, q, "soft limit %llu is above the hard limit %llu", (unsigned long long)rl->soft,
                                    (unsigned long long)rl->hard);
                p->n_rlimits++;
        }
        return 0;
}

static int parse_process_obj(struct ctx *c, json_t *o, const char *path, struct gb_spec_process *p)
{
        static const char *const known[] = {"terminal",
                                            "consoleSize",
                                            "user",
                                            "args",
                                            "env",
                                            "cwd",
                                            "capabilities",
                                            "rlimits",
                                            "noNewPrivileges",
                                            "oomScoreAdj",
                                            "apparmorProfile",
                                            "selinuxLabel",
                                            "commandLine",
                                            "ioPriority",
                                            "scheduler",
                                            "execCPUAffinity",
                                            NULL};
        char q[PATH_MAX_JSON], e[PATH_MAX_JSON];
        json_t *v, *u;
        int r;

        if (!json_is_object(o))
                return perr(c, path, "expected an object");
        check_known(c, o, path, known);

        if ((v = json_object_get(o, "terminal"))) {
                sub(q, path, "terminal");
                if ((r = get_bool(c, v, q, &p->terminal)) < 0)
                        return r;
        }
        if ((v = json_object_get(o, "consoleSize"))) {
                uint32_t h = 0, w = 0;
                sub(q, path, "consoleSize");
                if (!json_is_object(v))
                        return perr(c, q, "expected an object");
                sub(e, q, "height");
                if ((r = get_u32(c, json_object_get(v, "height"), e, &h)) < 0)
                        return r;
                sub(e, q, "width");
                if ((r = get_u32(c, json_object_get(v, "width"), e, &w)) < 0)
                        return r;
                if (h > 65535 || w > 65535)
                        return perr(c, q, "console size past 65535");
                p->console_height = h;
                p->console_width = w;
        }
        sub(q, path, "user");
        if ((u = json_object_get(o, "user"))) {
                static const char *const uknown[] = {"uid", "gid", "umask", "additionalGids", "username", NULL};
                if (!json_is_object(u))
                        return perr(c, q, "expected an object");
                check_known(c, u, q, uknown);
                sub(e, q, "uid");
                if ((r = get_u32(c, json_object_get(u, "uid"), e, &p->uid)) < 0)
                        return r;
                sub(e, q, "gid");
                if ((r = get_u32(c, json_object_get(u, "gid"), e, &p->gid)) < 0)
                        return r;
                if ((v = json_object_get(u, "umask"))) {
                        uint32_t m;
                        sub(e, q, "umask");
                        if ((r = get_u32(c, v, e, &m)) < 0)
                                return r;
                        if (m > 0777)
                                return perr(c, e, "umask %o is larger than 0777", m);
                        p->has_umask = true;
                        p->umask = m;
                }
                if ((v = json_object_get(u, "additionalGids"))) {
                        size_t i;
                        json_t *g;
                        sub(e, q, "additionalGids");
                        if (!json_is_array(v))
                                return perr(c, e, "expected an array of unsigned integers");
                        if (json_array_size(v) > 65536)
                                return perr(c, e, "more than 65536 groups (NGROUPS_MAX)");
                        p->additional_gids = gb_xcalloc(json_array_size(v) + 1, sizeof(uint32_t));
                        json_array_foreach (v, i, g) {
                                char f[PATH_MAX_JSON];
                                idx(f, e, i);
                                if ((r = get_u32(c, g, f, &p->additional_gids[i])) < 0)
                                        return r;
                                p->n_additional_gids++;
                        }
                }
        } else {
                return perr(c, q, "required field missing");
        }

        sub(q, path, "args");
        if (!(v = json_object_get(o, "args")))
                return perr(c, q, "required field missing");
        if ((r = get_strv(c, v, q, &p->args)) < 0)
                return r;
        if (!p->args[0] || !p->args[0][0])
                return perr(c, q, "must name the program to run");

        sub(q, path, "env");
        if ((v = json_object_get(o, "env"))) {
                if ((r = get_strv(c, v, q, &p->env)) < 0)
                        return r;
                for (size_t i = 0; p->env[i]; i++)
                        if (!strchr(p->env[i], '=')) {
                                idx(e, q, i);
                                return perr(c, e, "'%s' is not NAME=VALUE", p->env[i]);
                        }
        } else {
                p->env = gb_xcalloc(1, sizeof(char *));
        }

        sub(q, path, "cwd");
        if (!(v = json_object_get(o, "cwd")))
                return perr(c, q, "required field missing");
        if ((r = get_str(c, v, q, &p->cwd)) < 0)
                return r;
        if (p->cwd[0] != '/')
                return perr(c, q, "'%s' must be an absolute path", p->cwd);

        if ((v = json_object_get(o, "capabilities"))) {
                sub(q, path, "capabilities");
                if ((r = parse_caps(c, v, q, p)) < 0)
                        return r;
        }
        if ((v = json_object_get(o, "rlimits"))) {
                sub(q, path, "rlimits");
                if ((r = parse_rlimits(c, v, q, p)) < 0)
                        return r;
        }
        if ((v = json_object_get(o, "noNewPrivileges"))) {
                sub(q, path, "noNewPrivileges");
                if ((r = get_bool(c, v, q, &p->no_new_privileges)) < 0)
                        return r;
        }
        if ((v = json_object_get(o, "oomScoreAdj"))) {
                sub(q, path, "oomScoreAdj");
                if (!json_is_integer(v) || json_integer_value(v) < -1000 || json_integer_value(v) > 1000)
                        return perr(c, q, "expected an integer from -1000 to 1000");
                p->has_oom_score_adj = true;
                p->oom_score_adj = (int)json_integer_value(v);
        }
        /* LSM labels are applied at exec (security.c); an empty string
         * means none. */
        if ((v = json_object_get(o, "apparmorProfile"))) {
                sub(q, path, "apparmorProfile");
                if ((r = get_str(c, v, q, &p->apparmor_profile)) < 0)
                        return r;
                if (strchr(p->apparmor_profile, '\n'))
                        return perr(c, q, "a profile name cannot contain a newline");
        }
        if ((v = json_object_get(o, "selinuxLabel"))) {
                sub(q, path, "selinuxLabel");
                if ((r = get_str(c, v, q, &p->selinux_label)) < 0)
                        return r;
        }
        for (const char *const *f =
                     (const char *const[]){"ioPriority", "scheduler", "execCPUAffinity", "commandLine", NULL};
             *f; f++)
                if (json_object_get(o, *f)) {
                        sub(q, path, *f);
                        gb_warn("%s: %s: not implemented, ignored", c->label, q);
                }
        return 0;
}

static const struct {
        const char *name;
        unsigned long set, clear;
        unsigned long prop;
        int special; /* 1 = bind, 2 = rbind, 3 = idmap, 4 = ridmap */
} mount_opts[] = {
        {"ro", MS_RDONLY, 0, 0, 0},
        {"rw", 0, MS_RDONLY, 0, 0},
        {"nosuid", MS_NOSUID, 0, 0, 0},
        {"suid", 0, MS_NOSUID, 0, 0},
        {"nodev", MS_NODEV, 0, 0, 0},
        {"dev", 0, MS_NODEV, 0, 0},
        {"noexec", MS_NOEXEC, 0, 0, 0},
        {"exec", 0, MS_NOEXEC, 0, 0},
        {"sync", MS_SYNCHRONOUS, 0, 0, 0},
        {"async", 0, MS_SYNCHRONOUS, 0, 0},
        {"dirsync", MS_DIRSYNC, 0, 0, 0},
        {"remount", MS_REMOUNT, 0, 0, 0},
        {"mand", MS_MANDLOCK, 0, 0, 0},
        {"nomand", 0, MS_MANDLOCK, 0, 0},
        {"atime", 0, MS_NOATIME, 0, 0},
        {"noatime", MS_NOATIME, 0, 0, 0},
        {"diratime", 0, MS_NODIRATIME, 0, 0},
        {"nodiratime", MS_NODIRATIME, 0, 0, 0},
        {"relatime", MS_RELATIME, 0, 0, 0},
        {"norelatime", 0, MS_RELATIME, 0, 0},
        {"strictatime", MS_STRICTATIME, 0, 0, 0},
        {"nostrictatime", 0, MS_STRICTATIME, 0, 0},
        {"bind", MS_BIND, 0, 0, 1},
        {"rbind", MS_BIND | MS_REC, 0, 0, 2},
        {"idmap", 0, 0, 0, 3},
        {"ridmap", 0, 0, 0, 4},
        {"private", 0, 0, MS_PRIVATE, 0},
        {"rprivate", 0, 0, MS_PRIVATE | MS_REC, 0},
        {"shared", 0, 0, MS_SHARED, 0},
        {"rshared", 0, 0, MS_SHARED | MS_REC, 0},
        {"slave", 0, 0, MS_SLAVE, 0},
        {"rslave", 0, 0, MS_SLAVE | MS_REC, 0},
        {"unbindable", 0, 0, MS_UNBINDABLE, 0},
        {"runbindable", 0, 0, MS_UNBINDABLE | MS_REC, 0},
};

static int parse_mount(struct ctx *c, json_t *o, const char *path, struct gb_spec_mount *m)
{
        static const char *const known[] = {"destination", "type",        "source", "options",
                                            "uidMappings", "gidMappings", NULL};
        char q[PATH_MAX_JSON], e[PATH_MAX_JSON];
        _cleanup_free_ char *data = NULL;
        size_t data_len = 0, i;
        json_t *v, *opt;
        int r;

        if (!json_is_object(o))
                return perr(c, path, "expected an object");
        check_known(c, o, path, known);
        sub(q, path, "destination");
        if ((r = get_str(c, json_object_get(o, "destination"), q, &m->destination)) < 0)
                return r;
        if (m->destination[0] != '/')
                return perr(c, q, "'%s' must be an absolute path", m->destination);
        if ((v = json_object_get(o, "type"))) {
                sub(q, path, "type");
                if ((r = get_str(c, v, q, &m->type)) < 0)
                        return r;
        }
        if ((v = json_object_get(o, "source"))) {
                sub(q, path, "source");
                if ((r = get_str(c, v, q, &m->source)) < 0)
                        return r;
        }
        sub(q, path, "options");
        if ((v = json_object_get(o, "options"))) {
                if (!json_is_array(v))
                        return perr(c, q, "expected an array of strings");
                json_array_foreach (v, i, opt) {
                        const char *s = json_string_value(opt);
                        bool known_opt = false;
                        idx(e, q, i);
                        if (!s)
                                return perr(c, e, "expected a string");
                        for (size_t k = 0; k < ARRAY_SIZE(mount_opts); k++) {
                                if (strcmp(mount_opts[k].name, s))
                                        continue;
                                known_opt = true;
                                m->flags = (m->flags & ~mount_opts[k].clear) | mount_opts[k].set;
                                m->clear_flags = (m->clear_flags & ~mount_opts[k].set) | mount_opts[k].clear;
                                if (mount_opts[k].prop)
                                        m->propagation = mount_opts[k].prop;
                                if (mount_opts[k].special == 1 || mount_opts[k].special == 2) {
                                        m->bind = true;
                                        m->recursive = m->recursive || mount_opts[k].special == 2;
                                }
                                if (mount_opts[k].special >= 3)
                                        m->idmapped = true;
                        }
                        if (known_opt)
                                continue;
                        if (!strncmp(s, "rro", 3) || !strncmp(s, "rrw", 3) || !strncmp(s, "rnosuid", 7) ||
                            !strncmp(s, "rnodev", 6) || !strncmp(s, "rnoexec", 7))
                                return perr(c, e, "recursive mount attribute '%s' is not supported", s);
                        if (strchr(s, ','))
                                return perr(c, e, "option '%s' contains a comma", s);
                        /* Anything else is a filesystem option (mode=755, size=65536k, ...). */
                        data = gb_xrealloc(data, data_len + strlen(s) + 2);
                        if (data_len)
                                data[data_len++] = ',';
                        memcpy(data + data_len, s, strlen(s) + 1);
                        data_len += strlen(s);
                }
        }
        m->data = TAKE_PTR(data);
        if (m->type && !strcmp(m->type, "bind"))
                m->bind = true;
        if (!m->type && !m->bind)
                return perr(c, path, "neither a type nor a bind option");
        if (m->bind && !m->source) {
                sub(q, path, "source");
                return perr(c, q, "a bind mount needs a source");
        }
        if (m->bind && m->data)
                gb_warn("%s: %s.options: '%s' has no meaning for a bind mount, ignored", c->label, path, m->data);
        if ((v = json_object_get(o, "uidMappings"))) {
                sub(q, path, "uidMappings");
                if ((r = parse_idmap(c, v, q, &m->uid_map)) < 0)
                        return r;
        }
        if ((v = json_object_get(o, "gidMappings"))) {
                sub(q, path, "gidMappings");
                if ((r = parse_idmap(c, v, q, &m->gid_map)) < 0)
                        return r;
        }
        if (!!m->uid_map != !!m->gid_map)
                return perr(c, path, "uidMappings and gidMappings must be given together");
        if (m->uid_map)
                m->idmapped = true;
        if (m->idmapped && !m->bind)
                return perr(c, path, "idmapped mounts are supported for bind mounts only");
        return 0;
}

static const struct {
        const char *name;
        int flag;
} ns_types[] = {
        {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},      {"ipc", CLONE_NEWIPC},
        {"uts", CLONE_NEWUTS},   {"user", CLONE_NEWUSER},   {"cgroup", CLONE_NEWCGROUP},
#ifdef CLONE_NEWTIME
        {"time", CLONE_NEWTIME},
#endif
};

static int parse_device(struct ctx *c, json_t *o, const char *path, struct gb_spec_device *d)
{
        static const char *const known[] = {"path", "type", "major", "minor", "fileMode", "uid", "gid", NULL};
        char q[PATH_MAX_JSON];
        const char *t;
        json_t *v;
        uint32_t u;
        int r;

        if (!json_is_object(o))
                return perr(c, path, "expected an object");
        check_known(c, o, path, known);
        sub(q, path, "path");
        if ((r = get_str(c, json_object_get(o, "path"), q, &d->path)) < 0)
                return r;
        if (d->path[0] != '/')
                return perr(c, q, "'%s' must be an absolute path", d->path);
        sub(q, path, "type");
        t = json_string_value(json_object_get(o, "type"));
        if (!t || strlen(t) != 1 || !strchr("cbup", t[0]))
                return perr(c, q, "expected \"c\", \"b\", \"u\" or \"p\"");
        d->type = t[0];
        if (d->type != 'p') {
                uint64_t x = 0;
                sub(q, path, "major");
                if ((r = get_u64(c, json_object_get(o, "major"), q, &x)) < 0)
                        return r;
                d->major = (int64_t)x;
                sub(q, path, "minor");
                if ((r = get_u64(c, json_object_get(o, "minor"), q, &x)) < 0)
                        return r;
                d->minor = (int64_t)x;
        }
        if ((v = json_object_get(o, "fileMode"))) {
                sub(q, path, "fileMode");
                if ((r = get_u32(c, v, q, &u)) < 0)
                        return r;
                if (u > 07777)
                        return perr(c, q, "mode %o has bits beyond 07777", u);
                d->has_mode = true;
                d->mode = u;
        }
        if ((v = json_object_get(o, "uid"))) {
                sub(q, path, "uid");
                if ((r = get_u32(c, v, q, &d->uid)) < 0)
                        return r;
                d->has_uid = true;
        }
        if ((v = json_object_get(o, "gid"))) {
                sub(q, path, "gid");
                if ((r = get_u32(c, v, q, &d->gid)) < 0)
                        return r;
                d->has_gid = true;
        }
        return 0;
}

static const struct {
        const char *name;
        uint32_t act;
        bool takes_errno;
} seccomp_actions[] = {
        {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false},
        {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
        {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
        {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
        {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
        {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
        {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
        {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
};

static int parse_action(struct ctx *c, json_t *o, const char *key, const char *errkey, const char *path, uint32_t *ret)
{
        char q[PATH_MAX_JSON];
        const char *s;
        json_t *ev;

        sub(q, path, key);
        s = json_string_value(json_object_get(o, key));
        if (!s)
                return perr(c, q, "expected a string such as \"SCMP_ACT_ERRNO\"");
        if (!strcmp(s, "SCMP_ACT_NOTIFY"))
                return perr(c, q, "SCMP_ACT_NOTIFY needs a listenerPath, which ghostbox does not support");
        for (size_t i = 0; i < ARRAY_SIZE(seccomp_actions); i++) {
                uint32_t e = 1; /* EPERM, the OCI default for SCMP_ACT_ERRNO */
                if (strcmp(seccomp_actions[i].name, s))
                        continue;
                if (seccomp_actions[i].takes_errno) {
                        if (!strcmp(s, "SCMP_ACT_TRACE"))
                                e = 1;
                        if ((ev = json_object_get(o, errkey))) {
                                sub(q, path, errkey);
                                if (!json_is_integer(ev) || json_integer_value(ev) < 0 ||
                                    json_integer_value(ev) > 0xffff)
                                        return perr(c, q, "expected an errno number from 0 to 65535");
                                e = (uint32_t)json_integer_value(ev);
                        }
                        *ret = seccomp_actions[i].act | (e & 0xffff);
                } else {
                        *ret = seccomp_actions[i].act;
                }
                return 0;
        }
        return perr(c, q, "unknown action '%s'", s);
}

static int parse_seccomp(struct ctx *c, json_t *o, const char *path, struct gb_spec_seccomp *s)
{
        static const char *const known[] = {"defaultAction", "defaultErrnoRet", "architectures",    "flags",
                                            "syscalls",      "listenerPath",    "listenerMetadata", NULL};
        static const char *const rknown[] = {"names",   "action",   "errnoRet", "args",
                                             "comment", "includes", "excludes", NULL};
        static const char *const aknown[] = {"index", "value", "valueTwo", "op", NULL};
        static const struct {
                const char *name;
                int op;
        } ops[] = {
                {"SCMP_CMP_NE", SCMP_CMP_NE},
                {"SCMP_CMP_LT", SCMP_CMP_LT},
                {"SCMP_CMP_LE", SCMP_CMP_LE},
                {"SCMP_CMP_EQ", SCMP_CMP_EQ},
                {"SCMP_CMP_GE", SCMP_CMP_GE},
                {"SCMP_CMP_GT", SCMP_CMP_GT},
                {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
        };
        static const struct {
                const char *name;
                unsigned flag;
        } flags[] = {
                {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
                {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
                {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
        };
        char q[PATH_MAX_JSON], e[PATH_MAX_JSON], f[PATH_MAX_JSON], g[PATH_MAX_JSON];
        json_t *v, *x;
        size_t i, j;
        int r;

        if (!json_is_object(o))
                return perr(c, path, "expected an object");
        check_known(c, o, path, known);
        if (json_object_get(o, "listenerPath")) {
                sub(q, path, "listenerPath");
                return perr(c, q, "seccomp notify listeners are not supported");
        }
        if ((r = parse_action(c, o, "defaultAction", "defaultErrnoRet", path, &s->default_action)) < 0)
                return r;
        if ((v = json_object_get(o, "architectures"))) {
                sub(q, path, "architectures");
                if (!json_is_array(v))
                        return perr(c, q, "expected an array of strings");
                s->arches = gb_xcalloc(json_array_size(v) + 1, sizeof(uint32_t));
                json_array_foreach (v, i, x) {
                        const char *a = json_string_value(x);
                        uint32_t arch;
                        idx(e, q, i);
                        if (!a || !gb_str_has_prefix(a, "SCMP_ARCH_"))
                                return perr(c, e, "expected a string such as \"SCMP_ARCH_X86_64\"");
                        {
                                _cleanup_free_ char *lower = gb_xstrdup(a + strlen("SCMP_ARCH_"));
                                for (char *p = lower; *p; p++)
                                        if (*p >= 'A' && *p <= 'Z')
                                                *p = (char)(*p - 'A' + 'a');
                                arch = seccomp_arch_resolve_name(lower);
                        }
                        if (!arch)
                                return perr(c, e, "unknown architecture '%s'", a);
                        s->arches[s->n_arches++] = arch;
                }
        }
        if ((v = json_object_get(o, "flags"))) {
                sub(q, path, "flags");
                if (!json_is_array(v))
                        return perr(c, q, "expected an array of strings");
                json_array_foreach (v, i, x) {
                        const char *a = json_string_value(x);
                        bool ok = false;
                        idx(e, q, i);
                        if (!a)
                                return perr(c, e, "expected a string");
                        for (j = 0; j < ARRAY_SIZE(flags); j++)
                                if (!strcmp(flags[j].name, a)) {
                                        s->flags |= flags[j].flag;
                                        ok = true;
                                }
                        if (!ok)
                                return perr(c, e, "unsupported flag '%s'", a);
                }
        }
        if ((v = json_object_get(o, "syscalls"))) {
                sub(q, path, "syscalls");
                if (!json_is_array(v))
                        return perr(c, q, "expected an array");
                s->rules = gb_xcalloc(json_array_size(v) + 1, sizeof(*s->rules));
                json_array_foreach (v, i, x) {
                        struct gb_seccomp_rule *rule = &s->rules[s->n_rules];
                        json_t *args, *a;
                        idx(e, q, i);
                        if (!json_is_object(x))
                                return perr(c, e, "expected an object");
                        check_known(c, x, e, rknown);
                        if (json_object_get(x, "includes") || json_object_get(x, "excludes")) {
                                sub(f, e, "includes");
                                return perr(c, f, "includes/excludes belong to a seccomp profile, not config.json");
                        }
                        sub(f, e, "names");
                        if ((r = get_strv(c, json_object_get(x, "names"), f, &rule->names)) < 0)
                                return r;
                        s->n_rules++;
                        for (j = 0; rule->names[j]; j++)
                                if (seccomp_syscall_resolve_name(rule->names[j]) == __NR_SCMP_ERROR)
                                        gb_warn("%s: %s[%zu]: unknown syscall '%s' on this architecture, skipped",
                                                c->label, f, j, rule->names[j]);
                        if ((r = parse_action(c, x, "action", "errnoRet", e, &rule->action)) < 0)
                                return r;
                        if ((args = json_object_get(x, "args"))) {
                                sub(f, e, "args");
                                if (!json_is_array(args))
                                        return perr(c, f, "expected an array");
                                if (json_array_size(args) > 6)
                                        return perr(c, f, "a syscall has at most 6 arguments");
                                rule->args = gb_xcalloc(json_array_size(args) + 1, sizeof(*rule->args));
                                json_array_foreach (args, j, a) {
                                        struct gb_seccomp_arg *sa = &rule->args[rule->n_args];
                                        const char *op;
                                        uint32_t index;
                                        bool ok = false;
                                        idx(g, f, j);
                                        if (!json_is_object(a))
                                                return perr(c, g, "expected an object");
                                        check_known(c, a, g, aknown);
                                        {
                                                char h[PATH_MAX_JSON];
                                                sub(h, g, "index");
                                                if ((r = get_u32(c, json_object_get(a, "index"), h, &index)) < 0)
                                                        return r;
                                                if (index > 5)
                                                        return perr(c, h, "index %u past the 6th argument", index);
                                                sa->index = index;
                                                sub(h, g, "value");
                                                if ((r = get_u64(c, json_object_get(a, "value"), h, &sa->value)) < 0)
                                                        return r;
                                                if (json_object_get(a, "valueTwo")) {
                                                        sub(h, g, "valueTwo");
                                                        if ((r = get_u64(c, json_object_get(a, "valueTwo"), h,
                                                                         &sa->value_two)) < 0)
                                                                return r;
                                                }
                                                sub(h, g, "op");
                                                op = json_string_value(json_object_get(a, "op"));
                                                for (size_t k = 0; op && k < ARRAY_SIZE(ops); k++)
                                                        if (!strcmp(ops[k].name, op)) {
                                                                sa->op = ops[k].op;
                                                                ok = true;
                                                        }
                                                if (!ok)
                                                        return perr(c, h,
                                                                    "expected an operator such as \"SCMP_CMP_EQ\"");
                                        }
                                        rule->n_args++;
                                }
                        }
                }
        }
        return 0;
}

static void warn_ignored(struct ctx *c, json_t *o, const char *path, const char *key, const char *why)
{
        if (json_object_get(o, key))
                gb_warn("%s: %s%s%s: %s", c->label, path, *path ? "." : "", key, why);
}

static int parse_linux(struct ctx *c, json_t *o, struct gb_spec *s)
{
        static const char *const known[] = {
                "namespaces",    "uidMappings",       "gidMappings", "devices",      "sysctl",      "maskedPaths",
                "readonlyPaths", "rootfsPropagation", "seccomp",     "resources",    "cgroupsPath", "mountLabel",
                "intelRdt",      "personality",       "timeOffsets", "memoryPolicy", "netDevices",  NULL,
        };
        char q[PATH_MAX_JSON], e[PATH_MAX_JSON];
        json_t *v, *x;
        size_t i;
        int r;

        if (!json_is_object(o))
                return perr(c, "linux", "expected an object");
        check_known(c, o, "linux", known);
        warn_ignored(c, o, "linux", "resources", "cgroup limits are not applied yet, ignored");
        warn_ignored(c, o, "linux", "cgroupsPath", "cgroups are not managed yet, ignored");
        warn_ignored(c, o, "linux", "intelRdt", "not supported, ignored");
        warn_ignored(c, o, "linux", "memoryPolicy", "not supported, ignored");
        for (const char *const *f =
                     (const char *const[]){"mountLabel", "personality", "timeOffsets", "netDevices", NULL};
             *f; f++) {
                v = json_object_get(o, *f);
                if (v && !(json_is_string(v) && !*json_string_value(v))) {
                        sub(q, "linux", *f);
                        return perr(c, q, "not supported by ghostbox; remove the field");
                }
        }

        if ((v = json_object_get(o, "namespaces"))) {
                if (!json_is_array(v))
                        return perr(c, "linux.namespaces", "expected an array");
                s->namespaces = gb_xcalloc(json_array_size(v) + 1, sizeof(*s->namespaces));
                json_array_foreach (v, i, x) {
                        static const char *const nknown[] = {"type", "path", NULL};
                        struct gb_spec_namespace *ns = &s->namespaces[s->n_namespaces];
                        const char *t;
                        bool ok = false;
                        idx(q, "linux.namespaces", i);
                        if (!json_is_object(x))
                                return perr(c, q, "expected an object");
                        check_known(c, x, q, nknown);
                        sub(e, q, "type");
                        t = json_string_value(json_object_get(x, "type"));
                        for (size_t k = 0; t && k < ARRAY_SIZE(ns_types); k++)
                                if (!strcmp(ns_types[k].name, t)) {
                                        ns->type = ns_types[k].flag;
                                        ok = true;
                                }
                        if (!ok)
                                return perr(c, e, "expected one of pid, network, mount, ipc, uts, user, cgroup, time");
                        if (gb_spec_namespace(s, ns->type))
                                return perr(c, e, "namespace '%s' listed twice", t);
                        s->n_namespaces++; /* owned from here: freed even if the path fails */
                        if (json_object_get(x, "path")) {
                                sub(e, q, "path");
                                if ((r = get_str(c, json_object_get(x, "path"), e, &ns->path)) < 0)
                                        return r;
                                if (ns->path[0] != '/')
                                        return perr(c, e, "'%s' must be an absolute path", ns->path);
                        }
                }
        }
        if ((v = json_object_get(o, "uidMappings")))
                if ((r = parse_idmap(c, v, "linux.uidMappings", &s->uid_map)) < 0)
                        return r;
        if ((v = json_object_get(o, "gidMappings")))
                if ((r = parse_idmap(c, v, "linux.gidMappings", &s->gid_map)) < 0)
                        return r;
        if ((v = json_object_get(o, "devices"))) {
                if (!json_is_array(v))
                        return perr(c, "linux.devices", "expected an array");
                s->devices = gb_xcalloc(json_array_size(v) + 1, sizeof(*s->devices));
                json_array_foreach (v, i, x) {
                        idx(q, "linux.devices", i);
                        r = parse_device(c, x, q, &s->devices[s->n_devices]);
                        s->n_devices++;
                        if (r < 0)
                                return r;
                }
        }
        if ((v = json_object_get(o, "sysctl"))) {
                const char *k;
                if (!json_is_object(v))
                        return perr(c, "linux.sysctl", "expected an object of strings");
                s->sysctl = gb_xcalloc(json_object_size(v) + 1, sizeof(*s->sysctl));
                json_object_foreach (v, k, x) {
                        sub(q, "linux.sysctl", k);
                        if (!json_is_string(x))
                                return perr(c, q, "expected a string");
                        /* The key becomes a path under /proc/sys. */
                        if (!*k || strstr(k, "..") || k[0] == '/' || k[0] == '.')
                                return perr(c, q, "not a sysctl name");
                        s->sysctl[s->n_sysctl].key = gb_xstrdup(k);
                        s->sysctl[s->n_sysctl].value = gb_xstrdup(json_string_value(x));
                        s->n_sysctl++;
                }
        }
        if ((v = json_object_get(o, "maskedPaths")))
                if ((r = get_strv(c, v, "linux.maskedPaths", &s->masked_paths)) < 0)
                        return r;
        if ((v = json_object_get(o, "readonlyPaths")))
                if ((r = get_strv(c, v, "linux.readonlyPaths", &s->readonly_paths)) < 0)
                        return r;
        if ((v = json_object_get(o, "rootfsPropagation"))) {
                const char *p = json_string_value(v);
                bool ok = false;
                for (size_t k = 0; p && k < ARRAY_SIZE(mount_opts); k++)
                        if (mount_opts[k].prop && !strcmp(mount_opts[k].name, p)) {
                                s->rootfs_propagation = mount_opts[k].prop;
                                ok = true;
                        }
                if (!ok)
                        return perr(c, "linux.rootfsPropagation",
                                    "expected private, shared, slave or unbindable "
                                    "(optionally with an r prefix)");
        }
        if ((v = json_object_get(o, "seccomp"))) {
                s->seccomp = gb_xcalloc(1, sizeof(*s->seccomp));
                if ((r = parse_seccomp(c, v, "linux.seccomp", s->seccomp)) < 0)
                        return r;
        }
        return 0;
}

static int parse_root(struct ctx *c, json_t *root, struct gb_spec *s)
{
        static const char *const known[] = {"ociVersion", "process", "root",  "hostname",    "domainname",
                                            "mounts",     "hooks",   "linux", "annotations", "solaris",
                                            "windows",    "vm",      "zos",   "freebsd",     NULL};
        json_t *v, *x;
        size_t i;
        int r;

        if (!json_is_object(root))
                return perr(c, "(top level)", "expected an object");
        check_known(c, root, "", known);
        if ((r = get_str(c, json_object_get(root, "ociVersion"), "ociVersion", &s->oci_version)) < 0)
                return r;
        if (strncmp(s->oci_version, "1.", 2))
                return perr(c, "ociVersion", "'%s' is not a 1.x version of the runtime spec", s->oci_version);

        if (!(v = json_object_get(root, "root")))
                return perr(c, "root", "required field missing");
        if (!json_is_object(v))
                return perr(c, "root", "expected an object");
        {
                static const char *const rknown[] = {"path", "readonly", NULL};
                check_known(c, v, "root", rknown);
        }
        if ((r = get_str(c, json_object_get(v, "path"), "root.path", &s->root_path)) < 0)
                return r;
        if (!*s->root_path)
                return perr(c, "root.path", "empty path");
        if ((x = json_object_get(v, "readonly")))
                if ((r = get_bool(c, x, "root.readonly", &s->root_readonly)) < 0)
                        return r;

        if (!(v = json_object_get(root, "process")))
                return perr(c, "process", "required field missing (ghostbox runs a process)");
        if ((r = parse_process_obj(c, v, "process", &s->process)) < 0)
                return r;

        if ((v = json_object_get(root, "hostname")))
                if ((r = get_str(c, v, "hostname", &s->hostname)) < 0)
                        return r;
        if ((v = json_object_get(root, "domainname")))
                if ((r = get_str(c, v, "domainname", &s->domainname)) < 0)
                        return r;
        if ((v = json_object_get(root, "mounts"))) {
                if (!json_is_array(v))
                        return perr(c, "mounts", "expected an array");
                s->mounts = gb_xcalloc(json_array_size(v) + 1, sizeof(*s->mounts));
                json_array_foreach (v, i, x) {
                        char q[PATH_MAX_JSON];
                        idx(q, "mounts", i);
                        r = parse_mount(c, x, q, &s->mounts[s->n_mounts]);
                        s->n_mounts++;
                        if (r < 0)
                                return r;
                }
        }
        if ((v = json_object_get(root, "hooks")) && json_object_size(v) > 0)
                gb_warn("%s: hooks: not run yet by ghostbox, ignored", c->label);
        if ((v = json_object_get(root, "annotations"))) {
                if (!json_is_object(v))
                        return perr(c, "annotations", "expected an object of strings");
                s->annotations = json_incref(v);
        }
        if ((v = json_object_get(root, "linux")))
                if ((r = parse_linux(c, v, s)) < 0)
                        return r;
        for (const char *const *f = (const char *const[]){"solaris", "windows", "vm", "zos", "freebsd", NULL}; *f; f++)
                if (json_object_get(root, *f))
                        return perr(c, *f, "not a Linux container configuration");

        /* Cross-field rules. */
        if (gb_spec_namespace(s, CLONE_NEWUSER)) {
                const struct gb_spec_namespace *u = gb_spec_namespace(s, CLONE_NEWUSER);
                if (!u->path && (!s->uid_map || !s->gid_map))
                        return perr(c, "linux.uidMappings",
                                    "a new user namespace needs linux.uidMappings and linux.gidMappings");
                if (u->path && (s->uid_map || s->gid_map))
                        return perr(c, "linux.uidMappings",
                                    "mappings cannot be set when joining a user "
                                    "namespace by path");
        } else if (s->uid_map || s->gid_map) {
                return perr(c, "linux.uidMappings", "mappings need a \"user\" entry in linux.namespaces");
        }
        if (!gb_spec_namespace(s, CLONE_NEWNS))
                return perr(c, "linux.namespaces", "ghostbox needs a mount namespace (add {\"type\": \"mount\"})");
        if (s->hostname && *s->hostname &&
            (!gb_spec_namespace(s, CLONE_NEWUTS) || gb_spec_namespace(s, CLONE_NEWUTS)->path))
                return perr(c, "hostname", "setting the hostname needs a new uts namespace");
        return 0;
}

GB_EXPORT const struct gb_spec_namespace *gb_spec_namespace(const struct gb_spec *s, int type)
{
        for (size_t i = 0; i < s->n_namespaces; i++)
                if (s->namespaces[i].type == type)
                        return &s->namespaces[i];
        return NULL;
}

GB_EXPORT int gb_spec_from_json(json_t *root, const char *label, struct gb_spec **ret, struct gb_error *err)
{
        struct ctx c = {.label = label ? label : "config.json", .err = err};
        _cleanup_(gb_spec_freep) struct gb_spec *s = gb_xcalloc(1, sizeof(*s));
        int r;

        r = parse_root(&c, root, s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

GB_EXPORT int gb_spec_process_from_json(json_t *obj, const char *label, struct gb_spec_process *ret,
                                        struct gb_error *err)
{
        struct ctx c = {.label = label ? label : "process.json", .err = err};
        struct gb_spec_process p = {0};
        int r;

        r = parse_process_obj(&c, obj, "", &p);
        if (r < 0) {
                gb_spec_process_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

GB_EXPORT int gb_spec_load_data(const char *data, size_t len, const char *label, struct gb_spec **ret,
                                struct gb_error *err)
{
        json_error_t je;
        json_t *root;
        int r;

        root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return gb_error_set(err, EINVAL, "%s: line %d column %d: %s", label, je.line, je.column, je.text);
        r = gb_spec_from_json(root, label, ret, err);
        json_decref(root);
        return r;
}

GB_EXPORT int gb_spec_load_file(const char *path, struct gb_spec **ret, struct gb_error *err)
{
        _cleanup_free_ char *buf = NULL;
        const char *label = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t len;
        int r;

        r = gb_read_file_at(AT_FDCWD, path, 16 << 20, &buf, &len);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s'", path);
        return gb_spec_load_data(buf, len, label, ret, err);
}

GB_EXPORT void gb_spec_process_done(struct gb_spec_process *p)
{
        free(p->additional_gids);
        gb_strv_free(p->args);
        gb_strv_free(p->env);
        free(p->cwd);
        free(p->rlimits);
        free(p->apparmor_profile);
        free(p->selinux_label);
        memset(p, 0, sizeof(*p));
}

GB_EXPORT void gb_spec_free(struct gb_spec *s)
{
        if (!s)
                return;
        free(s->oci_version);
        free(s->root_path);
        free(s->hostname);
        free(s->domainname);
        gb_spec_process_done(&s->process);
        for (size_t i = 0; i < s->n_mounts; i++) {
                free(s->mounts[i].destination);
                free(s->mounts[i].type);
                free(s->mounts[i].source);
                free(s->mounts[i].data);
                free(s->mounts[i].uid_map);
                free(s->mounts[i].gid_map);
        }
        free(s->mounts);
        for (size_t i = 0; i < s->n_namespaces; i++)
                free(s->namespaces[i].path);
        free(s->namespaces);
        free(s->uid_map);
        free(s->gid_map);
        for (size_t i = 0; i < s->n_devices; i++)
                free(s->devices[i].path);
        free(s->devices);
        for (size_t i = 0; i < s->n_sysctl; i++) {
                free(s->sysctl[i].key);
                free(s->sysctl[i].value);
        }
        free(s->sysctl);
        gb_strv_free(s->masked_paths);
        gb_strv_free(s->readonly_paths);
        if (s->seccomp) {
                for (size_t i = 0; i < s->seccomp->n_rules; i++) {
                        gb_strv_free(s->seccomp->rules[i].names);
                        free(s->seccomp->rules[i].args);
                }
                free(s->seccomp->rules);
                free(s->seccomp->arches);
                free(s->seccomp);
        }
        json_decref(s->annotations);
        free(s);
}

GB_EXPORT json_t *gb_spec_default_json(uint32_t uid_base, uint32_t gid_base, uint32_t size)
{
        static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};
        json_t *capset = json_array(), *ret;

        for (const char *const *c = caps; *c; c++)
                json_array_append_new(capset, json_string(*c));
        ret = json_pack(
                "{s:s, s:{s:b, s:{s:i, s:i}, s:[s], s:[s, s], s:s, s:{s:O, s:O, s:O}, s:[{s:s, s:i, s:i}], s:b}, "
                "s:{s:s, s:b}, s:s, "
                "s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:[s, s, s, s]}, {s:s, s:s, s:s, s:[s, s, s, s, s]}, "
                "{s:s, s:s, s:s, s:[s, s, s, s]}, {s:s, s:s, s:s, s:[s, s, s]}, {s:s, s:s, s:s, s:[s, s, s, s]}], "
                "s:{s:[{s:I, s:I, s:I}], s:[{s:I, s:I, s:I}], s:[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}, {s:s}], "
                "s:[s, s, s, s, s, s, s, s, s, s], s:[s, s, s, s, s, s]}}",
                "ociVersion", "1.1.0", "process", "terminal", 0, "user", "uid", 0, "gid", 0, "args", "sh", "env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "cwd", "/",
                "capabilities", "bounding", capset, "effective", capset, "permitted", capset, "rlimits", "type",
                "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1, "root", "path", "rootfs", "readonly",
                1, "hostname", "ghostbox", "mounts", "destination", "/proc", "type", "proc", "source", "proc",
                "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options", "nosuid", "strictatime",
                "mode=755", "size=65536k", "destination", "/dev/pts", "type", "devpts", "source", "devpts", "options",
                "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "destination", "/dev/shm", "type",
                "tmpfs", "source", "shm", "options", "nosuid", "noexec", "nodev", "mode=1777", "destination",
                "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options", "nosuid", "noexec", "nodev",
                "destination", "/sys", "type", "sysfs", "source", "sysfs", "options", "nosuid", "noexec", "nodev", "ro",
                "linux", "uidMappings", "containerID", (json_int_t)0, "hostID", (json_int_t)uid_base, "size",
                (json_int_t)size, "gidMappings", "containerID", (json_int_t)0, "hostID", (json_int_t)gid_base, "size",
                (json_int_t)size, "namespaces", "type", "pid", "type", "network", "type", "ipc", "type", "uts", "type",
                "mount", "type", "user", "maskedPaths", "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi", "readonlyPaths", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
                "/sys/fs/cgroup");
        json_decref(capset);
        return ret;
}
