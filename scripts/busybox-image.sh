#!/usr/bin/env bash
# A busybox root filesystem (from Debian's busybox-static, no network):
# /bin with every applet, /etc/passwd and /etc/group with root, www-data (33)
# and nobody, /tmp, /root, /var/www.
#   busybox-image.sh OUT.tar      as a tarball (for ghostbox import)
#   busybox-image.sh --dir DIR    as a directory (for --rootfs, bundles)
set -euo pipefail
bb=${BUSYBOX:-/bin/busybox}
if [ "${1:-}" = --dir ]; then
        d=${2:?usage: busybox-image.sh --dir DIR}
        out=
else
        out=${1:?usage: busybox-image.sh OUT.tar | --dir DIR}
        d=$(mktemp -d)
        trap 'rm -rf "$d"' EXIT
fi
mkdir -p "$d"/{bin,sbin,etc,proc,sys,dev,tmp,root,var/www,usr/bin,usr/sbin}
chmod 1777 "$d/tmp"
cp "$bb" "$d/bin/busybox"
for a in $("$bb" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$d/etc/passwd"
printf 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' >"$d/etc/group"
chown 33:33 "$d/var/www"
[ -z "$out" ] || tar --numeric-owner -C "$d" -cf "$out" .
