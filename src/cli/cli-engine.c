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
