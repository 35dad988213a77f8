/* ghostbox start, stop, kill, rm, wait, rename: one container verb each,
 * applied to every container named, as Docker does (exit 1 if any failed). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "monitor.h"
#include "util.h"

static int need_args(const char *verb, int argc, int first, int min)
{
        if (argc - first < min) {
                cli_errorf("\"ghostbox %s\" requires at least %d argument%s. See 'ghostbox %s --help'.", verb, min,
                           min == 1 ? "" : "s", verb);
                return -1;
        }
        return 0;
}

int cmd_start(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"attach", no_argument, NULL, 'a'},
                {"interactive", no_argument, NULL, 'i'},
                {"help", no_argument, NULL, 'H'},
                {},
        };
        struct gb_engine e = {0};
        bool attach = false, interactive = false;
        int c, rc = 0;

        while ((c = getopt_long(argc, argv, "+ai", opts, NULL)) != -1) {
                switch (c) {
                case 'a':
                        attach = true;
                        break;
                case 'i':
                        interactive = true;
                        break;
                case 'H':
                        printf("Usage: ghostbox start [-a] [-i] CONTAINER [CONTAINER...]\n\nStart stopped "
                               "containers.\n  -a, --attach       attach stdout/stderr and return the exit code\n"
                               "  -i, --interactive  attach stdin\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (need_args("start", argc, optind, 1) < 0 || cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        for (int i = optind; i < argc; i++) {
                struct gb_error err = {0};
                _cleanup_close_ int afd = -EBADF;
                unsigned flags = attach ? GB_ATTACH_STDOUT | GB_ATTACH_STDERR | (interactive ? GB_ATTACH_STDIN : 0) : 0;
                pid_t mon = 0;

                if (gb_engine_start(&e, argv[i], flags, &afd, &mon, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        rc = 1;
                        continue;
                }
                if (!attach) {
                        printf("%s\n", argv[i]);
                        continue;
                }
                /* Attached start: stream output, then the exit code. */
                {
                        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                        bool tty = false;
                        int status;
                        if (gb_container_lookup(e.cfg.data_root, argv[i], false, &ct, NULL) == 0)
                                tty = json_is_true(json_object_get(json_object_get(ct->doc, "Config"), "Tty"));
                        cli_attach_pump(&e, ct ? ct->id : argv[i], afd, tty, interactive);
                        while (mon > 0 && waitpid(mon, &status, 0) < 0 && errno == EINTR)
                                ;
                        rc = mon > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : rc;
                }
        }
        gb_engine_close(&e);
        return rc;
}

int cmd_stop(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"time", required_argument, NULL, 't'},
                {"timeout", required_argument, NULL, 't'},
                {"help", no_argument, NULL, 'H'},
                {},
        };
        struct gb_engine e = {0};
        uint32_t timeout = 10;
        int c, rc = 0;

        while ((c = getopt_long(argc, argv, "+t:", opts, NULL)) != -1) {
                switch (c) {
                case 't':
                        if (gb_parse_u32(optarg, &timeout) < 0) {
                                cli_errorf("invalid --time \"%s\": expected seconds", optarg);
                                return EXIT_ENGINE;
                        }
                        break;
                case 'H':
                        printf("Usage: ghostbox stop [-t SECONDS] CONTAINER [CONTAINER...]\n\nStop running "
                               "containers: SIGTERM, then SIGKILL after the timeout (default 10 s).\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (need_args("stop", argc, optind, 1) < 0 || cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        for (int i = optind; i < argc; i++) {
                struct gb_error err = {0};
                if (gb_engine_stop(&e, argv[i], (int)timeout, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        rc = 1;
                } else
                        printf("%s\n", argv[i]);
        }
        gb_engine_close(&e);
        return rc;
}

int cmd_kill(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"signal", required_argument, NULL, 's'},
                {"help", no_argument, NULL, 'H'},
                {},
        };
        struct gb_engine e = {0};
        int c, rc = 0, sig = 9;

        while ((c = getopt_long(argc, argv, "+s:", opts, NULL)) != -1) {
                switch (c) {
                case 's':
                        sig = gb_parse_signal(optarg);
                        if (sig < 0) {
                                cli_errorf("invalid signal: %s", optarg);
                                return EXIT_ENGINE;
                        }
                        break;
                case 'H':
                        printf("Usage: ghostbox kill [-s SIGNAL] CONTAINER [CONTAINER...]\n\nSend a signal "
                               "(default KILL) to containers' main process.\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (need_args("kill", argc, optind, 1) < 0 || cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        for (int i = optind; i < argc; i++) {
                struct gb_error err = {0};
                if (gb_engine_kill(&e, argv[i], sig, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        rc = 1;
                } else
                        printf("%s\n", argv[i]);
        }
        gb_engine_close(&e);
        return rc;
}

int cmd_rm(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"force", no_argument, NULL, 'f'},
                {"volumes", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'H'},
                {},
        };
        struct gb_engine e = {0};
        bool force = false, volumes = false;
        int c, rc = 0;

        while ((c = getopt_long(argc, argv, "+fv", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'v':
                        volumes = true;
                        break;
                case 'H':
                        printf("Usage: ghostbox rm [-f] [-v] CONTAINER [CONTAINER...]\n\nRemove containers: "
                               "their mounts, upper layer, state and ID range.\n  -f, --force    kill a running "
                               "container first\n  -v, --volumes  remove its anonymous volumes too\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (need_args("rm", argc, optind, 1) < 0 || cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        for (int i = optind; i < argc; i++) {
                struct gb_error err = {0};
                if (gb_engine_remove(&e, argv[i], force, volumes, &err) < 0) {
                        /* `rm -f` of something already gone succeeds
                         * quietly in Docker too (the monitor's --rm may
                         * have won the race). */
                        if (force && err.code == ENOENT)
                                continue;
                        cli_errorf("Error response from daemon: %s", err.msg);
                        rc = 1;
                } else
                        printf("%s\n", argv[i]);
        }
        gb_engine_close(&e);
        return rc;
}

int cmd_wait(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        struct gb_engine e = {0};
        int rc = 0;

        if (argc > 1 && strcmp(argv[1], "--help") == 0) {
                printf("Usage: ghostbox wait CONTAINER [CONTAINER...]\n\nBlock until containers stop, then print "
                       "their exit codes.\n");
                return 0;
        }
        if (need_args("wait", argc, 1, 1) < 0 || cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        for (int i = 1; i < argc; i++) {
                struct gb_error err = {0};
                int code = 0;
                if (gb_engine_wait(&e, argv[i], &code, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        rc = 1;
                } else
                        printf("%d\n", code);
        }
        gb_engine_close(&e);
        return rc;
}

int cmd_rename(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        struct gb_engine e = {0};
        struct gb_error err = {0};
        int rc = 0;

        if (argc == 2 && strcmp(argv[1], "--help") == 0) {
                printf("Usage: ghostbox rename CONTAINER NEW_NAME\n\nRename a container.\n");
                return 0;
        }
        if (argc != 3) {
                cli_errorf("\"ghostbox rename\" requires exactly 2 arguments: CONTAINER NEW_NAME");
                return EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_container_lookup(e.cfg.data_root, argv[1], true, &c, &err) < 0 ||
            gb_container_rename(e.cfg.data_root, c, argv[2], &err) < 0) {
                cli_errorf("%s", err.msg);
                rc = 1;
        }
        gb_engine_close(&e);
        return rc;
}

int cmd_attach(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_free_ char *state = NULL;
        _cleanup_close_ int afd = -EBADF;
        struct gb_engine e = {0};
        struct gb_error err = {0};
        bool no_stdin = false, tty;
        int first = 1, rc = 1;

        if (argc > 1 && strcmp(argv[1], "--help") == 0) {
                printf("Usage: ghostbox attach [--no-stdin] CONTAINER\n\nAttach your terminal to a running "
                       "container's stdio (its output from now on; its logs keep the past).\n");
                return 0;
        }
        if (argc > 1 && strcmp(argv[1], "--no-stdin") == 0) {
                no_stdin = true;
                first = 2;
        }
        if (argc != first + 1) {
                cli_errorf("\"ghostbox attach\" requires exactly 1 argument.");
                return EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_container_lookup(e.cfg.data_root, argv[first], false, &c, &err) < 0) {
                cli_errorf("%s", err.msg);
                goto out;
        }
        (void)gb_engine_refresh(&e, c, NULL);
        if (strcmp(gb_container_status(c), "running") != 0) {
                cli_errorf("You cannot attach to a stopped container, start it first");
                goto out;
        }
        tty = json_is_true(json_object_get(json_object_get(c->doc, "Config"), "Tty"));
        state = gb_monitor_state_dir(e.cfg.exec_root, c->id);
        if (gb_monitor_attach(
                    state,
                    GB_ATTACH_STDOUT | GB_ATTACH_STDERR |
                            (no_stdin || !json_is_true(json_object_get(json_object_get(c->doc, "Config"), "OpenStdin"))
                                     ? 0
                                     : GB_ATTACH_STDIN),
                    &afd, &err) < 0) {
                cli_errorf("%s", err.msg);
                goto out;
        }
        cli_attach_pump(&e, c->id, afd, tty, !no_stdin);
        /* The exit code, once the container's side closed. */
        {
                int code = 0;
                rc = gb_engine_wait(&e, c->id, &code, NULL) == 0 ? code : 0;
        }
out:
        gb_engine_close(&e);
        return rc;
}
