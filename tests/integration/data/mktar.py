#!/usr/bin/env python3
"""Generate the malicious (and a few odd but valid) layer archives used by
tests/integration/31-images-malicious.sh. Usage: mktar.py CASE OUT.tar OUTSIDE
where OUTSIDE is a host directory the archive tries to write into."""
import io
import sys
import tarfile

case, out, outside = sys.argv[1], sys.argv[2], sys.argv[3]
t = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)


def add(name, kind=tarfile.REGTYPE, data=b"x", link="", mode=0o644, uid=0, gid=0, pax=None, dev=(0, 0)):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.linkname = link
    ti.devmajor, ti.devminor = dev
    if pax:
        ti.pax_headers = pax
    if kind == tarfile.REGTYPE:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    else:
        t.addfile(ti)


add("ok", data=b"fine")
if case == "dotdot":
    add("../../../../../../.." + outside + "/dotdot", data=b"PWNED")
elif case == "dotdot-mid":
    add("a/../../../../../../.." + outside + "/dotdot-mid", data=b"PWNED")
elif case == "absolute":
    add(outside + "/absolute", data=b"PWNED")
elif case == "symlink-parent":
    add("link", tarfile.SYMTYPE, link="/")
    add("link" + outside + "/symlink-parent", data=b"PWNED")
elif case == "symlink-relative-parent":
    add("up", tarfile.SYMTYPE, link="../../../../../../../../.." + outside)
    add("up/symlink-relative-parent", data=b"PWNED")
elif case == "symlink-chain":
    add("a", tarfile.SYMTYPE, link="b")
    add("b", tarfile.SYMTYPE, link="c/..//../../../../../../..")
    add("c", tarfile.DIRTYPE, mode=0o755)
    add("a" + outside + "/symlink-chain", data=b"PWNED")
elif case == "symlink-write-through":
    add("victim", tarfile.SYMTYPE, link=outside + "/target")
    add("victim", data=b"PWNED")
elif case == "hardlink-host":
    add("h", tarfile.LNKTYPE, link=outside + "/target")
elif case == "hardlink-dotdot":
    add("h", tarfile.LNKTYPE, link="../../../../../../.." + outside + "/target")
elif case == "hardlink-via-symlink":
    add("s", tarfile.SYMTYPE, link=outside)
    add("h", tarfile.LNKTYPE, link="s/target")
elif case == "hardlink-then-write":
    add("s", tarfile.SYMTYPE, link=outside + "/target")
    add("h", tarfile.LNKTYPE, link="s")
    add("h", data=b"PWNED")
elif case == "long-path":
    add("d/" + "x" * 5000, data=b"y")
elif case == "long-linkname":
    add("l", tarfile.SYMTYPE, link="y" * 5000)
elif case == "huge-uid":
    add("big", uid=4294967295)
elif case == "xattr":
    add("inj", tarfile.DIRTYPE, mode=0o755, pax={
        "SCHILY.xattr.trusted.overlay.opaque": "y",
        "SCHILY.xattr.trusted.overlay.redirect": "/etc",
        "SCHILY.xattr.user.overlay.opaque": "y",
        "SCHILY.xattr.security.selinux": "system_u:object_r:shadow_t:s0",
        "SCHILY.xattr.user.kept": "yes"})
    add("inj/file", data=b"z", pax={"SCHILY.xattr.trusted.overlay.metacopy": ""})
elif case == "devices":
    add("dev", tarfile.DIRTYPE, mode=0o755)
    add("dev/mem", tarfile.CHRTYPE, mode=0o666, dev=(1, 1))
    add("dev/sda", tarfile.BLKTYPE, mode=0o666, dev=(8, 0))
    add("dev/fifo", tarfile.FIFOTYPE, mode=0o666)
elif case == "setuid":
    add("bin", tarfile.DIRTYPE, mode=0o755)
    add("bin/suid", data=b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0)
    add("bin/sgid", data=b"#!/bin/sh\n", mode=0o2755, uid=0, gid=42)
elif case == "whiteout-escape":
    add("w", tarfile.DIRTYPE, mode=0o755)
    add("w/.wh..", data=b"")
    add("w/.wh...", data=b"")
else:
    sys.exit("unknown case " + case)
t.close()
