#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "manifest.h"
#include "util.h"

static void gb_json_decrefp(json_t **j)
{
        if (*j)
                json_decref(*j);
}
#define _cleanup_json_ _cleanup_(gb_json_decrefp)

static int load(const char *data, size_t len, const char *what, json_t **ret, struct gb_error *err)
{
        json_error_t je;
        json_t *j;

        if (len > GB_MANIFEST_MAX)
                return gb_error_set(err, EFBIG, "Failed to parse %s: %zu bytes is more than the %u allowed", what, len,
                                    GB_MANIFEST_MAX);
        /* Duplicate keys are refused: two readers choosing different ones
         * is how a manifest says one thing to a scanner and another to us. */
        j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                return gb_error_set(err, EINVAL, "Failed to parse %s: line %d: %s", what, je.line, je.text);
        *ret = j;
        return 0;
}

/* A string array (or null/absent) as a NULL-terminated vector. */
static int strv_from(json_t *a, const char *what, const char *field, char ***ret, struct gb_error *err)
{
        size_t i;
        json_t *v;
        char **out;

        if (!a || json_is_null(a)) {
                *ret = gb_xcalloc(1, sizeof(char *));
                return 0;
        }
        if (!json_is_array(a))
                return gb_error_set(err, EINVAL, "Failed to parse %s: '%s' must be an array of strings", what, field);
        out = gb_xcalloc(json_array_size(a) + 1, sizeof(char *));
        json_array_foreach (a, i, v) {
                if (!json_is_string(v)) {
                        gb_strv_free(out);
                        return gb_error_set(err, EINVAL, "Failed to parse %s: '%s[%zu]' must be a string", what, field,
                                            i);
                }
                out[i] = gb_xstrdup(json_string_value(v));
        }
        *ret = out;
        return 0;
}

static int str_from(json_t *o, const char *key, const char *what, bool required, char **ret, struct gb_error *err)
{
        json_t *v = json_object_get(o, key);

        if (!v || json_is_null(v)) {
                if (required)
                        return gb_error_set(err, EINVAL, "Failed to parse %s: '%s' is missing", what, key);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return gb_error_set(err, EINVAL, "Failed to parse %s: '%s' must be a string", what, key);
        *ret = gb_xstrdup(json_string_value(v));
        return 0;
}

static int path_ok(const char *p)
{
        return p && p[0] && strlen(p) < 1024;
}

GB_EXPORT void gb_docker_manifest_free(struct gb_docker_manifest *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++) {
                free(m->e[i].config);
                gb_strv_free(m->e[i].repo_tags);
                gb_strv_free(m->e[i].layers);
        }
        free(m->e);
        free(m);
}

GB_EXPORT int gb_docker_manifest_parse(const char *data, size_t len, struct gb_docker_manifest **ret,
                                       struct gb_error *err)
{
        static const char what[] = "manifest.json";
        _cleanup_json_ json_t *root = NULL;
        struct gb_docker_manifest *m;
        json_t *v;
        size_t i;
        int r;

        r = load(data, len, what, &root, err);
        if (r < 0)
                return r;
        if (!json_is_array(root) || json_array_size(root) == 0)
                return gb_error_set(err, EINVAL, "Failed to parse %s: expected a non-empty array of images", what);
        m = gb_xcalloc(1, sizeof(*m));
        m->e = gb_xcalloc(json_array_size(root), sizeof(*m->e));
        json_array_foreach (root, i, v) {
                struct gb_docker_manifest_entry *e = &m->e[i];

                m->n = i + 1;
                if (!json_is_object(v)) {
                        r = gb_error_set(err, EINVAL, "Failed to parse %s: entry %zu is not an object", what, i);
                        goto fail;
                }
                r = str_from(v, "Config", what, true, &e->config, err);
                if (r < 0)
                        goto fail;
                r = strv_from(json_object_get(v, "RepoTags"), what, "RepoTags", &e->repo_tags, err);
                if (r < 0)
                        goto fail;
                r = strv_from(json_object_get(v, "Layers"), what, "Layers", &e->layers, err);
                if (r < 0)
                        goto fail;
                if (!path_ok(e->config)) {
                        r = gb_error_set(err, EINVAL, "Failed to parse %s: entry %zu has a bad Config path", what, i);
                        goto fail;
                }
                for (char **l = e->layers; *l; l++)
                        if (!path_ok(*l)) {
                                r = gb_error_set(err, EINVAL, "Failed to parse %s: entry %zu has a bad layer path",
                                                 what, i);
                                goto fail;
                        }
        }
        *ret = m;
        return 0;
fail:
        gb_docker_manifest_free(m);
        return r;
}

static void descriptor_free(struct gb_oci_descriptor *d)
{
        free(d->media_type);
        free(d->ref_name);
        free(d->os);
        free(d->architecture);
}

static int descriptor_parse(json_t *o, const char *what, struct gb_oci_descriptor *d, struct gb_error *err)
{
        json_t *size, *ann, *platform;
        _cleanup_free_ char *digest = NULL;
        int r;

        if (!json_is_object(o))
                return gb_error_set(err, EINVAL, "Failed to parse %s: a descriptor is not an object", what);
        r = str_from(o, "mediaType", what, false, &d->media_type, err);
        if (r < 0)
                return r;
        r = str_from(o, "digest", what, true, &digest, err);
        if (r < 0)
                return r;
        if (!gb_digest_valid(digest))
                return gb_error_set(err, EINVAL, "Failed to parse %s: digest '%.80s' is not sha256:<64 hex digits>",
                                    what, digest);
        memcpy(d->digest, digest, GB_DIGEST_LEN);
        size = json_object_get(o, "size");
        if (size && (!json_is_integer(size) || json_integer_value(size) < 0))
                return gb_error_set(err, EINVAL, "Failed to parse %s: 'size' must be a non-negative integer", what);
        d->size = size ? json_integer_value(size) : -1;
        platform = json_object_get(o, "platform");
        if (json_is_object(platform)) {
                json_t *v = json_object_get(platform, "os");
                if (json_is_string(v))
                        d->os = gb_xstrdup(json_string_value(v));
                v = json_object_get(platform, "architecture");
                if (json_is_string(v))
                        d->architecture = gb_xstrdup(json_string_value(v));
        }
        ann = json_object_get(o, "annotations");
        if (ann && json_is_object(ann)) {
                json_t *n = json_object_get(ann, "io.containerd.image.name");
                if (!json_is_string(n))
                        n = json_object_get(ann, "org.opencontainers.image.ref.name");
                if (json_is_string(n))
                        d->ref_name = gb_xstrdup(json_string_value(n));
        }
        return 0;
}

GB_EXPORT void gb_oci_index_free(struct gb_oci_index *idx)
{
        if (!idx)
                return;
        for (size_t i = 0; i < idx->n; i++)
                descriptor_free(&idx->manifests[i]);
        free(idx->manifests);
        free(idx);
}

GB_EXPORT int gb_oci_index_parse(const char *data, size_t len, struct gb_oci_index **ret, struct gb_error *err)
{
        static const char what[] = "OCI index";
        _cleanup_json_ json_t *root = NULL;
        struct gb_oci_index *idx;
        json_t *a, *v;
        size_t i;
        int r;

        r = load(data, len, what, &root, err);
        if (r < 0)
                return r;
        a = json_object_get(root, "manifests");
        if (!json_is_array(a))
                return gb_error_set(err, EINVAL, "Failed to parse %s: 'manifests' must be an array", what);
        idx = gb_xcalloc(1, sizeof(*idx));
        idx->manifests = gb_xcalloc(json_array_size(a) + 1, sizeof(*idx->manifests));
        json_array_foreach (a, i, v) {
                idx->n = i + 1;
                r = descriptor_parse(v, what, &idx->manifests[i], err);
                if (r < 0) {
                        gb_oci_index_free(idx);
                        return r;
                }
        }
        *ret = idx;
        return 0;
}

GB_EXPORT void gb_oci_manifest_free(struct gb_oci_manifest *m)
{
        if (!m)
                return;
        descriptor_free(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                descriptor_free(&m->layers[i]);
        free(m->layers);
        free(m);
}

GB_EXPORT int gb_oci_manifest_parse(const char *data, size_t len, struct gb_oci_manifest **ret, struct gb_error *err)
{
        static const char what[] = "OCI image manifest";
        _cleanup_json_ json_t *root = NULL;
        struct gb_oci_manifest *m;
        json_t *a, *v;
        size_t i;
        int r;

        r = load(data, len, what, &root, err);
        if (r < 0)
                return r;
        if (!json_is_object(root))
                return gb_error_set(err, EINVAL, "Failed to parse %s: not an object", what);
        a = json_object_get(root, "layers");
        if (a && !json_is_array(a))
                return gb_error_set(err, EINVAL, "Failed to parse %s: 'layers' must be an array", what);
        m = gb_xcalloc(1, sizeof(*m));
        r = descriptor_parse(json_object_get(root, "config"), what, &m->config, err);
        if (r < 0)
                goto fail;
        m->layers = gb_xcalloc(json_array_size(a) + 1, sizeof(*m->layers));
        json_array_foreach (a, i, v) {
                m->n_layers = i + 1;
                r = descriptor_parse(v, what, &m->layers[i], err);
                if (r < 0)
                        goto fail;
        }
        *ret = m;
        return 0;
fail:
        gb_oci_manifest_free(m);
        return r;
}

GB_EXPORT void gb_image_config_free(struct gb_image_config *c)
{
        if (!c)
                return;
        free(c->os);
        free(c->architecture);
        free(c->created);
        gb_strv_free(c->diff_ids);
        gb_strv_free(c->env);
        gb_strv_free(c->cmd);
        gb_strv_free(c->entrypoint);
        gb_strv_free(c->labels);
        gb_strv_free(c->exposed_ports);
        free(c->working_dir);
        free(c->user);
        free(c->stop_signal);
        free(c);
}

GB_EXPORT int gb_image_config_parse(const char *data, size_t len, struct gb_image_config **ret, struct gb_error *err)
{
        static const char what[] = "image config";
        _cleanup_json_ json_t *root = NULL;
        struct gb_image_config *c;
        json_t *rootfs, *cfg, *labels;
        int r;

        r = load(data, len, what, &root, err);
        if (r < 0)
                return r;
        if (!json_is_object(root))
                return gb_error_set(err, EINVAL, "Failed to parse %s: not an object", what);
        c = gb_xcalloc(1, sizeof(*c));
        if ((r = str_from(root, "os", what, false, &c->os, err)) < 0 ||
            (r = str_from(root, "architecture", what, false, &c->architecture, err)) < 0 ||
            (r = str_from(root, "created", what, false, &c->created, err)) < 0)
                goto fail;
        rootfs = json_object_get(root, "rootfs");
        if (!json_is_object(rootfs)) {
                r = gb_error_set(err, EINVAL, "Failed to parse %s: 'rootfs' is missing", what);
                goto fail;
        }
        r = strv_from(json_object_get(rootfs, "diff_ids"), what, "rootfs.diff_ids", &c->diff_ids, err);
        if (r < 0)
                goto fail;
        c->n_diff_ids = gb_strv_len(c->diff_ids);
        for (size_t i = 0; i < c->n_diff_ids; i++)
                if (!gb_digest_valid(c->diff_ids[i])) {
                        r = gb_error_set(err, EINVAL, "Failed to parse %s: rootfs.diff_ids[%zu] is not a sha256 digest",
                                         what, i);
                        goto fail;
                }
        /* Docker writes "config"; some old tools wrote "container_config"
         * only. */
        cfg = json_object_get(root, "config");
        if (!cfg || json_is_null(cfg))
                cfg = json_object();
        else
                json_incref(cfg);
        if (!json_is_object(cfg)) {
                json_decref(cfg);
                r = gb_error_set(err, EINVAL, "Failed to parse %s: 'config' must be an object", what);
                goto fail;
        }
        if ((r = strv_from(json_object_get(cfg, "Env"), what, "config.Env", &c->env, err)) < 0 ||
            (r = strv_from(json_object_get(cfg, "Cmd"), what, "config.Cmd", &c->cmd, err)) < 0 ||
            (r = strv_from(json_object_get(cfg, "Entrypoint"), what, "config.Entrypoint", &c->entrypoint, err)) < 0 ||
            (r = str_from(cfg, "WorkingDir", what, false, &c->working_dir, err)) < 0 ||
            (r = str_from(cfg, "User", what, false, &c->user, err)) < 0 ||
            (r = str_from(cfg, "StopSignal", what, false, &c->stop_signal, err)) < 0) {
                json_decref(cfg);
                goto fail;
        }
        {
                /* Keys only; the values are always {}. */
                json_t *ep = json_object_get(cfg, "ExposedPorts"), *v;
                const char *k;
                size_t n = 0;
                c->exposed_ports = gb_xcalloc(json_is_object(ep) ? json_object_size(ep) + 1 : 1, sizeof(char *));
                json_object_foreach (json_is_object(ep) ? ep : NULL, k, v)
                        c->exposed_ports[n++] = gb_xstrdup(k);
        }
        labels = json_object_get(cfg, "Labels");
        c->labels = gb_xcalloc(json_is_object(labels) ? json_object_size(labels) + 1 : 1, sizeof(char *));
        if (json_is_object(labels)) {
                const char *k;
                json_t *v;
                size_t n = 0;

                json_object_foreach (labels, k, v) {
                        if (!json_is_string(v)) {
                                json_decref(cfg);
                                r = gb_error_set(err, EINVAL, "Failed to parse %s: label '%.80s' is not a string", what,
                                                 k);
                                goto fail;
                        }
                        c->labels[n++] = gb_xasprintf("%s=%s", k, json_string_value(v));
                }
        }
        json_decref(cfg);
        *ret = c;
        return 0;
fail:
        gb_image_config_free(c);
        return r;
}

static bool ref_char_ok(char ch)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' ||
               ch == '/' || ch == ':';
}

GB_EXPORT int gb_image_ref_normalize(const char *ref, char **ret, struct gb_error *err)
{
        const char *slash, *colon;
        size_t len;

        if (!ref || !ref[0])
                return gb_error_set(err, EINVAL, "Failed to parse image reference: it is empty");
        len = strlen(ref);
        if (len > 255)
                return gb_error_set(err, EINVAL, "Failed to parse image reference '%.40s...': longer than 255", ref);
        if (gb_str_has_prefix(ref, "sha256:"))
                return gb_error_set(err, EINVAL, "Failed to use '%s' as a repository name: it looks like an ID", ref);
        for (const char *p = ref; *p; p++)
                if (!ref_char_ok(*p))
                        return gb_error_set(err, EINVAL,
                                            "Failed to parse image reference '%s': invalid character '%c' (use "
                                            "lowercase letters, digits, '.', '_', '-', '/' and ':TAG')",
                                            ref, *p);
        if (ref[0] == '/' || ref[0] == ':' || ref[len - 1] == '/' || ref[len - 1] == ':' || strstr(ref, "//"))
                return gb_error_set(err, EINVAL, "Failed to parse image reference '%s'", ref);
        slash = strrchr(ref, '/');
        colon = strrchr(ref, ':');
        /* A ':' in the first of several components is a registry port:
         * digits only. */
        const char *first_slash = strchr(ref, '/'), *first_colon = strchr(ref, ':');
        if (first_slash && first_colon && first_colon < first_slash) {
                if (first_colon + 1 == first_slash)
                        return gb_error_set(err, EINVAL, "Failed to parse image reference '%s': bad port", ref);
                for (const char *p = first_colon + 1; p < first_slash; p++)
                        if (*p < '0' || *p > '9')
                                return gb_error_set(err, EINVAL, "Failed to parse image reference '%s': bad port", ref);
        }
        /* A ':' before the last '/' is a registry port, not a tag. */
        if (colon && (!slash || colon > slash)) {
                if (strchr(colon + 1, '/') || colon[1] == '\0')
                        return gb_error_set(err, EINVAL, "Failed to parse image reference '%s': bad tag", ref);
                *ret = gb_xstrdup(ref);
        } else
                *ret = gb_xasprintf("%s:latest", ref);
        return 0;
}
