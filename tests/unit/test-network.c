#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "netlink.h"
#include "network.h"
#include "util.h"

static uint32_t ip(const char *s)
{
        uint32_t a = 0;
        assert_int_equal(gb_net_parse_ip(s, &a, NULL), 0);
        return a;
}

static void test_parse(void **state)
{
        struct gb_error err = {0};
        uint32_t n;
        unsigned p;
        char buf[16];

        assert_int_equal(gb_net_parse_cidr("172.29.0.0/16", &n, &p, NULL), 0);
        assert_int_equal(n, 0xac1d0000u);
        assert_int_equal(p, 16);
        assert_string_equal(gb_net_ip_str(n + 258, buf), "172.29.1.2");
        assert_int_equal(gb_net_parse_cidr("10.0.0.0/8", &n, &p, NULL), 0);
        assert_int_equal(gb_net_parse_cidr("10.1.2.3/24", &n, &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "did you mean 10.1.2.0/24"));
        static const char *const bad[] = {"",
                                          "10.0.0.0",
                                          "10.0.0.0/",
                                          "10.0.0.0/33",
                                          "10.0.0.0/7",
                                          "10.0.0/8",
                                          "10.0.0.0/+8",
                                          "10.0.0.0/-8",
                                          "a.b.c.d/8",
                                          "10.0.0.0/8x",
                                          "10.0.0.0/ 8",
                                          "1.2.3.4.5/8",
                                          "300.0.0.0/8",
                                          "10.0.0.0/08",
                                          "10.0.0.0/016"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
                assert_int_equal(gb_net_parse_cidr(bad[i], &n, &p, NULL), -EINVAL);
        assert_int_equal(gb_net_parse_ip("1.2.3", &n, NULL), -EINVAL);
        assert_int_equal(gb_net_parse_ip("01.2.3.4", &n, NULL), -EINVAL);
        assert_true(gb_network_name_valid("proj_default"));
        assert_false(gb_network_name_valid("-x"));
        assert_false(gb_network_name_valid("a/b"));
        assert_false(gb_network_name_valid(""));
}

static void test_ipam_pick(void **state)
{
        uint32_t net = ip("10.0.0.0"), gw = ip("10.0.0.1"), got;
        uint32_t used[] = {ip("10.0.0.2"), ip("10.0.0.4")};

        assert_int_equal(gb_ipam_pick(net, 24, gw, NULL, 0, &got), 0);
        assert_int_equal(got, ip("10.0.0.2"));
        assert_int_equal(gb_ipam_pick(net, 24, gw, used, 2, &got), 0);
        assert_int_equal(got, ip("10.0.0.3"));
        /* /30: two hosts, one is the gateway: one address, then full */
        uint32_t one[] = {ip("10.0.0.2")};
        assert_int_equal(gb_ipam_pick(net, 30, gw, NULL, 0, &got), 0);
        assert_int_equal(got, ip("10.0.0.2"));
        assert_int_equal(gb_ipam_pick(net, 30, gw, one, 1, &got), -ENOSPC);
        /* the gateway need not be .1 */
        assert_int_equal(gb_ipam_pick(net, 24, ip("10.0.0.2"), NULL, 0, &got), 0);
        assert_int_equal(got, ip("10.0.0.1"));
        /* never the broadcast address */
        uint32_t *all = gb_xcalloc(253, sizeof(*all));
        for (uint32_t i = 0; i < 253; i++)
                all[i] = net + 2 + i; /* .2 .. .254 */
        assert_int_equal(gb_ipam_pick(net, 24, gw, all, 253, &got), -ENOSPC);
        free(all);
        uint8_t mac[6];
        gb_net_mac(ip("172.29.0.2"), mac);
        assert_memory_equal(mac, ((uint8_t[]){0x02, 0x42, 0xac, 0x1d, 0x00, 0x02}), 6);
}

/* Records and the lock: several processes connect at once, every one gets
 * an address of its own; release makes it available again. */
static void test_ipam_records(void **state)
{
        char dir[] = "/tmp/gb-net-XXXXXX";
        struct gb_error err = {0};
        json_t *rec = NULL, *set = NULL;
        char *name = NULL;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(gb_network_create(dir, "n1", "10.44.0.0/24", NULL, NULL, &rec, &err), 0);
        assert_string_equal(json_string_value(json_object_get(rec, "Gateway")), "10.44.0.1");
        assert_int_equal(gb_network_create(dir, "n1", NULL, NULL, NULL, NULL, &err), -EEXIST);
        assert_int_equal(gb_network_create(dir, "n2", "10.44.0.0/16", NULL, NULL, NULL, &err), -EEXIST);
        assert_int_equal(gb_network_create(dir, "bridge", NULL, NULL, NULL, NULL, &err), -EEXIST);
        assert_int_equal(gb_network_create(dir, "n3", "10.45.0.0/24", "10.46.0.1", NULL, NULL, &err), -EINVAL);
        const char *nid = json_string_value(json_object_get(rec, "Id"));
        enum { N = 8 };
        pid_t kids[N];
        for (int i = 0; i < N; i++) {
                kids[i] = fork();
                assert_true(kids[i] >= 0);
                if (kids[i] == 0) {
                        char cid[65];
                        (void)snprintf(cid, sizeof(cid), "%064d", i);
                        char cname[8];
                        (void)snprintf(cname, sizeof(cname), "c%d", i);
                        struct gb_endpoint_req req = {.container_id = cid, .name = cname};
                        _exit(gb_network_connect(dir, "n1", &req, NULL, NULL, NULL) == 0 ? 0 : 1);
                }
        }
        for (int i = 0; i < N; i++) {
                int st;
                assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        json_t *n1 = NULL;
        assert_int_equal(gb_network_find(dir, nid, &n1, &err), 0);
        json_t *eps = json_object_get(n1, "Endpoints"), *ep;
        const char *k;
        assert_int_equal(json_object_size(eps), N);
        unsigned seen = 0;
        json_object_foreach (eps, k, ep) {
                uint32_t a = ip(json_string_value(json_object_get(ep, "IPv4Address")));
                assert_true(a >= ip("10.44.0.2") && a < ip("10.44.0.2") + N);
                assert_false(seen & (1u << (a - ip("10.44.0.2"))));
                seen |= 1u << (a - ip("10.44.0.2"));
        }
        json_decref(n1);
        /* in use: no removal */
        assert_int_equal(gb_network_remove(dir, dir, "n1", &err), -EBUSY);
        /* release .5's owner, the next connect gets .5 back */
        char cid3[65];
        (void)snprintf(cid3, sizeof(cid3), "%064d", 3);
        assert_int_equal(gb_network_find(dir, "n1", &n1, &err), 0);
        const char *was = json_string_value(
                json_object_get(json_object_get(json_object_get(n1, "Endpoints"), cid3), "IPv4Address"));
        char was_s[16];
        strcpy(was_s, was);
        json_decref(n1);
        assert_int_equal(gb_network_disconnect(dir, dir, nid, cid3, &err), 0);
        struct gb_endpoint_req req = {
                .container_id = "x123456789abx", .name = "late", .aliases = (char *[]){"al", NULL}};
        assert_int_equal(gb_network_connect(dir, "n1", &req, &set, &name, &err), 0);
        assert_string_equal(json_string_value(json_object_get(set, "IPAddress")), was_s);
        assert_string_equal(name, "n1");
        assert_int_equal(json_integer_value(json_object_get(set, "IPPrefixLen")), 24);
        /* the hosts text names peers with their aliases (and short ID) */
        assert_int_equal(gb_network_find(dir, "n1", &n1, &err), 0);
        json_t *nets = json_pack("[O]", n1);
        _cleanup_free_ char *hosts = gb_network_hosts_text(nets, "x123456789abx");
        json_decref(nets);
        _cleanup_free_ char *line = gb_xasprintf("%s\tlate al x123456789ab\n", was_s);
        assert_non_null(strstr(hosts, line));
        /* the others, with their short IDs; not the one that left */
        assert_non_null(strstr(hosts, "\tc0 000000000000\n"));
        assert_non_null(strstr(hosts, "\tc7 000000000000\n"));
        assert_null(strstr(hosts, "\tc3 "));
        assert_non_null(strstr(hosts, "127.0.0.1\tlocalhost\n"));
        /* a requested address that is taken is refused */
        struct gb_endpoint_req taken = {.container_id = "y", .name = "y", .ip = "10.44.0.2"};
        assert_int_equal(gb_network_connect(dir, "n1", &taken, NULL, NULL, &err), -EINVAL);
        json_decref(n1);
        json_decref(set);
        free(name);
        /* the default network cannot be removed */
        assert_int_equal(gb_network_remove(dir, dir, "bridge", &err), -EPERM);
        json_decref(rec);
        (void)gb_rm_rf(dir);
}

/* Walk the attributes of a message built by the builders. */
static const struct rtattr *find_attr(const void *start, size_t len, unsigned short type)
{
        const struct rtattr *a = start;
        size_t l = len;
        for (; RTA_OK(a, l); a = RTA_NEXT(a, l))
                if (a->rta_type == type)
                        return a;
        return NULL;
}

static void test_netlink_veth(void **state)
{
        struct gb_nlmsg m;
        const uint8_t mac[6] = {2, 0x42, 1, 2, 3, 4};

        gb_nl_build_veth(&m, "gbv0123456789ab", "eth0", 7, mac);
        assert_false(m.overflow);
        const struct nlmsghdr *h = (const void *)m.buf;
        assert_int_equal(h->nlmsg_len, m.len);
        assert_int_equal(h->nlmsg_type, RTM_NEWLINK);
        assert_int_equal(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        const void *attrs = (const char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct ifinfomsg));
        size_t alen = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg)));
        const struct rtattr *name = find_attr(attrs, alen, IFLA_IFNAME);
        assert_non_null(name);
        assert_string_equal(RTA_DATA(name), "gbv0123456789ab");
        const struct rtattr *li = find_attr(attrs, alen, IFLA_LINKINFO);
        assert_non_null(li);
        const struct rtattr *kind = find_attr(RTA_DATA(li), RTA_PAYLOAD(li), IFLA_INFO_KIND);
        assert_string_equal(RTA_DATA(kind), "veth");
        const struct rtattr *data = find_attr(RTA_DATA(li), RTA_PAYLOAD(li), IFLA_INFO_DATA);
        assert_non_null(data);
        const struct rtattr *peer = find_attr(RTA_DATA(data), RTA_PAYLOAD(data), VETH_INFO_PEER);
        assert_non_null(peer);
        /* the nests end where the message ends */
        assert_ptr_equal((const char *)li + li->rta_len, (const char *)h + h->nlmsg_len);
        assert_ptr_equal((const char *)peer + peer->rta_len, (const char *)data + data->rta_len);
        const char *pattrs = (const char *)RTA_DATA(peer) + NLMSG_ALIGN(sizeof(struct ifinfomsg));
        size_t plen = RTA_PAYLOAD(peer) - NLMSG_ALIGN(sizeof(struct ifinfomsg));
        assert_string_equal(RTA_DATA(find_attr(pattrs, plen, IFLA_IFNAME)), "eth0");
        assert_int_equal(*(const uint32_t *)RTA_DATA(find_attr(pattrs, plen, IFLA_NET_NS_FD)), 7);
        assert_memory_equal(RTA_DATA(find_attr(pattrs, plen, IFLA_ADDRESS)), mac, 6);
}

static void test_netlink_addr_route(void **state)
{
        struct gb_nlmsg m;
        struct in_addr a = {htonl(0x0a000005)};

        gb_nl_build_addr(&m, 3, a, 24);
        const struct nlmsghdr *h = (const void *)m.buf;
        const struct ifaddrmsg *ifa = NLMSG_DATA(h);
        assert_int_equal(ifa->ifa_index, 3);
        assert_int_equal(ifa->ifa_prefixlen, 24);
        const void *attrs = (const char *)ifa + NLMSG_ALIGN(sizeof(*ifa));
        size_t alen = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*ifa)));
        assert_memory_equal(RTA_DATA(find_attr(attrs, alen, IFA_LOCAL)), &a, 4);
        struct in_addr brd = {htonl(0x0a0000ff)};
        assert_memory_equal(RTA_DATA(find_attr(attrs, alen, IFA_BROADCAST)), &brd, 4);

        gb_nl_build_default_route(&m, 3, (struct in_addr){htonl(0x0a000001)});
        const struct rtmsg *rt = NLMSG_DATA(h);
        assert_int_equal(h->nlmsg_type, RTM_NEWROUTE);
        assert_int_equal(rt->rtm_dst_len, 0);
        attrs = (const char *)rt + NLMSG_ALIGN(sizeof(*rt));
        alen = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*rt)));
        assert_int_equal(*(const uint32_t *)RTA_DATA(find_attr(attrs, alen, RTA_OIF)), 3);

        gb_nl_build_link_set(&m, "eth0", 9, true);
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        assert_int_equal(ifi->ifi_flags & IFF_UP, IFF_UP);
        assert_int_equal(ifi->ifi_change, IFF_UP);
        attrs = (const char *)ifi + NLMSG_ALIGN(sizeof(*ifi));
        alen = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*ifi)));
        assert_int_equal(*(const uint32_t *)RTA_DATA(find_attr(attrs, alen, IFLA_MASTER)), 9);

        /* a too long message overflows instead of writing past the buffer */
        char big[600];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        gb_nl_build_link_del(&m, big);
        assert_false(m.overflow);
        gb_nlmsg_put_str(&m, IFLA_IFNAME, big);
        assert_true(m.overflow);
        assert_int_equal(gb_nl_transact(-1, &m), -ENOBUFS);
}

/* The real kernel: a bridge made, found and deleted in a private network
 * namespace of a child (needs root; skipped otherwise). */
static void test_netlink_kernel(void **state)
{
        if (geteuid() != 0) {
                skip();
                return;
        }
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd = -1, idx;
                struct gb_nlmsg m;
                if (unshare(CLONE_NEWNET) < 0 || gb_nl_open_in(-1, &fd, NULL) < 0)
                        _exit(10);
                if (gb_nl_ifindex(fd, "gbtest0") != -ENODEV)
                        _exit(11);
                gb_nl_build_bridge(&m, "gbtest0");
                if (gb_nl_transact(fd, &m) != 0)
                        _exit(12);
                gb_nl_build_bridge(&m, "gbtest0");
                if (gb_nl_transact(fd, &m) != -EEXIST)
                        _exit(13);
                if ((idx = gb_nl_ifindex(fd, "gbtest0")) <= 0)
                        _exit(14);
                gb_nl_build_addr(&m, idx, (struct in_addr){htonl(0x0a000001)}, 24);
                if (gb_nl_transact(fd, &m) != 0)
                        _exit(15);
                gb_nl_build_link_del(&m, "gbtest0");
                if (gb_nl_transact(fd, &m) != 0)
                        _exit(16);
                _exit(gb_nl_ifindex(fd, "gbtest0") == -ENODEV ? 0 : 17);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_ipam_pick),
                cmocka_unit_test(test_ipam_records),
                cmocka_unit_test(test_netlink_veth),
                cmocka_unit_test(test_netlink_addr_route),
                cmocka_unit_test(test_netlink_kernel),
        };
        return cmocka_run_group_tests_name("network", tests, NULL, NULL);
}
