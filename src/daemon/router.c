/* The route table: Docker's paths after the optional /vX.YY prefix. */
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "util.h"

static const struct route {
        const char *method, *pattern;
        gbd_handler fn;
} routes[] = {
        {"GET", "/_ping", h_ping},
        {"HEAD", "/_ping", h_ping},
        {"GET", "/version", h_version},
        {"GET", "/info", h_info},
        {"GET", "/events", h_events},
        {"POST", "/containers/create", h_containers_create},
        {"GET", "/containers/json", h_containers_list},
        {"POST", "/containers/prune", h_containers_prune},
        {"GET", "/containers/{}/json", h_container_inspect},
        {"GET", "/containers/{}/top", h_container_top},
        {"GET", "/containers/{}/logs", h_container_logs},
        {"POST", "/containers/{}/start", h_container_start},
        {"POST", "/containers/{}/stop", h_container_stop},
        {"POST", "/containers/{}/restart", h_container_restart},
        {"POST", "/containers/{}/kill", h_container_kill},
        {"POST", "/containers/{}/wait", h_container_wait},
        {"POST", "/containers/{}/attach", h_container_attach},
        {"POST", "/containers/{}/resize", h_container_resize},
        {"DELETE", "/containers/{}", h_container_delete},
        {"POST", "/containers/{}/exec", h_exec_create},
        {"POST", "/exec/{}/start", h_exec_start},
        {"POST", "/exec/{}/resize", h_exec_resize},
        {"GET", "/exec/{}/json", h_exec_inspect},
        {"GET", "/images/json", h_images_list},
        {"POST", "/images/create", h_images_create},
        {"POST", "/images/load", h_images_load},
        {"POST", "/images/prune", h_images_prune},
        {"GET", "/system/df", h_system_df},
        {"POST", "/commit", h_commit},
        {"POST", "/build", h_build},
        {"POST", "/session", h_session},
        {"POST", "/grpc", h_session},
        {"GET", "/images/{}/json", h_image_inspect},
        {"POST", "/images/{}/tag", h_image_tag},
        {"DELETE", "/images/{}", h_image_delete},
        {"GET", "/volumes", h_volumes_list},
        {"POST", "/volumes/create", h_volumes_create},
        {"POST", "/volumes/prune", h_volumes_prune},
        {"GET", "/volumes/{}", h_volume_inspect},
        {"DELETE", "/volumes/{}", h_volume_delete},
        {"POST", "/containers/{}/rename", h_container_rename},
        {"POST", "/containers/{}/update", h_container_update},
        {"GET", "/images/get", h_images_save},
        {"GET", "/networks", h_networks_list},
        {"POST", "/networks/create", h_networks_create},
        {"POST", "/networks/prune", h_networks_prune},
        {"GET", "/networks/{}", h_network_inspect},
        {"DELETE", "/networks/{}", h_network_delete},
        {"POST", "/networks/{}/connect", h_network_connect},
        {"POST", "/networks/{}/disconnect", h_network_connect},
        {"HEAD", "/containers/{}/archive", h_container_archive_head},
        {"GET", "/containers/{}/archive", h_container_archive_get},
        {"PUT", "/containers/{}/archive", h_container_archive_put},
        {"GET", "/containers/{}/export", h_container_export},
        {"GET", "/containers/{}/changes", h_container_changes},
};

/* Image names hold slashes ("library/busybox"): for /images/NAME/json and
 * DELETE /images/NAME, capture everything between the prefix and suffix. */
static bool match_image(const char *method, const char *path, const char *want_method, const char *suffix, char **cap)
{
        size_t pl = strlen(path), sl = strlen(suffix);

        if (strcmp(method, want_method) != 0 || !gb_str_has_prefix(path, "/images/") || pl <= 8 + sl ||
            strcmp(path + pl - sl, suffix) != 0)
                return false;
        *cap = strndup(path + 8, pl - 8 - sl);
        return *cap != NULL;
}

void gbd_dispatch(struct conn *c)
{
        char *caps[2] = {NULL, NULL};
        const char *m = c->req.method, *p = c->req.path;
        bool path_known = false;

        if (match_image(m, p, "GET", "/json", &caps[0])) {
                h_image_inspect(c, caps);
                goto out;
        }
        if (match_image(m, p, "POST", "/tag", &caps[0])) {
                h_image_tag(c, caps);
                goto out;
        }
        if (match_image(m, p, "GET", "/get", &caps[0])) {
                h_image_save(c, caps);
                goto out;
        }
        if (match_image(m, p, "GET", "/history", &caps[0])) {
                h_image_history(c, caps);
                goto out;
        }
        if (strcmp(p, "/images/json") != 0 && strcmp(p, "/images/create") != 0 && strcmp(p, "/images/load") != 0 &&
            match_image(m, p, "DELETE", "", &caps[0])) {
                h_image_delete(c, caps);
                goto out;
        }
        for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
                if (!gb_api_route_match(routes[i].pattern, p, caps, ARRAY_SIZE(caps)))
                        continue;
                if (strcmp(routes[i].method, m) != 0) {
                        path_known = true;
                        for (size_t k = 0; k < ARRAY_SIZE(caps); k++) {
                                free(caps[k]);
                                caps[k] = NULL;
                        }
                        continue;
                }
                routes[i].fn(c, caps);
                goto out;
        }
        if (path_known)
                conn_error(c, 405, "%s is not allowed on %s", m, p);
        else
                conn_error(c, 404, "page not found");
out:
        for (size_t k = 0; k < ARRAY_SIZE(caps); k++)
                free(caps[k]);
}
