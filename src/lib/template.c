/* The subset of Go's text/template that `docker inspect --format` and
 * `docker ps --format` users write: literal text and actions {{.A.B.C}} and
 * {{json .A}}; a missing field renders "<no value>" as Go does. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "template.h"

static void render_value(FILE *out, json_t *v, bool as_json)
{
        if (!v) {
                fputs("<no value>", out);
                return;
        }
        if (as_json || json_is_object(v) || json_is_array(v)) {
                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                fputs(s ? s : "", out);
                free(s);
                return;
        }
        if (json_is_string(v))
                fputs(json_string_value(v), out);
        else if (json_is_integer(v))
                fprintf(out, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
                fprintf(out, "%g", json_real_value(v));
        else if (json_is_true(v))
                fputs("true", out);
        else if (json_is_false(v))
                fputs("false", out);
        else
                fputs("<nil>", out);
}

GB_EXPORT char *gb_template_render(const char *tmpl, json_t *doc, const char **ret_err)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&buf, &size);
        const char *p = tmpl;

        if (!out)
                return NULL;
        while (*p) {
                const char *open = strstr(p, "{{"), *close;
                if (!open) {
                        fputs(p, out);
                        break;
                }
                fwrite(p, 1, (size_t)(open - p), out);
                close = strstr(open + 2, "}}");
                if (!close) {
                        fclose(out);
                        free(buf);
                        *ret_err = "unclosed action (missing \"}}\")";
                        return NULL;
                }
                _cleanup_free_ char *expr = strndup(open + 2, (size_t)(close - open - 2));
                char *e = expr, *end;
                bool as_json = false;
                json_t *v = doc;

                while (isspace((unsigned char)*e))
                        e++;
                end = e + strlen(e);
                while (end > e && isspace((unsigned char)end[-1]))
                        *--end = '\0';
                if (strncmp(e, "json ", 5) == 0) {
                        as_json = true;
                        e += 5;
                        while (isspace((unsigned char)*e))
                                e++;
                }
                if (e[0] != '.') {
                        fclose(out);
                        free(buf);
                        *ret_err = "only field paths like {{.State.Pid}} and {{json .Config}} are supported";
                        return NULL;
                }
                if (e[1] != '\0') {
                        char *save = NULL;
                        for (char *f = strtok_r(e + 1, ".", &save); f && v; f = strtok_r(NULL, ".", &save))
                                v = json_is_object(v) ? json_object_get(v, f) : NULL;
                }
                render_value(out, v, as_json);
                p = close + 2;
        }
        fclose(out);
        return buf;
}
