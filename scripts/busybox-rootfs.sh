#!/usr/bin/env bash
# Writes a small root filesystem tar built from Debian's busybox-static to
# $1 (default: stdout): /bin/busybox with a link per applet, /etc/passwd and
# /etc/group (root, nobody and a user "app" 1000), /tmp, /root, /home/app.
# `make demo` and the tests import it as the default image: no network needed.
set -euo pipefail
out=${1:--}
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-rootfs: $busybox is missing; run 'make deps'" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home/app,proc,sys,dev,var/www,run}
chmod 755 "$root"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$root/$(dirname "$applet")"
	# Relative links keep the tree correct wherever it is mounted.
	ln -sf "$(realpath -m --relative-to="$root/$(dirname "$applet")" "$root/bin/busybox")" "$root/$applet"
done
cat >"$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$root/etc/group" <<'G'
root:x:0:
app:x:1000:
nogroup:x:65534:
G
chown 1000:1000 "$root/home/app"
: >"$root/etc/hostname"
echo '<h1>hello from container</h1>' >"$root/var/www/index.html"
# Sorted, with fixed times and owners as given: the same input makes the same
# layer, so the image digest is reproducible.
tar --sort=name --mtime=@0 --numeric-owner -C "$root" -cf "$out" .
