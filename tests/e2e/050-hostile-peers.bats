#!/usr/bin/env bats
# Hostile peers: clients that send garbage, half frames, huge length prefixes,
# descriptors nobody asked for, or vanish mid-request; registries that lie about
# sizes and digests, trickle bytes, redirect in circles or never stop talking; a
# container that floods its stdout. Through all of it the API server keeps
# answering pings (within a generous bound: the figures are for bench/hostile,
# not for a test), gives back every descriptor, and serves normal commands after.

load helpers

HOSTILE_CLIENT=$CONTAINER_TEST_BUILD/tests/tools/hostile-client
HOSTILE_REGISTRY=$CONTAINER_TEST_TOP/tests/tools/hostile-registry.py

setup_file() {
	. "$CONTAINER_TEST_TOP/tests/fixtures/images.bash"
	HP_TMP=$(mktemp -d /tmp/ct-hp.XXXXXX)
	export HP_TMP
	images_build "$CONTAINER_TEST_BUILD/fixture-images" busybox
	# One registry serves every mode (the repository's first component picks it).
	# fd 3 closed: bats waits for whoever holds it.
	python3 "$HOSTILE_REGISTRY" "$IMAGES_DIR/busybox" --port-file "$HP_TMP/port" --tick 1 \
		>/dev/null 2>"$HP_TMP/registry.log" 3>&- &
	export HP_REGISTRY_PID=$!
	for _ in $(seq 100); do
		[ -s "$HP_TMP/port" ] && break
		sleep 0.1
	done
	[ -s "$HP_TMP/port" ] || {
		echo "hostile-registry did not start:" >&2
		cat "$HP_TMP/registry.log" >&2
		return 1
	}
	HP_REGISTRY=127.0.0.1:$(cat "$HP_TMP/port")
	local manifest
	manifest=$(jq -r '.manifests[0].digest' "$IMAGES_DIR/busybox/index.json")
	HP_LAYER=$(jq -r '.layers[-1].digest' "$IMAGES_DIR/busybox/blobs/sha256/${manifest#sha256:}")
	export HP_REGISTRY HP_LAYER
}

teardown_file() {
	if [ -n "${HP_REGISTRY_PID:-}" ]; then
		kill "$HP_REGISTRY_PID" 2>/dev/null || true
		wait "$HP_REGISTRY_PID" 2>/dev/null || true
	fi
	rm -rf "$HP_TMP"
}

# attack MIX [hostile-client options…]: runs the mix for 3 s against the API
# server; every ping must be answered within 2 s and the server's descriptors
# must come back to their level before the attack.
attack() {
	local mix=$1
	shift
	echo "\$ hostile-client --mix $mix $*"
	run "$HOSTILE_CLIENT" --socket "$SOCKET" --pid "$(apiserver_pid)" --mix "$mix" \
		--attackers 4 --duration 3 --idle-pings 50 --ping-timeout-ms 2000 "$@"
	echo "$output" | tail -n 20
	echo "[exit $status]"
	local result
	result=$(grep '^{' <<<"$output" | tail -n 1)
	[ -n "$result" ]
	[ "$(jq .attack.failed <<<"$result")" -eq 0 ]
	[ "$(jq .attack.pings <<<"$result")" -gt 0 ]
	[ "$(jq '.fds.after <= .fds.idle' <<<"$result")" = true ]
	[ "$status" -eq 0 ]
}

# After an attack: the server still serves what a user types.
still_serving() {
	run_ct system status
	run_ct list -a
	run_call ping
}

@test "garbage bytes" {
	start_system
	attack garbage
	still_serving
}

@test "half frames left hanging" {
	start_system
	attack half
	still_serving
}

@test "length prefixes of 0xFFFFFFFF and just over the limit" {
	start_system
	attack huge
	still_serving
}

@test "200 descriptors with requests on routes that take none" {
	start_system
	attack fds
	still_serving
}

@test "connections closed mid-frame" {
	start_system
	attack midclose
	still_serving
}

@test "slow requests whose client vanishes at once" {
	start_system
	attack disconnect
	still_serving
}

@test "a client that pipelines requests and never reads the replies" {
	start_system
	attack noread
	still_serving
}

@test "idle connections up to the descriptor limit don't lock new clients out" {
	start_system
	# --fresh: every ping is a new connection, as every CLI command is.
	attack idle --fresh
	still_serving
}

@test "everything at once, then run --rm still works" {
	start_system
	import_busybox
	attack all --fresh
	still_serving
	run_ct run --rm busybox echo still-alive
	assert_output_contains still-alive
}

@test "a frame that stops moving is cut off" {
	start_system
	printf '\x00\x00\x00\x40{"route":' >"$TEST_ROOT/half-body"
	run_call --raw "$TEST_ROOT/half-body" --wait-ms 20000
	assert_output_contains "frame not completed"
	assert_output_contains '{"end":"unavailable"}'
}

# ---- registries ----------------------------------------------------------------

# hostile_pull MODE EXPECTED-MESSAGE: the pull fails within a bound with the
# message; pings are answered while it runs; nothing is left in the store.
hostile_pull() {
	local mode=$1 expected=$2 ref=$HP_REGISTRY/$1/busybox:latest
	# The registry client's stall timeout (60 s by default) shortened for the test.
	export CONTAINER_REGISTRY_STALL_TIMEOUT_MS=2000
	start_system
	local start=$SECONDS
	echo "\$ container image pull $ref"
	timeout 90 "$CT" image pull "$ref" >"$TEST_ROOT/pull.out" 2>&1 &
	local pull=$!
	# The API server answers while the pull goes on.
	local pings=0
	while kill -0 "$pull" 2>/dev/null && [ $pings -lt 20 ]; do
		run timeout 2 "$CT_CALL" ping
		[ "$status" -eq 0 ] || {
			echo "FAIL: ping $pings during the pull: $output"
			return 1
		}
		pings=$((pings + 1))
		sleep 0.2
	done
	local rc=0
	wait "$pull" || rc=$?
	local took=$((SECONDS - start))
	cat "$TEST_ROOT/pull.out"
	echo "[exit $rc after ${took} s, $pings pings answered]"
	[ "$rc" -ne 0 ]
	[ "$rc" -ne 124 ] # not the timeout's kill
	[ "$took" -lt 60 ]
	grep -qF -- "$expected" "$TEST_ROOT/pull.out" || {
		echo "FAIL: the error does not say: $expected"
		return 1
	}
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/content/ingest" 2>/dev/null)" ]
	[ ! -e "$CONTAINER_APP_ROOT/content/blobs/sha256/${HP_LAYER#sha256:}" ]
	run_ct image list -q
	[ -z "$output" ]
	run_call ping
}

@test "registry: a blob longer than its descriptor" {
	hostile_pull blob-long "more than the expected 1035353"
}

@test "registry: a blob shorter than its descriptor" {
	hostile_pull blob-short "expected 1035353"
}

@test "registry: a Content-Length shorter than the blob" {
	hostile_pull length-lie-short "expected 1035353"
}

@test "registry: a Content-Length longer than the blob" {
	hostile_pull length-lie-long "more than the expected 1035353"
}

@test "registry: a blob with other content" {
	hostile_pull digest "the content the registry sent has digest"
}

@test "registry: headers one byte a second" {
	hostile_pull slow-headers "timed out"
}

@test "registry: a body trickled faster than a byte a second" {
	hostile_pull slow-body "timed out"
}

@test "registry: a blob redirected to itself" {
	hostile_pull redirect-self "more than 5 redirects"
}

@test "registry: a blob redirected from A to B and back" {
	hostile_pull redirect-loop "more than 5 redirects"
}

@test "registry: a manifest that never ends" {
	hostile_pull manifest-endless "larger than the 4194304 byte limit"
}

@test "registry: a manifest of 1 GiB" {
	hostile_pull manifest-huge "larger than the 4194304 byte limit"
}

@test "registry: an error with an endless body" {
	hostile_pull error-endless "not found (404)"
}

@test "registry: the connection closed mid-body, every time" {
	hostile_pull close-mid-body "transfer closed"
}

# ---- containers ------------------------------------------------------------------

@test "a container flooding stdout leaves the server responsive and its log bounded" {
	start_system
	import_busybox
	run_ct run -d --name flood-lines busybox yes
	run_ct run -d --name flood-zeros busybox sh -c 'cat /dev/zero'
	local deadline=$((SECONDS + 8)) rounds=0
	while [ $SECONDS -lt $deadline ]; do
		run timeout 5 "$CT_CALL" ping
		[ "$status" -eq 0 ]
		run timeout 5 "$CT" list
		[ "$status" -eq 0 ]
		assert_output_contains flood-lines
		run timeout 5 "$CT" logs -n 2 flood-lines
		[ "$status" -eq 0 ]
		rounds=$((rounds + 1))
	done
	echo "$rounds rounds of ping, list and logs"
	local name id log max=$((10 * 1024 * 1024 + 65536))
	for name in flood-lines flood-zeros; do
		id=$("$CT" inspect "$name" | jq -r '.[0].id')
		log=$CONTAINER_APP_ROOT/containers/$id/stdio.log
		ls -l "$log"* || true # (a rotation may be renaming files meanwhile)
		[ "$(stat -c %s "$log")" -le $max ]
		[ ! -e "$log.1" ] || [ "$(stat -c %s "$log.1")" -le $max ]
		[ ! -e "$log.2" ]
	done
	run_ct delete -f flood-lines flood-zeros
	run_ct list -a
	assert_output_lacks flood
}

@test "a log that can't be rotated stops growing at its size limit; output is dropped and counted" {
	start_system
	import_busybox
	run_ct create --name stuck busybox yes
	local id log max=$((10 * 1024 * 1024 + 65536))
	id=$("$CT" inspect stuck | jq -r '.[0].id')
	log=$CONTAINER_APP_ROOT/containers/$id/stdio.log
	# The rotation makes stdio.log.next first: a folder there makes it fail.
	mkdir "$log.next"
	run_ct start stuck
	wait_for 30 bash -c "[ \"\$(stat -c %s '$log' 2>/dev/null || echo 0)\" -ge $((10 * 1024 * 1024)) ]"
	sleep 1
	ls -l "$log"* || true
	[ "$(stat -c %s "$log")" -le $max ]
	[ ! -e "$log.1" ]
	run_ct system logs
	assert_output_contains "output is being dropped"
	run_ct delete -f stuck
}
