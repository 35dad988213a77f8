#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cleanup.h"
#include "dockerfile.h"
#include "util.h"

static const char *const keywords[] = {
        "ADD",   "ARG",        "CMD",     "COPY", "ENTRYPOINT", "ENV",        "EXPOSE", "FROM",   "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN",  "SHELL",      "STOPSIGNAL", "USER",   "VOLUME", "WORKDIR",
};

/* Instructions that take --flags before their arguments. */
static bool takes_flags(const char *k)
{
        return !strcmp(k, "FROM") || !strcmp(k, "RUN") || !strcmp(k, "COPY") || !strcmp(k, "ADD") ||
               !strcmp(k, "HEALTHCHECK");
}

/* Instructions with an exec (JSON array) form. */
static bool takes_json(const char *k)
{
        return !strcmp(k, "RUN") || !strcmp(k, "CMD") || !strcmp(k, "ENTRYPOINT") || !strcmp(k, "COPY") ||
               !strcmp(k, "ADD") || !strcmp(k, "SHELL") || !strcmp(k, "VOLUME") || !strcmp(k, "HEALTHCHECK");
}

static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), prev[32], cur[32];

        if (la > 30 || lb > 30)
                return 99;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] + (toupper((unsigned char)a[i - 1]) != b[j - 1]);
                        size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
                        cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
                }
                memcpy(prev, cur, sizeof(prev));
        }
        return prev[lb];
}

static void strv_push(char ***v, char *s)
{
        size_t n = gb_strv_len(*v);
        *v = gb_xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

GB_EXPORT void gb_dockerfile_done(struct gb_dockerfile *df)
{
        for (size_t i = 0; i < df->n; i++) {
                free(df->v[i].keyword);
                free(df->v[i].original);
                free(df->v[i].rest);
                gb_strv_free(df->v[i].flags);
                gb_strv_free(df->v[i].json);
        }
        free(df->v);
        free(df->name);
        *df = (struct gb_dockerfile){0};
}

static bool blank(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!isspace((unsigned char)s[i]))
                        return false;
        return true;
}

static bool comment_line(const char *s, size_t n)
{
        size_t i = 0;
        while (i < n && isspace((unsigned char)s[i]))
                i++;
        return i < n && s[i] == '#';
}

/* A parser directive "# key=value" (only before anything else). */
static bool directive(const char *s, size_t n, char **ret_key, char **ret_val)
{
        size_t i = 0, k0, k1, v0, v1;

        while (i < n && isspace((unsigned char)s[i]))
                i++;
        if (i >= n || s[i] != '#')
                return false;
        i++;
        while (i < n && isspace((unsigned char)s[i]))
                i++;
        k0 = i;
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
                i++;
        k1 = i;
        while (i < n && isspace((unsigned char)s[i]))
                i++;
        if (k1 == k0 || i >= n || s[i] != '=')
                return false;
        i++;
        while (i < n && isspace((unsigned char)s[i]))
                i++;
        v0 = i;
        v1 = n;
        while (v1 > v0 && isspace((unsigned char)s[v1 - 1]))
                v1--;
        *ret_key = strndup(s + k0, k1 - k0);
        *ret_val = strndup(s + v0, v1 - v0);
        return true;
}

static int finish(struct gb_dockerfile *df, char *logical, unsigned line, struct gb_error *err)
{
        _cleanup_free_ char *text = logical, *kw = NULL;
        char *p = text, *end;
        struct gb_df_instr ins = {.line = line};
        const char *known = NULL;

        while (*p && isspace((unsigned char)*p))
                p++;
        end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
                *--end = '\0';
        kw = strndup(p, strcspn(p, " \t\r\n\v\f"));
        for (char *k = kw; *k; k++)
                *k = (char)toupper((unsigned char)*k);
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
                if (!strcmp(kw, keywords[i]))
                        known = keywords[i];
        if (!known) {
                const char *best = NULL;
                size_t bd = 3;
                for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
                        size_t d = edit_distance(kw, keywords[i]);
                        if (d < bd) {
                                bd = d;
                                best = keywords[i];
                        }
                }
                _cleanup_free_ char *shown = strndup(p, strcspn(p, " \t\r\n\v\f"));
                if (best)
                        return gb_error_set(err, EINVAL, "%s:%u: unknown instruction '%.64s' (did you mean %s?)",
                                            df->name, line, shown, best);
                return gb_error_set(err, EINVAL, "%s:%u: unknown instruction '%.64s'", df->name, line, shown);
        }
        p += strlen(kw);
        while (*p && isspace((unsigned char)*p))
                p++;
        ins.flags = gb_xcalloc(1, sizeof(char *));
        while (takes_flags(kw) && p[0] == '-' && p[1] == '-') {
                size_t n = strcspn(p, " \t\r\n\v\f");
                if (n == 2) { /* "--" ends the flags */
                        p += n;
                        while (*p && isspace((unsigned char)*p))
                                p++;
                        break;
                }
                strv_push(&ins.flags, strndup(p, n));
                p += n;
                while (*p && isspace((unsigned char)*p))
                        p++;
        }
        ins.keyword = TAKE_PTR(kw);
        ins.rest = gb_xstrdup(p);
        {
                /* The step line as Docker prints it: keyword as written
                 * upper-cased, then the arguments. */
                char *o = gb_xstrdup(text + (size_t)(strspn(text, " \t")));
                ins.original = o;
        }
        df->v = gb_xrealloc(df->v, (df->n + 1) * sizeof(*df->v));
        df->v[df->n++] = ins;
        struct gb_df_instr *d = &df->v[df->n - 1];

        if (!*d->rest)
                return gb_error_set(err, EINVAL, "%s:%u: %s requires at least one argument", df->name, line,
                                    d->keyword);
        if ((!strcmp(d->keyword, "RUN") || !strcmp(d->keyword, "COPY") || !strcmp(d->keyword, "ADD")) &&
            strstr(d->rest, "<<")) {
                const char *h = strstr(d->rest, "<<") + 2;
                if (*h == '-')
                        h++;
                if (*h == '"' || *h == '\'' || isalpha((unsigned char)*h) || *h == '_')
                        return gb_error_set(err, EINVAL,
                                            "%s:%u: heredocs (<<%s) are BuildKit syntax, not supported by ghostbox's "
                                            "classic builder: write the lines with RUN or COPY a file",
                                            df->name, line, h);
        }
        if (takes_json(d->keyword) && d->rest[0] == '[') {
                json_t *a = json_loads(d->rest, JSON_REJECT_DUPLICATES, NULL);
                bool ok = json_is_array(a);
                size_t i;
                json_t *v;
                json_array_foreach (a, i, v)
                        if (!json_is_string(v))
                                ok = false;
                if (ok) {
                        d->json = gb_xcalloc(json_array_size(a) + 1, sizeof(char *));
                        json_array_foreach (a, i, v)
                                d->json[i] = gb_xstrdup(json_string_value(v));
                }
                json_decref(a);
        }
        if (!strcmp(d->keyword, "SHELL") && (!d->json || !d->json[0]))
                return gb_error_set(err, EINVAL,
                                    "%s:%u: SHELL requires the arguments as a JSON array, e.g. "
                                    "SHELL [\"/bin/sh\", \"-c\"]",
                                    df->name, line);
        return 0;
}

GB_EXPORT int gb_dockerfile_parse(const char *text, size_t len, const char *name, struct gb_dockerfile *ret,
                                  struct gb_error *err)
{
        struct gb_dockerfile df = {.escape = '\\', .name = gb_xstrdup(name ? name : "Dockerfile")};
        _cleanup_free_ char *cur = NULL;
        size_t cur_len = 0, pos = 0;
        unsigned lineno = 0, start = 0;
        bool directives = true, seen_from = false;
        int r;

        if (memchr(text, '\0', len)) {
                r = gb_error_set(err, EINVAL, "%s: the file holds a NUL byte: not a Dockerfile", df.name);
                goto fail;
        }
        while (pos < len) {
                const char *l = text + pos;
                const char *nl = memchr(l, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - l) : len - pos;

                pos += n + (nl ? 1 : 0);
                lineno++;
                if (n && l[n - 1] == '\r')
                        n--;
                if (directives) {
                        _cleanup_free_ char *k = NULL, *v = NULL;
                        if (directive(l, n, &k, &v)) {
                                if (!strcasecmp(k, "escape")) {
                                        if (strcmp(v, "\\") != 0 && strcmp(v, "`") != 0) {
                                                r = gb_error_set(err, EINVAL,
                                                                 "%s:%u: invalid escape directive '%s': must be "
                                                                 "` or \\",
                                                                 df.name, lineno, v);
                                                goto fail;
                                        }
                                        df.escape = v[0];
                                        continue;
                                }
                                if (!strcasecmp(k, "syntax") || !strcasecmp(k, "check"))
                                        continue;
                        }
                        directives = false;
                }
                if (!cur) {
                        if (blank(l, n) || comment_line(l, n))
                                continue;
                        start = lineno;
                        cur = gb_xstrdup("");
                        cur_len = 0;
                } else if (blank(l, n) || comment_line(l, n))
                        continue; /* Docker drops these inside a continuation */
                size_t e = n;
                while (e > 0 && isspace((unsigned char)l[e - 1]))
                        e--;
                bool cont = e > 0 && l[e - 1] == df.escape;
                size_t take = cont ? e - 1 : n;
                cur = gb_xrealloc(cur, cur_len + take + 1);
                memcpy(cur + cur_len, l, take);
                cur_len += take;
                cur[cur_len] = '\0';
                if (cont)
                        continue;
                r = finish(&df, TAKE_PTR(cur), start, err);
                if (r < 0)
                        goto fail;
        }
        if (cur) {
                r = finish(&df, TAKE_PTR(cur), start, err);
                if (r < 0)
                        goto fail;
        }
        if (df.n == 0) {
                r = gb_error_set(err, EINVAL, "%s: the Dockerfile has no instructions (it needs at least FROM)",
                                 df.name);
                goto fail;
        }
        for (size_t i = 0; i < df.n; i++) {
                if (!strcmp(df.v[i].keyword, "FROM"))
                        seen_from = true;
                else if (!seen_from && strcmp(df.v[i].keyword, "ARG") != 0) {
                        r = gb_error_set(err, EINVAL,
                                         "%s:%u: %s before the first FROM: a Dockerfile starts with FROM (only ARG "
                                         "may come before it)",
                                         df.name, df.v[i].line, df.v[i].keyword);
                        goto fail;
                }
        }
        if (!seen_from) {
                r = gb_error_set(err, EINVAL, "%s: no FROM instruction", df.name);
                goto fail;
        }
        *ret = df;
        return 0;
fail:
        gb_dockerfile_done(&df);
        return r;
}

GB_EXPORT const char *gb_df_flag(const struct gb_df_instr *ins, const char *name)
{
        size_t n = strlen(name);

        for (char **f = ins->flags; f && *f; f++)
                if (!strncmp(*f + 2, name, n) && ((*f)[2 + n] == '=' || (*f)[2 + n] == '\0'))
                        return (*f)[2 + n] == '=' ? *f + 3 + n : "";
        return NULL;
}

/* ---- words and variables ---------------------------------------------- */

struct lexer {
        const char *s;
        size_t i;
        char esc;
        gb_df_lookup_fn lookup;
        void *data;
        struct gb_error *err;
        unsigned depth;
};

struct sbuf {
        char *p;
        size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
        if (b->n + n + 1 > b->cap) {
                b->cap = (b->n + n + 1) * 2;
                b->p = gb_xrealloc(b->p, b->cap);
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = '\0';
}

static void sb_addc(struct sbuf *b, char c)
{
        sb_add(b, &c, 1);
}

static int lex(const char *s, char esc, bool one_word, gb_df_lookup_fn lookup, void *data, unsigned depth, char ***ret,
               struct gb_error *err);

static int expand(struct lexer *lx, struct sbuf *out)
{
        const char *s = lx->s;
        size_t i = lx->i + 1;

        if (s[i] == '{') {
                size_t n0 = ++i, depth = 1, w0 = 0, w1 = 0;
                char op[3] = "";
                while (isalnum((unsigned char)s[i]) || s[i] == '_')
                        i++;
                if (i == n0)
                        return gb_error_set(lx->err, EINVAL, "bad substitution: '${' must be followed by a name");
                _cleanup_free_ char *name = strndup(s + n0, i - n0);
                if (s[i] == ':' && (s[i + 1] == '-' || s[i + 1] == '+')) {
                        op[0] = ':';
                        op[1] = s[i + 1];
                        i += 2;
                } else if (s[i] == '-' || s[i] == '+') {
                        op[0] = s[i];
                        i++;
                } else if (s[i] != '}')
                        return gb_error_set(lx->err, EINVAL,
                                            "bad substitution in '${%s': supported are ${VAR}, ${VAR:-word}, "
                                            "${VAR:+word}",
                                            name);
                w0 = i;
                while (s[i]) {
                        if (s[i] == lx->esc && s[i + 1]) {
                                i += 2;
                                continue;
                        }
                        if (s[i] == '{')
                                depth++;
                        else if (s[i] == '}' && --depth == 0)
                                break;
                        i++;
                }
                if (!s[i])
                        return gb_error_set(lx->err, EINVAL, "missing '}' in '${%s'", name);
                w1 = i;
                lx->i = i + 1;
                const char *val = lx->lookup ? lx->lookup(name, lx->data) : NULL;
                bool use_word = false;
                if (!strcmp(op, ":-"))
                        use_word = !val || !*val;
                else if (!strcmp(op, "-"))
                        use_word = !val;
                else if (!strcmp(op, ":+"))
                        use_word = val && *val;
                else if (!strcmp(op, "+"))
                        use_word = val != NULL;
                if (op[0] && (op[strlen(op) - 1] == '+') && !use_word)
                        return 0;
                if (use_word) {
                        _cleanup_free_ char *word = strndup(s + w0, w1 - w0);
                        _cleanup_strv_ char **w = NULL;
                        if (lx->depth > 16)
                                return gb_error_set(lx->err, EINVAL, "substitution nested too deep");
                        int r = lex(word, lx->esc, true, lx->lookup, lx->data, lx->depth + 1, &w, lx->err);
                        if (r < 0)
                                return r;
                        if (w[0])
                                sb_add(out, w[0], strlen(w[0]));
                        return 0;
                }
                if (val)
                        sb_add(out, val, strlen(val));
                return 0;
        }
        if (isalpha((unsigned char)s[i]) || s[i] == '_') {
                size_t n0 = i;
                while (isalnum((unsigned char)s[i]) || s[i] == '_')
                        i++;
                _cleanup_free_ char *name = strndup(s + n0, i - n0);
                const char *val = lx->lookup ? lx->lookup(name, lx->data) : NULL;
                if (val)
                        sb_add(out, val, strlen(val));
                lx->i = i;
                return 0;
        }
        sb_addc(out, '$');
        lx->i++;
        return 0;
}

static int lex(const char *s, char esc, bool one_word, gb_df_lookup_fn lookup, void *data, unsigned depth, char ***ret,
               struct gb_error *err)
{
        struct lexer lx = {.s = s, .esc = esc, .lookup = lookup, .data = data, .err = err, .depth = depth};
        _cleanup_strv_ char **words = gb_xcalloc(1, sizeof(char *));
        struct sbuf b = {0};
        bool have = false;
        int r;

        while (s[lx.i]) {
                char c = s[lx.i];
                if (!one_word && isspace((unsigned char)c)) {
                        if (have)
                                strv_push(&words, b.p ? b.p : gb_xstrdup(""));
                        b = (struct sbuf){0};
                        have = false;
                        lx.i++;
                        continue;
                }
                have = true;
                if (c == esc) {
                        if (s[lx.i + 1]) {
                                sb_addc(&b, s[lx.i + 1]);
                                lx.i += 2;
                        } else {
                                sb_addc(&b, c);
                                lx.i++;
                        }
                } else if (c == '\'') {
                        lx.i++;
                        while (s[lx.i] && s[lx.i] != '\'')
                                sb_addc(&b, s[lx.i++]);
                        if (!s[lx.i]) {
                                free(b.p);
                                return gb_error_set(err, EINVAL, "unexpected end of text: missing a closing '");
                        }
                        lx.i++;
                        if (!b.p)
                                sb_add(&b, "", 0);
                } else if (c == '"') {
                        lx.i++;
                        if (!b.p)
                                sb_add(&b, "", 0);
                        while (s[lx.i] && s[lx.i] != '"') {
                                if (s[lx.i] == esc &&
                                    (s[lx.i + 1] == '"' || s[lx.i + 1] == esc || s[lx.i + 1] == '$')) {
                                        sb_addc(&b, s[lx.i + 1]);
                                        lx.i += 2;
                                } else if (s[lx.i] == '$') {
                                        r = expand(&lx, &b);
                                        if (r < 0) {
                                                free(b.p);
                                                return r;
                                        }
                                } else
                                        sb_addc(&b, s[lx.i++]);
                        }
                        if (!s[lx.i]) {
                                free(b.p);
                                return gb_error_set(err, EINVAL, "unexpected end of text: missing a closing \"");
                        }
                        lx.i++;
                } else if (c == '$') {
                        r = expand(&lx, &b);
                        if (r < 0) {
                                free(b.p);
                                return r;
                        }
                } else {
                        sb_addc(&b, c);
                        lx.i++;
                }
        }
        if (have || one_word)
                strv_push(&words, b.p ? b.p : gb_xstrdup(""));
        *ret = TAKE_PTR(words);
        return 0;
}

GB_EXPORT int gb_df_words(const char *text, char escape, bool one_word, gb_df_lookup_fn lookup, void *data, char ***ret,
                          struct gb_error *err)
{
        return lex(text, escape, one_word, lookup, data, 0, ret, err);
}
