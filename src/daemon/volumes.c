/* /volumes/...: named volumes, in the daemon's remapped root's area (the
 * same area the CLI uses). */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "util.h"
#include "volume.h"

static json_t *inspect(const char *area, const char *name, struct gb_error *err, int *ret_r)
{
        json_t *doc = NULL;

        *ret_r = gb_volume_inspect(gbd_engine.cfg.data_root, area, name, &doc, err);
        if (*ret_r < 0)
                return NULL;
        json_object_del(doc, "Anonymous");
        return doc;
}

void h_volumes_list(struct conn *c, char **caps)
{
        _cleanup_free_ char *area = gb_engine_volume_area(&gbd_engine, NULL, NULL);
        _cleanup_strv_ char **names = NULL;
        struct gb_error err = {0};
        json_t *vols;
        int r = gb_volume_list(gbd_engine.cfg.data_root, area, &names, &err);

        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        vols = json_array();
        for (char **n = names; n && *n; n++) {
                json_t *d = inspect(area, *n, NULL, &r);
                if (d)
                        json_array_append_new(vols, d);
        }
        conn_json(c, 200, json_pack("{s:o, s:[]}", "Volumes", vols, "Warnings"));
}

void h_volumes_create(struct conn *c, char **caps)
{
        json_auto_t *body = NULL;
        _cleanup_free_ char *area = NULL, *name = NULL;
        _cleanup_strv_ char **labels = NULL;
        struct gb_error err = {0};
        const char *want = NULL, *k;
        json_t *v, *doc;
        uid_t u;
        gid_t g;
        int r;

        if (conn_body_json(c, &body) < 0)
                return;
        if (body && !json_is_object(body)) {
                conn_error(c, 400, "the request body must be a JSON object");
                return;
        }
        v = json_object_get(body, "Name");
        if (v && !json_is_null(v) && !json_is_string(v)) {
                conn_error(c, 400, "field Name must be a string");
                return;
        }
        want = json_string_value(v);
        if (want && !*want)
                want = NULL;
        v = json_object_get(body, "Driver");
        if (v && json_is_string(v) && *json_string_value(v) && strcmp(json_string_value(v), "local") != 0) {
                conn_error(c, 400, "volume driver %s is not supported (only local)", json_string_value(v));
                return;
        }
        v = json_object_get(body, "Labels");
        if (json_is_object(v)) {
                json_t *x;
                size_t i = 0;
                labels = gb_xcalloc(json_object_size(v) + 1, sizeof(char *));
                json_object_foreach (v, k, x)
                        labels[i++] = gb_xasprintf("%s=%s", k, json_string_value(x) ?: "");
        }
        area = gb_engine_volume_area(&gbd_engine, &u, &g);
        r = gb_volume_create(gbd_engine.cfg.data_root, area, u, g, want, labels, &name, &err);
        if (r < 0 && r != -EEXIST) {
                conn_gb_error(c, r, &err);
                return;
        }
        doc = inspect(area, want ? want : name, &err, &r);
        if (!doc) {
                conn_gb_error(c, r, &err);
                return;
        }
        conn_json(c, 201, doc);
}

void h_volume_inspect(struct conn *c, char **caps)
{
        _cleanup_free_ char *area = gb_engine_volume_area(&gbd_engine, NULL, NULL);
        struct gb_error err = {0};
        int r;
        json_t *doc = inspect(area, caps[0], &err, &r);

        if (!doc) {
                if (r == -ENOENT)
                        conn_error(c, 404, "get %s: no such volume", caps[0]);
                else
                        conn_gb_error(c, r, &err);
                return;
        }
        conn_json(c, 200, doc);
}

static int remove_volume(const char *area, const char *name, struct gb_error *err)
{
        _cleanup_strv_ char **users = NULL;
        int r = gb_engine_volume_users(&gbd_engine, name, &users, err);

        if (r < 0)
                return r;
        if (users && users[0])
                return gb_error_set(err, EBUSY, "remove %s: volume is in use - [%s]", name, users[0]);
        return gb_volume_remove(gbd_engine.cfg.data_root, area, name, err);
}

void h_volume_delete(struct conn *c, char **caps)
{
        _cleanup_free_ char *area = gb_engine_volume_area(&gbd_engine, NULL, NULL);
        struct gb_error err = {0};
        int r = remove_volume(area, caps[0], &err);

        if (r == -ENOENT) {
                if (q_bool(c, "force"))
                        conn_no_content(c);
                else
                        conn_error(c, 404, "get %s: no such volume", caps[0]);
        } else if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_no_content(c);
}

/* Unused volumes go: anonymous ones only from API 1.42 on unless the
 * filter all=true is given, as Docker 23+. */
void h_volumes_prune(struct conn *c, char **caps)
{
        _cleanup_free_ char *area = gb_engine_volume_area(&gbd_engine, NULL, NULL), *filters = q_get(c, "filters");
        _cleanup_strv_ char **names = NULL;
        bool all = !c->req.version[0] || gb_api_version_cmp(c->req.version, "1.42") < 0 ||
                   (filters && strstr(filters, "\"all\"") && strstr(filters, "true"));
        json_t *deleted = json_array();

        if (gb_volume_list(gbd_engine.cfg.data_root, area, &names, NULL) == 0)
                for (char **n = names; *n; n++) {
                        json_t *doc = NULL;
                        int r;
                        if (!all) {
                                if (gb_volume_inspect(gbd_engine.cfg.data_root, area, *n, &doc, NULL) < 0)
                                        continue;
                                bool anon = json_is_true(json_object_get(doc, "Anonymous"));
                                json_decref(doc);
                                if (!anon)
                                        continue;
                        }
                        r = remove_volume(area, *n, NULL);
                        if (r == 0)
                                json_array_append_new(deleted, json_string(*n));
                }
        conn_json(c, 200, json_pack("{s:o, s:I}", "VolumesDeleted", deleted, "SpaceReclaimed", (json_int_t)0));
}
