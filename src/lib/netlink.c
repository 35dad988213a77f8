/* rtnetlink requests, see netlink.h. */
#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

static uint32_t seq_counter;

GB_EXPORT void gb_nlmsg_init(struct gb_nlmsg *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdrlen)
{
        struct nlmsghdr *h = (struct nlmsghdr *)m->buf;

        memset(m, 0, sizeof(*m));
        m->cap = sizeof(m->buf);
        h->nlmsg_type = type;
        h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
        h->nlmsg_seq = ++seq_counter;
        m->len = NLMSG_HDRLEN;
        memcpy(m->buf + m->len, hdr, hdrlen);
        m->len += NLMSG_ALIGN(hdrlen);
        h->nlmsg_len = (uint32_t)m->len;
}

GB_EXPORT void gb_nlmsg_put(struct gb_nlmsg *m, uint16_t type, const void *data, size_t len)
{
        struct rtattr *a = (struct rtattr *)(m->buf + m->len);

        if (m->overflow || m->len + RTA_SPACE(len) > m->cap) {
                m->overflow = true;
                return;
        }
        a->rta_type = type;
        a->rta_len = (unsigned short)RTA_LENGTH(len);
        if (len)
                memcpy(RTA_DATA(a), data, len);
        /* Padding is zeroed: the buffer was cleared by init. */
        m->len += RTA_SPACE(len);
        ((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
}

GB_EXPORT void gb_nlmsg_put_str(struct gb_nlmsg *m, uint16_t type, const char *s)
{
        gb_nlmsg_put(m, type, s, strlen(s) + 1);
}

GB_EXPORT void gb_nlmsg_put_u32(struct gb_nlmsg *m, uint16_t type, uint32_t v)
{
        gb_nlmsg_put(m, type, &v, sizeof(v));
}

GB_EXPORT size_t gb_nlmsg_nest_begin(struct gb_nlmsg *m, uint16_t type)
{
        size_t off = m->len;

        gb_nlmsg_put(m, type, NULL, 0);
        return off;
}

GB_EXPORT void gb_nlmsg_nest_end(struct gb_nlmsg *m, size_t off)
{
        if (m->overflow)
                return;
        ((struct rtattr *)(m->buf + off))->rta_len = (unsigned short)(m->len - off);
}

GB_EXPORT void gb_nl_build_bridge(struct gb_nlmsg *m, const char *name)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
        size_t li;

        gb_nlmsg_init(m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
        gb_nlmsg_put_str(m, IFLA_IFNAME, name);
        li = gb_nlmsg_nest_begin(m, IFLA_LINKINFO);
        gb_nlmsg_put_str(m, IFLA_INFO_KIND, "bridge");
        gb_nlmsg_nest_end(m, li);
}

GB_EXPORT void gb_nl_build_veth(struct gb_nlmsg *m, const char *name, const char *peer, int peer_netns_fd,
                                const uint8_t peer_mac[6])
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
        size_t li, data, pe;

        gb_nlmsg_init(m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
        gb_nlmsg_put_str(m, IFLA_IFNAME, name);
        li = gb_nlmsg_nest_begin(m, IFLA_LINKINFO);
        gb_nlmsg_put_str(m, IFLA_INFO_KIND, "veth");
        data = gb_nlmsg_nest_begin(m, IFLA_INFO_DATA);
        /* VETH_INFO_PEER carries a struct ifinfomsg, then the peer's own
         * attributes: the peer is created straight in the container's
         * namespace, so it never exists on the host side under a name
         * that could collide. */
        pe = gb_nlmsg_nest_begin(m, VETH_INFO_PEER);
        if (!m->overflow && m->len + sizeof(ifi) <= m->cap) {
                memcpy(m->buf + m->len, &ifi, sizeof(ifi));
                m->len += NLMSG_ALIGN(sizeof(ifi));
        } else
                m->overflow = true;
        gb_nlmsg_put_str(m, IFLA_IFNAME, peer);
        if (peer_netns_fd >= 0)
                gb_nlmsg_put_u32(m, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
        if (peer_mac)
                gb_nlmsg_put(m, IFLA_ADDRESS, peer_mac, 6);
        gb_nlmsg_nest_end(m, pe);
        gb_nlmsg_nest_end(m, data);
        gb_nlmsg_nest_end(m, li);
}

GB_EXPORT void gb_nl_build_link_set(struct gb_nlmsg *m, const char *name, int master_ifindex, bool up)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};

        if (up) {
                ifi.ifi_flags = IFF_UP;
                ifi.ifi_change = IFF_UP;
        }
        gb_nlmsg_init(m, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
        gb_nlmsg_put_str(m, IFLA_IFNAME, name);
        if (master_ifindex > 0)
                gb_nlmsg_put_u32(m, IFLA_MASTER, (uint32_t)master_ifindex);
}

GB_EXPORT void gb_nl_build_link_del(struct gb_nlmsg *m, const char *name)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};

        gb_nlmsg_init(m, RTM_DELLINK, 0, &ifi, sizeof(ifi));
        gb_nlmsg_put_str(m, IFLA_IFNAME, name);
}

GB_EXPORT void gb_nl_build_addr(struct gb_nlmsg *m, int ifindex, struct in_addr a, unsigned prefix)
{
        struct ifaddrmsg ifa = {
                .ifa_family = AF_INET,
                .ifa_prefixlen = (unsigned char)prefix,
                .ifa_scope = RT_SCOPE_UNIVERSE,
                .ifa_index = (unsigned)ifindex,
        };
        struct in_addr brd = a;

        gb_nlmsg_init(m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
        gb_nlmsg_put(m, IFA_LOCAL, &a, sizeof(a));
        gb_nlmsg_put(m, IFA_ADDRESS, &a, sizeof(a));
        if (prefix < 31) {
                brd.s_addr = htonl(ntohl(a.s_addr) | (prefix ? 0xffffffffu >> prefix : 0xffffffffu));
                gb_nlmsg_put(m, IFA_BROADCAST, &brd, sizeof(brd));
        }
}

GB_EXPORT void gb_nl_build_default_route(struct gb_nlmsg *m, int ifindex, struct in_addr gw)
{
        struct rtmsg rt = {
                .rtm_family = AF_INET,
                .rtm_dst_len = 0,
                .rtm_table = RT_TABLE_MAIN,
                .rtm_protocol = RTPROT_BOOT,
                .rtm_scope = RT_SCOPE_UNIVERSE,
                .rtm_type = RTN_UNICAST,
        };

        gb_nlmsg_init(m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof(rt));
        gb_nlmsg_put(m, RTA_GATEWAY, &gw, sizeof(gw));
        gb_nlmsg_put_u32(m, RTA_OIF, (uint32_t)ifindex);
}

GB_EXPORT int gb_nl_open_in(int nsfd, int *ret_fd, struct gb_error *err)
{
        _cleanup_close_ int self = -EBADF, fd = -EBADF;
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK};

        if (nsfd >= 0) {
                /* setns(CLONE_NEWNET) changes only this thread: switch,
                 * make the socket, switch back. */
                self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
                if (self < 0)
                        return gb_error_sys(err, errno, "Failed to open '/proc/thread-self/ns/net'");
                if (setns(nsfd, CLONE_NEWNET) < 0)
                        return gb_error_sys(err, errno, "Failed to enter a network namespace");
        }
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        int saved = errno;
        if (nsfd >= 0 && setns(self, CLONE_NEWNET) < 0)
                /* Cannot happen for root; staying in the wrong namespace
                 * would be worse than dying. */
                abort();
        if (fd < 0)
                return gb_error_sys(err, saved, "Failed to open a netlink socket");
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return gb_error_sys(err, errno, "Failed to bind a netlink socket");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Read replies until the one for seq: an NLMSG_ERROR (ack or error), or for
 * a dump-less GET the answer itself (then *ret_ifindex is filled). */
static int nl_wait(int fd, uint32_t seq, int *ret_ifindex)
{
        _Alignas(4) unsigned char buf[8192];

        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EBADMSG;
                                if (e->error == 0 && ret_ifindex && *ret_ifindex <= 0)
                                        return -ENODEV;
                                return e->error;
                        }
                        if (h->nlmsg_type == RTM_NEWLINK && ret_ifindex &&
                            h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
                                const struct ifinfomsg *ifi = NLMSG_DATA(h);
                                *ret_ifindex = ifi->ifi_index;
                        }
                }
        }
}

static int nl_send(int fd, struct gb_nlmsg *m)
{
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

        if (m->overflow)
                return -ENOBUFS;
        if (sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
                return -errno;
        return 0;
}

GB_EXPORT int gb_nl_transact(int fd, struct gb_nlmsg *m)
{
        int r = nl_send(fd, m);

        if (r < 0)
                return r;
        return nl_wait(fd, ((struct nlmsghdr *)m->buf)->nlmsg_seq, NULL);
}

GB_EXPORT int gb_nl_ifindex(int fd, const char *name)
{
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
        struct gb_nlmsg m;
        int idx = 0, r;

        gb_nlmsg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
        gb_nlmsg_put_str(&m, IFLA_IFNAME, name);
        r = nl_send(fd, &m);
        if (r < 0)
                return r;
        r = nl_wait(fd, ((struct nlmsghdr *)m.buf)->nlmsg_seq, &idx);
        if (r < 0)
                return r;
        return idx > 0 ? idx : -ENODEV;
}
