/* Process security settings of a container process: user and groups, the
 * five capability sets, no_new_privs, seccomp, rlimits, umask; and the
 * protection of the runtime's own binary (CVE-2019-5736).
 *
 * gb_security_prepare() runs in the parent: it checks what the host can
 * grant (naming the capability or limit that it cannot) and compiles the
 * seccomp filter to BPF, so that the child only makes syscalls and never
 * allocates. gb_security_apply() runs in the child as its last step before
 * execve(). */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>

#include "error.h"
#include "spec.h"

struct gb_security {
        struct sock_fprog seccomp; /* .filter NULL = no filter */
        unsigned seccomp_flags;
        int last_cap;
        /* What to write to /proc/self/attr/.../exec before execve: the LSM
         * label the process gets at exec. Empty = none. */
        char lsm_attr_path[64];
        char lsm_label[512];
};

/* new_userns: the process will run in a user namespace the sandbox creates
 * (it then holds every capability inside it, but can never raise a hard
 * rlimit). label prefixes messages ("config.json"). */
int gb_security_prepare(const struct gb_spec_process *p, const struct gb_spec_seccomp *sc, bool new_userns,
                        const char *label, struct gb_security *ret, struct gb_error *err);
void gb_security_done(struct gb_security *s);

/* In the child: rlimits, groups, uid/gid, capabilities, no_new_privs and
 * seccomp, in the order that lets each step still have the privilege it
 * needs. Does not allocate. */
int gb_security_apply_rlimits(const struct gb_spec_process *p, struct gb_error *err);
int gb_security_apply(const struct gb_spec_process *p, const struct gb_security *s, struct gb_error *err);

/* CVE-2019-5736: a container process can end up executing the runtime's own
 * binary (an entrypoint "#!/proc/self/exe", or /proc/PID/exe of a runtime
 * process that joined the container) and then reopen it for writing. Returns
 * true when the file behind /proc/self/exe could be written by a process
 * whose IDs are in uid_map/gid_map (NULL maps = no user namespace, where the
 * container root is host root): then the binary must be sealed. */
bool gb_self_exe_needs_seal(const struct gb_idmap *uid_map, const struct gb_idmap *gid_map);

/* True when this process already runs from a sealed memfd copy. */
bool gb_self_exe_is_sealed(void);

/* Copy /proc/self/exe into a memfd, seal it against every write, and
 * execveat() it with argv/envp: from then on /proc/self/exe of this process
 * and of everything it clones is a sealed, anonymous copy that cannot be
 * written, and the host binary is never reachable from the container.
 * Returns only on failure. */
int gb_self_exe_reexec_sealed(char **argv, char **envp, struct gb_error *err);
