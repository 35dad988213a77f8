/* ghostbox build: `docker build` with the classic builder's output. Every
 * step's container runs remapped like any other (see build.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "cleanup.h"
#include "cli-engine.h"
#include "util.h"

static void strv_add(char ***v, const char *s)
{
        size_t n = gb_strv_len(*v);
        *v = gb_xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = gb_xstrdup(s);
        (*v)[n + 1] = NULL;
}

static void log_out(const char *text, size_t len, void *data)
{
        (void)data;
        (void)fwrite(text, 1, len, stdout);
        (void)fflush(stdout);
}

int cmd_build(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        enum { OPT_BUILD_ARG = 1000, OPT_TARGET, OPT_NO_CACHE, OPT_LABEL, OPT_RM, OPT_FORCE_RM, OPT_HELP };
        static const struct option opts[] = {
                {"tag", required_argument, NULL, 't'},
                {"file", required_argument, NULL, 'f'},
                {"build-arg", required_argument, NULL, OPT_BUILD_ARG},
                {"target", required_argument, NULL, OPT_TARGET},
                {"quiet", no_argument, NULL, 'q'},
                {"no-cache", no_argument, NULL, OPT_NO_CACHE},
                {"label", required_argument, NULL, OPT_LABEL},
                {"rm", optional_argument, NULL, OPT_RM},
                {"force-rm", no_argument, NULL, OPT_FORCE_RM},
                {"help", no_argument, NULL, OPT_HELP},
                {0},
        };
        _cleanup_strv_ char **tags = NULL, **args = NULL, **labels = NULL;
        _cleanup_free_ char *text = NULL;
        const char *file = NULL, *target = NULL;
        struct gb_build_opts bo = {0};
        struct gb_engine e = {0};
        struct gb_error err = {0};
        char id[GB_DIGEST_LEN];
        bool quiet = false;
        size_t len = 0;
        int ch;

        optind = 1;
        while ((ch = getopt_long(argc, argv, "+t:f:q", opts, NULL)) != -1) {
                switch (ch) {
                case 't':
                        strv_add(&tags, optarg);
                        break;
                case 'f':
                        file = optarg;
                        break;
                case OPT_BUILD_ARG:
                        /* "K" alone takes the value from our environment (Docker). */
                        if (!strchr(optarg, '=') && getenv(optarg)) {
                                _cleanup_free_ char *kv = gb_xasprintf("%s=%s", optarg, getenv(optarg));
                                strv_add(&args, kv);
                        } else
                                strv_add(&args, optarg);
                        break;
                case OPT_TARGET:
                        target = optarg;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case OPT_NO_CACHE: /* there is no cache: every build runs every step */
                case OPT_RM:       /* intermediate containers are always removed */
                case OPT_FORCE_RM:
                        break;
                case OPT_LABEL:
                        strv_add(&labels, optarg);
                        break;
                case OPT_HELP:
                        printf("Usage: ghostbox build [OPTIONS] CONTEXT_DIR\n\n"
                               "Build an image from a Dockerfile; every RUN runs in a remapped container.\n\n"
                               "  -t, --tag NAME[:TAG]     name the image (repeatable)\n"
                               "  -f, --file PATH          the Dockerfile (default CONTEXT_DIR/Dockerfile)\n"
                               "      --build-arg K[=V]    set a build-time variable (repeatable)\n"
                               "      --target STAGE       stop after this stage\n"
                               "      --label K=V          add a label to the image\n"
                               "  -q, --quiet              print only the image ID\n"
                               "      --no-cache, --rm, --force-rm  accepted: there is no cache, and\n"
                               "                           intermediate containers are always removed\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (argc - optind != 1) {
                cli_errorf("\"ghostbox build\" requires exactly 1 argument: CONTEXT_DIR");
                return EXIT_ENGINE;
        }
        bo.context_dir = argv[optind];
        {
                /* Not applied yet: say so rather than copy files the user
                 * meant to keep out (the docker CLI, compose and docker-py
                 * filter the context themselves before POST /build). */
                _cleanup_free_ char *ign = gb_xasprintf("%s/.dockerignore", bo.context_dir);
                if (access(ign, F_OK) == 0)
                        fprintf(stderr,
                                "ghostbox: warning: '%s' is not applied by ghostbox build yet: COPY and ADD see "
                                "every file of the context (build through ghostboxd with the docker CLI to have it "
                                "applied)\n",
                                ign);
        }
        if (file) {
                /* -f may name a file outside the context, as Docker's:
                 * it is the user's own file, read here, not by a step. */
                int r = gb_read_file_at(AT_FDCWD, file, 4 * 1024 * 1024, &text, &len);
                if (r < 0) {
                        cli_errorf("Failed to read the Dockerfile '%s': %s", file, strerror(-r));
                        return EXIT_ENGINE;
                }
                bo.dockerfile_text = text;
                bo.dockerfile_len = len;
                bo.dockerfile = file;
        }
        bo.tags = tags;
        bo.build_args = args;
        bo.labels = labels;
        bo.target = target;
        bo.log = quiet ? NULL : log_out;
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_engine_build(&e, &bo, id, &err) < 0) {
                cli_errorf("%s", err.msg);
                gb_engine_close(&e);
                return 1;
        }
        if (quiet)
                printf("%s\n", id);
        gb_engine_close(&e);
        return 0;
}
