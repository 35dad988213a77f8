#!/usr/bin/env bash
# Write a busybox root filesystem tarball (from Debian's busybox-static, no
# network) to $1: /bin with every applet, /etc/passwd and /etc/group with
# root, www-data (33) and nobody, /tmp, /root, /var/www.
set -euo pipefail
out=${1:?usage: busybox-image.sh OUT.tar}
bb=${BUSYBOX:-/bin/busybox}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d"/{bin,sbin,etc,proc,sys,dev,tmp,root,var/www,usr/bin,usr/sbin}
chmod 1777 "$d/tmp"
cp "$bb" "$d/bin/busybox"
for a in $("$bb" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$d/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$d/etc/passwd"
printf 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' >"$d/etc/group"
chown 33:33 "$d/var/www"
tar --numeric-owner -C "$d" -cf "$out" .
