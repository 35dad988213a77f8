/* POST /build: the classic builder API (docker CLI with DOCKER_BUILDKIT=0,
 * docker-compose v1, docker-py). The body is a tar of the context: it is
 * spooled, then extracted with the layer extractor (every entry resolved
 * inside a private temp dir with RESOLVE_IN_ROOT, no device nodes), then
 * built by the library's builder; progress streams back as Docker's JSON
 * messages on a close-delimited response. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "cfs.h"
#include "cleanup.h"
#include "daemon.h"
#include "layer.h"
#include "util.h"

#define MAX_CONTEXT_BYTES (16ULL * 1024 * 1024 * 1024)

static bool client_gone;

static void send_json(int fd, json_t *msg)
{
        char *s = json_dumps(msg, JSON_COMPACT);

        if (s) {
                size_t n = strlen(s);
                s[n] = '\n';
                if (gb_write_all(fd, s, n + 1) < 0)
                        client_gone = true;
        }
        free(s);
        json_decref(msg);
}

static void log_stream(const char *text, size_t len, void *data)
{
        struct conn *c = data;
        _cleanup_free_ char *raw = strndup(text, len);
        _cleanup_free_ char *clean = gb_utf8_sanitize(raw);

        send_json(c->fd, json_pack("{s:s}", "stream", clean));
}

static void built(const char *id, void *data)
{
        struct conn *c = data;
        send_json(c->fd, json_pack("{s:{s:s}}", "aux", "ID", id));
}

/* Docker cancels a build whose client hung up (Ctrl-C on `docker
 * build`); so do we, between steps, and the builder cleans up. */
static bool cancelled(void *data)
{
        struct conn *c = data;
        struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};

        if (!client_gone && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                client_gone = true;
        return client_gone;
}

/* Query values that are JSON objects of strings ("buildargs", "labels"):
 * into "K=V" strings. */
static int json_kv(struct conn *c, const char *key, char ***ret)
{
        _cleanup_free_ char *raw = q_get(c, key);
        json_t *o, *v;
        const char *k;
        size_t n = 0;

        *ret = NULL;
        if (!raw || !*raw)
                return 0;
        o = json_loads(raw, 0, NULL);
        if (!json_is_object(o)) {
                json_decref(o);
                conn_error(c, 400, "Failed to parse the %s parameter: not a JSON object", key);
                return -1;
        }
        *ret = gb_xcalloc(json_object_size(o) + 1, sizeof(char *));
        json_object_foreach (o, k, v)
                (*ret)[n++] = json_is_string(v) ? gb_xasprintf("%s=%s", k, json_string_value(v)) : gb_xstrdup(k);
        json_decref(o);
        return 0;
}

void h_build(struct conn *c, char **caps)
{
        _cleanup_free_ char *tmpdir = gb_xasprintf("%s/tmp", gbd_engine.cfg.data_root);
        _cleanup_free_ char *ctxdir = NULL, *dockerfile = q_get(c, "dockerfile"), *target = q_get(c, "target");
        _cleanup_free_ char *remote = q_get(c, "remote");
        _cleanup_strv_ char **tags = gb_http_query_all(c->req.query, "t"), **args = NULL, **labels = NULL;
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF;
        struct gb_layer_opts lo = {.flags = GB_LAYER_COPY, .blob_fd = -1};
        struct gb_layer_info info;
        struct gb_build_opts bo = {0};
        struct gb_error err = {0};
        char id[GB_DIGEST_LEN];
        bool quiet = q_bool(c, "q");
        int r;

        if (remote && *remote) {
                conn_error(c, 400,
                           "Failed to build: remote contexts (%s) are not supported by ghostboxd (no "
                           "network): send the context as the request body",
                           remote);
                return;
        }
        if (json_kv(c, "buildargs", &args) < 0 || json_kv(c, "labels", &labels) < 0)
                return;
        fd = conn_spool_body(c, tmpdir, MAX_CONTEXT_BYTES, "build context");
        if (fd < 0)
                return;
        /* Not in the store's tmp/: opening the store sweeps that. */
        ctxdir = gb_xasprintf("%s/builds", gbd_engine.cfg.exec_root);
        (void)gb_mkdir_p(ctxdir, 0700);
        free(ctxdir);
        ctxdir = gb_xasprintf("%s/builds/ctx-XXXXXX", gbd_engine.cfg.exec_root);
        if (!mkdtemp(ctxdir)) {
                conn_error(c, 500, "Failed to create a directory for the build context: %s", strerror(errno));
                return;
        }
        dfd = open(ctxdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                conn_error(c, 500, "Failed to open '%s': %s", ctxdir, strerror(errno));
                goto out;
        }
        /* An empty body is an empty context (a Dockerfile is then missing). */
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size > 0) {
                r = gb_layer_extract(fd, dfd, &lo, &info, &err);
                if (r < 0) {
                        conn_error(c, 400, "Failed to extract the build context: %s", err.msg);
                        goto out;
                }
        }
        conn_stream_begin(c, 200, "application/json");
        bo.context_dir = ctxdir;
        bo.dockerfile = dockerfile && *dockerfile ? dockerfile : "Dockerfile";
        bo.tags = tags;
        bo.build_args = args;
        bo.labels = labels;
        bo.target = target && *target ? target : NULL;
        bo.log = quiet ? NULL : log_stream;
        bo.log_data = c;
        bo.built = built;
        bo.cancelled = cancelled;
        r = gb_engine_build(&gbd_engine, &bo, id, &err);
        if (r < 0)
                send_json(c->fd, json_pack("{s:{s:s}, s:s}", "errorDetail", "message", err.msg, "error", err.msg));
        else if (quiet) {
                _cleanup_free_ char *line = gb_xasprintf("%s\n", id);
                send_json(c->fd, json_pack("{s:s}", "stream", line));
        }
out:
        (void)gb_rm_rf(ctxdir);
}

/* BuildKit's session (docker CLI 23+ with buildx): there is no BuildKit
 * here; answer at once, with the way out, rather than leave the CLI
 * waiting on a gRPC stream nobody serves. */
void h_session(struct conn *c, char **caps)
{
        conn_error(c, 501,
                   "ghostboxd has no BuildKit (no /session, no gRPC): build with the classic builder, "
                   "DOCKER_BUILDKIT=0 docker build ...");
}
