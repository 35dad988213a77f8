#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "portspec.h"

/* The PortBindings object one -p value makes, compact. */
static char *publish(const char *v)
{
        json_t *b = json_object();
        struct gb_error err = {0};
        char *s;

        assert_int_equal(gb_portspec_parse_publish(v, b, &err), 0);
        s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(b);
        return s;
}

/* The error a bad -p value gives (and that it fails). */
static void publish_fails(const char *v, const char *needle)
{
        json_t *b = json_object();
        struct gb_error err = {0};

        assert_int_equal(gb_portspec_parse_publish(v, b, &err), -EINVAL);
        if (!strstr(err.msg, needle))
                fail_msg("-p '%s': '%s' does not contain '%s'", v, err.msg, needle);
        assert_non_null(strstr(err.msg, "expected [IP:][HOSTPORT"));
        json_decref(b);
}

static void expect_publish(const char *v, const char *want)
{
        char *got = publish(v);
        if (strcmp(got, want) != 0)
                fail_msg("-p '%s': got %s, want %s", v, got, want);
        free(got);
}

static void test_publish(void **state)
{
        expect_publish("8080:80", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}]}");
        expect_publish("80", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}");
        expect_publish("80/tcp", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}");
        expect_publish("127.0.0.1:8080:80", "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}");
        expect_publish("127.0.0.1::80", "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}]}");
        expect_publish(":80", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}");
        expect_publish("8080-8081:80-81/tcp", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}],"
                                              "\"81/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8081\"}]}");
        expect_publish("7000-7001", "{\"7000/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}],"
                                    "\"7001/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}");
        expect_publish("5353:53/udp", "{\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"5353\"}]}");
        expect_publish("65535:1", "{\"1/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"65535\"}]}");
}

static void test_publish_errors(void **state)
{
        publish_fails("80:abc", "container port 'abc' is not a number");
        publish_fails("abc:80", "host port 'abc' is not a number");
        publish_fails("", "container port '' is not a number");
        publish_fails("0:80", "out of range");
        publish_fails("80:65536", "out of range");
        publish_fails("80:99999999999999999999", "out of range");
        publish_fails("90-80:90-80", "empty range");
        publish_fails("8080-8082:80-81", "differ in length");
        publish_fails("8080-8081:80", "differ in length");
        publish_fails("8080:80/sctp", "sctp cannot be published");
        publish_fails("8080:80/xyz", "neither tcp nor udp");
        publish_fails("[::1]:8080:80", "IPv6");
        publish_fails("::1:8080:80", "IPv6");
        publish_fails("300.1.1.1:8080:80", "'300.1.1.1' is not an IPv4 address");
        publish_fails("1-2000", "more than 1024");
        publish_fails("80:-1", "not a number");
        publish_fails("+80", "not a number");
}

static void test_expose_and_keys(void **state)
{
        json_t *e = json_object();
        struct gb_error err = {0};
        uint16_t p = 0;
        char *s;

        assert_int_equal(gb_portspec_parse_expose("80", e, &err), 0);
        assert_int_equal(gb_portspec_parse_expose("7000-7001/tcp", e, &err), 0);
        s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, "{\"7000/tcp\":{},\"7001/tcp\":{},\"80/tcp\":{}}");
        free(s);
        assert_int_equal(gb_portspec_parse_expose("x", e, &err), -EINVAL);
        assert_string_equal(err.msg,
                            "Failed to parse --expose 'x': port 'x' is not a number (expected PORT[-END][/tcp|/udp])");
        assert_int_equal(gb_portspec_parse_expose("53/sctp", e, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "--expose '53/sctp': sctp cannot be published"));
        assert_int_equal(gb_portspec_parse_expose("53/udp", e, &err), 0);
        assert_non_null(json_object_get(e, "53/udp"));
        json_decref(e);

        bool udp = true;
        assert_int_equal(gb_portspec_parse_key("80/tcp", &p, &udp, &err), 0);
        assert_int_equal(p, 80);
        assert_false(udp);
        assert_int_equal(gb_portspec_parse_key("443", &p, &udp, &err), 0);
        assert_int_equal(p, 443);
        assert_false(udp);
        assert_int_equal(gb_portspec_parse_key("53/udp", &p, &udp, &err), 0);
        assert_int_equal(p, 53);
        assert_true(udp);
        assert_int_equal(gb_portspec_parse_key("80-81/tcp", &p, NULL, &err), -EINVAL);
        assert_int_equal(gb_portspec_parse_key("80/sctp", &p, NULL, &err), -EINVAL);
        assert_int_equal(gb_portspec_parse_key("", &p, NULL, &err), -EINVAL);
}

static void test_api_shapes(void **state)
{
        struct gb_error err = {0};
        json_t *b;

        assert_int_equal(gb_portspec_check_bindings(NULL, &err), 0);
        b = json_loads("{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}],\"81/tcp\":null,\"82/tcp\":[]}", 0, NULL);
        assert_int_equal(gb_portspec_check_bindings(b, &err), 0);
        json_decref(b);
        b = json_loads("[]", 0, NULL);
        assert_int_equal(gb_portspec_check_bindings(b, &err), -EINVAL);
        assert_string_equal(err.msg, "field HostConfig.PortBindings must be an object");
        json_decref(b);
        b = json_loads("{\"80/tcp\":[{\"HostPort\":8080}]}", 0, NULL);
        assert_int_equal(gb_portspec_check_bindings(b, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "HostConfig.PortBindings[\"80/tcp\"][0] must be an object"));
        json_decref(b);
        b = json_loads("{\"80/tcp\":{\"HostPort\":\"1\"}}", 0, NULL);
        assert_int_equal(gb_portspec_check_bindings(b, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "must be an array"));
        json_decref(b);
        b = json_loads("{\"80/tcp\":[{\"HostIp\":\"::\",\"HostPort\":\"1\"}]}", 0, NULL);
        assert_int_equal(gb_portspec_check_bindings(b, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "HostIp '::' is not an IPv4 address"));
        json_decref(b);
        b = json_loads("{\"80/tcp\":[{\"HostPort\":\"8000-8010\"}]}", 0, NULL);
        assert_int_equal(gb_portspec_check_bindings(b, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "is a range"));
        json_decref(b);
        b = json_loads("{\"53/sctp\":[{\"HostPort\":\"53\"}]}", 0, NULL);
        assert_int_equal(gb_portspec_check_bindings(b, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "HostConfig.PortBindings: port '53/sctp': sctp"));
        json_decref(b);
        b = json_loads("{\"80/tcp\":{}}", 0, NULL);
        assert_int_equal(gb_portspec_check_exposed(b, &err), 0);
        json_decref(b);
        b = json_loads("{\"x/tcp\":{}}", 0, NULL);
        assert_int_equal(gb_portspec_check_exposed(b, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "Config.ExposedPorts: port 'x/tcp'"));
        json_decref(b);
}

static void test_plan_and_records(void **state)
{
        json_t *b = json_loads("{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"},{\"HostPort\":\"\"}]}", 0,
                               NULL);
        json_t *e = json_loads("{\"80/tcp\":{},\"443/tcp\":{}}", 0, NULL), *ports, *list;
        struct gb_port_map *m = NULL;
        struct gb_error err = {0};
        size_t n = 0;
        char *s;

        assert_int_equal(gb_portspec_plan(b, e, false, &m, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(m[0].port, 80);
        assert_int_equal(m[0].host_port, 8080);
        assert_int_equal(m[0].host_ip, htonl(0x7f000001));
        assert_int_equal(m[1].host_port, 0);
        assert_int_equal(m[1].host_ip, 0);
        free(m);
        /* -P adds the exposed port without a binding, on a random port */
        assert_int_equal(gb_portspec_plan(b, e, true, &m, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_int_equal(m[2].port, 443);
        assert_int_equal(m[2].host_port, 0);
        m[1].host_port = 32768; /* as the monitor resolves them */
        m[2].host_port = 32769;
        ports = gb_portspec_ports_json(m, n, e);
        s = json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, "{\"443/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"32769\"}],"
                               "\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"},"
                               "{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"32768\"}]}");
        free(s);
        s = gb_portspec_ps_string(ports);
        assert_non_null(strstr(s, "127.0.0.1:8080->80/tcp"));
        assert_non_null(strstr(s, "0.0.0.0:32768->80/tcp"));
        assert_non_null(strstr(s, "0.0.0.0:32769->443/tcp"));
        free(s);
        list = gb_portspec_api_list(ports);
        assert_int_equal(json_array_size(list), 3);
        s = json_dumps(json_array_get(list, 0), JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, "{\"IP\":\"127.0.0.1\",\"PrivatePort\":80,\"PublicPort\":8080,\"Type\":\"tcp\"}");
        free(s);
        json_decref(list);
        json_decref(ports);
        free(m);
        /* tcp and udp on the same port number are two listeners */
        json_decref(b);
        b = json_loads("{\"53/tcp\":[{\"HostPort\":\"5353\"}],\"53/udp\":[{\"HostPort\":\"5353\"}]}", 0, NULL);
        assert_int_equal(gb_portspec_plan(b, NULL, false, &m, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_false(m[0].udp);
        assert_true(m[1].udp);
        ports = gb_portspec_ports_json(m, n, NULL);
        list = gb_portspec_api_list(ports);
        s = json_dumps(json_array_get(list, 1), JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, "{\"IP\":\"0.0.0.0\",\"PrivatePort\":53,\"PublicPort\":5353,\"Type\":\"udp\"}");
        free(s);
        json_decref(list);
        json_decref(ports);
        free(m);
        /* stopped: every exposed port, null */
        ports = gb_portspec_ports_json(NULL, 0, e);
        s = json_dumps(ports, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, "{\"443/tcp\":null,\"80/tcp\":null}");
        free(s);
        s = gb_portspec_ps_string(ports);
        assert_string_equal(s, "80/tcp, 443/tcp");
        free(s);
        json_decref(ports);
        json_decref(b);
        json_decref(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_publish),          cmocka_unit_test(test_publish_errors),
                cmocka_unit_test(test_expose_and_keys),  cmocka_unit_test(test_api_shapes),
                cmocka_unit_test(test_plan_and_records),
        };
        return cmocka_run_group_tests_name("portspec", tests, NULL, NULL);
}
