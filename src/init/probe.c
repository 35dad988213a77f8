/* ghostbox-probe: a static helper `ghostbox check` runs inside containers.
 *   ghostbox-probe connect PATH   try to connect(2) to a unix socket;
 *                                 prints "connected" (exit 0) or the error
 * busybox's nc has no unix sockets, and the container may have no libc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (argc != 3 || strcmp(argv[1], "connect") != 0 || strlen(argv[2]) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "usage: ghostbox-probe connect SOCKET\n");
                return 2;
        }
        memcpy(sa.sun_path, argv[2], strlen(argv[2]) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                printf("%s\n", strerror(errno));
                return 1;
        }
        printf("connected\n");
        close(fd);
        return 0;
}
