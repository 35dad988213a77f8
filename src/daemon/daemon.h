/* ghostboxd: the Docker Engine API over a unix socket.
 *
 * One process per connection: the listener forks a handler for each
 * accepted client. The engine forks and execs monitors (gb_engine_start)
 * and forks helpers that setns (loopback_up); STYLE.md forbids cloning from
 * a threaded process, and a single-threaded handler per connection keeps
 * every engine call exactly as safe as in the CLI. It also makes hijacked
 * attach, `wait` and `logs --follow` plain blocking loops, and one client
 * that crashes a handler cannot take the daemon or other clients down. The
 * daemon keeps no container state: records, locks and monitors are the
 * same as the CLI's, so the CLI and the API see one set of containers, and
 * containers keep running when the daemon restarts. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "apihttp.h"
#include "engine.h"

/* JSON request bodies larger than this get 413; `load` streams to a file. */
#define GBD_MAX_JSON_BODY (4 * 1024 * 1024)
/* Seconds a client may take to send a request head or body chunk. */
#define GBD_READ_TIMEOUT_S 60

extern struct gb_engine gbd_engine;

struct conn {
        int fd;
        char buf[GB_HTTP_MAX_HEAD + 1];
        size_t len; /* bytes in buf not consumed yet */
        struct gb_http_req req;
        int64_t body_left; /* Content-Length bytes still unread */
        struct gb_chunked ch;
        bool body_done, keep_alive, hijacked, sent;
};

/* Serve one connection until it closes (runs in the forked handler). */
void gbd_serve(int fd);

/* Request bodies. */
ssize_t conn_body_read(struct conn *c, char *out, size_t max);
/* Parse the body as JSON (empty body: *ret = NULL). Answers 400/413
 * itself and returns < 0 on a bad one. */
int conn_body_json(struct conn *c, json_t **ret);

/* Responses. Every response carries Api-Version and the Docker headers. */
void conn_respond(struct conn *c, int status, const char *ctype, const void *body, size_t len);
void conn_json(struct conn *c, int status, json_t *doc); /* steals doc */
void conn_error(struct conn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Map a library error to Docker's status: ENOENT 404, EEXIST/EBUSY 409,
 * EINVAL 400, else 500. */
void conn_gb_error(struct conn *c, int r, const struct gb_error *err);
void conn_no_content(struct conn *c);
/* Start a streamed response (no length, Connection: close). */
void conn_stream_begin(struct conn *c, int status, const char *ctype);
/* A response of len bytes read from fd (a file: `docker save`). */
void conn_respond_fd(struct conn *c, int status, const char *ctype, int fd, uint64_t len);

/* The route table (router.c) and the handlers. */
typedef void (*gbd_handler)(struct conn *c, char **caps);
void gbd_dispatch(struct conn *c);

void h_ping(struct conn *c, char **caps);
void h_version(struct conn *c, char **caps);
void h_info(struct conn *c, char **caps);
void h_events(struct conn *c, char **caps);

void h_containers_create(struct conn *c, char **caps);
void h_containers_list(struct conn *c, char **caps);
void h_containers_prune(struct conn *c, char **caps);
void h_container_inspect(struct conn *c, char **caps);
void h_container_start(struct conn *c, char **caps);
void h_container_stop(struct conn *c, char **caps);
void h_container_restart(struct conn *c, char **caps);
void h_container_kill(struct conn *c, char **caps);
void h_container_wait(struct conn *c, char **caps);
void h_container_delete(struct conn *c, char **caps);
void h_container_attach(struct conn *c, char **caps);
void h_container_logs(struct conn *c, char **caps);
void h_container_resize(struct conn *c, char **caps);
void h_container_top(struct conn *c, char **caps);

void h_exec_create(struct conn *c, char **caps);
void h_exec_start(struct conn *c, char **caps);
void h_exec_inspect(struct conn *c, char **caps);
void h_exec_resize(struct conn *c, char **caps);

void h_images_list(struct conn *c, char **caps);
void h_images_create(struct conn *c, char **caps);
void h_images_load(struct conn *c, char **caps);
void h_images_prune(struct conn *c, char **caps);
void h_system_df(struct conn *c, char **caps);
/* An image name as the store keeps it: current CLIs send normalized names
 * (docker.io/library/x), the store keeps the familiar ones, as Docker's. */
const char *gbd_familiar(const char *n);
/* A container as GET /containers/json lists it. */
json_t *gbd_container_summary(struct gb_container *ct);
void h_image_inspect(struct conn *c, char **caps);
void h_image_tag(struct conn *c, char **caps);
void h_image_delete(struct conn *c, char **caps);

void h_container_rename(struct conn *c, char **caps);
void h_commit(struct conn *c, char **caps);
/* build.c: POST /build (classic builder), and BuildKit's /session refused. */
void h_build(struct conn *c, char **caps);
void h_session(struct conn *c, char **caps);
void h_container_update(struct conn *c, char **caps);
void h_images_save(struct conn *c, char **caps);
void h_image_save(struct conn *c, char **caps);
void h_image_history(struct conn *c, char **caps);
void h_networks_list(struct conn *c, char **caps);
void h_network_inspect(struct conn *c, char **caps);
void h_networks_create(struct conn *c, char **caps);
void h_network_delete(struct conn *c, char **caps);
void h_network_connect(struct conn *c, char **caps);
void h_networks_prune(struct conn *c, char **caps);

void h_volumes_list(struct conn *c, char **caps);
void h_volumes_create(struct conn *c, char **caps);
void h_volumes_prune(struct conn *c, char **caps);
void h_volume_inspect(struct conn *c, char **caps);
void h_volume_delete(struct conn *c, char **caps);

/* The same with extra header lines (each ending "\r\n"). */
void conn_respond_extra(struct conn *c, int status, const char *ctype, const char *extra, const void *body, size_t len);
void conn_stream_begin_extra(struct conn *c, int status, const char *ctype, const char *extra);

/* archive.c: the container filesystem (docker cp, export, diff). */
void h_container_archive_head(struct conn *c, char **caps);
void h_container_archive_get(struct conn *c, char **caps);
void h_container_archive_put(struct conn *c, char **caps);
void h_container_export(struct conn *c, char **caps);
void h_container_changes(struct conn *c, char **caps);

/* Query helpers over c->req.query. */
char *q_get(struct conn *c, const char *key);
bool q_bool(struct conn *c, const char *key);

/* The request body spooled to an unnamed file below dir (see http.c);
 * -1 after sending the error. */
int conn_spool_body(struct conn *c, const char *dir, unsigned long long max, const char *what);

/* The image store, or NULL after sending the error. */
struct gb_store *gbd_open_store(struct conn *c);
