#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "idmap-alloc.h"
#include "util.h"

/* The state file is ours, but it sits on disk where a crash or an editor can
 * damage it: never trust it beyond what we can check. */
#define STATE_MAX (16U << 20)

struct reservation {
        char *owner;
        uint64_t offset;
        uint32_t size;
        int64_t created; /* unix seconds; 0 in files written before it existed */
};

struct state {
        struct reservation *r;
        size_t n;
};

static void state_clear(struct state *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->r[i].owner);
        free(s->r);
        s->r = NULL;
        s->n = 0;
}

static bool owner_valid(const char *o)
{
        size_t n = strlen(o);

        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = o[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '-'))
                        return false;
        }
        return true;
}

static int lock_state(const char *state_path, int *ret_fd, struct gb_error *err)
{
        _cleanup_free_ char *lock = gb_xasprintf("%s.lock", state_path);
        int r = gb_lock_file(lock, ret_fd);

        if (r < 0)
                return gb_error_sys(err, -r, "Failed to lock '%s'", lock);
        return 0;
}

static int load_state(const char *path, struct state *s, struct gb_error *err)
{
        _cleanup_free_ char *buf = NULL;
        json_error_t jerr;
        json_t *root, *arr, *e;
        size_t i;
        int r;

        r = gb_read_file_at(AT_FDCWD, path, STATE_MAX, &buf, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to read '%s'", path);
        root = json_loads(buf, 0, &jerr);
        if (!root)
                return gb_error_set(
                        err, EINVAL,
                        "Failed to parse '%s' line %d column %d: %s; remove it only if no container uses --userns=auto",
                        path, jerr.line, jerr.column, jerr.text);
        arr = json_object_get(root, "reservations");
        if (!json_is_array(arr)) {
                json_decref(root);
                return gb_error_set(err, EINVAL, "Failed to parse '%s': \"reservations\" must be an array", path);
        }
        s->r = gb_xcalloc(json_array_size(arr), sizeof(*s->r));
        json_array_foreach (arr, i, e) {
                json_t *o = json_object_get(e, "owner"), *off = json_object_get(e, "offset"),
                       *sz = json_object_get(e, "size");
                if (!json_is_string(o) || !owner_valid(json_string_value(o)) || !json_is_integer(off) ||
                    json_integer_value(off) < 0 || !json_is_integer(sz) || json_integer_value(sz) <= 0 ||
                    json_integer_value(sz) > UINT32_MAX) {
                        json_decref(root);
                        state_clear(s);
                        return gb_error_set(err, EINVAL, "Failed to parse '%s': reservation %zu is malformed", path, i);
                }
                s->r[s->n++] = (struct reservation){gb_xstrdup(json_string_value(o)), (uint64_t)json_integer_value(off),
                                                    (uint32_t)json_integer_value(sz),
                                                    json_integer_value(json_object_get(e, "created"))};
        }
        json_decref(root);
        return 0;
}

/* Lock the state and read it: every operation starts here. */
static int open_state(const char *state_path, int *ret_lock, struct state *ret, struct gb_error *err)
{
        int r = lock_state(state_path, ret_lock, err);

        return r < 0 ? r : load_state(state_path, ret, err);
}

static int save_state(const char *path, const struct state *s, struct gb_error *err)
{
        json_t *root = json_object(), *arr = json_array();
        _cleanup_free_ char *text = NULL;
        int r;

        for (size_t i = 0; i < s->n; i++)
                json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "owner", s->r[i].owner, "offset",
                                                     (json_int_t)s->r[i].offset, "size", (json_int_t)s->r[i].size,
                                                     "created", (json_int_t)s->r[i].created));
        json_object_set_new(root, "reservations", arr);
        text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
        json_decref(root);
        if (!text)
                return gb_error_set(err, ENOMEM, "Failed to serialize '%s'", path);
        r = gb_write_file_atomic(path, text, strlen(text), 0600);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to write '%s'", path);
        return 0;
}

GB_EXPORT int gb_auto_slice(const struct gb_idmap *pool, uint64_t offset, uint32_t size, struct gb_idmap *ret_map)
{
        struct gb_idmap m = {0};
        uint64_t pos = 0, want = size, cid = 0;

        for (size_t i = 0; i < pool->n && want > 0; i++) {
                uint64_t start = pos, end = pos + pool->r[i].count;
                pos = end;
                if (offset >= end)
                        continue;
                uint64_t skip = offset > start ? offset - start : 0;
                uint64_t take = pool->r[i].count - skip;
                if (take > want)
                        take = want;
                if (gb_idmap_add(&m, (uint32_t)cid, (uint32_t)(pool->r[i].host_id + skip), (uint32_t)take) < 0)
                        return -E2BIG;
                cid += take;
                want -= take;
                offset += take;
        }
        if (want > 0)
                return -ERANGE;
        *ret_map = m;
        return 0;
}

static int cmp_offset(const void *a, const void *b)
{
        const struct reservation *x = a, *y = b;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

GB_EXPORT int gb_auto_alloc(const char *state_path, const struct gb_idmap *pool, const char *owner, uint32_t size,
                            struct gb_idmap *ret_map, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        struct state s = {0};
        uint64_t total = gb_idmap_size(pool), cand = 0;
        struct gb_idmap m;
        int r;

        if (!owner_valid(owner))
                return gb_error_set(err, EINVAL, "Failed to allocate an ID range: invalid owner name '%s'", owner);
        if (size == 0)
                return gb_error_set(err, EINVAL, "Failed to allocate an ID range: size must be at least 1");
        r = open_state(state_path, &lock, &s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n; i++)
                if (strcmp(s.r[i].owner, owner) == 0) {
                        uint32_t held = s.r[i].size;
                        uint64_t offset = s.r[i].offset;

                        state_clear(&s);
                        if (held != size)
                                return gb_error_set(err, EEXIST,
                                                    "Failed to allocate an ID range: '%s' already holds %u IDs", owner,
                                                    held);
                        r = gb_auto_slice(pool, offset, size, &m);
                        if (r < 0)
                                return gb_error_set(err, ERANGE,
                                                    "Failed to map the range of '%s': the subordinate ranges shrank "
                                                    "since it was allocated",
                                                    owner);
                        *ret_map = m;
                        return 0;
                }
        /* First fit over reservations sorted by offset. */
        if (s.n > 1)
                qsort(s.r, s.n, sizeof(*s.r), cmp_offset);
        for (size_t i = 0; i < s.n; i++) {
                if (cand + size <= s.r[i].offset)
                        break;
                if (s.r[i].offset + s.r[i].size > cand)
                        cand = s.r[i].offset + s.r[i].size;
        }
        if (cand + size > total) {
                state_clear(&s);
                return gb_error_set(err, ENOSPC,
                                    "Failed to allocate %u IDs for --userns=auto: the pool of %llu subordinate IDs is "
                                    "used up; add a range to /etc/subuid and /etc/subgid or remove containers",
                                    size, (unsigned long long)total);
        }
        r = gb_auto_slice(pool, cand, size, &m);
        if (r < 0) {
                state_clear(&s);
                return gb_error_set(err, E2BIG,
                                    "Failed to allocate %u IDs: the range would need more than %d map lines", size,
                                    GB_IDMAP_MAX);
        }
        s.r = gb_xrealloc(s.r, (s.n + 1) * sizeof(*s.r));
        s.r[s.n++] = (struct reservation){gb_xstrdup(owner), cand, size, (int64_t)time(NULL)};
        r = save_state(state_path, &s, err);
        state_clear(&s);
        if (r < 0)
                return r;
        *ret_map = m;
        return 0;
}

GB_EXPORT int gb_auto_release(const char *state_path, const char *owner, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        struct state s = {0};
        bool found = false;
        int r;

        r = open_state(state_path, &lock, &s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n; i++)
                if (strcmp(s.r[i].owner, owner) == 0) {
                        free(s.r[i].owner);
                        s.r[i] = s.r[--s.n];
                        found = true;
                        break;
                }
        r = found ? save_state(state_path, &s, err) : 0;
        state_clear(&s);
        return r;
}

GB_EXPORT int gb_auto_lookup(const char *state_path, const struct gb_idmap *pool, const char *owner,
                             struct gb_idmap *ret_map, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        struct state s = {0};
        int r;

        r = open_state(state_path, &lock, &s, err);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (size_t i = 0; i < s.n; i++)
                if (strcmp(s.r[i].owner, owner) == 0) {
                        r = gb_auto_slice(pool, s.r[i].offset, s.r[i].size, ret_map);
                        if (r < 0)
                                r = gb_error_set(err, ERANGE,
                                                 "Failed to map the range of '%s': the subordinate ranges shrank",
                                                 owner);
                        break;
                }
        state_clear(&s);
        return r;
}

GB_EXPORT int gb_auto_reclaim(const char *state_path, bool (*alive)(const char *owner, void *data), void *data,
                              int64_t min_age, struct gb_error *err)
{
        _cleanup_close_ int lock = -EBADF;
        struct state s = {0};
        int64_t now = (int64_t)time(NULL);
        size_t kept = 0;
        int r;

        r = open_state(state_path, &lock, &s, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n; i++) {
                /* Young reservations may belong to a create in progress. */
                if (now - s.r[i].created < min_age || alive(s.r[i].owner, data))
                        s.r[kept++] = s.r[i];
                else
                        free(s.r[i].owner);
        }
        if (kept != s.n) {
                int dropped = (int)(s.n - kept);
                s.n = kept;
                r = save_state(state_path, &s, err);
                state_clear(&s);
                return r < 0 ? r : dropped;
        }
        state_clear(&s);
        return 0;
}
