/* Docker's -p / --expose / -P syntax; see portspec.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "portspec.h"
#include "util.h"

#define PUBLISH_FORM "[IP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp]"
#define EXPOSE_FORM "PORT[-END][/tcp|/udp]"

/* "N" or "N-M", 1..65535. Returns NULL on success, else why not. */
static const char *parse_range(const char *s, uint16_t *lo, uint16_t *hi)
{
        unsigned long v[2];
        const char *p = s;

        for (int i = 0; i < 2; i++) {
                unsigned long n = 0;
                size_t digits = 0;
                while (*p >= '0' && *p <= '9') {
                        n = n * 10 + (unsigned long)(*p++ - '0');
                        if (n > 65535)
                                return "is out of range (1-65535)";
                        digits++;
                }
                if (digits == 0)
                        return "is not a number";
                if (n == 0)
                        return "is out of range (1-65535)";
                v[i] = n;
                if (i == 0 && *p == '-') {
                        p++;
                        continue;
                }
                if (*p)
                        return "is not a number";
                if (i == 0)
                        v[1] = n;
                break;
        }
        if (v[1] < v[0])
                return "is an empty range (END is below the start)";
        *lo = (uint16_t)v[0];
        *hi = (uint16_t)v[1];
        return NULL;
}

/* Split "/proto" off s (modified in place): tcp (the default) or udp. */
static const char *split_proto(char *s, bool *udp)
{
        char *slash = strrchr(s, '/');

        *udp = false;
        if (!slash)
                return NULL;
        *slash = '\0';
        if (strcmp(slash + 1, "tcp") == 0)
                return NULL;
        if (strcmp(slash + 1, "udp") == 0) {
                *udp = true;
                return NULL;
        }
        if (strcmp(slash + 1, "sctp") == 0)
                return "sctp cannot be published by ghostbox (its proxy relays tcp and udp)";
        return "the protocol is neither tcp nor udp";
}

GB_EXPORT const char *gb_portspec_key(char buf[16], unsigned port, bool udp)
{
        snprintf(buf, 16, "%u/%s", port & 0xffff, udp ? "udp" : "tcp");
        return buf;
}

static void add_binding(json_t *bindings, unsigned port, bool udp, const char *ip, const char *host_port)
{
        char key[16];
        json_t *arr;

        gb_portspec_key(key, port, udp);
        arr = json_object_get(bindings, key);
        if (!json_is_array(arr)) {
                arr = json_array();
                json_object_set_new(bindings, key, arr);
        }
        json_array_append_new(arr, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", host_port));
}

GB_EXPORT int gb_portspec_parse_publish(const char *value, json_t *bindings, struct gb_error *err)
{
        _cleanup_free_ char *s = gb_xstrdup(value);
        const char *why, *ip = "", *host = "", *ctr;
        char *c1, *c2;
        uint16_t clo, chi, hlo = 0, hhi = 0;
        struct in_addr a;
        bool udp;

#define FAIL(...)                                                                                                  \
        do {                                                                                                       \
                _cleanup_free_ char *what_ = gb_xasprintf(__VA_ARGS__);                                            \
                return gb_error_set(err, EINVAL, "Failed to parse -p '%s': %s (expected " PUBLISH_FORM ")", value, \
                                    what_);                                                                        \
        } while (0)

        if (s[0] == '[')
                FAIL("IPv6 host addresses are not supported, only IPv4");
        why = split_proto(s, &udp);
        if (why)
                FAIL("%s", why);
        c2 = strrchr(s, ':');
        if (!c2) {
                ctr = s;
        } else {
                *c2 = '\0';
                ctr = c2 + 1;
                c1 = strrchr(s, ':');
                if (!c1) {
                        host = s;
                } else {
                        *c1 = '\0';
                        host = c1 + 1;
                        ip = s;
                        if (strchr(ip, ':'))
                                FAIL("too many ':' (IPv6 host addresses are not supported, only IPv4)");
                        if (*ip && inet_pton(AF_INET, ip, &a) != 1)
                                FAIL("host IP '%s' is not an IPv4 address", ip);
                }
        }
        why = parse_range(ctr, &clo, &chi);
        if (why)
                FAIL("container port '%s' %s", ctr, why);
        if (*host) {
                why = parse_range(host, &hlo, &hhi);
                if (why)
                        FAIL("host port '%s' %s", host, why);
                if (hhi - hlo != chi - clo)
                        FAIL("host port range '%s' and container port range '%s' differ in length", host, ctr);
        }
        if ((unsigned)(chi - clo) + 1 > GB_PORTS_MAX)
                FAIL("more than %d ports in one range", GB_PORTS_MAX);
#undef FAIL
        for (unsigned i = 0; i <= (unsigned)(chi - clo); i++) {
                char hp[8] = "";
                if (*host)
                        snprintf(hp, sizeof(hp), "%u", hlo + i);
                add_binding(bindings, clo + i, udp, ip, hp);
        }
        return 0;
}

GB_EXPORT int gb_portspec_parse_expose(const char *value, json_t *exposed, struct gb_error *err)
{
        _cleanup_free_ char *s = gb_xstrdup(value);
        bool udp;
        const char *why = split_proto(s, &udp);
        uint16_t lo, hi;

        if (why)
                return gb_error_set(err, EINVAL, "Failed to parse --expose '%s': %s (expected " EXPOSE_FORM ")", value,
                                    why);
        why = parse_range(s, &lo, &hi);
        if (!why && (unsigned)(hi - lo) + 1 > GB_PORTS_MAX)
                why = "is a range of more than 1024 ports";
        if (why)
                return gb_error_set(err, EINVAL,
                                    "Failed to parse --expose '%s': port '%s' %s (expected " EXPOSE_FORM ")", value, s,
                                    why);
        for (unsigned p = lo; p <= hi; p++) {
                char key[16];
                json_object_set_new(exposed, gb_portspec_key(key, p, udp), json_object());
        }
        return 0;
}

GB_EXPORT int gb_portspec_parse_key(const char *key, uint16_t *ret_port, bool *ret_udp, struct gb_error *err)
{
        _cleanup_free_ char *s = gb_xstrdup(key);
        bool udp;
        const char *why = split_proto(s, &udp);
        uint16_t lo, hi;

        if (!why && (why = parse_range(s, &lo, &hi)) == NULL && lo != hi)
                why = "is a range (one port per key)";
        if (why)
                return gb_error_set(err, EINVAL, "port '%s': %s (expected PORT/tcp or PORT/udp)", key, why);
        *ret_port = lo;
        if (ret_udp)
                *ret_udp = udp;
        return 0;
}

/* A binding's HostIp and HostPort; "" for either is the default. */
static int binding_fields(json_t *b, const char *key, size_t i, uint32_t *ret_ip, uint16_t *ret_port,
                          struct gb_error *err)
{
        json_t *ipj = json_object_get(b, "HostIp"), *hpj = json_object_get(b, "HostPort");
        const char *ip = json_is_string(ipj) ? json_string_value(ipj) : "";
        const char *hp = json_is_string(hpj) ? json_string_value(hpj) : "";
        struct in_addr a = {0};
        uint16_t lo = 0, hi = 0;

        if (!json_is_object(b) || (ipj && !json_is_string(ipj) && !json_is_null(ipj)) ||
            (hpj && !json_is_string(hpj) && !json_is_null(hpj)))
                return gb_error_set(err, EINVAL,
                                    "HostConfig.PortBindings[\"%s\"][%zu] must be an object "
                                    "{\"HostIp\": string, \"HostPort\": string}",
                                    key, i);
        if (*ip && inet_pton(AF_INET, ip, &a) != 1)
                return gb_error_set(err, EINVAL,
                                    "HostConfig.PortBindings[\"%s\"][%zu].HostIp '%s' is not an IPv4 address (IPv6 is "
                                    "not supported)",
                                    key, i, ip);
        if (*hp) {
                const char *why = parse_range(hp, &lo, &hi);
                if (!why && lo != hi)
                        why = "is a range (a single port or \"\" for a random one is supported)";
                if (why)
                        return gb_error_set(err, EINVAL, "HostConfig.PortBindings[\"%s\"][%zu].HostPort '%s' %s", key,
                                            i, hp, why);
        }
        *ret_ip = a.s_addr;
        *ret_port = lo;
        return 0;
}

GB_EXPORT int gb_portspec_check_bindings(json_t *bindings, struct gb_error *err)
{
        _cleanup_free_ struct gb_port_map *m = NULL;
        size_t n;

        if (bindings && !json_is_null(bindings) && !json_is_object(bindings))
                return gb_error_set(err, EINVAL, "field HostConfig.PortBindings must be an object");
        return gb_portspec_plan(bindings, NULL, false, &m, &n, err);
}

GB_EXPORT int gb_portspec_check_exposed(json_t *exposed, struct gb_error *err)
{
        const char *k;
        json_t *v;
        uint16_t p;

        if (!exposed || json_is_null(exposed))
                return 0;
        if (!json_is_object(exposed))
                return gb_error_set(err, EINVAL, "field Config.ExposedPorts must be an object");
        json_object_foreach (exposed, k, v)
                if (gb_portspec_parse_key(k, &p, NULL, err) < 0)
                        return gb_error_prefix(err, "Config.ExposedPorts");
        return 0;
}

static int plan_add(struct gb_port_map **m, size_t *n, struct gb_port_map pm, struct gb_error *err)
{
        if (*n >= GB_PORTS_MAX)
                return gb_error_set(err, E2BIG, "Failed to publish ports: more than %d", GB_PORTS_MAX);
        *m = gb_xrealloc(*m, (*n + 1) * sizeof(**m));
        (*m)[(*n)++] = pm;
        return 0;
}

GB_EXPORT int gb_portspec_plan(json_t *bindings, json_t *exposed, bool publish_all, struct gb_port_map **ret,
                               size_t *ret_n, struct gb_error *err)
{
        _cleanup_free_ struct gb_port_map *m = NULL;
        size_t n = 0;
        const char *k;
        json_t *v;
        int r;

        json_object_foreach (json_is_object(bindings) ? bindings : NULL, k, v) {
                struct gb_port_map pm = {0};
                json_t *b;
                size_t i;
                r = gb_portspec_parse_key(k, &pm.port, &pm.udp, err);
                if (r < 0)
                        return gb_error_prefix(err, "HostConfig.PortBindings");
                if (json_is_null(v))
                        continue;
                if (!json_is_array(v))
                        return gb_error_set(err, EINVAL, "HostConfig.PortBindings[\"%s\"] must be an array", k);
                if (json_array_size(v) == 0 && publish_all) {
                        /* Docker: -P with an empty binding list publishes it
                         * on a random port too. */
                        r = plan_add(&m, &n, pm, err);
                        if (r < 0)
                                return r;
                }
                json_array_foreach (v, i, b) {
                        r = binding_fields(b, k, i, &pm.host_ip, &pm.host_port, err);
                        if (r < 0)
                                return r;
                        r = plan_add(&m, &n, pm, err);
                        if (r < 0)
                                return r;
                }
        }
        if (publish_all)
                json_object_foreach (json_is_object(exposed) ? exposed : NULL, k, v) {
                        struct gb_port_map pm = {0};
                        char key[16];
                        r = gb_portspec_parse_key(k, &pm.port, &pm.udp, err);
                        if (r < 0)
                                return gb_error_prefix(err, "Config.ExposedPorts");
                        if (json_object_get(bindings, k) ||
                            json_object_get(bindings, gb_portspec_key(key, pm.port, pm.udp)))
                                continue;
                        r = plan_add(&m, &n, pm, err);
                        if (r < 0)
                                return r;
                }
        *ret = TAKE_PTR(m);
        *ret_n = n;
        return 0;
}

GB_EXPORT json_t *gb_portspec_canon_keys(json_t *obj, json_t *value)
{
        json_t *out = json_object(), *v;
        const char *k;

        json_object_foreach (json_is_object(obj) ? obj : NULL, k, v) {
                uint16_t p;
                bool udp;
                char key[16];
                if (gb_portspec_parse_key(k, &p, &udp, NULL) < 0)
                        continue;
                json_object_set_new(out, gb_portspec_key(key, p, udp), json_deep_copy(value));
        }
        return out;
}

GB_EXPORT json_t *gb_portspec_ports_json(const struct gb_port_map *maps, size_t n, json_t *exposed)
{
        json_t *ports = gb_portspec_canon_keys(exposed, json_null());

        for (size_t i = 0; i < n; i++) {
                char key[16], ip[INET_ADDRSTRLEN] = "0.0.0.0", hp[8];
                struct in_addr a = {.s_addr = maps[i].host_ip};
                json_t *arr;
                gb_portspec_key(key, maps[i].port, maps[i].udp);
                snprintf(hp, sizeof(hp), "%u", maps[i].host_port);
                (void)inet_ntop(AF_INET, &a, ip, sizeof(ip));
                arr = json_object_get(ports, key);
                if (!json_is_array(arr)) {
                        arr = json_array();
                        json_object_set_new(ports, key, arr);
                }
                json_array_append_new(arr, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", hp));
        }
        return ports;
}

static int cmp_port_key(const void *a, const void *b)
{
        unsigned long x = strtoul(*(const char *const *)a, NULL, 10), y = strtoul(*(const char *const *)b, NULL, 10);
        return x < y ? -1 : x > y;
}

GB_EXPORT char *gb_portspec_ps_string(json_t *ports)
{
        char *out = gb_xstrdup("");
        _cleanup_free_ const char **keys = NULL;
        size_t nk = 0;
        const char *k;
        json_t *v;

        /* Docker lists them by port number. */
        keys = gb_xcalloc(json_is_object(ports) ? json_object_size(ports) + 1 : 1, sizeof(char *));
        json_object_foreach (json_is_object(ports) ? ports : NULL, k, v)
                keys[nk++] = k;
        qsort(keys, nk, sizeof(char *), cmp_port_key);
        for (size_t ki = 0; ki < nk; ki++) {
                json_t *b;
                size_t i;
                k = keys[ki];
                v = json_object_get(ports, k);
                if (!json_is_array(v) || json_array_size(v) == 0) {
                        char *o = gb_xasprintf("%s%s%s", out, *out ? ", " : "", k);
                        free(out);
                        out = o;
                        continue;
                }
                json_array_foreach (v, i, b) {
                        char *o = gb_xasprintf("%s%s%s:%s->%s", out, *out ? ", " : "",
                                               json_string_value(json_object_get(b, "HostIp")) ?: "",
                                               json_string_value(json_object_get(b, "HostPort")) ?: "", k);
                        free(out);
                        out = o;
                }
        }
        return out;
}

GB_EXPORT json_t *gb_portspec_api_list(json_t *ports)
{
        json_t *list = json_array(), *v;
        const char *k;

        json_object_foreach (json_is_object(ports) ? ports : NULL, k, v) {
                uint16_t p;
                bool udp;
                json_t *b;
                size_t i;
                if (gb_portspec_parse_key(k, &p, &udp, NULL) < 0)
                        continue;
                if (!json_is_array(v) || json_array_size(v) == 0) {
                        json_array_append_new(
                                list, json_pack("{s:i, s:s}", "PrivatePort", (int)p, "Type", udp ? "udp" : "tcp"));
                        continue;
                }
                json_array_foreach (v, i, b) {
                        const char *hp = json_string_value(json_object_get(b, "HostPort")) ?: "0";
                        json_array_append_new(list, json_pack("{s:s, s:i, s:i, s:s}", "IP",
                                                              json_string_value(json_object_get(b, "HostIp")) ?: "",
                                                              "PrivatePort", (int)p, "PublicPort", atoi(hp), "Type",
                                                              udp ? "udp" : "tcp"));
                }
        }
        return list;
}
