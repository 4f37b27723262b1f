#!/usr/bin/env bats
# container cp and container export: copies out of and into running and stopped
# containers, docker's naming rules, what a copy keeps, symlinks that must
# resolve inside the container, refused tar entries, and no mounts left behind.

load helpers

setup() {
	ct_setup
	start_system
	import_busybox busybox:latest
	OUT=$TEST_ROOT/out
	mkdir -p "$OUT"
}

# The copy process mounts a stopped container's overlay in a namespace of its
# own: nothing may show up, or stay, in ours.
assert_no_mounts() {
	if grep -F "$TEST_ROOT" /proc/self/mountinfo; then
		echo "FAIL: mounts left under $TEST_ROOT"
		return 1
	fi
}

# A tree with what a copy must keep, made in the container: modes 0750 and
# 4755, owner 1234:5678, an old mtime, a symlink and a hardlink.
MAKE_TREE='mkdir -p /data/dir/sub && echo one >/data/dir/a && echo two >/data/dir/sub/b &&
	echo s >/data/dir/suid && chmod 4755 /data/dir/suid && chown 1234:5678 /data/dir/a &&
	touch -t 200102030405.06 /data/dir/a && ln -s a /data/dir/link && ln /data/dir/a /data/dir/hard &&
	chmod 0750 /data/dir'

# check_tree DIR: the tree MAKE_TREE made, as copied to the host.
check_tree() {
	local d=$1
	[ "$(cat "$d/a")" = one ]
	[ "$(cat "$d/sub/b")" = two ]
	[ "$(stat -c %a "$d")" = 750 ]
	[ "$(stat -c %a "$d/suid")" = 4755 ]
	[ "$(stat -c %u:%g "$d/a")" = 1234:5678 ]
	[ "$(stat -c %Y "$d/a")" = "$(date -u -d '2001-02-03 04:05:06' +%s)" ]
	[ "$(readlink "$d/link")" = a ]
	[ "$(stat -c %i "$d/a")" = "$(stat -c %i "$d/hard")" ]
}

@test "cp out of a running container: folders, files, SRC/., and what a copy keeps" {
	run_ct run -d --name web busybox sh -c "$MAKE_TREE && touch /tmp/ready && exec sleep 1000"
	wait_for 10 "$CT" exec web test -f /tmp/ready
	# A folder onto an existing folder lands inside it.
	run_ct cp web:/data/dir "$OUT"
	check_tree "$OUT/dir"
	# A folder to a new name becomes that folder.
	run_ct cp web:/data/dir "$TEST_ROOT/newdir"
	check_tree "$TEST_ROOT/newdir"
	# SRC/. copies the content, into an existing folder too.
	mkdir "$TEST_ROOT/content"
	run_ct cp web:/data/dir/. "$TEST_ROOT/content"
	[ "$(cat "$TEST_ROOT/content/a")" = one ]
	[ ! -e "$TEST_ROOT/content/dir" ]
	# A file: to a new name, onto an existing file, into an existing folder.
	run_ct cp web:/data/dir/sub/b "$TEST_ROOT/b-copy"
	[ "$(cat "$TEST_ROOT/b-copy")" = two ]
	echo old >"$TEST_ROOT/existing"
	run_ct cp web:/data/dir/a "$TEST_ROOT/existing"
	[ "$(cat "$TEST_ROOT/existing")" = one ]
	run_ct cp web:/data/dir/sub/b "$OUT"
	[ "$(cat "$OUT/b")" = two ]
	# A symlink is copied as the link.
	run_ct cp web:/data/dir/link "$TEST_ROOT/link-copy"
	[ "$(readlink "$TEST_ROOT/link-copy")" = a ]
	# "-": a tar stream on stdout, named after the source.
	"$CT" cp web:/data/dir - >"$TEST_ROOT/dir.tar"
	tar -tvf "$TEST_ROOT/dir.tar" >"$TEST_ROOT/list"
	grep -q ' 1234/5678 .* dir/a$' "$TEST_ROOT/list"
	grep -q '^-rwsr-xr-x .* dir/suid$' "$TEST_ROOT/list"
	grep -q '^hrw.* dir/hard link to dir/a$' "$TEST_ROOT/list"
	# docker's errors: a folder onto a file, a file into a folder that is not there.
	run_ct 125 cp web:/data/dir "$TEST_ROOT/existing"
	assert_output_contains "cannot copy directory web:/data/dir onto the file"
	run_ct 125 cp web:/data/dir/a "$TEST_ROOT/nowhere/"
	assert_output_contains "does not exist"
	run_ct 125 cp web:/data/dir/a "$TEST_ROOT/content/nosub/x"
	assert_output_contains "the destination directory $TEST_ROOT/content/nosub does not exist"
	assert_no_mounts
}

@test "cp into a running container: folders, files, SRC/., and what a copy keeps" {
	run_ct run -d --name web busybox sleep 1000
	local src=$TEST_ROOT/src
	mkdir -p "$src/tree/sub"
	echo one >"$src/tree/a"
	echo two >"$src/tree/sub/b"
	echo s >"$src/tree/suid"
	chmod 4755 "$src/tree/suid"
	chown 1234:5678 "$src/tree/a"
	touch -d '2001-02-03 04:05:06 UTC' "$src/tree/a"
	ln -s a "$src/tree/link"
	ln "$src/tree/a" "$src/tree/hard"
	chmod 0750 "$src/tree"
	run_ct cp "$src/tree" web:/tmp
	run_ct exec web stat -c '%a %u:%g %Y %i %n' /tmp/tree /tmp/tree/suid /tmp/tree/a /tmp/tree/hard
	local lines
	mapfile -t lines <<<"$output"
	[ "${lines[0]%% *}" = 750 ]
	[ "${lines[1]%% *}" = 4755 ]
	[[ "${lines[2]}" == "644 1234:5678 $(date -u -d '2001-02-03 04:05:06' +%s) "* ]]
	# The hardlink is one inode in the container too.
	[ "$(cut -d' ' -f4 <<<"${lines[2]}")" = "$(cut -d' ' -f4 <<<"${lines[3]}")" ]
	run_ct exec web readlink /tmp/tree/link
	[ "$output" = a ]
	run_ct exec web cat /tmp/tree/sub/b
	[ "$output" = two ]
	# To a new name; SRC/. into an existing folder; a file onto a file and into a folder.
	run_ct cp "$src/tree" web:/tmp/renamed
	run_ct exec web cat /tmp/renamed/a
	[ "$output" = one ]
	run_ct exec web mkdir /tmp/into
	run_ct cp "$src/tree/." web:/tmp/into
	run_ct exec web ls /tmp/into
	[ "$(echo $output)" = "a hard link sub suid" ]
	echo replaced >"$TEST_ROOT/file"
	run_ct cp "$TEST_ROOT/file" web:/tmp/into/a
	run_ct exec web cat /tmp/into/a
	[ "$output" = replaced ]
	run_ct cp "$TEST_ROOT/file" web:/tmp/into
	run_ct exec web cat /tmp/into/file
	[ "$output" = replaced ]
	# "-": a tar stream from stdin into a folder.
	tar -C "$src" -cf "$TEST_ROOT/in.tar" tree/sub
	run "$CT" cp - web:/root <"$TEST_ROOT/in.tar"
	[ "$status" -eq 0 ]
	run_ct exec web cat /root/tree/sub/b
	[ "$output" = two ]
	# A folder can't replace a file, nor a file a folder.
	run_ct 125 cp "$src/tree" web:/tmp/into/a
	assert_output_contains "cannot copy a directory onto /tmp/into/a in container web"
	run_ct 125 cp "$TEST_ROOT/file" web:/tmp/nowhere/
	assert_output_contains "does not exist in container web"
	assert_no_mounts
}

@test "cp out of and into stopped containers, created and exited, leaves no mount" {
	run_ct create --name fresh busybox cat /tmp/hello
	echo "hello from the host" >"$TEST_ROOT/hello"
	run_ct cp "$TEST_ROOT/hello" fresh:/tmp/hello
	assert_no_mounts
	run_ct start -a fresh
	[ "$output" = "hello from the host" ]

	run_ct run --name done busybox sh -c "$MAKE_TREE"
	assert_no_mounts
	run_ct cp done:/data/dir "$OUT"
	check_tree "$OUT/dir"
	assert_no_mounts
	mkdir -p "$TEST_ROOT/src/more"
	echo more >"$TEST_ROOT/src/more/m"
	chmod 0705 "$TEST_ROOT/src/more"
	run_ct cp "$TEST_ROOT/src/more" done:/data/dir/
	run_ct cp done:/data/dir/more "$TEST_ROOT/back"
	[ "$(cat "$TEST_ROOT/back/m")" = more ]
	[ "$(stat -c %a "$TEST_ROOT/back")" = 705 ]
	assert_no_mounts
	# The copy went to the container's upper layer, and the image is untouched.
	run_ct run --rm busybox test ! -e /data
}

@test "symlinks planted in the container resolve inside it, both ways" {
	local marker="marker-$$-$RANDOM" hostfile="$TEST_ROOT/host-only-$RANDOM"
	echo "on the host only" >"$hostfile"
	run_ct run -d --name web busybox sh -c "echo $marker >>/etc/passwd && ln -s /etc /tmp/x &&
		ln -s /../../../../ /tmp/up && ln -s ../../../../../tmp /tmp/uptmp && touch /tmp/ready &&
		exec sleep 1000"
	wait_for 10 "$CT" exec web test -f /tmp/ready
	local theirs
	theirs=$("$CT" exec web cat /etc/passwd)
	grep -q "$marker" <<<"$theirs"
	for state in running stopped; do
		[ "$state" = running ] || run_ct stop -t 1 web
		# Out: /tmp/x/passwd is the container's /etc/passwd, not the host's.
		rm -f "$OUT/passwd" "$OUT/up-passwd"
		run_ct cp web:/tmp/x/passwd "$OUT/passwd"
		[ "$(cat "$OUT/passwd")" = "$theirs" ]
		run_ct cp web:/tmp/up/etc/passwd "$OUT/up-passwd"
		[ "$(cat "$OUT/up-passwd")" = "$theirs" ]
		# Nothing of the host is reachable through them.
		run_ct 125 cp "web:/tmp/up$hostfile" "$OUT/stolen"
		assert_output_contains "no such file or directory /tmp/up$hostfile in container web"
		run_ct 125 cp "web:/tmp/x/../../../..$hostfile" "$OUT/stolen"
		[ ! -e "$OUT/stolen" ]
		# In: through symlinked folders, the copies land in the container.
		local name="in-$state-$$"
		echo "$state" >"$TEST_ROOT/$name"
		run_ct cp "$TEST_ROOT/$name" web:/tmp/x/
		run_ct cp "$TEST_ROOT/$name" web:/tmp/uptmp/
		run_ct cp "$TEST_ROOT/$name" web:/tmp/up
		[ ! -e "/etc/$name" ]
		[ ! -e "/tmp/$name" ]
		[ ! -e "/$name" ]
		for where in /etc /tmp ""; do
			rm -f "$OUT/check"
			run_ct cp "web:$where/$name" "$OUT/check"
			[ "$(cat "$OUT/check")" = "$state" ]
		done
		assert_no_mounts
	done
}

@test "tar entries with .. or absolute names are refused on cp -" {
	run_ct run -d --name web busybox sleep 1000
	local name="escape-$$-$RANDOM"
	mkdir -p "$TEST_ROOT/evil"
	echo bad >"$TEST_ROOT/evil/$name"
	tar -C "$TEST_ROOT/evil" -cPf "$TEST_ROOT/dotdot.tar" --transform 's,^,../../,' "$name"
	tar -tPf "$TEST_ROOT/dotdot.tar" | grep -q "^\.\./\.\./$name$"
	run "$CT" cp - web:/tmp <"$TEST_ROOT/dotdot.tar"
	echo "$output"
	[ "$status" -eq 125 ]
	assert_output_contains "\"..\" component"
	tar -C "$TEST_ROOT/evil" -cPf "$TEST_ROOT/absolute.tar" --transform "s,^,$TEST_ROOT/," "$name"
	run "$CT" cp - web:/tmp <"$TEST_ROOT/absolute.tar"
	echo "$output"
	[ "$status" -eq 125 ]
	assert_output_contains "absolute"
	[ ! -e "$TEST_ROOT/$name" ]
	[ ! -e "/$name" ]
	[ ! -e "/tmp/$name" ]
	run_ct exec web find / -xdev -name "$name"
	[ -z "$output" ]
	run_ct stop -t 1 web
	run "$CT" cp - web:/tmp <"$TEST_ROOT/dotdot.tar"
	[ "$status" -eq 125 ]
	assert_no_mounts
}

@test "export: the image's files and the container's changes, to a file or stdout, never a terminal" {
	run_ct run --name ex busybox sh -c 'echo new >/newfile && rm /etc/group && mkdir -p /var/www/site && echo page >/var/www/site/index.html'
	run_ct export -o "$TEST_ROOT/ex.tar" ex
	tar -tf "$TEST_ROOT/ex.tar" >"$TEST_ROOT/list"
	grep -qx 'bin/busybox' "$TEST_ROOT/list"
	grep -qx 'etc/passwd' "$TEST_ROOT/list"
	grep -qx 'newfile' "$TEST_ROOT/list"
	grep -qx 'var/www/site/index.html' "$TEST_ROOT/list"
	[ "$(grep -cx 'etc/group' "$TEST_ROOT/list")" = 0 ]
	[ "$(tar -xOf "$TEST_ROOT/ex.tar" newfile)" = new ]
	assert_no_mounts
	"$CT" export ex >"$TEST_ROOT/stdout.tar"
	cmp "$TEST_ROOT/ex.tar" "$TEST_ROOT/stdout.tar"
	# A running container: its own files, not its mounts (/proc, a tmpfs).
	run_ct run -d --name web --tmpfs /scratch busybox sh -c 'echo x >/scratch/in-tmpfs && echo y >/kept && exec sleep 1000'
	wait_for 10 "$CT" exec web test -f /kept
	"$CT" export web >"$TEST_ROOT/web.tar"
	tar -tf "$TEST_ROOT/web.tar" >"$TEST_ROOT/list"
	grep -qx kept "$TEST_ROOT/list"
	[ "$(grep -c 'in-tmpfs' "$TEST_ROOT/list")" = 0 ]
	[ "$(grep -c '^proc/.' "$TEST_ROOT/list")" = 0 ]
	assert_no_mounts
	# A terminal never gets a tar; a failed -o leaves the file as it was.
	run script -qec "$CT export ex" /dev/null
	echo "$output"
	[ "$status" -eq 125 ]
	assert_output_contains "refusing to write a tar archive to a terminal"
	echo keep >"$TEST_ROOT/keep.tar"
	run_ct 125 export -o "$TEST_ROOT/keep.tar" no-such-container
	[ "$(cat "$TEST_ROOT/keep.tar")" = keep ]
	[ -z "$(ls "$TEST_ROOT" | grep 'keep.tar.')" ]
}

@test "cp and export: clear errors for a missing container or path and bad arguments" {
	run_ct run -d --name web busybox sleep 1000
	run_ct 125 cp no-such-container:/etc/passwd "$OUT"
	assert_output_contains "no such container: no-such-container"
	run_ct 125 cp web:/no/such/file "$OUT"
	assert_output_contains "no such file or directory /no/such/file in container web"
	run_ct 125 cp "$TEST_ROOT/no-such-file" web:/tmp
	assert_output_contains "$TEST_ROOT/no-such-file: No such file or directory"
	run_ct 125 cp "$OUT" "$TEST_ROOT/other"
	assert_output_contains "one of the paths must be CONTAINER:PATH"
	run_ct 125 cp web:/etc web:/tmp
	assert_output_contains "one of the paths must be CONTAINER:PATH"
	run_ct 125 cp web:/etc/passwd/. "$OUT"
	assert_output_contains "is not a directory"
	run_ct 125 export
	assert_output_contains "export takes one container"
	run_ct 125 export no-such-container -o "$TEST_ROOT/x.tar"
	assert_no_mounts
}

@test "cp copies files named .wh.* as files, both ways (not as overlay whiteouts)" {
	run_ct run -d --name box busybox sh -c 'mkdir -p /w && echo kept > /w/.wh.note && echo opq > /w/.wh..wh..opq && exec sleep 600'
	mkdir -p "$TEST_ROOT/out"
	run_ct cp box:/w "$TEST_ROOT/out/"
	[ -f "$TEST_ROOT/out/w/.wh.note" ]
	[ "$(cat "$TEST_ROOT/out/w/.wh.note")" = kept ]
	[ "$(cat "$TEST_ROOT/out/w/.wh..wh..opq")" = opq ]
	# And back in, under another name.
	run_ct cp "$TEST_ROOT/out/w" box:/back
	run_ct exec box cat /back/.wh.note /back/.wh..wh..opq
	[ "$output" = "$(printf 'kept\nopq')" ]
}

@test "a stopped container being copied into can't be started or deleted meanwhile" {
	run_ct create --name quiet busybox sleep 600
	mkdir -p "$TEST_ROOT/src"
	echo data >"$TEST_ROOT/src/file"
	# The tar arrives after 2 s: the copy holds the container's overlay until then.
	(sleep 2; tar -C "$TEST_ROOT/src" -cf - file) | "$CT" cp - quiet:/ 3>&- &
	local copy=$!
	STARTED_PIDS="$STARTED_PIDS $copy"
	sleep 0.7
	run_ct 125 start quiet
	assert_output_contains "being copied to or from"
	run_ct 125 delete quiet
	assert_output_contains "being copied to or from"
	wait "$copy"
	run_ct start quiet
	run_ct exec quiet cat /file
	[ "$output" = data ]
}
