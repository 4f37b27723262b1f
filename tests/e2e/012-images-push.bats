#!/usr/bin/env bats
# Pushing to a real registry (Debian's docker-registry on 127.0.0.1), checked with
# skopeo: digests kept, blobs the registry has skipped, cross-repository mounts,
# chunked uploads, Basic auth, and multi-platform indexes.

load helpers

setup_file() {
	. "$CONTAINER_TEST_TOP/tests/fixtures/images.bash"
	. "$CONTAINER_TEST_TOP/tests/fixtures/registry.bash"
	export FX_TMP=$(mktemp -d /tmp/ct-fx.XXXXXX)
	images_build "$CONTAINER_TEST_BUILD/fixture-images"
	registry_start "$FX_TMP/plain" plain PLAIN
	registry_push_oci "$IMAGES_DIR/multiarch:latest" fixtures/multiarch:latest
	registry_push_oci "$IMAGES_DIR/layers:latest" fixtures/layers:latest
	registry_start "$FX_TMP/auth" htpasswd AUTH
	registry_use "$FX_TMP/plain"
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
}

# stored_digest REF: the digest of a reference in our store.
stored_digest() {
	"$CT" image list --format json | jq -r --arg n "$1" '.[] | select(.name == $n) | .digest'
}

@test "push an imported image; skopeo sees the same digest and copies it back" {
	start_system
	import_busybox "$PLAIN_HOST/push/busybox:1"
	local digest
	digest=$(stored_digest "$PLAIN_HOST/push/busybox:1")
	[ -n "$digest" ]

	run_ct image push --progress plain "$PLAIN_HOST/push/busybox:1"
	assert_output_contains ": done"
	assert_output_contains "Pushed 2 blobs"
	[ "${lines[-1]}" = "$digest" ]

	run registry_inspect push/busybox:1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r .Digest <<<"$output")" = "$digest" ]
	[ "$(registry_inspect push/busybox:1 --raw | sha256sum | cut -d' ' -f1)" = "${digest#sha256:}" ]

	registry_fetch_oci push/busybox:1 "$TEST_ROOT/back:1"
	[ "$(images_manifest_digest "$TEST_ROOT/back:1")" = "$digest" ]
	# And our own pull of it, into a fresh store, gives a working snapshot.
	run_ct image delete "$PLAIN_HOST/push/busybox:1"
	run_ct image pull --progress none "$PLAIN_HOST/push/busybox:1"
	[ "$(stored_digest "$PLAIN_HOST/push/busybox:1")" = "$digest" ]
	mount_image "$PLAIN_HOST/push/busybox:1" "$TEST_ROOT/rootfs"
	[ -x "$TEST_ROOT/rootfs/bin/busybox" ]
}

@test "a second push skips every blob the registry has" {
	start_system
	import_busybox "$PLAIN_HOST/again/busybox:1"
	run_ct image push --progress none "$PLAIN_HOST/again/busybox:1"
	run_ct image push --progress plain "$PLAIN_HOST/again/busybox:1"
	assert_output_contains "exists"
	assert_output_contains "Pushed 0 blobs (0 B), mounted 0, skipped 2"
	assert_output_lacks "uploading"
}

@test "a push to another repository on the same registry mounts the blobs" {
	start_system
	import_busybox "$PLAIN_HOST/mount-src/busybox:1"
	run_ct image push --progress none "$PLAIN_HOST/mount-src/busybox:1"
	run_ct image tag "$PLAIN_HOST/mount-src/busybox:1" "$PLAIN_HOST/mount-dst/busybox:2"
	run_ct image push --progress plain "$PLAIN_HOST/mount-dst/busybox:2"
	assert_output_contains ": mounted"
	assert_output_contains "Pushed 0 blobs (0 B), mounted 2, skipped 0"
	local digest
	digest=$(stored_digest "$PLAIN_HOST/mount-dst/busybox:2")
	[ "$(registry_inspect mount-dst/busybox:2 | jq -r .Digest)" = "$digest" ]
	registry_fetch_oci mount-dst/busybox:2 "$TEST_ROOT/back:2"
	[ "$(images_manifest_digest "$TEST_ROOT/back:2")" = "$digest" ]
}

@test "a chunked push sends PATCH requests and gives the same image" {
	start_system
	import_busybox "$PLAIN_HOST/chunked/busybox:1"
	local before
	before=$(grep -c 'http.request.method=PATCH' "$PLAIN_LOG" || true)
	run_ct image push --progress none --chunk-size 128k "$PLAIN_HOST/chunked/busybox:1"
	local digest
	digest=$(stored_digest "$PLAIN_HOST/chunked/busybox:1")
	[ "${lines[-1]}" = "$digest" ]
	# busybox's layer is about 1 MB: several chunks.
	local after
	after=$(grep -c 'http.request.method=PATCH' "$PLAIN_LOG" || true)
	echo "PATCH requests: $before -> $after"
	[ $((after - before)) -ge 4 ]
	[ "$(registry_inspect chunked/busybox:1 | jq -r .Digest)" = "$digest" ]
	registry_fetch_oci chunked/busybox:1 "$TEST_ROOT/back:1"
	[ "$(images_manifest_digest "$TEST_ROOT/back:1")" = "$digest" ]

	run_ct 125 image push --chunk-size lots "$PLAIN_HOST/chunked/busybox:1"
	assert_output_contains "--chunk-size"
}

@test "a registry with Basic auth refuses a push without login and takes it after" {
	start_system
	import_busybox "$AUTH_HOST/private/pushed:1"
	run_ct 125 image push --progress none "$AUTH_HOST/private/pushed:1"
	assert_output_contains "pushing $AUTH_HOST/private/pushed:1"
	assert_output_contains "container registry login"
	run "$CT" registry login -u testuser --password-stdin "$AUTH_HOST" <<<"testpass"
	echo "$output"
	[ "$status" -eq 0 ]
	run_ct image push --progress none "$AUTH_HOST/private/pushed:1"
	local digest
	digest=$(stored_digest "$AUTH_HOST/private/pushed:1")
	[ "${lines[-1]}" = "$digest" ]
	registry_use "$FX_TMP/auth"
	[ "$(registry_inspect private/pushed:1 | jq -r .Digest)" = "$digest" ]
}

@test "a multi-platform image round-trips; a platform not stored must be on the registry" {
	start_system
	local index other
	index=$(images_manifest_digest "$IMAGES_DIR/multiarch:latest")
	other=linux/arm64/v8
	[ "$(dpkg --print-architecture)" = arm64 ] && other=linux/amd64
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/multiarch"
	run_ct image tag "$PLAIN_HOST/fixtures/multiarch" "$PLAIN_HOST/copy/multiarch:1"

	# Only the host's platform is stored, and copy/multiarch has nothing yet.
	run_ct 125 image push --progress none "$PLAIN_HOST/copy/multiarch:1"
	assert_output_contains "$other"
	assert_output_contains "--platform"
	# Back to where it came from: the registry has the other platform.
	run_ct image push --progress plain "$PLAIN_HOST/fixtures/multiarch"
	assert_output_contains "skipped"
	[ "${lines[-1]}" = "$index" ]

	# With every platform stored, the index goes whole to a new repository.
	run_ct image pull --progress none --platform "$other" "$PLAIN_HOST/fixtures/multiarch"
	run_ct image push --progress plain "$PLAIN_HOST/copy/multiarch:1"
	assert_output_contains "mounted"
	[ "${lines[-1]}" = "$index" ]
	[ "$(registry_inspect copy/multiarch:1 --raw | sha256sum | cut -d' ' -f1)" = "${index#sha256:}" ]
	registry_fetch_oci copy/multiarch:1 "$TEST_ROOT/back:1"
	[ "$(images_manifest_digest "$TEST_ROOT/back:1")" = "$index" ]
	[ "$(find "$TEST_ROOT/back/blobs/sha256" -type f | wc -l)" = \
		"$(find "$IMAGES_DIR/multiarch/blobs/sha256" -type f | wc -l)" ]

	# One platform of it, under its own tag.
	run_ct image push --progress none --platform "$other" "$PLAIN_HOST/copy/multiarch:1"
	local one
	one=$(registry_inspect copy/multiarch:1 --raw | sha256sum | cut -d' ' -f1)
	[ "${lines[-1]}" = "sha256:$one" ]
	[ "sha256:$one" != "$index" ]
	[ "$(registry_inspect copy/multiarch:1 --raw | jq -r .mediaType)" = application/vnd.oci.image.manifest.v1+json ]
}

@test "a multi-layer image with a zstd layer round-trips through push and pull" {
	start_system
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/layers"
	local digest
	digest=$(stored_digest "$PLAIN_HOST/fixtures/layers:latest")
	run_ct image tag "$PLAIN_HOST/fixtures/layers" "$PLAIN_HOST/relayered/layers:1"
	run_ct image delete "$PLAIN_HOST/fixtures/layers"
	# No other reference on the registry: every blob is uploaded.
	run_ct image push --progress none "$PLAIN_HOST/relayered/layers:1"
	[ "${lines[-1]}" = "$digest" ]
	run_ct image delete "$PLAIN_HOST/relayered/layers:1"
	run_ct image pull --progress none "$PLAIN_HOST/relayered/layers:1"
	mount_image "$PLAIN_HOST/relayered/layers:1" "$TEST_ROOT/rootfs"
	run images_check_merged "$TEST_ROOT/rootfs" M
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "push of an image that is not here, or to a registry that is not there, is a clear error" {
	start_system
	run_ct 125 image push --progress none "$PLAIN_HOST/nosuch/image:1"
	assert_output_contains "no image $PLAIN_HOST/nosuch/image:1"
	assert_output_contains "container image tag"
	import_busybox "127.0.0.1:9/x/busybox:1"
	run_ct 125 image push --progress none "127.0.0.1:9/x/busybox:1"
	assert_output_contains "127.0.0.1:9"
	run_ct 125 image push --progress none --platform linux/s390x "127.0.0.1:9/x/busybox:1"
	assert_output_contains "linux/s390x"
}
