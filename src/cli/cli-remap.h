/* Helpers the CLI verbs share to get the configuration and the resolved
 * remapping, printing errors the CLI way. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "idmap.h"
#include "verbs.h"

/* Load daemon.json with the global flags applied; prints the error and
 * returns -1 on failure. Release *ret with gb_config_done(). */
int cli_load_config(struct gb_cli_ctx *ctx, struct gb_config *ret);

/* Resolve cfg's userns-remap; create: `default` may create the user and its
 * ranges. Release *ret with gb_remap_done() (also on failure). */
int cli_resolve_remap(const struct gb_config *cfg, bool create, struct gb_remap *ret, struct gb_error *err);

/* The remapping as `idmap show --json` prints it; caller owns the object. */
json_t *cli_remap_json(const struct gb_config *cfg, const struct gb_remap *rm);
