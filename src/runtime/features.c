/* features: what this runtime implements, in the runtime-spec's
 * features.json format (containerd and kubelet read it). */
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"
#include "userns.h"

int rt_features(struct rt_ctx *ctx, int argc, char **argv)
{
        struct gb_error err = {0};
        json_t *caps = json_array(), *o;
        char *s;

        (void)ctx;
        (void)argc;
        (void)argv;
        for (int i = 0; i <= 40; i++)
                json_array_append_new(caps, json_string(gb_cap_name(i)));
        o = json_pack("{s:s, s:s, s:[], s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s], "
                      "s:{s:[s,s,s,s,s,s,s,s], s:o, s:{s:b, s:b, s:b}, "
                      "s:{s:b, s:[s,s,s,s,s,s,s], s:[s,s,s,s,s,s,s], s:[s,s], s:[s,s,s]}, "
                      "s:{s:b}, s:{s:b}, s:{s:b}, s:{s:{s:b}}}, "
                      "s:{s:s, s:s}}",
                      "ociVersionMin", "1.0.0", "ociVersionMax", "1.1.0", "hooks", "mountOptions", "async", "atime",
                      "bind", "dev", "diratime", "dirsync", "exec", "idmap", "mand", "noatime", "nodev", "nodiratime",
                      "noexec", "nomand", "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime",
                      "remount", "ridmap", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared",
                      "slave", "strictatime", "suid", "sync", "unbindable", "linux", "namespaces", "cgroup", "ipc",
                      "mount", "network", "pid", "user", "uts", "time", "capabilities", caps, "cgroup", "v1", 0, "v2",
                      0, "systemd", 0, "seccomp", "enabled", 1, "actions", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO",
                      "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP",
                      "operators", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                      "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", "archs", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "knownFlags",
                      "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "apparmor", "enabled", 0, "selinux", "enabled", 0, "intelRdt", "enabled", 0, "mountExtensions",
                      "idmap", "enabled", gb_idmap_mounts_supported("/", &err) == 1, "annotations",
                      "org.opencontainers.runc.version", "ghostbox-runtime " GB_VERSION, "io.ghostbox.userns",
                      "default");
        s = json_dumps(o, JSON_INDENT(4));
        printf("%s\n", s);
        free(s);
        json_decref(o);
        return 0;
}
