/* `docker commit`: a container's changes as a new image. */
#pragma once

#include <jansson.h>

#include "engine.h"
#include "error.h"
#include "sha256.h"

struct gb_commit_req {
        const char *ref;      /* "repo[:tag]" for the new image, may be NULL */
        char *const *changes; /* Dockerfile instructions, NULL-terminated or NULL */
        const char *comment, *author;
        json_t *config; /* the API's body: Config fields that override the container's; may be NULL */
};

/* Commit container ref (name, ID or prefix): its upper directory becomes
 * a layer above its image's (container IDs, OCI whiteouts), its Config the
 * new image's config. The container may be running: there is no freezer
 * without cgroups, so what it writes meanwhile may or may not be in. */
int gb_engine_commit(struct gb_engine *e, const char *ref, const struct gb_commit_req *req, char ret_id[GB_DIGEST_LEN],
                     struct gb_error *err);
