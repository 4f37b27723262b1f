#!/usr/bin/env bats
# The protocol under bad input, load and unprivileged clients.

load helpers

# frame FILE JSON: writes a length-prefixed frame holding JSON to FILE (appends).
frame() {
	local body=$2
	local len=${#body}
	printf "\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))" >>"$1"
	printf '%s' "$body" >>"$1"
}

@test "malformed frames get an error reply and the server keeps serving" {
	start_system
	local f=$TEST_ROOT/frames
	: >"$f"
	frame "$f" '{"route": "ping", "id": 1'      # truncated JSON
	frame "$f" '[1, 2, 3]'                      # not an object
	frame "$f" '{"route": 5, "id": 2}'          # wrong type
	frame "$f" '{"route": "ping"}'              # no id
	frame "$f" '{"route": "no.such.route", "id": 3}'
	frame "$f" '{"route": "ping", "id": 4, "body": []}'
	frame "$f" '{"route": "ping", "id": 5}'     # still in step: answered
	run_call --raw "$f" --wait-ms 1000
	# ct-call prints keys sorted: error, then id.
	assert_output_contains '{"error":{"code":"protocol","message":"malformed JSON in frame'
	[ "$(grep -c '"id":null}$' <<<"$output")" -eq 3 ]
	assert_output_contains 'must hold a JSON object, not an array'
	assert_output_contains 'field \"route\" must be a string'
	assert_output_contains 'request has no integer field \"id\"'
	assert_output_contains '{"error":{"code":"notFound","message":"unknown route \"no.such.route\"'
	assert_output_contains '"id":3}'
	assert_output_contains 'field \"body\" must be an object'
	[ "$(jq -c 'select(.id == 5) | .body.pid' <<<"$output")" = "$(apiserver_pid)" ]
	run_ct system status
}

@test "an oversized or zero length prefix is refused and the connection closed" {
	start_system
	printf '\x7f\xff\xff\xff{}' >"$TEST_ROOT/huge"
	run_call --raw "$TEST_ROOT/huge"
	assert_output_contains "is over the limit"
	assert_output_contains '{"end":"unavailable"}'
	printf '\x00\x00\x00\x00' >"$TEST_ROOT/zero"
	run_call --raw "$TEST_ROOT/zero"
	assert_output_contains "frame of length 0"
	run_ct system status
}

@test "a half frame or a client that vanishes does not block others" {
	make_service_plugin sample-one
	start_system
	# Half a header, then half a body, left hanging on open connections.
	printf '\x00\x00' >"$TEST_ROOT/half-header"
	printf '\x00\x00\x00\x40{"route":' >"$TEST_ROOT/half-body"
	"$CT_CALL" --raw "$TEST_ROOT/half-header" --wait-ms 4000 >/dev/null &
	local a=$!
	"$CT_CALL" --raw "$TEST_ROOT/half-body" --wait-ms 4000 >/dev/null &
	local b=$!
	# A slow request inside a plugin holds only its own connection.
	"$CT_CALL" sample.sleep '{"ms": 3000}' >"$TEST_ROOT/slow" &
	local c=$!
	sleep 0.3
	local start
	start=$(date +%s%N)
	run_call ping
	run_call sample.echo '{"fast": true}'
	local elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	echo "ping + echo took ${elapsed_ms} ms"
	[ "$elapsed_ms" -lt 1500 ]
	STARTED_PIDS="$STARTED_PIDS $(jq -r .pid <<<"$output")"
	wait "$c"
	grep -q '"slept":true' "$TEST_ROOT/slow"
	wait "$a" "$b" || true
	run_ct system status
}

@test "50 concurrent clients are all served" {
	start_system
	run_call --concurrent 50 ping
	[ "$output" = "50 ok" ]
	# And 50 CLI processes at once.
	local pids=() i
	for i in $(seq 1 50); do
		"$CT" system status --format json >"$TEST_ROOT/status.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
	done
	for i in $(seq 1 50); do
		[ "$(jq -r .status "$TEST_ROOT/status.$i")" = running ]
	done
}

@test "an unprivileged client is refused" {
	start_system
	# The socket's folder is 0700: nobody can't even reach the socket.
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CT" plugin list
	echo "$output"
	[ "$status" -eq 125 ]
	assert_output_contains "permission denied"

	# With the folder and socket opened up, the server's own SO_PEERCRED check
	# still refuses before reading a byte.
	chmod 755 "$CONTAINER_RUN_ROOT"
	chmod 666 "$SOCKET"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CT" plugin list
	echo "$output"
	[ "$status" -eq 125 ]
	assert_output_contains "permission denied: uid 65534 may not use container-apiserver"
	run_ct system logs
	assert_output_contains "refused a client with uid 65534"
	# Root is still served.
	run_ct plugin list
}
