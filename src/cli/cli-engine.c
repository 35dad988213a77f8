#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "util.h"

int cli_open_engine(struct gb_cli_ctx *ctx, struct gb_engine *e)
{
        struct gb_config_overrides ov = {
                .path = ctx->config_path,
                .data_root = ctx->data_root,
                .exec_root = ctx->exec_root,
                .userns_remap = ctx->userns_remap,
        };
        struct gb_error err = {0};
        char self[4096];
        ssize_t n;

        /* The binary the monitor runs for --rm: resolve it now, while
         * /proc/self/exe is still the file on disk. */
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
                cli_errorf("Failed to find the ghostbox binary: %s", strerror(errno));
                return -1;
        }
        self[n] = '\0';
        if (gb_engine_open(&ov, self, e, &err) < 0) {
                cli_errorf("%s", err.msg);
                return -1;
        }
        return 0;
}

static const struct {
        const char *name;
        int sig;
} signals[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},   {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"USR1", SIGUSR1},
        {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
        {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

int cli_parse_signal(const char *s)
{
        uint32_t n;

        if (gb_parse_u32(s, &n) == 0)
                return n > 0 && n < 65 ? (int)n : -1;
        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
                if (strcasecmp(s, signals[i].name) == 0)
                        return signals[i].sig;
        return -1;
}

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

char *cli_render_template(const char *tmpl, json_t *doc, const char **ret_err)
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

static bool parse_ts(const char *ts, time_t *ret)
{
        struct tm tm = {0};

        if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
                return false;
        if (tm.tm_year < 1)
                return false;
        *ret = timegm(&tm);
        return true;
}

static char *duration(time_t secs)
{
        if (secs < 1)
                return gb_xstrdup("Less than a second");
        if (secs < 60)
                return gb_xasprintf("%ld second%s", (long)secs, secs == 1 ? "" : "s");
        if (secs < 3600)
                return secs < 120 ? gb_xstrdup("About a minute") : gb_xasprintf("%ld minutes", (long)secs / 60);
        if (secs < 86400)
                return secs < 7200 ? gb_xstrdup("About an hour") : gb_xasprintf("%ld hours", (long)secs / 3600);
        return gb_xasprintf("%ld days", (long)secs / 86400);
}

char *cli_ago(const char *ts)
{
        time_t t;
        _cleanup_free_ char *d = NULL;

        if (!parse_ts(ts, &t))
                return gb_xstrdup("");
        d = duration(time(NULL) - t);
        return gb_xasprintf("%s ago", d);
}

char *cli_status_text(json_t *doc)
{
        json_t *st = json_object_get(doc, "State");
        const char *s = json_string_value(json_object_get(st, "Status"));
        time_t t;

        if (!s)
                return gb_xstrdup("Unknown");
        if (strcmp(s, "running") == 0) {
                _cleanup_free_ char *d = NULL;
                if (!parse_ts(json_string_value(json_object_get(st, "StartedAt")), &t))
                        return gb_xstrdup("Up");
                d = duration(time(NULL) - t);
                return gb_xasprintf("Up %s", d);
        }
        if (strcmp(s, "exited") == 0) {
                _cleanup_free_ char *d = NULL;
                long long code = json_integer_value(json_object_get(st, "ExitCode"));
                if (!parse_ts(json_string_value(json_object_get(st, "FinishedAt")), &t))
                        return gb_xasprintf("Exited (%lld)", code);
                d = duration(time(NULL) - t);
                return gb_xasprintf("Exited (%lld) %s ago", code, d);
        }
        if (strcmp(s, "created") == 0)
                return gb_xstrdup("Created");
        if (strcmp(s, "removing") == 0)
                return gb_xstrdup("Removal In Progress");
        return gb_xasprintf("%c%s", toupper((unsigned char)s[0]), s + 1);
}
