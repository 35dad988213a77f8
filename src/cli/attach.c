/* Copying between our stdio and a container's attach stream (run, start -a):
 * raw for a tty (our terminal in raw mode, window size forwarded), stdcopy
 * frames otherwise (signals forwarded to the container, as Docker's
 * sig-proxy). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "logfile.h"
#include "monitor.h"
#include "util.h"

/* Set our terminal raw while attached to a tty container; restored at exit. */
static struct termios saved_tio;
static bool tio_saved;

static void restore_tty(void)
{
        if (tio_saved)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static volatile sig_atomic_t got_winch, got_signal;

static void on_winch(int sig)
{
        (void)sig;
        got_winch = 1;
}

static void on_forward(int sig)
{
        got_signal = sig;
}

static void send_size(const char *state)
{
        struct winsize ws;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                (void)gb_monitor_resize(state, ws.ws_row, ws.ws_col, NULL);
}

/* Copy between our stdio and the attach stream until the container's side
 * closes. Non-tty streams are stdcopy frames. */
void cli_attach_pump(struct gb_engine *e, const char *id, int afd, bool tty, bool with_stdin)
{
        _cleanup_free_ char *state = gb_monitor_state_dir(e->cfg.exec_root, id);
        uint8_t hdr[8];
        size_t hdr_len = 0, frame_left = 0;
        enum gb_stream frame_stream = GB_STREAM_STDOUT;
        bool in_open = with_stdin;
        char buf[32768];

        if (tty && isatty(STDIN_FILENO)) {
                struct termios raw;
                if (tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
                        tio_saved = true;
                        atexit(restore_tty);
                        raw = saved_tio;
                        cfmakeraw(&raw);
                        (void)tcsetattr(STDIN_FILENO, TCSANOW, &raw);
                }
                (void)signal(SIGWINCH, on_winch);
                send_size(state);
        }
        if (!tty) {
                /* Docker's sig-proxy: Ctrl-C and friends go to the
                 * container, which decides whether to exit. */
                (void)signal(SIGINT, on_forward);
                (void)signal(SIGTERM, on_forward);
                (void)signal(SIGHUP, on_forward);
                (void)signal(SIGQUIT, on_forward);
        }
        for (;;) {
                struct pollfd p[2] = {{.fd = afd, .events = POLLIN},
                                      {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN}};

                if (got_winch) {
                        got_winch = 0;
                        send_size(state);
                }
                if (got_signal) {
                        int sig = got_signal;
                        got_signal = 0;
                        (void)gb_engine_kill(e, id, sig, NULL);
                }
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                if (p[1].revents) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0) {
                                in_open = false;
                                (void)shutdown(afd, SHUT_WR);
                        } else if (gb_write_all(afd, buf, (size_t)n) < 0)
                                in_open = false;
                }
                if (p[0].revents) {
                        ssize_t n = read(afd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        if (tty) {
                                (void)gb_write_all(STDOUT_FILENO, buf, (size_t)n);
                                continue;
                        }
                        for (size_t i = 0; i < (size_t)n;) {
                                if (frame_left == 0) {
                                        hdr[hdr_len++] = (uint8_t)buf[i++];
                                        if (hdr_len == 8) {
                                                uint32_t len;
                                                hdr_len = 0;
                                                if (gb_stdcopy_parse_header(hdr, &frame_stream, &len) < 0)
                                                        return;
                                                frame_left = len;
                                        }
                                        continue;
                                }
                                size_t take = (size_t)n - i < frame_left ? (size_t)n - i : frame_left;
                                (void)gb_write_all(frame_stream == GB_STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO,
                                                   buf + i, take);
                                i += take;
                                frame_left -= take;
                        }
                }
        }
        restore_tty();
}
