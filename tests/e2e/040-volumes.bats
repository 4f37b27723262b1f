#!/usr/bin/env bats
# Volumes (create, delete, list, inspect, prune; sized volumes; copy-up) and the
# mount flags of run/create: -v, --mount, --tmpfs, --read-only.

load helpers

setup() {
	ct_setup
	start_system
	import_busybox busybox:latest
	VOLUMES=$CONTAINER_APP_ROOT/volumes
}

@test "a named volume keeps its data after its container is deleted; list and inspect" {
	run_ct run --name writer -v data:/data busybox sh -c 'echo hello > /data/greeting'
	run_ct delete writer
	run_ct run --rm -v data:/data busybox cat /data/greeting
	[ "$output" = hello ]
	[ "$(cat "$VOLUMES/data/_data/greeting")" = hello ]
	[ "$(sqlite3 "$CONTAINER_APP_ROOT/state.db" 'SELECT name, anonymous FROM volumes')" = "data|0" ]

	run_ct volume create --label team=storage -l tier=gold tagged
	[ "$output" = tagged ]
	run_ct volume list
	[ "$(echo "${lines[0]}" | tr -s ' ')" = "NAME DRIVER SIZE LIMIT CREATED" ]
	assert_output_contains "data"
	assert_output_contains "local"
	run_ct volume ls -q
	[ "$output" = "$(printf 'data\ntagged')" ]
	run_ct volume list --format json
	[ "$(jq -r 'map(.name) | join(",")' <<<"$output")" = data,tagged ]
	run_ct volume inspect tagged data
	[ "$(jq -r '.[0].labels.team + "/" + .[0].labels.tier' <<<"$output")" = storage/gold ]
	[ "$(jq -r '.[1].mountpoint' <<<"$output")" = "$VOLUMES/data/_data" ]
	[ "$(jq -r '.[1].driver' <<<"$output")" = local ]
	[ "$(jq -r '.[1].sizeLimit' <<<"$output")" = null ]
	[ "$(jq -r '.[1].size' <<<"$output")" -gt 0 ]
	[ "$(jq -r '.[1].usedBy | length' <<<"$output")" = 0 ]
	jq -e '.[1].createdAt | test("^[0-9]{4}-")' <<<"$output"

	run_ct 125 volume create tagged
	assert_output_contains "a volume named tagged exists already"
	run_ct 125 volume create 'bad/name'
	assert_output_contains "invalid volume name"
	run_ct 125 volume create -o color=blue blue
	assert_output_contains 'unknown volume option "color"'
	run_ct 125 volume inspect nothing
	assert_output_contains "no such volume: nothing"
	run_ct volume rm tagged data
	[ ! -e "$VOLUMES/data" ]
	run_ct volume list -q
	[ -z "$output" ]
}

@test ":ro refuses writes; a volume in use, running or not, can't be deleted" {
	run_ct volume create shared
	run_ct 1 run --rm -v shared:/data:ro busybox sh -c 'echo x > /data/f'
	assert_output_contains "Read-only file system"
	[ ! -e "$VOLUMES/shared/_data/f" ]

	run_ct run -d --name holder -v shared:/data busybox sleep 100
	run_ct 125 volume delete shared
	assert_output_contains "volume shared is in use by container holder"
	run_ct create --name idle -v shared:/data busybox true
	run_ct delete -f holder
	run_ct 125 volume rm shared
	assert_output_contains "in use by container idle"
	run_ct volume inspect shared
	[ "$(jq -r '.[0].usedBy | join(",")' <<<"$output")" = idle ]
	run_ct delete idle
	run_ct volume rm shared
	[ ! -e "$VOLUMES/shared" ]
}

@test "bind mounts of a host folder and a host file, read-write and read-only" {
	mkdir "$TEST_ROOT/host"
	echo from-host >"$TEST_ROOT/host/in.txt"
	echo line1 >"$TEST_ROOT/one.txt"

	run_ct run --rm -v "$TEST_ROOT/host:/h" busybox sh -c 'cat /h/in.txt; echo back > /h/out.txt'
	[ "$output" = from-host ]
	[ "$(cat "$TEST_ROOT/host/out.txt")" = back ]
	run_ct 1 run --rm -v "$TEST_ROOT/host:/h:ro" busybox sh -c 'cat /h/in.txt; echo no > /h/out2.txt'
	assert_output_contains from-host
	assert_output_contains "Read-only file system"
	[ ! -e "$TEST_ROOT/host/out2.txt" ]

	run_ct run --rm -v "$TEST_ROOT/one.txt:/etc/one.txt" busybox sh -c 'echo line2 >> /etc/one.txt'
	[ "$(cat "$TEST_ROOT/one.txt")" = "$(printf 'line1\nline2')" ]
	run_ct 1 run --rm -v "$TEST_ROOT/one.txt:/one.txt:ro" busybox sh -c 'cat /one.txt; echo x >> /one.txt'
	assert_output_contains line2
	assert_output_contains "Read-only file system"
	[ "$(wc -l <"$TEST_ROOT/one.txt")" = 2 ]

	# A relative host path is taken from the CLI's working directory.
	run bash -c 'cd "$1" && "$2" run --rm -v ./host:/h busybox cat /h/in.txt' _ "$TEST_ROOT" "$CT"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
}

@test "a missing bind source is a clear error at create" {
	run_ct 125 run --rm -v "$TEST_ROOT/nope:/x" busybox true
	assert_output_contains "bind source $TEST_ROOT/nope does not exist"
	run_ct 125 create --mount "type=bind,source=$TEST_ROOT/nope,target=/x" busybox true
	assert_output_contains "bind source $TEST_ROOT/nope does not exist"
	run_ct list -a -q
	[ -z "$output" ]
	run_ct 125 run --rm -v data busybox true
	assert_output_contains "a single path must be absolute"
	run_ct 125 run --rm -v data:relative busybox true
	assert_output_contains "absolute PATH"
	run_ct 125 run --rm -v data:/a:rx busybox true
	assert_output_contains 'unknown option "rx"'
	run_ct 125 run --rm -v data:/a -v other:/a/ busybox true
	assert_output_contains "/a is the destination of two mounts"
	run_ct 125 run --rm -v data:/ busybox true
	assert_output_contains "other than /"
	run_ct 125 run --rm -v data:/a/../b busybox true
	assert_output_contains 'without ".."'
	# Nothing was made for the refused containers.
	run_ct volume list -q
	[ -z "$output" ]
}

@test "-v /path makes an anonymous volume: removed with --rm and delete -v, kept otherwise" {
	run_ct run --rm -v /scratch busybox sh -c 'echo x > /scratch/f; cat /scratch/f'
	[ "$output" = x ]
	run_ct volume list -q
	[ -z "$output" ]

	run_ct run --name keeper -v /scratch busybox sh -c 'echo kept > /scratch/f'
	run_ct volume list -q
	[[ "$output" =~ ^anon-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	local anon=$output
	run_ct inspect keeper
	[ "$(jq -r '.[0].mounts[0].name' <<<"$output")" = "$anon" ]
	[ "$(jq -r '.[0].mounts[0].type' <<<"$output")" = volume ]
	run_ct volume inspect "$anon"
	[ "$(jq -r '.[0].anonymous' <<<"$output")" = true ]
	[ "$(jq -r '.[0].usedBy | join(",")' <<<"$output")" = keeper ]
	run_ct delete keeper
	# docker keeps it: the data may matter.
	run_ct volume list -q
	[ "$output" = "$anon" ]
	[ "$(cat "$VOLUMES/$anon/_data/f")" = kept ]

	run_ct run --name second -v /scratch busybox true
	run_ct volume list -q
	[ "${#lines[@]}" -eq 2 ]
	run_ct delete -v second
	run_ct volume list -q
	[ "$output" = "$anon" ]
}

@test "--mount: volume, bind, tmpfs, readonly; --tmpfs and --read-only keep working" {
	mkdir "$TEST_ROOT/host"
	echo from-host >"$TEST_ROOT/host/in.txt"
	run_ct run --rm --mount type=volume,source=mvol,target=/data busybox sh -c 'echo m > /data/f'
	run_ct run --rm --mount src=mvol,dst=/data,readonly busybox cat /data/f
	[ "$output" = m ]
	run_ct 1 run --rm --mount type=volume,src=mvol,destination=/data,ro=true busybox touch /data/g
	assert_output_contains "Read-only file system"
	run_ct run --rm --mount "type=bind,source=$TEST_ROOT/host,target=/h,readonly" busybox cat /h/in.txt
	[ "$output" = from-host ]
	run_ct 1 run --rm --mount "type=bind,src=$TEST_ROOT/host,dst=/h,ro" busybox touch /h/new
	assert_output_contains "Read-only file system"
	run_ct run --rm --mount type=tmpfs,target=/scratch,tmpfs-size=1m busybox sh -c 'grep " /scratch " /proc/mounts'
	assert_output_contains "tmpfs /scratch tmpfs"
	assert_output_contains "size=1024k"
	run_ct run --rm --tmpfs /t:size=2m busybox sh -c 'grep " /t " /proc/mounts'
	assert_output_contains "size=2048k"
	run_ct run --rm --read-only -v rwvol:/data busybox sh -c 'echo ok > /data/f && cat /data/f && ! touch /rootfile'
	[ "$output" = "$(printf 'ok\ntouch: /rootfile: Read-only file system')" ]

	run_ct 125 run --rm --mount type=nfs,target=/x busybox true
	assert_output_contains "type is bind, volume or tmpfs"
	run_ct 125 run --rm --mount type=bind,target=/x busybox true
	assert_output_contains "a bind mount needs source=HOST_PATH"
	run_ct 125 run --rm --mount type=volume,source=x busybox true
	assert_output_contains "target=PATH is missing"
	run_ct 125 run --rm --mount type=tmpfs,source=x,target=/x busybox true
	assert_output_contains "takes no source"

	# inspect shows what was asked, resolved.
	run_ct create --name shown -v mvol:/data:ro -v "$TEST_ROOT/host:/h" --mount type=tmpfs,dst=/t busybox true
	run_ct inspect shown
	local mounts
	mounts=$(jq -c '.[0].mounts' <<<"$output")
	echo "$mounts"
	[ "$(jq -r '.[0] | "\(.type) \(.name) \(.source) \(.destination) \(.readOnly)"' <<<"$mounts")" = "volume mvol $VOLUMES/mvol/_data /data true" ]
	[ "$(jq -r '.[1] | "\(.type) \(.source) \(.destination) \(.readOnly)"' <<<"$mounts")" = "bind $TEST_ROOT/host /h false" ]
	[ "$(jq -r '.[2] | "\(.type) \(.destination)"' <<<"$mounts")" = "tmpfs /t" ]
	run_ct delete shown
}

@test "a sized volume refuses writes past its size, and is mounted again when the API server starts" {
	run_ct volume create --opt size=32m sized
	grep -q " $VOLUMES/sized/_data ext4 " /proc/self/mounts
	[ -f "$VOLUMES/sized/disk.img" ]
	# Sparse: the limit is not an allocation.
	[ "$(du -k "$VOLUMES/sized/disk.img" | cut -f1)" -lt 16384 ]
	run_ct volume inspect sized
	[ "$(jq -r '.[0].sizeLimit' <<<"$output")" = 33554432 ]
	[ "$(jq -r '.[0].options.size' <<<"$output")" = 32m ]
	run_ct volume list
	assert_output_contains "33.6 MB"
	# Empty like any new volume (no lost+found).
	[ -z "$(ls -A "$VOLUMES/sized/_data")" ]

	run_ct 1 run --rm -v sized:/data busybox dd if=/dev/zero of=/data/big bs=1M count=64
	assert_output_contains "No space left on device"
	run_ct run --rm -v sized:/data busybox sh -c 'rm /data/big; echo small > /data/f'
	run_ct 125 volume create --opt size=lots bad
	assert_output_contains "expected a size such as 64m"

	# A crash and a reboot: the API server dies and the mount is gone.
	local pid
	pid=$(apiserver_pid)
	kill -KILL "$pid"
	wait_for 10 bash -c "! kill -0 $pid"
	umount "$VOLUMES/sized/_data"
	! grep -q " $VOLUMES/sized/_data " /proc/self/mounts
	start_system
	grep -q " $VOLUMES/sized/_data ext4 " /proc/self/mounts
	run_ct run --rm -v sized:/data busybox cat /data/f
	[ "$output" = small ]
	run_ct 1 run --rm -v sized:/data busybox dd if=/dev/zero of=/data/big bs=1M count=64
	assert_output_contains "No space left on device"

	# Unmounted at start too when the API server was up all along.
	umount "$VOLUMES/sized/_data"
	run_ct run --rm -v sized:/data busybox cat /data/f
	[ "$output" = small ]

	run_ct volume delete sized
	! grep -q " $VOLUMES/sized/_data " /proc/self/mounts
	[ ! -e "$VOLUMES/sized" ]
}

@test "a new volume is filled with the image's content at its path, once" {
	run_ct run --rm -v etcvol:/etc busybox cat /etc/passwd
	assert_output_contains "root:x:0:0"
	[ -f "$VOLUMES/etcvol/_data/passwd" ]
	mount_image busybox "$TEST_ROOT/image"
	[ "$(stat -c '%a %u %g %Y' "$VOLUMES/etcvol/_data/passwd")" = "$(stat -c '%a %u %g %Y' "$TEST_ROOT/image/etc/passwd")" ]
	[ "$(stat -c '%a %u %g' "$VOLUMES/etcvol/_data")" = "$(stat -c '%a %u %g' "$TEST_ROOT/image/etc")" ]
	# What a container changes stays; the image's content is not copied again.
	run_ct run --rm -v etcvol:/etc busybox rm /etc/group
	run_ct run --rm -v etcvol:/etc busybox sh -c 'test ! -e /etc/group && echo gone'
	[ "$output" = gone ]

	# A volume with content, or mounted with nocopy, is not filled.
	run_ct volume create mine
	echo mine >"$VOLUMES/mine/_data/mine.txt"
	run_ct run --rm -v mine:/etc busybox ls /etc
	assert_output_contains mine.txt
	assert_output_lacks passwd
	run_ct run --rm -v empty:/etc:nocopy busybox sh -c 'test ! -e /etc/passwd && echo none'
	[ "$output" = none ]
	# A sized volume is filled too.
	run_ct volume create --opt size=16m sizedetc
	run_ct run --rm -v sizedetc:/etc busybox cat /etc/passwd
	assert_output_contains "root:x:0:0"
	# An anonymous one as well; a path the image lacks leaves it empty.
	run_ct run --rm -v /etc -v /nowhere busybox sh -c 'cat /etc/passwd >/dev/null && ls -A /nowhere | wc -l'
	[ "$output" = 0 ]

	# Two containers started at once on one new volume: it is filled once (on
	# a worker thread, one fill at a time), and both see the image's files.
	run_ct create --name fill1 -v shared:/etc busybox ls /etc/passwd
	run_ct create --name fill2 -v shared:/etc busybox ls /etc/passwd
	"$CT" start -a fill1 >"$TEST_ROOT/f1" 2>&1 &
	local a=$!
	"$CT" start -a fill2 >"$TEST_ROOT/f2" 2>&1 &
	local b=$!
	wait "$a"
	wait "$b"
	grep -qx /etc/passwd "$TEST_ROOT/f1"
	grep -qx /etc/passwd "$TEST_ROOT/f2"
	local f
	for f in "$TEST_ROOT"/image/etc/*; do
		[ -e "$VOLUMES/shared/_data/${f##*/}" ]
	done
	cmp "$VOLUMES/shared/_data/passwd" "$TEST_ROOT/image/etc/passwd"
}

@test "copy-up merges the image's layers: upper layers win, whiteouts and opaque folders hide" {
	source "$CONTAINER_TEST_TOP/tests/fixtures/images.bash"
	images_build "$CONTAINER_TEST_BUILD/fixture-images" layers
	images_archive "$IMAGES_DIR/layers" "$TEST_ROOT/layers.tar"
	run_ct image load -i "$TEST_ROOT/layers.tar" --name layered
	local ref
	ref=$(sed -n 's/^Loaded image: //p' <<<"$output" | head -1)
	[ -n "$ref" ]
	run_ct run --rm -v layered:/data "$ref" true
	local d=$VOLUMES/layered/_data
	ls -laR "$d"
	[ ! -e "$d/deleted.txt" ]
	[ ! -e "$d/dir-deleted" ]
	[ "$(cat "$d/replaced.txt")" = "new content from layer 3" ]
	[ "$(stat -c %a "$d/replaced.txt")" = 600 ]
	[ "$(cat "$d/keep.txt")" = "kept from layer 2" ]
	[ "$(stat -c %Y "$d/keep.txt")" = 981173106 ]
	[ "$(ls -A "$d/opaque")" = new.txt ]
	[ "$(stat -c %a "$d/opaque")" = 750 ]
	[ "$(ls -A "$d/merged" | tr '\n' ' ')" = "from-layer2.txt from-layer3.txt " ]
	# The container sees the same as the volume holds.
	mount_image "$ref" "$TEST_ROOT/image"
	[ "$(cd "$TEST_ROOT/image/data" && find . | sort)" = "$(cd "$d" && find . | sort)" ]
	# Symlinks are copied as symlinks.
	local link
	for link in $(cd "$TEST_ROOT/image/data" && find . -type l); do
		[ -L "$d/$link" ]
		[ "$(readlink "$d/$link")" = "$(readlink "$TEST_ROOT/image/data/$link")" ]
	done
}

@test "a symlink at the mount path inside the container can't make a bind land outside the rootfs" {
	mkdir "$TEST_ROOT/host"
	echo marker >"$TEST_ROOT/host/marker"
	run_ct run --rm -v links:/mnt busybox sh -c 'ln -s /etc /mnt/link; ln -s ../../../../../../../../tmp /mnt/up'
	# /mnt/link resolves to the container's /etc, never the host's.
	run_ct run --rm -v links:/mnt -v "$TEST_ROOT/host:/mnt/link" busybox sh -c 'cat /etc/marker; readlink /mnt/link'
	[ "$output" = "$(printf 'marker\n/etc')" ]
	[ ! -e /etc/marker ]
	run_ct run --rm -v links:/mnt -v "$TEST_ROOT/host:/mnt/up/x" busybox cat /tmp/x/marker
	[ "$output" = marker ]
	[ ! -e /tmp/x/marker ]
	! grep -q " /etc \| /tmp/x " /proc/self/mounts
}

@test "volume prune deletes every volume no container uses, anonymous ones too; delete -a" {
	run_ct volume create unused
	run_ct run --name user -v used:/u busybox sh -c 'echo data > /u/f'
	run_ct run --name anon -v /x busybox true
	run_ct delete anon
	run_ct volume list -q
	[ "${#lines[@]}" -eq 3 ]
	run_ct volume prune
	assert_output_contains "Deleted: unused"
	assert_output_contains "Deleted: anon-"
	assert_output_contains "Total reclaimed space"
	assert_output_lacks "Deleted: used"
	run_ct volume list -q
	[ "$output" = used ]
	run_ct 125 volume delete -a
	assert_output_contains "in use by container user"
	run_ct delete user
	run_ct volume delete -a
	run_ct volume list -q
	[ -z "$output" ]
	[ -z "$(ls -A "$VOLUMES")" ]
}

@test "a deleted volume's or container's folder is set aside at once and removed in the background; leftovers go at the next boot" {
	run_ct volume create big
	mkdir -p "$VOLUMES/big/_data/tree"
	(cd "$VOLUMES/big/_data/tree" && seq 1 2000 | xargs touch)
	run_ct volume list --format json
	[ "$(jq -r '.[] | select(.name == "big") | .size' <<<"$output")" -gt 0 ]
	run_ct volume delete big
	# The name is free at once, and the folder is gone shortly after.
	run_ct volume create big
	run_ct volume delete big
	wait_for 10 bash -c "[ -z \"\$(ls -A '$VOLUMES')\" ]"
	run_ct create --name gone busybox true
	run_ct delete gone
	wait_for 10 bash -c "[ -z \"\$(ls -A '$CONTAINER_APP_ROOT/containers')\" ]"
	# What an API server killed mid-removal left aside is removed at boot.
	mkdir -p "$VOLUMES/.removing-old-12345678/_data/x" "$CONTAINER_APP_ROOT/containers/.removing-abc-12345678/upper"
	run_ct system stop
	start_system
	wait_for 10 bash -c "[ -z \"\$(ls -A '$VOLUMES')\" ] && [ -z \"\$(ls -A '$CONTAINER_APP_ROOT/containers')\" ]"
	run_ct system logs
	assert_output_contains "left by an interrupted delete"
}
