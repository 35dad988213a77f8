/* POST /commit (`docker commit`): the library's gb_engine_commit with
 * Docker's query parameters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apihttp.h"
#include "cleanup.h"
#include "commit.h"
#include "daemon.h"
#include "util.h"

void h_commit(struct conn *c, char **caps)
{
        _cleanup_free_ char *container = q_get(c, "container"), *repo = q_get(c, "repo"), *tag = q_get(c, "tag"),
                            *comment = q_get(c, "comment"), *author = q_get(c, "author"), *ref = NULL;
        _cleanup_strv_ char **changes = gb_http_query_all(c->req.query, "changes");
        struct gb_commit_req req = {.changes = changes, .comment = comment, .author = author};
        struct gb_error err = {0};
        json_t *body = NULL;
        char id[GB_DIGEST_LEN];
        int r;

        (void)caps;
        if (!container || !*container) {
                conn_error(c, 400, "bad parameter: container cannot be empty");
                return;
        }
        if (conn_body_json(c, &body) < 0)
                return;
        if (body && !json_is_object(body)) {
                json_decref(body);
                conn_error(c, 400, "the request body must be a container Config object (or empty)");
                return;
        }
        req.config = body;
        if (repo && *repo) {
                const char *r0 = gbd_familiar(repo);
                ref = tag && *tag ? gb_xasprintf("%s:%s", r0, tag) : gb_xstrdup(r0);
                req.ref = ref;
        } else if (tag && *tag) {
                json_decref(body);
                conn_error(c, 400, "tag is given without a repository (repo)");
                return;
        }
        r = gb_engine_commit(&gbd_engine, container, &req, id, &err);
        json_decref(body);
        if (r == -ENOENT && strstr(err.msg, "No such container"))
                conn_error(c, 404, "%s", err.msg);
        else if (r == -EOPNOTSUPP)
                conn_error(c, 409, "%s", err.msg);
        else if (r < 0)
                conn_gb_error(c, r, &err);
        else
                conn_json(c, 201, json_pack("{s:s}", "Id", id));
}
