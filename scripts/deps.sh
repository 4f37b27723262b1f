#!/usr/bin/env bash
# Installs every build and test dependency from Debian's archive.
# Idempotent and fast when everything is present: it asks dpkg first and only
# calls apt-get for what is missing.
set -euo pipefail

packages=(
	# build
	gcc libc6-dev make meson ninja-build pkg-config clang-format
	# libraries (see README: Dependencies)
	libjansson-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev libarchive-dev
	libseccomp-dev libcap-dev libmnl-dev libnftables-dev libzstd-dev libisal-dev zlib1g-dev
	# sanitizer and fuzzing runtimes
	libclang-rt-14-dev clang
	# tests
	libcmocka-dev bats sqlite3 util-linux procps iproute2 nftables curl jq
	psmisc busybox-static dnsutils attr python3
	# sized volumes: mkfs.ext4
	e2fsprogs
	# interop peers used by the image and runtime tests
	docker-registry skopeo umoci runc apache2-utils openssl debootstrap
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# docker-registry's postinst starts a system service; tests start their own
# registry, so keep the packaged one from starting (and from holding port 5000).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
