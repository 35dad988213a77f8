/* Ownership helpers in the style of systemd's _cleanup_ attributes.
 * Every owned resource in ghostbox is held by one of these so that early
 * returns cannot leak fds, memory or child processes. */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void gb_freep(void *p)
{
        free(*(void **)p);
}

static inline void gb_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
        }
}

static inline void gb_fclosep(FILE **f)
{
        if (*f)
                (void)fclose(*f);
}

/* Kill and reap a child on an early return; a pid of 0 or less is unset. */
static inline void gb_pid_killp(pid_t *pid)
{
        if (*pid > 0) {
                int saved = errno;
                (void)kill(*pid, SIGKILL);
                while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                errno = saved;
        }
}

static inline void gb_closedirp(DIR **d)
{
        if (*d)
                (void)closedir(*d);
}

static inline void gb_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static inline void gb_strv_freep(char ***v)
{
        gb_strv_free(*v);
}

#define _cleanup_free_ _cleanup_(gb_freep)
#define _cleanup_close_ _cleanup_(gb_closep)
#define _cleanup_fclose_ _cleanup_(gb_fclosep)
#define _cleanup_pid_ _cleanup_(gb_pid_killp)
#define _cleanup_strv_ _cleanup_(gb_strv_freep)

/* Hand ownership on: returns the value and leaves the variable unset. */
#define TAKE_PTR(p)                       \
        ({                                \
                __typeof__(p) _tp_ = (p); \
                (p) = NULL;               \
                _tp_;                     \
        })

#define TAKE_FD(fd)              \
        ({                       \
                int _tf_ = (fd); \
                (fd) = -EBADF;   \
                _tf_;            \
        })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define GB_EXPORT __attribute__((visibility("default")))
