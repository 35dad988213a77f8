/* /networks: the built-in network modes, and the bridge networks of
 * src/lib/network.c.
 *
 *   bridge   Docker's default network: a real bridge (gbbr0), made on
 *            first use. It is NOT the default of a container created
 *            without a network (see below), only when asked for by name.
 *   host     the host's network namespace (NetworkMode "host")
 *   none     a namespace of its own with loopback only ("none")
 *   private  the default: also a namespace of its own with loopback only.
 *            It is Docker's "none" in effect (driver "null"); it is listed
 *            apart because it is what a container gets without a network,
 *            where Docker would give "bridge".
 *   others   user-defined bridge networks (docker network create, compose).
 *
 * Bridge networks have no NAT: they reach each other's containers, not the
 * outside (docs/network.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "network.h"
#include "sha256.h"
#include "util.h"

static const struct net {
        const char *name, *driver, *mode, *what;
} nets[] = {
        {"host", "host", "host", "the host's network namespace"},
        {"none", "null", "none", "a network namespace of its own with loopback only"},
        {"private", "null", "default",
         "the default: a network namespace of its own with loopback only (no bridge, no outside access)"},
};

/* A stable 64-hex ID per built-in network, as Docker's clients expect. */
static void net_id(const struct net *n, char out[65])
{
        char d[GB_DIGEST_LEN];
        _cleanup_free_ char *seed = gb_xasprintf("ghostbox-network:%s", n->name);

        gb_sha256_digest(seed, strlen(seed), d);
        memcpy(out, d + strlen("sha256:"), 64);
        out[64] = '\0';
}

/* name, full ID or an ID prefix (Docker's lookup order). */
static const struct net *find(const char *ref)
{
        char id[65];

        for (size_t i = 0; i < ARRAY_SIZE(nets); i++)
                if (strcmp(nets[i].name, ref) == 0)
                        return &nets[i];
        for (size_t i = 0; i < ARRAY_SIZE(nets); i++) {
                net_id(&nets[i], id);
                if (*ref && gb_str_has_prefix(id, ref))
                        return &nets[i];
        }
        return NULL;
}

static json_t *containers_of(const struct net *n)
{
        _cleanup_strv_ char **ids = NULL;
        json_t *out = json_object();

        if (gb_container_list(gbd_engine.cfg.data_root, &ids, NULL) < 0)
                return out;
        for (char **id = ids; *id; id++) {
                _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                if (gb_container_lookup(gbd_engine.cfg.data_root, *id, false, &ct, NULL) < 0)
                        continue;
                const char *mode =
                        json_string_value(json_object_get(json_object_get(ct->doc, "HostConfig"), "NetworkMode"));
                if (strcmp(mode && *mode ? mode : "default", n->mode) != 0 ||
                    strcmp(gb_container_status(ct), "running") != 0)
                        continue;
                json_object_set_new(out, ct->id,
                                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name", gb_container_name(ct), "EndpointID",
                                              "", "MacAddress", "", "IPv4Address", "", "IPv6Address", ""));
        }
        return out;
}

static json_t *net_json(const struct net *n, bool with_containers)
{
        char id[65];

        net_id(n, id);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:n, s:[]}, s:b, s:b, s:b, s:b, s:o, s:{s:s}, "
                         "s:{}}",
                         "Name", n->name, "Id", id, "Created", "0001-01-01T00:00:00Z", "Scope", "local", "Driver",
                         n->driver, "EnableIPv6", false, "IPAM", "Driver", "default", "Options", "Config", "Internal",
                         false, "Attachable", false, "Ingress", false, "ConfigOnly", false, "Containers",
                         with_containers ? containers_of(n) : json_object(), "Options", "ghostbox.description", n->what,
                         "Labels");
}

/* A bridge network record in Docker's shape. */
static json_t *bridge_json(json_t *rec)
{
        json_t *containers = json_object(), *ep;
        const char *cid;

        json_object_foreach (json_object_get(rec, "Endpoints"), cid, ep) {
                _cleanup_free_ char *a =
                        gb_xasprintf("%s/%s", json_string_value(json_object_get(ep, "IPv4Address")),
                                     strchr(json_string_value(json_object_get(rec, "Subnet")) ?: "/16", '/') + 1);
                json_object_set_new(containers, cid,
                                    json_pack("{s:O, s:s, s:O, s:s, s:s}", "Name", json_object_get(ep, "Name"),
                                              "EndpointID", cid, "MacAddress", json_object_get(ep, "MacAddress"),
                                              "IPv4Address", a, "IPv6Address", ""));
        }
        return json_pack("{s:O, s:O, s:O, s:s, s:s, s:b, s:{s:s, s:n, s:[{s:O, s:O}]}, s:b, s:b, s:b, s:{s:s}, s:b, "
                         "s:o, s:{s:O, s:s}, s:O}",
                         "Name", json_object_get(rec, "Name"), "Id", json_object_get(rec, "Id"), "Created",
                         json_object_get(rec, "Created"), "Scope", "local", "Driver", "bridge", "EnableIPv6", false,
                         "IPAM", "Driver", "default", "Options", "Config", "Subnet", json_object_get(rec, "Subnet"),
                         "Gateway", json_object_get(rec, "Gateway"), "Internal", false, "Attachable", false, "Ingress",
                         false, "ConfigFrom", "Network", "", "ConfigOnly", false, "Containers", containers, "Options",
                         "com.docker.network.bridge.name", json_object_get(rec, "Bridge"), "ghostbox.namespace",
                         "the bridge lives in a network namespace of its own", "Labels",
                         json_object_get(rec, "Labels"));
}

/* "k" or "k=v" against a network's labels. */
static bool label_match(const char *v, json_t *labels)
{
        const char *eq = strchr(v, '=');
        _cleanup_free_ char *key = eq ? strndup(v, (size_t)(eq - v)) : gb_xstrdup(v);
        json_t *lv = json_object_get(labels, key);

        return lv && (!eq || strcmp(json_string_value(lv) ?: "", eq + 1) == 0);
}

/* One filter key against a network's value: {"name": {"x": true}}
 * (current) or ["x"] (old); names match by substring, as Docker's. */
static bool filter_match(const char *k, json_t *fv, const char *want, json_t *labels)
{
        bool any = false;
        const char *v;
        json_t *x;
        size_t j;

        if (json_is_object(fv)) {
                json_object_foreach (fv, v, x)
                        any |= strcmp(k, "name") == 0    ? strstr(want, v) != NULL
                               : strcmp(k, "label") == 0 ? label_match(v, labels)
                                                         : strcmp(want, v) == 0;
        } else if (json_is_array(fv)) {
                json_array_foreach (fv, j, x) {
                        v = json_string_value(x) ?: "";
                        any |= strcmp(k, "name") == 0 ? strstr(want, v) != NULL : strcmp(want, v) == 0;
                }
        }
        return any;
}

static bool keep_net(json_t *filters, const char *name, const char *id, const char *driver, bool builtin,
                     json_t *labels)
{
        json_t *fv;
        const char *k;

        json_object_foreach (filters, k, fv) {
                const char *want = strcmp(k, "name") == 0     ? name
                                   : strcmp(k, "id") == 0     ? id
                                   : strcmp(k, "driver") == 0 ? driver
                                   : strcmp(k, "scope") == 0  ? "local"
                                   : strcmp(k, "type") == 0   ? (builtin ? "builtin" : "custom")
                                   : strcmp(k, "label") == 0  ? ""
                                                              : NULL;
                if (!want)
                        return false;
                if (strcmp(k, "id") == 0) {
                        /* id filters match by prefix */
                        bool any = false;
                        const char *v;
                        json_t *x;
                        json_object_foreach (fv, v, x)
                                any |= gb_str_has_prefix(id, v);
                        if (!any)
                                return false;
                        continue;
                }
                if (!filter_match(k, fv, want, labels))
                        return false;
        }
        return true;
}

void h_networks_list(struct conn *c, char **caps)
{
        _cleanup_free_ char *filt = q_get(c, "filters");
        json_auto_t *filters = NULL, *recs = NULL;
        struct gb_error err = {0};
        json_t *out = json_array(), *rec;
        size_t i;

        if (filt && *filt) {
                filters = json_loads(filt, 0, NULL);
                if (!json_is_object(filters)) {
                        json_decref(out);
                        conn_error(c, 400, "invalid filters: %s", filt);
                        return;
                }
        }
        if (gb_network_list(gbd_engine.cfg.data_root, &recs, &err) < 0) {
                json_decref(out);
                conn_gb_error(c, -EIO, &err);
                return;
        }
        json_array_foreach (recs, i, rec) {
                const char *name = json_string_value(json_object_get(rec, "Name"));
                if (keep_net(filters, name, json_string_value(json_object_get(rec, "Id")), "bridge",
                             strcmp(name, GB_NETWORK_DEFAULT) == 0, json_object_get(rec, "Labels")))
                        json_array_append_new(out, bridge_json(rec));
        }
        for (i = 0; i < ARRAY_SIZE(nets); i++) {
                char id[65];
                net_id(&nets[i], id);
                if (keep_net(filters, nets[i].name, id, nets[i].driver, true, NULL))
                        json_array_append_new(out, net_json(&nets[i], false));
        }
        conn_json(c, 200, out);
}

void h_network_inspect(struct conn *c, char **caps)
{
        const struct net *n = find(caps[0]);
        json_auto_t *rec = NULL;
        struct gb_error err = {0};
        int r;

        if (n) {
                conn_json(c, 200, net_json(n, true));
                return;
        }
        r = gb_network_find(gbd_engine.cfg.data_root, caps[0], &rec, &err);
        if (r < 0) {
                conn_error(c, r == -ENOENT ? 404 : 500, "%s", err.msg);
                return;
        }
        conn_json(c, 200, bridge_json(rec));
}

void h_networks_create(struct conn *c, char **caps)
{
        json_auto_t *body = NULL, *rec = NULL;
        struct gb_error err = {0};
        const char *name, *driver, *subnet = NULL, *gateway = NULL;
        json_t *cfg, *labels;
        int r;

        if (conn_body_json(c, &body) < 0)
                return;
        name = json_string_value(json_object_get(body, "Name"));
        if (!name || !*name) {
                conn_error(c, 400, "network name cannot be empty");
                return;
        }
        driver = json_string_value(json_object_get(body, "Driver"));
        if (driver && *driver && strcmp(driver, "bridge") != 0) {
                conn_error(c, 400, "plugin \"%s\" not found: ghostbox has the bridge driver only", driver);
                return;
        }
        if (json_is_true(json_object_get(body, "EnableIPv6"))) {
                conn_error(c, 400, "IPv6 networks are not supported by ghostbox");
                return;
        }
        if (find(name) || (strcmp(name, GB_NETWORK_DEFAULT) == 0)) {
                conn_error(c, 409, "network with name %s already exists", name);
                return;
        }
        cfg = json_object_get(json_object_get(body, "IPAM"), "Config");
        if (json_array_size(cfg) > 1) {
                conn_error(c, 400, "ghostbox supports one IPv4 subnet per network");
                return;
        }
        if (json_array_size(cfg) == 1) {
                subnet = json_string_value(json_object_get(json_array_get(cfg, 0), "Subnet"));
                gateway = json_string_value(json_object_get(json_array_get(cfg, 0), "Gateway"));
        }
        labels = json_object_get(body, "Labels");
        if (labels && !json_is_null(labels) && !json_is_object(labels)) {
                conn_error(c, 400, "field Labels must be an object");
                return;
        }
        r = gb_network_create(gbd_engine.cfg.data_root, name, subnet, gateway, labels, &rec, &err);
        if (r < 0) {
                conn_error(c, r == -EEXIST ? 409 : r == -EINVAL || r == -ENOSPC ? 400 : 500, "%s", err.msg);
                return;
        }
        conn_json(c, 201, json_pack("{s:O, s:s}", "Id", json_object_get(rec, "Id"), "Warning", ""));
}

void h_network_delete(struct conn *c, char **caps)
{
        const struct net *n = find(caps[0]);
        struct gb_error err = {0};
        int r;

        if (n) {
                conn_error(c, 403, "%s is a pre-defined network and cannot be removed", n->name);
                return;
        }
        r = gb_network_remove(gbd_engine.cfg.data_root, gbd_engine.cfg.exec_root, caps[0], &err);
        if (r < 0) {
                conn_error(c, r == -ENOENT ? 404 : r == -EPERM ? 403 : r == -EBUSY ? 409 : 500, "%s", err.msg);
                return;
        }
        conn_no_content(c);
}

/* POST /networks/{id}/connect {"Container", "EndpointConfig": {"Aliases",
 * "IPAMConfig": {"IPv4Address"}}} and .../disconnect {"Container",
 * "Force"}: the route is registered once for both. */
void h_network_connect(struct conn *c, char **caps)
{
        json_auto_t *body = NULL;
        struct gb_error err = {0};
        const char *ctr;
        json_t *ep, *x;
        size_t plen = strlen(c->req.path);
        bool connect = !(plen >= 11 && strcmp(c->req.path + plen - 11, "/disconnect") == 0);
        _cleanup_strv_ char **aliases = NULL;
        size_t i, n = 0;
        int r;

        if (conn_body_json(c, &body) < 0)
                return;
        if (find(caps[0])) {
                conn_error(c, 403, "container cannot be disconnected from or connected to the %s network", caps[0]);
                return;
        }
        ctr = json_string_value(json_object_get(body, "Container"));
        if (!ctr || !*ctr) {
                conn_error(c, 400, "field Container is required");
                return;
        }
        ep = json_object_get(body, "EndpointConfig");
        json_array_foreach (json_object_get(ep, "Aliases"), i, x) {
                if (!json_is_string(x)) {
                        conn_error(c, 400, "field EndpointConfig.Aliases must be an array of strings");
                        return;
                }
                aliases = gb_xrealloc(aliases, (n + 2) * sizeof(char *));
                aliases[n++] = gb_xstrdup(json_string_value(x));
                aliases[n] = NULL;
        }
        r = connect ? gb_engine_network_connect(
                              &gbd_engine, ctr, caps[0], aliases,
                              json_string_value(json_object_get(json_object_get(ep, "IPAMConfig"), "IPv4Address")),
                              &err)
                    : gb_engine_network_disconnect(&gbd_engine, ctr, caps[0], &err);
        if (r < 0) {
                conn_error(c,
                           r == -ENOENT                   ? 404
                           : r == -EPERM || r == -EEXIST  ? 403
                           : r == -EINVAL || r == -ENOSPC ? 400
                                                          : 500,
                           "%s", err.msg);
                return;
        }
        conn_respond(c, 200, "text/plain", "", 0);
}

void h_networks_prune(struct conn *c, char **caps)
{
        json_auto_t *recs = NULL;
        json_t *out = json_array(), *rec;
        size_t i;

        if (gb_network_list(gbd_engine.cfg.data_root, &recs, NULL) == 0)
                json_array_foreach (recs, i, rec) {
                        const char *name = json_string_value(json_object_get(rec, "Name"));
                        if (strcmp(name, GB_NETWORK_DEFAULT) == 0 ||
                            json_object_size(json_object_get(rec, "Endpoints")) > 0)
                                continue;
                        if (gb_network_remove(gbd_engine.cfg.data_root, gbd_engine.cfg.exec_root,
                                              json_string_value(json_object_get(rec, "Id")), NULL) == 0)
                                json_array_append_new(out, json_string(name));
                }
        conn_json(c, 200, json_pack("{s:o}", "NetworksDeleted", out));
}
