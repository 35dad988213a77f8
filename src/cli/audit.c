/* ghostbox audit: one row per container with what weakens its isolation,
 * and a non-zero exit when a --fail-on rule matches (seeds/004 "CI/CD
 * pipeline integration"). Rules:
 *   privileged    HostConfig.Privileged
 *   userns-host   no user namespace (UsernsMode host, or remapping off)
 *   socket-mount  a unix socket (an engine's API) bind-mounted in
 *   host-write    a writable bind of a host path, or / mounted at all */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "cli-engine.h"
#include "util.h"

enum {
        RULE_PRIVILEGED = 1,
        RULE_USERNS_HOST = 2,
        RULE_SOCKET = 4,
        RULE_HOST_WRITE = 8,
};

static const struct {
        const char *name;
        unsigned bit;
} rules[] = {
        {"privileged", RULE_PRIVILEGED},
        {"userns-host", RULE_USERNS_HOST},
        {"socket-mount", RULE_SOCKET},
        {"host-write", RULE_HOST_WRITE},
};

static int parse_rules(const char *s, unsigned *ret)
{
        _cleanup_free_ char *copy = gb_xstrdup(s);
        char *save = NULL;

        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                size_t i;
                for (i = 0; i < ARRAY_SIZE(rules); i++)
                        if (strcmp(t, rules[i].name) == 0) {
                                *ret |= rules[i].bit;
                                break;
                        }
                if (i == ARRAY_SIZE(rules)) {
                        cli_errorf("--fail-on: unknown rule \"%s\" (privileged, userns-host, socket-mount, host-write)",
                                   t);
                        return -1;
                }
        }
        return 0;
}

static bool is_socket_path(const char *p)
{
        struct stat st;
        const char *base = strrchr(p, '/');

        base = base ? base + 1 : p;
        if (stat(p, &st) == 0 && S_ISSOCK(st.st_mode))
                return true;
        return strcmp(base, "docker.sock") == 0 || strcmp(base, "ghostbox.sock") == 0 ||
               strcmp(base, "containerd.sock") == 0 || strcmp(base, "podman.sock") == 0;
}

/* Findings for one container; returns the matched rule bits. */
static unsigned audit_one(json_t *doc, json_t *findings)
{
        json_t *hc = json_object_get(doc, "HostConfig"), *m;
        const char *userns = json_string_value(json_object_get(hc, "UsernsMode"));
        json_t *map = json_object_get(json_object_get(doc, "Ghostbox"), "UidMap");
        unsigned hit = 0;
        size_t i;

        if (json_is_true(json_object_get(hc, "Privileged"))) {
                hit |= RULE_PRIVILEGED;
                json_array_append_new(findings, json_string("privileged"));
        }
        if ((userns && strcmp(userns, "host") == 0) || json_array_size(map) == 0) {
                hit |= RULE_USERNS_HOST;
                json_array_append_new(findings, json_string("no user namespace: its root is host root"));
        }
        json_array_foreach (json_object_get(doc, "Mounts"), i, m) {
                const char *type = json_string_value(json_object_get(m, "Type"));
                const char *src = json_string_value(json_object_get(m, "Source"));
                bool rw = json_is_true(json_object_get(m, "RW"));
                if (!type || !src || strcmp(type, "bind") != 0)
                        continue;
                if (is_socket_path(src)) {
                        hit |= RULE_SOCKET;
                        json_array_append_new(findings, json_sprintf("socket mounted: %s", src));
                } else if (strcmp(src, "/") == 0 || rw) {
                        hit |= RULE_HOST_WRITE;
                        json_array_append_new(findings,
                                              json_sprintf("%s host path: %s", rw ? "writable" : "root of the", src));
                }
        }
        return hit;
}

static char *map_text(json_t *map)
{
        json_t *r;
        size_t i;
        char *s = gb_xstrdup("");

        if (json_array_size(map) == 0)
                return gb_xstrdup("0 0 4294967295");
        json_array_foreach (map, i, r) {
                char *n = gb_xasprintf("%s%s%lld %lld %lld", s, i ? "; " : "",
                                       (long long)json_integer_value(json_object_get(r, "ContainerID")),
                                       (long long)json_integer_value(json_object_get(r, "HostID")),
                                       (long long)json_integer_value(json_object_get(r, "Size")));
                free(s);
                s = n;
        }
        return s;
}

int cmd_audit(struct gb_cli_ctx *ctx, int argc, char **argv)
{
        static const struct option opts[] = {
                {"json", no_argument, NULL, 'j'},
                {"fail-on", required_argument, NULL, 'f'},
                {"all", no_argument, NULL, 'a'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct gb_engine e = {0};
        struct gb_error err = {0};
        _cleanup_strv_ char **ids = NULL;
        json_t *rows = json_array();
        unsigned fail_on = 0, matched = 0;
        bool json = false, all = false;
        int c;

        while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'f':
                        if (parse_rules(optarg, &fail_on) < 0) {
                                json_decref(rows);
                                return EXIT_ENGINE;
                        }
                        break;
                case 'a':
                        all = true;
                        break;
                case 'h':
                        printf("Usage: ghostbox audit [-a] [--json] [--fail-on RULE[,RULE...]]\n\nList running "
                               "containers (all with -a) and what weakens their isolation.\nRules for --fail-on "
                               "(exit 1 when one matches): privileged, userns-host, socket-mount, host-write.\n");
                        json_decref(rows);
                        return 0;
                default:
                        json_decref(rows);
                        return EXIT_ENGINE;
                }
        }
        if (cli_open_engine(ctx, &e) < 0) {
                json_decref(rows);
                return EXIT_ENGINE;
        }
        if (gb_container_list(e.cfg.data_root, &ids, &err) < 0) {
                cli_errorf("%s", err.msg);
                gb_engine_close(&e);
                json_decref(rows);
                return EXIT_ENGINE;
        }
        for (char **id = ids; *id; id++) {
                _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                json_t *findings = json_array(), *hc;
                _cleanup_free_ char *map = NULL;
                unsigned hit;

                if (gb_container_lookup(e.cfg.data_root, *id, true, &ct, NULL) < 0) {
                        json_decref(findings);
                        continue;
                }
                (void)gb_engine_refresh(&e, ct, NULL);
                if (!all && strcmp(gb_container_status(ct), "running") != 0) {
                        json_decref(findings);
                        continue;
                }
                hit = audit_one(ct->doc, findings);
                matched |= hit & fail_on;
                hc = json_object_get(ct->doc, "HostConfig");
                map = map_text(json_object_get(json_object_get(ct->doc, "Ghostbox"), "UidMap"));
                json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:b, s:s, s:o}", "Name", gb_container_name(ct),
                                                      "Id", ct->id, "UsernsMode",
                                                      json_string_value(json_object_get(hc, "UsernsMode")) ?: "",
                                                      "Privileged", json_is_true(json_object_get(hc, "Privileged")),
                                                      "UidMap", map, "Findings", findings));
        }
        if (json) {
                char *s = json_dumps(rows, JSON_INDENT(2));
                printf("%s\n", s);
                free(s);
        } else {
                json_t *r;
                size_t i;
                printf("%-24s %-10s %-10s %-24s %s\n", "NAME", "USERNS", "PRIVILEGED", "UID MAP", "FINDINGS");
                json_array_foreach (rows, i, r) {
                        json_t *f;
                        size_t j;
                        _cleanup_free_ char *fs = gb_xstrdup("");
                        json_array_foreach (json_object_get(r, "Findings"), j, f) {
                                char *n = gb_xasprintf("%s%s%s", fs, j ? "; " : "", json_string_value(f));
                                free(fs);
                                fs = n;
                        }
                        printf("%-24s %-10s %-10s %-24s %s\n", json_string_value(json_object_get(r, "Name")),
                               *json_string_value(json_object_get(r, "UsernsMode"))
                                       ? json_string_value(json_object_get(r, "UsernsMode"))
                                       : "remapped",
                               json_is_true(json_object_get(r, "Privileged")) ? "yes" : "no",
                               json_string_value(json_object_get(r, "UidMap")), *fs ? fs : "-");
                }
        }
        if (matched) {
                for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
                        if (matched & rules[i].bit)
                                fprintf(stderr, "ghostbox audit: rule %s matched\n", rules[i].name);
        }
        json_decref(rows);
        gb_engine_close(&e);
        return matched ? 1 : 0;
}
