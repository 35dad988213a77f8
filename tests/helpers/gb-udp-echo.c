/* A UDP echo server for the port-publishing tests (busybox has no UDP
 * server): answers every datagram on 0.0.0.0:PORT with "echo:" + the
 * datagram. Linked statically so it runs inside a busybox root. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        char buf[65536];
        int fd;

        if (argc != 2) {
                fprintf(stderr, "usage: gb-udp-echo PORT\n");
                return 2;
        }
        sa.sin_port = htons((unsigned short)atoi(argv[1]));
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("gb-udp-echo");
                return 1;
        }
        for (;;) {
                struct sockaddr_in from;
                socklen_t fl = sizeof(from);
                ssize_t n = recvfrom(fd, buf + 5, sizeof(buf) - 5, 0, (struct sockaddr *)&from, &fl);
                if (n < 0)
                        continue;
                memcpy(buf, "echo:", 5);
                (void)sendto(fd, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, fl);
        }
}
