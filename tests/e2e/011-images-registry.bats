#!/usr/bin/env bats
# Pulling from a real registry (Debian's docker-registry on 127.0.0.1): plain,
# Basic auth, TLS; multi-layer images checked against their expected merged view
# and against umoci; platform selection; hostile images.

load helpers

setup_file() {
	. "$CONTAINER_TEST_TOP/tests/fixtures/images.bash"
	. "$CONTAINER_TEST_TOP/tests/fixtures/registry.bash"
	export FX_TMP=$(mktemp -d /tmp/ct-fx.XXXXXX)
	images_build "$CONTAINER_TEST_BUILD/fixture-images"
	registry_start "$FX_TMP/plain" plain PLAIN
	registry_push_oci "$IMAGES_DIR/busybox:latest" fixtures/busybox:latest
	registry_push_oci "$IMAGES_DIR/layers:latest" fixtures/layers:latest
	registry_push_oci "$IMAGES_DIR/layers-gzip:latest" fixtures/layers-gzip:latest
	registry_push_oci "$IMAGES_DIR/multiarch:latest" fixtures/multiarch:latest
	local c
	for c in dotdot dotdot-inner absolute symlink-escape symlink-escape-rel hardlink-escape \
		bare-whiteout digest-mismatch diffid-mismatch truncated-gzip size-mismatch \
		lying-mediatype lying-mediatype-index ambiguous-manifest; do
		registry_put_raw "$IMAGES_DIR/hostile/$c:latest" "hostile/$c:latest"
	done
	images_build "$CONTAINER_TEST_BUILD/fixture-images" many-entries
	registry_push_oci "$IMAGES_DIR/hostile/many-entries:latest" fixtures/many:latest
	registry_start "$FX_TMP/auth" htpasswd AUTH
	registry_push_oci "$IMAGES_DIR/busybox:latest" private/busybox:latest
	registry_start "$FX_TMP/tls" tls TLS
	registry_push_oci "$IMAGES_DIR/busybox:latest" secure/busybox:latest
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
}

# The store holds nothing: no reference, blob, snapshot or leftover.
assert_store_empty() {
	run_ct image list -q
	[ -z "$output" ]
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/content/ingest")" ]
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/snapshots")" ]
}

@test "pull busybox from a plain registry; a second pull fetches nothing" {
	start_system
	run_ct image pull --progress plain "$PLAIN_HOST/fixtures/busybox:latest"
	assert_output_contains "Fetched 1 of 1 layers"
	[ "${lines[-1]}" = "$PLAIN_HOST/fixtures/busybox:latest" ]
	run_ct image list
	assert_output_contains "$PLAIN_HOST/fixtures/busybox"
	local digest
	digest=$(images_manifest_digest "$IMAGES_DIR/busybox:latest")
	run_ct image list --format json
	[ "$(jq -r '.[0].digest' <<<"$output")" = "$digest" ]

	mount_image "$PLAIN_HOST/fixtures/busybox" "$TEST_ROOT/rootfs"
	run images_check_merged "$TEST_ROOT/rootfs" B
	echo "$output"
	[ "$status" -eq 0 ]

	run_ct image pull --progress plain "$PLAIN_HOST/fixtures/busybox:latest"
	assert_output_contains "Fetched 0 of 1 layers"
	# By digest too, under its own name.
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/busybox@$digest"
	[ "$output" = "$PLAIN_HOST/fixtures/busybox@$digest" ]
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/content/ingest")" ]
}

@test "a multi-layer image with whiteouts, opaque dirs, hardlinks, xattrs, long names, setuid and zstd unpacks exactly" {
	start_system
	run_ct image pull --progress none --max-concurrent-downloads 4 "$PLAIN_HOST/fixtures/layers"
	mount_image "$PLAIN_HOST/fixtures/layers" "$TEST_ROOT/rootfs"
	run images_check_merged "$TEST_ROOT/rootfs" M
	echo "$output"
	[ "$status" -eq 0 ]
	# Overlay whiteouts and the opaque marker are in the snapshots, never .wh. files.
	[ -z "$(find "$CONTAINER_APP_ROOT/snapshots" -name '.wh.*')" ]
	[ -n "$(find "$CONTAINER_APP_ROOT/snapshots" -type c -name deleted.txt)" ]
}

# tree_listing DIR: one line per entry: type, mode, owner, size, link target,
# content hash, user xattrs, and for hardlinked files the first name of the inode.
tree_listing() {
	local -A first
	# '|' separates: a whitespace IFS would merge the empty fields.
	(cd "$1" && find . -mindepth 1 -printf '%p|%y|%m|%U:%G|%s|%l|%n|%i\n' | sort) |
		while IFS='|' read -r p y m o s l n i; do
			local h=- x link=-
			[ "$y" = f ] && h=$(sha256sum <"$1/$p" | cut -c1-16)
			[ "$y" = d ] && s=-
			x=$(getfattr -h -d -m '^user\.' "$1/$p" 2>/dev/null | grep -v '^#' | tr '\n' ' ')
			if [ "$y" = f ] && [ "$n" -gt 1 ]; then
				[ -n "${first[$i]:-}" ] && link=${first[$i]} || first[$i]=$p
			fi
			echo "$p $y $m $o $s ${l:--} $h ${x:--} $link"
		done
}

@test "the unpacked image matches umoci unpack of the same image, entry by entry" {
	command -v getfattr >/dev/null || skip "getfattr (package attr) not installed"
	start_system
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/layers-gzip"
	mount_image "$PLAIN_HOST/fixtures/layers-gzip" "$TEST_ROOT/ours"
	umoci unpack --image "$IMAGES_DIR/layers-gzip:latest" "$TEST_ROOT/umoci" >/dev/null
	tree_listing "$TEST_ROOT/ours" >"$TEST_ROOT/ours.txt"
	tree_listing "$TEST_ROOT/umoci/rootfs" >"$TEST_ROOT/umoci.txt"
	diff -u "$TEST_ROOT/umoci.txt" "$TEST_ROOT/ours.txt"
	[ "$(wc -l <"$TEST_ROOT/ours.txt")" -gt 250 ]
}

@test "an index resolves to the host's platform unless --platform says otherwise" {
	start_system
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/multiarch"
	mount_image "$PLAIN_HOST/fixtures/multiarch" "$TEST_ROOT/host"
	[ "$(cat "$TEST_ROOT/host/etc/platform")" = "linux/$(dpkg --print-architecture)" ]
	run_ct image list -v
	assert_output_contains "linux/$(dpkg --print-architecture)"
	run_ct image delete "$PLAIN_HOST/fixtures/multiarch"

	local other=linux/arm64/v8
	[ "$(dpkg --print-architecture)" = arm64 ] && other=linux/amd64
	run_ct image pull --progress none --platform "$other" "$PLAIN_HOST/fixtures/multiarch"
	run_ct image inspect "$PLAIN_HOST/fixtures/multiarch"
	[ "$(jq -r '.[0].index.manifests | length' <<<"$output")" = 2 ]
	run_ct 125 image pull --progress none --platform linux/s390x "$PLAIN_HOST/fixtures/multiarch"
	assert_output_contains "linux/s390x"
	assert_output_contains "--platform"
}

@test "missing images and unreachable registries get clear errors" {
	start_system
	run_ct 125 image pull --progress none "$PLAIN_HOST/fixtures/nosuch:latest"
	assert_output_contains "fixtures/nosuch"
	assert_output_contains "404"
	run_ct 125 image pull --progress none "$PLAIN_HOST/fixtures/busybox:nosuchtag"
	assert_output_contains "nosuchtag"
	# A port nothing listens on (bound and closed by us, so it stays free).
	run_ct 125 image pull --progress none "127.0.0.1:9/x:1"
	assert_output_contains "127.0.0.1:9"
	run_ct 125 image pull --progress none "Bad//ref"
	assert_output_contains "invalid reference"
	assert_store_empty
}

@test "a registry with Basic auth: refused without login, pulled after it, logout forgets" {
	start_system
	run_ct 125 image pull --progress none "$AUTH_HOST/private/busybox"
	assert_output_contains "container registry login"
	run "$CT" registry login -u testuser --password-stdin "$AUTH_HOST" <<<"wrong"
	echo "$output"
	[ "$status" -eq 125 ]
	assert_output_contains "wrong username or password"
	[ ! -e "$HOME/.config/container/auth.json" ]

	run "$CT" registry login -u testuser --password-stdin "$AUTH_HOST" <<<"testpass"
	echo "$output"
	[ "$status" -eq 0 ]
	assert_output_contains "Login succeeded"
	[ "$(stat -c %a "$HOME/.config/container/auth.json")" = 600 ]
	run_ct registry list
	assert_output_contains "$AUTH_HOST"
	assert_output_contains testuser
	run_ct image pull --progress none "$AUTH_HOST/private/busybox"

	run_ct registry logout "$AUTH_HOST"
	run_ct image delete "$AUTH_HOST/private/busybox"
	run_ct 125 image pull --progress none "$AUTH_HOST/private/busybox"

	# docker's config.json is read too.
	mkdir -p "$HOME/.docker"
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$AUTH_HOST" "$(printf testuser:testpass | base64)" >"$HOME/.docker/config.json"
	run_ct image pull --progress none "$AUTH_HOST/private/busybox"
	rm "$HOME/.docker/config.json"
	# And the environment.
	run_ct image delete "$AUTH_HOST/private/busybox"
	CONTAINER_REGISTRY_HOST=$AUTH_HOST CONTAINER_REGISTRY_USER=testuser CONTAINER_REGISTRY_TOKEN=testpass \
		run_ct image pull --progress none "$AUTH_HOST/private/busybox"
}

@test "a TLS registry with its CA in the certs folder" {
	# The images plugin inherits CONTAINER_CERTS_DIR through the API server.
	export CONTAINER_CERTS_DIR=$TLS_CERTS_D
	start_system
	run_ct image pull --progress none --scheme https "$TLS_HOST/secure/busybox"
	run_ct image list
	assert_output_contains secure/busybox
	export CONTAINER_CERTS_DIR=$TEST_ROOT/empty-certs
	run_ct system stop
	start_system
	run_ct image delete "$TLS_HOST/secure/busybox"
	run_ct 125 image pull --progress none --scheme https "$TLS_HOST/secure/busybox"
	assert_output_contains "certificate"
}

@test "hostile and broken images are refused with a clear error and leave the store as it was" {
	start_system
	mkdir -p "$TEST_ROOT/outside"
	local c
	declare -A expect=(
		[dotdot]=".." [dotdot-inner]=".." [absolute]="abs" [symlink-escape]="symlink"
		[symlink-escape-rel]="symlink" [hardlink-escape]="outside" [bare-whiteout]=".wh."
		[digest-mismatch]="digest" [diffid-mismatch]="diff_id" [truncated-gzip]="gzip"
		[size-mismatch]="bytes" [lying-mediatype]="mediaType"
		[lying-mediatype-index]="mediaType" [ambiguous-manifest]="manifest"
	)
	for c in "${!expect[@]}"; do
		run_ct 125 image pull --progress none "$PLAIN_HOST/hostile/$c"
		assert_output_contains "pulling $PLAIN_HOST/hostile/$c"
		assert_output_contains "${expect[$c]}"
		assert_store_empty
	done
	[ ! -e /tmp/ct-fixture-symlink-escape ]
	[ ! -e /tmp/ct-fixture-symlink-escape-rel ]
	[ ! -e "$CONTAINER_APP_ROOT/escape" ]
	[ ! -e "$CONTAINER_APP_ROOT/snapshots/escape" ]
	# The benign first layers of those images may stay as unreferenced blobs at
	# most; nothing references them and prune removes them.
	run_ct image prune
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/content/blobs/sha256")" ]
}

@test "a pull killed half-way leaves no half blob or snapshot, and the next pull completes" {
	start_system
	"$CT" image pull --progress none "$PLAIN_HOST/fixtures/many" >"$TEST_ROOT/pull.out" 2>&1 &
	local puller=$!
	# Kill the images plugin while a layer is being written or unpacked.
	wait_for 30 bash -c "ls -A '$CONTAINER_APP_ROOT/content/ingest' '$CONTAINER_APP_ROOT/snapshots' | grep -q -e ingest- -e .tmp-"
	local plugin
	plugin=$("$CT" plugin get container-core-images | jq -r .pid)
	kill -KILL "$plugin"
	! wait "$puller"
	cat "$TEST_ROOT/pull.out"
	# The supervisor restarts the plugin, which removes what the killed pull left.
	wait_for 10 bash -c "'$CT' plugin get container-core-images | jq -e '.state == \"running\" and .pid != $plugin'"
	STARTED_PIDS="$STARTED_PIDS $("$CT" plugin get container-core-images | jq -r .pid)"
	wait_for 10 bash -c "[ -z \"\$(ls -A '$CONTAINER_APP_ROOT/content/ingest')\" ]"
	[ -z "$(ls -A "$CONTAINER_APP_ROOT/snapshots" | grep '^.tmp-')" ]
	run_ct image list -q
	[ -z "$output" ]
	run_ct image pull --progress none "$PLAIN_HOST/fixtures/many"
	run_ct image list
	assert_output_contains fixtures/many
}
