/* /networks: the network modes ghostbox really provides, and nothing more.
 *
 *   host     the host's network namespace (NetworkMode "host")
 *   none     a namespace of its own with loopback only ("none")
 *   private  the default: also a namespace of its own with loopback only.
 *            It is Docker's "none" in effect (driver "null"); it is listed
 *            apart because it is what a container gets without --network,
 *            where Docker would give "bridge".
 *
 * There is no bridge, no NAT and no DNS between containers, so there is no
 * "bridge" network, and networks cannot be created: claiming one would let
 * `docker compose` believe its services can reach each other. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
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

/* A stable 64-hex ID per network, as Docker's clients expect. */
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

void h_networks_list(struct conn *c, char **caps)
{
        _cleanup_free_ char *filt = q_get(c, "filters");
        json_auto_t *filters = NULL;
        json_t *out = json_array();

        if (filt && *filt) {
                filters = json_loads(filt, 0, NULL);
                if (!json_is_object(filters)) {
                        json_decref(out);
                        conn_error(c, 400, "invalid filters: %s", filt);
                        return;
                }
        }
        for (size_t i = 0; i < ARRAY_SIZE(nets); i++) {
                /* name and driver filters (docker network ls -f); other
                 * keys match nothing, as no network has labels. */
                json_t *fv;
                const char *k;
                bool keep = true;
                json_object_foreach (filters, k, fv) {
                        const char *want = strcmp(k, "name") == 0     ? nets[i].name
                                           : strcmp(k, "driver") == 0 ? nets[i].driver
                                           : strcmp(k, "scope") == 0  ? "local"
                                           : strcmp(k, "type") == 0   ? "builtin"
                                                                      : NULL;
                        bool any = false;
                        const char *v;
                        json_t *x;
                        if (!want) {
                                keep = false;
                                break;
                        }
                        /* {"name": {"x": true}} (current) or ["x"] (old). */
                        if (json_is_object(fv)) {
                                json_object_foreach (fv, v, x)
                                        any |= strcmp(k, "name") == 0 ? strstr(want, v) != NULL : strcmp(want, v) == 0;
                        } else if (json_is_array(fv)) {
                                size_t j;
                                json_array_foreach (fv, j, x) {
                                        v = json_string_value(x) ?: "";
                                        any |= strcmp(k, "name") == 0 ? strstr(want, v) != NULL : strcmp(want, v) == 0;
                                }
                        }
                        keep &= any;
                }
                if (keep)
                        json_array_append_new(out, net_json(&nets[i], false));
        }
        conn_json(c, 200, out);
}

void h_network_inspect(struct conn *c, char **caps)
{
        const struct net *n = find(caps[0]);

        if (!n) {
                conn_error(c, 404, "network %s not found", caps[0]);
                return;
        }
        conn_json(c, 200, net_json(n, true));
}

void h_networks_create(struct conn *c, char **caps)
{
        json_auto_t *body = NULL;

        if (conn_body_json(c, &body) < 0)
                return;
        conn_error(c, 501,
                   "ghostbox cannot create networks%s%s: it has no bridge networking yet. Containers use the "
                   "default private network namespace (loopback only), --network none, or --network host",
                   json_string_value(json_object_get(body, "Name")) ? " like " : "",
                   json_string_value(json_object_get(body, "Name")) ?: "");
}

void h_network_delete(struct conn *c, char **caps)
{
        const struct net *n = find(caps[0]);

        if (!n) {
                conn_error(c, 404, "network %s not found", caps[0]);
                return;
        }
        conn_error(c, 403, "%s is a pre-defined network and cannot be removed", n->name);
}

void h_network_connect(struct conn *c, char **caps)
{
        const struct net *n = find(caps[0]);

        if (!n) {
                conn_error(c, 404, "network %s not found", caps[0]);
                return;
        }
        conn_error(c, 501,
                   "ghostbox cannot connect or disconnect a container's network: its network mode is fixed when "
                   "it is created (--network none, host, or the default private namespace)");
}

void h_networks_prune(struct conn *c, char **caps)
{
        conn_json(c, 200, json_pack("{s:[]}", "NetworksDeleted"));
}
