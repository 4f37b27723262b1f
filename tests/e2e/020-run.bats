#!/usr/bin/env bats
# container run / create / start / stop / kill / delete / list / inspect / logs.

load helpers

setup() {
	ct_setup
	start_system
	import_busybox busybox:latest
}

@test "run prints the container's output and exits with its code" {
	run_ct run --rm busybox echo hello from a container
	[ "$output" = "hello from a container" ]
	run_ct 3 run --rm busybox sh -c 'echo out; echo err >&2; exit 3'
	assert_output_contains out
	assert_output_contains err
	# --rm removed them.
	run_ct list -a -q
	[ -z "$output" ]
}

@test "the image's command, env, workdir and user apply; flags override them" {
	run_ct image import -c 'CMD ["sh", "-c", "echo $GREETING from $(pwd) as $(id -un)"]' \
		-c 'ENV GREETING=hello' -c 'WORKDIR /home/app' -c 'USER app' "$(busybox_rootfs)" configured:1
	run_ct run --rm configured:1
	[ "$output" = "hello from /home/app as app" ]
	run_ct run --rm -e GREETING=bye -w /tmp -u root configured:1
	[ "$output" = "bye from /tmp as root" ]
	run_ct run --rm --uid 1000 --gid 1000 busybox id
	[ "$output" = "uid=1000(app) gid=1000(app)" ]
	run_ct run --rm --entrypoint echo configured:1 entry replaced
	[ "$output" = "entry replaced" ]
	export FROM_HOST=inherited
	run_ct run --rm -e FROM_HOST -e UNSET_HERE busybox sh -c 'echo $FROM_HOST ${UNSET_HERE:-absent}'
	[ "$output" = "inherited absent" ]
	printf 'A=1\n# comment\nB=two words\n' >"$TEST_ROOT/env"
	run_ct run --rm --env-file "$TEST_ROOT/env" busybox sh -c 'echo "$A/$B"'
	[ "$output" = "1/two words" ]
	# A working directory that does not exist is created.
	run_ct run --rm -w /new/dir busybox pwd
	[ "$output" = /new/dir ]
}

@test "a missing command or user is a clear error with docker's exit codes" {
	run_ct 127 run --rm busybox no-such-command
	assert_output_contains "no-such-command: executable file not found in \$PATH"
	run_ct 126 run --rm busybox /etc/passwd
	assert_output_contains "Permission denied"
	run_ct 125 run --rm -u nosuchuser busybox true
	assert_output_contains "unable to find user in the image's /etc/passwd (-u nosuchuser)"
	run_ct 125 run --rm nosuchimage:1 true
	assert_output_contains "nosuchimage"
	run_ct 125 run --rm --memory lots busybox true
	assert_output_contains "--memory takes a size"
}

@test "names are unique, become the hostname, and containers are found by name or id prefix" {
	run_ct run --name my-box busybox hostname
	[ "$output" = my-box ]
	run_ct 125 run --name my-box busybox true
	assert_output_contains "the name my-box is already in use"
	run_ct 125 run --name 'bad name!' busybox true
	assert_output_contains "invalid container name"
	local id
	id=$("$CT" inspect my-box | jq -r '.[0].id')
	[ ${#id} -eq 64 ]
	run_ct inspect "${id:0:8}"
	[ "$(jq -r '.[0].name' <<<"$output")" = my-box ]
	run_ct run --rm --hostname other busybox hostname
	[ "$output" = other ]
	run_ct delete my-box
	run_ct 125 inspect my-box
	assert_output_contains "no such container: my-box"
}

@test "detached containers: list, logs, stop with the stop signal, kill, delete" {
	run_ct run -d --name web busybox sh -c 'trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.1; done'
	local id=$output
	[ ${#id} -eq 64 ]
	wait_for 5 bash -c "'$CT' logs web | grep -q ready"
	run_ct list
	assert_output_contains web
	assert_output_contains running
	[ "$(echo "${lines[0]}" | tr -s ' ')" = "ID NAME IMAGE OS ARCH STATE ADDR PORTS" ]
	assert_output_contains "linux  $(dpkg --print-architecture)"
	run_ct list -q
	[ "$output" = "${id:0:12}" ]
	run_ct 125 delete web
	assert_output_contains "is running"

	run_ct stop web
	run_ct logs web
	assert_output_contains "got TERM"
	run_ct inspect web
	[ "$(jq -r '.[0].state.status' <<<"$output")" = stopped ]
	[ "$(jq -r '.[0].state.exitCode' <<<"$output")" = 7 ]
	run_ct list -q
	[ -z "$output" ]
	run_ct list -a
	assert_output_contains "stopped (7)"

	# start again, then kill.
	run_ct start web
	wait_for 5 bash -c "'$CT' inspect web | jq -e '.[0].state.status == \"running\"'"
	run_ct kill web
	wait_for 5 bash -c "'$CT' inspect web | jq -e '.[0].state.exitCode == 137'"
	run_ct delete web
	[ ! -e "$CONTAINER_APP_ROOT/containers/$id" ]
}

@test "stop falls back to SIGKILL after the grace time; delete -f stops first" {
	run_ct run -d --name stubborn busybox sh -c 'trap "" TERM; while true; do sleep 0.1; done'
	local start=$SECONDS
	run_ct stop -t 1 stubborn
	[ $((SECONDS - start)) -lt 5 ]
	run_ct inspect stubborn
	[ "$(jq -r '.[0].state.exitCode' <<<"$output")" = 137 ]
	run_ct run -d --name busy busybox sleep 100
	run_ct delete -f busy
	run_ct list -a -q
	[ "$output" = "$("$CT" inspect stubborn | jq -r '.[0].id[0:12]')" ]
}

@test "logs -n and -f; the log is timestamped and stream-tagged" {
	run_ct run -d --name talker busybox sh -c 'for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; sleep 1; echo late'
	wait_for 5 bash -c "'$CT' logs talker | grep -q 'line 5'"
	run_ct logs -n 2 talker
	assert_output_contains "line 5"
	assert_output_lacks "line 3"
	local log
	log=$(ls "$CONTAINER_APP_ROOT"/containers/*/stdio.log)
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z stdout F line 1$' "$log"
	grep -Eq 'Z stderr F oops$' "$log"
	run_ct logs -f talker
	assert_output_contains late
}

@test "create then start; wait prints the exit code; cidfile; prune" {
	run_ct create --name later --cidfile "$TEST_ROOT/cid" busybox sh -c 'exit 4'
	local id=$output
	[ "$(cat "$TEST_ROOT/cid")" = "$id" ]
	run_ct list -a
	assert_output_contains created
	run_ct start later
	run_ct wait later
	[ "$output" = 4 ]
	run_ct prune
	assert_output_contains "$id"
	run_ct list -a -q
	[ -z "$output" ]
}

@test "--read-only and --tmpfs" {
	run_ct 1 run --rm --read-only busybox touch /file
	assert_output_contains "Read-only file system"
	run_ct run --rm --read-only --tmpfs /scratch busybox sh -c 'touch /scratch/x && echo ok'
	[ "$output" = ok ]
	# Writes without --read-only land in the container's own layer only.
	run_ct run --name writer busybox sh -c 'echo data >/etc/added'
	local id
	id=$("$CT" inspect writer | jq -r '.[0].id')
	[ "$(cat "$CONTAINER_APP_ROOT/containers/$id/upper/etc/added")" = data ]
	run_ct 1 run --rm busybox cat /etc/added
}

@test "the container sees its own filesystem, processes and network" {
	run_ct run --rm busybox sh -c 'echo $$; ls /proc | grep -c "^[0-9]"'
	[ "${lines[0]}" = 1 ]
	run_ct run --rm --network none busybox sh -c 'ip -o link 2>/dev/null | wc -l; cat /proc/net/dev | grep -c ":"'
	[ "${lines[1]}" = 1 ]
	# On the default network: lo and eth0, nothing of the host's.
	run_ct run --rm busybox sh -c 'cat /proc/net/dev | grep -c ":"'
	[ "$output" = 2 ]
	run_ct run --rm busybox ls /dev
	for d in null zero full random urandom tty pts shm mqueue fd stdin stdout stderr ptmx; do
		grep -qx "$d" <<<"$output"
	done
	# Masked: present on the host, empty inside.
	local p
	for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do
		[ -e "$p" ] || continue
		run_ct run --rm busybox sh -c "cat $p | wc -c"
		[ "$output" = 0 ]
	done
	run_ct run --rm busybox sh -c 'exec 2>/dev/null; echo 1 > /proc/sys/kernel/domainname || echo ro-ok'
	[ "$output" = ro-ok ]
	# Only 0, 1 and 2 are open in the container.
	run_ct run --rm busybox ls /proc/self/fd
	# (3 is ls's own handle on the folder.)
	[ "$(echo $output)" = "0 1 2 3" ]
}

@test "an image a container uses is kept unless --force, and its content stays while the container exists" {
	run_ct run -d --name user busybox sleep 100
	run_ct 125 image delete busybox
	assert_output_contains "image docker.io/library/busybox:latest is used by container user"
	run_ct image prune -a
	assert_output_lacks "Deleted: docker.io/library/busybox"
	run_ct image delete --force busybox
	# The running container's snapshots survive the image's deletion.
	run_ct exec user ls /bin/busybox
	run_ct delete -f user
	run_ct image prune
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/snapshots")" ]
}

@test "-t gives the container a terminal of its own size; -i -t takes typed input" {
	run_ct 4 run -t --rm busybox sh -c 'tty; exit 4'
	assert_output_contains /dev/pts/0
	# A real terminal on our side (script), 40x100.
	run bash -c "echo 'echo typed-\$((1+2)); exit 6' | script -qec \"stty cols 100 rows 40; '$CT' run -it --rm busybox sh -c 'stty size; sh'\" /dev/null"
	echo "$output"
	[ "$status" -eq 6 ]
	assert_output_contains "40 100"
	assert_output_contains typed-3
	# Detached with a terminal: its output is still logged.
	run_ct run -dt --name ttylog busybox sh -c 'tty; echo done'
	wait_for 5 bash -c "'$CT' logs ttylog | grep -q done"
	run_ct logs ttylog
	assert_output_contains /dev/pts/0
}

@test "labels, --masked-path, --read-only-path, --shm-size, --stop-signal, --network host" {
	run_ct run --name labelled -l team=infra -l tier=web busybox true
	run_ct inspect labelled
	[ "$(jq -r '.[0].labels.team' <<<"$output")" = infra ]
	[ "$(jq -r '.[0].labels.tier' <<<"$output")" = web ]
	run_ct run --rm --masked-path /etc/passwd busybox sh -c 'wc -c </etc/passwd'
	[ "$output" = 0 ]
	run_ct 1 run --rm --read-only-path /etc busybox touch /etc/x
	assert_output_contains "Read-only file system"
	run_ct run --rm --shm-size 16m busybox sh -c "df -k /dev/shm | tail -1 | awk '{print \$2}'"
	[ "$output" = 16384 ]
	# --stop-signal replaces SIGTERM for stop.
	run_ct run -d --name usr1 --stop-signal USR1 busybox sh -c 'trap "exit 12" USR1; while true; do sleep 0.1; done'
	run_ct stop -t 5 usr1
	run_ct inspect usr1
	[ "$(jq -r '.[0].state.exitCode' <<<"$output")" = 12 ]
	# --network host shares our network namespace (this suite's private one).
	run_ct run --rm --network host busybox sh -c 'cat /proc/net/dev | grep -c :'
	[ "$output" = "$(grep -c : /proc/net/dev)" ]
	run_ct 125 run --rm --network bridge0 busybox true
	assert_output_contains "no network named bridge0"
}

@test "system stop stops the running containers first; a SIGTERM'ed API server leaves them running" {
	run_ct run -d --name keeps busybox sleep 100
	local helper
	helper=$("$CT" inspect keeps | jq -r '.[0].state.helperPid')
	kill -TERM "$(apiserver_pid)"
	wait_for 10 bash -c "[ ! -e '$PIDFILE' ]"
	kill -0 "$helper"
	start_system
	run_ct list
	assert_output_contains keeps
	run_ct system stop
	! kill -0 "$helper" 2>/dev/null
	start_system
	run_ct list -a
	assert_output_contains "stopped (137)"
}

@test "two starts of one container at once: one runs it, the other is refused" {
	run_ct create --name twice busybox sleep 30
	"$CT" start twice >"$TEST_ROOT/a" 2>&1 &
	local a=$!
	"$CT" start twice >"$TEST_ROOT/b" 2>&1 &
	local b=$!
	local sa=0 sb=0
	wait "$a" || sa=$?
	wait "$b" || sb=$?
	cat "$TEST_ROOT/a" "$TEST_ROOT/b"
	[ $((sa + sb)) -eq 125 ]
	grep -q "already" "$TEST_ROOT/a" "$TEST_ROOT/b"
	run_ct inspect twice
	[ "$(jq -r '.[0].state.status' <<<"$output")" = running ]
	run_ct delete -f twice
}

@test "--rm: a detached container goes when it exits; one that exits while no API server runs goes at the next boot" {
	run_ct run -d --rm --name quick busybox sh -c 'sleep 0.3'
	wait_for 10 bash -c "! '$CT' inspect quick >/dev/null 2>&1"
	# With no network, too (its exit is watched all the same).
	run_ct run -d --rm --network none --name quick2 busybox true
	wait_for 10 bash -c "! '$CT' inspect quick2 >/dev/null 2>&1"
	# The API server dies; the container exits meanwhile; the next boot removes it.
	run_ct run -d --rm --name later busybox sleep 1
	kill -KILL "$(apiserver_pid)"
	sleep 1.5
	start_system
	run_ct 125 inspect later
	assert_output_contains "no such container"
	# A foreground --rm run whose container exits while the API server is
	# down: the CLI waits for it to come back, or the boot removes it.
	run_ct run --rm --name fg busybox true
	run_ct list -a -q
	[ -z "$output" ]
	# Without --rm a container stays.
	run_ct run -d --name stays busybox true
	wait_for 10 bash -c "'$CT' inspect stays | jq -e '.[0].state.status == \"stopped\"' >/dev/null"
	run_ct list -a -q
	[ -n "$output" ]
}
