/* ghostbox commit: a container's changes as a new image, like `docker
 * commit`. The layer keeps container IDs, so the image is shared by every
 * ID range like a loaded one. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "commit.h"
#include "util.h"

int cmd_commit(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"author", required_argument, NULL, 'a'},  {"change", required_argument, NULL, 'c'},
                {"message", required_argument, NULL, 'm'}, {"pause", optional_argument, NULL, 'p'},
                {"help", no_argument, NULL, 'h'},          {0}};
        _cleanup_strv_ char **changes = NULL;
        struct gb_commit_req req = {0};
        struct gb_engine e = {0};
        struct gb_error err = {0};
        char id[GB_DIGEST_LEN];
        size_t n = 0;
        int ch;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "+a:c:m:p", opts, NULL)) != -1) {
                switch (ch) {
                case 'a':
                        req.author = optarg;
                        break;
                case 'c':
                        changes = gb_xrealloc(changes, (n + 2) * sizeof(char *));
                        changes[n++] = gb_xstrdup(optarg);
                        changes[n] = NULL;
                        break;
                case 'm':
                        req.comment = optarg;
                        break;
                case 'p':
                        /* Docker pauses by default; without cgroups there is
                         * no freezer, so the flag is accepted and has no
                         * effect (see gb_engine_commit). */
                        break;
                case 'h':
                        printf("Usage: ghostbox commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]\n\n"
                               "Create a new image from a container's changes.\n\n"
                               "  -a, --author string   Author (e.g. \"Jane Doe <jane@example.com>\")\n"
                               "  -c, --change list     Apply a Dockerfile instruction to the image (CMD, "
                               "ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)\n"
                               "  -m, --message string  Commit message\n"
                               "  -p, --pause           Accepted for Docker's sake; the container is not paused "
                               "(no cgroup freezer)\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (argc - optind < 1 || argc - optind > 2) {
                cli_errorf("\"ghostbox commit\" requires at least 1 and at most 2 arguments: CONTAINER "
                           "[REPOSITORY[:TAG]]");
                return EXIT_ENGINE;
        }
        req.ref = argc - optind == 2 ? argv[optind + 1] : NULL;
        req.changes = changes;
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_engine_commit(&e, argv[optind], &req, id, &err) < 0) {
                cli_errorf("%s", err.msg);
                gb_engine_close(&e);
                return 1;
        }
        printf("%s\n", id);
        gb_engine_close(&e);
        return 0;
}
