#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "logfile.h"
#include "util.h"

GB_EXPORT int gb_log_open(struct gb_log_writer *w, const char *path, struct gb_error *err)
{
        w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (w->fd < 0)
                return gb_error_sys(err, errno, "Failed to open log '%s'", path);
        w->len[0] = w->len[1] = 0;
        return 0;
}

static int emit(struct gb_log_writer *w, enum gb_stream s, const char *data, size_t len)
{
        _cleanup_free_ char *ts = gb_timestamp_now(), *line = NULL;
        json_t *o;
        int r;

        /* json_stringn keeps NUL bytes and invalid UTF-8 out of trouble:
         * jansson rejects invalid UTF-8, so fall back to a lossy copy. */
        o = json_pack("{s:s%, s:s, s:s}", "log", data, len, "stream", s == GB_STREAM_STDERR ? "stderr" : "stdout",
                      "time", ts);
        if (!o) {
                _cleanup_free_ char *clean = gb_xmalloc(len + 1);
                for (size_t i = 0; i < len; i++)
                        clean[i] = (unsigned char)data[i] < 0x80 && data[i] ? data[i] : '?';
                o = json_pack("{s:s%, s:s, s:s}", "log", clean, len, "stream",
                              s == GB_STREAM_STDERR ? "stderr" : "stdout", "time", ts);
                if (!o)
                        return -ENOMEM;
        }
        line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(o);
        if (!line)
                return -ENOMEM;
        {
                size_t n = strlen(line);
                line = gb_xrealloc(line, n + 2);
                line[n] = '\n';
                /* One write per entry: O_APPEND keeps entries whole even if
                 * a reader is mid-file. */
                r = gb_write_all(w->fd, line, n + 1);
        }
        return r;
}

GB_EXPORT int gb_log_feed(struct gb_log_writer *w, enum gb_stream s, const char *data, size_t len)
{
        size_t i = s == GB_STREAM_STDERR ? 1 : 0;
        int r;

        while (len > 0) {
                const char *nl = memchr(data, '\n', len);
                size_t take = nl ? (size_t)(nl - data) + 1 : len;
                size_t room = GB_LOG_MAX_LINE - w->len[i];

                if (take > room)
                        take = room;
                memcpy(w->buf[i] + w->len[i], data, take);
                w->len[i] += take;
                data += take;
                len -= take;
                if (w->buf[i][w->len[i] - 1] == '\n' || w->len[i] == GB_LOG_MAX_LINE) {
                        r = emit(w, s, w->buf[i], w->len[i]);
                        w->len[i] = 0;
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

GB_EXPORT int gb_log_flush(struct gb_log_writer *w)
{
        int r = 0;

        for (int i = 0; i < 2; i++)
                if (w->len[i] > 0) {
                        int q = emit(w, i ? GB_STREAM_STDERR : GB_STREAM_STDOUT, w->buf[i], w->len[i]);
                        w->len[i] = 0;
                        if (q < 0 && r == 0)
                                r = q;
                }
        return r;
}

GB_EXPORT void gb_log_close(struct gb_log_writer *w)
{
        (void)gb_log_flush(w);
        if (w->fd >= 0)
                (void)close(w->fd);
        w->fd = -EBADF;
}

GB_EXPORT void gb_log_entry_clear(struct gb_log_entry *e)
{
        free(e->text);
        e->text = NULL;
        e->len = 0;
}

GB_EXPORT int gb_log_parse_line(const char *line, size_t len, struct gb_log_entry *ret)
{
        json_t *o, *log, *stream, *t;
        const char *s;

        o = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
        if (!o)
                return -EINVAL;
        log = json_object_get(o, "log");
        stream = json_object_get(o, "stream");
        t = json_object_get(o, "time");
        if (!json_is_string(log) || !json_is_string(stream) || (t && !json_is_string(t))) {
                json_decref(o);
                return -EINVAL;
        }
        s = json_string_value(stream);
        if (strcmp(s, "stdout") == 0)
                ret->stream = GB_STREAM_STDOUT;
        else if (strcmp(s, "stderr") == 0)
                ret->stream = GB_STREAM_STDERR;
        else {
                json_decref(o);
                return -EINVAL;
        }
        ret->len = json_string_length(log);
        ret->text = gb_xmalloc(ret->len + 1);
        memcpy(ret->text, json_string_value(log), ret->len);
        ret->text[ret->len] = '\0';
        (void)snprintf(ret->time, sizeof(ret->time), "%s", t ? json_string_value(t) : "");
        json_decref(o);
        return 0;
}

/* Deliver complete lines from buf[0..len); returns bytes consumed. With a
 * ring of the last `tail` entries when collecting, else calls fn. */
struct reader {
        gb_log_fn fn;
        void *userdata;
        long tail;
        struct gb_log_entry *ring;
        size_t ring_n, ring_pos;
        bool collecting;
        int stop;
};

static int deliver(struct reader *rd, const char *line, size_t len)
{
        struct gb_log_entry e = {0};

        if (gb_log_parse_line(line, len, &e) < 0)
                return 0;
        if (rd->collecting && rd->tail >= 0) {
                if (rd->tail == 0) {
                        gb_log_entry_clear(&e);
                        return 0;
                }
                size_t slot = rd->ring_pos % (size_t)rd->tail;
                gb_log_entry_clear(&rd->ring[slot]);
                rd->ring[slot] = e;
                rd->ring_pos++;
                if (rd->ring_n < (size_t)rd->tail)
                        rd->ring_n++;
                return 0;
        }
        int r = rd->fn(&e, rd->userdata);
        gb_log_entry_clear(&e);
        return r;
}

static int drain(struct reader *rd, char *buf, size_t *len)
{
        size_t start = 0;

        for (;;) {
                char *nl = memchr(buf + start, '\n', *len - start);
                if (!nl)
                        break;
                int r = deliver(rd, buf + start, (size_t)(nl - (buf + start)));
                start = (size_t)(nl - buf) + 1;
                if (r < 0)
                        return r;
        }
        memmove(buf, buf + start, *len - start);
        *len -= start;
        return 0;
}

GB_EXPORT int gb_log_read(const char *path, long tail, bool follow, bool (*still_running)(void *), void *running_data,
                          gb_log_fn fn, void *userdata, struct gb_error *err)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t cap = 64 * 1024, len = 0;
        struct reader rd = {.fn = fn, .userdata = userdata, .tail = tail, .collecting = true};
        int r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0; /* nothing logged yet */
                return gb_error_sys(err, errno, "Failed to open log '%s'", path);
        }
        buf = gb_xmalloc(cap);
        if (tail > 0)
                rd.ring = gb_xcalloc((size_t)tail, sizeof(*rd.ring));
        for (;;) {
                ssize_t n;

                if (len == cap) {
                        /* A line longer than any we write: drop it. */
                        char *nl = memchr(buf, '\n', len);
                        len = nl ? len - (size_t)(nl - buf) - 1 : 0;
                        if (nl)
                                memmove(buf, nl + 1, len);
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = gb_error_sys(err, errno, "Failed to read log '%s'", path);
                        break;
                }
                if (n > 0) {
                        len += (size_t)n;
                        r = drain(&rd, buf, &len);
                        if (r < 0)
                                break;
                        continue;
                }
                /* EOF: hand over the tail, then follow or stop. */
                if (rd.collecting) {
                        rd.collecting = false;
                        for (size_t i = 0; i < rd.ring_n && r >= 0; i++) {
                                size_t slot = (rd.ring_pos - rd.ring_n + i) % (size_t)(tail > 0 ? tail : 1);
                                r = fn(&rd.ring[slot], userdata);
                        }
                        if (r < 0)
                                break;
                }
                if (!follow)
                        break;
                if (still_running && !still_running(running_data)) {
                        /* One last read for what was written before exit. */
                        n = read(fd, buf + len, cap - len);
                        if (n > 0) {
                                len += (size_t)n;
                                (void)drain(&rd, buf, &len);
                        }
                        break;
                }
                (void)usleep(100 * 1000);
        }
        for (size_t i = 0; rd.ring && i < (size_t)tail; i++)
                gb_log_entry_clear(&rd.ring[i]);
        free(rd.ring);
        return r < 0 ? r : 0;
}

GB_EXPORT void gb_stdcopy_header(uint8_t hdr[8], enum gb_stream s, uint32_t len)
{
        hdr[0] = (uint8_t)s;
        hdr[1] = hdr[2] = hdr[3] = 0;
        hdr[4] = (uint8_t)(len >> 24);
        hdr[5] = (uint8_t)(len >> 16);
        hdr[6] = (uint8_t)(len >> 8);
        hdr[7] = (uint8_t)len;
}

GB_EXPORT int gb_stdcopy_write(int fd, enum gb_stream s, const void *data, size_t len)
{
        const char *p = data;

        do {
                uint32_t chunk = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
                uint8_t hdr[8];
                int r;

                gb_stdcopy_header(hdr, s, chunk);
                r = gb_write_all(fd, hdr, sizeof(hdr));
                if (r < 0)
                        return r;
                r = gb_write_all(fd, p, chunk);
                if (r < 0)
                        return r;
                p += chunk;
                len -= chunk;
        } while (len > 0);
        return 0;
}

GB_EXPORT int gb_stdcopy_parse_header(const uint8_t hdr[8], enum gb_stream *ret_stream, uint32_t *ret_len)
{
        if (hdr[0] > GB_STREAM_STDERR || hdr[1] || hdr[2] || hdr[3])
                return -EINVAL;
        *ret_stream = (enum gb_stream)hdr[0];
        *ret_len = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
        return 0;
}
