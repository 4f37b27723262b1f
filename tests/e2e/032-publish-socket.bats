#!/usr/bin/env bats
# --publish-socket HOST_PATH:CONTAINER_PATH: the runtime helper serves a Unix
# socket on the host and relays each client to the container's socket, resolved
# inside the container's root. Debian's busybox nc has no -U: a small static echo
# server (tests/tools/unix-echo.c) goes into the image; the host side talks with
# python3.

load helpers

setup() {
	ct_setup
	start_system
	import_busybox busybox:latest
	unix_echo_image
	PUB=$TEST_ROOT/pub
	mkdir -p "$PUB"
}

# unix_echo_bin: the echo server, compiled once per test run.
unix_echo_bin() {
	local bin=${BATS_RUN_TMPDIR:-/tmp}/unix-echo
	if [ ! -x "$bin" ]; then
		cc -static -O2 -o "$bin.tmp" "$CONTAINER_TEST_TOP/tests/tools/unix-echo.c" &&
			mv "$bin.tmp" "$bin"
	fi
	echo "$bin"
}

# unix_echo_image: busybox with /bin/unix-echo, serving /run/app.sock, as unix-echo:1.
unix_echo_image() {
	mkdir -p "$TEST_ROOT/echo/bin"
	cp "$(unix_echo_bin)" "$TEST_ROOT/echo/bin/unix-echo"
	cp "$(busybox_rootfs)" "$TEST_ROOT/echo.tar"
	tar -rf "$TEST_ROOT/echo.tar" -C "$TEST_ROOT/echo" bin/unix-echo
	run_ct image import -c 'CMD ["/bin/unix-echo", "/run/app.sock"]' "$TEST_ROOT/echo.tar" \
		unix-echo:1
}

# unix_talk PATH TEXT: connects to the Unix socket PATH, sends TEXT, ends its
# input (a half-close) and prints what comes back until the other side closes.
# A connection closed on it prints nothing.
unix_talk() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
out = b""
try:
    s.sendall(sys.argv[2].encode())
    s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except (BrokenPipeError, ConnectionResetError):
    pass
sys.stdout.write(out.decode())
PY
}

# echoes PATH TEXT: succeeds when TEXT comes back through PATH.
echoes() {
	[ "$(unix_talk "$1" "$2")" = "$2" ]
}

# unix_bulk PATH MIB CLIENTS: CLIENTS clients at once each send MIB MiB of random
# bytes while reading the echo; prints "ok" when every one got its bytes back.
unix_bulk() {
	python3 - "$1" "$2" "$3" <<'PY'
import os, socket, sys, threading
path, size, clients = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3])
results = []
def one():
    data = os.urandom(size)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        got += b
    t.join()
    results.append(bytes(got) == data)
threads = [threading.Thread(target=one) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print("ok" if len(results) == clients and all(results) else "failed: %r" % results)
PY
}

@test "a published socket relays each client to the container's socket, both ways" {
	run_ct run -d --name echo --publish-socket "$PUB/app.sock:/run/app.sock" unix-echo:1
	[ -S "$PUB/app.sock" ]
	[ "$(stat -c %a "$PUB/app.sock")" = 660 ]
	# The server in the container makes its socket a moment after it starts.
	wait_for 10 echoes "$PUB/app.sock" "hello through the relay"
	run unix_talk "$PUB/app.sock" "second client"
	[ "$output" = "second client" ]
	# Bulk data through both pipes at once, several clients together.
	run unix_bulk "$PUB/app.sock" 4 1
	[ "$output" = ok ]
	run unix_bulk "$PUB/app.sock" 1 20
	[ "$output" = ok ]
	# A relative host path is taken from the CLI's working directory.
	cd "$PUB"
	run_ct run -d --name echo2 --publish-socket ./rel.sock:/run/app.sock unix-echo:1
	wait_for 10 echoes "$PUB/rel.sock" "relative"
	cd - >/dev/null

	# Gone once stop returns (and when the container ends by itself).
	run_ct stop echo
	[ ! -e "$PUB/app.sock" ]
	run_ct kill echo2
	wait_for 10 test ! -e "$PUB/rel.sock"
	# A restart publishes it again.
	run_ct start echo
	[ -S "$PUB/app.sock" ]
	wait_for 10 echoes "$PUB/app.sock" "after a restart"
	run_ct delete -f echo
	[ ! -e "$PUB/app.sock" ]
}

@test "the container may make its socket after it started; until then clients are closed" {
	run_ct run -d --name late --publish-socket "$PUB/app.sock:/run/app.sock" unix-echo:1 \
		sh -c 'sleep 3; exec /bin/unix-echo /run/app.sock'
	[ -S "$PUB/app.sock" ]
	run unix_talk "$PUB/app.sock" "too early"
	[ -z "$output" ]
	wait_for 15 echoes "$PUB/app.sock" "in time"
	run_ct inspect late
	[ "$(jq -r '.[0].state.status' <<<"$output")" = running ]
	run_ct delete -f late
}

@test "paths resolve inside the container's root: symlinks can't reach a host socket" {
	# A host socket that an escape would reach.
	"$(unix_echo_bin)" "$TEST_ROOT/hostsock" &
	local host_server=$!
	wait_for 5 test -S "$TEST_ROOT/hostsock"
	run unix_talk "$TEST_ROOT/hostsock" "host"
	[ "$output" = host ]

	local links="ln -s /../../..$TEST_ROOT/hostsock /run/abs.sock"
	links+="; ln -s ../../../..$TEST_ROOT/hostsock /run/rel.sock"
	links+="; ln -s /proc/1/root/run/real.sock /run/magic.sock"
	links+="; ln -s /run/real.sock /run/inside.sock"
	links+="; echo not a socket >/run/file.sock"
	run_ct run -d --name jail \
		--publish-socket "$PUB/real.sock:/run/real.sock" \
		--publish-socket "$PUB/abs.sock:/run/abs.sock" \
		--publish-socket "$PUB/rel.sock:/run/rel.sock" \
		--publish-socket "$PUB/magic.sock:/run/magic.sock" \
		--publish-socket "$PUB/inside.sock:/run/inside.sock" \
		--publish-socket "$PUB/file.sock:/run/file.sock" \
		unix-echo:1 sh -c "$links; exec /bin/unix-echo /run/real.sock"
	wait_for 10 echoes "$PUB/real.sock" "direct"
	local name
	for name in abs rel magic file; do
		run unix_talk "$PUB/$name.sock" "escaped through $name"
		echo "$name: $output"
		[ -z "$output" ]
	done
	# A symlink within the container is followed within it.
	run unix_talk "$PUB/inside.sock" "inside"
	[ "$output" = inside ]
	run_ct inspect jail
	[ "$(jq -r '.[0].state.status' <<<"$output")" = running ]
	run_ct delete -f jail
	kill "$host_server"
	wait "$host_server" || true
}

@test "a host path that is not a stale socket is refused and left alone; a stale one is replaced" {
	echo precious >"$PUB/file.sock"
	run_ct 125 run -d --name f --publish-socket "$PUB/file.sock:/run/app.sock" unix-echo:1
	assert_output_contains "$PUB/file.sock exists and is not a socket"
	[ "$(cat "$PUB/file.sock")" = precious ]
	ln -s "$PUB/file.sock" "$PUB/link.sock"
	run_ct 125 run -d --name l --publish-socket "$PUB/link.sock:/run/app.sock" unix-echo:1
	assert_output_contains "$PUB/link.sock exists and is not a socket"
	[ -L "$PUB/link.sock" ]
	[ "$(cat "$PUB/file.sock")" = precious ]
	# Nothing of a refused start keeps running.
	run_ct list -q
	[ -z "$output" ]

	# Served by another container: refused, and the first keeps it.
	run_ct run -d --name first --publish-socket "$PUB/app.sock:/run/app.sock" unix-echo:1
	run_ct 125 run -d --name second --publish-socket "$PUB/app.sock:/run/app.sock" unix-echo:1
	assert_output_contains "$PUB/app.sock is in use"
	wait_for 10 echoes "$PUB/app.sock" "still the first"
	# Given twice in one run.
	run_ct 125 run -d --name twice --publish-socket "$PUB/a.sock:/run/app.sock" \
		--publish-socket "$PUB/a.sock:/run/other.sock" unix-echo:1
	assert_output_contains "the host path $PUB/a.sock is given twice"
	[ ! -e "$PUB/a.sock" ]

	# A socket file that nobody serves (its helper was killed) is replaced.
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$PUB/stale.sock"
	[ -S "$PUB/stale.sock" ]
	run_ct run -d --name stale --publish-socket "$PUB/stale.sock:/run/app.sock" unix-echo:1
	wait_for 10 echoes "$PUB/stale.sock" "replaced"
}

@test "bad --publish-socket arguments are clear errors at run" {
	run_ct '?' run -d --publish-socket "$PUB/app.sock" busybox true
	[ "$status" -ne 0 ]
	assert_output_contains "expected HOST_PATH:CONTAINER_PATH"
	run_ct '?' run -d --publish-socket "$PUB/app.sock:run/app.sock" busybox true
	[ "$status" -ne 0 ]
	assert_output_contains "absolute container path"
	run_ct 125 run -d --publish-socket "$PUB/missing/app.sock:/run/app.sock" busybox true
	assert_output_contains "the folder $PUB/missing does not exist"
	run_ct '?' run -d --network none --publish-socket "$PUB/app.sock:/run/app.sock" busybox true
	[ "$status" -ne 0 ]
	assert_output_contains "need a network"
	[ ! -e "$PUB/app.sock" ]
	run_ct list -q
	[ -z "$output" ]
}
