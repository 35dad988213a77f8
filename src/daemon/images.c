/* /images/...: the store as the Engine API shows it. There is no pull:
 * ghostbox has no registry access (images come from `load`/`import`). */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "manifest.h"
#include "store.h"
#include "util.h"

/* `docker load` archives can be large; a bound still stops a client from
 * filling the disk through us. */
#define MAX_LOAD_BYTES (64ULL * 1024 * 1024 * 1024)

static long long unix_time(const char *ts)
{
        struct tm tm = {0};

        if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return (long long)timegm(&tm);
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();
        for (; v && *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

struct gb_store *gbd_open_store(struct conn *c)
{
        struct gb_store *s = NULL;
        struct gb_error err = {0};
        int r = gb_store_open(gbd_engine.cfg.data_root, &s, &err);

        if (r < 0) {
                conn_gb_error(c, r, &err);
                return NULL;
        }
        return s;
}

/* `filters` of GET /images/json, as dockerd: dangling=true|false,
 * reference=PATTERN (a glob on "repo:tag", or on "repo" alone when the
 * pattern has no tag), label=KEY[=VALUE], before=IMAGE, since=IMAGE. Values
 * of one key are OR-ed, keys AND-ed. */
struct img_filter {
        json_t *f;
        struct gb_store *s;
        long long before, since; /* created times of the named images; 0: unset */
};

static bool any_value(json_t *v, bool (*match)(const char *want, void *data), void *data)
{
        json_t *x;
        const char *k;
        size_t i;

        if (!v)
                return true;
        if (json_is_array(v)) {
                json_array_foreach (v, i, x)
                        if (json_is_string(x) && match(json_string_value(x), data))
                                return true;
                return false;
        }
        json_object_foreach (v, k, x)
                if (match(k, data))
                        return true;
        return false;
}

static bool match_reference(const char *want, void *data)
{
        const struct gb_image_summary *im = data;
        /* A pattern with a tag matches "repo:tag"; without one, the repo. */
        const char *slash = strrchr(want, '/'), *colon = strrchr(want, ':');
        bool with_tag = colon && (!slash || colon > slash);

        for (char **t = im->tags; t && *t; t++) {
                _cleanup_free_ char *repo = gb_xstrdup(*t);
                char *c = strrchr(repo, ':');
                if (c && (!strrchr(repo, '/') || c > strrchr(repo, '/')))
                        *c = '\0';
                if (fnmatch(want, with_tag ? *t : repo, 0) == 0)
                        return true;
                /* Docker also matches the familiar name without "library/". */
                if (!with_tag && gb_str_has_prefix(repo, "library/") && fnmatch(want, repo + 8, 0) == 0)
                        return true;
        }
        return false;
}

struct label_ctx {
        struct gb_store *s;
        const char *id;
};

static bool match_image_label(const char *want, void *data)
{
        struct label_ctx *lc = data;
        _cleanup_(gb_image_config_freep) struct gb_image_config *ic = NULL;
        const char *eq = strchr(want, '=');
        size_t kl = eq ? (size_t)(eq - want) : strlen(want);

        if (gb_store_image_config(lc->s, lc->id, &ic, NULL) < 0)
                return false;
        for (char **l = ic->labels; l && *l; l++)
                if (strncmp(*l, want, kl) == 0 && (*l)[kl] == '=' && (!eq || strcmp(*l + kl + 1, eq + 1) == 0))
                        return true;
        return false;
}

static bool image_wanted(struct img_filter *fl, const struct gb_image_summary *im)
{
        json_t *dv = json_object_get(fl->f, "dangling");
        long long created = unix_time(im->created);

        if (dv) {
                bool dangling = !im->tags || !im->tags[0];
                const char *b = json_is_array(dv) ? json_string_value(json_array_get(dv, 0))
                                                  : json_object_iter_key(json_object_iter(dv));
                bool want_true = b && (!strcmp(b, "true") || !strcmp(b, "1"));
                if (dangling != want_true)
                        return false;
        }
        if (!any_value(json_object_get(fl->f, "reference"), match_reference, (void *)im))
                return false;
        {
                struct label_ctx lc = {fl->s, im->id};
                json_t *lv = json_object_get(fl->f, "label");
                /* Labels are AND-ed in Docker: every one must match. */
                if (json_is_array(lv)) {
                        json_t *x;
                        size_t i;
                        json_array_foreach (lv, i, x)
                                if (json_is_string(x) && !match_image_label(json_string_value(x), &lc))
                                        return false;
                } else if (json_is_object(lv)) {
                        const char *k;
                        json_t *x;
                        json_object_foreach (lv, k, x)
                                if (!match_image_label(k, &lc))
                                        return false;
                }
        }
        if (fl->before && created >= fl->before)
                return false;
        if (fl->since && created <= fl->since)
                return false;
        return true;
}

/* The one value of before/since (an image reference) as its created time. */
static int ref_time(struct conn *c, struct img_filter *fl, const char *key, long long *ret)
{
        json_t *v = json_object_get(fl->f, key);
        const char *ref = NULL;
        _cleanup_(gb_image_config_freep) struct gb_image_config *ic = NULL;
        char id[GB_DIGEST_LEN];
        struct gb_error err = {0};

        if (!v)
                return 0;
        if (json_is_array(v))
                ref = json_string_value(json_array_get(v, 0));
        else if (json_is_object(v))
                ref = json_object_iter_key(json_object_iter(v));
        if (!ref || gb_store_resolve(fl->s, ref, id, &err) < 0 || gb_store_image_config(fl->s, id, &ic, &err) < 0) {
                conn_error(c, 404, "No such image: %s", ref ? ref : "");
                return -ENOENT;
        }
        *ret = unix_time(ic->created);
        return 0;
}

/* The filters query parameter: a JSON object whose keys are among the
 * space-separated allowed ones, each a list (or Docker's older {"v": true}
 * form); dangling must be true or false (or 1/0). *ret is NULL without
 * filters. Answers 400 itself. */
static int parse_filters(struct conn *c, const char *filt, const char *allowed, const char *what, json_t **ret)
{
        json_t *filters, *x;
        const char *k;

        *ret = NULL;
        if (!filt || !*filt)
                return 0;
        filters = json_loads(filt, 0, NULL);
        if (!json_is_object(filters)) {
                json_decref(filters);
                conn_error(c, 400, "invalid filters: %s", filt);
                return -EINVAL;
        }
        json_object_foreach (filters, k, x) {
                const char *p = strstr(allowed, k);
                size_t kl = strlen(k);
                if (!*k || !p || (p != allowed && p[-1] != ' ') || (p[kl] != ' ' && p[kl] != '\0')) {
                        conn_error(c, 400, "invalid filter '%s' (%s: %s)", k, what, allowed);
                        json_decref(filters);
                        return -EINVAL;
                }
                if (!json_is_array(x) && !json_is_object(x)) {
                        conn_error(c, 400, "invalid filter '%s': its value must be a list", k);
                        json_decref(filters);
                        return -EINVAL;
                }
        }
        x = json_object_get(filters, "dangling");
        if (x) {
                const char *b = json_is_array(x) ? json_string_value(json_array_get(x, 0))
                                                 : json_object_iter_key(json_object_iter(x));
                if (!b || (strcmp(b, "true") && strcmp(b, "false") && strcmp(b, "1") && strcmp(b, "0"))) {
                        conn_error(c, 400, "Invalid filter 'dangling=%s'", b ? b : "");
                        json_decref(filters);
                        return -EINVAL;
                }
        }
        *ret = filters;
        return 0;
}

void h_images_list(struct conn *c, char **caps)
{
        _cleanup_free_ char *filt = q_get(c, "filters");
        json_auto_t *filters = NULL;
        struct gb_store *s;
        struct gb_image_summary *v = NULL;
        struct gb_error err = {0};
        struct img_filter fl = {0};
        size_t n = 0;
        json_t *out;
        int r;

        if (parse_filters(c, filt, "dangling reference label before since", "images", &filters) < 0)
                return;
        s = gbd_open_store(c);
        if (!s)
                return;
        fl = (struct img_filter){.f = filters, .s = s};
        if (ref_time(c, &fl, "before", &fl.before) < 0 || ref_time(c, &fl, "since", &fl.since) < 0) {
                gb_store_free(s);
                return;
        }
        r = gb_store_list(s, &v, &n, &err);
        if (r < 0) {
                gb_store_free(s);
                conn_gb_error(c, r, &err);
                return;
        }
        out = json_array();
        for (size_t i = 0; i < n; i++) {
                _cleanup_(gb_image_config_freep) struct gb_image_config *ic = NULL;
                json_t *labels = json_object();
                if (filters && !image_wanted(&fl, &v[i])) {
                        json_decref(labels);
                        continue;
                }
                if (gb_store_image_config(s, v[i].id, &ic, NULL) == 0)
                        for (char **l = ic->labels; l && *l; l++) {
                                char *eq = strchr(*l, '=');
                                _cleanup_free_ char *k = eq ? strndup(*l, (size_t)(eq - *l)) : gb_xstrdup(*l);
                                json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
                        }
                json_t *tags = json_array();
                for (char **t = v[i].tags; t && *t; t++) {
                        /* With a reference filter, only the matching tags
                         * (Docker's rows: one per tag). */
                        char *one[] = {*t, NULL};
                        struct gb_image_summary single = v[i];
                        single.tags = one;
                        if (!json_object_get(filters, "reference") ||
                            any_value(json_object_get(filters, "reference"), match_reference, &single))
                                json_array_append_new(tags, json_string(*t));
                }
                json_array_append_new(out,
                                      json_pack("{s:s, s:s, s:o, s:[], s:I, s:I, s:I, s:I, s:o, s:I}", "Id", v[i].id,
                                                "ParentId", "", "RepoTags", tags, "RepoDigests", "Created",
                                                (json_int_t)unix_time(v[i].created), "Size", (json_int_t)v[i].size,
                                                "VirtualSize", (json_int_t)v[i].size, "SharedSize", (json_int_t)-1,
                                                "Labels", labels, "Containers", (json_int_t)-1));
        }
        gb_image_summaries_free(v, n);
        gb_store_free(s);
        conn_json(c, 200, out);
}

static bool prune_wanted(const struct gb_image_summary *im, void *data)
{
        return image_wanted(data, im);
}

/* POST /images/prune (`docker image prune [-a]`, `docker system prune`):
 * filters dangling (true, the default: untagged only; false: every unused
 * image) and label; an image a container uses is never removed. */
void h_images_prune(struct conn *c, char **caps)
{
        _cleanup_free_ char *filt = q_get(c, "filters");
        _cleanup_strv_ char **lines = NULL;
        json_auto_t *filters = NULL;
        struct gb_error err = {0};
        struct img_filter fl = {0};
        struct gb_store *s;
        uint64_t reclaimed = 0;
        bool all = false;
        json_t *x, *deleted;
        int r;

        (void)caps;
        if (parse_filters(c, filt, "dangling label", "image prune", &filters) < 0)
                return;
        x = json_object_get(filters, "dangling");
        if (x) {
                const char *b = json_is_array(x) ? json_string_value(json_array_get(x, 0))
                                                 : json_object_iter_key(json_object_iter(x));
                all = !strcmp(b, "false") || !strcmp(b, "0");
                json_object_del(filters, "dangling"); /* image_wanted must not apply it again */
        }
        s = gbd_open_store(c);
        if (!s)
                return;
        fl = (struct img_filter){.f = filters, .s = s};
        r = gb_store_prune(s, all, filters ? prune_wanted : NULL, &fl, &lines, &reclaimed, &err);
        gb_store_free(s);
        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        deleted = json_array();
        for (char **l = lines; l && *l; l++) {
                if (gb_str_has_prefix(*l, "Untagged: "))
                        json_array_append_new(deleted, json_pack("{s:s}", "Untagged", *l + 10));
                else if (gb_str_has_prefix(*l, "Deleted: "))
                        json_array_append_new(deleted, json_pack("{s:s}", "Deleted", *l + 9));
        }
        conn_json(c, 200,
                  json_pack("{s:o, s:I}", "ImagesDeleted", json_array_size(deleted) ? deleted : json_null(),
                            "SpaceReclaimed", (json_int_t)reclaimed));
        if (!json_array_size(deleted))
                json_decref(deleted);
}

void h_images_create(struct conn *c, char **caps)
{
        _cleanup_free_ char *from = q_get(c, "fromImage"), *tag = q_get(c, "tag");

        conn_error(c, 404,
                   "ghostbox does not pull from registries: no image '%s%s%s' here. Load it with `docker load -i "
                   "FILE` (a `docker save` archive) or `ghostbox import FILE NAME`",
                   from ? from : "", tag && *tag ? ":" : "", tag ? tag : "");
}

void h_image_inspect(struct conn *c, char **caps)
{
        struct gb_store *s = gbd_open_store(c);
        struct gb_image_config *ic = NULL;
        struct gb_image_summary *v = NULL;
        struct gb_error err = {0};
        char id[GB_DIGEST_LEN];
        size_t n = 0;
        json_t *tags = json_array(), *cfg, *doc;
        uint64_t size = 0;
        int r;

        if (!s) {
                json_decref(tags);
                return;
        }
        r = gb_store_resolve(s, caps[0], id, &err);
        if (r == 0)
                r = gb_store_image_config(s, id, &ic, &err);
        if (r < 0) {
                gb_store_free(s);
                json_decref(tags);
                if (r == -ENOENT)
                        conn_error(c, 404, "No such image: %s", caps[0]);
                else
                        conn_gb_error(c, r, &err);
                return;
        }
        if (gb_store_list(s, &v, &n, NULL) == 0) {
                for (size_t i = 0; i < n; i++)
                        if (strcmp(v[i].id, id) == 0) {
                                json_decref(tags);
                                tags = strv_json(v[i].tags);
                                size = v[i].size;
                        }
                gb_image_summaries_free(v, n);
        }
        gb_store_free(s);
        cfg = json_pack("{s:o, s:o, s:o, s:s, s:s, s:s}", "Env", strv_json(ic->env), "Cmd",
                        ic->cmd ? strv_json(ic->cmd) : json_null(), "Entrypoint",
                        ic->entrypoint ? strv_json(ic->entrypoint) : json_null(), "WorkingDir",
                        ic->working_dir ? ic->working_dir : "", "User", ic->user ? ic->user : "", "StopSignal",
                        ic->stop_signal ? ic->stop_signal : "");
        {
                json_t *labels = json_object();
                for (char **l = ic->labels; l && *l; l++) {
                        char *eq = strchr(*l, '=');
                        if (!eq)
                                continue;
                        _cleanup_free_ char *k = strndup(*l, (size_t)(eq - *l));
                        json_object_set_new(labels, k, json_string(eq + 1));
                }
                json_object_set_new(cfg, "Labels", labels);
        }
        doc = json_pack("{s:s, s:o, s:[], s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:{s:s, s:o}, s:{s:s}}", "Id", id,
                        "RepoTags", tags, "RepoDigests", "Parent", "", "Created", ic->created ? ic->created : "",
                        "Config", cfg, "Architecture", ic->architecture ? ic->architecture : "", "Os",
                        ic->os ? ic->os : "linux", "Size", (json_int_t)size, "VirtualSize", (json_int_t)size, "RootFS",
                        "Type", "layers", "Layers", strv_json(ic->diff_ids), "GraphDriver", "Name", "overlay2");
        gb_image_config_free(ic);
        conn_json(c, 200, doc);
}

void h_image_tag(struct conn *c, char **caps)
{
        _cleanup_free_ char *repo = q_get(c, "repo"), *tag = q_get(c, "tag"), *target = NULL;
        struct gb_store *s;
        struct gb_error err = {0};
        int r;

        if (!repo || !*repo) {
                conn_error(c, 400, "repository name (repo) is required");
                return;
        }
        s = gbd_open_store(c);
        if (!s)
                return;
        const char *r0 = gbd_familiar(repo);
        target = tag && *tag ? gb_xasprintf("%s:%s", r0, tag) : gb_xstrdup(r0);
        r = gb_store_tag(s, caps[0], target, &err);
        gb_store_free(s);
        if (r == -ENOENT)
                conn_error(c, 404, "No such image: %s", caps[0]);
        else if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_respond(c, 201, NULL, NULL, 0);
}

void h_image_delete(struct conn *c, char **caps)
{
        struct gb_store *s = gbd_open_store(c);
        struct gb_error err = {0};
        _cleanup_strv_ char **lines = NULL;
        json_t *out;
        int r;

        if (!s)
                return;
        r = gb_store_rmi(s, caps[0], q_bool(c, "force"), &lines, &err);
        gb_store_free(s);
        if (r == -ENOENT) {
                conn_error(c, 404, "No such image: %s", caps[0]);
                return;
        }
        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        out = json_array();
        for (char **l = lines; l && *l; l++) {
                const char *colon = strchr(*l, ':');
                if (!colon)
                        continue;
                _cleanup_free_ char *k = strndup(*l, (size_t)(colon - *l));
                json_array_append_new(out, json_pack("{s:s}", k, colon[1] == ' ' ? colon + 2 : colon + 1));
        }
        conn_json(c, 200, out);
}

void h_images_load(struct conn *c, char **caps)
{
        _cleanup_free_ char *tmpdir = gb_xasprintf("%s/tmp", gbd_engine.cfg.data_root);
        _cleanup_close_ int fd = -EBADF;
        _cleanup_strv_ char **loaded = NULL;
        struct gb_store *s;
        struct gb_error err = {0};
        struct gb_load_opts lo = {0};
        json_t *out;
        int r;

        /* The store may read the archive more than once. */
        fd = conn_spool_body(c, tmpdir, MAX_LOAD_BYTES, "image archive");
        if (fd < 0)
                return;
        s = gbd_open_store(c);
        if (!s)
                return;
        r = gb_store_load(s, fd, &lo, &loaded, &err);
        gb_store_free(s);
        if (r < 0) {
                conn_gb_error(c, r == -ENOENT ? -EINVAL : r, &err);
                return;
        }
        /* A JSON message stream, as the CLI prints it. */
        {
                size_t len = 0;
                char *text = NULL;
                FILE *f = open_memstream(&text, &len);
                for (char **l = loaded; l && *l; l++) {
                        _cleanup_free_ char *line = gb_xasprintf("%s\n", *l);
                        out = json_pack("{s:s}", "stream", line);
                        char *js = json_dumps(out, JSON_COMPACT);
                        fprintf(f, "%s\n", js);
                        free(js);
                        json_decref(out);
                }
                fclose(f);
                conn_respond(c, 200, "application/json", text, len);
                free(text);
        }
}
