/* /containers/{id}/archive, /export and /changes: `docker cp`, `docker
 * export` and `docker diff`. The work (and the path confinement) is in
 * the library's cfs module; here are the HTTP shapes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfs.h"
#include "cleanup.h"
#include "daemon.h"
#include "util.h"

/* An upload is spooled before extraction (a cut upload then writes
 * nothing); the bound stops a client from filling the disk through us. */
#define GBD_MAX_ARCHIVE_BYTES (64ULL * 1024 * 1024 * 1024)

static void cfs_error(struct conn *c, int r, const struct gb_error *err)
{
        int status = 500;

        switch (-r) {
        case ENOENT:
                status = 404;
                break;
        case ENOTDIR:
        case EISDIR:
        case EINVAL:
        case EPERM:
        case ERANGE:
        case ENAMETOOLONG:
        case EXDEV:
                status = 400;
                break;
        case EOPNOTSUPP:
                status = 501;
                break;
        }
        conn_error(c, status, "%s", err && err->msg[0] ? err->msg : strerror(-r));
}

/* Look the container up and open its filesystem; answers errors itself. */
static int open_fs(struct conn *c, const char *ref, struct gb_container **ret_ct, struct gb_cfs *ret)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        struct gb_error err = {0};
        int r;

        r = gb_container_lookup(gbd_engine.cfg.data_root, ref, false, &ct, &err);
        if (r < 0) {
                if (r == -ENOENT)
                        conn_error(c, 404, "No such container: %s", ref);
                else
                        conn_gb_error(c, r, &err);
                return r;
        }
        r = gb_cfs_open(gbd_engine.cfg.data_root, ct, ret, &err);
        if (r < 0) {
                conn_error(c, r == -ENOENT ? 409 : 500, "%s", err.msg);
                return r;
        }
        if (ret_ct)
                *ret_ct = TAKE_PTR(ct);
        return 0;
}

/* The path query parameter, required. */
static char *path_param(struct conn *c)
{
        char *p = q_get(c, "path");

        if (!p || !*p) {
                free(p);
                conn_error(c, 400, "bad parameter: path cannot be empty");
                return NULL;
        }
        return p;
}

static char *stat_header_line(const struct gb_cfs_stat *st)
{
        _cleanup_free_ char *v = gb_cfs_stat_header(st);
        return gb_xasprintf("X-Docker-Container-Path-Stat: %s\r\n", v);
}

/* HEAD and GET: the path= parameter, the container's files and the path's
 * stat header line; false after sending the error. */
static bool open_and_stat(struct conn *c, const char *ref, struct gb_cfs *f, struct gb_cfs_stat *st, char **ret_path,
                          char **ret_hdr)
{
        struct gb_error err = {0};
        int r;

        if (!(*ret_path = path_param(c)) || open_fs(c, ref, NULL, f) < 0)
                return false;
        r = gb_cfs_stat(f, *ret_path, st, &err);
        if (r < 0) {
                cfs_error(c, r, &err);
                return false;
        }
        *ret_hdr = stat_header_line(st);
        return true;
}

void h_container_archive_head(struct conn *c, char **caps)
{
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_(gb_cfs_stat_done) struct gb_cfs_stat st = {0};
        _cleanup_free_ char *path = NULL, *hdr = NULL;

        if (!open_and_stat(c, caps[0], &f, &st, &path, &hdr))
                return;
        conn_respond_extra(c, 200, NULL, hdr, NULL, 0);
}

void h_container_archive_get(struct conn *c, char **caps)
{
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_(gb_cfs_stat_done) struct gb_cfs_stat st = {0};
        _cleanup_free_ char *path = NULL, *hdr = NULL;
        struct gb_error err = {0};
        int r;

        if (!open_and_stat(c, caps[0], &f, &st, &path, &hdr))
                return;
        conn_stream_begin_extra(c, 200, "application/x-tar", hdr);
        r = gb_cfs_tar(&f, path, c->fd, &err);
        /* The status line is out: a failure can only cut the stream short,
         * which the client sees as a truncated tar. */
        if (r < 0)
                gb_warn("GET archive %s of %s: %s", path, f.id, err.msg);
}

void h_container_archive_put(struct conn *c, char **caps)
{
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_(gb_cfs_stat_done) struct gb_cfs_stat st = {0};
        _cleanup_free_ char *path = NULL, *tmpdir = gb_xasprintf("%s/tmp", gbd_engine.cfg.data_root);
        _cleanup_close_ int fd = -EBADF;
        struct gb_cfs_put_opts po = {
                .copy_uidgid = q_bool(c, "copyUIDGID"),
                .no_overwrite_dir_nondir = q_bool(c, "noOverwriteDirNonDir"),
        };
        struct gb_error err = {0};
        int r;

        if (!(path = path_param(c)) || open_fs(c, caps[0], &ct, &f) < 0)
                return;
        if (json_is_true(json_object_get(json_object_get(ct->doc, "HostConfig"), "ReadonlyRootfs"))) {
                conn_error(c, 403, "container rootfs is marked read-only");
                return;
        }
        /* Check the destination before taking the upload. */
        r = gb_cfs_stat(&f, path, &st, &err);
        if (r < 0) {
                cfs_error(c, r, &err);
                return;
        }
        fd = conn_spool_body(c, tmpdir, GBD_MAX_ARCHIVE_BYTES, "archive");
        if (fd < 0)
                return;
        r = gb_cfs_put(&f, path, fd, &po, &err);
        if (r < 0) {
                cfs_error(c, r, &err);
                return;
        }
        conn_respond(c, 200, NULL, NULL, 0);
}

void h_container_export(struct conn *c, char **caps)
{
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        struct gb_error err = {0};

        if (open_fs(c, caps[0], NULL, &f) < 0)
                return;
        conn_stream_begin(c, 200, "application/octet-stream");
        if (gb_cfs_export(&f, c->fd, &err) < 0)
                gb_warn("export of %s: %s", f.id, err.msg);
}

void h_container_changes(struct conn *c, char **caps)
{
        _cleanup_(gb_cfs_done) struct gb_cfs f = {.root_fd = -EBADF};
        struct gb_cfs_change *v = NULL;
        struct gb_error err = {0};
        size_t n = 0;
        json_t *a;
        int r;

        if (open_fs(c, caps[0], NULL, &f) < 0)
                return;
        r = gb_cfs_changes(&f, &v, &n, &err);
        if (r < 0) {
                cfs_error(c, r, &err);
                return;
        }
        a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_pack("{s:s, s:i}", "Path", v[i].path, "Kind", v[i].kind));
        gb_cfs_changes_free(v, n);
        conn_json(c, 200, a);
}
