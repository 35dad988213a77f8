/* exec: run another process in a running container, from --process FILE
 * (containerd) or from the command line. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "create.h"
#include "sandbox.h"
#include "syscalls.h"
#include "util.h"

static int parse_user(const char *s, struct gb_spec_process *p)
{
        _cleanup_free_ char *dup = gb_xstrdup(s);
        char *colon = strchr(dup, ':');

        if (colon)
                *colon = 0;
        if (gb_parse_u32(dup, &p->uid) < 0)
                return -EINVAL;
        if (colon && gb_parse_u32(colon + 1, &p->gid) < 0)
                return -EINVAL;
        return 0;
}

int rt_exec(struct rt_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"process", required_argument, NULL, 'p'},
                {"tty", no_argument, NULL, 't'},
                {"detach", no_argument, NULL, 'd'},
                {"user", required_argument, NULL, 'u'},
                {"env", required_argument, NULL, 'e'},
                {"cwd", required_argument, NULL, 'w'},
                {"pid-file", required_argument, NULL, 'P'},
                {"console-socket", required_argument, NULL, 'c'},
                {"preserve-fds", required_argument, NULL, 'F'},
                {"no-new-privs", no_argument, NULL, 'n'},
                {"cap", required_argument, NULL, 'C'},
                {"additional-gids", required_argument, NULL, 'g'},
                {"ignore-paused", no_argument, NULL, 'I'},
                {"cgroup", required_argument, NULL, 'G'},
                {"process-label", required_argument, NULL, 'L'},
                {"apparmor", required_argument, NULL, 'A'},
                {},
        };
        const char *process_file = NULL, *user = NULL, *cwd = NULL, *pid_file = NULL, *console_path = NULL;
        _cleanup_strv_ char **env_add = NULL;
        size_t n_env_add = 0;
        bool tty = false, detach = false, nnp = false;
        unsigned preserve = 0;
        struct rt_state st = {.dirfd = -EBADF};
        struct gb_error err = {0};
        _cleanup_(gb_spec_freep) struct gb_spec *spec = NULL;
        struct gb_spec_process proc = {0};
        _cleanup_close_ int init_pidfd = -EBADF, console = -EBADF;
        struct gb_sandbox sb = {.pidfd = -EBADF};
        const char *status;
        sigset_t fwd;
        int c, r;

        while ((c = getopt_long(argc, argv, "+p:tdu:e:w:", opts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        process_file = optarg;
                        break;
                case 't':
                        tty = true;
                        break;
                case 'd':
                        detach = true;
                        break;
                case 'u':
                        user = optarg;
                        break;
                case 'e':
                        env_add = gb_xrealloc(env_add, (n_env_add + 2) * sizeof(char *));
                        env_add[n_env_add++] = gb_xstrdup(optarg);
                        env_add[n_env_add] = NULL;
                        break;
                case 'w':
                        cwd = optarg;
                        break;
                case 'P':
                        pid_file = optarg;
                        break;
                case 'c':
                        console_path = optarg;
                        break;
                case 'F': {
                        uint32_t n;
                        if (gb_parse_u32(optarg, &n) < 0)
                                return rt_error(ctx, "--preserve-fds: expected a number");
                        preserve = n;
                        break;
                }
                case 'n':
                        nnp = true;
                        break;
                case 'I':
                case 'G':
                        break;
                case 'C':
                case 'g':
                case 'L':
                case 'A':
                        return rt_error(ctx, "exec: option not supported; use --process");
                default:
                        return 1;
                }
        }
        if (optind >= argc)
                return rt_error(ctx, "exec: expected a container ID");
        if (!process_file && optind + 1 >= argc)
                return rt_error(ctx, "exec: give --process FILE or a command");
        if (rt_state_load(ctx, argv[optind], false, &st, &err) < 0)
                return rt_error(ctx, "%s", err.msg);
        status = rt_status(ctx, &st);
        if (strcmp(status, "running") && strcmp(status, "created")) {
                r = rt_error(ctx, "cannot exec in a container that is %s: %s", status, argv[optind]);
                rt_state_done(&st);
                return r;
        }
        if (!st.config) {
                rt_state_done(&st);
                return rt_error(ctx, "the state of %s has no config", argv[optind]);
        }
        if (gb_spec_from_json(st.config, "config.json", &spec, &err) < 0) {
                rt_state_done(&st);
                return rt_error(ctx, "%s", err.msg);
        }
        if (rt_protect_exe(ctx, spec, &err) < 0) {
                rt_state_done(&st);
                return rt_error(ctx, "%s", err.msg);
        }
        if (process_file) {
                json_error_t je;
                json_t *o = json_load_file(process_file, JSON_REJECT_DUPLICATES, &je);
                if (!o) {
                        rt_state_done(&st);
                        return rt_error(ctx, "%s: line %d: %s", process_file, je.line, je.text);
                }
                r = gb_spec_process_from_json(o, process_file, &proc, &err);
                json_decref(o);
                if (r < 0) {
                        rt_state_done(&st);
                        return rt_error(ctx, "%s", err.msg);
                }
        } else {
                /* From the container's own process: user, caps, env, rlimits;
                 * the command line replaces args. */
                const struct gb_spec_process *b = &spec->process;
                size_t n = (size_t)(argc - optind - 1);
                proc = *b;
                proc.args = gb_xcalloc(n + 1, sizeof(char *));
                for (size_t i = 0; i < n; i++)
                        proc.args[i] = gb_xstrdup(argv[optind + 1 + i]);
                proc.env = gb_xcalloc(gb_strv_len(b->env) + n_env_add + 1, sizeof(char *));
                for (size_t i = 0; b->env[i]; i++)
                        proc.env[i] = gb_xstrdup(b->env[i]);
                proc.cwd = gb_xstrdup(cwd ? cwd : b->cwd);
                proc.additional_gids = b->n_additional_gids
                                               ? memcpy(gb_xcalloc(b->n_additional_gids, sizeof(uint32_t)),
                                                        b->additional_gids, b->n_additional_gids * sizeof(uint32_t))
                                               : NULL;
                proc.rlimits = b->n_rlimits ? memcpy(gb_xcalloc(b->n_rlimits, sizeof(*b->rlimits)), b->rlimits,
                                                     b->n_rlimits * sizeof(*b->rlimits))
                                            : NULL;
                proc.apparmor_profile = b->apparmor_profile ? gb_xstrdup(b->apparmor_profile) : NULL;
                proc.selinux_label = b->selinux_label ? gb_xstrdup(b->selinux_label) : NULL;
                proc.terminal = tty;
                if (user && parse_user(user, &proc) < 0) {
                        gb_spec_process_done(&proc);
                        rt_state_done(&st);
                        return rt_error(ctx, "--user: expected UID[:GID], not '%s'", user);
                }
                if (nnp)
                        proc.no_new_privileges = true;
        }
        if (process_file && n_env_add) {
                size_t n = gb_strv_len(proc.env);
                proc.env = gb_xrealloc(proc.env, (n + n_env_add + 1) * sizeof(char *));
                proc.env[n] = NULL;
        }
        for (size_t i = 0; i < n_env_add; i++) {
                size_t n = gb_strv_len(proc.env);
                proc.env[n] = gb_xstrdup(env_add[i]);
                proc.env[n + 1] = NULL;
        }
        if (process_file && cwd) {
                free(proc.cwd);
                proc.cwd = gb_xstrdup(cwd);
        }
        if (console_path && rt_connect_console(console_path, &console, &err) < 0) {
                gb_spec_process_done(&proc);
                rt_state_done(&st);
                return rt_error(ctx, "%s", err.msg);
        }
        init_pidfd = gb_pidfd_open(st.pid, 0);
        if (init_pidfd < 0) {
                gb_spec_process_done(&proc);
                rt_state_done(&st);
                return rt_error(ctx, "Failed to open the container's init %d: %s", (int)st.pid, strerror(errno));
        }
        if (!detach)
                rt_block_signals(&fwd);
        {
                struct gb_exec_opts eo = {
                        .init_pidfd = init_pidfd,
                        .init_pid = st.pid,
                        .spec = spec,
                        .process = &proc,
                        .label = process_file ? process_file : "exec",
                        .console_socket_fd = console,
                        .preserve_fds = preserve,
                };
                r = gb_sandbox_exec(&eo, &sb, &err);
        }
        gb_spec_process_done(&proc);
        rt_state_done(&st);
        if (r < 0)
                return rt_error(ctx, "%s", err.msg);
        if (pid_file && rt_write_pid_file(pid_file, sb.pid, &err) < 0) {
                rt_kill_reap(sb.pidfd);
                close(sb.pidfd);
                return rt_error(ctx, "%s", err.msg);
        }
        if (detach) {
                close(sb.pidfd);
                return 0;
        }
        r = rt_wait_forward(sb.pidfd, &fwd);
        close(sb.pidfd);
        return r;
}
