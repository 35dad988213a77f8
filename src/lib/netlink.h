/* rtnetlink, spoken directly: the few link, address and route requests a
 * bridge network needs, so ghostbox never runs `ip` at run time.
 *
 * Messages are built into a fixed buffer (struct gb_nlmsg) by pure
 * functions the unit tests check byte by byte; gb_nl_transact() sends one
 * request and waits for its acknowledgement. A socket opened with
 * gb_nl_open_in() lives in another network namespace (a container's, or a
 * network's): sockets stay bound to the namespace they were made in, so
 * only the creating thread visits it, for the one socket() call. */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct gb_nlmsg {
        size_t len; /* bytes used in buf, always NLMSG_ALIGNed */
        size_t cap; /* sizeof buf */
        bool overflow;
        _Alignas(4) unsigned char buf[1024];
};

/* Start a request: nlmsghdr (type, NLM_F_REQUEST|NLM_F_ACK|flags) followed
 * by the family header hdr (hdrlen bytes, copied). */
void gb_nlmsg_init(struct gb_nlmsg *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdrlen);
/* Append an attribute; sets overflow (checked by transact) when full. */
void gb_nlmsg_put(struct gb_nlmsg *m, uint16_t type, const void *data, size_t len);
void gb_nlmsg_put_str(struct gb_nlmsg *m, uint16_t type, const char *s);
void gb_nlmsg_put_u32(struct gb_nlmsg *m, uint16_t type, uint32_t v);
/* Nested attributes: begin returns the offset that end closes. */
size_t gb_nlmsg_nest_begin(struct gb_nlmsg *m, uint16_t type);
void gb_nlmsg_nest_end(struct gb_nlmsg *m, size_t off);

/* Builders (pure; used by the calls below and by the unit tests). */
void gb_nl_build_bridge(struct gb_nlmsg *m, const char *name);
void gb_nl_build_veth(struct gb_nlmsg *m, const char *name, const char *peer, int peer_netns_fd,
                      const uint8_t peer_mac[6]);
void gb_nl_build_link_set(struct gb_nlmsg *m, const char *name, int master_ifindex, bool up);
void gb_nl_build_link_del(struct gb_nlmsg *m, const char *name);
void gb_nl_build_addr(struct gb_nlmsg *m, int ifindex, struct in_addr a, unsigned prefix);
void gb_nl_build_default_route(struct gb_nlmsg *m, int ifindex, struct in_addr gw);

/* A NETLINK_ROUTE socket in the current namespace (nsfd < 0) or in the
 * network namespace nsfd. */
int gb_nl_open_in(int nsfd, int *ret_fd, struct gb_error *err);
/* Send m, wait for the kernel's ack: 0 or -errno (the kernel's). */
int gb_nl_transact(int fd, struct gb_nlmsg *m);
/* ifindex of name in the namespace of nl socket fd's namespace, via an
 * RTM_GETLINK: > 0, or -errno (-ENODEV). */
int gb_nl_ifindex(int fd, const char *name);
