/* The sandbox: the one code path that creates containers.
 *
 * ghostbox-runtime (from a bundle's config.json) and the engine (from a spec
 * it builds in memory) both call gb_sandbox_create(); exec into a running
 * container is gb_sandbox_exec().
 *
 * Create, in the parent (the calling process):
 *   1. checks what can be granted, compiles seccomp, prepares idmapped
 *      mounts, joins the namespaces the spec gives by path (the calling
 *      process's own net/ipc/uts/cgroup/time namespaces change, and its pid
 *      namespace for children: call it from a process dedicated to the
 *      container, the CLI or the monitor — never from the daemon);
 *   2. clone3(CLONE_NEWUSER|CLONE_NEWNS|...|CLONE_PIDFD), falling back to
 *      clone() + pidfd_open() on kernels without clone3;
 *   3. writes uid_map/gid_map (each whole map in one write()) and
 *      oom_score_adj, then releases the child (sync #1);
 * and the child sets up mounts, devices, masks, pivot_root, hostname,
 * sysctls and the console, and reports (sync #2). With start_fd set, the
 * child then blocks until gb_sandbox_start(); otherwise it applies user,
 * capabilities, no_new_privs and seccomp, closes every other fd and execs,
 * and gb_sandbox_create() returns once execve() succeeded (sync #3: the
 * close-on-exec socket reaches EOF) or with the child's errno + message.
 *
 * On any failure the child is killed and reaped: nothing is left behind
 * (all mounts live in the child's mount namespace). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

struct gb_sandbox_opts {
        const struct gb_spec *spec;
        const char *rootfs;    /* absolute path of the root filesystem */
        const char *label;     /* for messages, e.g. "config.json" */
        bool no_pivot;         /* MS_MOVE + chroot instead of pivot_root */
        int exec_fifo_fd;      /* -1: exec right away; else an O_PATH fd of a FIFO: wait for start */
        int console_socket_fd; /* -1, or a connected AF_UNIX socket that gets the pty master */
        unsigned preserve_fds; /* fds 3..3+n-1 are passed to the process */
        const int *stdio;      /* NULL: inherit 0-2; else 3 fds that become the process's 0, 1, 2 */
};

struct gb_sandbox {
        pid_t pid; /* the container's init, as the host sees it */
        int pidfd; /* owned by the caller, O_CLOEXEC */
};

/* Create the container. The caller owns ret->pidfd. */
int gb_sandbox_create(const struct gb_sandbox_opts *o, struct gb_sandbox *ret, struct gb_error *err);

/* Release an init waiting on the FIFO at fifo_path (runc's exec.fifo): the
 * init has already set everything up and execs right after. -ENXIO when no
 * init waits (it died). */
int gb_sandbox_start(const char *fifo_path, struct gb_error *err);

struct gb_exec_opts {
        int init_pidfd; /* the container's init */
        pid_t init_pid;
        const struct gb_spec *spec; /* the container's config: seccomp, userns maps */
        const struct gb_spec_process *process;
        const char *label;
        int console_socket_fd; /* -1 or socket for the pty master */
        unsigned preserve_fds;
        const int *stdio; /* as in gb_sandbox_opts */
};

/* Run process inside the container of init_pidfd: join its namespaces and
 * root, apply the process's user/caps/rlimits and the container's seccomp,
 * exec. Returns once execve() succeeded. The caller's pid namespace for
 * children is switched to the container's around the clone (and back), so
 * the new process is created directly in it with no double fork. */
int gb_sandbox_exec(const struct gb_exec_opts *o, struct gb_sandbox *ret, struct gb_error *err);

/* Look up argv0 in PATH from env (as execvp would), inside the current root.
 * Writes the path into buf. -ENOENT when not found. */
int gb_find_executable(const char *argv0, char *const *env, char *buf, size_t size);
