#!/usr/bin/env bats
# container system: start, stop, status, version, logs; running without a server.

load helpers

@test "help lists the command groups" {
	run_ct --help
	assert_output_contains "system"
	assert_output_contains "plugin"
	run_ct system --help
	assert_output_contains "property"
}

@test "commands that need the API server fail at once when it is not running" {
	local start=$SECONDS
	for cmd in "plugin list" "system property list" "system property get dns.domain" \
		"plugin load x"; do
		run_ct 125 $cmd
		assert_output_contains "cannot reach container-apiserver at $SOCKET — run \`container system start\`"
	done
	[ $((SECONDS - start)) -lt 5 ]
	run_ct 1 system status
	assert_output_contains "not running"
	run_ct system version
	assert_output_contains "container-apiserver:  not running"
}

@test "system start, status and stop" {
	start_system
	local pid
	pid=$(apiserver_pid)
	kill -0 "$pid"
	[ -S "$SOCKET" ]
	# The socket folder is private to root (no "container" group here).
	[ "$(stat -c %a "$CONTAINER_RUN_ROOT")" = 700 ]
	[ "$(stat -c %a "$SOCKET")" = 600 ]

	run_ct system status
	assert_output_contains "status:        running"
	assert_output_contains "pid:           $pid"
	assert_output_contains "app root:      $CONTAINER_APP_ROOT"
	assert_output_contains "log root:      $CONTAINER_LOG_ROOT"

	run_ct system status --format json
	[ "$(jq -r .status <<<"$output")" = running ]
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]
	[ "$(jq -r .stateSchemaVersion <<<"$output")" -ge 1 ]

	run_ct system version
	assert_output_contains "container-apiserver:  0."

	# WAL mode and a versioned schema in state.db.
	[ "$(sqlite3 "$CONTAINER_APP_ROOT/state.db" 'PRAGMA journal_mode')" = wal ]
	[ "$(sqlite3 "$CONTAINER_APP_ROOT/state.db" 'PRAGMA user_version')" -ge 1 ]

	run_ct system stop
	assert_output_contains "stopped"
	! kill -0 "$pid" 2>/dev/null
	[ ! -e "$SOCKET" ]
	[ ! -e "$PIDFILE" ]
	run_ct system stop
	assert_output_contains "not running"
}

@test "a second start says the API server is already running" {
	start_system
	local pid
	pid=$(apiserver_pid)
	run_ct system start
	assert_output_contains "already running (pid $pid)"
	# Started directly, the server itself refuses: it holds the instance lock.
	run "$CONTAINER_TEST_STAGE/bin/container-apiserver" start
	echo "$output"
	[ "$status" -ne 0 ]
	assert_output_contains "already running (pid $pid)"
	[ "$(apiserver_pid)" = "$pid" ]
}

@test "system start takes --app-root and --log-root" {
	local app=$TEST_ROOT/other-app log=$TEST_ROOT/other-log
	start_system --app-root "$app" --log-root "$log" --timeout 20
	run_ct system status --format json
	[ "$(jq -r .appRoot <<<"$output")" = "$app" ]
	[ "$(jq -r .logRoot <<<"$output")" = "$log" ]
	[ -f "$app/state.db" ]
	[ -f "$log/container.log" ]
	run_ct system logs
	assert_output_contains "serving on $SOCKET"
}

@test "start reports a failure with its reason" {
	# An app root that cannot be created: a file stands in the way.
	touch "$TEST_ROOT/file"
	run_ct 125 system start --app-root "$TEST_ROOT/file/app"
	assert_output_contains "$TEST_ROOT/file"
	assert_output_contains "failed to start"
	[ ! -S "$SOCKET" ]
}

@test "SIGTERM stops the API server cleanly" {
	start_system
	local pid
	pid=$(apiserver_pid)
	kill -TERM "$pid"
	wait_for 10 bash -c "! kill -0 $pid"
	[ ! -e "$SOCKET" ]
	[ ! -e "$PIDFILE" ]
	run_ct system logs
	assert_output_contains "stopping (SIGTERM)"
	assert_output_contains "stopped"
}

@test "a server killed with SIGKILL leaves nothing that blocks the next start" {
	start_system
	kill -KILL "$(apiserver_pid)"
	run_ct 125 plugin list
	start_system
	run_ct plugin list
}

@test "system logs shows the log, filters with --last and follows with -f" {
	start_system
	run_ct system property set dns.domain example
	run_ct system logs
	assert_output_contains "info container-apiserver["
	assert_output_contains "property dns.domain set to \"example\""
	run_ct system logs --last 5m
	assert_output_contains "property dns.domain set"
	# A line from the distant past is left out by --last, kept without it.
	echo "2001-01-01T00:00:00.000Z info old-line[1]: from long ago" >>"$CONTAINER_LOG_ROOT/container.log"
	run_ct system logs --last 1h
	assert_output_lacks "from long ago"
	run_ct system logs
	assert_output_contains "from long ago"
	run_ct 125 system logs --last 5parsecs
	assert_output_contains "--last takes a duration"

	"$CT" system logs -f >"$TEST_ROOT/follow.out" 2>&1 &
	local follower=$!
	sleep 0.5
	run_ct system property set dns.domain followed
	wait_for 5 grep -q 'set to "followed"' "$TEST_ROOT/follow.out"
	kill "$follower"
	wait "$follower" || true
}
