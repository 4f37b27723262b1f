#!/usr/bin/env bats
# What a container may do: capabilities, seccomp, no_new_privs, rlimits,
# cgroup limits and OOM, and the regressions for known escapes.

load helpers

setup() {
	ct_setup
	start_system
	import_busybox busybox:latest
}

status_field() {
	grep "^$1:" <<<"$output" | awk '{print $2}'
}

@test "docker's default capabilities, no_new_privs and the seccomp filter" {
	run_ct run --rm busybox cat /proc/self/status
	[ "$(status_field CapBnd)" = 00000000a80425fb ]
	[ "$(status_field CapEff)" = 00000000a80425fb ]
	[ "$(status_field CapPrm)" = 00000000a80425fb ]
	[ "$(status_field CapInh)" = 0000000000000000 ]
	[ "$(status_field CapAmb)" = 0000000000000000 ]
	[ "$(status_field NoNewPrivs)" = 1 ]
	[ "$(status_field Seccomp)" = 2 ]
	# A user other than root holds no effective capability.
	run_ct run --rm -u app busybox cat /proc/self/status
	[ "$(status_field CapEff)" = 0000000000000000 ]
	run_ct run --rm --cap-drop ALL --cap-add NET_ADMIN busybox cat /proc/self/status
	[ "$(status_field CapEff)" = 0000000000001000 ]
	run_ct 125 run --rm --cap-add NOT_A_CAP busybox true
	assert_output_contains "unknown capability NOT_A_CAP"
	# The filter refuses what docker's refuses; unconfined lifts it.
	run_ct 1 run --rm busybox unshare -m true
	assert_output_contains "Operation not permitted"
	run_ct run --rm --security-opt seccomp=unconfined busybox cat /proc/self/status
	[ "$(status_field Seccomp)" = 0 ]
}

@test "rlimits are set, clamped to the host, and refused when inconsistent" {
	run_ct run --rm --ulimit nofile=100:200 busybox sh -c 'ulimit -n; ulimit -Hn'
	[ "${lines[0]}" = 100 ]
	[ "${lines[1]}" = 200 ]
	run_ct 125 run --rm --ulimit nofile=300:200 busybox true
	assert_output_contains "the soft limit is above the hard limit"
	run_ct 125 run --rm --ulimit bogus=1 busybox true
	assert_output_contains "unknown limit"
	# Asking for more than the host allows gives what the host allows.
	local host_hard
	host_hard=$(ulimit -Hn)
	run_ct run --rm --ulimit nofile=999999999 busybox sh -c 'ulimit -Hn'
	[ "$output" -le "$host_hard" ]
}

@test "memory, cpu and pids limits; an OOM kill is reported" {
	run_ct run -d --name limited -m 64m --cpus 0.5 --pids-limit 50 busybox sleep 100
	local id=$output
	# Seen from the host (the container has no cgroupfs mounted).
	[ "$(cat /sys/fs/cgroup/memory/container/$id/memory.limit_in_bytes)" = $((64 * 1024 * 1024)) ]
	[ "$(cat /sys/fs/cgroup/cpu/container/$id/cpu.cfs_quota_us)" = 50000 ]
	[ "$(cat /sys/fs/cgroup/pids/container/$id/pids.max)" = 50 ]
	# Inside, the cgroup namespace makes the container's cgroup the root.
	run_ct exec limited cat /proc/self/cgroup
	assert_output_contains "memory:/"
	assert_output_lacks "$id"
	run_ct delete -f limited
	[ ! -e "/sys/fs/cgroup/memory/container/$id" ]
	run_ct '?' run --rm --pids-limit 5 busybox sh -c 'for i in 1 2 3 4 5 6; do sleep 1 & done; wait'
	assert_output_contains "can't fork"
	run_ct 137 run --name hog -m 32m busybox sh -c 'x=$(head -c 200m /dev/zero | tr "\0" a)'
	run_ct inspect hog
	[ "$(jq -r '.[0].state.oomKilled' <<<"$output")" = true ]
	[ "$(jq -r '.[0].state.exitCode' <<<"$output")" = 137 ]
	# The cgroup went with the container.
	local id
	id=$(jq -r '.[0].id' <<<"$output")
	[ ! -e "/sys/fs/cgroup/memory/container/$id" ]
	[ ! -e "/sys/fs/cgroup/pids/container/$id" ]
}

@test "--init runs our init as PID 1, which reaps and forwards signals" {
	run_ct run --rm --init busybox sh -c 'ps -o pid,args'
	assert_output_contains "1 /dev/init -- sh -c"
	run_ct run -d --init --name inited busybox sh -c 'trap "exit 9" TERM; while true; do sleep 0.1; done'
	run_ct stop -t 5 inited
	run_ct inspect inited
	[ "$(jq -r '.[0].state.exitCode' <<<"$output")" = 9 ]
}

@test "the runtime binary can't be written through /proc/PID/exe (CVE-2019-5736 class)" {
	run_ct run -d --name victim busybox sleep 30
	local helper
	helper=$("$CT" inspect victim | jq -r '.[0].state.helperPid')
	kill -0 "$helper"
	# It runs from a sealed memory copy: even root can't open it for writing.
	[[ "$(readlink /proc/$helper/exe)" == *memfd:container-runtime-linux* ]]
	run bash -c "echo overwritten >/proc/$helper/exe"
	[ "$status" -ne 0 ]
	run_ct delete -f victim
}

@test "runtime helpers share one sealed copy of their program, made again when the file changes" {
	local program=$CONTAINER_TEST_STAGE/libexec/container/plugins/container-runtime-linux/bin/container-runtime-linux
	run_ct run -d --name one busybox sleep 30
	run_ct run -d --name two busybox sleep 30
	local h1 h2 h3
	h1=$("$CT" inspect one | jq -r '.[0].state.helperPid')
	h2=$("$CT" inspect two | jq -r '.[0].state.helperPid')
	[[ "$(readlink /proc/$h2/exe)" == *memfd:container-runtime-linux* ]]
	# The same memfd: the program's pages are shared, and no helper copied itself.
	[ "$(stat -L -c %i /proc/$h1/exe)" = "$(stat -L -c %i /proc/$h2/exe)" ]
	# The program on disk changed (an upgrade): the next helper runs the new one,
	# and the running helpers keep the copy they started from.
	local mtime
	mtime=$(stat -c %Y "$program")
	touch -d "@$((mtime + 1))" "$program"
	run_ct run -d --name three busybox sleep 30
	touch -d "@$mtime" "$program"
	h3=$("$CT" inspect three | jq -r '.[0].state.helperPid')
	[ "$(stat -L -c %i /proc/$h3/exe)" != "$(stat -L -c %i /proc/$h1/exe)" ]
	kill -0 "$h1"
	run_ct exec one true
	run bash -c "echo overwritten >/proc/$h3/exe"
	[ "$status" -ne 0 ]
	run_ct delete -f one two three
}

@test "a symlinked /dev or mount point in the image can't send a mount outside the rootfs (CVE-2021-30465 class)" {
	local root=$TEST_ROOT/evil-rootfs target=$TEST_ROOT/host-target
	mkdir -p "$root" "$target"
	tar -C "$root" -xf "$(busybox_rootfs)"
	rm -rf "$root/dev" "$root/tmp"
	# /dev points at a host folder, and so does a --tmpfs destination.
	ln -s "$target" "$root/dev"
	ln -s "$target" "$root/tmp"
	tar -C "$root" -cf "$TEST_ROOT/evil.tar" .
	run_ct image import -c 'CMD ["sh"]' "$TEST_ROOT/evil.tar" evil:1
	run_ct '?' run --rm --tmpfs /tmp evil:1 ls /dev
	# Nothing was mounted on or created in the host folder.
	[ -z "$(ls -A "$target")" ]
	! grep -q " $target " /proc/self/mounts
}

@test "an API server killed with SIGKILL finds its running containers and their state" {
	run_ct run -d --name survivor busybox sh -c 'echo alive; sleep 100'
	run_ct run -d --name quitter busybox sh -c 'sleep 1; exit 3'
	local pid
	pid=$(apiserver_pid)
	kill -KILL "$pid"
	sleep 2
	start_system
	run_ct list
	assert_output_contains survivor
	run_ct list -a
	assert_output_contains "stopped (3)"
	run_ct logs survivor
	assert_output_contains alive
	run_ct exec survivor echo still reachable
	[ "$output" = "still reachable" ]
	run_ct delete -f survivor
}

@test "exec joins the container: namespaces, user, workdir, env, exit code" {
	run_ct run -d --name box -e FROM_RUN=1 busybox sleep 100
	run_ct 5 exec box sh -c 'echo $FROM_RUN $(hostname); exit 5'
	[ "$output" = "1 box" ]
	run_ct exec -u app -w /tmp -e EXTRA=x box sh -c 'echo $(id -un) $(pwd) $EXTRA'
	[ "$output" = "app /tmp x" ]
	run_ct exec box ps -o pid,args
	assert_output_contains "1 sleep 100"

	run_ct exec box sh -c 'grep Seccomp: /proc/self/status'
	assert_output_contains 2
	echo piped | run_ct exec -i box cat
	run_ct 127 exec box nosuch
	# -t: a terminal of the exec's own, sized like ours.
	run bash -c "echo 'echo typed-\$((2+3)); exit 7' | script -qec \"stty cols 90 rows 30; '$CT' exec -it box sh -c 'tty; stty size; sh'\" /dev/null"
	echo "$output"
	[ "$status" -eq 7 ]
	assert_output_contains /dev/pts/
	assert_output_contains "30 90"
	assert_output_contains typed-5
	run_ct exec -d box sleep 1
	run_ct stop -t 1 box
	run_ct 125 exec box true
	assert_output_contains "not running"
}

@test "stats reads CPU, memory, pids and block I/O from the cgroup" {
	run_ct run -d --name busy -m 128m busybox sh -c 'while true; do :; done'
	run_ct run -d --name idle busybox sleep 100
	run_ct stats --no-stream --format json busy
	local cpu mem limit pids
	cpu=$(jq -r '.[0].cpuPercent' <<<"$output")
	mem=$(jq -r '.[0].memoryUsage' <<<"$output")
	limit=$(jq -r '.[0].memoryLimit' <<<"$output")
	pids=$(jq -r '.[0].pidsCurrent' <<<"$output")
	# A busy loop uses most of a core; the memory limit is the one set.
	[ "$(jq -n "$cpu > 50")" = true ]
	[ "$limit" = $((128 * 1024 * 1024)) ]
	[ "$mem" -gt 0 ]
	[ "$pids" -ge 1 ]
	run_ct stats --no-stream
	assert_output_contains busy
	assert_output_contains idle
	assert_output_contains "MEM USAGE / LIMIT"
	run_ct delete -f busy idle
	run_ct 125 stats --no-stream busy
}

@test "a working directory through the runtime's descriptors can't lead out of the rootfs (CVE-2024-21626 class)" {
	local fd
	for fd in $(seq 3 24); do
		run "$CT" run --rm -w "/proc/self/fd/$fd" busybox sh -c 'ls ../../../../../../..'
		echo "fd $fd: [exit $status] $output"
		[ "$status" -eq 125 ]
		assert_output_lacks "$TEST_ROOT"
	done
}

@test "an image whose /etc/passwd is a FIFO, or a message that is not UTF-8, gets an error, not a hang or a crash" {
	local root=$TEST_ROOT/fifo-rootfs
	mkdir -p "$root"
	tar -C "$root" -xf "$(busybox_rootfs)"
	rm "$root/etc/passwd"
	mkfifo "$root/etc/passwd"
	tar -C "$root" -cf "$TEST_ROOT/fifo.tar" .
	run_ct image import -c 'CMD ["true"]' "$TEST_ROOT/fifo.tar" fifo:1
	run timeout 30 "$CT" run --rm -u app fifo:1 true
	echo "$output"
	[ "$status" -eq 125 ]
	assert_output_contains "unable to find user"
	# An error message cut at its size limit inside a multibyte character.
	local long
	long=$(printf 'é%.0s' $(seq 600))
	run_ct 125 run --rm -w "/etc/passwd/$long" busybox true
	assert_output_contains "working directory"
	run_ct list -a
}
