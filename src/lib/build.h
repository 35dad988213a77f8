/* `docker build` (the classic builder): a Dockerfile run step by step.
 *
 * Every RUN is a container created by the engine from the current image
 * with the default settings, so it runs in the user namespace like any
 * other (container root is the remapped host UID, never host root); its
 * upper directory is committed as the next layer (gb_cfs_layer_tar +
 * gb_store_commit), with the builder's config, not the container's.
 * COPY and ADD extract into a created (never started) container through
 * gb_cfs_put, so every destination path is resolved inside the image's
 * root, and read their sources from the context with the same
 * RESOLVE_IN_ROOT discipline, so neither a `../` nor a symlink in the
 * context reaches a host file. Metadata steps commit the config alone.
 *
 * Intermediate containers are always removed, also on failure (Docker's
 * --force-rm as the default); the intermediate images are deleted at the
 * end, so a build leaves the final image and nothing else, and a failed
 * build leaves nothing. There is no build cache. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "error.h"
#include "sha256.h"

/* Progress text ("Step 1/3 : FROM busybox\n") and RUN output, in order. */
typedef void (*gb_build_log_fn)(const char *text, size_t len, void *data);

struct gb_build_opts {
        const char *context_dir;     /* the build context (a host directory) */
        const char *dockerfile_text; /* NULL: read dockerfile from the context */
        size_t dockerfile_len;
        const char *dockerfile;  /* name: path in the context ("Dockerfile"), or for messages */
        char *const *tags;       /* "repo[:tag]", NULL-terminated or NULL */
        char *const *build_args; /* "K=V" (or "K": unset), NULL-terminated or NULL */
        char *const *labels;     /* "K=V" added to the final image */
        const char *target;      /* stop after this stage */
        gb_build_log_fn log;
        void *log_data;
        /* Called with the final ID before "Successfully built" (the API's aux message). */
        void (*built)(const char *id, void *data);
        /* Asked before each step (may be NULL): true stops the build,
         * cleaned up as a failure (the API's client went away). */
        bool (*cancelled)(void *data);
};

int gb_engine_build(struct gb_engine *e, const struct gb_build_opts *o, char ret_id[GB_DIGEST_LEN],
                    struct gb_error *err);
