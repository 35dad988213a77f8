/* The Dockerfile parser (what `ghostbox build` and POST /build read).
 *
 * Pure: text in, instructions out. It follows the classic builder's
 * grammar: parser directives (`# escape=`, `# syntax=` ignored) before
 * anything else, comment lines (also inside a continuation), the escape
 * character at a line's end joining it with the next, keywords in any
 * case, `--flag=value` words after FROM/RUN/COPY/ADD/HEALTHCHECK, and the
 * JSON (exec) form where Docker accepts it. Variables are not expanded
 * here: the builder expands them step by step with gb_df_words(), since
 * ARG and ENV values change as the file runs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct gb_df_instr {
        char *keyword;  /* upper case: "RUN" */
        char *original; /* "RUN echo hi", continuations joined (for "Step N/M : ...") */
        char *rest;     /* the arguments' raw text after the flags, trimmed */
        char **flags;   /* "--chown=33:33", NULL-terminated, never NULL */
        char **json;    /* exec form: the array's strings; NULL for the shell form */
        unsigned line;  /* line of the keyword, from 1 */
};

struct gb_dockerfile {
        struct gb_df_instr *v;
        size_t n;
        char escape; /* '\\' or '`' */
        char *name;  /* for messages */
};

/* Parse text (len bytes; NUL bytes refused). name ("Dockerfile") prefixes
 * every message: "Dockerfile:7: unknown instruction 'RUUN' (did you
 * mean RUN?)". -EINVAL on a syntax error. */
int gb_dockerfile_parse(const char *text, size_t len, const char *name, struct gb_dockerfile *ret,
                        struct gb_error *err);
void gb_dockerfile_done(struct gb_dockerfile *df);

/* Look up a variable for substitution; NULL when unset. */
typedef const char *(*gb_df_lookup_fn)(const char *name, void *data);

/* Split text into words as Docker's shell lexer does for ENV, LABEL, ARG,
 * COPY, WORKDIR...: whitespace separates words, '...' is literal, "..."
 * groups with $ expansion and escape-char escapes of " \ $, the escape
 * character outside quotes makes the next character literal, and $VAR,
 * ${VAR}, ${VAR:-word}, ${VAR:+word} expand (unset variables become "").
 * With one_word the whole text is one word (spaces kept; quotes still
 * processed). *ret is a NULL-terminated vector. -EINVAL for an
 * unterminated quote or a bad ${...}. */
int gb_df_words(const char *text, char escape, bool one_word, gb_df_lookup_fn lookup, void *data, char ***ret,
                struct gb_error *err);

/* The value of flag "--name=value" in ins (NULL when absent). */
const char *gb_df_flag(const struct gb_df_instr *ins, const char *name);
