/* Parsers for the image metadata formats ghostbox reads from outside:
 * `docker save`'s manifest.json, the OCI image layout's index.json and image
 * manifests, and the image config (OCI image-config / Docker v1 form). Each
 * takes untrusted bytes, validates every field it keeps (digests must be
 * "sha256:" + 64 lowercase hex so they can become file names) and returns a
 * fresh structure the caller frees with the matching _free(). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha256.h"

/* Largest metadata document accepted (manifests, indexes, configs). */
#define GB_MANIFEST_MAX (4u << 20)

struct gb_docker_manifest_entry {
        char *config;     /* path of the config file inside the archive */
        char **repo_tags; /* NULL-terminated, may be empty */
        char **layers;    /* NULL-terminated paths of the layer tars */
};

struct gb_docker_manifest {
        size_t n;
        struct gb_docker_manifest_entry *e;
};

struct gb_oci_descriptor {
        char *media_type;
        char digest[GB_DIGEST_LEN];
        int64_t size;
        char *ref_name;          /* org.opencontainers.image.ref.name or io.containerd.image.name, or NULL */
        char *os, *architecture; /* platform of an index entry, or NULL */
};

/* An OCI index (index.json) or image manifest: an index has manifests[], a
 * manifest has config + layers[]. */
struct gb_oci_index {
        size_t n;
        struct gb_oci_descriptor *manifests;
};

struct gb_oci_manifest {
        struct gb_oci_descriptor config;
        size_t n_layers;
        struct gb_oci_descriptor *layers;
};

struct gb_image_config {
        char *os, *architecture, *created;
        size_t n_diff_ids;
        char **diff_ids;                           /* rootfs.diff_ids, each a valid digest */
        char **env, **cmd, **entrypoint, **labels; /* NULL-terminated; labels as "key=value" */
        char *working_dir, *user, *stop_signal;
        char **exposed_ports; /* config.ExposedPorts keys ("80/tcp"), NULL-terminated */
};

int gb_docker_manifest_parse(const char *data, size_t len, struct gb_docker_manifest **ret, struct gb_error *err);
void gb_docker_manifest_free(struct gb_docker_manifest *m);

int gb_oci_index_parse(const char *data, size_t len, struct gb_oci_index **ret, struct gb_error *err);
void gb_oci_index_free(struct gb_oci_index *idx);

int gb_oci_manifest_parse(const char *data, size_t len, struct gb_oci_manifest **ret, struct gb_error *err);
void gb_oci_manifest_free(struct gb_oci_manifest *m);

int gb_image_config_parse(const char *data, size_t len, struct gb_image_config **ret, struct gb_error *err);
void gb_image_config_free(struct gb_image_config *c);

/* Split "REPO[:TAG]" (a registry host may carry a ":port") into a canonical
 * "repo:tag" (tag defaults to "latest"). Returns -EINVAL for a name Docker
 * would refuse (uppercase, spaces, empty parts); *ret is the caller's. */
int gb_image_ref_normalize(const char *ref, char **ret, struct gb_error *err);

static inline void gb_docker_manifest_freep(struct gb_docker_manifest **p)
{
        gb_docker_manifest_free(*p);
}

static inline void gb_oci_index_freep(struct gb_oci_index **p)
{
        gb_oci_index_free(*p);
}

static inline void gb_oci_manifest_freep(struct gb_oci_manifest **p)
{
        gb_oci_manifest_free(*p);
}

static inline void gb_image_config_freep(struct gb_image_config **p)
{
        gb_image_config_free(*p);
}
