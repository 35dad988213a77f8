/* ghostbox-runtime: an OCI runtime with runc's command line, so containerd,
 * Docker (--add-runtime) and Kubernetes can call it. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "runtime.h"
#include "util.h"

static const struct {
        const char *name;
        rt_verb_fn fn;
        const char *summary;
        const char *synopsis; /* `VERB --help`, runc's options */
} verbs[] = {
        {"create", rt_create, "create a container (its init waits for start)",
         "[--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--no-pivot] [--preserve-fds N] ID"},
        {"start", rt_start, "run the process of a created container", "ID"},
        {"run", rt_run, "create and start a container",
         "[--bundle DIR] [--detach] [--pid-file FILE] [--console-socket SOCK] [--no-pivot] ID"},
        {"state", rt_state, "print the OCI state of a container", "ID"},
        {"kill", rt_kill, "send a signal to a container's init (or all its processes)", "[--all] ID [SIGNAL]"},
        {"delete", rt_delete, "delete a container's state (and kill it with --force)", "[--force] ID"},
        {"exec", rt_exec, "run a process in a running container",
         "[--process FILE] [--tty] [--detach] [--user UID[:GID]] [--env K=V] [--cwd DIR] [--pid-file FILE] "
         "[--console-socket SOCK] ID [COMMAND...]"},
        {"list", rt_list, "list containers", "[--format table|json] [--quiet]"},
        {"ps", rt_ps, "list the processes of a container", "[--format table|json] ID"},
        {"features", rt_features, "print the features this runtime implements (JSON)", ""},
        {"spec", rt_spec, "write a default config.json with a user namespace", "[--bundle DIR]"},
};

static FILE *log_file;

static void json_time(char *buf, size_t size)
{
        struct timeval tv;
        struct tm tm;

        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        (void)snprintf(buf + n, size - n, ".%06ldZ", (long)tv.tv_usec);
}

void rt_log(struct rt_ctx *ctx, const char *level, const char *msg)
{
        char t[64];

        if (!ctx->log_path)
                return;
        if (!log_file) {
                log_file = fopen(ctx->log_path, "ae");
                if (!log_file)
                        return;
        }
        json_time(t, sizeof(t));
        if (ctx->log_json) {
                json_t *o = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", t);
                char *s = json_dumps(o, JSON_COMPACT);
                if (s)
                        fprintf(log_file, "%s\n", s);
                free(s);
                json_decref(o);
        } else {
                fprintf(log_file, "time=\"%s\" level=%s msg=\"%s\"\n", t, level, msg);
        }
        fflush(log_file);
}

int rt_error(struct rt_ctx *ctx, const char *fmt, ...)
{
        char msg[GB_ERROR_MSG_MAX + 256];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        rt_log(ctx, "error", msg);
        fprintf(stderr, "ghostbox-runtime: %s\n", msg);
        return 1;
}

static struct rt_ctx *warn_ctx;

static void warn_handler(const char *msg, void *userdata)
{
        (void)userdata;
        rt_log(warn_ctx, "warning", msg);
        /* With a log file (containerd), stderr is not read: keep it quiet. */
        if (!warn_ctx->log_path)
                fprintf(stderr, "ghostbox-runtime: warning: %s\n", msg);
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ghostbox-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND "
                   "[ARG...]\n\nAn OCI runtime whose containers run in a user namespace.\n\nCommands:\n");
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"root", required_argument, NULL, 'r'},       {"log", required_argument, NULL, 'l'},
                {"log-format", required_argument, NULL, 'f'}, {"debug", no_argument, NULL, 'd'},
                {"systemd-cgroup", no_argument, NULL, 's'},   {"rootless", required_argument, NULL, 'R'},
                {"criu", required_argument, NULL, 'c'},       {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'v'},          {},
        };
        struct rt_ctx ctx = {.root = "/run/ghostbox-runtime", .argv = argv};
        int c;

        gb_ensure_std_fds();
        warn_ctx = &ctx;
        gb_set_warn_handler(warn_handler, NULL);
        while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
                switch (c) {
                case 'r':
                        ctx.root = optarg;
                        break;
                case 'l':
                        ctx.log_path = optarg;
                        break;
                case 'f':
                        if (strcmp(optarg, "json") && strcmp(optarg, "text"))
                                return rt_error(&ctx, "--log-format: expected text or json, not '%s'", optarg);
                        ctx.log_json = !strcmp(optarg, "json");
                        break;
                case 'd':
                        ctx.debug = true;
                        break;
                case 's': /* accepted: cgroups are not managed yet */
                case 'R':
                case 'c':
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'v':
                        printf("ghostbox-runtime version %s\nspec: 1.1.0\n", GB_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 1;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 1;
        }
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (!strcmp(verbs[i].name, argv[optind])) {
                        int verb_argc = argc - optind;
                        char **verb_argv = argv + optind;
                        if (verb_argc > 1 && (!strcmp(verb_argv[1], "--help") || !strcmp(verb_argv[1], "-h"))) {
                                printf("Usage: ghostbox-runtime %s %s\n\n%s\n", verbs[i].name, verbs[i].synopsis,
                                       verbs[i].summary);
                                return 0;
                        }
                        optind = 0; /* reinitialise getopt for the verb */
                        return verbs[i].fn(&ctx, verb_argc, verb_argv);
                }
        return rt_error(&ctx, "unknown command '%s'; see --help", argv[optind]);
}
