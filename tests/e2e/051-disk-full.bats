#!/usr/bin/env bats
# Disk full: the app root on a small tmpfs. A pull, a create, a container's log
# and the state database each run out of space; every one fails (or, for the
# log, degrades) with an error that says the disk is full, leaves the content
# store and state.db usable, and works again once space is freed.

load helpers

# helpers.bash's teardown, kept under another name: ours runs first.
eval "ct_teardown() $(declare -f teardown | tail -n +2)"

setup_file() {
	. "$CONTAINER_TEST_TOP/tests/fixtures/images.bash"
	. "$CONTAINER_TEST_TOP/tests/fixtures/registry.bash"
	export FX_TMP=$(mktemp -d /tmp/ct-fx.XXXXXX)
	images_build "$CONTAINER_TEST_BUILD/fixture-images"
	images_build "$CONTAINER_TEST_BUILD/fixture-images" many-entries
	registry_start "$FX_TMP/plain" plain
	registry_push_oci "$IMAGES_DIR/busybox:latest" fixtures/busybox:latest
	registry_push_oci "$IMAGES_DIR/layers:latest" fixtures/layers:latest
	registry_push_oci "$IMAGES_DIR/hostile/many-entries:latest" fixtures/many:latest
}

teardown_file() {
	. "$CONTAINER_TEST_TOP/tests/fixtures/registry.bash"
	registry_stop_all
	rm -rf "$FX_TMP"
}

setup() {
	ct_setup
	. "$CONTAINER_TEST_TOP/tests/fixtures/images.bash"
	. "$CONTAINER_TEST_TOP/tests/fixtures/registry.bash"
	registry_use "$FX_TMP/plain"
	mkdir -p "$CONTAINER_APP_ROOT"
}

# The API server and its containers go before the tmpfs they use is unmounted:
# helpers.bash's teardown unmounts first, which would leave a busy tmpfs lazily
# detached and hide the containers' state files.
teardown() {
	local pid state
	if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
		"$CT" system stop --timeout 15 >/dev/null 2>&1 || true
	fi
	for state in "$CONTAINER_APP_ROOT"/containers/*/state.json; do
		[ -f "$state" ] || continue
		if [ "$(jq -r .status "$state" 2>/dev/null)" = running ]; then
			pid=$(jq -r .pid "$state")
			[ "$pid" -gt 1 ] 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	if mountpoint -q "$CONTAINER_APP_ROOT"; then
		umount "$CONTAINER_APP_ROOT" 2>/dev/null || umount -l "$CONTAINER_APP_ROOT"
	fi
	ct_teardown
}

# small_app_root SIZE [MOUNT OPTIONS]: the app root on a tmpfs of SIZE.
small_app_root() {
	mount -t tmpfs -o "size=$1${2:+,$2},mode=0755" tmpfs "$CONTAINER_APP_ROOT"
}

# state_field NAME FIELD: a field of the container's state, as inspect shows it.
state_field() {
	local v
	v=$("$CT" inspect "$1" | jq -r ".[0].state.$2")
	echo "# $1: $2 = $v" >&2
	echo "$v"
}

avail_kib() {
	df -k --output=avail "$CONTAINER_APP_ROOT" | tail -1 | tr -d ' '
}

# fill_disk KIB: a file that leaves about KIB KiB free on the app root.
fill_disk() {
	local size=$(($(avail_kib) - $1))
	[ "$size" -gt 0 ] || return 0
	fallocate -l "${size}K" "$CONTAINER_APP_ROOT/filler"
	echo "# app root: $(avail_kib) KiB free"
}

free_disk() {
	rm -f "$CONTAINER_APP_ROOT/filler"
}

# The store and the database are as a completed (or refused) operation leaves
# them: no unfinished download or unpack, every blob matches its digest,
# state.db passes its integrity check, and the images plugin still runs.
assert_store_usable() {
	local app=$CONTAINER_APP_ROOT f
	[ -z "$(ls -A "$app/content/ingest")" ] || {
		echo "FAIL: left in content/ingest: $(ls -A "$app/content/ingest")"
		return 1
	}
	for f in "$app"/content/blobs/sha256/*; do
		[ -e "$f" ] || continue
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || {
			echo "FAIL: blob $f does not match its digest"
			return 1
		}
	done
	[ -z "$(ls -A "$app/snapshots" | grep '^\.tmp-')" ] || {
		echo "FAIL: an unfinished snapshot is left: $(ls -A "$app/snapshots")"
		return 1
	}
	# Every snapshot is a complete one: named by a chain id, with its fs/.
	for f in "$app"/snapshots/*; do
		[ -e "$f" ] || continue
		[[ "$(basename "$f")" =~ ^[0-9a-f]{64}$ ]] && [ -d "$f/fs" ] || {
			echo "FAIL: odd snapshot $f"
			return 1
		}
	done
	assert_db_ok
	[ "$("$CT" plugin get container-core-images | jq -r .state)" = running ]
	kill -0 "$(apiserver_pid)"
}

assert_db_ok() {
	run sqlite3 "$CONTAINER_APP_ROOT/state.db" 'PRAGMA integrity_check'
	echo "integrity_check: $output"
	[ "$output" = ok ]
}

# The messages a full disk must give: what ran out, where, what to do.
assert_disk_full_message() {
	assert_output_contains "the disk holding"
	assert_output_contains "$CONTAINER_APP_ROOT"
	assert_output_contains "is full: free space there"
	assert_output_contains "container prune"
}

@test "a pull that runs out of space fails clearly, leaves the store whole, and works once space is freed" {
	small_app_root 8m
	start_system
	# Less room than busybox's 1 MB layer blob: the download runs out.
	fill_disk 400
	local start=$SECONDS
	run_ct 125 image pull --progress none "$REGISTRY_HOST/fixtures/busybox:latest"
	[ $((SECONDS - start)) -lt 30 ]
	assert_output_contains "pulling $REGISTRY_HOST/fixtures/busybox"
	assert_disk_full_message
	assert_output_contains "image prune"
	assert_store_usable
	run_ct image list -q
	[ -z "$output" ]
	# A full disk is not a flaky download: the layer is not tried again.
	run_ct system logs
	assert_output_lacks "trying the layer again"

	# Room for the blob but not its unpacked 2 MB: the unpack (or the download,
	# they run side by side) runs out.
	free_disk
	fill_disk 1600
	run_ct 125 image pull --progress none "$REGISTRY_HOST/fixtures/layers:latest"
	assert_disk_full_message
	assert_store_usable
	run_ct image list -q
	[ -z "$output" ]

	# Space again: the same pull completes and runs.
	free_disk
	mount -o remount,size=32m "$CONTAINER_APP_ROOT"
	run_ct image pull --progress none "$REGISTRY_HOST/fixtures/layers:latest"
	assert_store_usable
	run_ct run --rm "$REGISTRY_HOST/fixtures/layers:latest" cat /data/keep.txt
	[ "$output" = "kept from layer 2" ]
}

@test "an unpack that runs out of inodes fails clearly and leaves no half snapshot" {
	# many-entries holds 200 000 files: far more than these inodes.
	small_app_root 64m nr_inodes=20000
	start_system
	local start=$SECONDS
	run_ct 125 image pull --progress none "$REGISTRY_HOST/fixtures/many:latest"
	[ $((SECONDS - start)) -lt 60 ]
	assert_output_contains "pulling $REGISTRY_HOST/fixtures/many"
	assert_disk_full_message
	assert_store_usable
	run_ct image list -q
	[ -z "$output" ]
	# Removing the half unpack gave every inode back.
	[ "$(df -i "$CONTAINER_APP_ROOT" | awk 'NR == 2 { print $3 }')" -lt 200 ]
}

@test "a create that runs out of space fails clearly and leaves no half container" {
	small_app_root 16m
	start_system
	run_ct image pull --progress none "$REGISTRY_HOST/fixtures/busybox:latest"
	local image=$REGISTRY_HOST/fixtures/busybox:latest
	run_ct create --name first "$image" true
	fill_disk 8
	run_ct 125 create --name second "$image" true
	assert_disk_full_message
	run_ct 125 run --rm "$image" true
	assert_disk_full_message
	# The containers listed are exactly the bundles on disk.
	run_ct list -a --format json
	[ "$(jq -r '.[].id' <<<"$output" | sort)" = "$(ls "$CONTAINER_APP_ROOT/containers" | sort)" ]
	[ "$(jq -r '.[].name' <<<"$output")" = first ]
	assert_db_ok

	free_disk
	run_ct create --name second "$image" true
	run_ct run --rm "$image" echo room again
	[ "$output" = "room again" ]
	run_ct list -a --format json
	[ "$(jq -r '.[].name' <<<"$output" | sort | tr '\n' ' ')" = "first second " ]
	assert_store_usable
}

@test "a container whose log runs out of space keeps running, the helper says why, logging resumes with space" {
	small_app_root 16m
	start_system
	local image=$REGISTRY_HOST/fixtures/busybox:latest
	run_ct image pull --progress none "$image"
	mkdir -p "$TEST_ROOT/flag"
	# One that will exit while the disk is full.
	run_ct run -d --name quiet -v "$TEST_ROOT/flag:/flag" "$image" sh -c \
		'echo hello; while [ ! -e /flag/quit ]; do sleep 0.1; done; echo bye; exit 4'
	fill_disk 256
	# ~2 MB of output, far more than the room left; then it waits for the test.
	run_ct run -d --name chatty -v "$TEST_ROOT/flag:/flag" "$image" sh -c \
		'i=0; while [ $i -lt 20000 ]; do echo "line $i of a container that talks a lot ......................"; i=$((i + 1)); done
		 echo burst done; while [ ! -e /flag/go ]; do sleep 0.1; done; echo after the pause; exit 3'
	local id
	id=$("$CT" inspect chatty | jq -r '.[0].id')
	# The helper says, once, that output is dropped, why and what to do.
	wait_for 30 bash -c "'$CT' system logs | grep -q 'containers/$id/stdio.log.*output is being dropped'"
	run_ct system logs
	local said
	said=$(grep "containers/$id/stdio.log" <<<"$output")
	[ "$(grep -c 'output is being dropped' <<<"$said")" -eq 1 ]
	[[ "$said" == *"No space left on device"* ]]
	[[ "$said" == *"free space on the disk holding $CONTAINER_APP_ROOT"* ]]
	# Still running, not wedged.
	[ "$(state_field chatty status)" = running ]
	# The log holds whole lines only.
	"$CT" logs chatty >"$TEST_ROOT/chatty.out"
	grep -q "^line 0 of" "$TEST_ROOT/chatty.out"
	local stdio=$CONTAINER_APP_ROOT/containers/$id/stdio.log
	[ -z "$(grep -Ev '^[0-9T:.-]+Z std(out|err) [FP] ' "$stdio")" ]

	# A container that exits while the disk is still full: its exit is recorded.
	[ "$(avail_kib)" -lt 16 ]
	touch "$TEST_ROOT/flag/quit"
	run_ct wait quiet
	[ "$output" = 4 ]
	[ "$(state_field quiet status)" = stopped ]
	[ "$(state_field quiet exitCode)" = 4 ]
	run_ct logs quiet
	assert_output_contains hello

	# Room again: the same container's output is logged again.
	free_disk
	touch "$TEST_ROOT/flag/go"
	run_ct wait chatty
	[ "$output" = 3 ]
	"$CT" logs chatty >"$TEST_ROOT/chatty.out"
	[ "$(tail -1 "$TEST_ROOT/chatty.out")" = "after the pause" ]
	# Every line whole: none cut off where the disk filled up, none glued to
	# the next one written after space came back.
	[ -z "$(grep -Ev '^[0-9T:.-]+Z stdout F (line [0-9]+ of a container that talks a lot \.+|burst done|after the pause)$' "$stdio")" ]
	run_ct system logs
	assert_output_contains "writing the container's log $stdio again"
	[ "$(state_field chatty exitCode)" = 3 ]
	run_ct run --rm "$image" echo next container
	[ "$output" = "next container" ]
	assert_store_usable
}

@test "a truncated last line in a container's log does not upset logs" {
	small_app_root 16m
	start_system
	local image=$REGISTRY_HOST/fixtures/busybox:latest
	run_ct image pull --progress none "$image"
	run_ct run --name short "$image" echo one whole line
	local stdio
	stdio=$CONTAINER_APP_ROOT/containers/$("$CT" inspect short | jq -r '.[0].id')/stdio.log
	# What a writer cut off by a full disk (before this fix) left behind.
	printf '2026-11-28T00:00:00.000000000Z stdout F half a li' >>"$stdio"
	run_ct logs short
	assert_output_contains "one whole line"
	printf '2026-11-28T00:00:0' >>"$stdio"
	run_ct logs short
	assert_output_contains "one whole line"
	run_ct logs -n 1 short
}

@test "state.db running out of space is a clear error, not a crash or a corrupt database" {
	small_app_root 16m
	# No room even to create state.db: the API server says so and exits.
	fallocate -l 16m "$CONTAINER_APP_ROOT/filler"
	run_ct ? system start
	[ "$status" -ne 0 ]
	assert_output_contains "state.db"
	assert_disk_full_message
	free_disk
	start_system
	local image=$REGISTRY_HOST/fixtures/busybox:latest
	run_ct image pull --progress none "$image"
	fill_disk 0
	# A write to state.db alone (a property is one row).
	run_ct 125 system property set registry.domain registry.internal:443
	assert_output_contains "state.db: saving a property: database or disk is full"
	assert_disk_full_message
	run_ct 125 network create full-net
	assert_output_contains "disk is full"
	run_ct network list
	assert_output_lacks full-net
	run_ct 125 create --name nospace "$image" true
	assert_disk_full_message
	kill -0 "$(apiserver_pid)"
	assert_db_ok
	run_ct list -a -q
	[ -z "$output" ]

	free_disk
	run_ct system property set registry.domain registry.internal:443
	run_ct network create full-net
	run_ct run --rm "$image" echo fine
	[ "$output" = fine ]
	assert_db_ok
	assert_store_usable
}
