/* POST /containers/{id}/rename and /containers/{id}/update.
 *
 * rename is the CLI's (gb_container_rename: the name registry's lock
 * makes a concurrent create or rename of the same name lose with 409).
 * update has nothing to change yet: every field it carries is a cgroup
 * limit or a restart policy, and ghostbox manages neither. It answers 501
 * naming the field rather than 200 (a silent no-op would let a user
 * believe a memory limit is in force) or 404 (which reads as "no such
 * container"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "daemon.h"
#include "util.h"

void h_container_rename(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        _cleanup_free_ char *name = q_get(c, "name");
        struct gb_error err = {0};
        const char *n;
        int r;

        /* Docker's order: an empty name, the container, the same name,
         * then the name's syntax and whether it is free. */
        if (!name || !*name || strcmp(name, "/") == 0) {
                conn_error(c, 400, "Neither old nor new names may be empty");
                return;
        }
        n = name[0] == '/' ? name + 1 : name;
        r = gb_container_lookup(gbd_engine.cfg.data_root, caps[0], true, &ct, &err);
        if (r == -ENOENT) {
                conn_error(c, 404, "No such container: %s", caps[0]);
                return;
        }
        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        if (strcmp(gb_container_name(ct), n) == 0) {
                conn_error(c, 400, "Renaming a container with the same name as its current name");
                return;
        }
        if (!gb_container_name_valid(n)) {
                conn_error(c, 400, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", n);
                return;
        }
        r = gb_container_rename(gbd_engine.cfg.data_root, ct, n, &err);
        if (r < 0)
                conn_gb_error(c, r, &err); /* EEXIST: 409 with Docker's "Conflict. The container name ..." */
        else
                conn_no_content(c);
}

/* Is a field of Docker's UpdateConfig set? The Go CLI sends every field,
 * zero-valued, so "present" is not "set". */
static bool field_set(json_t *v)
{
        if (!v || json_is_null(v) || json_is_false(v))
                return false;
        if (json_is_integer(v))
                return json_integer_value(v) != 0;
        if (json_is_real(v))
                return json_real_value(v) != 0;
        if (json_is_string(v))
                return json_string_length(v) > 0;
        if (json_is_array(v))
                return json_array_size(v) > 0;
        if (json_is_object(v)) {
                const char *k;
                json_t *x;
                json_object_foreach (v, k, x)
                        if (field_set(x))
                                return true;
                return false;
        }
        return true;
}

void h_container_update(struct conn *c, char **caps)
{
        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
        json_auto_t *body = NULL;
        struct gb_error err = {0};
        const char *k;
        json_t *x;
        int r;

        if (conn_body_json(c, &body) < 0)
                return;
        if (body && !json_is_object(body)) {
                conn_error(c, 400, "the request body must be a JSON object");
                return;
        }
        r = gb_container_lookup(gbd_engine.cfg.data_root, caps[0], false, &ct, &err);
        if (r == -ENOENT) {
                conn_error(c, 404, "No such container: %s", caps[0]);
                return;
        }
        if (r < 0) {
                conn_gb_error(c, r, &err);
                return;
        }
        json_object_foreach (body, k, x) {
                if (!field_set(x))
                        continue;
                if (strcmp(k, "RestartPolicy") == 0)
                        conn_error(c, 501,
                                   "Cannot update container %s: RestartPolicy is not supported (ghostbox has no "
                                   "restart policies; run the container under systemd or a supervisor instead)",
                                   ct->id);
                else
                        conn_error(c, 501,
                                   "Cannot update container %s: %s is not supported (ghostbox does not manage "
                                   "cgroups yet, so it sets no resource limits)",
                                   ct->id, k);
                return;
        }
        /* Nothing asked for: Docker's answer to an empty update. */
        conn_json(c, 200, json_pack("{s:[]}", "Warnings"));
}
