/* /_ping, /version, /info. */
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "daemon.h"
#include "store.h"
#include "util.h"

void h_ping(struct conn *c, char **caps)
{
        /* The CLI takes the API version from this response's Api-Version
         * header (headers() adds it to every response). */
        /* Builder-Version 1: the classic builder. Docker CLI 23+ then
         * builds through POST /build instead of BuildKit's session. */
        conn_respond_extra(c, 200, "text/plain; charset=utf-8", "Builder-Version: 1\r\n", "OK", 2);
}

void h_version(struct conn *c, char **caps)
{
        struct utsname u;
        json_t *comp;

        (void)uname(&u);
        comp = json_pack("[{s:s, s:s, s:{s:s, s:s, s:s}}]", "Name", "Engine", "Version", GB_VERSION, "Details",
                         "ApiVersion", GB_API_VERSION, "MinAPIVersion", GB_API_MIN_VERSION, "Os", "linux");
        conn_json(c, 200,
                  json_pack("{s:{s:s}, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "Platform", "Name",
                            "ghostbox Engine (userns-remap)", "Components", comp, "Version", GB_VERSION, "ApiVersion",
                            GB_API_VERSION, "MinAPIVersion", GB_API_MIN_VERSION, "GitCommit", "ghostbox", "GoVersion",
                            "none (C)", "Os", "linux", "Arch", strcmp(u.machine, "x86_64") == 0 ? "amd64" : u.machine,
                            "KernelVersion", u.release, "BuildTime", "", "Experimental", 0));
}

void h_info(struct conn *c, char **caps)
{
        struct gb_engine *e = &gbd_engine;
        _cleanup_strv_ char **ids = NULL;
        size_t running = 0, stopped = 0, n = 0, n_images = 0;
        struct gb_store *store = NULL;
        struct utsname u;
        char host[256] = "";
        bool remapped = e->cfg.userns_remap && *e->cfg.userns_remap;
        json_t *sec, *doc;

        (void)uname(&u);
        (void)gethostname(host, sizeof(host) - 1);
        if (gb_container_list(e->cfg.data_root, &ids, NULL) == 0)
                for (char **id = ids; *id; id++) {
                        _cleanup_(gb_container_freep) struct gb_container *ct = NULL;
                        if (gb_container_lookup(e->cfg.data_root, *id, false, &ct, NULL) < 0)
                                continue;
                        (void)gb_engine_refresh(e, ct, NULL);
                        n++;
                        if (strcmp(gb_container_status(ct), "running") == 0)
                                running++;
                        else
                                stopped++;
                }
        if (gb_store_open(e->cfg.data_root, &store, NULL) == 0) {
                struct gb_image_summary *v = NULL;
                if (gb_store_list(store, &v, &n_images, NULL) == 0)
                        gb_image_summaries_free(v, n_images);
                gb_store_free(store);
        }
        sec = json_pack("[s]", "name=seccomp,profile=builtin");
        if (remapped)
                json_array_append_new(sec, json_string("name=userns"));
        doc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:o, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, "
                        "s:I, s:s, s:s}",
                        "ID", "ghostbox", "Containers", (json_int_t)n, "ContainersRunning", (json_int_t)running,
                        "ContainersPaused", (json_int_t)0, "ContainersStopped", (json_int_t)stopped, "Images",
                        (json_int_t)n_images, "Driver", "overlay2", "DockerRootDir", e->cfg.data_root,
                        "SecurityOptions", sec, "Debug", e->cfg.debug, "LoggingDriver", "json-file", "CgroupDriver",
                        "cgroupfs", "CgroupVersion", "1", "KernelVersion", u.release, "OperatingSystem",
                        "ghostbox on Linux", "OSType", "linux", "Architecture", u.machine, "NCPU",
                        (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "MemTotal",
                        (json_int_t)sysconf(_SC_PHYS_PAGES) * (json_int_t)sysconf(_SC_PAGESIZE), "Name", host,
                        "ServerVersion", GB_VERSION);
        json_object_set_new(doc, "DefaultRuntime", json_string("ghostbox"));
        json_object_set_new(doc, "Runtimes", json_pack("{s:{s:s}}", "ghostbox", "path", "ghostbox-runtime"));
        json_object_set_new(doc, "Plugins",
                            json_pack("{s:[s], s:[s,s,s], s:[s]}", "Volume", "local", "Network", "bridge", "host",
                                      "none", "Log", "json-file"));
        json_object_set_new(doc, "Swarm",
                            json_pack("{s:s, s:s, s:s, s:b}", "NodeID", "", "NodeAddr", "", "LocalNodeState",
                                      "inactive", "ControlAvailable", false));
        json_object_set_new(doc, "RegistryConfig",
                            json_pack("{s:[], s:{}, s:[]}", "InsecureRegistryCIDRs", "IndexConfigs", "Mirrors"));
        json_object_set_new(doc, "Warnings", json_array());
        json_object_set_new(doc, "ExecRoot", json_string(e->cfg.exec_root));
        {
                json_t *labels = json_array();
                for (char **l = e->cfg.labels; l && *l; l++)
                        json_array_append_new(labels, json_string(*l));
                json_object_set_new(doc, "Labels", labels);
        }
        json_object_set_new(
                doc, "DriverStatus",
                json_pack("[[s,s]]", "userns-remap", remapped ? e->cfg.userns_remap : "off (--userns-remap \"\")"));
        conn_json(c, 200, doc);
}
