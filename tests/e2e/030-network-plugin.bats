#!/usr/bin/env bats
# container-network-bridge on its own: the plugin program started by hand (no API
# server) in the suite's private network namespace, driven with ct-call. "Containers"
# are network namespaces held by `unshare --net sleep` processes the tests start.

load helpers

# The helpers' teardown, kept under another name: ours removes the network first.
eval "$(declare -f teardown | sed '1s/^teardown/ct_teardown/')"

NB_PLUGIN=$CONTAINER_TEST_STAGE/libexec/container/plugins/container-network-bridge/bin/container-network-bridge
NET=e2enet
BR=ctbr-e2e
SUBNET=10.89.7.0/24
GW=10.89.7.1

setup() {
	ct_setup
	NB_SOCK=$TEST_ROOT/nb/plugin.sock
	NB_STATE=$TEST_ROOT/nb/state
	mkdir -p "$TEST_ROOT/nb" "$CONTAINER_LOG_ROOT"
	NS_PIDS=
	PLUGIN_PID=
	HELPER_PIDS=
}

teardown() {
	local pid
	# SIGTERM and a wait, so a sanitizer's leak report is written before we look.
	if [ -n "$PLUGIN_PID" ] && kill -0 "$PLUGIN_PID" 2>/dev/null; then
		kill -TERM "$PLUGIN_PID"
		for _ in $(seq 50); do
			kill -0 "$PLUGIN_PID" 2>/dev/null || break
			sleep 0.1
		done
	fi
	for pid in $NS_PIDS $HELPER_PIDS; do
		[ "$pid" -gt 1 ] 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	done
	ip link del "$BR" 2>/dev/null || true
	for pid in vce2e1 vce2e2 vce2e3; do ip link del "$pid" 2>/dev/null || true; done
	nft delete table inet container 2>/dev/null || true
	# What the plugin logged (to its log file, or to stderr without one).
	cat "$TEST_ROOT/nb/plugin.log" "$CONTAINER_LOG_ROOT"/* 2>/dev/null | tail -40 | sed 's/^/# log: /'

	ct_teardown
}

# start_plugin [FLAGS…]: starts the plugin for $NET and waits until it answers.
start_plugin() {
	"$NB_PLUGIN" start --socket "$NB_SOCK" --network "$NET" --bridge "$BR" --subnet "$SUBNET" \
		--gateway "$GW" --state-dir "$NB_STATE" --domain test "$@" \
		</dev/null >>"$TEST_ROOT/nb/plugin.log" 2>&1 3>&- &
	PLUGIN_PID=$!
	STARTED_PIDS="${STARTED_PIDS:-} $PLUGIN_PID"
	wait_for 15 "$CT_CALL" --socket "$NB_SOCK" bridge.status
}

netns_ready() {
	[ "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/self/ns/net)" ]
}

# Background processes close fd 3 (bats' TAP output), or bats waits for them at the end.

# make_netns: a process in a new network namespace, as a container's init would be;
# sets NS_PID.
make_netns() {
	unshare --net sleep 600 </dev/null >/dev/null 2>&1 3>&- &
	NS_PID=$!
	NS_PIDS="$NS_PIDS $NS_PID"
	wait_for 5 netns_ready "$NS_PID"
}

in_ns() {
	local pid=$1
	shift
	nsenter --net="/proc/$pid/ns/net" "$@"
}

# attach [EXPECTED_STATUS] ID NS_PID ADDRESS HOST_IF [PORTS_JSON] [NAMES_JSON] [EXTRA_JSON]
attach() {
	local expected=0
	case "$1" in [0-9]) expected=$1; shift ;; esac
	local id=$1 pid=$2 addr=$3 hostif=$4 ports=${5:-[]} names=${6:-[]} extra=${7:-}
	local body fd rc
	body=$(jq -cn --arg id "$id" --arg addr "$addr" --arg hostif "$hostif" \
		--argjson ports "$ports" --argjson names "$names" \
		'{container: $id, names: $names, interface: "eth0", hostInterface: $hostif,
		  address: $addr, prefixLength: 24, gateway: "10.89.7.1", defaultRoute: true,
		  ports: $ports}')
	[ -z "$extra" ] || body=$(jq -c ". + $extra" <<<"$body")
	exec {fd}<"/proc/$pid/ns/net"
	rc=0
	run_call "$expected" --socket "$NB_SOCK" bridge.attach "$body" --pass-fd "$fd" || rc=$?
	exec {fd}<&-
	return $rc
}

call() {
	run_call "$@"
}

dig_short() {
	dig +short +time=2 +tries=1 "@$GW" "$@"
}

dig_status() {
	dig +time=2 +tries=1 "@$GW" "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}

@test "network-bridge: start creates the bridge with the gateway address, the sysctls and the nftables network" {
	start_plugin
	run ip -j addr show dev "$BR"
	echo "$output"
	[ "$(jq -r '.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"' <<<"$output")" = "$GW/24" ]
	[ "$(jq -r '.[0].flags | index("UP") != null' <<<"$output")" = true ]
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
	[ "$(cat /proc/sys/net/ipv4/conf/$BR/route_localnet)" = 1 ]
	run nft list table inet container
	echo "$output"
	assert_output_contains "chain net-$NET-dnat"
	assert_output_contains "chain net-$NET-post"
	assert_output_contains "\"$BR\" comment \"net $NET\""
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r .network <<<"$output")" = "$NET" ]
	[ "$(jq -r .bridge <<<"$output")" = "$BR" ]
	[ "$(jq -r .subnet <<<"$output")" = "$SUBNET" ]
	[ "$(jq -r .gateway <<<"$output")" = "$GW" ]
	[ "$(jq -c .domains <<<"$output")" = '["test"]' ]
	[ "$(jq -r '.attachments | length' <<<"$output")" = 0 ]

	# Starting again (a plugin restarted by its supervisor) keeps everything.
	kill -TERM "$PLUGIN_PID"
	wait_for 10 bash -c "! kill -0 $PLUGIN_PID"
	start_plugin
	run ip -j addr show dev "$BR"
	[ "$(jq '[.[0].addr_info[] | select(.family=="inet")] | length' <<<"$output")" = 1 ]

	# Bad flags are refused with a message saying which.
	run "$NB_PLUGIN" start --socket "$TEST_ROOT/nb/other.sock" --network "$NET" --bridge "$BR" \
		--subnet 10.89.7.0/24 --gateway 10.90.0.1 --state-dir "$NB_STATE"
	echo "$output"
	[ "$status" -ne 0 ]
	assert_output_contains "--gateway 10.90.0.1 is not a host address of --subnet 10.89.7.0/24"
}

@test "network-bridge: attach plumbs eth0 with its address, MAC and default route; ping and DNS work" {
	start_plugin
	make_netns
	attach c1 "$NS_PID" 10.89.7.2 vce2e1 '[]' '["web", "Alias1"]'
	[ "$(jq -r .mac <<<"$output")" = 02:42:0a:59:07:02 ]
	[ "$(jq -r .hostInterface <<<"$output")" = vce2e1 ]

	run in_ns "$NS_PID" ip -j addr show dev eth0
	echo "$output"
	[ "$(jq -r '.[0].address' <<<"$output")" = 02:42:0a:59:07:02 ]
	[ "$(jq -r '.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"' <<<"$output")" = 10.89.7.2/24 ]
	[ "$(jq -r '.[0].operstate' <<<"$output")" = UP ]
	run in_ns "$NS_PID" ip -j route show default
	echo "$output"
	[ "$(jq -r '.[0].gateway' <<<"$output")" = "$GW" ]
	[ "$(jq -r '.[0].dev' <<<"$output")" = eth0 ]
	run in_ns "$NS_PID" ip -j link show dev lo
	[ "$(jq -r '.[0].flags | index("UP") != null' <<<"$output")" = true ]
	# The host end: a port of the bridge, up, in hairpin mode.
	run bridge -d -j link show dev vce2e1
	echo "$output"
	[ "$(jq -r '.[0].master' <<<"$output")" = "$BR" ]
	[ "$(jq -r '.[0].hairpin' <<<"$output")" = true ]

	# Traffic both ways across the bridge.
	run busybox ping -c 1 -W 2 10.89.7.2
	echo "$output"
	[ "$status" -eq 0 ]
	run in_ns "$NS_PID" busybox ping -c 1 -W 2 "$GW"
	[ "$status" -eq 0 ]

	# DNS on the gateway: the names, with and without the domain, in any case, over
	# UDP and TCP; AAAA of a known name is empty, an unknown name in the domain is
	# NXDOMAIN.
	[ "$(dig_short web)" = 10.89.7.2 ]
	[ "$(dig_short web.test)" = 10.89.7.2 ]
	[ "$(dig_short ALIAS1.Test)" = 10.89.7.2 ]
	[ "$(dig_short +tcp web.test)" = 10.89.7.2 ]
	[ "$(dig_status web.test AAAA)" = NOERROR ]
	[ -z "$(dig_short web.test AAAA)" ]
	[ "$(dig_status nosuch.test)" = NXDOMAIN ]
	# ...and from inside the container, as its resolver would ask.
	run in_ns "$NS_PID" dig +short +time=2 +tries=1 "@$GW" web.test
	[ "$output" = 10.89.7.2 ]

	# Domains can be replaced.
	call --socket "$NB_SOCK" bridge.domains '{"domains": ["example", "Other."]}'
	[ "$(jq -c .domains <<<"$output")" = '["example","other"]' ]
	[ "$(dig_short web.other)" = 10.89.7.2 ]
	[ "$(dig_status nosuch.example)" = NXDOMAIN ]
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r '.attachments[0].container' <<<"$output")" = c1 ]
	[ "$(jq -r '.attachments[0].address' <<<"$output")" = 10.89.7.2 ]
	[ "$(jq -c '.attachments[0].names' <<<"$output")" = '["web","Alias1"]' ]
	[ "$(jq -r '.dns.answered' <<<"$output")" -ge 6 ]
}

@test "network-bridge: bad attach requests say what is wrong and leave nothing behind" {
	start_plugin
	make_netns
	attach 1 c1 "$NS_PID" 10.90.0.2 vce2e1
	assert_output_contains invalidArgument
	assert_output_contains "address 10.90.0.2 is not a free host address of network $NET"
	attach 1 c1 "$NS_PID" "$GW" vce2e1
	assert_output_contains "is not a free host address"
	attach 1 c1 "$NS_PID" 10.89.7.2 vce2e1 '[{"proto": "sctp", "containerPort": 80}]'
	assert_output_contains 'ports[0].proto "sctp": expected "tcp" or "udp"'
	attach 1 c1 "$NS_PID" 10.89.7.2 vce2e1 '[]' '["bad name"]'
	assert_output_contains 'name "bad name"'
	attach 1 c1 "$NS_PID" 10.89.7.2 "this-name-is-too-long"
	assert_output_contains 'hostInterface "this-name-is-too-long"'
	# No namespace descriptor.
	call 1 --socket "$NB_SOCK" bridge.attach '{"container": "c1", "hostInterface": "vce2e1", "address": "10.89.7.2"}'
	assert_output_contains "needs exactly one descriptor"
	# A descriptor that is not a network namespace.
	exec {fd}</dev/null
	run_call 1 --socket "$NB_SOCK" bridge.attach \
		'{"container": "c1", "hostInterface": "vce2e1", "address": "10.89.7.2"}' --pass-fd "$fd"
	exec {fd}<&-
	assert_output_contains "is not a network namespace"
	# The container's end can't be created under a name its namespace already has: the
	# error names the step, and no host end is left.
	in_ns "$NS_PID" ip link add eth0 type bridge
	attach 1 c1 "$NS_PID" 10.89.7.2 vce2e1
	assert_output_contains "connecting to bridge $BR: creating the veth pair vce2e1/eth0"
	run ip link show vce2e1
	[ "$status" -ne 0 ]
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r '.attachments | length' <<<"$output")" = 0 ]
}

@test "network-bridge: published ports get a rule and a reservation; conflicts and free ports" {
	start_plugin
	make_netns
	local ns1=$NS_PID
	make_netns
	local ns2=$NS_PID

	attach c1 "$ns1" 10.89.7.2 vce2e1 \
		'[{"proto": "tcp", "hostIp": "", "hostPort": 18080, "containerPort": 80},
		  {"proto": "tcp", "hostIp": "127.0.0.1", "hostPort": 0, "containerPort": 81},
		  {"proto": "udp", "hostPort": 18100, "containerPort": 5000, "count": 3}]' '["web"]'
	[ "$(jq -r '.ports[0].hostPort' <<<"$output")" = 18080 ]
	local free_port
	free_port=$(jq -r '.ports[1].hostPort' <<<"$output")
	[ "$free_port" -gt 0 ]
	[ "$(jq -r '.ports[2].count' <<<"$output")" = 3 ]
	run nft list table inet container
	echo "$output"
	assert_output_contains "tcp dport 18080 dnat ip to 10.89.7.2:80"
	assert_output_contains "tcp dport $free_port dnat ip to 10.89.7.2:81"
	assert_output_contains "udp dport 18100-18102 dnat ip to 10.89.7.2"
	assert_output_contains "18102 : 5002"

	# The same host port for another container: refused, and nothing of it is left.
	attach 1 c2 "$ns2" 10.89.7.3 vce2e2 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]'
	assert_output_contains conflict
	assert_output_contains "port 18080/tcp on 0.0.0.0 is already in use by another program or container; choose another host port or omit it to get a free one"
	run ip link show vce2e2
	[ "$status" -ne 0 ]
	# One port of a range, too.
	attach 1 c2 "$ns2" 10.89.7.3 vce2e2 '[{"proto": "udp", "hostPort": 18101, "containerPort": 53}]'
	assert_output_contains "port 18101/udp on 0.0.0.0 is already in use"
	# A port a host program holds.
	busybox nc -l -p 18090 </dev/null >/dev/null 2>&1 3>&- &
	HELPER_PIDS="$HELPER_PIDS $!"
	wait_for 5 bash -c "ss -ltn | grep -q ':18090 '"
	attach 1 c2 "$ns2" 10.89.7.3 vce2e2 '[{"proto": "tcp", "hostPort": 18090, "containerPort": 80}]'
	assert_output_contains "port 18090/tcp on 0.0.0.0 is already in use"
	# The same port number over the other protocol is free.
	attach c2 "$ns2" 10.89.7.3 vce2e2 '[{"proto": "udp", "hostPort": 18080, "containerPort": 80}]'

	# Traffic: a web server in the container answers on the published port, from the
	# host's loopback (route_localnet) and from the gateway address.
	mkdir -p "$TEST_ROOT/www"
	echo hello-from-c1 >"$TEST_ROOT/www/index.html"
	nsenter --net="/proc/$ns1/ns/net" busybox httpd -f -p 80 -h "$TEST_ROOT/www" \
		</dev/null >/dev/null 2>&1 3>&- &
	HELPER_PIDS="$HELPER_PIDS $!"
	wait_for 5 curl -sf --max-time 1 http://10.89.7.2:80/
	run curl -sf --max-time 5 http://127.0.0.1:18080/
	echo "$output"
	[ "$output" = hello-from-c1 ]
	run curl -sf --max-time 5 "http://$GW:18080/"
	[ "$output" = hello-from-c1 ]
	# And from the other container on the network, through the host's address.
	run in_ns "$ns2" curl -sf --max-time 5 "http://$GW:18080/"
	[ "$output" = hello-from-c1 ]
}

@test "network-bridge: detach removes the veth, the rules, the reservation and the names" {
	start_plugin
	make_netns
	attach c1 "$NS_PID" 10.89.7.2 vce2e1 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]' '["web"]'
	[ "$(dig_short web.test)" = 10.89.7.2 ]

	call --socket "$NB_SOCK" bridge.detach '{"container": "c1"}'
	[ "$(jq -r .detached <<<"$output")" = true ]
	# The veth of a namespace that still lives goes a moment later (removing it
	# is not on the detach's path).
	wait_for 5 bash -c "! ip link show vce2e1"
	run in_ns "$NS_PID" ip link show eth0
	[ "$status" -ne 0 ]
	run nft list table inet container
	assert_output_lacks "dport 18080"
	[ "$(dig_status web.test)" = NXDOMAIN ]
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r '.attachments | length' <<<"$output")" = 0 ]
	# Idempotent.
	call --socket "$NB_SOCK" bridge.detach '{"container": "c1"}'
	[ "$(jq -r .detached <<<"$output")" = false ]
	# The port is free again.
	attach c1 "$NS_PID" 10.89.7.2 vce2e1 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]'
	# Detached and attached again at once (a restarted container): the old veth,
	# still waiting for removal, makes way for the new one, which stays.
	call --socket "$NB_SOCK" bridge.detach '{"container": "c1"}'
	attach c1 "$NS_PID" 10.89.7.2 vce2e1 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]'
	sleep 2.5
	ip link show vce2e1
	in_ns "$NS_PID" ip link show eth0

	# A container whose namespace died: its veth went with it; detach still succeeds.
	kill -KILL "$NS_PID"
	wait_for 5 bash -c "! ip link show vce2e1"
	call --socket "$NB_SOCK" bridge.detach '{"container": "c1"}'
	[ "$(jq -r .detached <<<"$output")" = true ]
	run nft list table inet container
	assert_output_lacks "dport 18080"
}

@test "network-bridge: a plugin killed and restarted keeps its attachments, ports and names" {
	start_plugin
	make_netns
	local ns1=$NS_PID
	attach c1 "$ns1" 10.89.7.2 vce2e1 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]' '["web"]'
	run nft -a list chain inet container "net-$NET-dnat"
	local rules_before=$output

	kill -KILL "$PLUGIN_PID"
	wait_for 5 bash -c "! kill -0 $PLUGIN_PID"
	# The container keeps its network while the plugin is down.
	run busybox ping -c 1 -W 2 10.89.7.2
	[ "$status" -eq 0 ]
	[ -f "$NB_STATE/attachments.json" ]
	[ "$(jq -r '.attachments[0].container' "$NB_STATE/attachments.json")" = c1 ]

	# Restarted without --domain flags: the domains come from the state file.
	"$NB_PLUGIN" start --socket "$NB_SOCK" --network "$NET" --bridge "$BR" --subnet "$SUBNET" \
		--gateway "$GW" --state-dir "$NB_STATE" </dev/null >>"$TEST_ROOT/nb/plugin.log" 2>&1 3>&- &
	PLUGIN_PID=$!
	STARTED_PIDS="${STARTED_PIDS:-} $PLUGIN_PID"
	wait_for 15 "$CT_CALL" --socket "$NB_SOCK" bridge.status
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r '.attachments[0].container' <<<"$output")" = c1 ]
	[ "$(jq -r '.attachments[0].ports[0].hostPort' <<<"$output")" = 18080 ]
	[ "$(jq -c '.domains' <<<"$output")" = '["test"]' ]
	# Same rules, same handles: nothing was replaced.
	run nft -a list chain inet container "net-$NET-dnat"
	[ "$output" = "$rules_before" ]
	run ip link show vce2e1
	[ "$status" -eq 0 ]
	[ "$(dig_short web.test)" = 10.89.7.2 ]
	# The port is reserved again.
	make_netns
	attach 1 c2 "$NS_PID" 10.89.7.3 vce2e2 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]'
	assert_output_contains "port 18080/tcp on 0.0.0.0 is already in use"

	# The same container attached again (it was restarted, with a new namespace): the
	# old attachment goes first.
	attach c1 "$NS_PID" 10.89.7.2 vce2e3 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]' '["web"]'
	wait_for 5 bash -c "! ip link show vce2e1"
	run in_ns "$NS_PID" ip -j addr show dev eth0
	[ "$(jq -r '.[0].addr_info[] | select(.family=="inet") | .local' <<<"$output")" = 10.89.7.2 ]
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r '.attachments | length' <<<"$output")" = 1 ]
	[ "$(jq -r '.attachments[0].hostInterface' <<<"$output")" = vce2e3 ]
	run nft list chain inet container "net-$NET-dnat"
	[ "$(grep -c 'dport 18080' <<<"$output")" = 1 ]

	# A container that died while the plugin was down is dropped at the next start.
	kill -KILL "$PLUGIN_PID"
	wait_for 5 bash -c "! kill -0 $PLUGIN_PID"
	kill -KILL "$NS_PID"
	wait_for 5 bash -c "! ip link show vce2e3"
	start_plugin
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r '.attachments | length' <<<"$output")" = 0 ]
	run nft list table inet container
	assert_output_lacks "dport 18080"
}

@test "network-bridge: an internal network has no default route, no ports and no forwarding" {
	start_plugin --internal
	make_netns
	attach 1 c1 "$NS_PID" 10.89.7.2 vce2e1 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]'
	assert_output_contains "is internal"
	attach c1 "$NS_PID" 10.89.7.2 vce2e1 '[]' '["web"]'
	run in_ns "$NS_PID" ip -j route show default
	[ "$(jq length <<<"$output")" = 0 ]
	[ "$(dig_short web.test)" = 10.89.7.2 ]
	# Names that aren't ours are refused, not forwarded.
	[ "$(dig_status example.com)" = REFUSED ]
	call --socket "$NB_SOCK" bridge.status
	[ "$(jq -r .internal <<<"$output")" = true ]
}

@test "network-bridge: teardown refuses while containers are attached; force removes everything" {
	start_plugin
	make_netns
	attach c1 "$NS_PID" 10.89.7.2 vce2e1 '[{"proto": "tcp", "hostPort": 18080, "containerPort": 80}]' '["web"]'
	call 1 --socket "$NB_SOCK" bridge.teardown
	assert_output_contains conflict
	assert_output_contains "still has 1 attached containers"
	run ip link show "$BR"
	[ "$status" -eq 0 ]

	call --socket "$NB_SOCK" bridge.teardown '{"force": true}'
	[ "$(jq -r .network <<<"$output")" = "$NET" ]
	run ip link show "$BR"
	[ "$status" -ne 0 ]
	run ip link show vce2e1
	[ "$status" -ne 0 ]
	run nft list table inet container
	echo "$output"
	assert_output_lacks "net-$NET"
	assert_output_lacks "$BR"
	[ ! -e "$NB_STATE/attachments.json" ]
	# Further work is refused.
	attach 1 c2 "$NS_PID" 10.89.7.3 vce2e2
	assert_output_contains "has been torn down"
}
