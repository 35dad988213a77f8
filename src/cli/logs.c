/* ghostbox logs: the json-file log, as Docker prints it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "logfile.h"
#include "util.h"

struct logs_ctx {
        bool timestamps;
        struct gb_engine *e;
        const char *id;
};

static int print_entry(const struct gb_log_entry *en, void *userdata)
{
        struct logs_ctx *lc = userdata;
        int fd = en->stream == GB_STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO;

        if (lc->timestamps) {
                (void)gb_write_all(fd, en->time, strlen(en->time));
                (void)gb_write_all(fd, " ", 1);
        }
        return gb_write_all(fd, en->text, en->len);
}

static bool still_running(void *data)
{
        struct logs_ctx *lc = data;
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;

        if (gb_container_lookup(lc->e->cfg.data_root, lc->id, false, &c, NULL) < 0)
                return false;
        (void)gb_engine_refresh(lc->e, c, NULL);
        return strcmp(gb_container_status(c), "running") == 0 || strcmp(gb_container_status(c), "created") == 0;
}

int cmd_logs(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"follow", no_argument, NULL, 'f'},
                {"tail", required_argument, NULL, 'n'},
                {"timestamps", no_argument, NULL, 't'},
                {"help", no_argument, NULL, 'H'},
                {},
        };
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        struct gb_engine e = {0};
        struct gb_error err = {0};
        struct logs_ctx lc = {.e = &e};
        bool follow = false;
        long tail = -1;
        int ch, rc = 0;
        const char *path;

        while ((ch = getopt_long(argc, argv, "+fn:t", opts, NULL)) != -1) {
                switch (ch) {
                case 'f':
                        follow = true;
                        break;
                case 'n': {
                        uint32_t n;
                        if (strcmp(optarg, "all") == 0)
                                tail = -1;
                        else if (gb_parse_u32(optarg, &n) == 0)
                                tail = n;
                        else {
                                cli_errorf("invalid --tail \"%s\": a number or \"all\"", optarg);
                                return EXIT_ENGINE;
                        }
                        break;
                }
                case 't':
                        lc.timestamps = true;
                        break;
                case 'H':
                        printf("Usage: ghostbox logs [-f] [-n|--tail N|all] [-t] CONTAINER\n\nPrint a container's "
                               "output (kept after it exits).\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (optind + 1 != argc) {
                cli_errorf("\"ghostbox logs\" requires exactly 1 argument.");
                return EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_container_lookup(e.cfg.data_root, argv[optind], false, &c, &err) < 0) {
                cli_errorf("%s", err.msg);
                gb_engine_close(&e);
                return 1;
        }
        lc.id = c->id;
        path = json_string_value(json_object_get(c->doc, "LogPath"));
        if (path && gb_log_read(path, tail, follow, still_running, &lc, print_entry, &lc, &err) < 0) {
                cli_errorf("%s", err.msg);
                rc = 1;
        }
        gb_engine_close(&e);
        return rc;
}
