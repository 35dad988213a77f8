/* Container logs in Docker's json-file format, and Docker's stdcopy framing.
 *
 * Each line of <id>-json.log is one JSON object:
 *     {"log":"hello\n","stream":"stdout","time":"2026-11-22T17:04:21.123456789Z"}
 * A line longer than GB_LOG_MAX_LINE is split into several entries; only the
 * last ends in "\n" (as Docker does at 16 KiB). The file is written by the
 * container's monitor only, appended with O_APPEND.
 *
 * stdcopy framing multiplexes stdout and stderr over one stream: an 8-byte
 * header {stream, 0, 0, 0, size as big-endian uint32} then size bytes. The
 * Engine API uses it for attach/logs without a tty, and the monitor's attach
 * socket uses it too, so the daemon can pass frames through unchanged. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define GB_LOG_MAX_LINE 16384

enum gb_stream {
        GB_STREAM_STDIN = 0,
        GB_STREAM_STDOUT = 1,
        GB_STREAM_STDERR = 2,
};

/* Writer state: one partial line buffer per output stream. */
struct gb_log_writer {
        int fd;
        char buf[2][GB_LOG_MAX_LINE];
        size_t len[2];
};

/* Open (create, O_APPEND) path for writing; *w must be zeroed first. */
int gb_log_open(struct gb_log_writer *w, const char *path, struct gb_error *err);

/* Feed bytes read from the container's stdout or stderr. Complete lines are
 * written out; the rest waits for more (or gb_log_flush). */
int gb_log_feed(struct gb_log_writer *w, enum gb_stream s, const char *data, size_t len);

/* Write any partial lines (at container exit). */
int gb_log_flush(struct gb_log_writer *w);
void gb_log_close(struct gb_log_writer *w);

/* One parsed entry. */
struct gb_log_entry {
        enum gb_stream stream;
        char *text; /* the "log" field, decoded; owned */
        size_t len;
        char time[40];
};

/* Parse one line of a json-file log. -EINVAL for a malformed line (the
 * reader skips those: a crash mid-write may leave one truncated line). */
int gb_log_parse_line(const char *line, size_t len, struct gb_log_entry *ret);
void gb_log_entry_clear(struct gb_log_entry *e);

/* Callback for gb_log_read: return < 0 to stop. */
typedef int (*gb_log_fn)(const struct gb_log_entry *e, void *userdata);

/* Read the log at path, calling fn for the last tail entries (tail < 0:
 * all). With follow, keep reading appended entries until still_running
 * returns false (polled each 100 ms; may be NULL = stop at EOF). */
int gb_log_read(const char *path, long tail, bool follow, bool (*still_running)(void *), void *running_data,
                gb_log_fn fn, void *userdata, struct gb_error *err);

/* stdcopy: write one frame (splitting payloads over 2^32-1). */
int gb_stdcopy_write(int fd, enum gb_stream s, const void *data, size_t len);
void gb_stdcopy_header(uint8_t hdr[8], enum gb_stream s, uint32_t len);
/* Parse a header: returns 0 and fills stream/len, -EINVAL on a bad one. */
int gb_stdcopy_parse_header(const uint8_t hdr[8], enum gb_stream *ret_stream, uint32_t *ret_len);
