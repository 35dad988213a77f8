/* One function per CLI verb, dispatched from the table in main.c. Each takes
 * argv with argv[0] being the verb name and returns the process exit code. */
#pragma once

/* Global options. The CLI is daemonless, so it takes dockerd's flags for the
 * settings daemon.json holds; a flag given here overrides the file's key. */
struct gb_cli_ctx {
        const char *config_path;  /* --config or $GHOSTBOX_CONFIG, NULL for default */
        const char *data_root;    /* --data-root, NULL: daemon.json or /var/lib/ghostbox */
        const char *exec_root;    /* --exec-root, NULL: daemon.json or /run/ghostbox */
        const char *userns_remap; /* --userns-remap, NULL: daemon.json or "default" */
        char **argv;              /* the whole command line (for a sealed re-exec) */
        int debug;
};

typedef int (*gb_verb_fn)(struct gb_cli_ctx *ctx, int argc, char **argv);

struct gb_verb {
        const char *name;
        gb_verb_fn fn;
        const char *summary;
};

/* Print "ghostbox: <msg>" to stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn_handler(const char *msg, void *userdata);

int cmd_version(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_run(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_create(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_start(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_stop(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_kill(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_rm(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_wait(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_rename(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_build(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_commit(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_ps(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_port(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_inspect(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_logs(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_cp(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_exec(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_attach(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_volume(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_network(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_check(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_audit(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_idmap(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_info(struct gb_cli_ctx *ctx, int argc, char **argv);

int cmd_images(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_image(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_import(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_load(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_rmi(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_save(struct gb_cli_ctx *ctx, int argc, char **argv);
int cmd_tag(struct gb_cli_ctx *ctx, int argc, char **argv);
