/* Image verbs: import, load, save, images, tag, rmi. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-remap.h"
#include "store.h"
#include "util.h"
#include "verbs.h"

#define EXIT_ENGINE 125

/* The data root: --data-root, else the default. The config module replaces
 * the fallback with daemon.json's "data-root" (one place to change). */
/* The store under daemon.json's data-root (or --data-root). Image verbs
 * need no remapping: the store is global and never rewritten per range. */
static int open_store(struct gb_cli_ctx *ctx, struct gb_store **ret)
{
        struct gb_config cfg = {0};
        struct gb_error err = {0};
        int r;

        if (cli_load_config(ctx, &cfg) < 0)
                return -1;
        r = gb_store_open(cfg.data_root, ret, &err);
        gb_config_done(&cfg);
        if (r < 0) {
                cli_errorf("%s", err.msg);
                return -1;
        }
        return 0;
}

static void store_freep(struct gb_store **s)
{
        gb_store_free(*s);
}

/* A progress bar on stderr when it is a terminal, nothing otherwise. */
struct progress {
        uint64_t total; /* 0 when unknown (a pipe) */
        time_t last;
        uint64_t last_done;
        const char *what;
};

static void progress_cb(uint64_t done, void *userdata)
{
        struct progress *p = userdata;
        time_t now = time(NULL);
        char line[128];
        int w = 40;

        if ((now == p->last && done != p->total) || (p->last && done == p->last_done))
                return;
        p->last = now;
        p->last_done = done;
        if (p->total) {
                int fill = (int)(done * (uint64_t)w / p->total);
                if (fill > w)
                        fill = w;
                (void)snprintf(line, sizeof(line), "\r%s [%.*s%*s] %3d%% %.1f/%.1f MB", p->what, fill,
                               "========================================", w - fill, "", (int)(done * 100 / p->total),
                               (double)done / 1e6, (double)p->total / 1e6);
        } else
                (void)snprintf(line, sizeof(line), "\r%s %.1f MB", p->what, (double)done / 1e6);
        fputs(line, stderr);
}

static void progress_setup(struct progress *p, struct gb_load_opts *o, int fd, const char *what)
{
        struct stat st;

        memset(p, 0, sizeof(*p));
        p->what = what;
        if (!isatty(STDERR_FILENO))
                return;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                p->total = (uint64_t)st.st_size;
        o->progress = progress_cb;
        o->progress_userdata = p;
}

static void progress_end(const struct gb_load_opts *o)
{
        if (o->progress)
                fputs("\n", stderr);
}

static int open_input(const char *file)
{
        int fd;

        if (!file || !strcmp(file, "-"))
                return dup(STDIN_FILENO);
        fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                cli_errorf("Failed to open '%s': %s", file, strerror(errno));
        return fd;
}

int cmd_import(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"change", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {}};
        _cleanup_(store_freep) struct gb_store *s = NULL;
        _cleanup_strv_ char **changes = gb_xcalloc(1, sizeof(char *));
        _cleanup_close_ int fd = -EBADF;
        struct gb_load_opts lo = {0};
        struct gb_error err = {0};
        struct progress p;
        char id[GB_DIGEST_LEN];
        size_t n = 0;
        int c;

        while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        changes = gb_xrealloc(changes, (n + 2) * sizeof(char *));
                        changes[n++] = gb_xstrdup(optarg);
                        changes[n] = NULL;
                        break;
                case 'h':
                        printf("Usage: ghostbox import [--change 'INSTR ARGS'] FILE|- [REPOSITORY[:TAG]]\n\n"
                               "Import a root filesystem tarball (plain, gzip or zstd) as an image.\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (argc - optind < 1 || argc - optind > 2) {
                cli_errorf("\"import\" requires 1 or 2 arguments. See 'ghostbox import --help'.");
                return EXIT_ENGINE;
        }
        fd = open_input(argv[optind]);
        if (fd < 0)
                return EXIT_ENGINE;
        if (open_store(ctx, &s) < 0)
                return EXIT_ENGINE;
        progress_setup(&p, &lo, fd, "Importing");
        c = gb_store_import(s, fd, argc - optind == 2 ? argv[optind + 1] : NULL, changes, &lo, id, &err);
        progress_end(&lo);
        if (c < 0) {
                cli_errorf("%s", err.msg);
                return EXIT_ENGINE;
        }
        printf("%s\n", id);
        return 0;
}

int cmd_load(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        _cleanup_(store_freep) struct gb_store *s = NULL;
        _cleanup_strv_ char **lines = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *input = NULL;
        struct gb_load_opts lo = {0};
        struct gb_error err = {0};
        struct progress p;
        bool quiet = false;
        int c;

        while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
                switch (c) {
                case 'i':
                        input = optarg;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'h':
                        printf("Usage: ghostbox load [-i FILE]\n\n"
                               "Load images from a `docker save` or OCI image-layout archive (default: stdin).\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (optind != argc) {
                cli_errorf("\"load\" takes no arguments. See 'ghostbox load --help'.");
                return EXIT_ENGINE;
        }
        if (!input && isatty(STDIN_FILENO)) {
                cli_errorf(
                        "Failed to load: requested load from stdin, but stdin is a terminal (use -i FILE or a pipe)");
                return EXIT_ENGINE;
        }
        fd = open_input(input);
        if (fd < 0)
                return EXIT_ENGINE;
        if (open_store(ctx, &s) < 0)
                return EXIT_ENGINE;
        if (!quiet)
                progress_setup(&p, &lo, fd, "Loading");
        c = gb_store_load(s, fd, &lo, &lines, &err);
        progress_end(&lo);
        if (c < 0) {
                cli_errorf("%s", err.msg);
                return EXIT_ENGINE;
        }
        for (char **l = lines; *l; l++)
                printf("%s\n", *l);
        return 0;
}

int cmd_save(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {}};
        _cleanup_(store_freep) struct gb_store *s = NULL;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *out = NULL;
        struct gb_error err = {0};
        int c;

        while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
                switch (c) {
                case 'o':
                        out = optarg;
                        break;
                case 'h':
                        printf("Usage: ghostbox save [-o FILE] IMAGE...\n\n"
                               "Save images to a tar archive (docker save and OCI layout in one).\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (optind >= argc) {
                cli_errorf("\"save\" requires at least 1 argument. See 'ghostbox save --help'.");
                return EXIT_ENGINE;
        }
        if (!out && isatty(STDOUT_FILENO)) {
                cli_errorf("Failed to save: refusing to write an archive to a terminal (use -o FILE or redirect)");
                return EXIT_ENGINE;
        }
        if (open_store(ctx, &s) < 0)
                return EXIT_ENGINE;
        if (out) {
                /* Write next to the target and rename: a failed save leaves
                 * no truncated archive behind. */
                tmp = gb_xasprintf("%s.tmp.%d", out, (int)getpid());
                fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0) {
                        cli_errorf("Failed to create '%s': %s", tmp, strerror(errno));
                        return EXIT_ENGINE;
                }
        } else
                fd = dup(STDOUT_FILENO);
        c = gb_store_save(s, argv + optind, fd, &err);
        if (c >= 0 && out && (fsync(fd) < 0 || rename(tmp, out) < 0)) {
                c = -errno;
                (void)gb_error_sys(&err, errno, "Failed to write '%s'", out);
        }
        if (c < 0) {
                if (tmp)
                        (void)unlink(tmp);
                cli_errorf("%s", err.msg);
                return EXIT_ENGINE;
        }
        return 0;
}

static void human_size(uint64_t b, char *buf, size_t len)
{
        if (b >= 1000000000)
                (void)snprintf(buf, len, "%.3gGB", (double)b / 1e9);
        else if (b >= 1000000)
                (void)snprintf(buf, len, "%.3gMB", (double)b / 1e6);
        else if (b >= 1000)
                (void)snprintf(buf, len, "%.3gkB", (double)b / 1e3);
        else
                (void)snprintf(buf, len, "%lluB", (unsigned long long)b);
}

static void since(const char *created, char *buf, size_t len)
{
        struct tm tm = {0};
        time_t t, now = time(NULL);
        long d;

        if (!created || !strptime(created, "%Y-%m-%dT%H:%M:%S", &tm)) {
                (void)snprintf(buf, len, "N/A");
                return;
        }
        t = timegm(&tm);
        d = (long)(now - t);
        if (d < 60)
                (void)snprintf(buf, len, "%s", "Less than a minute ago");
        else if (d < 3600)
                (void)snprintf(buf, len, "%ld minutes ago", d / 60);
        else if (d < 86400 * 2)
                (void)snprintf(buf, len, "%ld hours ago", d / 3600);
        else
                (void)snprintf(buf, len, "%ld days ago", d / 86400);
}

static int cmp_summary(const void *a, const void *b)
{
        const struct gb_image_summary *x = a, *y = b;
        return strcmp(y->created, x->created);
}

int cmd_images(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
                                             {"format", required_argument, NULL, 'f'},
                                             {"no-trunc", no_argument, NULL, 'N'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        _cleanup_(store_freep) struct gb_store *s = NULL;
        struct gb_image_summary *v = NULL;
        struct gb_error err = {0};
        bool quiet = false, json = false, notrunc = false;
        size_t n = 0;
        int c;

        while ((c = getopt_long(argc, argv, "+qf:h", opts, NULL)) != -1) {
                switch (c) {
                case 'q':
                        quiet = true;
                        break;
                case 'f':
                        if (strcmp(optarg, "json") != 0) {
                                cli_errorf("Failed to parse --format '%s': only 'json' is supported", optarg);
                                return EXIT_ENGINE;
                        }
                        json = true;
                        break;
                case 'N':
                        notrunc = true;
                        break;
                case 'h':
                        printf("Usage: ghostbox images [-q] [--no-trunc] [--format json]\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (open_store(ctx, &s) < 0)
                return EXIT_ENGINE;
        if (gb_store_list(s, &v, &n, &err) < 0) {
                cli_errorf("%s", err.msg);
                return EXIT_ENGINE;
        }
        qsort(v, n, sizeof(*v), cmp_summary);
        if (!quiet && !json)
                printf("%-30s %-15s %-15s %-22s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
        for (size_t i = 0; i < n; i++) {
                char sz[32], ago[64];
                const char *id = notrunc ? v[i].id : v[i].id + 7;
                int idlen = notrunc ? 71 : 12;

                if (quiet) {
                        printf("%.*s\n", idlen, id);
                        continue;
                }
                human_size(v[i].size, sz, sizeof(sz));
                since(v[i].created, ago, sizeof(ago));
                for (size_t k = 0; k == 0 || v[i].tags[k]; k++) {
                        _cleanup_free_ char *repo = NULL;
                        const char *tag = "<none>";

                        if (v[i].tags[k]) {
                                char *colon;
                                repo = gb_xstrdup(v[i].tags[k]);
                                colon = strrchr(repo, ':');
                                *colon = '\0';
                                tag = colon + 1;
                        }
                        if (json) {
                                json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "ID", v[i].id, "Repository",
                                                      repo ? repo : "<none>", "Tag", tag, "CreatedAt", v[i].created,
                                                      "Size", sz, "VirtualSize", (json_int_t)v[i].size);
                                char *t = json_dumps(o, JSON_COMPACT);
                                printf("%s\n", t);
                                free(t);
                                json_decref(o);
                        } else
                                printf("%-30s %-15s %-15.*s %-22s %s\n", repo ? repo : "<none>", tag, idlen, id, ago,
                                       sz);
                }
        }
        gb_image_summaries_free(v, n);
        return 0;
}

int cmd_tag(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        _cleanup_(store_freep) struct gb_store *s = NULL;
        struct gb_error err = {0};

        if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
                printf("Usage: ghostbox tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n");
                return 0;
        }
        if (argc != 3) {
                cli_errorf("\"tag\" requires exactly 2 arguments. See 'ghostbox tag --help'.");
                return EXIT_ENGINE;
        }
        if (open_store(ctx, &s) < 0)
                return EXIT_ENGINE;
        if (gb_store_tag(s, argv[1], argv[2], &err) < 0) {
                cli_errorf("%s", err.msg);
                return EXIT_ENGINE;
        }
        return 0;
}

int cmd_rmi(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {}};
        _cleanup_(store_freep) struct gb_store *s = NULL;
        bool force = false;
        int c, rc = 0;

        while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        printf("Usage: ghostbox rmi [-f] IMAGE...\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (optind >= argc) {
                cli_errorf("\"rmi\" requires at least 1 argument. See 'ghostbox rmi --help'.");
                return EXIT_ENGINE;
        }
        if (open_store(ctx, &s) < 0)
                return EXIT_ENGINE;
        for (int i = optind; i < argc; i++) {
                _cleanup_strv_ char **lines = NULL;
                struct gb_error err = {0};

                if (gb_store_rmi(s, argv[i], force, &lines, &err) < 0) {
                        cli_errorf("%s", err.msg);
                        rc = 1;
                        continue;
                }
                for (char **l = lines; *l; l++)
                        printf("%s\n", *l);
        }
        return rc;
}

/* Docker's units for "Total reclaimed space". */
static void print_reclaimed(uint64_t b)
{
        if (b < 1000)
                printf("Total reclaimed space: %lluB\n", (unsigned long long)b);
        else if (b < 1000 * 1000)
                printf("Total reclaimed space: %.3gkB\n", (double)b / 1e3);
        else if (b < 1000ULL * 1000 * 1000)
                printf("Total reclaimed space: %.3gMB\n", (double)b / 1e6);
        else
                printf("Total reclaimed space: %.3gGB\n", (double)b / 1e9);
}

/* ghostbox image prune [-a] [-f]: as `docker image prune`. Without -f it
 * asks, as Docker does, and takes only "y"/"yes" for yes. */
static int image_prune(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                             {"force", no_argument, NULL, 'f'},
                                             {"help", no_argument, NULL, 'h'},
                                             {}};
        _cleanup_(store_freep) struct gb_store *s = NULL;
        _cleanup_strv_ char **lines = NULL;
        struct gb_error err = {0};
        uint64_t reclaimed = 0;
        bool all = false, force = false;
        int c;

        optind = 1;
        while ((c = getopt_long(argc, argv, "+afh", opts, NULL)) != -1) {
                switch (c) {
                case 'a':
                        all = true;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'h':
                        printf("Usage: ghostbox image prune [-a] [-f]\n\nRemove unused images: the untagged ones, or "
                               "with -a every image no container uses.\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (optind < argc) {
                cli_errorf("\"image prune\" accepts no arguments. See 'ghostbox image prune --help'.");
                return EXIT_ENGINE;
        }
        if (!force) {
                char answer[16] = "";
                printf("WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ",
                       all ? "all images without at least one container associated to them" : "all dangling images");
                fflush(stdout);
                if (!fgets(answer, sizeof(answer), stdin) ||
                    (strcmp(answer, "y\n") && strcmp(answer, "Y\n") && strcmp(answer, "yes\n")))
                        return 0;
        }
        if (open_store(ctx, &s) < 0)
                return EXIT_ENGINE;
        if (gb_store_prune(s, all, NULL, NULL, &lines, &reclaimed, &err) < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        if (lines && lines[0]) {
                printf("Deleted Images:\n");
                for (char **l = lines; *l; l++)
                        printf("%s\n", *l);
                printf("\n");
        }
        print_reclaimed(reclaimed);
        return 0;
}

int cmd_image(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        if (argc < 2 || !strcmp(argv[1], "--help")) {
                printf("Usage: ghostbox image prune [-a] [-f]\n\n(The other image commands are top-level: images, "
                       "import, load, save, tag, rmi, commit.)\n");
                return argc < 2 ? EXIT_ENGINE : 0;
        }
        if (!strcmp(argv[1], "prune"))
                return image_prune(ctx, argc - 1, argv + 1);
        cli_errorf("'image %s' is not a ghostbox command: try 'ghostbox image prune', or the top-level images, "
                   "import, load, save, tag, rmi",
                   argv[1]);
        return EXIT_ENGINE;
}
