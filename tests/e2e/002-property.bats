#!/usr/bin/env bats
# container system property: defaults, config files, set/get/clear, validation.

load helpers

@test "properties have defaults, config-file values and set values, in that order" {
	mkdir -p "$(dirname "$CONTAINER_SYSTEM_CONFIG")" "$HOME/.config/container"
	echo '{"network.subnet": "10.88.0.0/16", "registry.domain": "localhost:5000"}' >"$CONTAINER_SYSTEM_CONFIG"
	echo '{"registry.domain": "127.0.0.1:5000", "bogus.key": "x"}' >"$HOME/.config/container/config.json"
	start_system

	run_ct system property list
	assert_output_contains "dns.domain"
	run_ct system property list --format json
	[ "$(jq -r '.[] | select(.key=="dns.domain") | .source' <<<"$output")" = default ]
	[ "$(jq -r '.[] | select(.key=="network.subnet") | .value' <<<"$output")" = 10.88.0.0/16 ]
	[ "$(jq -r '.[] | select(.key=="network.subnet") | .source' <<<"$output")" = "$CONTAINER_SYSTEM_CONFIG" ]
	[ "$(jq -r '.[] | select(.key=="registry.domain") | .value' <<<"$output")" = 127.0.0.1:5000 ]
	run_ct system property list -q
	[ "${lines[0]}" = dns.domain ]

	run_ct system property set registry.domain registry.internal:443
	run_ct system property get registry.domain
	[ "$output" = registry.internal:443 ]
	run_ct system property clear registry.domain
	run_ct system property get registry.domain
	[ "$output" = 127.0.0.1:5000 ]

	# The unknown key in the user's file was reported, not fatal.
	run_ct system logs
	assert_output_contains "unknown property \"bogus.key\""
}

@test "a set property survives a restart of the API server" {
	start_system
	run_ct system property set dns.domain containers.internal
	run_ct system stop
	start_system
	run_ct system property get dns.domain
	[ "$output" = containers.internal ]
}

@test "bad property keys and values are refused with what a valid one looks like" {
	start_system
	run_ct 125 system property set dns.domain "not a domain"
	assert_output_contains "is not a valid DNS domain"
	run_ct 125 system property set network.subnet 10.0.0.1/24
	assert_output_contains "host bits set"
	run_ct 125 system property set network.subnet 300.1.1.0/24
	assert_output_contains "CIDR"
	run_ct 125 system property get no.such.key
	assert_output_contains "unknown property \"no.such.key\"; known: dns.domain"
	run_ct 125 system property set dns.domain
	assert_output_contains "property set takes KEY VALUE"
	run_ct system property get dns.domain
	[ "$output" = test ]
}
