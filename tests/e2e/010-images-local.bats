#!/usr/bin/env bats
# Images without a registry: import, list, inspect, tag, delete, prune.

load helpers

@test "import a root filesystem tar, list and inspect it" {
	start_system
	local tar
	tar=$(busybox_rootfs)
	gzip -c "$tar" >"$TEST_ROOT/rootfs.tar.gz"
	run_ct image import -c 'CMD ["sh", "-c", "echo hi"]' -c 'ENV GREETING=hello' \
		-c 'WORKDIR /home/app' -c 'USER app' -c 'LABEL org.example=yes' -c 'EXPOSE 80' \
		"$TEST_ROOT/rootfs.tar.gz" busybox:1
	[[ "$output" == sha256:* ]]
	local digest=$output

	run_ct image list
	assert_output_contains "busybox"
	assert_output_contains "${digest:7:12}"
	[ "${lines[0]}" = "$(echo "${lines[0]}" | grep -E '^NAME +TAG +DIGEST +SIZE +CREATED$')" ]
	run_ct image list -q
	[ "$output" = "${digest:7:12}" ]
	run_ct image list --format json
	[ "$(jq -r '.[0].name' <<<"$output")" = docker.io/library/busybox:1 ]
	[ "$(jq -r '.[0].tag' <<<"$output")" = 1 ]
	[ "$(jq -r '.[0].platform' <<<"$output")" = "linux/$(dpkg --print-architecture)" ]

	run_ct image inspect busybox:1
	[ "$(jq -r '.[0].config.config.Cmd | join(" ")' <<<"$output")" = "sh -c echo hi" ]
	[ "$(jq -r '.[0].config.config.Env[1]' <<<"$output")" = GREETING=hello ]
	[ "$(jq -r '.[0].config.config.Env[0]' <<<"$output")" = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ]
	[ "$(jq -r '.[0].config.config.WorkingDir' <<<"$output")" = /home/app ]
	[ "$(jq -r '.[0].config.config.User' <<<"$output")" = app ]
	[ "$(jq -r '.[0].config.config.Labels["org.example"]' <<<"$output")" = yes ]
	[ "$(jq -r '.[0].config.config.ExposedPorts | keys[0]' <<<"$output")" = 80/tcp ]
	local diff_id snapshot
	diff_id=$(jq -r '.[0].config.rootfs.diff_ids[0]' <<<"$output")
	snapshot=$(jq -r '.[0].snapshots[0]' <<<"$output")

	# The diff_id is the sha256 of the uncompressed tar; the layer blob is gzip and
	# named by its own digest; the snapshot holds the unpacked tree.
	[ "$diff_id" = "sha256:$(sha256sum <"$tar" | cut -d' ' -f1)" ]
	local layer
	layer=$(jq -r '.[0].manifest.layers[0].digest' <<<"$output")
	[ "$(sha256sum <"$CONTAINER_APP_ROOT/content/blobs/sha256/${layer:7}" | cut -d' ' -f1)" = "${layer:7}" ]
	[ "$(gzip -dc "$CONTAINER_APP_ROOT/content/blobs/sha256/${layer:7}" | sha256sum | cut -d' ' -f1)" = "${diff_id:7}" ]
	[ -x "$snapshot/fs/bin/busybox" ]
	[ "$(readlink "$snapshot/fs/bin/sh")" = busybox ]
	[ "$(stat -c %a "$snapshot/fs/tmp")" = 1777 ]
	[ "$(stat -c %u "$snapshot/fs/home/app")" = 1000 ]
	# Nothing half-written is left behind.
	[ -z "$(ls "$CONTAINER_APP_ROOT/content/ingest")" ]
}

@test "the same rootfs imports to the same digest (reproducible)" {
	start_system
	import_busybox a:1
	local first=$output
	import_busybox b:1
	# The config carries the import time, so compare the layer instead.
	run_ct image inspect a:1 b:1
	[ "$(jq -r '.[0].manifest.layers[0].digest' <<<"$output")" = "$(jq -r '.[1].manifest.layers[0].digest' <<<"$output")" ]
	[ "$(ls "$CONTAINER_APP_ROOT/snapshots" | wc -l)" -eq 1 ]
	[[ "$first" == sha256:* ]]
}

@test "tag, delete by name and by id, and garbage collection" {
	start_system
	import_busybox busybox:latest
	local digest=$output
	run_ct image tag busybox 127.0.0.1:5000/tools/box:v2
	run_ct image list
	assert_output_contains "127.0.0.1:5000/tools/box"
	assert_output_contains "v2"

	run_ct image delete busybox
	assert_output_contains "Deleted: docker.io/library/busybox:latest"
	assert_output_contains "Reclaimed 0 B"
	# Still referenced by the other name: content stays.
	[ -n "$(ls "$CONTAINER_APP_ROOT/content/blobs/sha256")" ]

	# An id removes every name it has.
	run_ct image tag 127.0.0.1:5000/tools/box:v2 other:1
	run_ct image rm "${digest:7:12}"
	assert_output_contains "Deleted: docker.io/library/other:1"
	assert_output_contains "Deleted: 127.0.0.1:5000/tools/box:v2"
	[ -z "$(ls "$CONTAINER_APP_ROOT/content/blobs/sha256")" ]
	[ -z "$(ls "$CONTAINER_APP_ROOT/snapshots")" ]
	run_ct image list -q
	[ -z "$output" ]
}

@test "image delete --all and prune" {
	start_system
	import_busybox one:1
	import_busybox two:1
	run_ct image prune
	assert_output_contains "Reclaimed 0 B"
	run_ct image delete --all
	assert_output_contains "Deleted: docker.io/library/one:1"
	assert_output_contains "Deleted: docker.io/library/two:1"
	run_ct image list -q
	[ -z "$output" ]
	import_busybox three:1
	run_ct image prune -a
	assert_output_contains "Deleted: docker.io/library/three:1"
	[ -z "$(ls "$CONTAINER_APP_ROOT/snapshots")" ]
}

@test "bad references and missing images get clear errors" {
	start_system
	run_ct 125 image inspect 'UPPER/case'
	assert_output_contains "invalid reference"
	run_ct 125 image inspect nosuch:1
	assert_output_contains "no image nosuch:1 here"
	run_ct 125 image tag nosuch:1 x:1
	assert_output_contains "no image nosuch:1"
	import_busybox busybox:1
	run_ct 125 image tag busybox:1 'x@sha256:0000000000000000000000000000000000000000000000000000000000000000'
	assert_output_contains "cannot tag with a digest"
	run_ct 125 image import "$TEST_ROOT/does-not-exist.tar" x:1
	assert_output_contains "opening $TEST_ROOT/does-not-exist.tar"
	run_ct 125 image import -c 'RUN rm -rf /' "$(busybox_rootfs)" x:1
	assert_output_contains "--change RUN is not supported"
	run_ct 125 image import -c 'CMD [1, 2]' "$(busybox_rootfs)" x:1
	assert_output_contains "JSON array of strings"
}

@test "a hostile or broken archive is refused and nothing is written outside the store" {
	start_system
	mkdir -p "$TEST_ROOT/h"
	echo secret >"$TEST_ROOT/h/f"
	# An entry that climbs out with "..".
	tar -C "$TEST_ROOT/h" -cf "$TEST_ROOT/escape.tar" --transform 's,^f$,../../escaped,' f
	run_ct 125 image import "$TEST_ROOT/escape.tar" evil:1
	assert_output_contains "escaped"
	[ ! -e "$CONTAINER_APP_ROOT/escaped" ]
	[ ! -e "$CONTAINER_APP_ROOT/snapshots/escaped" ]
	# A symlink to / and then a file through it.
	ln -s / "$TEST_ROOT/h/link"
	mkdir -p "$TEST_ROOT/h2/link/tmp"
	echo pwned >"$TEST_ROOT/h2/link/tmp/pwned-by-test-$$"
	tar -C "$TEST_ROOT/h" -cf "$TEST_ROOT/through.tar" link
	tar -C "$TEST_ROOT/h2" -rf "$TEST_ROOT/through.tar" "link/tmp/pwned-by-test-$$"
	run_ct 125 image import "$TEST_ROOT/through.tar" evil:2
	[ ! -e "/tmp/pwned-by-test-$$" ]
	# Not a tar at all, and a truncated gzip.
	head -c 5000 /dev/urandom >"$TEST_ROOT/garbage"
	run_ct 125 image import "$TEST_ROOT/garbage" evil:3
	gzip -c "$(busybox_rootfs)" | head -c 100000 >"$TEST_ROOT/truncated.tar.gz"
	run_ct 125 image import "$TEST_ROOT/truncated.tar.gz" evil:4
	assert_output_contains "gzip"
	# The store is as it was: no image, no leftovers.
	run_ct image list -q
	[ -z "$output" ]
	[ -z "$(ls "$CONTAINER_APP_ROOT/content/ingest")" ]
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/snapshots")" ]
	[ -z "$(ls "$CONTAINER_APP_ROOT/content/blobs/sha256")" ]
}

@test "the unpack limits are properties, and a layer past them is refused" {
	start_system
	run_ct system property set image.unpack.maxEntries 50
	run_ct 125 image import "$(busybox_rootfs)" toomany:1
	assert_output_contains "entries"
	run_ct system property clear image.unpack.maxEntries
	run_ct system property set image.unpack.maxBytes 1000
	run_ct 125 image import "$(busybox_rootfs)" toobig:1
	assert_output_contains "bytes"
	run_ct 125 system property set image.unpack.maxBytes lots
	assert_output_contains "not a positive whole number"
	run_ct system property clear image.unpack.maxBytes
	import_busybox fine:1
}
