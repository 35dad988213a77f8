/* The Engine API's HTTP/1.1 request side, as pure functions over bytes so
 * the fuzzer reaches all of it: the request head (line + headers), the
 * chunked transfer decoder, the query string, the /vX.YY version prefix and
 * the route patterns. The daemon (src/daemon) does the I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A request head larger than this is refused (431): Docker's CLI sends a
 * few hundred bytes; more is an attack or a bug. */
#define GB_HTTP_MAX_HEAD 65536
#define GB_HTTP_MAX_HEADERS 100

/* The oldest and newest Engine API versions served. 1.24 is what a client
 * that found no Api-Version header falls back to. */
#define GB_API_MIN_VERSION "1.24"
#define GB_API_VERSION "1.43"

struct gb_http_header {
        char *name, *value;
};

struct gb_http_req {
        char method[16];
        char *target;     /* as sent */
        char *path;       /* decoded, without the query and the /vX.YY prefix */
        char *query;      /* raw, after '?', "" when none */
        char version[16]; /* "1.41" from the prefix, "" without one */
        bool http10;
        struct gb_http_header *headers;
        size_t n_headers;
        int64_t content_length; /* -1: none */
        bool chunked, keep_alive, upgrade;
};

/* Find the end of the head in buf: the offset just after "\r\n\r\n" (or
 * "\n\n"), 0 when not there yet. */
size_t gb_http_head_end(const char *buf, size_t len);

/* Parse a complete head of len bytes. -EINVAL with a message for a
 * malformed one (the caller answers 400), -ENOTSUP for a version prefix
 * below GB_API_MIN_VERSION or above GB_API_VERSION (Docker: 400 too). */
int gb_http_parse_head(const char *buf, size_t len, struct gb_http_req *ret, struct gb_error *err);
void gb_http_req_clear(struct gb_http_req *r);

/* Case-insensitive header lookup; NULL when absent. */
const char *gb_http_header(const struct gb_http_req *r, const char *name);

/* Decode %XX and (in queries) '+'. Returns NULL for a bad escape or an
 * embedded NUL. */
char *gb_http_unescape(const char *s, size_t len, bool plus_is_space);

/* The decoded value of key in a query string; NULL when absent. */
char *gb_http_query(const char *query, const char *key);
/* Every non-empty decoded value of a repeated key (?names=a&names=b), a
 * NULL-terminated strv (never NULL) the caller frees with gb_strv_free. */
char **gb_http_query_all(const char *query, const char *key);
/* Docker's booleans: "1", "true", "True" (anything else, or absent: false). */
bool gb_http_query_bool(const char *query, const char *key);

/* Compare dotted API versions: <0, 0, >0. */
int gb_api_version_cmp(const char *a, const char *b);

/* Chunked transfer decoding, incremental: feed what was read, get the
 * payload bytes (decoded in place at the front of buf) in *ret_out_len.
 * Returns 1 when the last chunk was seen, 0 for more, -EINVAL on a bad
 * encoding. */
struct gb_chunked {
        int state;
        uint64_t left;
        unsigned digits;
};
int gb_chunked_feed(struct gb_chunked *c, char *buf, size_t len, size_t *ret_out_len);

/* Route patterns: "/containers/{}/start" matches "/containers/abc/start";
 * each "{}" captures one non-empty segment (into caps, at most n_caps,
 * pointing into path copies the caller frees with free()). */
bool gb_api_route_match(const char *pattern, const char *path, char **caps, size_t n_caps);
