/* Bridge networks: see network.h. */
#include "network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "netlink.h"
#include "util.h"

GB_EXPORT int gb_net_parse_ip(const char *s, uint32_t *ret, struct gb_error *err)
{
        struct in_addr a;
        unsigned parts = 0;

        /* inet_pton alone accepts exactly a.b.c.d with decimal parts; a
         * length cap keeps the messages below bounded. */
        if (!s || strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
                return gb_error_set(err, EINVAL, "invalid IPv4 address \"%.64s\"", s ? s : "");
        for (const char *p = s; *p; p++)
                parts += *p == '.';
        if (parts != 3)
                return gb_error_set(err, EINVAL, "invalid IPv4 address \"%.64s\"", s);
        *ret = ntohl(a.s_addr);
        return 0;
}

GB_EXPORT int gb_net_parse_cidr(const char *s, uint32_t *ret_net, unsigned *ret_prefix, struct gb_error *err)
{
        char ip[16];
        const char *slash = s ? strchr(s, '/') : NULL;
        uint32_t a, p;

        if (!slash || (size_t)(slash - s) >= sizeof(ip))
                return gb_error_set(err, EINVAL, "invalid subnet \"%.64s\": want a.b.c.d/N", s ? s : "");
        memcpy(ip, s, (size_t)(slash - s));
        ip[slash - s] = '\0';
        /* One or two decimal digits, no leading zero: one spelling per
         * subnet, so names compare as strings. */
        bool digits =
                slash[1] >= '1' && slash[1] <= '9' && (!slash[2] || (slash[2] >= '0' && slash[2] <= '9' && !slash[3]));
        if (gb_net_parse_ip(ip, &a, NULL) < 0 || !digits || gb_parse_u32(slash + 1, &p) < 0)
                return gb_error_set(err, EINVAL, "invalid subnet \"%.64s\": want a.b.c.d/N", s);
        if (p < 8 || p > 30)
                return gb_error_set(err, EINVAL, "invalid subnet \"%.64s\": the prefix length must be 8 to 30", s);
        if (a & (0xffffffffu >> p))
                return gb_error_set(err, EINVAL, "invalid subnet \"%.64s\": host bits are set; did you mean %s/%u?", s,
                                    gb_net_ip_str(a & ~(0xffffffffu >> p), ip), (unsigned)p);
        *ret_net = a;
        *ret_prefix = p;
        return 0;
}

GB_EXPORT char *gb_net_ip_str(uint32_t a, char buf[16])
{
        (void)snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
        return buf;
}

GB_EXPORT int gb_ipam_pick(uint32_t net, unsigned prefix, uint32_t gw, const uint32_t *used, size_t n_used,
                           uint32_t *ret)
{
        uint32_t size = prefix >= 32 ? 1 : 1u << (32 - prefix);

        if (prefix > 30)
                return -ENOSPC;
        for (uint32_t off = 1; off < size - 1; off++) {
                uint32_t a = net + off;
                bool taken = a == gw;
                for (size_t i = 0; !taken && i < n_used; i++)
                        taken = used[i] == a;
                if (!taken) {
                        *ret = a;
                        return 0;
                }
        }
        return -ENOSPC;
}

GB_EXPORT void gb_net_mac(uint32_t ip, uint8_t mac[6])
{
        mac[0] = 0x02;
        mac[1] = 0x42;
        mac[2] = (uint8_t)(ip >> 24);
        mac[3] = (uint8_t)(ip >> 16);
        mac[4] = (uint8_t)(ip >> 8);
        mac[5] = (uint8_t)ip;
}

GB_EXPORT bool gb_network_name_valid(const char *name)
{
        if (!name || !*name || strlen(name) > 128)
                return false;
        for (const char *p = name; *p; p++) {
                bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
                if (!alnum && (p == name || !strchr("_.-", *p)))
                        return false;
        }
        return true;
}

/* ---- records --------------------------------------------------------- */

static char *net_dir(const char *data_root)
{
        return gb_xasprintf("%s/networks", data_root);
}

static int lock_networks(const char *data_root, int *ret_fd, struct gb_error *err)
{
        _cleanup_free_ char *dir = net_dir(data_root), *lock = gb_xasprintf("%s/.lock", dir);
        /* The data root is traversed by remapped roots: 0711, as
         * container.c makes it. */
        int r = gb_mkdir_p(data_root, 0711);

        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", data_root);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return gb_error_sys(err, errno, "Failed to create '%s'", dir);
        r = gb_lock_file(lock, ret_fd);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to lock '%s'", lock);
        return 0;
}

static int save_net(const char *data_root, json_t *net, struct gb_error *err)
{
        _cleanup_free_ char *path =
                gb_xasprintf("%s/networks/%s.json", data_root, json_string_value(json_object_get(net, "Id")));
        _cleanup_free_ char *text = json_dumps(net, JSON_INDENT(2) | JSON_SORT_KEYS);
        int r = gb_write_file_atomic(path, text, strlen(text), 0600);

        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", path);
        return 0;
}

/* Every record, unlocked read (records are replaced atomically). */
static json_t *load_all(const char *data_root)
{
        _cleanup_free_ char *dir = net_dir(data_root);
        json_t *out = json_array();
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return out;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l != 64 + 5 || strcmp(de->d_name + 64, ".json") != 0)
                        continue;
                _cleanup_free_ char *p = gb_xasprintf("%s/%s", dir, de->d_name);
                json_t *j = json_load_file(p, 0, NULL);
                if (json_is_object(j) && json_is_string(json_object_get(j, "Id")))
                        json_array_append_new(out, j);
                else
                        json_decref(j);
        }
        closedir(d);
        return out;
}

static json_t *find_in(json_t *all, const char *ref)
{
        json_t *n, *hit = NULL;
        size_t i;
        int hits = 0;

        json_array_foreach (all, i, n)
                if (strcmp(json_string_value(json_object_get(n, "Name")), ref) == 0 ||
                    strcmp(json_string_value(json_object_get(n, "Id")), ref) == 0)
                        return n;
        json_array_foreach (all, i, n)
                if (*ref && gb_str_has_prefix(json_string_value(json_object_get(n, "Id")), ref)) {
                        hit = n;
                        hits++;
                }
        return hits == 1 ? hit : NULL;
}

/* Is a.b.0.0/16 overlapping any IPv4 route of the host (/proc/net/route
 * lists them in network byte order, hex)? */
static bool host_route_overlaps(uint32_t net, unsigned prefix)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
        char line[512];

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                char ifn[64];
                unsigned dst, gw, flags, mask;
                if (sscanf(line, "%63s %x %x %x %*d %*d %*d %x", ifn, &dst, &gw, &flags, &mask) != 5)
                        continue;
                uint32_t d = ntohl(dst), m = ntohl(mask);
                if (m == 0)
                        continue; /* the default route overlaps everything */
                uint32_t mine = prefix ? 0xffffffffu << (32 - prefix) : 0;
                uint32_t common = m & mine;
                if ((d & common) == (net & common))
                        return true;
        }
        return false;
}

static bool subnet_taken(json_t *all, uint32_t net, unsigned prefix)
{
        json_t *n;
        size_t i;

        json_array_foreach (all, i, n) {
                uint32_t on;
                unsigned op;
                if (gb_net_parse_cidr(json_string_value(json_object_get(n, "Subnet")), &on, &op, NULL) < 0)
                        continue;
                uint32_t common = 0xffffffffu << (32 - (op < prefix ? op : prefix));
                if ((on & common) == (net & common))
                        return true;
        }
        return false;
}

static int find_locked(const char *data_root, const char *ref, json_t **ret, struct gb_error *err);

static int new_record(const char *data_root, json_t *all, const char *name, const char *subnet, const char *gateway,
                      json_t *labels, bool dflt, json_t **ret, struct gb_error *err)
{
        char id[GB_CONTAINER_ID_LEN + 1], buf[16], gwbuf[16];
        _cleanup_free_ char *now = gb_timestamp_now(), *bridge = NULL, *sub = NULL;
        uint32_t net = 0, gw;
        unsigned prefix = 16;
        int r;

        if (subnet && *subnet) {
                r = gb_net_parse_cidr(subnet, &net, &prefix, err);
                if (r < 0)
                        return r;
                if (subnet_taken(all, net, prefix))
                        return gb_error_set(err, EEXIST, "Pool overlaps with other one on this address space");
        } else {
                static const unsigned seconds[] = {29, 30, 31, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28};
                bool found = false;
                for (size_t i = 0; i < ARRAY_SIZE(seconds) && !found; i++) {
                        net = (172u << 24) | (seconds[i] << 16);
                        found = !subnet_taken(all, net, 16) && !host_route_overlaps(net, 16);
                }
                if (!found)
                        return gb_error_set(err, ENOSPC,
                                            "could not find an available, non-overlapping IPv4 address pool among "
                                            "the defaults to assign to the network; give --subnet");
        }
        if (gateway && *gateway) {
                r = gb_net_parse_ip(gateway, &gw, err);
                if (r < 0)
                        return gb_error_prefix(err, "gateway");
                if ((gw & (0xffffffffu << (32 - prefix))) != net || gw == net || gw == (net | (0xffffffffu >> prefix)))
                        return gb_error_set(err, EINVAL, "gateway %s is not a host address of subnet %s/%u", gateway,
                                            gb_net_ip_str(net, buf), prefix);
        } else
                gw = net + 1;
        r = gb_container_new_id(id, err);
        if (r < 0)
                return r;
        bridge = dflt ? gb_xstrdup("gbbr0") : gb_xasprintf("gbbr-%.10s", id);
        sub = gb_xasprintf("%s/%u", gb_net_ip_str(net, buf), prefix);
        *ret = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:{}}", "Name", name, "Id", id, "Driver", "bridge",
                         "Created", now, "Subnet", sub, "Gateway", gb_net_ip_str(gw, gwbuf), "Bridge", bridge, "Labels",
                         json_is_object(labels) ? json_deep_copy(labels) : json_object(), "Endpoints");
        r = save_net(data_root, *ret, err);
        if (r < 0) {
                json_decref(*ret);
                *ret = NULL;
        }
        return r;
}

GB_EXPORT int gb_network_create(const char *data_root, const char *name, const char *subnet, const char *gateway,
                                json_t *labels, json_t **ret, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        json_auto_t *all = NULL;
        json_t *rec = NULL;
        int r;

        if (!gb_network_name_valid(name))
                return gb_error_set(err, EINVAL,
                                    "invalid network name \"%.64s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                    name ? name : "");
        if (strcmp(name, "host") == 0 || strcmp(name, "none") == 0 || strcmp(name, "private") == 0 ||
            strcmp(name, "default") == 0 || strcmp(name, GB_NETWORK_DEFAULT) == 0)
                return gb_error_set(err, EEXIST, "network with name %s already exists", name);
        r = lock_networks(data_root, &lock, err);
        if (r < 0)
                return r;
        /* The default network first, so it gets the first pool. */
        r = find_locked(data_root, GB_NETWORK_DEFAULT, &rec, err);
        if (r < 0)
                return r;
        json_decref(rec);
        rec = NULL;
        all = load_all(data_root);
        if (find_in(all, name) && strcmp(json_string_value(json_object_get(find_in(all, name), "Name")), name) == 0)
                return gb_error_set(err, EEXIST, "network with name %s already exists", name);
        r = new_record(data_root, all, name, subnet, gateway, labels, false, &rec, err);
        if (r < 0)
                return r;
        if (ret)
                *ret = rec;
        else
                json_decref(rec);
        return 0;
}

/* Under the lock: the record for ref, the default one made on demand. */
static int find_locked(const char *data_root, const char *ref, json_t **ret, struct gb_error *err)
{
        json_auto_t *all = load_all(data_root);
        json_t *n = find_in(all, ref);

        if (n) {
                *ret = json_incref(n);
                return 0;
        }
        if (strcmp(ref, GB_NETWORK_DEFAULT) == 0)
                return new_record(data_root, all, GB_NETWORK_DEFAULT, NULL, NULL, NULL, true, ret, err);
        return gb_error_set(err, ENOENT, "network %s not found", ref);
}

GB_EXPORT int gb_network_find(const char *data_root, const char *ref, json_t **ret, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        int r = lock_networks(data_root, &lock, err);

        if (r < 0)
                return r;
        return find_locked(data_root, ref, ret, err);
}

GB_EXPORT int gb_network_list(const char *data_root, struct json_t **ret, struct gb_error *err)
{
        json_t *dflt = NULL;
        int r = gb_network_find(data_root, GB_NETWORK_DEFAULT, &dflt, err);

        if (r < 0)
                return r;
        json_decref(dflt);
        *ret = load_all(data_root);
        return 0;
}

static char *netns_path(const char *exec_root, const char *id)
{
        return gb_xasprintf("%s/networks/%s.netns", exec_root, id);
}

static void drop_netns(const char *exec_root, const char *id)
{
        _cleanup_free_ char *p = netns_path(exec_root, id);

        /* Detach: the namespace dies with its last user (veths of running
         * containers are already gone, as they had to be to get here). */
        (void)umount2(p, MNT_DETACH);
        (void)unlink(p);
}

GB_EXPORT int gb_network_remove(const char *data_root, const char *exec_root, const char *ref, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        json_auto_t *net = NULL;
        _cleanup_free_ char *path = NULL;
        int r = lock_networks(data_root, &lock, err);

        if (r < 0)
                return r;
        r = find_locked(data_root, ref, &net, err);
        if (r < 0)
                return r;
        if (strcmp(json_string_value(json_object_get(net, "Name")), GB_NETWORK_DEFAULT) == 0)
                return gb_error_set(err, EPERM, "bridge is a pre-defined network and cannot be removed");
        if (json_object_size(json_object_get(net, "Endpoints")) > 0)
                return gb_error_set(err, EBUSY, "error while removing network: network %s id %s has active endpoints",
                                    json_string_value(json_object_get(net, "Name")),
                                    json_string_value(json_object_get(net, "Id")));
        drop_netns(exec_root, json_string_value(json_object_get(net, "Id")));
        path = gb_xasprintf("%s/networks/%s.json", data_root, json_string_value(json_object_get(net, "Id")));
        if (unlink(path) < 0 && errno != ENOENT)
                return gb_error_sys(err, errno, "Failed to remove '%s'", path);
        return 0;
}

/* ---- hosts files ----------------------------------------------------- */

GB_EXPORT char *gb_network_hosts_text(json_t *nets, const char *container_id)
{
        json_t *net, *self, *ep, *x;
        char *buf = NULL;
        size_t len = 0, i, j;
        const char *cid;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                abort();
        fputs("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", f);
        fputs("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n", f);
        json_array_foreach (nets, i, net)
                if ((self = json_object_get(json_object_get(net, "Endpoints"), container_id)))
                        fprintf(f, "%s\t%s\n", json_string_value(json_object_get(self, "IPv4Address")),
                                json_string_value(json_object_get(self, "Hostname")));
        /* Docker answers these from its embedded DNS server; a hosts file
         * entry per peer (name, then aliases) on every network the
         * container shares with it is the approximation. */
        json_array_foreach (nets, i, net) {
                if (!json_object_get(json_object_get(net, "Endpoints"), container_id))
                        continue;
                json_object_foreach (json_object_get(net, "Endpoints"), cid, ep) {
                        fprintf(f, "%s\t%s", json_string_value(json_object_get(ep, "IPv4Address")),
                                json_string_value(json_object_get(ep, "Name")));
                        json_array_foreach (json_object_get(ep, "Aliases"), j, x)
                                if (strcmp(json_string_value(x), json_string_value(json_object_get(ep, "Name"))) != 0)
                                        fprintf(f, " %s", json_string_value(x));
                        fputc('\n', f);
                }
        }
        fclose(f);
        return buf;
}

/* Rewrite the hosts file of each endpoint of net in place: it is
 * bind-mounted into the running container, and a rename would leave the
 * mount on the old inode. The file lives in the container's directory, out
 * of the container's reach, so no one can swap it for a symlink;
 * O_NOFOLLOW anyway. all: every network (net's entry replaced by net). */
static void refresh_hosts(json_t *all, json_t *net)
{
        json_auto_t *nets = json_array();
        json_t *n, *ep;
        const char *cid;
        size_t i;

        json_array_foreach (all, i, n)
                if (strcmp(json_string_value(json_object_get(n, "Id")), json_string_value(json_object_get(net, "Id"))))
                        json_array_append(nets, n);
        json_array_append(nets, net);
        json_object_foreach (json_object_get(net, "Endpoints"), cid, ep) {
                const char *p = json_string_value(json_object_get(ep, "HostsPath"));
                if (!p || !*p)
                        continue;
                _cleanup_free_ char *text = gb_network_hosts_text(nets, cid);
                _cleanup_close_ int fd = open(p, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0)
                        (void)gb_write_all(fd, text, strlen(text));
        }
}

/* Rewrite one container's hosts file (it left net). */
static void refresh_one(json_t *all, json_t *net, const char *container_id, const char *path)
{
        json_auto_t *nets = json_array();
        json_t *n;
        size_t i;

        if (!path || !*path)
                return;
        json_array_foreach (all, i, n)
                if (strcmp(json_string_value(json_object_get(n, "Id")), json_string_value(json_object_get(net, "Id"))))
                        json_array_append(nets, n);
        json_array_append(nets, net);
        _cleanup_free_ char *text = gb_network_hosts_text(nets, container_id);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                (void)gb_write_all(fd, text, strlen(text));
}

GB_EXPORT int gb_network_connect(const char *data_root, const char *ref, const struct gb_endpoint_req *req,
                                 json_t **ret_settings, char **ret_name, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        json_auto_t *net = NULL;
        _cleanup_free_ uint32_t *used = NULL;
        json_t *eps, *ep, *aliases;
        const char *cid;
        uint32_t sub, gw, ip;
        unsigned prefix;
        size_t n = 0;
        char ipbuf[16], macbuf[18];
        uint8_t mac[6];
        int r = lock_networks(data_root, &lock, err);

        if (r < 0)
                return r;
        r = find_locked(data_root, ref, &net, err);
        if (r < 0)
                return r;
        eps = json_object_get(net, "Endpoints");
        if (json_object_get(eps, req->container_id))
                return gb_error_set(err, EEXIST, "endpoint with name %s already exists in network %s", req->name,
                                    json_string_value(json_object_get(net, "Name")));
        if (gb_net_parse_cidr(json_string_value(json_object_get(net, "Subnet")), &sub, &prefix, err) < 0 ||
            gb_net_parse_ip(json_string_value(json_object_get(net, "Gateway")), &gw, err) < 0)
                return gb_error_prefix(err, "Failed to read network %s", json_string_value(json_object_get(net, "Id")));
        used = gb_xcalloc(json_object_size(eps) + 1, sizeof(*used));
        json_object_foreach (eps, cid, ep)
                if (gb_net_parse_ip(json_string_value(json_object_get(ep, "IPv4Address")), &used[n], NULL) == 0)
                        n++;
        if (req->ip && *req->ip) {
                r = gb_net_parse_ip(req->ip, &ip, err);
                if (r < 0)
                        return r;
                bool in = (ip & (0xffffffffu << (32 - prefix))) == sub && ip != sub && ip != gw &&
                          ip != (sub | (0xffffffffu >> prefix));
                for (size_t i = 0; in && i < n; i++)
                        in = used[i] != ip;
                if (!in)
                        return gb_error_set(err, EINVAL, "Address %s is not available in network %s", req->ip,
                                            json_string_value(json_object_get(net, "Name")));
        } else if (gb_ipam_pick(sub, prefix, gw, used, n, &ip) < 0)
                return gb_error_set(err, ENOSPC, "no available IPv4 addresses on network %s",
                                    json_string_value(json_object_get(net, "Name")));
        gb_net_mac(ip, mac);
        (void)snprintf(macbuf, sizeof(macbuf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                       mac[5]);
        aliases = json_array();
        for (char *const *a = req->aliases; a && *a; a++)
                json_array_append_new(aliases, json_string(*a));
        /* Docker gives a container its short ID as an alias on user-defined
         * networks; compose relies on it (it reconnects a container whose
         * aliases lack it). */
        if (strcmp(json_string_value(json_object_get(net, "Name")), GB_NETWORK_DEFAULT) != 0) {
                char shortid[13];
                (void)snprintf(shortid, sizeof(shortid), "%.12s", req->container_id);
                json_array_append_new(aliases, json_string(shortid));
        }
        json_object_set_new(eps, req->container_id,
                            json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:s}", "Name", req->name, "Hostname",
                                      req->hostname ? req->hostname : req->name, "IPv4Address",
                                      gb_net_ip_str(ip, ipbuf), "MacAddress", macbuf, "Aliases", aliases, "HostsPath",
                                      req->hosts_path ? req->hosts_path : "", "IfName",
                                      req->ifname ? req->ifname : "eth0"));
        r = save_net(data_root, net, err);
        if (r < 0) {
                json_decref(aliases);
                return r;
        }
        {
                json_auto_t *all = load_all(data_root);
                refresh_hosts(all, net);
        }
        if (ret_settings) {
                char gwbuf[16];
                *ret_settings = json_pack(
                        "{s:n, s:O, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:s}", "IPAMConfig", "Aliases", aliases,
                        "NetworkID", json_string_value(json_object_get(net, "Id")), "EndpointID", req->container_id,
                        "Gateway", gb_net_ip_str(gw, gwbuf), "IPPrefixLen", (int)prefix, "IPAddress", ipbuf,
                        "IPv6Gateway", "", "GlobalIPv6PrefixLen", 0, "GlobalIPv6Address", "", "MacAddress", macbuf);
        }
        json_decref(aliases);
        if (ret_name)
                *ret_name = gb_xstrdup(json_string_value(json_object_get(net, "Name")));
        return 0;
}

static char *veth_name(const char *container_id)
{
        /* IFNAMSIZ is 16: "gbv" and 12 hex digits. */
        return gb_xasprintf("gbv%.12s", container_id);
}

static int open_netns(const char *exec_root, const char *id, int *ret_fd)
{
        _cleanup_free_ char *p = netns_path(exec_root, id);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        struct statfs sf;

        if (fd < 0)
                return -errno;
        if (fstatfs(fd, &sf) < 0 || sf.f_type != NSFS_MAGIC)
                return -ENOENT; /* the empty file, not (or no longer) a mount */
        *ret_fd = TAKE_FD(fd);
        return 0;
}

GB_EXPORT int gb_network_disconnect(const char *data_root, const char *exec_root, const char *net_id,
                                    const char *container_id, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF, nsfd = -EBADF, nl = -EBADF;
        json_auto_t *all = NULL;
        json_t *net;
        int r = lock_networks(data_root, &lock, err);

        if (r < 0)
                return r;
        all = load_all(data_root);
        net = find_in(all, net_id);
        if (!net || !json_object_get(json_object_get(net, "Endpoints"), container_id))
                return 0;
        if (open_netns(exec_root, net_id, &nsfd) == 0 && gb_nl_open_in(nsfd, &nl, NULL) == 0) {
                _cleanup_free_ char *veth = veth_name(container_id);
                struct gb_nlmsg m;
                gb_nl_build_link_del(&m, veth);
                (void)gb_nl_transact(nl, &m);
        }
        _cleanup_free_ char *hosts_path =
                gb_xstrdup(json_string_value(json_object_get(
                                   json_object_get(json_object_get(net, "Endpoints"), container_id), "HostsPath"))
                                   ?: "");
        json_object_del(json_object_get(net, "Endpoints"), container_id);
        r = save_net(data_root, net, err);
        if (r < 0)
                return r;
        refresh_hosts(all, net);
        refresh_one(all, net, container_id, hosts_path);
        return 0;
}

/* In a forked child with a network namespace of its own: the bridge with
 * the gateway address, up, lo up, no forwarding (there is nowhere to
 * forward to; a later NAT would turn it on), then bind the namespace to
 * path. Exit status: 0, or the step that failed; the errno goes down the
 * pipe. */
static _Noreturn void netns_child(const char *path, const char *bridge, uint32_t gw, unsigned prefix, int wfd)
{
        _cleanup_close_ int nl = -EBADF;
        struct gb_nlmsg m;
        int step = 1, r = 0, idx, fd;

        if (unshare(CLONE_NEWNET) < 0) {
                r = -errno;
                goto out;
        }
        step++;
        if ((r = gb_nl_open_in(-1, &nl, NULL)) < 0)
                goto out;
        step++;
        gb_nl_build_bridge(&m, bridge);
        if ((r = gb_nl_transact(nl, &m)) < 0)
                goto out;
        step++;
        if ((idx = gb_nl_ifindex(nl, bridge)) < 0) {
                r = idx;
                goto out;
        }
        step++;
        gb_nl_build_addr(&m, idx, (struct in_addr){htonl(gw)}, prefix);
        if ((r = gb_nl_transact(nl, &m)) < 0)
                goto out;
        step++;
        gb_nl_build_link_set(&m, bridge, 0, true);
        if ((r = gb_nl_transact(nl, &m)) < 0)
                goto out;
        gb_nl_build_link_set(&m, "lo", 0, true);
        if ((r = gb_nl_transact(nl, &m)) < 0)
                goto out;
        step++;
        fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) {
                r = -errno;
                goto out;
        }
        close(fd);
        step++;
        if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0) {
                r = -errno;
                goto out;
        }
        _exit(0);
out:
        (void)!write(wfd, &r, sizeof(r));
        _exit(step);
}

static int ensure_netns(const char *exec_root, json_t *net, int *ret_fd, struct gb_error *err)
{
        const char *id = json_string_value(json_object_get(net, "Id"));
        _cleanup_free_ char *dir = gb_xasprintf("%s/networks", exec_root), *path = netns_path(exec_root, id);
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF, f = -EBADF;
        uint32_t sub, gw;
        unsigned prefix;
        int fds[2], r, status, code = 0;
        pid_t pid;

        if (open_netns(exec_root, id, ret_fd) == 0)
                return 0;
        if (gb_net_parse_cidr(json_string_value(json_object_get(net, "Subnet")), &sub, &prefix, err) < 0 ||
            gb_net_parse_ip(json_string_value(json_object_get(net, "Gateway")), &gw, err) < 0)
                return gb_error_prefix(err, "Failed to read network %s", id);
        r = gb_mkdir_p(dir, 0700);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create '%s'", dir);
        f = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
                return gb_error_sys(err, errno, "Failed to create '%s'", path);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return gb_error_sys(err, errno, "Failed to create a pipe");
        rfd = fds[0];
        wfd = fds[1];
        pid = fork();
        if (pid < 0)
                return gb_error_sys(err, errno, "Failed to fork");
        if (pid == 0)
                netns_child(path, json_string_value(json_object_get(net, "Bridge")), gw, prefix, wfd);
        wfd = -EBADF;
        close(fds[1]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                (void)!read(rfd, &code, sizeof(code));
                (void)unlink(path);
                return gb_error_sys(err, code < 0 ? -code : EIO,
                                    "Failed to set up the namespace and bridge %s of network %s (step %d)",
                                    json_string_value(json_object_get(net, "Bridge")),
                                    json_string_value(json_object_get(net, "Name")),
                                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        r = open_netns(exec_root, id, ret_fd);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to open '%s'", path);
        return 0;
}

GB_EXPORT int gb_network_attach(const char *data_root, const char *exec_root, const char *net_id,
                                const char *container_id, pid_t pid, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF, nsfd = -EBADF, cfd = -EBADF, nl = -EBADF, cnl = -EBADF;
        _cleanup_free_ char *veth = veth_name(container_id);
        json_auto_t *all = NULL;
        json_t *net, *ep;
        struct gb_nlmsg m;
        uint32_t ip, gw, sub;
        unsigned prefix;
        uint8_t mac[6];
        char path[64];
        int r, br, eth;

        r = lock_networks(data_root, &lock, err);
        if (r < 0)
                return r;
        all = load_all(data_root);
        net = find_in(all, net_id);
        ep = json_object_get(json_object_get(net, "Endpoints"), container_id);
        if (!ep)
                return gb_error_set(err, ENOENT, "Failed to attach container %.12s: it has no endpoint on network %s",
                                    container_id, net_id);
        /* eth0 (the first network, with the default route), eth1... */
        const char *ifname = json_string_value(json_object_get(ep, "IfName")) ?: "eth0";
        bool default_route = strcmp(ifname, "eth0") == 0;
        if (gb_net_parse_ip(json_string_value(json_object_get(ep, "IPv4Address")), &ip, err) < 0 ||
            gb_net_parse_ip(json_string_value(json_object_get(net, "Gateway")), &gw, err) < 0 ||
            gb_net_parse_cidr(json_string_value(json_object_get(net, "Subnet")), &sub, &prefix, err) < 0)
                return gb_error_prefix(err, "Failed to read network %s", net_id);
        r = ensure_netns(exec_root, net, &nsfd, err);
        if (r < 0)
                return r;
        (void)snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        cfd = open(path, O_RDONLY | O_CLOEXEC);
        if (cfd < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", path);
        r = gb_nl_open_in(nsfd, &nl, err);
        if (r < 0)
                return r;
        /* A veth left by a crash before the container's namespace died. */
        gb_nl_build_link_del(&m, veth);
        (void)gb_nl_transact(nl, &m);
        gb_net_mac(ip, mac);
        gb_nl_build_veth(&m, veth, ifname, cfd, mac);
        r = gb_nl_transact(nl, &m);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to create the veth pair %s/%s of container %.12s", veth, ifname,
                                    container_id);
        br = gb_nl_ifindex(nl, json_string_value(json_object_get(net, "Bridge")));
        if (br < 0)
                return gb_error_sys(err, -br, "Failed to find bridge %s",
                                    json_string_value(json_object_get(net, "Bridge")));
        gb_nl_build_link_set(&m, veth, br, true);
        r = gb_nl_transact(nl, &m);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to attach %s to bridge %s", veth,
                                    json_string_value(json_object_get(net, "Bridge")));
        /* Inside the container's namespace (owned by its user namespace;
         * host root holds CAP_NET_ADMIN over it). */
        r = gb_nl_open_in(cfd, &cnl, err);
        if (r < 0)
                return r;
        eth = gb_nl_ifindex(cnl, ifname);
        if (eth < 0)
                return gb_error_sys(err, -eth, "Failed to find %s in container %.12s", ifname, container_id);
        gb_nl_build_addr(&m, eth, (struct in_addr){htonl(ip)}, prefix);
        if ((r = gb_nl_transact(cnl, &m)) < 0)
                return gb_error_sys(err, -r, "Failed to add the address of %s in container %.12s", ifname,
                                    container_id);
        gb_nl_build_link_set(&m, ifname, 0, true);
        if ((r = gb_nl_transact(cnl, &m)) < 0)
                return gb_error_sys(err, -r, "Failed to bring up %s in container %.12s", ifname, container_id);
        gb_nl_build_default_route(&m, eth, (struct in_addr){htonl(gw)});
        if (default_route && (r = gb_nl_transact(cnl, &m)) < 0)
                return gb_error_sys(err, -r, "Failed to add the default route of container %.12s", container_id);
        return 0;
}
