#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "mountspec.h"
#include "util.h"

GB_EXPORT void gb_mount_req_clear(struct gb_mount_req *m)
{
        free(m->source);
        free(m->target);
        free(m->propagation);
        free(m->volume_name);
        memset(m, 0, sizeof(*m));
}

GB_EXPORT bool gb_volume_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n < 2 || n > 255)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (i == 0 ? !alnum : !(alnum || c == '_' || c == '.' || c == '-'))
                        return false;
        }
        return true;
}

static bool is_propagation(const char *s)
{
        static const char *const p[] = {"shared", "slave", "private", "rshared", "rslave", "rprivate"};
        for (size_t i = 0; i < ARRAY_SIZE(p); i++)
                if (strcmp(s, p[i]) == 0)
                        return true;
        return false;
}

/* A container path must be absolute and must not be "/" itself. '..' is
 * allowed by Docker but resolved inside the rootfs by the sandbox, never
 * on the host. */
static int check_target(const char *flag, const char *value, const char *t, struct gb_error *err)
{
        if (!t || !*t)
                return gb_error_set(err, EINVAL, "Failed to parse %s \"%s\": missing the container path", flag, value);
        if (t[0] != '/')
                return gb_error_set(err, EINVAL,
                                    "Failed to parse %s \"%s\": the container path \"%s\" must be absolute", flag,
                                    value, t);
        if (strcmp(t, "/") == 0)
                return gb_error_set(err, EINVAL, "Failed to parse %s \"%s\": cannot mount over \"/\"", flag, value);
        return 0;
}

GB_EXPORT int gb_mountspec_parse_volume(const char *value, struct gb_mount_req *ret, struct gb_error *err)
{
        _cleanup_free_ char *copy = gb_xstrdup(value);
        struct gb_mount_req m = {0};
        char *parts[3] = {0};
        size_t n = 0;
        char *p = copy;
        int r;

        while (n < 3) {
                parts[n++] = p;
                p = strchr(p, ':');
                if (!p)
                        break;
                *p++ = '\0';
        }
        if (p || (n == 3 && strchr(parts[2], ':')))
                return gb_error_set(err, EINVAL, "Failed to parse -v \"%s\": too many ':' (expected SRC:DST[:OPTIONS])",
                                    value);
        if (n == 1) {
                /* -v /data: an anonymous volume. */
                m.type = GB_MOUNT_VOLUME;
                m.target = gb_xstrdup(parts[0]);
        } else {
                if (!*parts[0])
                        return gb_error_set(err, EINVAL, "Failed to parse -v \"%s\": empty source", value);
                if (parts[0][0] == '/') {
                        m.type = GB_MOUNT_BIND;
                        m.create_source = true;
                } else if (gb_volume_name_valid(parts[0]))
                        m.type = GB_MOUNT_VOLUME;
                else
                        return gb_error_set(err, EINVAL,
                                            "Failed to parse -v \"%s\": \"%s\" is neither an absolute host path nor "
                                            "a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)",
                                            value, parts[0]);
                m.source = gb_xstrdup(parts[0]);
                m.target = gb_xstrdup(parts[1]);
        }
        r = check_target("-v", value, m.target, err);
        if (r < 0) {
                gb_mount_req_clear(&m);
                return r;
        }
        if (n == 3) {
                char *save = NULL;
                bool mode_seen = false;
                for (char *o = strtok_r(parts[2], ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                        if (strcmp(o, "ro") == 0 || strcmp(o, "rw") == 0) {
                                if (mode_seen) {
                                        gb_mount_req_clear(&m);
                                        return gb_error_set(err, EINVAL,
                                                            "Failed to parse -v \"%s\": give only one of ro and rw",
                                                            value);
                                }
                                mode_seen = true;
                                m.readonly = o[1] == 'o';
                        } else if (strcmp(o, "z") == 0 || strcmp(o, "Z") == 0) {
                                /* SELinux relabelling: no SELinux here;
                                 * accepted, as Docker does without it. */
                        } else if (strcmp(o, "nocopy") == 0 && m.type == GB_MOUNT_VOLUME) {
                                m.nocopy = true;
                        } else if (strcmp(o, "idmap") == 0 && m.type == GB_MOUNT_BIND) {
                                m.idmap = true;
                        } else if (is_propagation(o) && m.type == GB_MOUNT_BIND) {
                                free(m.propagation);
                                m.propagation = gb_xstrdup(o);
                        } else {
                                bool bind = m.type == GB_MOUNT_BIND;
                                gb_mount_req_clear(&m);
                                return gb_error_set(err, EINVAL,
                                                    "Failed to parse -v \"%s\": invalid option \"%s\" for a %s "
                                                    "(valid: %s)",
                                                    value, o, bind ? "bind mount" : "volume",
                                                    bind ? "ro, rw, z, Z, idmap, [r]shared, [r]slave, [r]private"
                                                         : "ro, rw, nocopy, z, Z");
                        }
                }
        }
        *ret = m;
        return 0;
}

static int parse_bool(const char *v, bool *ret)
{
        if (!v || strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0) {
                *ret = true;
                return 0;
        }
        if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}

/* Sizes as Docker's tmpfs-size: bytes, or with a k/m/g suffix (powers of
 * 1024). */
static int parse_size(const char *v, uint64_t *ret)
{
        _cleanup_free_ char *num = gb_xstrdup(v);
        size_t len = strlen(num);
        uint64_t mult = 1, n;

        if (len == 0)
                return -EINVAL;
        switch (num[len - 1]) {
        case 'k':
        case 'K':
                mult = 1024;
                break;
        case 'm':
        case 'M':
                mult = 1024 * 1024;
                break;
        case 'g':
        case 'G':
                mult = 1024ULL * 1024 * 1024;
                break;
        default:
                break;
        }
        if (mult > 1)
                num[len - 1] = '\0';
        if (gb_parse_u64(num, &n) < 0 || n > UINT64_MAX / mult)
                return -EINVAL;
        *ret = n * mult;
        return 0;
}

GB_EXPORT int gb_mountspec_parse_mount(const char *value, struct gb_mount_req *ret, struct gb_error *err)
{
        _cleanup_free_ char *copy = gb_xstrdup(value);
        struct gb_mount_req m = {0};
        bool type_seen = false, tmpfs_only = false, bind_only = false, volume_only = false;
        char *save = NULL;
        int r = 0;

        m.type = GB_MOUNT_VOLUME; /* Docker's default type */
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                char *val = strchr(kv, '=');
                if (val)
                        *val++ = '\0';
#define BAD(...)                                            \
        do {                                                \
                r = gb_error_set(err, EINVAL, __VA_ARGS__); \
                goto fail;                                  \
        } while (0)
                if (strcmp(kv, "type") == 0) {
                        if (!val)
                                BAD("Failed to parse --mount \"%s\": type needs a value (bind, volume or tmpfs)",
                                    value);
                        if (strcmp(val, "bind") == 0)
                                m.type = GB_MOUNT_BIND;
                        else if (strcmp(val, "volume") == 0)
                                m.type = GB_MOUNT_VOLUME;
                        else if (strcmp(val, "tmpfs") == 0)
                                m.type = GB_MOUNT_TMPFS;
                        else
                                BAD("Failed to parse --mount \"%s\": unsupported type \"%s\" (use bind, volume or "
                                    "tmpfs)",
                                    value, val);
                        type_seen = true;
                } else if (strcmp(kv, "source") == 0 || strcmp(kv, "src") == 0) {
                        if (!val || !*val)
                                BAD("Failed to parse --mount \"%s\": %s needs a value", value, kv);
                        free(m.source);
                        m.source = gb_xstrdup(val);
                } else if (strcmp(kv, "target") == 0 || strcmp(kv, "destination") == 0 || strcmp(kv, "dst") == 0) {
                        if (!val)
                                BAD("Failed to parse --mount \"%s\": %s needs a value", value, kv);
                        free(m.target);
                        m.target = gb_xstrdup(val);
                } else if (strcmp(kv, "readonly") == 0 || strcmp(kv, "ro") == 0) {
                        if (parse_bool(val, &m.readonly) < 0)
                                BAD("Failed to parse --mount \"%s\": %s takes true or false", value, kv);
                } else if (strcmp(kv, "bind-propagation") == 0) {
                        if (!val || !is_propagation(val))
                                BAD("Failed to parse --mount \"%s\": bind-propagation must be one of shared, slave, "
                                    "private, rshared, rslave, rprivate",
                                    value);
                        free(m.propagation);
                        m.propagation = gb_xstrdup(val);
                        bind_only = true;
                } else if (strcmp(kv, "bind-nonrecursive") == 0) {
                        if (parse_bool(val, &m.nonrecursive) < 0)
                                BAD("Failed to parse --mount \"%s\": bind-nonrecursive takes true or false", value);
                        bind_only = true;
                } else if (strcmp(kv, "idmap") == 0) {
                        if (parse_bool(val, &m.idmap) < 0)
                                BAD("Failed to parse --mount \"%s\": idmap takes true or false", value);
                        bind_only = true;
                } else if (strcmp(kv, "volume-nocopy") == 0) {
                        if (parse_bool(val, &m.nocopy) < 0)
                                BAD("Failed to parse --mount \"%s\": volume-nocopy takes true or false", value);
                        volume_only = true;
                } else if (strcmp(kv, "tmpfs-size") == 0) {
                        if (!val || parse_size(val, &m.tmpfs_size) < 0)
                                BAD("Failed to parse --mount \"%s\": tmpfs-size must be a size like 64m", value);
                        tmpfs_only = true;
                } else if (strcmp(kv, "tmpfs-mode") == 0) {
                        char *end;
                        unsigned long mode;
                        if (!val || !*val)
                                BAD("Failed to parse --mount \"%s\": tmpfs-mode needs an octal mode", value);
                        mode = strtoul(val, &end, 8);
                        if (*end || mode > 07777)
                                BAD("Failed to parse --mount \"%s\": tmpfs-mode must be an octal mode like 1777",
                                    value);
                        m.tmpfs_mode = (uint32_t)mode;
                        tmpfs_only = true;
                } else if (strcmp(kv, "consistency") == 0) {
                        /* macOS-only in Docker; accepted and meaningless. */
                } else
                        BAD("Failed to parse --mount \"%s\": unknown key \"%s\"", value, kv);
#undef BAD
        }
        (void)type_seen;
        if (tmpfs_only && m.type != GB_MOUNT_TMPFS) {
                r = gb_error_set(err, EINVAL, "Failed to parse --mount \"%s\": tmpfs options need type=tmpfs", value);
                goto fail;
        }
        if (bind_only && m.type != GB_MOUNT_BIND) {
                r = gb_error_set(err, EINVAL, "Failed to parse --mount \"%s\": bind options need type=bind", value);
                goto fail;
        }
        if (volume_only && m.type != GB_MOUNT_VOLUME) {
                r = gb_error_set(err, EINVAL, "Failed to parse --mount \"%s\": volume options need type=volume", value);
                goto fail;
        }
        r = check_target("--mount", value, m.target, err);
        if (r < 0)
                goto fail;
        switch (m.type) {
        case GB_MOUNT_BIND:
                if (!m.source || m.source[0] != '/') {
                        r = gb_error_set(err, EINVAL,
                                         "Failed to parse --mount \"%s\": a bind mount needs an absolute source path",
                                         value);
                        goto fail;
                }
                break;
        case GB_MOUNT_VOLUME:
                if (m.source && !gb_volume_name_valid(m.source)) {
                        r = gb_error_set(err, EINVAL,
                                         "Failed to parse --mount \"%s\": \"%s\" is not a valid volume name", value,
                                         m.source);
                        goto fail;
                }
                break;
        case GB_MOUNT_TMPFS:
                if (m.source) {
                        r = gb_error_set(err, EINVAL, "Failed to parse --mount \"%s\": a tmpfs takes no source", value);
                        goto fail;
                }
                break;
        }
        *ret = m;
        return 0;
fail:
        gb_mount_req_clear(&m);
        return r;
}
