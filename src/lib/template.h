/* Docker's --format templates (a subset of Go's text/template). */
#pragma once

#include <jansson.h>

/* Render tmpl against doc: literal text, {{.Field.Path}} and {{json .X}}.
 * Returns a new string (caller frees), or NULL with a static message in
 * *ret_err on a syntax error. */
char *gb_template_render(const char *tmpl, json_t *doc, const char **ret_err);
