/* Docker's port publishing syntax and records.
 *
 *   -p [IP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp]   publish (empty HOSTPORT: random)
 *   --expose PORT[-END][/tcp|/udp]                   expose only
 *   -P                                          publish every exposed port on a random host port
 *
 * Parsed into Docker's record shapes: HostConfig.PortBindings
 * ({"80/tcp":[{"HostIp":"","HostPort":"8080"}]}) and Config.ExposedPorts
 * ({"80/tcp":{}}). The monitor turns those into listening sockets
 * (gb_portspec_plan) and writes NetworkSettings.Ports back.
 *
 * IPv4 only: an IPv6 host address is refused with an error that says so;
 * sctp too (the monitor's proxy relays TCP streams and UDP datagrams). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* More listeners than this per container is refused (each is an fd in the
 * monitor's poll set). */
#define GB_PORTS_MAX 1024

struct gb_port_map {
        uint32_t host_ip;   /* network byte order; 0: every address */
        uint16_t host_port; /* 0: random (bound to port 0, then read back) */
        uint16_t port;      /* the container's port */
        bool udp;
};

/* "PORT/tcp" or "PORT/udp" into buf. */
const char *gb_portspec_key(char buf[16], unsigned port, bool udp);

/* One -p value: add its bindings to the PortBindings object `bindings`.
 * Errors name the flag and value and say what form is expected. */
int gb_portspec_parse_publish(const char *value, json_t *bindings, struct gb_error *err);

/* One --expose value: add its ports to the ExposedPorts object `exposed`. */
int gb_portspec_parse_expose(const char *value, json_t *exposed, struct gb_error *err);

/* A PortBindings/ExposedPorts key: "80", "80/tcp", "53/udp" (ret_udp may
 * be NULL). */
int gb_portspec_parse_key(const char *key, uint16_t *ret_port, bool *ret_udp, struct gb_error *err);

/* Check the shape of an API client's HostConfig.PortBindings and
 * Config.ExposedPorts (NULL or null is fine); messages name the field. */
int gb_portspec_check_bindings(json_t *bindings, struct gb_error *err);
int gb_portspec_check_exposed(json_t *exposed, struct gb_error *err);

/* The listeners a container needs: every binding, and with publish_all
 * every exposed port that has none, on a random host port. *ret is
 * malloc()ed (NULL when there is none). */
int gb_portspec_plan(json_t *bindings, json_t *exposed, bool publish_all, struct gb_port_map **ret, size_t *ret_n,
                     struct gb_error *err);

/* NetworkSettings.Ports: every exposed port, null when not published, else
 * the bound addresses (maps hold the real, resolved host ports). */
/* A new object with obj's keys in canonical form ("80/tcp"), each set to a
 * copy of value; keys that do not parse (sctp, junk) are left out. */
json_t *gb_portspec_canon_keys(json_t *obj, json_t *value);
json_t *gb_portspec_ports_json(const struct gb_port_map *maps, size_t n, json_t *exposed);

/* `docker ps` PORTS text of a NetworkSettings.Ports object:
 * "0.0.0.0:8080->80/tcp, 443/tcp". Caller frees. */
char *gb_portspec_ps_string(json_t *ports);

/* containers/json's Ports array of a NetworkSettings.Ports object:
 * [{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}]. */
json_t *gb_portspec_api_list(json_t *ports);
