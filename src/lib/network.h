/* Bridge networks, Docker-style: records, IPAM, and the links.
 *
 * A network is a record <data-root>/networks/<id>.json: name, ID, driver
 * "bridge", subnet, gateway, labels, and its endpoints (the containers on
 * it, with their addresses: the IPAM state lives in the same file, changed
 * only under <data-root>/networks/.lock). The default network is named
 * "bridge", as Docker's; it is created on first use.
 *
 * Each network's bridge lives in a network namespace of its own, kept at
 * <exec-root>/networks/<id>.netns (a bind mount, like `ip netns`), not in
 * the host's: the host's firewall (a FORWARD policy DROP with
 * bridge-nf-call-iptables=1, which Docker and Podman leave behind) would
 * drop bridged traffic between containers, and ghostbox does not edit the
 * host's iptables. The namespace holds the bridge (gbbr0 for "bridge",
 * gbbr-<id10> otherwise) with the gateway address, and the host ends of
 * the containers' veth pairs; the peer is created directly inside the
 * container's network namespace as eth0. Two networks share nothing, so
 * they cannot reach each other; there is no route to the outside (no
 * NAT), see docs/network.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define GB_NETWORK_DEFAULT "bridge"

/* "a.b.c.d" -> host-order address. */
int gb_net_parse_ip(const char *s, uint32_t *ret, struct gb_error *err);
/* "a.b.c.d/N" (N 8..30, no host bits set) -> host-order network, prefix. */
int gb_net_parse_cidr(const char *s, uint32_t *ret_net, unsigned *ret_prefix, struct gb_error *err);
/* Dotted quad of a host-order address into buf (16 bytes). */
char *gb_net_ip_str(uint32_t a, char buf[16]);

/* IPAM: the lowest host address of net/prefix that is neither the
 * network, broadcast nor gateway address nor in used[]. -ENOSPC when full. */
int gb_ipam_pick(uint32_t net, unsigned prefix, uint32_t gw, const uint32_t *used, size_t n_used, uint32_t *ret);
/* Docker's MAC for an address: 02:42 then the four bytes of it. */
void gb_net_mac(uint32_t ip, uint8_t mac[6]);

/* Validate a network name as Docker does ([a-zA-Z0-9][a-zA-Z0-9_.-]*). */
bool gb_network_name_valid(const char *name);

/* Create a user-defined bridge network. subnet/gateway NULL: picked (the
 * first /16 of 172.29-31, then 172.18-28, used neither by another network
 * nor by a host route). labels may be NULL. -EEXIST when the name is
 * taken, -EINVAL for a bad subnet/gateway. *ret (may be NULL) gets the
 * record. */
int gb_network_create(const char *data_root, const char *name, const char *subnet, const char *gateway, json_t *labels,
                      json_t **ret, struct gb_error *err);

/* By name, full ID or unique ID prefix; "bridge" is created on first use.
 * -ENOENT when missing. */
int gb_network_find(const char *data_root, const char *ref, json_t **ret, struct gb_error *err);

/* All records (the default one included), a new array. */
int gb_network_list(const char *data_root, json_t **ret, struct gb_error *err);

/* Remove a network: -EPERM for "bridge", -EBUSY while it has endpoints.
 * Its namespace (bridge and all) goes with it. */
int gb_network_remove(const char *data_root, const char *exec_root, const char *ref, struct gb_error *err);

struct gb_endpoint_req {
        const char *container_id, *name, *hostname;
        char *const *aliases;   /* NULL-terminated, may be NULL */
        const char *hosts_path; /* the container's /etc/hosts source, rewritten in place */
        const char *ip;         /* requested address, NULL: allocated */
        const char *ifname;     /* its interface in the container; NULL: eth0 (which gets the default route) */
};

/* Allocate an address on network ref for a container, record the endpoint,
 * and rewrite the hosts file of every container on the network (so they
 * resolve each other by name and alias). *ret_settings gets Docker's
 * NetworkSettings.Networks.<name> object; *ret_name the network's name. */
int gb_network_connect(const char *data_root, const char *ref, const struct gb_endpoint_req *req, json_t **ret_settings,
                       char **ret_name, struct gb_error *err);

/* Release the container's address on network net_id (missing: no-op),
 * delete its host-side link, rewrite the others' hosts files. */
int gb_network_disconnect(const char *data_root, const char *exec_root, const char *net_id, const char *container_id,
                          struct gb_error *err);

/* Wire a started container (its init is pid) to network net_id: the
 * network's namespace and bridge (made when missing), a veth pair whose
 * peer appears as the endpoint's interface (eth0, or eth1... for networks
 * connected later) in the container with its address, and for eth0 a
 * default route through the gateway. */
int gb_network_attach(const char *data_root, const char *exec_root, const char *net_id, const char *container_id,
                      pid_t pid, struct gb_error *err);

/* The hosts file text of container_id: itself and its peers on every
 * network of nets (an array of records) it is on. */
char *gb_network_hosts_text(json_t *nets, const char *container_id);
