/* The per-container monitor's control protocol, shared by the monitor
 * (src/monitor), the CLI and the Engine API daemon.
 *
 * The monitor listens on <exec-root>/containers/<id>/attach.sock (mode
 * 0600). A client connects and sends one request byte:
 *
 *   'S'                 start the container (release the init waiting on
 *                       exec.fifo); the monitor answers "ok\n" or
 *                       "error: MESSAGE\n" and closes.
 *   'A' FLAGS           attach; FLAGS bit 0 stdin, bit 1 stdout, bit 2
 *                       stderr. Output follows: raw bytes for a tty, else
 *                       stdcopy frames (logfile.h). Bytes the client sends
 *                       go to the container's stdin; the client's EOF
 *                       closes it when the container was created with
 *                       StdinOnce. The monitor closes the connection when
 *                       the container exits, after recording the exit.
 *   'R' ROWS COLS       resize the tty (two big-endian uint16), then close.
 *
 * The monitor exits with the container's exit code, so a CLI that spawned
 * it can take the code from waitpid() even after --rm removed the record. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define GB_ATTACH_STDIN 1
#define GB_ATTACH_STDOUT 2
#define GB_ATTACH_STDERR 4

/* <exec_root>/containers/<id> */
char *gb_monitor_state_dir(const char *exec_root, const char *id);

/* The monitor's side: listen on <state_dir>/attach.sock (mode 0600). */
int gb_monitor_listen(const char *state_dir, int *ret_fd, struct gb_error *err);

/* Connect to the monitor of the container whose state dir is given. */
int gb_monitor_connect(const char *state_dir, int *ret_fd, struct gb_error *err);

/* Ask the monitor to start the container. */
int gb_monitor_start(const char *state_dir, struct gb_error *err);

/* Attach; *ret_fd is the stream (see above). */
int gb_monitor_attach(const char *state_dir, unsigned flags, int *ret_fd, struct gb_error *err);

int gb_monitor_resize(const char *state_dir, unsigned rows, unsigned cols, struct gb_error *err);

/* Spawn the monitor binary for container id: fork, setsid, exec
 * monitor_path with the roots, and wait on a ready pipe until the
 * container is created (init waiting to start) or creation failed (its
 * message is returned in err). cli_path is the ghostbox binary the monitor
 * runs for --rm, with config_path and userns_remap (the effective values)
 * so that its `rm` sees the configuration this engine saw. *ret_pid is the
 * monitor's pid (a child of the caller). */
int gb_monitor_spawn(const char *monitor_path, const char *cli_path, const char *config_path, const char *userns_remap,
                     const char *data_root, const char *exec_root, const char *id, pid_t *ret_pid,
                     struct gb_error *err);
