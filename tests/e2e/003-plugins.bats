#!/usr/bin/env bats
# Plugins: discovery, CLI plugins, loading, routing, supervision.

load helpers

@test "a user service plugin is found and listed; a bad manifest is skipped and logged" {
	make_service_plugin sample-one
	mkdir -p "$CONTAINER_APP_ROOT/user-plugins/broken/bin"
	echo '{"abstract": "broken", "servicesConfig": {"services": [{"type": "wizard"}]}}' \
		>"$CONTAINER_APP_ROOT/user-plugins/broken/config.json"
	mkdir -p "$CONTAINER_APP_ROOT/user-plugins/nobinary"
	echo '{"abstract": "no binary"}' >"$CONTAINER_APP_ROOT/user-plugins/nobinary/config.json"
	start_system

	run_ct plugin list
	assert_output_contains "sample-one"
	assert_output_contains "Sample service plugin sample-one"
	assert_output_lacks "broken"
	run_ct plugin list --format json
	[ "$(jq -r '.[] | select(.name=="sample-one") | .state' <<<"$output")" = stopped ]
	[ "$(jq -r '.[] | select(.name=="sample-one") | .kind' <<<"$output")" = service ]
	run_ct plugin list -q
	grep -qx sample-one <<<"$output"
	grep -qx container-core-images <<<"$output"

	run_ct system logs
	assert_output_contains "skipping plugin $CONTAINER_APP_ROOT/user-plugins/broken"
	assert_output_contains "type \"wizard\" is not one of core, runtime, network, auxiliary"
	assert_output_contains "user-plugins/nobinary/bin/nobinary is missing or not executable"
}

@test "a CLI plugin runs with the remaining arguments and its exit code" {
	local dir=$CONTAINER_APP_ROOT/user-plugins/hello
	mkdir -p "$dir/bin"
	echo '{"abstract": "Says hello", "version": "1.0"}' >"$dir/config.json"
	cat >"$dir/bin/hello" <<'SH'
#!/bin/sh
echo "hello from plugin: $*"
exit 42
SH
	chmod +x "$dir/bin/hello"

	run_ct --help
	assert_output_contains "hello"
	assert_output_contains "Says hello"
	run_ct 42 hello a "b c"
	[ "$output" = "hello from plugin: a b c" ]
	# No API server is needed to run a CLI plugin.
	[ ! -S "$SOCKET" ]

	run_ct 125 nosuchcommand
	assert_output_contains "'nosuchcommand' is not a container command or plugin"

	chmod -x "$dir/bin/hello"
	run_ct 125 hello
	assert_output_contains "not a container command or plugin"
}

@test "a container-NAME program on PATH is a CLI plugin too" {
	mkdir -p "$TEST_ROOT/bin"
	printf '#!/bin/sh\necho "path plugin $1"\nexit 7\n' >"$TEST_ROOT/bin/container-pathy"
	chmod +x "$TEST_ROOT/bin/container-pathy"
	PATH=$TEST_ROOT/bin:$PATH run_ct 7 pathy x
	[ "$output" = "path plugin x" ]
}

@test "requests are routed to the plugin, with progress frames and descriptors both ways" {
	make_service_plugin sample-one
	start_system

	# Loaded on demand by the first request for its route prefix.
	run_call sample.echo '{"hello": "world"}'
	[ "$(jq -r .hello <<<"$output")" = world ]
	local pid
	pid=$(jq -r .pid <<<"$output")
	[ "$(plugin_field sample-one state)" = running ]
	[ "$(plugin_field sample-one pid)" = "$pid" ]
	STARTED_PIDS="$STARTED_PIDS $pid"

	run_call sample.progress '{"count": 3}'
	[ "${lines[0]}" = '{"progress":{"step":1}}' ]
	[ "${lines[2]}" = '{"progress":{"step":3}}' ]
	[ "${lines[3]}" = '{"steps":3}' ]

	# A descriptor goes through the API server to the plugin, and one comes back.
	exec 5>"$TEST_ROOT/written"
	run_call sample.fd '{}' --pass-fd 5 --read-reply-fds
	exec 5>&-
	[ "$(cat "$TEST_ROOT/written")" = written-by-sample ]
	assert_output_contains "fd0: from-sample"

	run_call 1 sample.nosuchroute
	assert_output_contains '"code":"notFound"'
	run_call 1 nobody.owns.this
	assert_output_contains "unknown route \\\"nobody.owns.this\\\""
}

@test "plugin load, unload and restart" {
	make_service_plugin sample-one
	start_system
	run_ct plugin load sample-one
	assert_output_contains "sample-one: running"
	local pid
	pid=$(plugin_field sample-one pid)
	STARTED_PIDS="$STARTED_PIDS $pid"
	kill -0 "$pid"

	run_ct plugin restart sample-one
	local pid2
	pid2=$(plugin_field sample-one pid)
	STARTED_PIDS="$STARTED_PIDS $pid2"
	[ "$pid2" != "$pid" ]
	! kill -0 "$pid" 2>/dev/null

	run_ct plugin unload sample-one
	assert_output_contains "sample-one: stopped"
	! kill -0 "$pid2" 2>/dev/null
	[ "$(plugin_field sample-one state)" = stopped ]

	run_ct 125 plugin load nosuch
	assert_output_contains "no plugin named nosuch"
}

@test "a loadAtBoot plugin killed with SIGKILL is restarted within 5 s" {
	make_service_plugin sample-boot true
	start_system
	[ "$(plugin_field sample-boot state)" = running ]
	local pid
	pid=$(plugin_field sample-boot pid)
	STARTED_PIDS="$STARTED_PIDS $pid"
	kill -KILL "$pid"
	local start=$SECONDS
	wait_for 5 bash -c "[ \"\$('$CT' plugin get sample-boot | jq -r '.state + \" \" + (.pid|tostring)')\" != 'running $pid' ] && '$CT' plugin get sample-boot | jq -e '.state == \"running\"'"
	[ $((SECONDS - start)) -le 5 ]
	local pid2
	pid2=$(plugin_field sample-boot pid)
	STARTED_PIDS="$STARTED_PIDS $pid2"
	[ "$pid2" != "$pid" ]
	[ "$(plugin_field sample-boot restarts)" = 1 ]
	run_call sample.echo '{}'
	[ "$(jq -r .pid <<<"$output")" = "$pid2" ]
	run_ct system logs
	assert_output_contains "plugin sample-boot killed by signal 9"
	assert_output_contains "restarting plugin sample-boot"
}

@test "a plugin that crashes mid-request fails that request only, and is restarted" {
	make_service_plugin sample-one
	start_system
	run_call sample.echo '{}'
	local pid
	pid=$(jq -r .pid <<<"$output")
	STARTED_PIDS="$STARTED_PIDS $pid"
	run_call 1 sample.crash
	assert_output_contains '"code":"unavailable"'
	assert_output_contains "closed the connection before replying"
	wait_for 5 bash -c "'$CT' plugin get sample-one | jq -e '.state == \"running\" and .pid != $pid'"
	run_call sample.echo '{"again": true}'
	[ "$(jq -r .again <<<"$output")" = true ]
	STARTED_PIDS="$STARTED_PIDS $(jq -r .pid <<<"$output")"
}

@test "a crash-looping plugin is marked failed and requests say so" {
	make_service_plugin sample-loop true '["--crash-at-start"]'
	start_system
	wait_for 15 bash -c "'$CT' plugin get sample-loop | jq -e '.state == \"failed\"'"
	run_ct plugin list
	assert_output_contains "failed"
	[ "$(plugin_field sample-loop restarts)" = 5 ]
	run_call 1 sample.echo '{}'
	assert_output_contains "plugin sample-loop has failed"
	run_ct system logs
	assert_output_contains "marked failed"
	# The API server itself is unaffected.
	run_ct system status
	assert_output_contains "running"
}

@test "stopping the system stops its plugins" {
	make_service_plugin sample-boot true
	start_system
	local pid
	pid=$(plugin_field sample-boot pid)
	STARTED_PIDS="$STARTED_PIDS $pid"
	kill -0 "$pid"
	run_ct system stop
	! kill -0 "$pid" 2>/dev/null
	[ ! -e "$CONTAINER_RUN_ROOT/plugins/sample-boot.sock" ]
}

@test "plugins stop when the API server is killed" {
	make_service_plugin sample-boot true
	start_system
	local pid
	pid=$(plugin_field sample-boot pid)
	STARTED_PIDS="$STARTED_PIDS $pid"
	kill -KILL "$(apiserver_pid)"
	wait_for 5 bash -c "! kill -0 $pid"
	# The next API server starts a fresh plugin on the same socket path.
	start_system
	wait_for 5 bash -c "'$CT' plugin get sample-boot | jq -e '.state == \"running\"'"
	STARTED_PIDS="$STARTED_PIDS $(plugin_field sample-boot pid)"
	run_call sample.echo '{}'
}

@test "instances of a plugin: labelled name.instance, own socket and arguments, own supervision" {
	make_service_plugin sample-one
	start_system
	run_ct plugin load sample-one --instance blue --some-flag
	assert_output_contains "sample-one.blue: running"
	run_ct plugin load sample-one --instance green
	run_ct plugin list --format json
	local blue green
	blue=$(jq -r '.[] | select(.name == "sample-one.blue") | .pid' <<<"$output")
	green=$(jq -r '.[] | select(.name == "sample-one.green") | .pid' <<<"$output")
	STARTED_PIDS="$STARTED_PIDS $blue $green"
	[ "$blue" != "$green" ]
	[ -S "$CONTAINER_RUN_ROOT/plugins/sample-one.blue.sock" ]
	grep -q -- --some-flag "/proc/$blue/cmdline"
	! grep -q -- --some-flag "/proc/$green/cmdline"
	# Each is supervised on its own: a killed one comes back, the other is untouched.
	kill -KILL "$blue"
	wait_for 5 bash -c "'$CT' plugin list --format json | jq -e '.[] | select(.name == \"sample-one.blue\") | .state == \"running\" and .pid != $blue'"
	STARTED_PIDS="$STARTED_PIDS $("$CT" plugin get sample-one.blue | jq -r .pid)"
	kill -0 "$green"
	grep -q -- --some-flag "/proc/$("$CT" plugin get sample-one.blue | jq -r .pid)/cmdline"
	run_ct plugin unload sample-one.green
	! kill -0 "$green" 2>/dev/null
	run_ct 125 plugin load sample-one --instance 'Bad Name'
	assert_output_contains "instance name"
}
