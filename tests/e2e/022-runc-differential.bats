#!/usr/bin/env bats
# The same OCI bundle run by runc and by our runtime gives the process the same
# view: capabilities, no_new_privs, mounts, /dev, hostname, user, environment,
# rlimits. (runc loads no seccomp filter here: our spec carries the profile's
# choice as an annotation, which runc ignores, so the Seccomp line is left out.)

load helpers

PROBE='grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status
echo "hostname $(hostname)"
echo "id $(id)"
env | grep -v "^HOME=" | sort
echo "nofile $(ulimit -Sn) $(ulimit -Hn)"
echo "cwd $(pwd)"
ls -a /dev | sort | tr "\n" " "; echo
awk "{print \$5, \$9}" /proc/self/mountinfo | sort'

@test "runc and container-runtime-linux agree on the same bundle" {
	command -v runc >/dev/null || skip "runc is not installed"
	start_system
	import_busybox busybox:latest
	run_ct create --name diff --ulimit nofile=1024:4096 -w /tmp -e FOO=bar busybox sh -c "$PROBE"
	local bundle
	bundle=$("$CT" inspect diff | jq -r '.[0].bundle')

	# A plain bundle: the rootfs unpacked in a folder, no overlay annotations.
	local b=$TEST_ROOT/bundle
	mkdir -p "$b/rootfs"
	tar -C "$b/rootfs" -xf "$(busybox_rootfs)"
	jq '.root.path = "rootfs" | del(.annotations["org.container.rootfs.lower"],
		.annotations["org.container.rootfs.upper"], .annotations["org.container.rootfs.work"])
		| .linux.cgroupsPath = "container/differential-'$$'"' \
		"$bundle/config.json" >"$b/config.json"

	runc --root "$TEST_ROOT/runc-state" run --bundle "$b" "diff-$$" >"$TEST_ROOT/runc.out" 2>&1
	local helper=$CONTAINER_TEST_STAGE/libexec/container/plugins/container-runtime-linux/bin/container-runtime-linux
	mkdir -p "$TEST_ROOT/sock"
	"$helper" start --socket "$TEST_ROOT/sock/s" --bundle "$b" --id "diff-$$" --attach \
		>"$TEST_ROOT/ours.out" 2>&1 3>"$TEST_ROOT/ready" </dev/null
	wait_for 10 bash -c "jq -e '.status == \"stopped\"' '$b/state.json'"
	cat "$TEST_ROOT/ready"
	diff -u "$TEST_ROOT/runc.out" "$TEST_ROOT/ours.out"
	# And the probe really ran.
	grep -q "^CapBnd:	00000000a80425fb" "$TEST_ROOT/ours.out"
	grep -q "^FOO=bar" "$TEST_ROOT/ours.out"
	grep -q "^nofile 1024 4096" "$TEST_ROOT/ours.out"
}
