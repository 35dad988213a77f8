/* One function per CLI verb, dispatched from the table in main.c. Each takes
 * argv with argv[0] being the verb name and returns the process exit code. */
#pragma once

struct gb_cli_ctx {
        const char *config_path; /* --config or $GHOSTBOX_CONFIG, NULL for default */
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
