/* The monitor's port publisher: a userspace TCP proxy (docker-proxy's
 * job, done inside the monitor's single-threaded poll loop).
 *
 * Listening sockets are bound in the host's network namespace before the
 * container exists (so a taken port fails the start cleanly); each accepted
 * connection gets a socket made inside the container's network namespace
 * (setns there and back: the monitor has no other threads) that connects to
 * the container's port, and bytes are relayed both ways with half-close.
 * UDP: one flow per client address (a socket in the container's namespace
 * connected to the container's port), forgotten after PROXY_UDP_IDLE_S
 * without traffic. */
#pragma once

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "portspec.h"

/* Concurrent relayed connections per container; beyond it new ones wait
 * in the listen backlog. Each holds 2 x 64 KiB of buffer while open. */
#define PROXY_MAX_CONNS 256
/* UDP flows per container (clients beyond it are dropped until one idles
 * out), and how long an idle flow is kept (docker-proxy: 90 s). */
#define PROXY_MAX_FLOWS 256
#define PROXY_UDP_IDLE_S 60

struct proxy_conn;
struct proxy_flow;

struct proxy {
        struct gb_port_map *maps; /* resolved: host_port is the bound one */
        size_t n_maps;
        int *listen_fds;
        int host_ns, ctr_ns;
        uint32_t target_ip; /* network order: 127.0.0.1, or the container's bridge address */
        struct proxy_conn *conns;
        size_t n_conns;
        struct proxy_flow *flows;
        size_t n_flows, polled_flows;
        char *dgram; /* one datagram; mmap'ed at the first one */
};

/* Bind every published port of the record doc (nothing for --network=host).
 * Errors read as Docker's: "Bind for 0.0.0.0:8080 failed: port is already
 * allocated". On failure every socket opened so far is closed. */
int proxy_bind(struct proxy *p, json_t *doc, struct gb_error *err);

/* After the container exists: its network namespace and the address to
 * connect to. */
int proxy_set_target(struct proxy *p, pid_t pid, json_t *doc, struct gb_error *err);

/* NetworkSettings.Ports with the bound ports (stopped: every one null). */
json_t *proxy_ports_json(const struct proxy *p, json_t *doc, bool running);

/* The poll set: at most proxy_max_fds() entries written to pfd; returns
 * how many. proxy_handle takes the same entries back after poll(). */
size_t proxy_max_fds(const struct proxy *p);
size_t proxy_fill(struct proxy *p, struct pollfd *pfd);
void proxy_handle(struct proxy *p, const struct pollfd *pfd);

/* Forget idle UDP flows; returns the poll timeout (ms) until the next one
 * idles out, -1 when there is none. */
int proxy_expire(struct proxy *p);

/* Close every listener and connection (the container stopped). */
void proxy_close(struct proxy *p);
