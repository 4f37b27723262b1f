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
step run -d --name demo-web busybox httpd -f -p 8080 -h /var/www
"$ct" delete -f demo-web >/dev/null 2>&1 || true
"$ct" run -d --name demo-web busybox httpd -f -p 8080 -h /var/www
step list
"$ct" list
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
