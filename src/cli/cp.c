/* ghostbox cp: files between a container (running or not) and the host, or
 * a tar on stdin/stdout, like `docker cp`. The container side is the cfs
 * module (every path resolved inside the container's root); the host side
 * is extracted with the layer extractor, so a container's symlinks cannot
 * steer a copy out of the destination either. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfs.h"
#include "cleanup.h"
#include "cli-engine.h"
#include "layer.h"
#include "util.h"

/* Docker's rule: a path starting with "/" or "." is local; otherwise text
 * before the first ':' names a container. */
static bool split_arg(const char *arg, char **ret_ref, const char **ret_path)
{
        const char *colon = strchr(arg, ':');

        if (arg[0] == '/' || arg[0] == '.' || !colon || colon == arg)
                return false;
        *ret_ref = strndup(arg, (size_t)(colon - arg));
        if (!*ret_ref)
                abort();
        *ret_path = colon + 1;
        return true;
}

/* "a/b/c/" -> dir "a/b", base "c"; "c" -> ".", "c"; "/c" -> "/", "c". */
static void split_path(const char *p, char **ret_dir, char **ret_base)
{
        _cleanup_free_ char *s = gb_xstrdup(p);
        size_t n = strlen(s);
        char *slash;

        while (n > 1 && s[n - 1] == '/')
                s[--n] = '\0';
        slash = strrchr(s, '/');
        if (!slash) {
                *ret_dir = gb_xstrdup(".");
                *ret_base = gb_xstrdup(s);
        } else {
                *ret_base = gb_xstrdup(slash[1] ? slash + 1 : ".");
                *ret_dir = slash == s ? gb_xstrdup("/") : strndup(s, (size_t)(slash - s));
        }
}

static int tmpfile_in(const char *dir)
{
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

        if (fd < 0)
                cli_errorf("Failed to create a temporary file in '%s': %s", dir, strerror(errno));
        return fd;
}

static int copy_out(struct gb_cfs *f, const char *src, const char *dest, bool archive)
{
        _cleanup_free_ char *dir = NULL, *base = NULL;
        _cleanup_close_ int tmp = -EBADF, dfd = -EBADF;
        struct gb_layer_opts lo = {.flags = GB_LAYER_COPY, .blob_fd = -1};
        struct gb_layer_info info;
        struct gb_error err = {0};
        struct stat st;
        const char *into, *name = NULL;
        int r;

        if (strcmp(dest, "-") == 0) {
                r = gb_cfs_tar(f, src, STDOUT_FILENO, &err);
                goto out;
        }
        /* Into an existing directory under the source's own name, else
         * as dest itself (renamed on the way). */
        if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode))
                into = dest;
        else {
                split_path(dest, &dir, &base);
                into = dir;
                name = base;
        }
        dfd = open(into, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                cli_errorf("Failed to open destination directory '%s': %s", into, strerror(errno));
                return 1;
        }
        tmp = tmpfile_in(into);
        if (tmp < 0)
                return 1;
        r = gb_cfs_tar_as(f, src, name, tmp, &err);
        if (r < 0)
                goto out;
        if (lseek(tmp, 0, SEEK_SET) < 0) {
                cli_errorf("Failed to rewind the temporary file: %s", strerror(errno));
                return 1;
        }
        /* Docker: copies out belong to whoever runs cp; -a keeps the
         * container's IDs. */
        lo.fixed_owner = !archive;
        lo.owner_uid = getuid();
        lo.owner_gid = getgid();
        r = gb_layer_extract(tmp, dfd, &lo, &info, &err);
out:
        if (r < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        return 0;
}

static int copy_in(struct gb_cfs *f, const char *data_root, const char *src, const char *dest, bool archive)
{
        _cleanup_(gb_cfs_done) struct gb_cfs host = {.root_fd = -EBADF};
        _cleanup_(gb_cfs_stat_done) struct gb_cfs_stat dst = {0};
        _cleanup_free_ char *sdir = NULL, *sbase = NULL, *ddir = NULL, *dbase = NULL,
                            *tmpdir = gb_xasprintf("%s/tmp", data_root);
        _cleanup_close_ int tmp = -EBADF;
        struct gb_cfs_put_opts po = {.copy_uidgid = archive};
        struct gb_error err = {0};
        const char *into = dest, *name = NULL;
        int r;

        if (strcmp(src, "-") == 0) {
                r = gb_cfs_put(f, dest, STDIN_FILENO, &po, &err);
                goto out;
        }
        split_path(src, &sdir, &sbase);
        r = gb_cfs_open_dir(sdir, &host, &err);
        if (r < 0)
                goto out;
        if (gb_cfs_stat(f, dest, &dst, NULL) < 0 || !S_ISDIR(dst.mode)) {
                split_path(dest, &ddir, &dbase);
                into = ddir;
                name = dbase;
        }
        (void)gb_mkdir_p(tmpdir, 0700);
        tmp = tmpfile_in(tmpdir);
        if (tmp < 0)
                return 1;
        r = gb_cfs_tar_as(&host, sbase, name, tmp, &err);
        if (r < 0)
                goto out;
        if (lseek(tmp, 0, SEEK_SET) < 0) {
                cli_errorf("Failed to rewind the temporary file: %s", strerror(errno));
                return 1;
        }
        r = gb_cfs_put(f, into, tmp, &po, &err);
out:
        if (r < 0) {
                cli_errorf("%s", err.msg);
                return 1;
        }
        return 0;
}

int cmd_cp(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"archive", no_argument, NULL, 'a'},
                {"help", no_argument, NULL, 'H'},
                {},
        };
        _cleanup_(gb_container_freep) struct gb_container *c = NULL;
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_free_ char *sref = NULL, *dref = NULL;
        const char *spath = NULL, *dpath = NULL;
        struct gb_engine e = {0};
        struct gb_error err = {0};
        bool archive = false, sc, dc;
        int ch, rc;

        while ((ch = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
                switch (ch) {
                case 'a':
                        archive = true;
                        break;
                case 'H':
                        printf("Usage: ghostbox cp [-a] CONTAINER:SRC_PATH DEST_PATH|-\n"
                               "       ghostbox cp [-a] SRC_PATH|- CONTAINER:DEST_PATH\n\n"
                               "Copy files between a container (running or stopped) and the host. \"-\" is a tar\n"
                               "on stdout or stdin. Files copied in belong to the container's root; with -a\n"
                               "they keep their IDs (shifted into the container's range).\n");
                        return 0;
                default:
                        return EXIT_ENGINE;
                }
        }
        if (optind + 2 != argc) {
                cli_errorf("\"ghostbox cp\" requires exactly 2 arguments.");
                return EXIT_ENGINE;
        }
        sc = split_arg(argv[optind], &sref, &spath);
        dc = split_arg(argv[optind + 1], &dref, &dpath);
        if (sc == dc) {
                cli_errorf("%s", sc ? "copying between containers is not supported"
                                    : "must specify at least one container source");
                return EXIT_ENGINE;
        }
        if (cli_open_engine(ctx, &e) < 0)
                return EXIT_ENGINE;
        if (gb_container_lookup(e.cfg.data_root, sc ? sref : dref, false, &c, &err) < 0 ||
            gb_cfs_open(e.cfg.data_root, c, &f, &err) < 0) {
                cli_errorf("%s", err.msg);
                gb_engine_close(&e);
                return 1;
        }
        if (sc)
                rc = copy_out(&f, spath, argv[optind + 1], archive);
        else
                rc = copy_in(&f, e.cfg.data_root, argv[optind], dpath, archive);
        gb_engine_close(&e);
        return rc;
}
