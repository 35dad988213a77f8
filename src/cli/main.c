/* ghostbox: the daemonless CLI. Thin: parse flags, call libghostbox, print. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "verbs.h"
#include "util.h"

/* Docker's convention: 125 means the engine itself failed. */
#define EXIT_ENGINE 125

static const struct gb_verb verbs[] = {
        {"version", cmd_version, "Show the ghostbox version"},
        {"idmap", cmd_idmap, "Show the user-namespace remapping and translate IDs"},
        {"info", cmd_info, "Show version, configuration, remapping and kernel features"},
        {"run", cmd_run, "Run a command in a new container"},
        {"create", cmd_create, "Create a new container"},
        {"start", cmd_start, "Start one or more stopped containers"},
        {"stop", cmd_stop, "Stop one or more running containers"},
        {"kill", cmd_kill, "Send a signal to running containers"},
        {"rm", cmd_rm, "Remove one or more containers"},
        {"wait", cmd_wait, "Wait for containers to stop, print their exit codes"},
        {"rename", cmd_rename, "Rename a container"},
        {"build", cmd_build, "Build an image from a Dockerfile"},
        {"commit", cmd_commit, "Create a new image from a container's changes"},
        {"ps", cmd_ps, "List containers"},
        {"port", cmd_port, "List port mappings of a container"},
        {"inspect", cmd_inspect, "Show low-level information on containers"},
        {"logs", cmd_logs, "Fetch the logs of a container"},
        {"cp", cmd_cp, "Copy files between a container and the host"},
        {"exec", cmd_exec, "Run a command in a running container"},
        {"attach", cmd_attach, "Attach to a running container's stdio"},
        {"volume", cmd_volume, "Manage volumes (and pre-own host directories)"},
        {"network", cmd_network, "Manage bridge networks"},
        {"audit", cmd_audit, "List risky containers; fail a pipeline with --fail-on"},
        {"check", cmd_check, "Prove the remapping on this host (seeds' T1-T7 and checklist)"},
        {"images", cmd_images, "List images"},
        {"image", cmd_image, "Manage images (prune)"},
        {"import", cmd_import, "Import a root filesystem tarball as an image"},
        {"load", cmd_load, "Load images from a docker-save or OCI archive"},
        {"rmi", cmd_rmi, "Remove images"},
        {"save", cmd_save, "Save images to a tar archive"},
        {"tag", cmd_tag, "Give an image another name"},
};

void cli_errorf(const char *fmt, ...)
{
        va_list ap;

        fputs("ghostbox: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void cli_warn_handler(const char *msg, void *userdata)
{
        (void)userdata;
        fprintf(stderr, "ghostbox: warning: %s\n", msg);
}

int cmd_version(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        (void)ctx;
        if (argc > 1 && strcmp(argv[1], "--help") == 0) {
                printf("Usage: ghostbox version\n\nShow the ghostbox version.\n");
                return 0;
        }
        printf("ghostbox version %s\n", GB_VERSION);
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ghostbox [--config FILE] [--debug] COMMAND [ARG...]\n\n"
                   "A container engine whose containers never run as host root.\n\n"
                   "Options:\n"
                   "  --config FILE   daemon.json to use (default /etc/ghostbox/daemon.json,\n"
                   "                  or $GHOSTBOX_CONFIG)\n"
                   "  --data-root DIR       where images and containers live (default /var/lib/ghostbox)\n"
                   "  --exec-root DIR       runtime state (default /run/ghostbox)\n"
                   "  --userns-remap SPEC   remap user: default, USER[:GROUP], UID[:GID], or \"\" for off\n"
                   "  --debug         more detail in errors\n"
                   "  -h, --help      this help\n"
                   "  -v, --version   print the version\n\n"
                   "Commands:\n");
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                fprintf(f, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(f, "\nRun 'ghostbox COMMAND --help' for more on a command.\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"config", required_argument, NULL, 'c'},    {"data-root", required_argument, NULL, 'R'},
                {"exec-root", required_argument, NULL, 'E'}, {"userns-remap", required_argument, NULL, 'U'},
                {"debug", no_argument, NULL, 'D'},           {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'v'},         {},
        };
        struct gb_cli_ctx ctx = {.config_path = getenv("GHOSTBOX_CONFIG"), .argv = argv};
        int c;

        gb_ensure_std_fds();
        gb_set_warn_handler(cli_warn_handler, NULL);
        /* '+' stops at the first non-option: the verb owns the rest. */
        while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        ctx.config_path = optarg;
                        break;
                case 'R':
                        ctx.data_root = optarg;
                        break;
                case 'E':
                        ctx.exec_root = optarg;
                        break;
                case 'U':
                        ctx.userns_remap = optarg;
                        break;
                case 'D':
                        ctx.debug = 1;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'v':
                        return cmd_version(&ctx, 0, NULL);
                default:
                        usage(stderr);
                        return EXIT_ENGINE;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_ENGINE;
        }
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
                if (strcmp(argv[optind], verbs[i].name) == 0) {
                        int first = optind;

                        /* Each verb parses its own options; 0 makes glibc's
                         * getopt start over from scratch. */
                        optind = 0;
                        return verbs[i].fn(&ctx, argc - first, argv + first);
                }
        }
        cli_errorf("'%s' is not a ghostbox command. See 'ghostbox --help'.", argv[optind]);
        return EXIT_ENGINE;
}
