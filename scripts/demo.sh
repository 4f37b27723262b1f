#!/usr/bin/env bash
# make demo: build (done by make), start the system from the build's staged
# install root, import the locally built busybox image and run containers
# from it: one in the foreground, one detached that is listed, stopped and
# deleted.
set -euo pipefail
build=${1:-build}
ct=$(realpath "$build/stage/bin/container")

step() { printf '\n\033[1m$ container %s\033[0m\n' "$*"; }

step system start
"$ct" system start
step system status
"$ct" system status
step system property list
"$ct" system property list
step plugin list
"$ct" plugin list

# The default image, built here from Debian's busybox-static: no network needed.
rootfs=$(mktemp /tmp/container-demo-rootfs.XXXXXX.tar)
trap 'rm -f "$rootfs"' EXIT
"$(dirname "$0")/busybox-rootfs.sh" "$rootfs"
step image import -c 'CMD [\"sh\"]' busybox-rootfs.tar busybox:latest
"$ct" image import -c 'CMD ["sh"]' "$rootfs" busybox:latest
step image list
"$ct" image list

step run --rm busybox echo "hello from a container"
"$ct" run --rm busybox echo "hello from a container"
step run -d --name demo-web -p 8080:80 busybox httpd -f -p 80 -h /etc
"$ct" delete -f demo-web >/dev/null 2>&1 || true
"$ct" run -d --name demo-web -p 8080:80 busybox httpd -f -p 80 -h /etc
step list
"$ct" list
printf '\n\033[1m$ curl http://127.0.0.1:8080/hostname   # the published port\033[0m\n'
for _ in $(seq 50); do curl -sf http://127.0.0.1:8080/hostname && break; sleep 0.1; done
step run --rm busybox wget -qO- http://demo-web/hostname   # by name, from another container
"$ct" run --rm busybox wget -qO- http://demo-web/hostname
step exec demo-web ps
"$ct" exec demo-web ps
step stop demo-web
"$ct" stop demo-web
step delete demo-web
"$ct" delete demo-web

cat <<MSG

The API server keeps running. Try:
  $ct --help
  $ct system logs
  $ct system stop
MSG
