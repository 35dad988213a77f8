/* Thin wrappers for the syscalls glibc may not wrap. Each returns what the
 * kernel returns (-1 with errno); callers probe ENOSYS/EINVAL and fall back,
 * never compare kernel versions. */
#pragma once

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long gb_clone3(struct clone_args *args, size_t size)
{
        return syscall(SYS_clone3, args, size);
}

static inline int gb_openat2(int dirfd, const char *path, struct open_how *how, size_t size)
{
        return (int)syscall(SYS_openat2, dirfd, path, how, size);
}

static inline int gb_pidfd_open(pid_t pid, unsigned int flags)
{
        return (int)syscall(SYS_pidfd_open, pid, flags);
}

static inline int gb_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
        return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

static inline int gb_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
        return (int)syscall(SYS_close_range, first, last, flags);
}
