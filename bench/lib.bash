# shellcheck shell=bash
# Helpers for the benchmark scripts in bench/. Source this file.
#
#   bench_need_packages PKG…        apt-get install what is missing (prints it)
#   bench_now_ns                    monotonic-ish wall clock in nanoseconds
#   bench_time_cmd VAR CMD…         runs CMD (after a sync), stores seconds in VAR
#                                   (VAR must not start with _b)
#   bench_median N…                 median of numbers
#   bench_ratio A B                 A / B with 2 decimals ("-" when B is 0 or empty)
#   bench_debian_mirror [SUITE]     the Debian mirror apt uses for SUITE
#   bench_arch                      the OCI architecture of the host

# bench_need_packages PKG…: installs (apt-get, no recommends) the packages that
# dpkg does not have yet. Needs root; says what it installs.
bench_need_packages() {
	local p st
	local -a missing=()
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: missing packages: ${missing[*]} (install them as root)" >&2
		return 1
	fi
	echo "bench: installing ${missing[*]} (apt-get install -y --no-install-recommends)"
	export DEBIAN_FRONTEND=noninteractive
	# Keep package scripts from starting system services (podman ships units).
	local policy=/usr/sbin/policy-rc.d created=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created=1
	fi
	local rc=0
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=1
	fi
	[ $created = 0 ] || rm -f "$policy"
	return $rc
}

bench_now_ns() { date +%s%N; }

# bench_time_cmd VAR CMD…: flushes dirty pages (sync, not timed), then runs
# CMD with its output discarded unless BENCH_VERBOSE=1, and stores the wall
# time in seconds in VAR. Returns CMD's status (a failure prints its stderr).
bench_time_cmd() {
	local -n _out=$1
	shift
	local _b0 _b1 _brc=0 _berr
	_berr=$(mktemp)
	sync
	_b0=$(bench_now_ns)
	if [ "${BENCH_VERBOSE:-0}" = 1 ]; then
		"$@" || _brc=$?
	else
		"$@" >/dev/null 2>"$_berr" || _brc=$?
	fi
	_b1=$(bench_now_ns)
	if [ $_brc -ne 0 ]; then
		echo "bench: failed ($_brc): $*" >&2
		tail -n 20 "$_berr" >&2
	fi
	rm -f "$_berr"
	_out=$(awk -v a="$_b0" -v b="$_b1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	return $_brc
}

bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit 1
		if (NR % 2) printf "%.3f", v[(NR + 1) / 2]
		else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_ratio() {
	awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b + 0 == 0 || a == "") print "-"; else printf "%.2f", a / b }'
}

# bench_debian_mirror [SUITE]: the first URI that apt's deb822 sources (or the
# one-line sources.list) give for SUITE (default bookworm). Read at run time so
# no mirror name is written anywhere.
bench_debian_mirror() {
	local suite=${1:-bookworm} f uri
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk -v s="$suite" '
			/^[[:space:]]*$/ { if (u != "" && ok) { print u; exit } u = ""; ok = 0; next }
			/^URIs:/ { u = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
			END { if (u != "" && ok) print u }' "$f" | head -1)
		if [ -n "$uri" ]; then
			echo "$uri"
			return 0
		fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk -v s="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == s) { print $i; exit } } }' "$f")
		if [ -n "$uri" ]; then
			echo "$uri"
			return 0
		fi
	done
	echo "bench: no Debian mirror for $suite in apt's sources" >&2
	return 1
}

bench_arch() {
	case $(uname -m) in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) dpkg --print-architecture ;;
	esac
}

# podman: everything it writes goes under $p: storage, run root, tmp, network
# config through its options and config files; and its blob-info cache, which
# podman running as root keeps in /var/lib/containers/cache whatever --root
# says, through an overlay of /var/lib (upper layer in $p) in a mount namespace
# of its own. The host's /var/lib/containers is never touched. (The namespace
# and the overlay mount cost podman ~10 ms per command, inside its clock.)
bench_podman_env() {
	local p=$1
	mkdir -p "$p/tmp" "$p/home" "$p/net" "$p/libpod-tmp" "$p/xdg"
	cat >"$p/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$(ulimit -Hu):$(ulimit -Hu)"]
		[engine]
		tmp_dir = "$p/libpod-tmp"
		image_copy_tmp_dir = "$p/tmp"
		events_logger = "none"
		cgroup_manager = "cgroupfs"
		[network]
		network_config_dir = "$p/net"
	EOF
	cat >"$p/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$p/root"
		runroot = "$p/runroot"
	EOF
	{
		echo 'unqualified-search-registries = []'
		if [ -n "${REGISTRY_HOST:-}" ]; then
			printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY_HOST"
		fi
	} >"$p/registries.conf"
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$p/policy.json"
}
bench_podman_cmd() {
	local p=$1
	shift
	mkdir -p "$p/varlib.upper" "$p/varlib.work"
	# shellcheck disable=SC2016
	unshare --mount --propagation private -- /bin/sh -c '
		mount -t overlay bench-varlib -o "lowerdir=/var/lib,upperdir=$0/varlib.upper,workdir=$0/varlib.work" /var/lib || exit 125
		exec "$@"' "$p" \
		env CONTAINERS_CONF="$p/containers.conf" CONTAINERS_STORAGE_CONF="$p/storage.conf" \
		CONTAINERS_REGISTRIES_CONF="$p/registries.conf" TMPDIR="$p/tmp" HOME="$p/home" \
		XDG_DATA_HOME="$p/xdg" XDG_CONFIG_HOME="$p/xdg" XDG_RUNTIME_DIR="$p/xdg" \
		NO_PROXY='*' no_proxy='*' \
		podman --root "$p/root" --runroot "$p/runroot" --storage-driver overlay \
		--tmpdir "$p/libpod-tmp" --network-config-dir "$p/net" --events-backend none "$@"
}

# bench_private_netns "$0" "$@": re-runs the calling script inside a network
# namespace of its own (loopback up), so the bridges and nftables rules a
# benchmark makes never touch the host's network. Call first thing.
bench_private_netns() {
	[ "${CT_BENCH_NETNS:-}" = private ] && return 0
	exec unshare --net -- env CT_BENCH_NETNS=private bash -c 'ip link set lo up && exec "$0" "$@"' "$@"
}
