#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "sha256.h"

static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n)
{
        return (x >> n) | (x << (32 - n));
}

static void block(struct gb_sha256 *s, const uint8_t *p)
{
        uint32_t w[64], a, b, c, d, e, f, g, h;

        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
                       (uint32_t)p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
        s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define GB_SHA_NI 1

/* The x86 SHA extensions (Intel since Goldmont/Ice Lake, AMD since Zen)
 * do the rounds and the message schedule in hardware: about 5x the
 * portable code, which matters for the layer digests of load, import,
 * commit and save. The registers hold the state as ABEF and CDGH;
 * sha256rnds2 does two rounds, so each group of four message words takes
 * two calls. Detected at run time (cpuid), the portable block() otherwise. */
__attribute__((target("sha,sse4.1"))) static void blocks_shani(uint32_t h[8], const uint8_t *p, size_t n)
{
        const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
        __m128i t = _mm_loadu_si128((const __m128i *)&h[0]);  /* h0 h1 h2 h3 */
        __m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]); /* h4 h5 h6 h7 */
        __m128i s0;

        t = _mm_shuffle_epi32(t, 0xB1);    /* h1 h0 h3 h2 */
        s1 = _mm_shuffle_epi32(s1, 0x1B);  /* h7 h6 h5 h4 */
        s0 = _mm_alignr_epi8(t, s1, 8);    /* ABEF */
        s1 = _mm_blend_epi16(s1, t, 0xF0); /* CDGH */

        for (; n > 0; n--, p += 64) {
                __m128i w[4], m, abef = s0, cdgh = s1;

#pragma GCC unroll 16
                for (int g = 0; g < 16; g++) {
                        if (g < 4) {
                                w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
                        } else {
                                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time. */
                                __m128i x0 = w[(g - 4) & 3], x1 = w[(g - 3) & 3], x2 = w[(g - 2) & 3],
                                        x3 = w[(g - 1) & 3];
                                m = _mm_add_epi32(_mm_sha256msg1_epu32(x0, x1), _mm_alignr_epi8(x3, x2, 4));
                                w[g & 3] = _mm_sha256msg2_epu32(m, x3);
                        }
                        m = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
                        s1 = _mm_sha256rnds2_epu32(s1, s0, m);
                        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
                }
                s0 = _mm_add_epi32(s0, abef);
                s1 = _mm_add_epi32(s1, cdgh);
        }

        t = _mm_shuffle_epi32(s0, 0x1B);   /* F E B A */
        s1 = _mm_shuffle_epi32(s1, 0xB1);  /* D C H G */
        s0 = _mm_blend_epi16(t, s1, 0xF0); /* D C B A -> h0..h3 */
        s1 = _mm_alignr_epi8(s1, t, 8);    /* H G F E -> h4..h7 */
        _mm_storeu_si128((__m128i *)&h[0], s0);
        _mm_storeu_si128((__m128i *)&h[4], s1);
}

static int shani_state = -1; /* -1 unknown, 0 no, 1 yes */

static bool have_shani(void)
{
        if (shani_state < 0) {
                unsigned a, b, c, d;
                bool sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1);
                bool sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
                shani_state = sse41 && sha;
        }
        return shani_state == 1;
}
#endif

/* n whole 64-byte blocks. */
static void blocks(struct gb_sha256 *s, const uint8_t *p, size_t n)
{
#ifdef GB_SHA_NI
        if (have_shani()) {
                blocks_shani(s->h, p, n);
                return;
        }
#endif
        for (; n > 0; n--, p += 64)
                block(s, p);
}

GB_EXPORT bool gb_sha256_accelerated(int force)
{
#ifdef GB_SHA_NI
        if (force == 0)
                shani_state = 0;
        else if (force > 0) {
                shani_state = -1;
                (void)have_shani();
        }
        return have_shani();
#else
        (void)force;
        return false;
#endif
}

GB_EXPORT void gb_sha256_init(struct gb_sha256 *s)
{
        static const uint32_t init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        memcpy(s->h, init, sizeof(init));
        s->len = 0;
        s->used = 0;
}

GB_EXPORT void gb_sha256_update(struct gb_sha256 *s, const void *data, size_t len)
{
        const uint8_t *p = data;

        s->len += len;
        if (s->used) {
                size_t n = 64 - s->used < len ? 64 - s->used : len;
                memcpy(s->buf + s->used, p, n);
                s->used += n;
                p += n;
                len -= n;
                if (s->used < 64)
                        return;
                blocks(s, s->buf, 1);
                s->used = 0;
        }
        blocks(s, p, len / 64);
        p += len / 64 * 64;
        len %= 64;
        memcpy(s->buf, p, len);
        s->used = len;
}

GB_EXPORT void gb_sha256_final(struct gb_sha256 *s, uint8_t out[32])
{
        uint64_t bits = s->len * 8;
        uint8_t pad[72] = {0x80};
        size_t padlen = (s->used < 56 ? 56 : 120) - s->used;

        for (int i = 0; i < 8; i++)
                pad[padlen + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
        gb_sha256_update(s, pad, padlen + 8);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t)(s->h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
                out[4 * i + 3] = (uint8_t)s->h[i];
        }
}

GB_EXPORT void gb_sha256_final_digest(struct gb_sha256 *s, char out[GB_DIGEST_LEN])
{
        static const char hex[] = "0123456789abcdef";
        uint8_t d[32];

        gb_sha256_final(s, d);
        memcpy(out, "sha256:", 7);
        for (int i = 0; i < 32; i++) {
                out[7 + 2 * i] = hex[d[i] >> 4];
                out[8 + 2 * i] = hex[d[i] & 15];
        }
        out[71] = '\0';
}

GB_EXPORT void gb_sha256_digest(const void *data, size_t len, char out[GB_DIGEST_LEN])
{
        struct gb_sha256 s;

        gb_sha256_init(&s);
        gb_sha256_update(&s, data, len);
        gb_sha256_final_digest(&s, out);
}

GB_EXPORT int gb_sha256_file_at(int dirfd, const char *path, char out[GB_DIGEST_LEN])
{
        _cleanup_close_ int fd = -EBADF;
        struct gb_sha256 s;
        char buf[65536];

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        gb_sha256_init(&s);
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                gb_sha256_update(&s, buf, (size_t)n);
        }
        gb_sha256_final_digest(&s, out);
        return 0;
}

GB_EXPORT int gb_digest_valid(const char *s)
{
        if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
                return 0;
        for (const char *p = s + 7; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return 0;
        return 1;
}
