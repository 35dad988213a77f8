/* See proxy.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "proxy.h"
#include "util.h"

#define BUF_SIZE 65536
#define DGRAM_MAX 65536

struct half {
        char *buf;
        size_t off, len;
        bool eof;  /* its source said EOF */
        bool shut; /* ... and we passed it on with shutdown(SHUT_WR) */
};

/* fd[0] the client's (host side), fd[1] ours in the container; h[i] holds
 * bytes read from fd[i] on their way to fd[!i]. */
struct proxy_conn {
        int fd[2];
        struct half h[2];
        bool connecting, hup[2], dead;
        void *mem;
};

struct proxy_flow {
        size_t map;                /* which listener */
        struct sockaddr_in client; /* the host-side peer */
        int fd;                    /* ours in the container, connected to its port */
        time_t last;
};

static time_t now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

static void ip_text(uint32_t ip, char out[INET_ADDRSTRLEN])
{
        struct in_addr a = {.s_addr = ip};
        if (!inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN))
                snprintf(out, INET_ADDRSTRLEN, "?");
}

static void close_listeners(struct proxy *p)
{
        for (size_t i = 0; i < p->n_maps; i++)
                if (p->listen_fds && p->listen_fds[i] >= 0) {
                        close(p->listen_fds[i]);
                        p->listen_fds[i] = -1;
                }
}

int proxy_bind(struct proxy *p, json_t *doc, struct gb_error *err)
{
        json_t *hc = json_object_get(doc, "HostConfig");
        const char *nm = json_string_value(json_object_get(hc, "NetworkMode"));
        int r;

        p->host_ns = p->ctr_ns = -1;
        if (nm && (strcmp(nm, "host") == 0 || strcmp(nm, "none") == 0))
                return 0;
        r = gb_portspec_plan(json_object_get(hc, "PortBindings"),
                             json_object_get(json_object_get(doc, "Config"), "ExposedPorts"),
                             json_is_true(json_object_get(hc, "PublishAllPorts")), &p->maps, &p->n_maps, err);
        if (r < 0)
                return gb_error_prefix(err, "Failed to publish ports");
        if (p->n_maps == 0)
                return 0;
        p->host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (p->host_ns < 0)
                return gb_error_sys(err, errno, "Failed to open the host's network namespace");
        p->listen_fds = gb_xcalloc(p->n_maps, sizeof(int));
        for (size_t i = 0; i < p->n_maps; i++)
                p->listen_fds[i] = -1;
        for (size_t i = 0; i < p->n_maps; i++) {
                struct gb_port_map *m = &p->maps[i];
                struct sockaddr_in sa = {
                        .sin_family = AF_INET, .sin_port = htons(m->host_port), .sin_addr.s_addr = m->host_ip};
                socklen_t sl = sizeof(sa);
                char ip[INET_ADDRSTRLEN];
                int one = 1, fd;

                ip_text(m->host_ip, ip);
                fd = socket(AF_INET, (m->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0) {
                        r = gb_error_sys(err, errno, "Failed to create a socket for port %u", m->host_port);
                        goto fail;
                }
                p->listen_fds[i] = fd;
                /* TCP: a restart must re-bind at once, past the last
                 * run's TIME_WAIT connections (it never lets two listeners
                 * share a port on Linux). Not for UDP: there it would let a
                 * second container bind the same port and steal datagrams. */
                if (!m->udp)
                        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                        r = errno == EADDRINUSE
                                    ? gb_error_set(err, EADDRINUSE, "Bind for %s:%u failed: port is already allocated",
                                                   ip, m->host_port)
                                    : gb_error_sys(err, errno, "Bind for %s:%u failed", ip, m->host_port);
                        goto fail;
                }
                if (!m->udp && listen(fd, 128) < 0) {
                        r = gb_error_sys(err, errno, "Failed to listen on %s:%u", ip, m->host_port);
                        goto fail;
                }
                if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
                        r = gb_error_sys(err, errno, "Failed to read the port bound for %s:%u", ip, m->host_port);
                        goto fail;
                }
                m->host_port = ntohs(sa.sin_port);
        }
        return 0;
fail:
        close_listeners(p);
        return r;
}

int proxy_set_target(struct proxy *p, pid_t pid, json_t *doc, struct gb_error *err)
{
        const char *ip = json_string_value(json_object_get(json_object_get(doc, "NetworkSettings"), "IPAddress"));
        char path[64];
        struct in_addr a;

        if (p->n_maps == 0)
                return 0;
        /* On a bridge network a service may listen on eth0's address only;
         * in the private namespace loopback is all there is. */
        if (!ip || !*ip || inet_pton(AF_INET, ip, &a) != 1)
                a.s_addr = htonl(INADDR_LOOPBACK);
        p->target_ip = a.s_addr;
        snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
        p->ctr_ns = open(path, O_RDONLY | O_CLOEXEC);
        if (p->ctr_ns < 0)
                return gb_error_sys(err, errno, "Failed to open '%s'", path);
        return 0;
}

json_t *proxy_ports_json(const struct proxy *p, json_t *doc, bool running)
{
        return gb_portspec_ports_json(running ? p->maps : NULL, running ? p->n_maps : 0,
                                      json_object_get(json_object_get(doc, "Config"), "ExposedPorts"));
}

size_t proxy_max_fds(const struct proxy *p)
{
        return p->n_maps + (size_t)PROXY_MAX_FLOWS + 2 * (size_t)PROXY_MAX_CONNS;
}

static void conn_close(struct proxy_conn *c)
{
        for (int i = 0; i < 2; i++)
                if (c->fd[i] >= 0)
                        close(c->fd[i]);
        if (c->mem)
                munmap(c->mem, 2 * BUF_SIZE);
}

/* A socket in the container's network namespace. setns is per thread and
 * the monitor has one: nothing else runs while we are over there. */
static int container_socket(struct proxy *p, int type)
{
        int fd, saved;

        if (setns(p->ctr_ns, CLONE_NEWNET) < 0)
                return -1;
        fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        saved = errno;
        if (setns(p->host_ns, CLONE_NEWNET) < 0) {
                /* Never stay in the container's namespace: any later
                 * socket would be made there. */
                fprintf(stderr, "ghostbox-monitor: cannot return to the host's network namespace: %s\n",
                        strerror(errno));
                abort();
        }
        errno = saved;
        return fd;
}

static void accept_one(struct proxy *p, size_t li)
{
        struct sockaddr_in sa = {
                .sin_family = AF_INET, .sin_port = htons(p->maps[li].port), .sin_addr.s_addr = p->target_ip};
        struct proxy_conn c = {.fd = {-1, -1}};
        int cfd = accept4(p->listen_fds[li], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (cfd < 0)
                return;
        c.fd[0] = cfd;
        c.fd[1] = p->ctr_ns >= 0 ? container_socket(p, SOCK_STREAM) : -1;
        c.mem = mmap(NULL, 2 * BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c.fd[1] < 0 || c.mem == MAP_FAILED) {
                c.mem = c.mem == MAP_FAILED ? NULL : c.mem;
                conn_close(&c);
                return;
        }
        c.h[0].buf = c.mem;
        c.h[1].buf = (char *)c.mem + BUF_SIZE;
        if (connect(c.fd[1], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                if (errno != EINPROGRESS) {
                        conn_close(&c); /* the client sees its connection closed */
                        return;
                }
                c.connecting = true;
        }
        p->conns = gb_xrealloc(p->conns, (p->n_conns + 1) * sizeof(*p->conns));
        p->conns[p->n_conns++] = c;
}

size_t proxy_fill(struct proxy *p, struct pollfd *pfd)
{
        size_t n = 0;

        for (size_t i = 0; i < p->n_maps; i++)
                pfd[n++] = (struct pollfd){.fd = p->maps[i].udp || p->n_conns < PROXY_MAX_CONNS ? p->listen_fds[i] : -1,
                                           .events = POLLIN};
        for (size_t k = 0; k < p->n_flows; k++)
                pfd[n++] = (struct pollfd){.fd = p->flows[k].fd, .events = POLLIN};
        p->polled_flows = p->n_flows;
        for (size_t k = 0; k < p->n_conns; k++) {
                struct proxy_conn *c = &p->conns[k];
                if (c->connecting) {
                        pfd[n++] = (struct pollfd){.fd = -1};
                        pfd[n++] = (struct pollfd){.fd = c->fd[1], .events = POLLOUT};
                        continue;
                }
                for (int i = 0; i < 2; i++) {
                        short ev = 0;
                        if (!c->h[i].eof && c->h[i].len == 0)
                                ev |= POLLIN;
                        if (c->h[!i].len > 0)
                                ev |= POLLOUT;
                        /* A hung-up socket we want nothing from would
                         * report POLLHUP on every round: leave it out. */
                        pfd[n++] = (struct pollfd){.fd = c->hup[i] && !ev ? -1 : c->fd[i], .events = ev};
                }
        }
        return n;
}

/* Move what h[d] holds to fd[!d]; pass an EOF on once it is drained. */
static void flush(struct proxy_conn *c, int d)
{
        struct half *h = &c->h[d];

        while (h->len > 0) {
                ssize_t n = send(c->fd[!d], h->buf + h->off, h->len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        c->dead = true;
                        return;
                }
                h->off += (size_t)n;
                h->len -= (size_t)n;
        }
        h->off = 0;
        if (h->eof && !h->shut) {
                (void)shutdown(c->fd[!d], SHUT_WR);
                h->shut = true;
        }
}

static void conn_step(struct proxy_conn *c, const struct pollfd *pf)
{
        if (c->connecting) {
                int e = 0;
                socklen_t el = sizeof(e);
                if (!pf[1].revents)
                        return;
                if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0) {
                        c->dead = true;
                        return;
                }
                c->connecting = false;
                return;
        }
        for (int i = 0; i < 2 && !c->dead; i++) {
                short rev = pf[i].revents;
                if (rev & POLLERR) {
                        c->dead = true;
                        break;
                }
                if (rev & POLLHUP)
                        c->hup[i] = true;
                if ((rev & (POLLIN | POLLHUP)) && !c->h[i].eof && c->h[i].len == 0) {
                        ssize_t n = recv(c->fd[i], c->h[i].buf, BUF_SIZE, MSG_DONTWAIT);
                        if (n > 0)
                                c->h[i].len = (size_t)n;
                        else if (n == 0)
                                c->h[i].eof = true;
                        else if (errno != EAGAIN && errno != EINTR)
                                c->dead = true;
                }
        }
        for (int d = 0; d < 2 && !c->dead; d++)
                flush(c, d);
        if (c->h[0].shut && c->h[1].shut)
                c->dead = true;
}

static bool dgram_buf(struct proxy *p)
{
        if (!p->dgram) {
                void *m = mmap(NULL, DGRAM_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED)
                        return false;
                p->dgram = m;
        }
        return true;
}

/* Datagrams from the container back to the flow's client, through the
 * listening socket (the client expects them from the port it sent to). */
static void flow_reply(struct proxy *p, struct proxy_flow *f)
{
        if (!dgram_buf(p))
                return;
        for (int round = 0; round < 64; round++) {
                ssize_t n = recv(f->fd, p->dgram, DGRAM_MAX, MSG_DONTWAIT);
                if (n < 0)
                        return; /* EAGAIN, or ECONNREFUSED: nobody listens in there (yet) */
                (void)sendto(p->listen_fds[f->map], p->dgram, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->client,
                             sizeof(f->client));
                f->last = now_s();
        }
}

static struct proxy_flow *flow_for(struct proxy *p, size_t li, const struct sockaddr_in *from)
{
        struct sockaddr_in sa = {
                .sin_family = AF_INET, .sin_port = htons(p->maps[li].port), .sin_addr.s_addr = p->target_ip};
        struct proxy_flow f = {.map = li, .client = *from};

        for (size_t k = 0; k < p->n_flows; k++)
                if (p->flows[k].map == li && p->flows[k].client.sin_port == from->sin_port &&
                    p->flows[k].client.sin_addr.s_addr == from->sin_addr.s_addr)
                        return &p->flows[k];
        if (p->n_flows >= PROXY_MAX_FLOWS || p->ctr_ns < 0)
                return NULL;
        f.fd = container_socket(p, SOCK_DGRAM);
        if (f.fd < 0)
                return NULL;
        if (connect(f.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(f.fd);
                return NULL;
        }
        p->flows = gb_xrealloc(p->flows, (p->n_flows + 1) * sizeof(*p->flows));
        p->flows[p->n_flows] = f;
        return &p->flows[p->n_flows++];
}

/* Datagrams from host clients: each into its client's flow. */
static void udp_in(struct proxy *p, size_t li)
{
        if (!dgram_buf(p))
                return;
        for (int round = 0; round < 64; round++) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                struct proxy_flow *f;
                ssize_t n =
                        recvfrom(p->listen_fds[li], p->dgram, DGRAM_MAX, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
                if (n < 0)
                        return;
                if (fl != sizeof(from) || from.sin_family != AF_INET)
                        continue;
                f = flow_for(p, li, &from);
                if (!f)
                        continue; /* at the cap: dropped, as a full network would */
                (void)send(f->fd, p->dgram, (size_t)n, MSG_DONTWAIT);
                f->last = now_s();
        }
}

int proxy_expire(struct proxy *p)
{
        time_t now = now_s(), next = -1;

        for (size_t k = 0; k < p->n_flows;) {
                time_t until = p->flows[k].last + PROXY_UDP_IDLE_S - now;
                if (until <= 0) {
                        close(p->flows[k].fd);
                        p->flows[k] = p->flows[--p->n_flows];
                        continue;
                }
                if (next < 0 || until < next)
                        next = until;
                k++;
        }
        return next < 0 ? -1 : (int)next * 1000;
}

void proxy_handle(struct proxy *p, const struct pollfd *pfd)
{
        size_t n = p->n_maps + p->polled_flows, nc = p->n_conns;

        /* Flows first, as polled (new ones are only made below). */
        for (size_t k = 0; k < p->polled_flows; k++)
                if (pfd[p->n_maps + k].revents)
                        flow_reply(p, &p->flows[k]);

        /* Connections first (the poll set was made before any accept). */
        for (size_t k = 0; k < nc; k++)
                conn_step(&p->conns[k], pfd + n + 2 * k);
        for (size_t k = 0; k < p->n_conns;) {
                if (p->conns[k].dead) {
                        conn_close(&p->conns[k]);
                        p->conns[k] = p->conns[--p->n_conns];
                } else
                        k++;
        }
        for (size_t i = 0; i < p->n_maps; i++)
                if ((pfd[i].revents & POLLIN) && p->maps[i].udp)
                        udp_in(p, i);
                else if (pfd[i].revents & POLLIN)
                        for (int round = 0; round < 16 && p->n_conns < PROXY_MAX_CONNS; round++) {
                                size_t before = p->n_conns;
                                accept_one(p, i);
                                if (p->n_conns == before)
                                        break;
                        }
}

void proxy_close(struct proxy *p)
{
        close_listeners(p);
        for (size_t k = 0; k < p->n_conns; k++)
                conn_close(&p->conns[k]);
        p->n_conns = 0;
        for (size_t k = 0; k < p->n_flows; k++)
                close(p->flows[k].fd);
        p->n_flows = p->polled_flows = 0;
        if (p->ctr_ns >= 0) {
                close(p->ctr_ns);
                p->ctr_ns = -1;
        }
}
