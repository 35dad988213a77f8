#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "mountspec.h"
#include "util.h"
#include "volume.h"

static char *vol_dir(const char *data_root, const char *area, const char *name)
{
        return gb_xasprintf("%s/%s/volumes/%s", data_root, area, name);
}

GB_EXPORT char *gb_volume_path(const char *data_root, const char *area, const char *name)
{
        return gb_xasprintf("%s/%s/volumes/%s/_data", data_root, area, name);
}

GB_EXPORT int gb_volume_create(const char *data_root, const char *area, uid_t uid, gid_t gid, const char *name,
                               char *const *labels, char **ret_name, struct gb_error *err)
{
        _cleanup_free_ char *vname = NULL, *top = NULL, *dir = NULL, *data = NULL, *meta = NULL, *text = NULL;
        _cleanup_free_ char *now = gb_timestamp_now();
        json_t *doc, *lab;
        int r;

        if (name) {
                if (!gb_volume_name_valid(name))
                        return gb_error_set(err, EINVAL,
                                            "Failed to create volume \"%s\": names must match "
                                            "[a-zA-Z0-9][a-zA-Z0-9_.-]+",
                                            name);
                vname = gb_xstrdup(name);
        } else {
                char id[GB_CONTAINER_ID_LEN + 1];
                r = gb_container_new_id(id, err);
                if (r < 0)
                        return r;
                vname = gb_xstrdup(id);
        }
        /* The area and its volumes/ belong to the area's root (0700), as
         * Docker's <uid>.<gid>/volumes. */
        r = gb_container_area(data_root, area, uid, gid, err);
        if (r < 0)
                return r;
        top = gb_xasprintf("%s/%s/volumes", data_root, area);
        if (mkdir(top, 0700) < 0 && errno != EEXIST)
                return gb_error_sys(err, errno, "Failed to create '%s'", top);
        if (chown(top, uid, gid) < 0)
                return gb_error_sys(err, errno, "Failed to chown '%s'", top);
        dir = vol_dir(data_root, area, vname);
        if (mkdir(dir, 0700) < 0) {
                if (errno == EEXIST && name) {
                        if (ret_name)
                                *ret_name = TAKE_PTR(vname);
                        return 0;
                }
                return gb_error_sys(err, errno, "Failed to create '%s'", dir);
        }
        data = gb_xasprintf("%s/_data", dir);
        meta = gb_xasprintf("%s/volume.json", dir);
        lab = json_object();
        for (char *const *l = labels; l && *l; l++) {
                _cleanup_free_ char *k = gb_xstrdup(*l);
                char *eq = strchr(k, '=');
                if (eq)
                        *eq++ = '\0';
                json_object_set_new(lab, k, json_string(eq ? eq : ""));
        }
        doc = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:n, s:b}", "Name", vname, "Driver", "local", "Mountpoint",
                        data, "CreatedAt", now, "Labels", lab, "Scope", "local", "Options", "Anonymous", !name);
        text = json_dumps(doc, JSON_INDENT(2));
        json_decref(doc);
        if (mkdir(data, 0755) < 0 || chown(dir, uid, gid) < 0 || chown(data, uid, gid) < 0) {
                r = gb_error_sys(err, errno, "Failed to create '%s'", data);
                (void)gb_rm_rf(dir);
                return r;
        }
        r = gb_write_file_atomic(meta, text, strlen(text), 0600);
        if (r < 0) {
                (void)gb_rm_rf(dir);
                return gb_error_sys(err, -r, "Failed to write '%s'", meta);
        }
        if (ret_name)
                *ret_name = TAKE_PTR(vname);
        return 0;
}

GB_EXPORT int gb_volume_inspect(const char *data_root, const char *area, const char *name, json_t **ret,
                                struct gb_error *err)
{
        _cleanup_free_ char *dir = NULL, *meta = NULL;
        json_error_t jerr;
        json_t *doc;

        if (!gb_volume_name_valid(name))
                return gb_error_set(err, ENOENT, "no such volume: %s", name);
        dir = vol_dir(data_root, area, name);
        meta = gb_xasprintf("%s/volume.json", dir);
        doc = json_load_file(meta, 0, &jerr);
        if (!doc) {
                if (access(dir, F_OK) < 0)
                        return gb_error_set(err, ENOENT, "no such volume: %s", name);
                return gb_error_set(err, EINVAL, "Failed to read '%s' line %d: %s", meta, jerr.line, jerr.text);
        }
        *ret = doc;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

GB_EXPORT int gb_volume_list(const char *data_root, const char *area, char ***ret_names, struct gb_error *err)
{
        _cleanup_free_ char *top = gb_xasprintf("%s/%s/volumes", data_root, area);
        _cleanup_(gb_closedirp) DIR *d = opendir(top);
        char **v = gb_xcalloc(1, sizeof(char *));
        size_t n = 0;
        struct dirent *de;

        if (!d && errno != ENOENT) {
                free(v);
                return gb_error_sys(err, errno, "Failed to list '%s'", top);
        }
        while (d && (de = readdir(d))) {
                if (!gb_volume_name_valid(de->d_name))
                        continue;
                v = gb_xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = gb_xstrdup(de->d_name);
                v[n] = NULL;
        }
        if (n > 1)
                qsort(v, n, sizeof(char *), cmp_str);
        *ret_names = v;
        return 0;
}

GB_EXPORT int gb_volume_remove(const char *data_root, const char *area, const char *name, struct gb_error *err)
{
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!gb_volume_name_valid(name))
                return gb_error_set(err, ENOENT, "no such volume: %s", name);
        dir = vol_dir(data_root, area, name);
        if (access(dir, F_OK) < 0)
                return gb_error_set(err, ENOENT, "no such volume: %s", name);
        r = gb_rm_rf(dir);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to remove volume '%s' ('%s')", name, dir);
        return 0;
}

GB_EXPORT bool gb_volume_is_empty(const char *data_root, const char *area, const char *name)
{
        _cleanup_free_ char *p = gb_volume_path(data_root, area, name);
        _cleanup_(gb_closedirp) DIR *d = opendir(p);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        return false;
        return true;
}

GB_EXPORT int gb_idmap_compose(const struct gb_idmap *from, const struct gb_idmap *to, struct gb_idmap *ret)
{
        struct gb_idmap m = {0};

        for (size_t i = 0; i < from->n; i++)
                for (size_t j = 0; j < to->n; j++) {
                        uint64_t a0 = from->r[i].container_id, a1 = a0 + from->r[i].count;
                        uint64_t b0 = to->r[j].container_id, b1 = b0 + to->r[j].count;
                        uint64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
                        int r;
                        if (lo >= hi)
                                continue;
                        r = gb_idmap_add(&m, (uint32_t)(from->r[i].host_id + (lo - a0)),
                                         (uint32_t)(to->r[j].host_id + (lo - b0)), (uint32_t)(hi - lo));
                        if (r < 0)
                                return r;
                }
        *ret = m;
        return 0;
}
