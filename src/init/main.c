/* ghostbox-init: the PID 1 that `ghostbox run --init` puts in front of the
 * container's command (Docker's docker-init/tini role).
 *
 * PID 1 of a PID namespace has no default signal actions and inherits every
 * orphan: a plain program there ignores SIGTERM and leaves zombies. This
 * init forwards signals to its child and reaps everything, and exits with
 * the child's status. It is linked statically (the container may have no
 * libc) and bind-mounted read-only at /sbin/docker-init. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        sigset_t all, none;
        pid_t child;
        int first = 1;

        if (argc > 1 && strcmp(argv[1], "--") == 0)
                first = 2;
        if (first >= argc) {
                fprintf(stderr, "ghostbox-init: usage: ghostbox-init [--] COMMAND [ARG...]\n");
                return 127;
        }
        sigfillset(&all);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &all, NULL);
        child = fork();
        if (child < 0) {
                perror("ghostbox-init: fork");
                return 126;
        }
        if (child == 0) {
                (void)sigprocmask(SIG_SETMASK, &none, NULL);
                /* Its own process group, foreground on a tty, so Ctrl-C from
                 * the terminal reaches it as it would without us. */
                (void)setpgid(0, 0);
                if (isatty(STDIN_FILENO))
                        (void)tcsetpgrp(STDIN_FILENO, getpid());
                execvp(argv[first], argv + first);
                fprintf(stderr, "ghostbox-init: %s: %s\n", argv[first], strerror(errno));
                _exit(errno == ENOENT ? 127 : 126);
        }
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&all, &si);

                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        /* Forward to the child (and its group for a tty). */
                        (void)kill(child, sig);
                        continue;
                }
                for (;;) {
                        int status;
                        pid_t p = waitpid(-1, &status, WNOHANG);
                        if (p <= 0)
                                break;
                        if (p == child)
                                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
        }
}
