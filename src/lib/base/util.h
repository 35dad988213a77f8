/* Small helpers with no project dependencies. All return -errno on failure
 * unless documented otherwise; none print. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read a whole file (at most max bytes; -EFBIG past that) into a fresh
 * NUL-terminated buffer. *ret_buf is the caller's to free. dirfd may be
 * AT_FDCWD. */
int gb_read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len);

/* Write data to path atomically: a temp file in the same directory, fsync,
 * rename over path, fsync the directory. On failure the old file is intact
 * and no temp file is left. */
int gb_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Like gb_write_file_atomic but without the fsyncs: readers see the old or
 * the new file, never a torn one, but after a power loss the file may be
 * empty. For files derived from others and transient states, where an
 * fsync (milliseconds on this kind of VM) buys nothing. */
int gb_write_file_replace(const char *path, const void *data, size_t len, mode_t mode);

/* write() the whole buffer, retrying on EINTR and short writes. */
int gb_write_all(int fd, const void *data, size_t len);

/* read() exactly len bytes; -EIO on early EOF. */
int gb_read_all(int fd, void *data, size_t len);

/* mkdir -p with the given mode for created directories. */
int gb_mkdir_p(const char *path, mode_t mode);

/* rm -rf that never crosses mount points (a bind mount left behind must not
 * take host data with it) and never follows symlinks. */
int gb_rm_rf(const char *path);

/* Parse a decimal unsigned 32-bit value; the whole string must be digits.
 * -ERANGE past 2^32-1, -EINVAL otherwise. */
int gb_parse_u32(const char *s, uint32_t *ret);
int gb_parse_u64(const char *s, uint64_t *ret);

bool gb_str_has_prefix(const char *s, const char *prefix);

/* malloc/strdup that abort on OOM: the kernel's overcommit makes NULL rare and
 * every caller handling it would hide the real logic. */
void *gb_xmalloc(size_t n);
void *gb_xcalloc(size_t n, size_t size);
void *gb_xrealloc(void *p, size_t n);
char *gb_xstrdup(const char *s);
char *gb_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open /dev/null on whichever of fds 0, 1 and 2 is closed. Every main()
 * calls it first: a program started with a closed stdio fd would otherwise
 * hand that number to its next pipe or socket, and code that later sets up
 * fds 0-2 (or passes "fd 3" to a child) would clobber or lose it. */
void gb_ensure_std_fds(void);

/* A signal by number (1-64) or name, with or without "SIG", in any case
 * ("TERM", "sigkill", "9"): the signal, or -EINVAL. Shared by the CLI's
 * kill/stop, the runtime's kill and the API's kill. */
int gb_parse_signal(const char *s);

/* Close every fd >= first: close_range(2), or a loop over /proc/self/fd on
 * kernels without it. Async-signal-safe apart from the fallback's opendir,
 * which a forked child of a single-threaded process may use. */
void gb_close_from(int first);

/* Open (creating, mode 0600, never following a symlink) and flock(LOCK_EX)
 * the lock file at path; *ret_fd holds the lock until closed. -errno on
 * failure. */
int gb_lock_file(const char *path, int *ret_fd);

/* Fault injection for tests: when $GHOSTBOX_TEST_CRASH_AT names this
 * point, the process SIGKILLs itself here, as a crash or an OOM kill would.
 * The fault tests use it to prove that every step can be interrupted and
 * recovered from; it does nothing unless the variable is set. */
void gb_crash_point(const char *name);

/* Length of a NULL-terminated string vector. */
size_t gb_strv_len(char *const *v);
