/* What the container verbs share: opening the engine with the global flags,
 * signal names, and the Go-template subset of --format. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "engine.h"
#include "template.h"
#include "verbs.h"

/* Docker's exit codes for engine failures. */
#define EXIT_ENGINE 125

/* Load config + remap into *e; prints the error and returns -1 on failure. */
int cli_open_engine(struct gb_cli_ctx *ctx, struct gb_engine *e);

/* "Up 3 minutes", "Exited (0) 2 seconds ago", "Created" from a record. */
char *cli_status_text(json_t *doc);

/* Pump between our stdio and the attach stream afd of container id until
 * the container's side closes; restores the terminal. */
void cli_attach_pump(struct gb_engine *e, const char *id, int afd, bool tty, bool with_stdin);

/* "3 minutes ago" from an RFC 3339 timestamp. */
char *cli_ago(const char *ts);
