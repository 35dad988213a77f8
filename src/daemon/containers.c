/* /containers/...: create from Docker's JSON, the lifecycle, and the
 * streams (attach, logs, wait). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "daemon.h"
#include "portspec.h"
#include "logfile.h"
#include "monitor.h"
#include "util.h"

static void strv_push(char ***v, const char *s)
{
        size_t n = gb_strv_len(*v);
        *v = gb_xrealloc(*v, (n + 2) * sizeof(**v));
        (*v)[n] = gb_xstrdup(s);
        (*v)[n + 1] = NULL;
}

/* A JSON string array field into a strv. Returns -1 (with *bad set to the
 * field) when it is not an array of strings. Docker also accepts a plain
 * string for Cmd/Entrypoint (as a one-element list). */
static int strv_field(json_t *obj, const char *key, char ***ret, bool *present)
{
        json_t *v = json_object_get(obj, key), *x;
        size_t i;

        if (present)
                *present = v && !json_is_null(v);
        if (!v || json_is_null(v))
                return 0;
        if (json_is_string(v)) {
                strv_push(ret, json_string_value(v));
                return 0;
        }
        if (!json_is_array(v))
                return -1;
        if (json_array_size(v) == 0 && !*ret) {
                *ret = gb_xcalloc(1, sizeof(char *));
                return 0;
        }
        json_array_foreach (v, i, x) {
                if (!json_is_string(x))
                        return -1;
                strv_push(ret, json_string_value(x));
        }
        return 0;
}

static const char *str_field(json_t *obj, const char *key, bool *bad)
{
        json_t *v = json_object_get(obj, key);

        if (!v || json_is_null(v))
                return NULL;
        if (!json_is_string(v)) {
                *bad = true;
                return NULL;
        }
        return json_string_value(v);
}

static bool bool_field(json_t *obj, const char *key, bool *bad)
{
        json_t *v = json_object_get(obj, key);

        if (!v || json_is_null(v))
                return false;
        if (!json_is_boolean(v)) {
                *bad = true;
                return false;
        }
        return json_is_true(v);
}

static int add_mount_str(struct gb_run_opts *o, const char *s, bool volume, struct gb_error *err)
{
        struct gb_mount_req m;
        int r = volume ? gb_mountspec_parse_volume(s, &m, err) : gb_mountspec_parse_mount(s, &m, err);

        if (r < 0)
                return r;
        o->mounts = gb_xrealloc(o->mounts, (o->n_mounts + 1) * sizeof(*o->mounts));
        o->mounts[o->n_mounts++] = m;
        return 0;
}

/* HostConfig.Mounts objects, as the --mount string the CLI parses. */
static int add_mount_obj(struct gb_run_opts *o, json_t *m, size_t idx, struct gb_error *err)
{
        const char *type = json_string_value(json_object_get(m, "Type"));
        const char *src = json_string_value(json_object_get(m, "Source"));
        const char *dst = json_string_value(json_object_get(m, "Target"));
        _cleanup_free_ char *spec = NULL;

        if (!json_is_object(m) || !type || !dst)
                return gb_error_set(err, EINVAL, "HostConfig.Mounts[%zu]: Type and Target are required strings", idx);
        if (strchr(type, ',') || strchr(dst, ',') || (src && strchr(src, ',')))
                return gb_error_set(err, EINVAL, "HostConfig.Mounts[%zu]: ',' in Type, Source or Target", idx);
        spec = gb_xasprintf("type=%s%s%s,target=%s%s", type, src && *src ? ",source=" : "", src && *src ? src : "", dst,
                            json_is_true(json_object_get(m, "ReadOnly")) ? ",readonly" : "");
        {
                json_t *bo = json_object_get(m, "BindOptions");
                const char *prop = json_string_value(json_object_get(bo, "Propagation"));
                if (prop && !strchr(prop, ',')) {
                        char *s2 = gb_xasprintf("%s,bind-propagation=%s", spec, prop);
                        free(spec);
                        spec = s2;
                }
                json_t *to = json_object_get(m, "TmpfsOptions");
                if (json_is_integer(json_object_get(to, "SizeBytes"))) {
                        char *s2 = gb_xasprintf("%s,tmpfs-size=%lld", spec,
                                                (long long)json_integer_value(json_object_get(to, "SizeBytes")));
                        free(spec);
                        spec = s2;
                }
        }
        return add_mount_str(o, spec, false, err);
}

/* Docker's create body into run options. Field errors name the field. */
static int opts_from_json(json_t *body, struct gb_run_opts *o, struct gb_error *err)
{
        json_t *hc = json_object_get(body, "HostConfig"), *v;
        bool bad = false, ep_set = false;
        const char *s;
        size_t i;

        if (!json_is_object(body))
                return gb_error_set(err, EINVAL, "the request body must be a JSON object");
        if (hc && !json_is_null(hc) && !json_is_object(hc))
                return gb_error_set(err, EINVAL, "HostConfig must be an object");
        o->userns_size = 65536;
#define STR(obj, key, dst)                                                                  \
        do {                                                                                \
                s = str_field(obj, key, &bad);                                              \
                if (bad)                                                                    \
                        return gb_error_set(err, EINVAL, "field %s must be a string", key); \
                if (s)                                                                      \
                        dst = gb_xstrdup(s);                                                \
        } while (0)
#define BOOL(obj, key, dst)                                                                  \
        do {                                                                                 \
                dst = bool_field(obj, key, &bad);                                            \
                if (bad)                                                                     \
                        return gb_error_set(err, EINVAL, "field %s must be a boolean", key); \
        } while (0)
#define STRV(obj, key, dst, pres)                                                                      \
        do {                                                                                           \
                if (strv_field(obj, key, &(dst), pres) < 0)                                            \
                        return gb_error_set(err, EINVAL, "field %s must be an array of strings", key); \
        } while (0)
        STR(body, "Image", o->image);
        if (!o->image || !*o->image)
                return gb_error_set(err, EINVAL, "field Image is required");
        STRV(body, "Cmd", o->cmd, NULL);
        STRV(body, "Entrypoint", o->entrypoint, &ep_set);
        o->entrypoint_set = ep_set;
        STRV(body, "Env", o->env, NULL);
        STR(body, "WorkingDir", o->workdir);
        STR(body, "User", o->user);
        STR(body, "Hostname", o->hostname);
        BOOL(body, "Tty", o->tty);
        BOOL(body, "OpenStdin", o->interactive);
        {
                bool once, out;
                BOOL(body, "StdinOnce", once);
                BOOL(body, "AttachStdout", out);
                /* The record derives AttachStdout and StdinOnce from detach. */
                o->detach = o->interactive ? !once : !out;
        }
        for (char **e = o->env; e && *e; e++)
                if (**e == '=' || !strchr(*e, '='))
                        return gb_error_set(err, EINVAL, "field Env: \"%s\" is not KEY=VALUE", *e);
        if (!hc || json_is_null(hc))
                return 0;
        BOOL(hc, "AutoRemove", o->rm);
        BOOL(hc, "Privileged", o->privileged);
        BOOL(hc, "ReadonlyRootfs", o->read_only);
        BOOL(hc, "Init", o->init);
        STRV(hc, "CapAdd", o->cap_add, NULL);
        STRV(hc, "CapDrop", o->cap_drop, NULL);
        s = str_field(hc, "UsernsMode", &bad);
        if (bad)
                return gb_error_set(err, EINVAL, "field HostConfig.UsernsMode must be a string");
        if (s && gb_runspec_parse_userns(s, o, err) < 0)
                return gb_error_prefix(err, "HostConfig.UsernsMode");
        s = str_field(hc, "PidMode", &bad);
        if (bad || (s && *s && strcmp(s, "host") != 0))
                return gb_error_set(err, EINVAL, "HostConfig.PidMode: only \"host\" or \"\" are supported");
        o->pid_host = s && *s;
        s = str_field(hc, "NetworkMode", &bad);
        if (bad)
                return gb_error_set(err, EINVAL, "field HostConfig.NetworkMode must be a string");
        if (s && strcmp(s, "host") == 0)
                o->net_host = true;
        else if (s && strcmp(s, "none") == 0)
                o->net_none = true;
        else if (s && strcmp(s, "private") == 0)
                o->net_private = true;
        else if (s && *s && strcmp(s, "default") != 0) {
                /* "bridge" or a user-defined network; container:ID is not
                 * supported. */
                json_t *ep = json_object_get(
                        json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig"), s);
                if (gb_str_has_prefix(s, "container:"))
                        return gb_error_set(err, EINVAL, "HostConfig.NetworkMode %s is not supported", s);
                o->network = gb_xstrdup(s);
                if (json_is_object(ep)) {
                        STRV(ep, "Aliases", o->net_aliases, NULL);
                        s = str_field(json_object_get(ep, "IPAMConfig"), "IPv4Address", &bad);
                        if (bad)
                                return gb_error_set(err, EINVAL, "field IPAMConfig.IPv4Address must be a string");
                        if (s && *s)
                                o->ip = gb_xstrdup(s);
                }
        }
        /* Ports: checked here so a bad shape is a 400 naming the field;
         * keys are stored in Docker's canonical "PORT/tcp" / "PORT/udp" form. */
        v = json_object_get(hc, "PortBindings");
        if (gb_portspec_check_bindings(v, err) < 0)
                return -EINVAL;
        if (json_is_object(v) && json_object_size(v) > 0) {
                const char *k;
                json_t *x;
                o->port_bindings = json_object();
                json_object_foreach (v, k, x) {
                        uint16_t p = 0;
                        bool udp = false;
                        char key[16];
                        (void)gb_portspec_parse_key(k, &p, &udp, NULL);
                        json_object_set_new(o->port_bindings, gb_portspec_key(key, p, udp),
                                            json_is_array(x) ? json_deep_copy(x) : json_array());
                }
        }
        BOOL(hc, "PublishAllPorts", o->publish_all);
        v = json_object_get(body, "ExposedPorts");
        if (gb_portspec_check_exposed(v, err) < 0)
                return -EINVAL;
        if (json_is_object(v) && json_object_size(v) > 0) {
                const char *k;
                json_t *x;
                o->exposed_ports = json_object();
                json_object_foreach (v, k, x) {
                        uint16_t p = 0;
                        bool udp = false;
                        char key[16];
                        (void)gb_portspec_parse_key(k, &p, &udp, NULL);
                        json_object_set_new(o->exposed_ports, gb_portspec_key(key, p, udp), json_object());
                }
        }
        v = json_object_get(hc, "SecurityOpt");
        if (v && !json_is_null(v)) {
                json_t *x;
                if (!json_is_array(v))
                        return gb_error_set(err, EINVAL, "field HostConfig.SecurityOpt must be an array of strings");
                json_array_foreach (v, i, x) {
                        const char *so = json_string_value(x);
                        if (!so)
                                return gb_error_set(err, EINVAL, "HostConfig.SecurityOpt[%zu] must be a string", i);
                        if (strncmp(so, "no-new-privileges", 17) == 0)
                                o->no_new_privileges = !strstr(so, "false");
                        else if (strncmp(so, "seccomp=", 8) == 0 || strncmp(so, "seccomp:", 8) == 0) {
                                free(o->seccomp);
                                o->seccomp = gb_xstrdup(so + 8);
                                /* The CLI sends a profile's JSON, not a
                                 * path: only "unconfined" by name. */
                                if (strcmp(o->seccomp, "unconfined") != 0)
                                        return gb_error_set(err, EINVAL,
                                                            "HostConfig.SecurityOpt: seccomp profiles over the API "
                                                            "are not supported (only seccomp=unconfined)");
                        } else
                                return gb_error_set(err, EINVAL,
                                                    "HostConfig.SecurityOpt: \"%s\" is not supported (supported: "
                                                    "no-new-privileges, seccomp=unconfined)",
                                                    so);
                }
        }
        v = json_object_get(hc, "Binds");
        if (v && !json_is_null(v)) {
                json_t *x;
                if (!json_is_array(v))
                        return gb_error_set(err, EINVAL, "field HostConfig.Binds must be an array of strings");
                json_array_foreach (v, i, x) {
                        if (!json_is_string(x))
                                return gb_error_set(err, EINVAL, "HostConfig.Binds[%zu] must be a string", i);
                        if (add_mount_str(o, json_string_value(x), true, err) < 0)
                                return gb_error_prefix(err, "HostConfig.Binds[%zu]", i);
                }
        }
        v = json_object_get(hc, "Mounts");
        if (v && !json_is_null(v)) {
                json_t *x;
                if (!json_is_array(v))
                        return gb_error_set(err, EINVAL, "field HostConfig.Mounts must be an array");
                json_array_foreach (v, i, x)
                        if (add_mount_obj(o, x, i, err) < 0)
                                return gb_error_prefix(err, "HostConfig.Mounts[%zu]", i);
        }
        v = json_object_get(hc, "Tmpfs");
        if (v && !json_is_null(v)) {
                const char *k;
                json_t *x;
                if (!json_is_object(v))
                        return gb_error_set(err, EINVAL, "field HostConfig.Tmpfs must be an object");
                json_object_foreach (v, k, x) {
                        const char *opt = json_string_value(x);
                        _cleanup_free_ char *t = opt && *opt ? gb_xasprintf("%s:%s", k, opt) : gb_xstrdup(k);
                        strv_push(&o->tmpfs, t);
                }
        }
        /* Volumes in Config: anonymous volumes, as -v /path. */
        v = json_object_get(body, "Volumes");
        if (json_is_object(v)) {
                const char *k;
                json_t *x;
                json_object_foreach (v, k, x)
                        if (add_mount_str(o, k, true, err) < 0)
                                return gb_error_prefix(err, "Volumes");
        }
        return 0;
#undef STR
#undef BOOL
#undef STRV
}

void h_containers_create(struct conn *c, char **caps)
{
        json_auto_t *body = NULL;
        struct gb_run_opts o = {0};
        struct gb_create_src src = {0};
        struct gb_error err = {0};
        char id[GB_CONTAINER_ID_LEN + 1];
        int r;

        if (conn_body_json(c, &body) < 0)
                return;
        if (!body) {
                conn_error(c, 400, "config cannot be empty in order to create a container");
                return;
        }
        o.name = q_get(c, "name");
        if (o.name && !*o.name) {
                free(o.name);
                o.name = NULL;
        }
        if (o.name && !gb_container_name_valid(o.name)) {
                conn_error(c, 400, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.name);
                gb_run_opts_clear(&o);
                return;
        }
        r = opts_from_json(body, &o, &err);
        if (r < 0) {
                conn_error(c, 400, "%s", err.msg);
                gb_run_opts_clear(&o);
                return;
        }
        src.image_ref = o.image;
        r = gb_engine_create(&gbd_engine, &o, &src, id, &err);
        if (r == -ENOENT && strstr(err.msg, "Unable to find image"))
                /* The CLI's cue to pull (POST /images/create). */
                conn_error(c, 404, "No such image: %s", o.image);
        else if (r < 0)
                conn_gb_error(c, r, &err);
        else {
                /* Labels are the API's (compose marks its containers with
                 * them); the run options have none: add them to the
                 * record, under its lock. */
                json_t *labels = json_object_get(body, "Labels");
                if (json_is_object(labels) && json_object_size(labels) > 0) {
                        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                        if (gb_container_lookup(gbd_engine.cfg.data_root, id, true, &ct, NULL) == 0) {
                                json_object_set(json_object_get(ct->doc, "Config"), "Labels", labels);
                                (void)gb_container_save(ct, NULL);
                        }
                }
                json_t *warnings = json_array();
                if (o.net_host && (json_object_size(o.port_bindings) > 0 || o.publish_all))
                        json_array_append_new(
                                warnings, json_string("Published ports are discarded when using host network mode"));
                conn_json(c, 201, json_pack("{s:s, s:o}", "Id", id, "Warnings", warnings));
        }
        gb_run_opts_clear(&o);
}

static int lookup(struct conn *c, const char *ref, struct gb_container **ret)
{
        struct gb_error err = {0};
        int r = gb_container_lookup(gbd_engine.cfg.data_root, ref, false, ret, &err);

        if (r < 0) {
                if (r == -ENOENT)
                        conn_error(c, 404, "No such container: %s", ref);
                else
                        conn_gb_error(c, r, &err);
                return r;
        }
        (void)gb_engine_refresh(&gbd_engine, *ret, NULL);
        return 0;
}

/* The record is the inspect document; only the types Docker's clients
 * decode differently are converted: HostConfig.Tmpfs is stored as the
 * CLI's "DST[:OPTS]" list, Go wants {"DST": "OPTS"}. */
static json_t *inspect_doc(struct gb_container *ct)
{
        json_t *d = json_deep_copy(ct->doc), *hc = json_object_get(d, "HostConfig");
        json_t *t = json_object_get(hc, "Tmpfs"), *x;
        size_t i;

        if (json_is_array(t)) {
                json_t *m = json_object();
                json_array_foreach (t, i, x) {
                        const char *s = json_string_value(x);
                        if (!s)
                                continue;
                        const char *colon = strchr(s, ':');
                        _cleanup_free_ char *k = colon ? strndup(s, (size_t)(colon - s)) : gb_xstrdup(s);
                        json_object_set_new(m, k, json_string(colon ? colon + 1 : ""));
                }
                json_object_set_new(hc, "Tmpfs", m);
        }
        if (!json_object_get(d, "NetworkSettings"))
                json_object_set_new(d, "NetworkSettings", json_pack("{s:{}, s:{}}", "Networks", "Ports"));
        /* The one log driver; compose attaches only to containers whose
         * LogConfig.Type it knows; records made before it was stored lack it. */
        if (json_is_object(hc) && !json_object_get(hc, "LogConfig"))
                json_object_set_new(hc, "LogConfig", json_pack("{s:s, s:{}}", "Type", "json-file", "Config"));
        if (!json_object_get(d, "RestartCount"))
                json_object_set_new(d, "RestartCount", json_integer(0));
        if (!json_object_get(d, "Platform"))
                json_object_set_new(d, "Platform", json_string("linux"));
        return d;
}

void h_container_inspect(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;

        if (lookup(c, caps[0], &ct) < 0)
                return;
        conn_json(c, 200, inspect_doc(ct));
}

static long long unix_time(const char *ts)
{
        struct tm tm = {0};

        if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (long long)timegm(&tm);
}

json_t *gbd_container_summary(struct gb_container *ct)
{
        json_t *d = ct->doc, *cfg = json_object_get(d, "Config"), *st = json_object_get(d, "State");
        _cleanup_free_ char *status = cli_status_text(d), *cmd = NULL;
        json_t *x, *names;
        size_t i, len = 0;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &len);

        json_array_foreach (json_object_get(json_object_get(d, "Config"), "Entrypoint"), i, x)
                fprintf(f, "%s%s", len || ftell(f) ? " " : "", json_string_value(x) ?: "");
        json_array_foreach (json_object_get(cfg, "Cmd"), i, x)
                fprintf(f, "%s%s", ftell(f) ? " " : "", json_string_value(x) ?: "");
        fclose(f);
        cmd = buf;
        names = json_pack("[s]", json_string_value(json_object_get(d, "Name")) ?: "");
        json_t *nets = json_object_get(json_object_get(d, "NetworkSettings"), "Networks");
        /* Docker lists the bound ports of a running container. */
        json_t *ports = strcmp(json_string_value(json_object_get(st, "Status")) ?: "", "running") == 0
                                ? gb_portspec_api_list(json_object_get(json_object_get(d, "NetworkSettings"), "Ports"))
                                : json_array();
        return json_pack(
                "{s:s, s:o, s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:O, s:{s:s}, s:{s:o}, s:O}", "Id", ct->id, "Names",
                names, "Image", json_string_value(json_object_get(cfg, "Image")) ?: "", "ImageID",
                json_string_value(json_object_get(d, "Image")) ?: "", "Command", cmd ? cmd : "", "Created",
                (json_int_t)unix_time(json_string_value(json_object_get(d, "Created"))), "State",
                json_string_value(json_object_get(st, "Status")) ?: "", "Status", status, "Ports", ports, "Labels",
                json_object_get(cfg, "Labels") && json_is_object(json_object_get(cfg, "Labels"))
                        ? json_object_get(cfg, "Labels")
                        : json_object(),
                "HostConfig", "NetworkMode",
                json_string_value(json_object_get(json_object_get(d, "HostConfig"), "NetworkMode")) ?: "default",
                "NetworkSettings", "Networks", json_is_object(nets) ? json_deep_copy(nets) : json_object(), "Mounts",
                json_object_get(d, "Mounts") ? json_object_get(d, "Mounts") : json_array());
}

/* `filters` of GET /containers/json: label (k or k=v), name (substring,
 * as Docker's regexp without anchors), id (prefix), status. */
static bool filter_values_ok(json_t *f, const char *key, bool (*match)(const char *want, void *data), void *data)
{
        json_t *v = json_object_get(f, key), *x;
        const char *k;
        size_t i;

        /* Docker: several label filters must all match (compose selects
         * its containers by project AND service); other keys match any. */
        bool every = strcmp(key, "label") == 0;

        if (!v)
                return true;
        if (json_is_array(v)) {
                json_array_foreach (v, i, x) {
                        bool m = json_is_string(x) && match(json_string_value(x), data);
                        if (m != every)
                                return m;
                }
                return every;
        }
        json_object_foreach (v, k, x) {
                bool m = match(k, data);
                if (m != every)
                        return m;
        }
        return every;
}

static bool match_label(const char *want, void *data)
{
        json_t *labels = json_object_get(json_object_get(((struct gb_container *)data)->doc, "Config"), "Labels");
        const char *eq = strchr(want, '=');
        _cleanup_free_ char *k = eq ? strndup(want, (size_t)(eq - want)) : gb_xstrdup(want);
        json_t *v = json_object_get(labels, k);

        return v && (!eq || (json_is_string(v) && strcmp(json_string_value(v), eq + 1) == 0));
}

static bool match_name(const char *want, void *data)
{
        return strstr(gb_container_name(data), want[0] == '/' ? want + 1 : want) != NULL;
}

static bool match_id(const char *want, void *data)
{
        return gb_str_has_prefix(((struct gb_container *)data)->id, want);
}

static bool match_status(const char *want, void *data)
{
        return strcmp(gb_container_status(data), want) == 0;
}

/* ancestor: the image as given at create ("busybox" also matches
 * "busybox:latest") or its ID (a prefix, with or without "sha256:"). */
static bool match_ancestor(const char *want, void *data)
{
        json_t *d = ((struct gb_container *)data)->doc;
        const char *img = json_string_value(json_object_get(json_object_get(d, "Config"), "Image")) ?: "";
        const char *id = json_string_value(json_object_get(d, "Image")) ?: "";
        size_t wl = strlen(want);

        if (!*want)
                return false;
        if (strcmp(img, want) == 0 || (strncmp(img, want, wl) == 0 && strcmp(img + wl, ":latest") == 0) ||
            (!strchr(img, ':') && strncmp(want, img, strlen(img)) == 0 && strcmp(want + strlen(img), ":latest") == 0))
                return true;
        return gb_str_has_prefix(id, want) || (gb_str_has_prefix(id, "sha256:") && gb_str_has_prefix(id + 7, want));
}

static bool match_exited(const char *want, void *data)
{
        json_t *st = json_object_get(((struct gb_container *)data)->doc, "State");
        char *end;
        long code = strtol(want, &end, 10);

        return *want && !*end && strcmp(gb_container_status(data), "exited") == 0 &&
               json_integer_value(json_object_get(st, "ExitCode")) == code;
}

static bool match_volume(const char *want, void *data)
{
        json_t *m;
        size_t i;

        json_array_foreach (json_object_get(((struct gb_container *)data)->doc, "Mounts"), i, m)
                if (strcmp(json_string_value(json_object_get(m, "Name")) ?: "", want) == 0 ||
                    strcmp(json_string_value(json_object_get(m, "Destination")) ?: "", want) == 0 ||
                    strcmp(json_string_value(json_object_get(m, "Source")) ?: "", want) == 0)
                        return true;
        return false;
}

static bool match_network(const char *want, void *data)
{
        json_t *d = ((struct gb_container *)data)->doc;
        const char *mode = json_string_value(json_object_get(json_object_get(d, "HostConfig"), "NetworkMode"));

        return json_object_get(json_object_get(json_object_get(d, "NetworkSettings"), "Networks"), want) ||
               (mode && strcmp(mode, want) == 0);
}

/* before/since: the Created time of the one container named. */
static int created_of(struct conn *c, json_t *filters, const char *key, char **ret)
{
        json_t *v = json_object_get(filters, key);
        const char *ref = NULL;
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;

        *ret = NULL;
        if (!v)
                return 0;
        ref = json_is_array(v) ? json_string_value(json_array_get(v, 0)) : json_object_iter_key(json_object_iter(v));
        if (!ref || gb_container_lookup(gbd_engine.cfg.data_root, ref, false, &ct, NULL) < 0) {
                conn_error(c, 404, "No such container: %s", ref ? ref : "");
                return -ENOENT;
        }
        *ret = gb_xstrdup(json_string_value(json_object_get(ct->doc, "Created")) ?: "");
        return 0;
}

void h_containers_list(struct conn *c, char **caps)
{
        _cleanup_free_ char *filt = q_get(c, "filters");
        json_auto_t *filters = NULL;

        if (filt && *filt) {
                const char *k;
                json_t *x;
                filters = json_loads(filt, 0, NULL);
                if (!json_is_object(filters)) {
                        conn_error(c, 400, "invalid filters: %s", filt);
                        return;
                }
                static const char *const keys[] = {"label",  "name",   "id",      "status", "ancestor",
                                                   "exited", "volume", "network", "before", "since"};
                json_object_foreach (filters, k, x) {
                        bool known = false;
                        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                                known = known || strcmp(k, keys[i]) == 0;
                        if (!known) {
                                conn_error(c, 400,
                                           "invalid filter '%s' (ghostboxd supports label, name, id, status, ancestor, "
                                           "exited, volume, network, before, since)",
                                           k);
                                return;
                        }
                }
        }
        _cleanup_free_ char *before = NULL, *since = NULL;
        if (created_of(c, filters, "before", &before) < 0 || created_of(c, filters, "since", &since) < 0)
                return;
        _cleanup_strv_ char **ids = NULL;
        struct gb_error err = {0};
        bool all = q_bool(c, "all");
        _cleanup_free_ char *limit_s = q_get(c, "limit");
        long limit = limit_s ? strtol(limit_s, NULL, 10) : -1;
        json_t *out = json_array();
        int r;

        r = gb_container_list(gbd_engine.cfg.data_root, &ids, &err);
        if (r < 0) {
                json_decref(out);
                conn_gb_error(c, r, &err);
                return;
        }
        for (char **id = ids; *id; id++) {
                _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                if (limit > 0 && (long)json_array_size(out) >= limit)
                        break;
                if (gb_container_lookup(gbd_engine.cfg.data_root, *id, false, &ct, NULL) < 0)
                        continue;
                (void)gb_engine_refresh(&gbd_engine, ct, NULL);
                if (!all && strcmp(gb_container_status(ct), "running") != 0 && !json_object_get(filters, "status") &&
                    !json_object_get(filters, "exited"))
                        continue;
                if (!filter_values_ok(filters, "label", match_label, ct) ||
                    !filter_values_ok(filters, "name", match_name, ct) ||
                    !filter_values_ok(filters, "id", match_id, ct) ||
                    !filter_values_ok(filters, "status", match_status, ct) ||
                    !filter_values_ok(filters, "ancestor", match_ancestor, ct) ||
                    !filter_values_ok(filters, "exited", match_exited, ct) ||
                    !filter_values_ok(filters, "volume", match_volume, ct) ||
                    !filter_values_ok(filters, "network", match_network, ct))
                        continue;
                {
                        const char *cr = json_string_value(json_object_get(ct->doc, "Created")) ?: "";
                        /* RFC 3339 times of one format order as strings. */
                        if ((before && strcmp(cr, before) >= 0) || (since && strcmp(cr, since) <= 0))
                                continue;
                }
                json_array_append_new(out, gbd_container_summary(ct));
        }
        conn_json(c, 200, out);
}

void h_container_kill(struct conn *c, char **caps)
{
        _cleanup_free_ char *sig_s = q_get(c, "signal");
        struct gb_error err = {0};
        int sig = sig_s && *sig_s ? gb_parse_signal(sig_s) : SIGKILL;
        int r;

        if (sig < 0) {
                conn_error(c, 400, "Invalid signal: %s", sig_s);
                return;
        }
        r = gb_engine_kill(&gbd_engine, caps[0], sig, &err);
        if (r == -EINVAL)
                conn_error(c, 409, "%s", err.msg);
        else if (r == -ENOENT)
                conn_error(c, 404, "No such container: %s", caps[0]);
        else if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_no_content(c);
}

static int stop_timeout(struct conn *c)
{
        _cleanup_free_ char *t = q_get(c, "t");
        return t && *t ? atoi(t) : 10;
}

void h_container_stop(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        struct gb_error err = {0};
        int r;

        if (lookup(c, caps[0], &ct) < 0)
                return;
        if (strcmp(gb_container_status(ct), "running") != 0) {
                conn_respond(c, 304, NULL, NULL, 0);
                return;
        }
        r = gb_engine_stop(&gbd_engine, ct->id, stop_timeout(c), &err);
        if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_no_content(c);
}

/* Attach before start (`docker run`: create, attach, wait, start). The
 * monitor, and with it the stream, only exists once start spawned it, and
 * output must not be lost before the client is connected. So an attach to
 * a created container registers a unix socket at
 * <exec-root>/api-attach/<id>/<pid>.<flags> and waits; start passes it the
 * stream that gb_engine_start opened before releasing the container's
 * init (SCM_RIGHTS). */
static char *waiter_dir(const char *id)
{
        /* 32 hex digits are unique enough and keep <dir>/<pid>.<flags>
         * within sun_path's 108 bytes for longer exec roots. */
        return gb_xasprintf("%s/api-attach/%.32s", gbd_engine.cfg.exec_root, id);
}

static int send_fd(const char *path, int fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        char cbuf[CMSG_SPACE(sizeof(int))] = {0}, b = 'F';
        struct iovec iov = {.iov_base = &b, .iov_len = 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *cm;

        if (s < 0 || strlen(path) >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int recv_fd(int s)
{
        char cbuf[CMSG_SPACE(sizeof(int))] = {0}, b;
        struct iovec iov = {.iov_base = &b, .iov_len = 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *cm;
        int fd;

        if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) <= 0)
                return -EIO;
        cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_type != SCM_RIGHTS)
                return -EIO;
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

/* AutoRemove deletes the record right after the exit: a `wait
 * ?condition=removed` that polled past that moment would lose the code. So
 * whoever holds a stream taken before start (which the monitor closes only
 * after recording the exit, and before the removal) copies the code to
 * <exec-root>/api-exit/<id>, where wait looks when the record is gone. */
static char *exit_file(const char *id)
{
        return gb_xasprintf("%s/api-exit/%s", gbd_engine.cfg.exec_root, id);
}

static void save_exit_code(const char *id)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_free_ char *p = exit_file(id), *dir = gb_xasprintf("%s/api-exit", gbd_engine.cfg.exec_root);
        _cleanup_free_ char *s = NULL;

        if (gb_container_lookup(gbd_engine.cfg.data_root, id, false, &ct, NULL) < 0)
                return;
        s = gb_xasprintf("%lld\n",
                         (long long)json_integer_value(json_object_get(json_object_get(ct->doc, "State"), "ExitCode")));
        (void)gb_mkdir_p(dir, 0700);
        (void)gb_write_file_atomic(p, s, strlen(s), 0600);
}

/* The code save_exit_code left, waiting up to 2 s for it; -1 if none. */
static long long take_exit_code(const char *id)
{
        _cleanup_free_ char *p = exit_file(id);

        for (int i = 0; i < 200; i++) {
                _cleanup_free_ char *buf = NULL;
                size_t len;
                if (gb_read_file_at(AT_FDCWD, p, 64, &buf, &len) == 0) {
                        (void)unlink(p);
                        return atoll(buf);
                }
                (void)usleep(10 * 1000);
        }
        return -1;
}

void h_container_start(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_free_ char *wdir = NULL;
        _cleanup_strv_ char **waiters = NULL;
        struct gb_error err = {0};
        unsigned flags = 0;
        _cleanup_close_ int afd = -EBADF;
        int r;

        if (lookup(c, caps[0], &ct) < 0)
                return;
        if (strcmp(gb_container_status(ct), "running") == 0) {
                conn_respond(c, 304, NULL, NULL, 0);
                return;
        }
        wdir = waiter_dir(ct->id);
        {
                _cleanup_(gb_closedirp) DIR *d = opendir(wdir);
                struct dirent *de;
                while (d && (de = readdir(d)))
                        if (de->d_name[0] != '.')
                                strv_push(&waiters, de->d_name);
        }
        if (waiters && waiters[0]) {
                const char *dot = strrchr(waiters[0], '.');
                flags = dot ? (unsigned)atoi(dot + 1) & 7 : 6;
        }
        {
                /* No attach but AutoRemove: take a stream anyway, for a
                 * watcher that records the exit code (see above). */
                bool watch =
                        !flags && json_is_true(json_object_get(json_object_get(ct->doc, "HostConfig"), "AutoRemove"));
                r = gb_engine_start(&gbd_engine, ct->id, watch ? GB_ATTACH_STDOUT : flags, flags || watch ? &afd : NULL,
                                    NULL, &err);
                if (r < 0) {
                        conn_gb_error(c, r == -EINVAL ? -EIO : r, &err);
                        return;
                }
                if (watch) {
                        pid_t w = fork();
                        if (w == 0) {
                                char b[32768];
                                close(c->fd); /* the client's connection is the handler's */
                                while (read(afd, b, sizeof(b)) > 0)
                                        ;
                                save_exit_code(ct->id);
                                _exit(0);
                        }
                        close(TAKE_FD(afd));
                }
        }
        for (char **w = waiters; w && *w; w++) {
                _cleanup_free_ char *p = gb_xasprintf("%s/%s", wdir, *w);
                _cleanup_close_ int extra = -EBADF;
                if (w != waiters) {
                        /* More than one attach waited: the others join
                         * now (they may miss the first output). */
                        _cleanup_free_ char *st = gb_monitor_state_dir(gbd_engine.cfg.exec_root, ct->id);
                        const char *dot = strrchr(*w, '.');
                        if (gb_monitor_attach(st, dot ? (unsigned)atoi(dot + 1) & 7 : 6, &extra, NULL) < 0)
                                continue;
                }
                (void)send_fd(p, w == waiters ? afd : extra);
        }
        conn_no_content(c);
}

void h_container_restart(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        struct gb_error err = {0};
        int r;

        if (lookup(c, caps[0], &ct) < 0)
                return;
        r = gb_engine_stop(&gbd_engine, ct->id, stop_timeout(c), &err);
        if (r >= 0)
                r = gb_engine_start(&gbd_engine, ct->id, 0, NULL, NULL, &err);
        if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_no_content(c);
}

static bool still_running(void *data)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;

        if (gb_container_lookup(gbd_engine.cfg.data_root, data, false, &ct, NULL) < 0)
                return false;
        (void)gb_engine_refresh(&gbd_engine, ct, NULL);
        return strcmp(gb_container_status(ct), "running") == 0 || strcmp(gb_container_status(ct), "created") == 0;
}

/* Block until the condition holds. next-exit: an exit after this call
 * (FinishedAt changes); not-running: now or the next exit; removed: the
 * record is gone. The code is the last exit code seen: the monitor records
 * the exit before AutoRemove's removal, and we poll every 10 ms. */
void h_container_wait(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_free_ char *cond = q_get(c, "condition"), *id = NULL, *finished0 = NULL, *out = NULL, *werr = NULL;
        long long code = 0;
        bool removed = cond && strcmp(cond, "removed") == 0, next = cond && strcmp(cond, "next-exit") == 0;
        bool seen_exit = false;

        if (cond && *cond && !removed && !next && strcmp(cond, "not-running") != 0) {
                conn_error(c, 400, "invalid condition: \"%s\" (next-exit, not-running, removed)", cond);
                return;
        }
        if (lookup(c, caps[0], &ct) < 0)
                return;
        id = gb_xstrdup(ct->id);
        finished0 =
                gb_xstrdup(json_string_value(json_object_get(json_object_get(ct->doc, "State"), "FinishedAt")) ?: "");
        code = json_integer_value(json_object_get(json_object_get(ct->doc, "State"), "ExitCode"));
        gb_container_free(TAKE_PTR(ct));
        /* Headers now: the CLI starts the container only once it has them. */
        conn_stream_begin(c, 200, "application/json");
        for (;;) {
                struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};
                if (gb_container_lookup(gbd_engine.cfg.data_root, id, false, &ct, NULL) < 0) {
                        /* Removed: unless we saw the exit ourselves, the
                         * code is where a stream holder left it. */
                        if (!seen_exit) {
                                long long k = take_exit_code(id);
                                if (k >= 0)
                                        code = k;
                        } else {
                                _cleanup_free_ char *ef = exit_file(id);
                                (void)unlink(ef);
                        }
                        break;
                }
                (void)gb_engine_refresh(&gbd_engine, ct, NULL);
                json_t *st = json_object_get(ct->doc, "State");
                const char *s = gb_container_status(ct);
                bool not_running =
                        strcmp(s, "running") != 0 && !(strcmp(s, "created") == 0 && gb_engine_init_alive(ct));
                bool exited_since = strcmp(json_string_value(json_object_get(st, "FinishedAt")) ?: "", finished0) != 0;
                if (exited_since || (!next && not_running))
                        code = json_integer_value(json_object_get(st, "ExitCode"));
                if (exited_since)
                        seen_exit = true;
                if (!removed && not_running && (!next || exited_since))
                        break;
                /* The monitor could not remove it (see auto_remove in
                 * src/monitor): Docker answers with the error, not forever. */
                if (removed && not_running &&
                    strncmp(json_string_value(json_object_get(st, "Error")) ?: "", "autoremove failed", 17) == 0) {
                        werr = gb_xstrdup(json_string_value(json_object_get(st, "Error")));
                        break;
                }
                gb_container_free(TAKE_PTR(ct));
                /* While a monitor runs, hold an attach with no streams: it
                 * closes only after the exit is on record (and before
                 * AutoRemove's removal), so the code is never missed. */
                {
                        _cleanup_free_ char *state = gb_monitor_state_dir(gbd_engine.cfg.exec_root, id);
                        _cleanup_close_ int mfd = -EBADF;
                        if (gb_monitor_attach(state, 0, &mfd, NULL) == 0) {
                                for (;;) {
                                        struct pollfd pp[2] = {{.fd = mfd, .events = POLLIN},
                                                               {.fd = c->fd, .events = POLLRDHUP}};
                                        char b[64];
                                        if (poll(pp, 2, -1) < 0 && errno != EINTR)
                                                break;
                                        if (pp[1].revents)
                                                return; /* the client went away */
                                        if (pp[0].revents && read(mfd, b, sizeof(b)) <= 0)
                                                break;
                                }
                                continue;
                        }
                }
                /* A client that went away stops the wait. */
                if (poll(&p, 1, 10) > 0)
                        return;
        }
        if (werr) {
                json_t *j = json_pack("{s:I, s:{s:s}}", "StatusCode", (json_int_t)code, "Error", "Message", werr);
                out = json_dumps(j, JSON_COMPACT);
                json_decref(j);
                (void)gb_write_all(c->fd, out, strlen(out));
                (void)gb_write_all(c->fd, "\n", 1);
                return;
        }
        out = gb_xasprintf("{\"StatusCode\":%lld,\"Error\":null}\n", code);
        (void)gb_write_all(c->fd, out, strlen(out));
}

void h_container_delete(struct conn *c, char **caps)
{
        struct gb_error err = {0};
        int r = gb_engine_remove(&gbd_engine, caps[0], q_bool(c, "force"), q_bool(c, "v"), &err);

        if (r == -ENOENT)
                conn_error(c, 404, "No such container: %s", caps[0]);
        else if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_no_content(c);
}

void h_containers_prune(struct conn *c, char **caps)
{
        _cleanup_strv_ char **ids = NULL;
        json_t *deleted = json_array();

        if (gb_container_list(gbd_engine.cfg.data_root, &ids, NULL) == 0)
                for (char **id = ids; *id; id++) {
                        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                        if (gb_container_lookup(gbd_engine.cfg.data_root, *id, false, &ct, NULL) < 0)
                                continue;
                        (void)gb_engine_refresh(&gbd_engine, ct, NULL);
                        const char *s = gb_container_status(ct);
                        if (strcmp(s, "exited") != 0 && strcmp(s, "dead") != 0 && strcmp(s, "created") != 0)
                                continue;
                        if (gb_engine_remove(&gbd_engine, ct->id, false, false, NULL) == 0)
                                json_array_append_new(deleted, json_string(ct->id));
                }
        conn_json(c, 200, json_pack("{s:o, s:I}", "ContainersDeleted", deleted, "SpaceReclaimed", (json_int_t)0));
}

void h_container_resize(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_free_ char *h = q_get(c, "h"), *w = q_get(c, "w"), *st = NULL;
        struct gb_error err = {0};
        uint32_t rows, cols;
        int r;

        if (!h || !w || gb_parse_u32(h, &rows) < 0 || gb_parse_u32(w, &cols) < 0 || rows > 65535 || cols > 65535) {
                conn_error(c, 400, "resize needs h and w (0..65535)");
                return;
        }
        if (lookup(c, caps[0], &ct) < 0)
                return;
        /* Docker's check: a created (or exited) container has no monitor
         * and no pty to resize yet. */
        if (strcmp(gb_container_status(ct), "running") != 0) {
                conn_error(c, 409, "Container %s is not running", ct->id);
                return;
        }
        st = gb_monitor_state_dir(gbd_engine.cfg.exec_root, ct->id);
        r = gb_monitor_resize(st, rows, cols, &err);
        if (r < 0)
                conn_error(c, 409, "Failed to resize container %s: %s", caps[0], err.msg);
        else
                conn_respond(c, 200, "text/plain", NULL, 0);
}

/* The processes in the container's PID namespace, as `ps -f` columns.
 * UIDs are the host's (the remapped ones), which is the point. */
void h_container_top(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_(gb_closedirp) DIR *d = NULL;
        struct stat init_ns;
        struct dirent *de;
        char path[64];
        json_t *procs;
        pid_t init;
        bool pid_host;

        if (lookup(c, caps[0], &ct) < 0)
                return;
        init = (pid_t)json_integer_value(json_object_get(json_object_get(ct->doc, "State"), "Pid"));
        if (strcmp(gb_container_status(ct), "running") != 0 || init <= 0 || !gb_engine_init_alive(ct)) {
                conn_error(c, 409, "Container %s is not running", ct->id);
                return;
        }
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
        if (stat(path, &init_ns) < 0) {
                conn_error(c, 500, "Failed to read '%s': %s", path, strerror(errno));
                return;
        }
        pid_host = strcmp(json_string_value(json_object_get(json_object_get(ct->doc, "HostConfig"), "PidMode")) ?: "",
                          "host") == 0;
        procs = json_array();
        d = opendir("/proc");
        while (d && (de = readdir(d))) {
                struct stat ns, st;
                _cleanup_free_ char *cmd = NULL, *statbuf = NULL;
                char p2[64], uid[16], pidstr[16], ppid[16] = "?";
                size_t len = 0;
                uint32_t pid;

                if (gb_parse_u32(de->d_name, &pid) < 0)
                        continue;
                (void)snprintf(p2, sizeof(p2), "/proc/%u/ns/pid", pid);
                /* pid=host containers share the host's namespace: then
                 * only the init's descendants would be right; list the
                 * init alone rather than the whole host. */
                if (stat(p2, &ns) < 0 || ns.st_ino != init_ns.st_ino || ns.st_dev != init_ns.st_dev)
                        continue;
                if (pid_host && (pid_t)pid != init)
                        continue;
                (void)snprintf(p2, sizeof(p2), "/proc/%u", pid);
                if (stat(p2, &st) < 0)
                        continue;
                (void)snprintf(p2, sizeof(p2), "/proc/%u/stat", pid);
                if (gb_read_file_at(AT_FDCWD, p2, 4096, &statbuf, &len) == 0) {
                        char *rp = strrchr(statbuf, ')');
                        int pp;
                        if (rp && sscanf(rp + 2, "%*c %d", &pp) == 1)
                                (void)snprintf(ppid, sizeof(ppid), "%d", pp);
                }
                (void)snprintf(p2, sizeof(p2), "/proc/%u/cmdline", pid);
                if (gb_read_file_at(AT_FDCWD, p2, 4096, &cmd, &len) < 0 || len == 0)
                        continue;
                for (size_t i = 0; i + 1 < len; i++)
                        if (cmd[i] == '\0')
                                cmd[i] = ' ';
                (void)snprintf(uid, sizeof(uid), "%u", (unsigned)st.st_uid);
                (void)snprintf(pidstr, sizeof(pidstr), "%u", pid);
                json_array_append_new(procs, json_pack("[s,s,s,s]", uid, pidstr, ppid, cmd));
        }
        conn_json(c, 200, json_pack("{s:[s,s,s,s], s:o}", "Titles", "UID", "PID", "PPID", "CMD", "Processes", procs));
}

/* The monitor's stream for an attach: directly when it runs, else wait for
 * start to hand it over (see above). */
static int attach_stream(struct conn *c, struct gb_container *ct, unsigned flags, const char **ret_err)
{
        _cleanup_free_ char *st = gb_monitor_state_dir(gbd_engine.cfg.exec_root, ct->id);
        _cleanup_free_ char *wdir = waiter_dir(ct->id), *path = NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int ls = -EBADF;
        int fd = -EBADF;

        if (strcmp(gb_container_status(ct), "running") == 0) {
                if (gb_monitor_attach(st, flags, &fd, NULL) < 0) {
                        *ret_err = "the container's monitor did not accept the attach";
                        return -EIO;
                }
                return fd;
        }
        (void)gb_mkdir_p(wdir, 0700);
        path = gb_xasprintf("%s/%d.%u", wdir, (int)getpid(), flags);
        if (strlen(path) >= sizeof(sa.sun_path)) {
                *ret_err = "exec-root path too long for a unix socket";
                return -ENAMETOOLONG;
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0) {
                *ret_err = "could not register the attach";
                return -EIO;
        }
        return -(10000 + TAKE_FD(ls)); /* registered: the caller waits */
}

static void pump(int cfd, int mfd, bool with_stdin)
{
        char buf[32768];
        bool in_open = with_stdin;

        for (;;) {
                struct pollfd p[2] = {{.fd = mfd, .events = POLLIN}, {.fd = in_open ? cfd : -1, .events = POLLIN}};
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (p[1].revents) {
                        ssize_t n = read(cfd, buf, sizeof(buf));
                        if (n <= 0) {
                                in_open = false;
                                (void)shutdown(mfd, SHUT_WR);
                        } else if (gb_write_all(mfd, buf, (size_t)n) < 0)
                                in_open = false;
                }
                if (p[0].revents) {
                        ssize_t n = read(mfd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0 || gb_write_all(cfd, buf, (size_t)n) < 0)
                                return;
                }
        }
}

static void replay_logs(struct conn *c, struct gb_container *ct, unsigned flags, bool tty);

void h_container_attach(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_free_ char *wpath = NULL, *wdir = NULL;
        unsigned flags = (q_bool(c, "stdin") ? GB_ATTACH_STDIN : 0) | (q_bool(c, "stdout") ? GB_ATTACH_STDOUT : 0) |
                         (q_bool(c, "stderr") ? GB_ATTACH_STDERR : 0);
        const char *emsg = NULL;
        bool tty, logs = q_bool(c, "logs"), stream = q_bool(c, "stream");
        int fd, ls = -EBADF;
        char h[256];

        if (lookup(c, caps[0], &ct) < 0)
                return;
        if (!stream && !logs) {
                conn_error(c, 400, "attach needs stream=1, logs=1 or both");
                return;
        }
        tty = json_is_true(json_object_get(json_object_get(ct->doc, "Config"), "Tty"));
        if (!stream)
                fd = -EBADF;
        else
                fd = attach_stream(c, ct, flags, &emsg);
        if (fd <= -10000) {
                ls = -(fd + 10000);
                fd = -EBADF;
                wdir = waiter_dir(ct->id);
                wpath = gb_xasprintf("%s/%d.%u", wdir, (int)getpid(), flags);
        } else if (fd < 0 && stream) {
                conn_error(c, 409, "Failed to attach to %s: %s", caps[0], emsg);
                return;
        }
        /* The hijack: 101 with Upgrade: tcp, or 200 for clients that did
         * not ask to upgrade; either way raw bytes follow. */
        (void)snprintf(h, sizeof(h),
                       "HTTP/1.1 %s\r\nContent-Type: application/vnd.docker.%s-stream\r\n%sApi-Version: %s\r\n\r\n",
                       c->req.upgrade ? "101 UPGRADED" : "200 OK", tty ? "raw" : "multiplexed",
                       c->req.upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n" : "", GB_API_VERSION);
        (void)gb_write_all(c->fd, h, strlen(h));
        c->sent = c->hijacked = true;
        /* logs=1: the json-file log first. The live stream was attached
         * above, before the replay, so nothing written meanwhile is lost;
         * a line written between the two may show twice (Docker, which
         * replays first and attaches after, may lose it instead). */
        if (logs)
                replay_logs(c, ct, flags, tty);
        if (!stream) {
                (void)shutdown(c->fd, SHUT_WR);
                return;
        }
        if (ls >= 0) {
                /* Wait for start to pass the stream, or the client to go. */
                /* A client without stdin half-closes its side (POLLRDHUP):
                 * that is not leaving; POLLHUP is. */
                short cev = POLLRDHUP;
                for (;;) {
                        struct pollfd p[2] = {{.fd = ls, .events = POLLIN}, {.fd = c->fd, .events = cev}};
                        if (poll(p, 2, -1) < 0 && errno != EINTR)
                                break;
                        if (p[1].revents & POLLRDHUP)
                                cev = 0;
                        if (p[0].revents & POLLIN) {
                                _cleanup_close_ int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
                                if (s >= 0)
                                        fd = recv_fd(s);
                                break;
                        }
                        if (p[1].revents & (POLLHUP | POLLERR))
                                break;
                }
                (void)unlink(wpath);
                (void)rmdir(wdir);
                close(ls);
                if (fd < 0)
                        return;
        }
        /* Bytes the client sent with the request (stdin) go first. */
        if (c->len > 0 && (flags & GB_ATTACH_STDIN))
                (void)gb_write_all(fd, c->buf, c->len);
        c->len = 0;
        pump(c->fd, fd, flags & GB_ATTACH_STDIN);
        if (ls >= 0)
                save_exit_code(ct->id); /* our stream predates start */
        (void)shutdown(c->fd, SHUT_WR);
        close(fd);
}

struct logs_ctx {
        int fd;
        bool tty, out, err, ts;
        long long since, until;
};

static int log_entry(const struct gb_log_entry *en, void *data)
{
        struct logs_ctx *lc = data;
        _cleanup_free_ char *line = NULL;
        const char *text = en->text;
        size_t len = en->len;

        if ((en->stream == GB_STREAM_STDOUT && !lc->out) || (en->stream == GB_STREAM_STDERR && !lc->err))
                return 0;
        if (lc->since && unix_time(en->time) < lc->since)
                return 0;
        if (lc->until && unix_time(en->time) > lc->until)
                return 0;
        if (lc->ts) {
                line = gb_xmalloc(strlen(en->time) + 1 + len);
                memcpy(line, en->time, strlen(en->time));
                line[strlen(en->time)] = ' ';
                memcpy(line + strlen(en->time) + 1, en->text, len);
                len += strlen(en->time) + 1;
                text = line;
        }
        if (lc->tty)
                return gb_write_all(lc->fd, text, len);
        return gb_stdcopy_write(lc->fd, en->stream, text, len);
}

void h_container_logs(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_free_ char *tail_s = q_get(c, "tail"), *since = q_get(c, "since"), *until = q_get(c, "until");
        struct logs_ctx lc = {
                .fd = c->fd, .out = q_bool(c, "stdout"), .err = q_bool(c, "stderr"), .ts = q_bool(c, "timestamps")};
        long tail = tail_s && strcmp(tail_s, "all") != 0 && *tail_s ? strtol(tail_s, NULL, 10) : -1;
        const char *path;

        if (lookup(c, caps[0], &ct) < 0)
                return;
        if (!lc.out && !lc.err) {
                conn_error(c, 400, "You must choose at least one stream");
                return;
        }
        lc.since = since ? atoll(since) : 0;
        lc.until = until ? atoll(until) : 0;
        lc.tty = json_is_true(json_object_get(json_object_get(ct->doc, "Config"), "Tty"));
        path = json_string_value(json_object_get(ct->doc, "LogPath"));
        conn_stream_begin(c, 200,
                          lc.tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
        if (path && *path && access(path, F_OK) == 0)
                (void)gb_log_read(path, tail, q_bool(c, "follow"), still_running, ct->id, log_entry, &lc, NULL);
}

static void replay_logs(struct conn *c, struct gb_container *ct, unsigned flags, bool tty)
{
        struct logs_ctx lc = {
                .fd = c->fd, .tty = tty, .out = flags & GB_ATTACH_STDOUT, .err = flags & GB_ATTACH_STDERR};
        const char *path = json_string_value(json_object_get(ct->doc, "LogPath"));

        if ((lc.out || lc.err) && path && *path && access(path, F_OK) == 0)
                (void)gb_log_read(path, -1, false, still_running, ct->id, log_entry, &lc, NULL);
}
