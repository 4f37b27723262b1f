# Shared set-up for the end-to-end tests (podman's style: one helper, run_ct,
# logs every command it runs and checks its exit status).
#
# Every test gets its own app, run, log and home roots under a fresh temporary
# folder, so test files can run side by side; teardown stops the API server the
# test started (by pid) and fails the test if a sanitizer wrote a report.

: "${CONTAINER_TEST_STAGE:?run through tests/run-tests (make check)}"
: "${CONTAINER_TEST_BUILD:?run through tests/run-tests (make check)}"

CT=$CONTAINER_TEST_STAGE/bin/container
CT_CALL=$CONTAINER_TEST_BUILD/tests/tools/ct-call
SAMPLE_PLUGIN=$CONTAINER_TEST_BUILD/tests/plugins/container-plugin-sample
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

# Test files that need more set-up define their own setup() calling ct_setup.
setup() {
	ct_setup
}

ct_setup() {
	TEST_ROOT=$(mktemp -d /tmp/ct-e2e.XXXXXX)
	chmod 755 "$TEST_ROOT"
	export CONTAINER_APP_ROOT=$TEST_ROOT/app
	export CONTAINER_RUN_ROOT=$TEST_ROOT/run
	export CONTAINER_LOG_ROOT=$TEST_ROOT/log
	export CONTAINER_SYSTEM_CONFIG=$TEST_ROOT/etc/config.json
	export HOME=$TEST_ROOT/home
	unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_RUNTIME_DIR CONTAINER_INSTALL_ROOT
	mkdir -p "$HOME" "$TEST_ROOT/asan"
	# Sanitizer reports go to files that teardown checks; a report fails the test.
	export ASAN_OPTIONS="log_path=$TEST_ROOT/asan/asan:detect_leaks=1"
	export UBSAN_OPTIONS="log_path=$TEST_ROOT/asan/ubsan:print_stacktrace=1:halt_on_error=1"
	SOCKET=$CONTAINER_RUN_ROOT/apiserver.sock
	PIDFILE=$CONTAINER_RUN_ROOT/apiserver.pid
}

teardown() {
	local pid
	# Mounts a test made (mount_image below), innermost first.
	if [ -n "${TEST_ROOT:-}" ]; then
		grep -F " $TEST_ROOT/" /proc/self/mounts | awk '{print $2}' | sort -r |
			while read -r m; do umount "$m" || umount -l "$m"; done
	fi
	if [ -f "$PIDFILE" ]; then
		pid=$(cat "$PIDFILE" 2>/dev/null)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			"$CT" system stop --timeout 15 >/dev/null 2>&1 || true
			if kill -0 "$pid" 2>/dev/null; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
	fi
	# Containers the test left running (when the API server could not stop
	# them): their init, by the pid their helper recorded, takes the whole pid
	# namespace with it.
	local state
	for state in "$CONTAINER_APP_ROOT"/containers/*/state.json; do
		[ -f "$state" ] || continue
		if [ "$(jq -r .status "$state" 2>/dev/null)" = running ]; then
			pid=$(jq -r .pid "$state")
			[ "$pid" -gt 1 ] 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	net_cleanup
	# The parent cgroup folders our containers used, when empty.
	rmdir /sys/fs/cgroup/*/container /sys/fs/cgroup/container 2>/dev/null || true
	# Plugins get SIGTERM when the API server dies (PR_SET_PDEATHSIG); give them
	# a moment, then make sure none that this test started is left.
	for pid in ${STARTED_PIDS:-}; do
		# Only real pids: "kill 0" would signal our own process group.
		[ "$pid" -gt 1 ] 2>/dev/null || continue
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	# The API servers' own LeakSanitizer verdicts at exit (sanitizer builds),
	# for the suite's figure (tests/run-tests counts them).
	if [ -n "${CONTAINER_LOG_ROOT:-}" ] && [ -d "$CONTAINER_LOG_ROOT" ]; then
		grep -h "leak check at exit" "$CONTAINER_LOG_ROOT"/*.log* 2>/dev/null |
			sed "s|^|$BATS_TEST_FILENAME: |" >>"$CONTAINER_TEST_BUILD/test-logs/leak-checks.log" || true
	fi
	# A report is a file with a sanitizer's error in it: a process SIGKILLed
	# while LeakSanitizer checked it at exit leaves only its tracer's note
	# ("Unable to get registers from thread"), the kill's doing.
	local reports
	reports=$(grep -lE 'ERROR: |runtime error:|WARNING: ' "$TEST_ROOT"/asan/* 2>/dev/null)
	if [ -n "$reports" ]; then
		echo "# sanitizer reports in $TEST_ROOT/asan:"
		cat "$TEST_ROOT"/asan/* | head -80
		return 1
	fi
	rm -rf "$TEST_ROOT"
}

# run_ct [EXPECTED_STATUS] ARGS…: runs `container ARGS…`, shows the command and
# its output in the test log, and fails unless the exit status matches
# (default 0; "?" accepts any).
run_ct() {
	local expected=0
	case "${1:-}" in
	[0-9] | [0-9][0-9] | [0-9][0-9][0-9] | '?')
		expected=$1
		shift
		;;
	esac
	echo "\$ container $*"
	run "$CT" "$@"
	echo "$output"
	echo "[exit $status]"
	if [ "$expected" != "?" ] && [ "$status" -ne "$expected" ]; then
		echo "FAIL: expected exit status $expected, got $status"
		return 1
	fi
}

# run_call [EXPECTED_STATUS] ROUTE [JSON] [ct-call options…]: a raw protocol call.
run_call() {
	local expected=0
	case "${1:-}" in
	[0-9] | '?')
		expected=$1
		shift
		;;
	esac
	echo "\$ ct-call $*"
	run "$CT_CALL" "$@"
	echo "$output"
	echo "[exit $status]"
	if [ "$expected" != "?" ] && [ "$status" -ne "$expected" ]; then
		echo "FAIL: expected exit status $expected, got $status"
		return 1
	fi
}

# Fails with a message unless $output contains the string.
assert_output_contains() {
	if [[ "$output" != *"$1"* ]]; then
		echo "FAIL: output does not contain: $1"
		return 1
	fi
}

assert_output_lacks() {
	if [[ "$output" == *"$1"* ]]; then
		echo "FAIL: output contains: $1"
		return 1
	fi
}

start_system() {
	run_ct system start "$@"
	assert_output_contains "started"
	STARTED_PIDS="${STARTED_PIDS:-} $(cat "$PIDFILE")"
}

apiserver_pid() {
	cat "$PIDFILE"
}

# make_service_plugin NAME [loadAtBoot true|false] [defaultArguments JSON array]
# lays out the sample plugin as a user plugin called NAME serving route "NAME".
make_service_plugin() {
	local name=$1 boot=${2:-false} args=${3:-[]}
	local dir=$CONTAINER_APP_ROOT/user-plugins/$name
	mkdir -p "$dir/bin"
	ln -s "$SAMPLE_PLUGIN" "$dir/bin/$name"
	cat >"$dir/config.json" <<JSON
{
  "abstract": "Sample service plugin $name",
  "author": "container tests",
  "version": "1.0",
  "servicesConfig": {
    "loadAtBoot": $boot,
    "runAtLoad": true,
    "defaultArguments": $args,
    "services": [{"type": "auxiliary", "description": "test", "routes": ["sample"]}]
  }
}
JSON
}

# plugin_field NAME FIELD: a field of `plugin get NAME`.
plugin_field() {
	"$CT" plugin get "$1" | jq -r ".$2"
}

# wait_for SECONDS COMMAND…: polls until the command succeeds.
wait_for() {
	local limit=$1
	shift
	local deadline=$((SECONDS + limit))
	while ! "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "FAIL: timed out after ${limit}s waiting for: $*"
			return 1
		fi
		sleep 0.1
	done
}

# A busybox root filesystem tar, built once per test run from busybox-static.
busybox_rootfs() {
	local cache=${BATS_RUN_TMPDIR:-/tmp}/busybox-rootfs.tar
	if [ ! -s "$cache" ]; then
		"$CONTAINER_TEST_TOP/scripts/busybox-rootfs.sh" "$cache.tmp" && mv "$cache.tmp" "$cache"
	fi
	echo "$cache"
}

# import_busybox [REF]: imports the busybox rootfs as REF (default busybox:latest).
import_busybox() {
	run_ct image import -c 'CMD ["sh"]' "$(busybox_rootfs)" "${1:-busybox:latest}"
}

# mount_image REF DIR: mounts the image's snapshots as one read-only overlay
# (what a container's rootfs will see, without the upper layer) at DIR.
mount_image() {
	local ref=$1 dir=$2 lower
	lower=$("$CT" image inspect "$ref" | jq -r '.[0].snapshots | reverse | map(. + "/fs") | join(":")')
	mkdir -p "$dir"
	if [ "$(grep -o : <<<"$lower" | wc -l)" -eq 0 ]; then
		# One layer: overlay needs two lowers or an upper; a bind is the same view.
		mount --bind -o ro "$lower" "$dir"
	else
		mount -t overlay overlay -o "ro,lowerdir=$lower" "$dir"
	fi
}

# Networks outlive an API server (as docker0 does), so each test removes what its
# networks made: our nftables table and bridges, and the namespaces it made with
# outside_ns. Only inside the private namespace tests/run-tests makes: on a real
# host these would be someone's networks.
net_cleanup() {
	[ "${CONTAINER_TEST_NETNS:-}" = private ] || return 0
	local link ns
	nft delete table inet container 2>/dev/null || true
	for link in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}'); do
		case $link in container0 | ctbr*) ip link delete "$link" 2>/dev/null || true ;; esac
	done
	for ns in ${TEST_NETNS:-}; do
		ip netns delete "$ns" 2>/dev/null || true
	done
	ip link delete ct-outside 2>/dev/null || true
}

# outside_ns: a network namespace "outside" the host (a stand-in for the rest of
# the world): veth ct-outside 198.51.100.1/24 here, 198.51.100.2 there, with no
# route back to any container subnet, so only masqueraded traffic is answered.
outside_ns() {
	OUTSIDE=ctout$$
	TEST_NETNS="${TEST_NETNS:-} $OUTSIDE"
	ip netns add "$OUTSIDE"
	ip link add ct-outside type veth peer name eth0 netns "$OUTSIDE"
	ip addr add 198.51.100.1/24 dev ct-outside
	ip link set ct-outside up
	ip -n "$OUTSIDE" addr add 198.51.100.2/24 dev eth0
	ip -n "$OUTSIDE" link set eth0 up
	ip -n "$OUTSIDE" link set lo up
}

# helper_pid ID: the pid of a container's runtime helper.
helper_pid() {
	jq -r .helperPid "$CONTAINER_APP_ROOT/containers/$("$CT" inspect "$1" | jq -r '.[0].id')/state.json"
}
