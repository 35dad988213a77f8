/* GET /events: container create/start/die/destroy (and commit), image
 * load/import/tag/untag/delete, volume create/destroy, derived from the
 * records, the image store and the volume directories rather than logged
 * by whoever acted. The daemon keeps no state and the CLI changes things
 * without it: comparing snapshots every 100 ms (or when inotify says a
 * directory changed) sees both. `since` replays from the records'
 * timestamps (Created, StartedAt, FinishedAt), images' created times and
 * volumes' CreatedAt; what was removed before the request, and tags
 * (which have no time), leave nothing to replay. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "store.h"
#include "volume.h"
#include "util.h"

struct snap {
        char *id, *name, *image, *started, *finished;
        long long exit_code;
        bool seen;
};

struct evctx {
        struct conn *c;
        json_t *filters;
        long long until_ns;
};

static long long ts_ns(const char *ts)
{
        struct tm tm = {0};
        const char *p;
        long long ns = 0;

        if (!ts || !(p = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm)))
                return 0;
        if (*p == '.') {
                int digits = 0;
                for (p++; *p >= '0' && *p <= '9'; p++)
                        if (digits++ < 9)
                                ns = ns * 10 + (*p - '0');
                for (; digits < 9; digits++)
                        ns *= 10;
        }
        return (long long)timegm(&tm) * 1000000000LL + ns;
}

static bool filter_ok(json_t *filters, const char *key, const char *value)
{
        json_t *f = json_object_get(filters, key), *x;
        const char *k;
        size_t i;

        if (!f)
                return true;
        /* {"event": ["start"]} or the older {"event": {"start": true}} */
        if (json_is_array(f)) {
                json_array_foreach (f, i, x)
                        if (json_is_string(x) && strcmp(json_string_value(x), value) == 0)
                                return true;
                return false;
        }
        json_object_foreach (f, k, x)
                if (strcmp(k, value) == 0)
                        return true;
        return false;
}

/* One event line; steals attrs. from: the container's image (Docker's
 * old "from" field), NULL for other types. */
static int emit_event(struct evctx *ev, const char *type, const char *action, const char *id, const char *from,
                      json_t *attrs, long long when_ns)
{
        json_t *e;
        char *line;
        int r;

        if (!filter_ok(ev->filters, "type", type) || !filter_ok(ev->filters, "event", action)) {
                json_decref(attrs);
                return 0;
        }
        e = json_pack("{s:s, s:s, s:s, s:{s:s, s:o}, s:s, s:I, s:I}", "status", action, "id", id, "Type", type, "Actor",
                      "ID", id, "Attributes", attrs, "scope", "local", "time", (json_int_t)(when_ns / 1000000000LL),
                      "timeNano", (json_int_t)when_ns);
        json_object_set_new(e, "Action", json_string(action));
        if (from)
                json_object_set_new(e, "from", json_string(from));
        line = json_dumps(e, JSON_COMPACT);
        json_decref(e);
        if (!line)
                return -ENOMEM;
        r = gb_write_all(ev->c->fd, line, strlen(line));
        if (r == 0)
                r = gb_write_all(ev->c->fd, "\n", 1);
        free(line);
        return r;
}

static int emit(struct evctx *ev, const char *action, struct snap *s, long long when_ns)
{
        json_t *attrs;

        if (json_object_get(ev->filters, "container") && !filter_ok(ev->filters, "container", s->id) &&
            !filter_ok(ev->filters, "container", s->name))
                return 0;
        attrs = json_pack("{s:s, s:s}", "image", s->image ? s->image : "", "name", s->name ? s->name : "");
        if (strcmp(action, "die") == 0) {
                char code[24];
                (void)snprintf(code, sizeof(code), "%lld", s->exit_code);
                json_object_set_new(attrs, "exitCode", json_string(code));
        }
        return emit_event(ev, "container", action, s->id, s->image ? s->image : "", attrs, when_ns);
}

/* ---- images and volumes: snapshots compared like the records ------------ */

/* {"ids": {id: created}, "tags": {tag: id}} of the store now. */
static json_t *image_state(struct gb_store *st)
{
        struct gb_image_summary *v = NULL;
        json_t *ids = json_object(), *tags = json_object();
        size_t n = 0;

        if (st && gb_store_list(st, &v, &n, NULL) == 0) {
                for (size_t i = 0; i < n; i++) {
                        json_object_set_new(ids, v[i].id, json_string(v[i].created ? v[i].created : ""));
                        for (char **t = v[i].tags; t && *t; t++)
                                json_object_set_new(tags, *t, json_string(v[i].id));
                }
                gb_image_summaries_free(v, n);
        }
        return json_pack("{s:o, s:o}", "ids", ids, "tags", tags);
}

/* How an image came to be, from its config: commit records the container
 * (as Docker's does), import leaves its history comment, the rest loaded. */
static void image_origin(const char *id, const char **ret_action, char **ret_container)
{
        _cleanup_free_ char *p = gb_xasprintf("%s/images/sha256/%s.json", gbd_engine.cfg.data_root,
                                              strchr(id, ':') ? strchr(id, ':') + 1 : id);
        json_t *cfg = json_load_file(p, 0, NULL), *h;
        const char *ctr = json_string_value(json_object_get(cfg, "container"));

        *ret_action = "load";
        *ret_container = NULL;
        h = json_array_get(json_object_get(cfg, "history"), json_array_size(json_object_get(cfg, "history")) - 1);
        if (ctr && *ctr) {
                *ret_action = "commit";
                *ret_container = gb_xstrdup(ctr);
        } else if (json_is_string(json_object_get(h, "comment")) &&
                   !strcmp(json_string_value(json_object_get(h, "comment")), "Imported from tarball"))
                *ret_action = "import";
        json_decref(cfg);
}

static bool image_filter_ok(struct evctx *ev, const char *id, const char *tag)
{
        json_t *f = json_object_get(ev->filters, "image");
        return !f || filter_ok(ev->filters, "image", id) || (tag && filter_ok(ev->filters, "image", tag));
}

static void image_event(struct evctx *ev, const char *action, const char *id, const char *name, long long when_ns)
{
        if (!image_filter_ok(ev, id, name))
                return;
        (void)emit_event(ev, "image", action, id, NULL, json_pack("{s:s}", "name", name ? name : id), when_ns);
}

static void image_new(struct evctx *ev, const char *id, long long when_ns)
{
        _cleanup_free_ char *ctr = NULL;
        const char *action;

        image_origin(id, &action, &ctr);
        if (ctr) {
                /* Docker reports a commit as the container's event. */
                if (!json_object_get(ev->filters, "container") || filter_ok(ev->filters, "container", ctr))
                        (void)emit_event(ev, "container", "commit", ctr, NULL, json_pack("{s:s}", "imageID", id),
                                         when_ns);
                return;
        }
        image_event(ev, action, id, NULL, when_ns);
}

/* Compare two image states; first: the replay of `since` only. */
static void image_diff(struct evctx *ev, json_t *prev, json_t *cur, bool first, long long since_ns, long long now_ns)
{
        json_t *pids = json_object_get(prev, "ids"), *cids = json_object_get(cur, "ids");
        json_t *ptags = json_object_get(prev, "tags"), *ctags = json_object_get(cur, "tags"), *v;
        const char *k;

        json_object_foreach (cids, k, v) {
                long long cr = ts_ns(json_string_value(v));
                if (first) {
                        if (since_ns >= 0 && cr >= since_ns)
                                image_new(ev, k, cr);
                } else if (!json_object_get(pids, k)) {
                        image_new(ev, k, now_ns);
                }
        }
        if (first)
                return;
        json_object_foreach (ctags, k, v) {
                json_t *was = json_object_get(ptags, k);
                if (!was || !json_equal(was, v))
                        image_event(ev, "tag", json_string_value(v), k, now_ns);
        }
        json_object_foreach (ptags, k, v) {
                json_t *is = json_object_get(ctags, k);
                if (!is || !json_equal(is, v))
                        image_event(ev, "untag", json_string_value(v), json_string_value(v), now_ns);
        }
        json_object_foreach (pids, k, v)
                if (!json_object_get(cids, k))
                        image_event(ev, "delete", k, k, now_ns);
}

/* {name: CreatedAt} of the volumes now. *ret_partial: one is still being
 * made (its directory is there before its volume.json): look again. */
static json_t *volume_state(const char *area, bool *ret_partial)
{
        _cleanup_strv_ char **names = NULL;
        json_t *out = json_object();

        if (gb_volume_list(gbd_engine.cfg.data_root, area, &names, NULL) < 0)
                return out;
        for (char **nm = names; nm && *nm; nm++) {
                json_t *doc = NULL;
                if (gb_volume_inspect(gbd_engine.cfg.data_root, area, *nm, &doc, NULL) < 0) {
                        *ret_partial = true;
                        continue;
                }
                json_object_set_new(out, *nm, json_string(json_string_value(json_object_get(doc, "CreatedAt")) ?: ""));
                json_decref(doc);
        }
        return out;
}

static void volume_event(struct evctx *ev, const char *action, const char *name, long long when_ns)
{
        if (json_object_get(ev->filters, "volume") && !filter_ok(ev->filters, "volume", name))
                return;
        (void)emit_event(ev, "volume", action, name, NULL, json_pack("{s:s}", "driver", "local"), when_ns);
}

static void volume_diff(struct evctx *ev, json_t *prev, json_t *cur, bool first, long long since_ns, long long now_ns)
{
        json_t *v;
        const char *k;

        json_object_foreach (cur, k, v) {
                if (first) {
                        long long cr = ts_ns(json_string_value(v));
                        if (since_ns >= 0 && cr >= since_ns)
                                volume_event(ev, "create", k, cr);
                } else if (!json_object_get(prev, k)) {
                        volume_event(ev, "create", k, now_ns);
                }
        }
        if (!first)
                json_object_foreach (prev, k, v)
                        if (!json_object_get(cur, k))
                                volume_event(ev, "destroy", k, now_ns);
}

static void snap_free(struct snap *s)
{
        free(s->id);
        free(s->name);
        free(s->image);
        free(s->started);
        free(s->finished);
}

static bool set_str(char **dst, const char *v)
{
        if (*dst && v && strcmp(*dst, v) == 0)
                return false;
        free(*dst);
        *dst = v ? gb_xstrdup(v) : NULL;
        return true;
}

static const char *ZERO = "0001-01-01T00:00:00Z";

void h_events(struct conn *c, char **caps)
{
        _cleanup_free_ char *since_s = q_get(c, "since"), *until_s = q_get(c, "until"), *filt = q_get(c, "filters");
        struct evctx ev = {.c = c};
        _cleanup_(gb_store_freep) struct gb_store *store = NULL;
        _cleanup_free_ char *area = NULL;
        json_t *imgs = json_pack("{s:{}, s:{}}", "ids", "tags"), *vols = json_object();
        struct snap *snaps = NULL;
        size_t n = 0;
        long long since_ns = since_s ? (long long)(atof(since_s) * 1e9) : -1;
        bool first = true;
        _cleanup_close_ int ino = -EBADF, ino_iv = -EBADF;
        bool iv_watched = false, iv_dirty = true;

        ev.until_ns = until_s && *until_s ? (long long)(atof(until_s) * 1e9) : 0;
        if (filt && *filt) {
                ev.filters = json_loads(filt, 0, NULL);
                if (!json_is_object(ev.filters)) {
                        json_decref(ev.filters);
                        conn_error(c, 400, "invalid filters: %s", filt);
                        return;
                }
        }
        (void)gb_store_open(gbd_engine.cfg.data_root, &store, NULL);
        area = gb_engine_volume_area(&gbd_engine, NULL, NULL);
        {
                _cleanup_free_ char *reg = gb_xasprintf("%s/containers", gbd_engine.cfg.data_root),
                                    *imgdir = gb_xasprintf("%s/images", gbd_engine.cfg.data_root),
                                    *cfgs = gb_xasprintf("%s/images/sha256", gbd_engine.cfg.data_root),
                                    *voldir = gb_xasprintf("%s/%s/volumes", gbd_engine.cfg.data_root, area);
                ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (ino >= 0)
                        (void)inotify_add_watch(ino, reg, IN_CREATE | IN_DELETE | IN_MOVED_TO);
                /* Images and volumes are read again only when one of their
                 * directories changed (reading every image config each
                 * 100 ms per client would be the hot path); when a watch
                 * cannot be set, every round. */
                ino_iv = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                iv_watched =
                        ino_iv >= 0 &&
                        inotify_add_watch(ino_iv, imgdir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) >= 0 &&
                        inotify_add_watch(ino_iv, cfgs, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM) >= 0 &&
                        inotify_add_watch(ino_iv, voldir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM) >= 0;
        }
        conn_stream_begin(c, 200, "application/json");
        for (;;) {
                _cleanup_strv_ char **ids = NULL;
                struct timespec now;
                long long now_ns;

                clock_gettime(CLOCK_REALTIME, &now);
                now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
                for (size_t i = 0; i < n; i++)
                        snaps[i].seen = false;
                if (gb_container_list(gbd_engine.cfg.data_root, &ids, NULL) < 0)
                        ids = gb_xcalloc(1, sizeof(char *));
                /* Oldest first, so replayed events come out in order. */
                for (size_t k = gb_strv_len(ids); k-- > 0;) {
                        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                        struct snap *s = NULL;
                        if (gb_container_lookup(gbd_engine.cfg.data_root, ids[k], false, &ct, NULL) < 0)
                                continue;
                        json_t *st = json_object_get(ct->doc, "State");
                        const char *started = json_string_value(json_object_get(st, "StartedAt"));
                        const char *finished = json_string_value(json_object_get(st, "FinishedAt"));
                        for (size_t i = 0; i < n; i++)
                                if (strcmp(snaps[i].id, ct->id) == 0)
                                        s = &snaps[i];
                        if (!s) {
                                snaps = gb_xrealloc(snaps, (n + 1) * sizeof(*snaps));
                                s = &snaps[n++];
                                memset(s, 0, sizeof(*s));
                                s->id = gb_xstrdup(ct->id);
                                s->name = gb_xstrdup(gb_container_name(ct));
                                s->image = gb_xstrdup(
                                        json_string_value(json_object_get(json_object_get(ct->doc, "Config"), "Image"))
                                                ?: "");
                                s->exit_code = json_integer_value(json_object_get(st, "ExitCode"));
                                s->started = gb_xstrdup(started ? started : ZERO);
                                s->finished = gb_xstrdup(finished ? finished : ZERO);
                                s->seen = true;
                                if (first) {
                                        /* Replay what happened since `since`. */
                                        long long cr = ts_ns(json_string_value(json_object_get(ct->doc, "Created")));
                                        long long sa = ts_ns(s->started), fa = ts_ns(s->finished);
                                        if (since_ns >= 0 && cr >= since_ns)
                                                (void)emit(&ev, "create", s, cr);
                                        if (since_ns >= 0 && sa >= since_ns && strcmp(s->started, ZERO) != 0)
                                                (void)emit(&ev, "start", s, sa);
                                        if (since_ns >= 0 && fa >= since_ns && fa >= sa &&
                                            strcmp(s->finished, ZERO) != 0)
                                                (void)emit(&ev, "die", s, fa);
                                } else {
                                        (void)emit(&ev, "create", s, now_ns);
                                        /* Appeared already started (or
                                         * done) between two looks. */
                                        if (strcmp(s->started, ZERO) != 0)
                                                (void)emit(&ev, "start", s, ts_ns(s->started));
                                        if (strcmp(s->finished, ZERO) != 0 && ts_ns(s->finished) >= ts_ns(s->started))
                                                (void)emit(&ev, "die", s, ts_ns(s->finished));
                                }
                        }
                        s->seen = true;
                        s->exit_code = json_integer_value(json_object_get(st, "ExitCode"));
                        if (!first && started && set_str(&s->started, started) && strcmp(started, ZERO) != 0)
                                (void)emit(&ev, "start", s, ts_ns(started));
                        if (!first && finished && set_str(&s->finished, finished) && strcmp(finished, ZERO) != 0)
                                (void)emit(&ev, "die", s, ts_ns(finished));
                }
                for (size_t i = 0; i < n;) {
                        if (!snaps[i].seen) {
                                /* Gone: a die we did not see, then destroy. */
                                (void)emit(&ev, "destroy", &snaps[i], now_ns);
                                snap_free(&snaps[i]);
                                snaps[i] = snaps[--n];
                                continue;
                        }
                        i++;
                }
                if (iv_dirty || !iv_watched) {
                        bool partial = false;
                        json_t *ci = image_state(store), *cv = volume_state(area, &partial);
                        iv_dirty = partial;
                        image_diff(&ev, imgs, ci, first, since_ns, now_ns);
                        volume_diff(&ev, vols, cv, first, since_ns, now_ns);
                        json_decref(imgs);
                        json_decref(vols);
                        imgs = ci;
                        vols = cv;
                }
                first = false;
                if (ev.until_ns && now_ns >= ev.until_ns)
                        break;
                /* The registry directory changes the moment a container
                 * is created or removed: wake up then, not only every
                 * 100 ms, so short-lived containers are seen. */
                struct pollfd p[3] = {{.fd = c->fd, .events = POLLRDHUP},
                                      {.fd = ino, .events = POLLIN},
                                      {.fd = ino_iv, .events = POLLIN}};
                if (poll(p, 3, 100) > 0) {
                        if (p[0].revents)
                                break; /* the client left */
                        char b[4096];
                        while (read(ino, b, sizeof(b)) > 0)
                                ;
                        while (ino_iv >= 0 && read(ino_iv, b, sizeof(b)) > 0)
                                iv_dirty = true;
                }
        }
        for (size_t i = 0; i < n; i++)
                snap_free(&snaps[i]);
        free(snaps);
        json_decref(imgs);
        json_decref(vols);
        json_decref(ev.filters);
}
