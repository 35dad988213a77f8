/* ghostbox run / create: Docker's flags into struct gb_run_opts, then the
 * engine; `run` also starts, attaches and returns the container's exit
 * code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "logfile.h"
#include "monitor.h"
#include "portspec.h"
#include "util.h"

static void strv_add(char ***v, const char *s)
{
        size_t n = gb_strv_len(*v);
        *v = gb_xrealloc(*v, (n + 2) * sizeof(**v));
        (*v)[n] = gb_xstrdup(s);
        (*v)[n + 1] = NULL;
}

/* -e KEY=VALUE, or -e KEY to take the value from our environment (left out
 * when unset, as Docker does). */
static int add_env(struct gb_run_opts *o, const char *kv, const char *origin)
{
        size_t klen = strcspn(kv, "=");

        if (klen == 0) {
                cli_errorf("invalid environment variable %s\"%s\": the name is empty", origin, kv);
                return -1;
        }
        for (size_t i = 0; i < klen; i++)
                if (kv[i] == ' ' || kv[i] == '\t') {
                        cli_errorf("variable '%.*s' contains whitespaces%s", (int)klen, kv, origin);
                        return -1;
                }
        if (kv[klen] == '=') {
                strv_add(&o->env, kv);
                return 0;
        }
        const char *val = getenv(kv);
        if (val) {
                _cleanup_free_ char *full = gb_xasprintf("%s=%s", kv, val);
                strv_add(&o->env, full);
        }
        return 0;
}

static int add_env_file(struct gb_run_opts *o, const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        unsigned n = 0;

        if (!f) {
                cli_errorf("Failed to open env file '%s': %s", path, strerror(errno));
                return -1;
        }
        while (getline(&line, &cap, f) > 0) {
                char *s = line;
                n++;
                s[strcspn(s, "\r\n")] = '\0';
                while (*s == ' ' || *s == '\t')
                        s++;
                if (!*s || *s == '#')
                        continue;
                _cleanup_free_ char *origin = gb_xasprintf(" (in %s line %u)", path, n);
                if (add_env(o, s, origin) < 0)
                        return -1;
        }
        return 0;
}

static int add_mount(struct gb_run_opts *o, const char *value, bool volume_flag)
{
        struct gb_error err = {0};
        struct gb_mount_req m;
        int r = volume_flag ? gb_mountspec_parse_volume(value, &m, &err) : gb_mountspec_parse_mount(value, &m, &err);

        if (r < 0) {
                cli_errorf("%s", err.msg);
                return -1;
        }
        o->mounts = gb_xrealloc(o->mounts, (o->n_mounts + 1) * sizeof(*o->mounts));
        o->mounts[o->n_mounts++] = m;
        return 0;
}

static int security_opt(struct gb_run_opts *o, const char *v)
{
        if (strcmp(v, "no-new-privileges") == 0 || strcmp(v, "no-new-privileges=true") == 0 ||
            strcmp(v, "no-new-privileges:true") == 0) {
                o->no_new_privileges = true;
                return 0;
        }
        if (strcmp(v, "no-new-privileges=false") == 0 || strcmp(v, "no-new-privileges:false") == 0) {
                o->no_new_privileges = false;
                return 0;
        }
        if (gb_str_has_prefix(v, "seccomp=") || gb_str_has_prefix(v, "seccomp:")) {
                free(o->seccomp);
                o->seccomp = gb_xstrdup(v + 8);
                return 0;
        }
        if (gb_str_has_prefix(v, "apparmor=") || gb_str_has_prefix(v, "label=")) {
                /* No AppArmor/SELinux support here: say so rather than
                 * pretend to apply it. */
                cli_errorf("--security-opt %s: AppArmor and SELinux are not supported by ghostbox", v);
                return -1;
        }
        cli_errorf("invalid --security-opt: \"%s\" (supported: no-new-privileges, seccomp=unconfined|FILE)", v);
        return -1;
}

static void usage(FILE *f, const char *verb)
{
        fprintf(f,
                "Usage: ghostbox %s [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
                "       ghostbox %s [OPTIONS] --rootfs DIR COMMAND [ARG...]\n\n"
                "%s a container. Its root runs as an unprivileged host UID (user namespace\n"
                "remapping) unless --userns=host is given.\n\n"
                "Options:\n"
                "  -d, --detach             run in the background, print the container ID\n"
                "  -i, --interactive        keep stdin open\n"
                "  -t, --tty                allocate a pseudo-terminal\n"
                "      --rm                 remove the container when it exits\n"
                "      --name NAME          name the container\n"
                "  -e, --env KEY[=VALUE]    set an environment variable\n"
                "      --env-file FILE      read variables from FILE\n"
                "  -w, --workdir DIR        working directory inside\n"
                "  -u, --user USER[:GROUP]  user inside (name or number)\n"
                "  -h, --hostname NAME      container host name\n"
                "      --entrypoint CMD     override the image's entrypoint\n"
                "      --read-only          mount the root filesystem read-only\n"
                "      --cap-add CAP        add a capability (or ALL)\n"
                "      --cap-drop CAP       drop a capability (or ALL)\n"
                "      --security-opt OPT   no-new-privileges, seccomp=unconfined|FILE\n"
                "      --userns MODE        host (no remapping), auto[:size=N] (a range of its own)\n"
                "      --privileged         all capabilities, host devices (needs --userns=host)\n"
                "      --pid host           share the host's PID namespace (needs --userns=host)\n"
                "      --network MODE       none, host (needs --userns=host), bridge or a network's name\n"
                "                           (ghostbox network create); default: private (loopback only)\n"
                "      --network-alias NAME another name peers on the network resolve to this container\n"
                "      --ip ADDR            this container's address on its network\n"
                "  -p, --publish SPEC       publish a port: [IP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp]\n"
                "  -P, --publish-all        publish every exposed port on a random host port\n"
                "      --expose PORT[-END]  expose a port (published by -P)\n"
                "  -v, --volume SRC:DST[:OPTS]  bind mount (OPTS: ro, rw, idmap, propagation)\n"
                "      --mount SPEC         type=bind|tmpfs,src=..,dst=..,readonly,...\n"
                "      --tmpfs DST[:OPTS]   mount a tmpfs\n"
                "      --init               run ghostbox-init as PID 1 (forwards signals, reaps zombies)\n"
                "      --rootfs DIR         run from a directory instead of an image (as podman)\n",
                verb, verb, strcmp(verb, "run") == 0 ? "Run a command in a new" : "Create a new");
}

enum {
        OPT_RM = 1000,
        OPT_NAME,
        OPT_ENV_FILE,
        OPT_ENTRYPOINT,
        OPT_READ_ONLY,
        OPT_CAP_ADD,
        OPT_CAP_DROP,
        OPT_SECURITY_OPT,
        OPT_USERNS,
        OPT_PRIVILEGED,
        OPT_PID,
        OPT_NETWORK,
        OPT_NETWORK_ALIAS,
        OPT_IP,
        OPT_MOUNT,
        OPT_TMPFS,
        OPT_INIT,
        OPT_ROOTFS,
        OPT_HELP,
        OPT_EXPOSE,
};

/* Parse argv into o; *ret_first is the index of IMAGE (or of COMMAND with
 * --rootfs). Returns -1 after printing an error, 1 for --help. */
static int parse_run_flags(const char *verb, int argc, char **argv, struct gb_run_opts *o, char **ret_rootfs,
                           int *ret_first)
{
        static const struct option opts[] = {
                {"detach", no_argument, NULL, 'd'},
                {"interactive", no_argument, NULL, 'i'},
                {"tty", no_argument, NULL, 't'},
                {"rm", no_argument, NULL, OPT_RM},
                {"name", required_argument, NULL, OPT_NAME},
                {"env", required_argument, NULL, 'e'},
                {"env-file", required_argument, NULL, OPT_ENV_FILE},
                {"workdir", required_argument, NULL, 'w'},
                {"user", required_argument, NULL, 'u'},
                {"hostname", required_argument, NULL, 'h'},
                {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
                {"read-only", no_argument, NULL, OPT_READ_ONLY},
                {"cap-add", required_argument, NULL, OPT_CAP_ADD},
                {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
                {"security-opt", required_argument, NULL, OPT_SECURITY_OPT},
                {"userns", required_argument, NULL, OPT_USERNS},
                {"privileged", no_argument, NULL, OPT_PRIVILEGED},
                {"pid", required_argument, NULL, OPT_PID},
                {"network", required_argument, NULL, OPT_NETWORK},
                {"net", required_argument, NULL, OPT_NETWORK},
                {"network-alias", required_argument, NULL, OPT_NETWORK_ALIAS},
                {"net-alias", required_argument, NULL, OPT_NETWORK_ALIAS},
                {"ip", required_argument, NULL, OPT_IP},
                {"volume", required_argument, NULL, 'v'},
                {"mount", required_argument, NULL, OPT_MOUNT},
                {"tmpfs", required_argument, NULL, OPT_TMPFS},
                {"init", no_argument, NULL, OPT_INIT},
                {"rootfs", required_argument, NULL, OPT_ROOTFS},
                {"help", no_argument, NULL, OPT_HELP},
                {"publish", required_argument, NULL, 'p'},
                {"publish-all", no_argument, NULL, 'P'},
                {"expose", required_argument, NULL, OPT_EXPOSE},
                {},
        };
        struct gb_error err = {0};
        int c;

        o->userns_size = 65536;
        while ((c = getopt_long(argc, argv, "+dite:w:u:h:v:p:P", opts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        o->detach = true;
                        break;
                case 'i':
                        o->interactive = true;
                        break;
                case 't':
                        o->tty = true;
                        break;
                case OPT_RM:
                        o->rm = true;
                        break;
                case OPT_NAME:
                        free(o->name);
                        o->name = gb_xstrdup(optarg);
                        break;
                case 'e':
                        if (add_env(o, optarg, "") < 0)
                                return -1;
                        break;
                case OPT_ENV_FILE:
                        if (add_env_file(o, optarg) < 0)
                                return -1;
                        break;
                case 'w':
                        free(o->workdir);
                        o->workdir = gb_xstrdup(optarg);
                        break;
                case 'u':
                        free(o->user);
                        o->user = gb_xstrdup(optarg);
                        break;
                case 'h':
                        free(o->hostname);
                        o->hostname = gb_xstrdup(optarg);
                        break;
                case OPT_ENTRYPOINT:
                        gb_strv_free(o->entrypoint);
                        o->entrypoint = NULL;
                        strv_add(&o->entrypoint, optarg);
                        o->entrypoint_set = true;
                        break;
                case OPT_READ_ONLY:
                        o->read_only = true;
                        break;
                case OPT_CAP_ADD:
                        strv_add(&o->cap_add, optarg);
                        break;
                case OPT_CAP_DROP:
                        strv_add(&o->cap_drop, optarg);
                        break;
                case OPT_SECURITY_OPT:
                        if (security_opt(o, optarg) < 0)
                                return -1;
                        break;
                case OPT_USERNS:
                        if (gb_runspec_parse_userns(optarg, o, &err) < 0) {
                                cli_errorf("%s", err.msg);
                                return -1;
                        }
                        break;
                case OPT_PRIVILEGED:
                        o->privileged = true;
                        break;
                case OPT_PID:
                        if (strcmp(optarg, "host") != 0 && *optarg) {
                                cli_errorf("--pid %s: only \"host\" is supported", optarg);
                                return -1;
                        }
                        o->pid_host = *optarg != '\0';
                        break;
                case OPT_NETWORK:
                        o->net_host = o->net_none = false;
                        o->net_private = strcmp(optarg, "private") == 0;
                        if (strcmp(optarg, "host") == 0)
                                o->net_host = true;
                        else if (strcmp(optarg, "none") == 0)
                                o->net_none = true;
                        else if (strcmp(optarg, "default") != 0 && strcmp(optarg, "private") != 0) {
                                free(o->network);
                                o->network = gb_xstrdup(optarg);
                        } else {
                                free(o->network);
                                o->network = NULL;
                        }
                        break;
                case OPT_NETWORK_ALIAS: {
                        size_t n = gb_strv_len(o->net_aliases);
                        o->net_aliases = gb_xrealloc(o->net_aliases, (n + 2) * sizeof(char *));
                        o->net_aliases[n] = gb_xstrdup(optarg);
                        o->net_aliases[n + 1] = NULL;
                        break;
                }
                case OPT_IP:
                        free(o->ip);
                        o->ip = gb_xstrdup(optarg);
                        break;
                case 'v':
                        if (add_mount(o, optarg, true) < 0)
                                return -1;
                        break;
                case OPT_MOUNT:
                        if (add_mount(o, optarg, false) < 0)
                                return -1;
                        break;
                case OPT_TMPFS:
                        strv_add(&o->tmpfs, optarg);
                        break;
                case OPT_INIT:
                        o->init = true;
                        break;
                case OPT_ROOTFS:
                        free(*ret_rootfs);
                        *ret_rootfs = gb_xstrdup(optarg);
                        break;
                case 'p':
                        if (!o->port_bindings)
                                o->port_bindings = json_object();
                        if (gb_portspec_parse_publish(optarg, o->port_bindings, &err) < 0) {
                                cli_errorf("%s", err.msg);
                                return -1;
                        }
                        break;
                case 'P':
                        o->publish_all = true;
                        break;
                case OPT_EXPOSE:
                        if (!o->exposed_ports)
                                o->exposed_ports = json_object();
                        if (gb_portspec_parse_expose(optarg, o->exposed_ports, &err) < 0) {
                                cli_errorf("%s", err.msg);
                                return -1;
                        }
                        break;
                case OPT_HELP:
                        usage(stdout, verb);
                        return 1;
                default:
                        fprintf(stderr, "See 'ghostbox %s --help'.\n", verb);
                        return -1;
                }
        }
        if (o->net_host && (json_object_size(o->port_bindings) > 0 || o->publish_all))
                fprintf(stderr, "WARNING: Published ports are discarded when using host network mode\n");
        if (o->rm && o->detach && strcmp(verb, "create") == 0)
                o->detach = false;
        *ret_first = optind;
        return 0;
}

static int run_or_create(struct gb_cli_ctx *ctx, int argc, char **argv, bool start)
{
        const char *verb = start ? "run" : "create";
        struct gb_run_opts o = {0};
        struct gb_engine e = {0};
        struct gb_create_src src = {0};
        struct gb_error err = {0};
        _cleanup_free_ char *rootfs = NULL;
        char id[GB_CONTAINER_ID_LEN + 1];
        int first, r, code = EXIT_ENGINE;

        r = parse_run_flags(verb, argc, argv, &o, &rootfs, &first);
        if (r != 0) {
                gb_run_opts_clear(&o);
                return r > 0 ? 0 : EXIT_ENGINE;
        }
        if (!rootfs) {
                if (first >= argc) {
                        cli_errorf("\"ghostbox %s\" requires at least 1 argument (an image, or --rootfs DIR).", verb);
                        gb_run_opts_clear(&o);
                        return EXIT_ENGINE;
                }
                o.image = gb_xstrdup(argv[first++]);
        }
        for (int i = first; i < argc; i++)
                strv_add(&o.cmd, argv[i]);
        if (cli_open_engine(ctx, &e) < 0) {
                gb_run_opts_clear(&o);
                return EXIT_ENGINE;
        }
        src.rootfs_dir = rootfs;
        src.image_ref = o.image;
        if (gb_engine_create(&e, &o, &src, id, &err) < 0) {
                cli_errorf("%s", err.msg);
                goto out;
        }
        if (!start) {
                printf("%s\n", id);
                code = 0;
                goto out;
        }
        {
                unsigned flags =
                        o.detach ? 0 : GB_ATTACH_STDOUT | GB_ATTACH_STDERR | (o.interactive ? GB_ATTACH_STDIN : 0);
                _cleanup_close_ int afd = -EBADF;
                pid_t mon = 0;
                int status;

                if (gb_engine_start(&e, id, flags, &afd, &mon, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        if (o.rm)
                                (void)gb_engine_remove(&e, id, true, true, NULL);
                        /* Docker: 127 when the command does not exist, 126
                         * when it cannot be invoked. */
                        if (strstr(err.msg, "not found in the container"))
                                code = err.code == ENOENT ? 127 : err.code == EACCES ? 126 : EXIT_ENGINE;
                        goto out;
                }
                if (o.detach) {
                        printf("%s\n", id);
                        code = 0;
                        goto out;
                }
                cli_attach_pump(&e, id, afd, o.tty, o.interactive);
                /* The monitor exits with the container's code, after
                 * --rm's removal: nothing is left when we return. */
                while (waitpid(mon, &status, 0) < 0 && errno == EINTR)
                        ;
                code = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_ENGINE;
        }
out:
        gb_engine_close(&e);
        gb_run_opts_clear(&o);
        return code;
}

int cmd_run(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        return run_or_create(ctx, argc, argv, true);
}

int cmd_create(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        return run_or_create(ctx, argc, argv, false);
}
