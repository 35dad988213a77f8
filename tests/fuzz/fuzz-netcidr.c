/* Subnets, gateways and addresses come from API clients (POST
 * /networks/create IPAM.Config, EndpointsConfig IPAMConfig) and from the
 * command line: parsing must never crash, and what it accepts must print
 * back the same way. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), buf[16], again[40];
        uint32_t a, n;
        unsigned p;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (gb_net_parse_ip(s, &a, NULL) == 0 && strcmp(gb_net_ip_str(a, buf), s) != 0)
                abort();
        if (gb_net_parse_cidr(s, &n, &p, NULL) == 0) {
                if (p < 8 || p > 30 || (n & (0xffffffffu >> p)))
                        abort();
                (void)snprintf(again, sizeof(again), "%s/%u", gb_net_ip_str(n, buf), p);
                if (strcmp(again, s) != 0)
                        abort();
        }
        (void)gb_network_name_valid(s);
        free(s);
        return 0;
}
