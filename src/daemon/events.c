/* GET /events: container create/start/die/destroy, derived from the
 * records rather than logged by whoever acted. The daemon keeps no state
 * and the CLI changes containers without it: comparing snapshots of the
 * records every 100 ms sees both. `since` replays from the records'
 * timestamps (Created, StartedAt, FinishedAt); a container removed before
 * the request leaves no trace to replay. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
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

static int emit(struct evctx *ev, const char *action, struct snap *s, long long when_ns)
{
        json_t *attrs, *e;
        char *line;
        int r;

        if (!filter_ok(ev->filters, "type", "container") || !filter_ok(ev->filters, "event", action))
                return 0;
        if (json_object_get(ev->filters, "container") && !filter_ok(ev->filters, "container", s->id) &&
            !filter_ok(ev->filters, "container", s->name))
                return 0;
        attrs = json_pack("{s:s, s:s}", "image", s->image ? s->image : "", "name", s->name ? s->name : "");
        if (strcmp(action, "die") == 0) {
                char code[24];
                (void)snprintf(code, sizeof(code), "%lld", s->exit_code);
                json_object_set_new(attrs, "exitCode", json_string(code));
        }
        e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:o}, s:s, s:I, s:I}", "status", action, "id", s->id, "from",
                      s->image ? s->image : "", "Type", "container", "Action", action, "Actor", "ID", s->id,
                      "Attributes", attrs, "scope", "local", "time", (json_int_t)(when_ns / 1000000000LL), "timeNano",
                      (json_int_t)when_ns);
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
        struct snap *snaps = NULL;
        size_t n = 0;
        long long since_ns = since_s ? (long long)(atof(since_s) * 1e9) : -1;
        bool first = true;
        _cleanup_close_ int ino = -EBADF;

        ev.until_ns = until_s && *until_s ? (long long)(atof(until_s) * 1e9) : 0;
        if (filt && *filt) {
                ev.filters = json_loads(filt, 0, NULL);
                if (!json_is_object(ev.filters)) {
                        json_decref(ev.filters);
                        conn_error(c, 400, "invalid filters: %s", filt);
                        return;
                }
        }
        {
                _cleanup_free_ char *reg = gb_xasprintf("%s/containers", gbd_engine.cfg.data_root);
                ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (ino >= 0)
                        (void)inotify_add_watch(ino, reg, IN_CREATE | IN_DELETE | IN_MOVED_TO);
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
                first = false;
                if (ev.until_ns && now_ns >= ev.until_ns)
                        break;
                /* The registry directory changes the moment a container
                 * is created or removed: wake up then, not only every
                 * 100 ms, so short-lived containers are seen. */
                struct pollfd p[2] = {{.fd = c->fd, .events = POLLRDHUP}, {.fd = ino, .events = POLLIN}};
                if (poll(p, 2, 100) > 0) {
                        if (p[0].revents)
                                break; /* the client left */
                        char b[4096];
                        while (read(ino, b, sizeof(b)) > 0)
                                ;
                }
        }
        for (size_t i = 0; i < n; i++)
                snap_free(&snaps[i]);
        free(snaps);
        json_decref(ev.filters);
}
