/* SHA-256 (FIPS 180-4) for content addresses: layer diff IDs, blob digests
 * and image IDs. Small enough to own rather than pull libcrypto into every
 * front end. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gb_sha256 {
        uint32_t h[8];
        uint64_t len; /* bytes hashed so far */
        uint8_t buf[64];
        size_t used;
};

/* "sha256:" + 64 hex digits + NUL */
#define GB_DIGEST_LEN 72

void gb_sha256_init(struct gb_sha256 *s);
/* Whether the CPU's SHA instructions are used (detected once). For tests:
 * force 0 turns them off, 1 detects again, -1 only asks. */
bool gb_sha256_accelerated(int force);
void gb_sha256_update(struct gb_sha256 *s, const void *data, size_t len);
void gb_sha256_final(struct gb_sha256 *s, uint8_t out[32]);
/* Finish and write "sha256:<hex>" into out (GB_DIGEST_LEN bytes). */
void gb_sha256_final_digest(struct gb_sha256 *s, char out[GB_DIGEST_LEN]);
/* One-shot "sha256:<hex>" of a buffer. */
void gb_sha256_digest(const void *data, size_t len, char out[GB_DIGEST_LEN]);
/* Hash the file at dirfd/path; -errno on failure. */
int gb_sha256_file_at(int dirfd, const char *path, char out[GB_DIGEST_LEN]);
/* True when s is "sha256:" followed by exactly 64 lowercase hex digits: the
 * only digests ghostbox accepts, so that a digest can safely become a file
 * name. */
int gb_digest_valid(const char *s);
