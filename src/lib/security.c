#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "security.h"
#include "util.h"

const char *gb_rlimit_name(int res);

static const char *const set_names[GB_CAP_SET_MAX] = {"bounding", "effective", "inheritable", "permitted", "ambient"};

static int read_last_cap(void)
{
        _cleanup_free_ char *buf = NULL;
        uint32_t v;

        if (gb_read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &buf, NULL) < 0)
                return CAP_LAST_CAP;
        buf[strcspn(buf, "\n")] = 0;
        if (gb_parse_u32(buf, &v) < 0 || v > 63)
                return CAP_LAST_CAP;
        return (int)v;
}

static int compile_seccomp(const struct gb_spec_seccomp *sc, const char *label, struct gb_security *s,
                           struct gb_error *err)
{
        scmp_filter_ctx ctx;
        _cleanup_close_ int mfd = -EBADF;
        _cleanup_free_ char *bpf = NULL;
        size_t len = 0;
        int r;

        ctx = seccomp_init(sc->default_action);
        if (!ctx)
                return gb_error_set(err, EINVAL, "%s: linux.seccomp.defaultAction: libseccomp refused it", label);
        for (size_t i = 0; i < sc->n_arches; i++) {
                r = seccomp_arch_add(ctx, sc->arches[i]);
                if (r < 0 && r != -EEXIST) {
                        seccomp_release(ctx);
                        return gb_error_sys(err, -r, "%s: linux.seccomp.architectures[%zu]: failed to add", label, i);
                }
        }
        for (size_t i = 0; i < sc->n_rules; i++) {
                const struct gb_seccomp_rule *rule = &sc->rules[i];
                struct scmp_arg_cmp cmp[6];
                for (size_t a = 0; a < rule->n_args; a++)
                        cmp[a] = (struct scmp_arg_cmp){.arg = rule->args[a].index,
                                                       .op = (enum scmp_compare)rule->args[a].op,
                                                       .datum_a = rule->args[a].value,
                                                       .datum_b = rule->args[a].value_two};
                if (rule->action == sc->default_action)
                        continue; /* libseccomp refuses rules equal to the default */
                for (size_t n = 0; rule->names[n]; n++) {
                        int nr = seccomp_syscall_resolve_name(rule->names[n]);
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* warned about while parsing */
                        r = seccomp_rule_add_array(ctx, rule->action, nr, (unsigned)rule->n_args, cmp);
                        if (r < 0) {
                                seccomp_release(ctx);
                                return gb_error_sys(err, -r,
                                                    "%s: linux.seccomp.syscalls[%zu]: failed to add rule for '%s'",
                                                    label, i, rule->names[n]);
                        }
                }
        }
        /* Compile now, in the parent, so the child only loads the program. */
        mfd = memfd_create("gb-seccomp", MFD_CLOEXEC);
        if (mfd < 0) {
                seccomp_release(ctx);
                return gb_error_sys(err, errno, "Failed to create a memfd for the seccomp filter");
        }
        r = seccomp_export_bpf(ctx, mfd);
        seccomp_release(ctx);
        if (r < 0)
                return gb_error_sys(err, -r, "Failed to compile the seccomp filter");
        {
                off_t size = lseek(mfd, 0, SEEK_END);
                if (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
                    size > (off_t)(sizeof(struct sock_filter) * 65535))
                        return gb_error_set(err, EINVAL, "Failed to compile the seccomp filter: bad program size");
                bpf = gb_xmalloc((size_t)size);
                if (pread(mfd, bpf, (size_t)size, 0) != size)
                        return gb_error_sys(err, errno, "Failed to read the seccomp filter");
                len = (size_t)size;
        }
        s->seccomp.len = (unsigned short)(len / sizeof(struct sock_filter));
        s->seccomp.filter = (struct sock_filter *)TAKE_PTR(bpf);
        s->seccomp_flags = sc->flags;
        return 0;
}

static bool lsm_enabled(const char *param_file, const char *want)
{
        _cleanup_free_ char *buf = NULL;

        if (gb_read_file_at(AT_FDCWD, param_file, 4096, &buf, NULL) < 0)
                return false;
        return !want || strstr(buf, want);
}

/* AppArmor/SELinux: applied with a write to the exec attribute right before
 * execve, as runc does. On a host without that LSM the label cannot apply:
 * warn (runc does the same) rather than make the runtime unusable for
 * engines that always send one (Docker's "docker-default"). */
static int prepare_lsm(const struct gb_spec_process *p, const char *label, struct gb_security *s, struct gb_error *err)
{
        if (p->apparmor_profile && *p->apparmor_profile) {
                if (!lsm_enabled("/sys/module/apparmor/parameters/enabled", "Y")) {
                        gb_warn("%s: process.apparmorProfile: AppArmor is not enabled on this host; '%s' not applied",
                                label, p->apparmor_profile);
                } else {
                        int n = snprintf(s->lsm_label, sizeof(s->lsm_label), "exec %s", p->apparmor_profile);
                        if (n < 0 || (size_t)n >= sizeof(s->lsm_label))
                                return gb_error_set(err, ENAMETOOLONG, "%s: process.apparmorProfile: too long", label);
                        (void)snprintf(s->lsm_attr_path, sizeof(s->lsm_attr_path), "%s",
                                       access("/proc/self/attr/apparmor/exec", F_OK) == 0
                                               ? "/proc/self/attr/apparmor/exec"
                                               : "/proc/self/attr/exec");
                }
        }
        if (p->selinux_label && *p->selinux_label) {
                if (s->lsm_label[0])
                        return gb_error_set(err, EINVAL,
                                            "%s: process.selinuxLabel: cannot be combined with an "
                                            "AppArmor profile",
                                            label);
                if (!lsm_enabled("/sys/fs/selinux/enforce", NULL)) {
                        gb_warn("%s: process.selinuxLabel: SELinux is not enabled on this host; '%s' not applied",
                                label, p->selinux_label);
                } else {
                        int n = snprintf(s->lsm_label, sizeof(s->lsm_label), "%s", p->selinux_label);
                        if (n < 0 || (size_t)n >= sizeof(s->lsm_label))
                                return gb_error_set(err, ENAMETOOLONG, "%s: process.selinuxLabel: too long", label);
                        (void)snprintf(s->lsm_attr_path, sizeof(s->lsm_attr_path), "/proc/self/attr/exec");
                }
        }
        return 0;
}

GB_EXPORT int gb_security_prepare(const struct gb_spec_process *p, const struct gb_spec_seccomp *sc, bool new_userns,
                                  const char *label, struct gb_security *ret, struct gb_error *err)
{
        struct gb_security s = {.last_cap = read_last_cap()};
        bool have_sys_resource = prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE) == 1;
        int r;

        if (p->has_caps)
                for (int set = 0; set < GB_CAP_SET_MAX; set++)
                        for (int cap = 0; cap < 64; cap++) {
                                if (!(p->caps[set] & (1ULL << cap)))
                                        continue;
                                if (cap > s.last_cap)
                                        return gb_error_set(err, EINVAL,
                                                            "%s: process.capabilities.%s: %s is not known to this "
                                                            "kernel (last capability is %d)",
                                                            label, set_names[set], gb_cap_name(cap), s.last_cap);
                                /* In a user namespace the sandbox creates, the
                                 * process holds every capability (relative
                                 * to it); otherwise it can only keep what
                                 * this runtime's bounding set has. */
                                if (!new_userns && prctl(PR_CAPBSET_READ, cap) != 1)
                                        return gb_error_set(err, EPERM,
                                                            "%s: process.capabilities.%s: %s cannot be granted: the "
                                                            "host withholds it from this runtime (it is not in the "
                                                            "bounding set, CapBnd in /proc/self/status), so no "
                                                            "process started from here can hold it; remove it from "
                                                            "the config or run the runtime with it",
                                                            label, set_names[set], gb_cap_name(cap));
                        }
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit cur;
                const struct gb_spec_rlimit *rl = &p->rlimits[i];
                if (getrlimit(rl->resource, &cur) < 0)
                        return gb_error_sys(err, errno, "Failed to read %s", gb_rlimit_name(rl->resource));
                if (cur.rlim_max != RLIM_INFINITY && (rl->hard > cur.rlim_max || rl->hard == RLIM_INFINITY)) {
                        if (new_userns)
                                return gb_error_set(err, EPERM,
                                                    "%s: process.rlimits: %s hard limit %llu is above this host's "
                                                    "%llu; raising a hard limit needs CAP_SYS_RESOURCE in the initial "
                                                    "user namespace, which a process in a user namespace never has; "
                                                    "lower the limit or raise it for the runtime (ulimit -H)",
                                                    label, gb_rlimit_name(rl->resource), (unsigned long long)rl->hard,
                                                    (unsigned long long)cur.rlim_max);
                        if (!have_sys_resource)
                                return gb_error_set(err, EPERM,
                                                    "%s: process.rlimits: %s hard limit %llu is above this host's "
                                                    "%llu; raising it needs CAP_SYS_RESOURCE, which the host "
                                                    "withholds from this runtime (not in CapBnd)",
                                                    label, gb_rlimit_name(rl->resource), (unsigned long long)rl->hard,
                                                    (unsigned long long)cur.rlim_max);
                }
        }
        r = prepare_lsm(p, label, &s, err);
        if (r < 0)
                return r;
        if (sc) {
                r = compile_seccomp(sc, label, &s, err);
                if (r < 0)
                        return r;
        }
        *ret = s;
        return 0;
}

GB_EXPORT void gb_security_done(struct gb_security *s)
{
        free(s->seccomp.filter);
        s->seccomp.filter = NULL;
}

GB_EXPORT int gb_security_apply_rlimits(const struct gb_spec_process *p, struct gb_error *err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
                if (setrlimit(p->rlimits[i].resource, &rl) < 0)
                        return gb_error_sys(err, errno, "Failed to set %s to %llu/%llu",
                                            gb_rlimit_name(p->rlimits[i].resource), (unsigned long long)rl.rlim_cur,
                                            (unsigned long long)rl.rlim_max);
        }
        return 0;
}

static int load_seccomp(const struct gb_security *s, struct gb_error *err)
{
        if (!s->seccomp.filter)
                return 0;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->seccomp_flags, &s->seccomp) < 0)
                return gb_error_sys(err, errno, "Failed to load the seccomp filter");
        return 0;
}

GB_EXPORT int gb_security_apply(const struct gb_spec_process *p, const struct gb_security *s, struct gb_error *err)
{
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[2] = {0};
        gid_t groups[256];
        size_t ngroups = p->n_additional_gids;

        /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
         * while we still have it (the filter then has to allow the setuid
         * and capset calls that follow, as with runc). */
        if (!p->no_new_privileges && load_seccomp(s, err) < 0)
                return -err->code;

        /* The bounding set first: dropping needs CAP_SETPCAP in the effective
         * set, which setuid() to a non-root user clears. */
        if (p->has_caps)
                for (int cap = 0; cap <= s->last_cap; cap++)
                        if (!(p->caps[GB_CAP_BOUNDING] & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap) < 0 &&
                            errno != EINVAL)
                                return gb_error_sys(err, errno, "Failed to drop %s from the bounding set",
                                                    gb_cap_name(cap));
        if (prctl(PR_SET_KEEPCAPS, 1) < 0)
                return gb_error_sys(err, errno, "Failed to set PR_SET_KEEPCAPS");
        /* Replace the runtime's supplementary groups: host groups must not
         * leak into the container. */
        if (ngroups <= ARRAY_SIZE(groups)) {
                for (size_t i = 0; i < ngroups; i++)
                        groups[i] = p->additional_gids[i];
                if (setgroups(ngroups, groups) < 0 && !(errno == EPERM && ngroups == 0))
                        return gb_error_sys(err, errno,
                                            "Failed to set additional groups (process.user."
                                            "additionalGids)");
        } else if (setgroups(ngroups, (const gid_t *)p->additional_gids) < 0) {
                return gb_error_sys(err, errno, "Failed to set additional groups");
        }
        if (setresgid(p->gid, p->gid, p->gid) < 0)
                return gb_error_sys(err, errno, "Failed to set gid %u (process.user.gid): is it mapped?", p->gid);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
                return gb_error_sys(err, errno, "Failed to set uid %u (process.user.uid): is it mapped?", p->uid);
        if (prctl(PR_SET_KEEPCAPS, 0) < 0)
                return gb_error_sys(err, errno, "Failed to clear PR_SET_KEEPCAPS");

        if (p->has_caps) {
                data[0].effective = (uint32_t)p->caps[GB_CAP_EFFECTIVE];
                data[1].effective = (uint32_t)(p->caps[GB_CAP_EFFECTIVE] >> 32);
                data[0].permitted = (uint32_t)p->caps[GB_CAP_PERMITTED];
                data[1].permitted = (uint32_t)(p->caps[GB_CAP_PERMITTED] >> 32);
                data[0].inheritable = (uint32_t)p->caps[GB_CAP_INHERITABLE];
                data[1].inheritable = (uint32_t)(p->caps[GB_CAP_INHERITABLE] >> 32);
                if (syscall(SYS_capset, &hdr, data) < 0) {
                        /* Name the capability that cannot be granted instead
                         * of a bare "unable to apply caps". */
                        struct __user_cap_data_struct have[2] = {0};
                        uint64_t perm;
                        int e = errno;
                        (void)syscall(SYS_capget, &hdr, have);
                        perm = have[0].permitted | ((uint64_t)have[1].permitted << 32);
                        for (int cap = 0; cap <= s->last_cap; cap++) {
                                uint64_t want = p->caps[GB_CAP_PERMITTED] | p->caps[GB_CAP_EFFECTIVE];
                                if ((want & (1ULL << cap)) && !(perm & (1ULL << cap)))
                                        return gb_error_sys(err, e,
                                                            "Failed to grant %s: this process does not hold "
                                                            "it",
                                                            gb_cap_name(cap));
                                if ((p->caps[GB_CAP_EFFECTIVE] & (1ULL << cap)) &&
                                    !(p->caps[GB_CAP_PERMITTED] & (1ULL << cap)))
                                        return gb_error_sys(err, e,
                                                            "Failed to grant %s: it is effective but not in "
                                                            "process.capabilities.permitted",
                                                            gb_cap_name(cap));
                        }
                        return gb_error_sys(err, e, "Failed to set capabilities");
                }
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                        return gb_error_sys(err, errno, "Failed to clear ambient capabilities");
                for (int cap = 0; cap <= s->last_cap; cap++)
                        if ((p->caps[GB_CAP_AMBIENT] & (1ULL << cap)) &&
                            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                                return gb_error_sys(err, errno,
                                                    "Failed to raise ambient %s (it must also be permitted and "
                                                    "inheritable)",
                                                    gb_cap_name(cap));
        }
        if (s->lsm_label[0]) {
                int fd = open(s->lsm_attr_path, O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, s->lsm_label, strlen(s->lsm_label)) < 0) {
                        int e = errno;
                        if (fd >= 0)
                                close(fd);
                        return gb_error_sys(err, e,
                                            "Failed to set the LSM label '%s' via '%s' (is the profile "
                                            "loaded?)",
                                            s->lsm_label, s->lsm_attr_path);
                }
                close(fd);
        }
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return gb_error_sys(err, errno, "Failed to set no_new_privs");
        if (p->no_new_privileges && load_seccomp(s, err) < 0)
                return -err->code;
        return 0;
}

GB_EXPORT bool gb_self_exe_needs_seal(const struct gb_idmap *uid_map, const struct gb_idmap *gid_map)
{
        struct stat st;
        uint32_t dummy;

        if (stat("/proc/self/exe", &st) < 0)
                return true;
        if (!uid_map || !gid_map)
                return true; /* container root is host root */
        if (st.st_mode & S_IWOTH)
                return true;
        /* An owner or group the container can act as (its root holds
         * CAP_DAC_OVERRIDE over every inode whose owner is mapped). */
        if (gb_idmap_to_container(uid_map, st.st_uid, &dummy) == 0)
                return true;
        if (gb_idmap_to_container(gid_map, st.st_gid, &dummy) == 0)
                return true;
        return false;
}

GB_EXPORT bool gb_self_exe_is_sealed(void)
{
        _cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        int seals;

        if (fd < 0)
                return false;
        seals = fcntl(fd, F_GET_SEALS);
        return seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW)) ==
                                     (F_SEAL_WRITE | F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);
}

GB_EXPORT int gb_self_exe_reexec_sealed(char **argv, char **envp, struct gb_error *err)
{
        _cleanup_close_ int src = -EBADF, mfd = -EBADF;
        struct stat st;
        off_t off = 0;

        src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (src < 0 || fstat(src, &st) < 0)
                return gb_error_sys(err, errno, "Failed to open /proc/self/exe");
        /* MFD_CLOEXEC: execveat(AT_EMPTY_PATH) of a close-on-exec fd works
         * for ELF binaries (no interpreter reopens it) and leaves no fd
         * behind in the new image. */
        mfd = memfd_create("ghostbox-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return gb_error_sys(err, errno, "Failed to create a memfd for a sealed copy of the runtime");
        while (off < st.st_size) {
                ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
                if (n <= 0)
                        return gb_error_sys(err, n < 0 ? errno : EIO, "Failed to copy the runtime binary");
        }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
                return gb_error_sys(err, errno, "Failed to seal the runtime copy");
        syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
        return gb_error_sys(err, errno, "Failed to execute the sealed runtime copy");
}
