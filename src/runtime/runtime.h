/* ghostbox-runtime: shared declarations of the verbs (one file each). */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct rt_ctx {
        const char *root; /* state directory, one subdirectory per container */
        const char *log_path;
        bool log_json;
        bool debug;
        char **argv; /* the full command line, for a sealed re-exec */
};

/* Container state as stored in <root>/<id>/state.json. */
struct rt_state {
        char *id;
        pid_t pid;
        unsigned long long start_time; /* /proc/PID/stat field 22: detects pid reuse */
        char *bundle, *rootfs, *created;
        json_t *annotations;
        json_t *config; /* the config.json the container was created from */
        int dirfd;      /* <root>/<id>, locked */
};

typedef int (*rt_verb_fn)(struct rt_ctx *ctx, int argc, char **argv);

int rt_create(struct rt_ctx *ctx, int argc, char **argv);
int rt_start(struct rt_ctx *ctx, int argc, char **argv);
int rt_run(struct rt_ctx *ctx, int argc, char **argv);
int rt_state(struct rt_ctx *ctx, int argc, char **argv);
int rt_kill(struct rt_ctx *ctx, int argc, char **argv);
int rt_delete(struct rt_ctx *ctx, int argc, char **argv);
int rt_exec(struct rt_ctx *ctx, int argc, char **argv);
int rt_list(struct rt_ctx *ctx, int argc, char **argv);
int rt_ps(struct rt_ctx *ctx, int argc, char **argv);
int rt_features(struct rt_ctx *ctx, int argc, char **argv);
int rt_spec(struct rt_ctx *ctx, int argc, char **argv);

/* Report an error the way runc does: stderr, and the --log file (JSON lines
 * {"level":"error","msg":...,"time":...} with --log-format json). Returns 1,
 * runc's exit code for a failed command. */
int rt_error(struct rt_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rt_log(struct rt_ctx *ctx, const char *level, const char *msg);

/* State helpers (container.c). */
int rt_check_id(const char *id, struct gb_error *err);
int rt_state_load(struct rt_ctx *ctx, const char *id, bool lock, struct rt_state *ret, struct gb_error *err);
void rt_state_done(struct rt_state *s);
/* "creating", "created", "running" or "stopped". */
const char *rt_status(struct rt_ctx *ctx, const struct rt_state *s);
int rt_state_save(struct rt_ctx *ctx, const struct rt_state *s, struct gb_error *err);
json_t *rt_state_json(struct rt_ctx *ctx, const struct rt_state *s);
unsigned long long rt_pid_start_time(pid_t pid);
int rt_write_new(const char *path, const void *data, size_t len, mode_t mode);
int rt_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
int rt_state_remove(struct rt_ctx *ctx, const char *id);
char *rt_container_path(struct rt_ctx *ctx, const char *id, const char *file);
/* Write a pid file the way containerd expects (atomically, no newline). */
int rt_write_pid_file(const char *path, pid_t pid, struct gb_error *err);
/* Connect to the --console-socket. */
int rt_connect_console(const char *path, int *ret_fd, struct gb_error *err);
/* Re-exec from a sealed copy when the container could otherwise reach and
 * overwrite this binary (CVE-2019-5736). Returns 0 when not needed. */
int rt_protect_exe(struct rt_ctx *ctx, const struct gb_spec *spec, struct gb_error *err);
/* Wait for pidfd's process while forwarding signals to it; returns the exit
 * code a shell would show (status, or 128+signal). */
int rt_wait_forward(int pidfd, const sigset_t *forwarded);
void rt_block_signals(sigset_t *set);
