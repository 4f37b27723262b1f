#!/usr/bin/env bats
# image save (OCI image layout tar) and image load (that, and `docker save`
# archives): round trips, interop with skopeo, and hostile archives that must leave
# the store as it was.

load helpers

setup_file() {
	. "$CONTAINER_TEST_TOP/tests/fixtures/images.bash"
	. "$CONTAINER_TEST_TOP/tests/fixtures/registry.bash"
	export FX_TMP=$(mktemp -d /tmp/ct-fx.XXXXXX)
	images_build "$CONTAINER_TEST_BUILD/fixture-images"
	registry_start "$FX_TMP/plain" plain PLAIN
	registry_push_oci "$IMAGES_DIR/layers:latest" fixtures/layers:latest
	registry_push_oci "$IMAGES_DIR/multiarch:latest" fixtures/multiarch:latest
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

# name digest, one line per stored image.
image_digests() {
	"$CT" image list --format json | jq -r '.[] | "\(.name) \(.digest)"'
}

# Everything the store holds: references, blobs, snapshots; and nothing half made.
store_state() {
	image_digests
	ls "$CONTAINER_APP_ROOT/content/blobs/sha256"
	ls "$CONTAINER_APP_ROOT/snapshots"
	ls -A "$CONTAINER_APP_ROOT/content/ingest"
}

@test "save, delete, load: the same digests and working snapshots" {
	start_system
	import_busybox
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/layers"
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/multiarch"
	local before
	before=$(image_digests)
	[ "$(wc -l <<<"$before")" = 3 ]

	run_ct image save -o "$TEST_ROOT/all.tar" busybox "$PLAIN_HOST/fixtures/layers" \
		"$PLAIN_HOST/fixtures/multiarch"
	[ -z "$output" ]
	run tar -tf "$TEST_ROOT/all.tar"
	[ "${lines[0]}" = oci-layout ]
	[ "${lines[1]}" = index.json ]
	[ "$(tar -xOf "$TEST_ROOT/all.tar" index.json | jq -r '.manifests | length')" = 3 ]
	[ "$(tar -xOf "$TEST_ROOT/all.tar" index.json |
		jq -r '.manifests[] | select(.annotations["io.containerd.image.name"] == "docker.io/library/busybox:latest") | .annotations["org.opencontainers.image.ref.name"]')" = latest ]
	# Every blob is named by its content.
	mkdir "$TEST_ROOT/layout"
	tar -xf "$TEST_ROOT/all.tar" -C "$TEST_ROOT/layout"
	(cd "$TEST_ROOT/layout/blobs/sha256" && for f in *; do
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$f" ] || { echo "blob $f is wrong"; exit 1; }
	done)

	run_ct image delete -a
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/content/blobs/sha256")" ]
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/snapshots")" ]
	run_ct image load -i "$TEST_ROOT/all.tar"
	assert_output_contains "Loaded image: docker.io/library/busybox:latest"
	assert_output_contains "Loaded image: $PLAIN_HOST/fixtures/layers:latest"
	assert_output_contains "Loaded image: $PLAIN_HOST/fixtures/multiarch:latest"
	[ "$(image_digests)" = "$before" ]

	mount_image "$PLAIN_HOST/fixtures/layers" "$TEST_ROOT/rootfs"
	run images_check_merged "$TEST_ROOT/rootfs" M
	echo "$output"
	[ "$status" -eq 0 ]
	mount_image busybox "$TEST_ROOT/bb"
	[ -x "$TEST_ROOT/bb/bin/busybox" ]
	mount_image "$PLAIN_HOST/fixtures/multiarch" "$TEST_ROOT/host"
	[ "$(cat "$TEST_ROOT/host/etc/platform")" = "linux/$(dpkg --print-architecture)" ]
	# Loading what is already here changes nothing.
	local state
	state=$(store_state)
	run_ct image load -i "$TEST_ROOT/all.tar"
	[ "$(store_state)" = "$state" ]
}

@test "save writes to stdout, load reads stdin; skopeo reads what save wrote" {
	start_system
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/layers"
	local digest
	digest=$(images_manifest_digest "$IMAGES_DIR/layers:latest")
	run bash -c '"$1" image save "$2" >"$3"' _ "$CT" "$PLAIN_HOST/fixtures/layers" "$TEST_ROOT/one.tar"
	echo "$output"
	[ "$status" -eq 0 ]
	run bash -c '"$1" image save -o - "$2" | cmp - "$3"' _ "$CT" "$PLAIN_HOST/fixtures/layers" "$TEST_ROOT/one.tar"
	echo "$output"
	[ "$status" -eq 0 ]

	run registry_skopeo inspect "oci-archive:$TEST_ROOT/one.tar"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r .Digest <<<"$output")" = "$digest" ]
	registry_skopeo copy -q "oci-archive:$TEST_ROOT/one.tar" "oci:$TEST_ROOT/copy:x"
	[ "$(images_manifest_digest "$TEST_ROOT/copy:x")" = "$digest" ]

	run_ct image delete -a
	run bash -c '"$1" image load <"$2"' _ "$CT" "$TEST_ROOT/one.tar"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "Loaded image: $PLAIN_HOST/fixtures/layers:latest" ]
	[ "$(image_digests)" = "$PLAIN_HOST/fixtures/layers:latest $digest" ]
}

@test "load a docker save archive (skopeo docker-archive), plain and gzipped, and push it" {
	start_system
	registry_skopeo copy -q "oci:$IMAGES_DIR/layers-gzip:latest" \
		"docker-archive:$TEST_ROOT/docker.tar:fixtures/dlayers:v1"
	run_ct image load -i "$TEST_ROOT/docker.tar"
	[ "$output" = "Loaded image: docker.io/fixtures/dlayers:v1" ]
	# The image id (config digest) is the one docker would show.
	local config
	config=$(jq -r .config.digest "$(images_blob "$IMAGES_DIR/layers-gzip" "$(images_manifest_digest "$IMAGES_DIR/layers-gzip:latest")")")
	run_ct image inspect fixtures/dlayers:v1
	[ "$(jq -r '.[0].configDigest' <<<"$output")" = "$config" ]
	[ "$(jq -r '.[0].manifest.mediaType' <<<"$output")" = application/vnd.docker.distribution.manifest.v2+json ]
	mount_image fixtures/dlayers:v1 "$TEST_ROOT/rootfs"
	run images_check_merged "$TEST_ROOT/rootfs" M
	echo "$output"
	[ "$status" -eq 0 ]
	# docker-archive's legacy files (VERSION, json) are not kept.
	[ "$(ls "$CONTAINER_APP_ROOT/content/blobs/sha256" | wc -l)" = 6 ]

	registry_skopeo copy -q "oci:$IMAGES_DIR/busybox:latest" \
		"docker-archive:$TEST_ROOT/bb.tar:fixtures/dbox:v2"
	gzip -c "$TEST_ROOT/bb.tar" >"$TEST_ROOT/bb.tar.gz"
	run_ct image load -i "$TEST_ROOT/bb.tar.gz"
	[ "$output" = "Loaded image: docker.io/fixtures/dbox:v2" ]
	mount_image fixtures/dbox:v2 "$TEST_ROOT/bb"
	run images_check_merged "$TEST_ROOT/bb" B
	echo "$output"
	[ "$status" -eq 0 ]

	# Docker media types go to a registry as they are.
	run_ct image tag fixtures/dbox:v2 "$PLAIN_HOST/loaded/dbox:v2"
	run_ct image push --progress none "$PLAIN_HOST/loaded/dbox:v2"
	local digest=${lines[-1]}
	[ "$(registry_inspect loaded/dbox:v2 | jq -r .Digest)" = "$digest" ]
}

@test "an archive that names images only by tag needs --name" {
	start_system
	images_archive "$IMAGES_DIR/busybox" "$TEST_ROOT/bare.tar"
	run_ct 125 image load -i "$TEST_ROOT/bare.tar"
	assert_output_contains 'only the tag "latest"'
	assert_output_contains "--name"
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/content/blobs/sha256")" ]
	run_ct image load --name fixtures/bb -i "$TEST_ROOT/bare.tar"
	[ "$output" = "Loaded image: docker.io/fixtures/bb:latest" ]
	[ "$(image_digests)" = "docker.io/fixtures/bb:latest $(images_manifest_digest "$IMAGES_DIR/busybox:latest")" ]
}

@test "hostile archives are refused and leave the store as it was" {
	start_system
	import_busybox
	local state
	state=$(store_state)
	mkdir -p "$TEST_ROOT/h"
	cp -r "$IMAGES_DIR/busybox" "$TEST_ROOT/h/layout"
	echo evil >"$TEST_ROOT/h/layout/evil"

	# An entry named ../evil.
	tar -cf "$TEST_ROOT/dotdot.tar" -P --transform 's,^evil$,../evil,' -C "$TEST_ROOT/h/layout" \
		oci-layout evil index.json blobs
	tar -tvf "$TEST_ROOT/dotdot.tar" 2>/dev/null | grep -F ' ../evil'
	run_ct 125 image load --name x/dotdot -i "$TEST_ROOT/dotdot.tar"
	assert_output_contains '"../evil"'
	assert_output_contains '".."'
	[ "$(store_state)" = "$state" ]
	[ ! -e "$CONTAINER_APP_ROOT/content/evil" ]

	# A blob whose bytes do not match its name.
	images_archive "$IMAGES_DIR/hostile/digest-mismatch" "$TEST_ROOT/mismatch.tar"
	run_ct 125 image load --name x/mismatch -i "$TEST_ROOT/mismatch.tar"
	assert_output_contains "does not match its digest"
	[ "$(store_state)" = "$state" ]

	# A layer the manifest lists but the archive lacks.
	local manifest layer
	manifest=$(images_blob "$TEST_ROOT/h/layout" "$(images_manifest_digest "$TEST_ROOT/h/layout")")
	layer=$(jq -r '.layers[0].digest' "$manifest")
	rm "$(images_blob "$TEST_ROOT/h/layout" "$layer")" "$TEST_ROOT/h/layout/evil"
	images_archive "$TEST_ROOT/h/layout" "$TEST_ROOT/missing.tar"
	run_ct 125 image load --name x/missing -i "$TEST_ROOT/missing.tar"
	assert_output_contains "does not contain layer $layer"
	[ "$(store_state)" = "$state" ]

	# A layer that unpacks to another diff_id than its config says.
	images_archive "$IMAGES_DIR/hostile/diffid-mismatch" "$TEST_ROOT/diffid.tar"
	run_ct 125 image load --name x/diffid -i "$TEST_ROOT/diffid.tar"
	assert_output_contains "diff_id"
	[ "$(store_state)" = "$state" ]

	# A layer that writes outside its snapshot.
	images_archive "$IMAGES_DIR/hostile/dotdot" "$TEST_ROOT/layer-dotdot.tar"
	run_ct 125 image load --name x/layer-dotdot -i "$TEST_ROOT/layer-dotdot.tar"
	assert_output_contains ".."
	[ "$(store_state)" = "$state" ]

	# A docker archive whose symlink points out of the archive.
	mkdir -p "$TEST_ROOT/h/docker/a"
	ln -s ../../../etc/passwd "$TEST_ROOT/h/docker/a/layer.tar"
	echo '[{"Config":"c.json","RepoTags":["x/link:1"],"Layers":["a/layer.tar"]}]' \
		>"$TEST_ROOT/h/docker/manifest.json"
	echo '{}' >"$TEST_ROOT/h/docker/c.json"
	tar -cf "$TEST_ROOT/link.tar" -C "$TEST_ROOT/h/docker" manifest.json c.json a
	run_ct 125 image load -i "$TEST_ROOT/link.tar"
	assert_output_contains "symlink a/layer.tar"
	assert_output_contains "outside the archive"
	[ "$(store_state)" = "$state" ]

	# Not an image archive at all.
	run_ct 125 image load -i "$IMAGES_DIR/busybox/index.json"
	assert_output_contains "reading the archive"
	tar -cf "$TEST_ROOT/other.tar" -C "$TEST_ROOT/h/docker" c.json
	run_ct 125 image load -i "$TEST_ROOT/other.tar"
	assert_output_contains "neither an OCI image layout"
	[ "$(store_state)" = "$state" ]
}

@test "save of an image that is not here is a clear error and writes no file" {
	start_system
	import_busybox
	run_ct 125 image save -o "$TEST_ROOT/out.tar" busybox nosuch:1
	assert_output_contains "no image nosuch:1"
	[ ! -e "$TEST_ROOT/out.tar" ]
	[ -z "$(ls -A "$TEST_ROOT" | grep out.tar)" ]
	run_ct 125 image save
	assert_output_contains "one or more images"
	run_ct 125 image save -o "$TEST_ROOT/no/such/dir/out.tar" busybox
	assert_output_contains "$TEST_ROOT/no/such/dir/out.tar"
}
