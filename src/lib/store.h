/* The image store: one global, content-addressed store shared by every ID
 * range (remapping on or off hides no image).
 *
 *   <data-root>/layers/sha256/<hex>/     extracted layer, ownership as in the image
 *   <data-root>/layers/info/<hex>.json   layer metadata (max UID/GID, blob digest, ...)
 *   <data-root>/layers/blobs/<hex>       the layer blob as received (for save)
 *   <data-root>/images/sha256/<hex>.json image config, byte for byte (ID = its sha256)
 *   <data-root>/images/repositories.json {"repo:tag": "sha256:<hex>"}
 *   <data-root>/images/refs/<hex>/<holder> "image in use" markers (see below)
 *   <data-root>/tmp/                     extraction temp dirs, renamed into place last
 *
 * Layers are named by their diff ID (<hex> of "sha256:<hex>"). Concurrent CLI
 * calls serialise their commits on an flock of <data-root>/images/.lock;
 * extraction itself runs unlocked into a private temp dir, so a crash or a
 * corrupt archive leaves no partial layer or image. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "layer.h"
#include "manifest.h"
#include "sha256.h"

struct gb_store;

/* Open (creating the directories) the store under data_root. */
int gb_store_open(const char *data_root, struct gb_store **ret, struct gb_error *err);
void gb_store_free(struct gb_store *s);
const char *gb_store_data_root(const struct gb_store *s);

struct gb_load_opts {
        gb_progress_fn progress; /* raw input bytes read so far */
        void *progress_userdata;
};

/* `docker import`: a root filesystem tarball (plain, gzip or zstd) read from
 * fd becomes a one-layer image. ref ("repo[:tag]") may be NULL. changes are
 * Dockerfile instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL,
 * EXPOSE, VOLUME, STOPSIGNAL), NULL-terminated or NULL. */
int gb_store_import(struct gb_store *s, int fd, const char *ref, char *const *changes, const struct gb_load_opts *opts,
                    char ret_id[GB_DIGEST_LEN], struct gb_error *err);

/* Apply one Dockerfile instruction of `--change` (CMD, ENTRYPOINT, ENV,
 * EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR; JSON or shell form) to
 * an image config's "config" object. -EINVAL naming the change. */
int gb_image_change_apply(json_t *cfg, const char *change, struct gb_error *err);

/* `docker commit`: a new image from image parent plus one layer (a tar
 * read from layer_fd: gb_cfs_layer_tar), its config the parent's with the
 * container's settings (container_config: its Config object, may be NULL)
 * and then changes (as import's) applied; one history entry. ref
 * ("repo[:tag]") may be NULL. Nothing is left behind on failure. */
struct gb_commit_opts {
        const char *parent; /* "sha256:<hex>" */
        json_t *container_config;
        char *const *changes;
        const char *comment, *author, *created_by, *ref;
        const char *container; /* its ID, recorded as Docker's "container" */
        /* For the builder: parent may be NULL (FROM scratch: no layers
         * yet); config, when set, replaces the whole "config" object
         * (container_config and changes are then applied on top of it);
         * layer_fd < 0 commits the config alone, with an "empty_layer"
         * history entry as Docker's metadata steps have. */
        json_t *config;
};
int gb_store_commit(struct gb_store *s, int layer_fd, const struct gb_commit_opts *o, char ret_id[GB_DIGEST_LEN],
                    struct gb_error *err);

/* `docker load`: a `docker save` archive or an OCI image-layout archive
 * (optionally gzip/zstd compressed as a whole; layers plain, gzip or zstd).
 * *ret_loaded gets one line per image ("Loaded image: repo:tag" or "Loaded
 * image ID: sha256:..."), NULL-terminated, the caller's to gb_strv_free. */
int gb_store_load(struct gb_store *s, int fd, const struct gb_load_opts *opts, char ***ret_loaded,
                  struct gb_error *err);

/* `docker save`: write one uncompressed tar to fd holding both layouts
 * (OCI index.json + blobs/, and Docker's manifest.json pointing at the same
 * blobs), as Docker 25+ does. Configs and layer blobs are written as stored,
 * so loading the result gives the same image IDs. */
int gb_store_save(struct gb_store *s, char *const *names, int fd, struct gb_error *err);

/* Resolve a tag ("busybox", "repo:tag"), a full ID or a unique ID prefix (at
 * least 4 hex digits) to "sha256:<hex>". -ENOENT with a Docker-like message. */
int gb_store_resolve(struct gb_store *s, const char *name, char ret_id[GB_DIGEST_LEN], struct gb_error *err);

struct gb_image_summary {
        char id[GB_DIGEST_LEN];
        char **tags; /* NULL-terminated "repo:tag", may be empty */
        char *created;
        uint64_t size; /* sum of the layers' uncompressed sizes */
};

int gb_store_list(struct gb_store *s, struct gb_image_summary **ret, size_t *ret_n, struct gb_error *err);
void gb_image_summaries_free(struct gb_image_summary *v, size_t n);

int gb_store_tag(struct gb_store *s, const char *source, const char *target, struct gb_error *err);

/* `docker rmi`: a tag of an image with other tags is only untagged; the last
 * tag, or an ID, deletes the image and every layer no other image uses.
 * Removing by ID an image with several tags needs force. An image in use
 * (gb_store_image_in_use) is never deleted, force or not: -EBUSY naming the
 * holder. *ret_lines gets "Untagged: ..." / "Deleted: ..." lines. */
int gb_store_rmi(struct gb_store *s, const char *name, bool force, char ***ret_lines, struct gb_error *err);

/* `docker image prune`: remove the images no container uses, only the
 * untagged (dangling) ones unless all; wanted (may be NULL) filters more.
 * *ret_lines as rmi's; *ret_reclaimed: the bytes of the layers that went
 * (shared layers still used by a kept image are not counted). */
int gb_store_prune(struct gb_store *s, bool all, bool (*wanted)(const struct gb_image_summary *, void *), void *data,
                   char ***ret_lines, uint64_t *ret_reclaimed, struct gb_error *err);

/* The "config" object of an image's config, a new reference ({} when
 * the image has none): the builder's starting point. */
int gb_store_image_config_json(struct gb_store *s, const char *id, json_t **ret, struct gb_error *err);

/* Parsed config of an image (the engine builds the OCI spec from it). */
int gb_store_image_config(struct gb_store *s, const char *id, struct gb_image_config **ret, struct gb_error *err);

struct gb_layer_meta {
        char diff_id[GB_DIGEST_LEN];
        char *path; /* <data-root>/layers/sha256/<hex> */
        uint32_t max_uid, max_gid;
        char max_uid_path[256], max_gid_path[256];
        uint64_t size, entries;
};

/* The layers of an image, bottom (first diff ID) to top. */
int gb_store_image_layers(struct gb_store *s, const char *id, struct gb_layer_meta **ret, size_t *ret_n,
                          struct gb_error *err);
void gb_layer_metas_free(struct gb_layer_meta *v, size_t n);

/* "Image in use" markers. The container module calls gb_store_image_ref at
 * create (holder = container ID) and gb_store_image_unref at removal; rmi
 * refuses while any marker exists. A marker is the empty file
 * <data-root>/images/refs/<image hex>/<holder>, so it survives crashes and
 * needs no daemon. holder: [A-Za-z0-9_.-]{1,128}. */
int gb_store_image_ref(struct gb_store *s, const char *id, const char *holder, struct gb_error *err);
int gb_store_image_unref(struct gb_store *s, const char *id, const char *holder, struct gb_error *err);
/* 1 when in use (first holder's name in *ret_holder if non-NULL, caller
 * frees), 0 when not, -errno on error. */
int gb_store_image_in_use(struct gb_store *s, const char *id, char **ret_holder, struct gb_error *err);

static inline void gb_store_freep(struct gb_store **s)
{
        gb_store_free(*s);
}
