/* daemon.json loading (jansson) and validation. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "util.h"

#define CONFIG_FILE_MAX (1u << 20)

GB_EXPORT void gb_config_done(struct gb_config *c)
{
        if (!c)
                return;
        free(c->path);
        free(c->userns_remap);
        free(c->userns_remap_origin);
        free(c->data_root);
        free(c->exec_root);
        gb_strv_free(c->hosts);
        free(c->group);
        free(c->pidfile);
        free(c->log_level);
        free(c->storage_driver);
        free(c->cgroup_parent);
        free(c->default_network);
        gb_strv_free(c->labels);
        *c = (struct gb_config){0};
}

GB_EXPORT const char *gb_storage_shift_to_string(enum gb_storage_shift s)
{
        switch (s) {
        case GB_STORAGE_SHIFT_IDMAP:
                return "idmap";
        case GB_STORAGE_SHIFT_CHOWN:
                return "chown";
        case GB_STORAGE_SHIFT_AUTO:
        default:
                return "auto";
        }
}

static void set_defaults(struct gb_config *c, const char *path)
{
        *c = (struct gb_config){0};
        c->path = gb_xstrdup(path);
        c->userns_remap = gb_xstrdup(GB_DEFAULT_REMAP);
        c->userns_remap_origin = gb_xstrdup("built-in default");
        c->data_root = gb_xstrdup(GB_DEFAULT_DATA_ROOT);
        c->exec_root = gb_xstrdup(GB_DEFAULT_EXEC_ROOT);
        c->hosts = gb_xcalloc(1, sizeof(char *));
        c->log_level = gb_xstrdup("info");
        c->storage_driver = gb_xstrdup("overlay2");
        c->storage_shift = GB_STORAGE_SHIFT_AUTO;
        c->labels = gb_xcalloc(1, sizeof(char *));
}

static int want_string(const char *path, const char *key, json_t *v, struct gb_error *err)
{
        if (!json_is_string(v))
                return gb_error_set(err, EINVAL, "Failed to load '%s': key \"%s\" must be a string", path, key);
        if (strlen(json_string_value(v)) != json_string_length(v))
                return gb_error_set(err, EINVAL, "Failed to load '%s': key \"%s\" contains a NUL character", path, key);
        return 0;
}

static int set_string(const char *path, const char *key, json_t *v, char **field, struct gb_error *err)
{
        int r = want_string(path, key, v, err);

        if (r < 0)
                return r;
        free(*field);
        *field = gb_xstrdup(json_string_value(v));
        return 0;
}

static int set_abs_path(const char *path, const char *key, json_t *v, char **field, struct gb_error *err)
{
        int r = want_string(path, key, v, err);

        if (r < 0)
                return r;
        if (json_string_value(v)[0] != '/')
                return gb_error_set(err, EINVAL, "Failed to load '%s': key \"%s\" must be an absolute path, not \"%s\"",
                                    path, key, json_string_value(v));
        free(*field);
        *field = gb_xstrdup(json_string_value(v));
        return 0;
}

static int one_of(const char *path, const char *key, const char *v, const char *const *allowed, struct gb_error *err)
{
        char list[256] = "";

        for (size_t i = 0; allowed[i]; i++) {
                if (strcmp(v, allowed[i]) == 0)
                        return (int)i;
                (void)strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                (void)strncat(list, allowed[i], sizeof(list) - strlen(list) - 1);
        }
        return gb_error_set(err, EINVAL, "Failed to load '%s': key \"%s\" is \"%.64s\", expected one of %s", path, key,
                            v, list);
}

static int apply_key(const char *path, const char *key, json_t *v, struct gb_config *c, struct gb_error *err)
{
        static const char *const levels[] = {"debug", "info", "warn", "error", "fatal", NULL};
        static const char *const drivers[] = {"overlay2", "overlay", NULL};
        static const char *const shifts[] = {"auto", "idmap", "chown", NULL};
        int r;

        if (strcmp(key, "userns-remap") == 0) {
                r = set_string(path, key, v, &c->userns_remap, err);
                if (r >= 0) {
                        free(c->userns_remap_origin);
                        c->userns_remap_origin = gb_xstrdup(path);
                }
                return r;
        }
        if (strcmp(key, "data-root") == 0)
                return set_abs_path(path, key, v, &c->data_root, err);
        if (strcmp(key, "exec-root") == 0)
                return set_abs_path(path, key, v, &c->exec_root, err);
        if (strcmp(key, "pidfile") == 0)
                return set_abs_path(path, key, v, &c->pidfile, err);
        if (strcmp(key, "group") == 0)
                return set_string(path, key, v, &c->group, err);
        if (strcmp(key, "cgroup-parent") == 0)
                return set_string(path, key, v, &c->cgroup_parent, err);
        if (strcmp(key, "default-network") == 0)
                return set_string(path, key, v, &c->default_network, err);
        if (strcmp(key, "debug") == 0) {
                if (!json_is_boolean(v))
                        return gb_error_set(err, EINVAL, "Failed to load '%s': key \"%s\" must be true or false", path,
                                            key);
                c->debug = json_is_true(v);
                return 0;
        }
        if (strcmp(key, "log-level") == 0) {
                r = want_string(path, key, v, err);
                if (r >= 0)
                        r = one_of(path, key, json_string_value(v), levels, err);
                return r < 0 ? r : set_string(path, key, v, &c->log_level, err);
        }
        if (strcmp(key, "storage-driver") == 0) {
                r = want_string(path, key, v, err);
                if (r >= 0)
                        r = one_of(path, key, json_string_value(v), drivers, err);
                return r < 0 ? r : set_string(path, key, v, &c->storage_driver, err);
        }
        if (strcmp(key, "storage-shift") == 0) {
                r = want_string(path, key, v, err);
                if (r >= 0)
                        r = one_of(path, key, json_string_value(v), shifts, err);
                if (r < 0)
                        return r;
                c->storage_shift = r == 1   ? GB_STORAGE_SHIFT_IDMAP
                                   : r == 2 ? GB_STORAGE_SHIFT_CHOWN
                                            : GB_STORAGE_SHIFT_AUTO;
                return 0;
        }
        if (strcmp(key, "hosts") == 0) {
                size_t i;
                json_t *h;

                if (!json_is_array(v))
                        return gb_error_set(err, EINVAL,
                                            "Failed to load '%s': key \"hosts\" must be an array of strings", path);
                json_array_foreach (v, i, h) {
                        if (!json_is_string(h) || strlen(json_string_value(h)) != json_string_length(h))
                                return gb_error_set(err, EINVAL,
                                                    "Failed to load '%s': key \"hosts\" element %zu must be a string",
                                                    path, i);
                }
                gb_strv_free(c->hosts);
                c->hosts = gb_xcalloc(json_array_size(v) + 1, sizeof(char *));
                json_array_foreach (v, i, h)
                        c->hosts[i] = gb_xstrdup(json_string_value(h));
                return 0;
        }
        if (strcmp(key, "labels") == 0) {
                size_t i;
                json_t *l;

                if (!json_is_array(v))
                        return gb_error_set(err, EINVAL,
                                            "Failed to load '%s': key \"labels\" must be an array of \"key=value\" "
                                            "strings",
                                            path);
                /* dockerd's check: a label without '=' or with an empty
                 * key is a mistake, not a flag. */
                json_array_foreach (v, i, l) {
                        const char *t = json_string_value(l);
                        if (!t || strlen(t) != json_string_length(l) || !strchr(t, '=') || t[0] == '=')
                                return gb_error_set(err, EINVAL,
                                                    "Failed to load '%s': key \"labels\" element %zu must be a "
                                                    "\"key=value\" string",
                                                    path, i);
                }
                gb_strv_free(c->labels);
                c->labels = gb_xcalloc(json_array_size(v) + 1, sizeof(char *));
                json_array_foreach (v, i, l)
                        c->labels[i] = gb_xstrdup(json_string_value(l));
                return 0;
        }
        return gb_error_set(err, EINVAL,
                            "Failed to load '%s': unknown key \"%.128s\" (known: userns-remap, data-root, exec-root, "
                            "hosts, group, debug, log-level, labels, pidfile, storage-driver, storage-shift, "
                            "cgroup-parent, default-network)",
                            path, key);
}

GB_EXPORT int gb_config_parse(const char *path, const char *text, size_t len, struct gb_config *ret,
                              struct gb_error *err)
{
        _cleanup_(json_decrefp) json_t *root = NULL;
        _cleanup_(gb_config_done) struct gb_config c = {0};
        json_error_t je;
        const char *key;
        json_t *v;
        int r;

        set_defaults(&c, path);
        /* Docker refuses a key given twice; so do we (which one wins would
         * otherwise depend on the parser). */
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return gb_error_set(err, EINVAL, "Failed to parse '%s' line %d column %d: %s", path, je.line, je.column,
                                    je.text);
        if (!json_is_object(root))
                return gb_error_set(err, EINVAL, "Failed to load '%s': the top level must be a JSON object ({...})",
                                    path);
        json_object_foreach (root, key, v) {
                r = apply_key(path, key, v, &c, err);
                if (r < 0)
                        return r;
        }
        c.file_found = true;
        *ret = c;
        c = (struct gb_config){0};
        return 0;
}

GB_EXPORT int gb_config_load(const struct gb_config_overrides *ov, struct gb_config *ret, struct gb_error *err)
{
        _cleanup_(gb_config_done) struct gb_config c = {0};
        _cleanup_free_ char *buf = NULL;
        const char *path = ov && ov->path ? ov->path : NULL;
        size_t len = 0;
        int r;

        *ret = (struct gb_config){0};
        if (!path) {
                const char *e = getenv("GHOSTBOX_CONFIG");
                path = e && *e ? e : GB_CONFIG_FILE;
        }
        r = gb_read_file_at(AT_FDCWD, path, CONFIG_FILE_MAX, &buf, &len);
        if (r == -ENOENT)
                set_defaults(&c, path);
        else if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s'", path);
        else {
                r = gb_config_parse(path, buf, len, &c, err);
                if (r < 0)
                        return r;
        }
        if (ov && ov->userns_remap) {
                free(c.userns_remap);
                c.userns_remap = gb_xstrdup(ov->userns_remap);
                free(c.userns_remap_origin);
                c.userns_remap_origin = gb_xstrdup("--userns-remap");
        }
        if (ov && ov->data_root) {
                if (ov->data_root[0] != '/')
                        return gb_error_set(err, EINVAL, "Failed to use --data-root '%s': it must be an absolute path",
                                            ov->data_root);
                free(c.data_root);
                c.data_root = gb_xstrdup(ov->data_root);
        }
        if (ov && ov->exec_root) {
                if (ov->exec_root[0] != '/')
                        return gb_error_set(err, EINVAL, "Failed to use --exec-root '%s': it must be an absolute path",
                                            ov->exec_root);
                free(c.exec_root);
                c.exec_root = gb_xstrdup(ov->exec_root);
        }
        *ret = c;
        c = (struct gb_config){0};
        return 0;
}
