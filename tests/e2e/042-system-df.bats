#!/usr/bin/env bats
# container system df: counts, sizes and reclaimable space, checked against
# what the test made, and against what the prunes give back.

load helpers

setup() {
	ct_setup
	start_system
	import_busybox busybox:latest
}

# df_field TYPE FIELD: a figure of the summary.
df_field() {
	"$CT" system df --format json | jq -r ".summary[] | select(.type == \"$1\") | .$2"
}

@test "system df counts images, containers and their sizes; prunes agree with it" {
	run_ct image import -c 'CMD ["sh"]' "$(busybox_rootfs)" unused:1
	# Same content, another tag: one image.
	run_ct image tag busybox:latest busybox:again
	run_ct run --name writer busybox sh -c 'dd if=/dev/zero of=/big bs=1M count=3 2>/dev/null'
	run_ct run -d --name sleeper busybox sleep 600

	run_ct system df
	assert_output_contains "TYPE"
	assert_output_contains "RECLAIMABLE"
	assert_output_contains "Local Volumes"
	run_ct system df --format json
	[ "$(jq -r '.summary | map(.type) | join(",")' <<<"$output")" = images,containers,volumes ]

	# Images: busybox (two tags, counted once, used) and unused:1 (another
	# import: its config has another creation time, so another image).
	local total active
	total=$(df_field images total)
	active=$(df_field images active)
	[ "$active" = 1 ]
	[ "$total" -ge 1 ]
	run_ct system df -v --format json
	[ "$(jq -r '.images[] | select(.names | index("docker.io/library/busybox:again")) | .names | length' <<<"$output")" = 2 ]
	[ "$(jq -r '[.images[] | select(.inUse | not) | .size] | add // 0' <<<"$output")" = "$(df_field images reclaimable)" ]

	# Containers: two, one running; the stopped one's 3 MiB is reclaimable.
	[ "$(df_field containers total)" = 2 ]
	[ "$(df_field containers active)" = 1 ]
	local reclaim size
	reclaim=$(df_field containers reclaimable)
	size=$(df_field containers size)
	[ "$reclaim" -ge $((3 * 1024 * 1024)) ]
	[ "$reclaim" -lt $((4 * 1024 * 1024)) ]
	[ "$size" -ge "$reclaim" ]
	run_ct system df -v
	assert_output_contains "Containers space usage"
	assert_output_contains writer

	# container prune gives back what df said.
	local writer
	writer=$("$CT" inspect writer | jq -r '.[0].id')
	run_ct prune
	assert_output_contains "$writer"
	[ "$(df_field containers total)" = 1 ]
	[ "$(df_field containers reclaimable)" = 0 ]

	# image prune -a removes the unused image: nothing reclaimable left.
	run_ct image prune -a
	[ "$(df_field images reclaimable)" = 0 ]
	[ "$(df_field images total)" = 1 ]
	run_ct delete -f sleeper
	[ "$(df_field containers total)" = 0 ]
	run_ct 125 system df --bogus
}

@test "system df counts volumes: size, in use, reclaimable; volume prune agrees" {
	run_ct volume create data
	run_ct run --name filler -v data:/data busybox sh -c 'dd if=/dev/zero of=/data/blob bs=1M count=2 2>/dev/null'
	run_ct volume create empty
	[ "$(df_field volumes total)" = 2 ]
	# data is used by a container (stopped, still there): active.
	[ "$(df_field volumes active)" = 1 ]
	local size
	size=$(df_field volumes size)
	[ "$size" -ge $((2 * 1024 * 1024)) ]
	[ "$size" -lt $((3 * 1024 * 1024)) ]
	run_ct system df -v --format json
	[ "$(jq -r '.volumes[] | select(.name == "data") | .usedBy[0]' <<<"$output")" = filler ]
	run_ct system df -v
	assert_output_contains "Local Volumes space usage"
	# Once its container is gone, its 2 MiB are reclaimable…
	run_ct delete filler
	[ "$(df_field volumes active)" = 0 ]
	[ "$(df_field volumes reclaimable)" = "$size" ]
	# …and volume prune gives them back.
	run_ct volume prune
	[ "$(df_field volumes total)" = 0 ]
	[ "$(df_field volumes size)" = 0 ]
}
