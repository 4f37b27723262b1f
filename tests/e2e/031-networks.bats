#!/usr/bin/env bats
# Networks: the default network, network create/list/inspect/delete/prune,
# addresses, names, isolation, NAT, published ports and DNS. Everything runs in
# the private network namespace tests/run-tests makes; "outside" is a namespace
# of the test's own (outside_ns).

load helpers

setup() {
	ct_setup
	start_system
	import_busybox busybox:latest
}

# addr NAME: a running container's first address, without the prefix length.
addr() {
	"$CT" inspect "$1" | jq -r '.[0].networks[0].address' | cut -d/ -f1
}

@test "the default network exists; networks are created, listed, inspected, refused and deleted" {
	run_ct network list --format json
	[ "$(jq -r '.[0].name' <<<"$output")" = default ]
	[ "$(jq -r '.[0].subnet' <<<"$output")" = 192.168.64.0/24 ]
	[ "$(jq -r '.[0].gateway' <<<"$output")" = 192.168.64.1 ]
	[ "$(jq -r '.[0].state' <<<"$output")" = running ]
	ip -o addr show container0 | grep -q 'inet 192.168.64.1/24'

	run_ct network create --subnet 10.91.0.0/24 --label team=web backend
	run_ct network create --internal secret
	run_ct network inspect backend
	[ "$(jq -r '.[0].subnet' <<<"$output")" = 10.91.0.0/24 ]
	[ "$(jq -r '.[0].labels.team' <<<"$output")" = web ]
	run_ct network inspect secret
	[ "$(jq -r '.[0].internal' <<<"$output")" = true ]
	run_ct network list -q
	[ "$output" = "$(printf 'default\nbackend\nsecret')" ]

	# Refused: a taken name, an overlapping subnet, a bad subnet, a bad name.
	run_ct 125 network create backend
	assert_output_contains "exists already"
	run_ct 125 network create --subnet 10.91.0.128/25 other
	assert_output_contains "overlaps 10.91.0.0/24 of network backend"
	run_ct 125 network create --subnet 10.92.0.5/24 other
	assert_output_contains "did you mean 10.92.0.0/24"
	run_ct 125 network create 'Bad/Name'
	assert_output_contains "invalid network name"
	run_ct 125 network delete default
	assert_output_contains "can't be deleted"

	# In use: refused until the container is gone.
	run_ct create --name user --network backend busybox true
	run_ct 125 network delete backend
	assert_output_contains "used by container user"
	run_ct network prune
	assert_output_contains secret
	assert_output_lacks backend
	run_ct delete user
	run_ct network delete backend
	run_ct network list -q
	[ "$output" = default ]
	# Its bridge and rules went with it.
	! ip -o link show | grep -q ctbr
	! nft list table inet container | grep -q 'net backend'
	run_ct 125 network inspect backend
	assert_output_contains "no network named backend"
}

@test "two containers on a network reach each other by address and by name" {
	run_ct run -d --name web busybox httpd -f -p 80 -h /etc
	run_ct run -d --name client --hostname cli busybox sleep 600
	local web
	web=$(addr web)
	[[ "$web" == 192.168.64.* ]]
	# eth0 with its address, MAC and default route.
	run_ct exec client ip -o addr show eth0
	assert_output_contains "$(addr client)/24"
	run_ct exec client cat /sys/class/net/eth0/address
	[ "$output" = "$(printf '02:42:%02x:%02x:%02x:%02x' $(tr . ' ' <<<"$(addr client)"))" ]
	run_ct exec client ip route
	assert_output_contains "default via 192.168.64.1 dev eth0"
	# By address, by name and by name.domain, through the network's DNS server.
	run_ct exec client ping -c1 -W2 "$web"
	run_ct exec client wget -qO- "http://web/hostname"
	[ "$output" = web ]
	run_ct exec client wget -qO- "http://web.test/hostname"
	[ "$output" = web ]
	run_ct exec client nslookup web
	assert_output_contains "Address: $web"
	# Files we wrote, bind-mounted over the image's.
	run_ct exec client cat /etc/hostname
	[ "$output" = cli ]
	run_ct exec client cat /etc/resolv.conf
	assert_output_contains "nameserver 192.168.64.1"
	assert_output_contains "search test"
	run_ct exec client cat /etc/hosts
	assert_output_contains "$(addr client)	cli"
	run_ct exec client grep -c . /proc/self/mountinfo
	run_ct exec client sh -c 'grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/self/mountinfo | wc -l'
	[ "$output" = 3 ]
	# The image itself is untouched.
	! grep -q 192.168.64 "$CONTAINER_APP_ROOT"/snapshots/*/fs/etc/hosts 2>/dev/null
	# list and inspect show the address.
	run_ct list
	assert_output_contains "$web"
	run_ct inspect web
	[ "$(jq -r '.[0].networks[0].network' <<<"$output")" = default ]
	[ "$(jq -r '.[0].networks[0].gateway' <<<"$output")" = 192.168.64.1 ]
}

@test "separate networks can't reach each other; a container on both reaches both" {
	run_ct network create --subnet 10.93.0.0/24 red
	run_ct network create --subnet 10.94.0.0/24 blue
	run_ct run -d --name r --network red busybox sleep 600
	run_ct run -d --name b --network blue busybox sleep 600
	run_ct run -d --name both --network red --network blue busybox sleep 600
	local r b
	r=$(addr r)
	b=$(addr b)
	[[ "$r" == 10.93.0.* ]] && [[ "$b" == 10.94.0.* ]]
	run_ct 1 exec r ping -c1 -W1 "$b"
	run_ct 1 exec b ping -c1 -W1 "$r"
	# Names of another network are not answered.
	run_ct 1 exec r nslookup b
	run_ct exec both ip -o addr
	assert_output_contains "eth0"
	assert_output_contains "eth1"
	run_ct exec both ping -c1 -W2 "$r"
	run_ct exec both ping -c1 -W2 "$b"
	run_ct inspect both
	[ "$(jq -r '.[0].networks | map(.interface) | join(",")' <<<"$output")" = eth0,eth1 ]
}

@test "traffic leaves a network masqueraded; an internal network has no route out" {
	outside_ns
	run_ct network create --internal --subnet 10.95.0.0/24 vault
	run_ct run -d --name open busybox sleep 600
	run_ct run -d --name closed --network vault busybox sleep 600
	# "outside" has no route back to 192.168.64.0/24: an answer proves NAT.
	run_ct exec open ping -c1 -W2 198.51.100.2
	run_ct exec closed ip route
	assert_output_lacks default
	run_ct 1 exec closed ping -c1 -W1 198.51.100.2
	run_ct 1 exec closed ping -c1 -W1 "$(addr open)"
	run_ct 125 run --rm --network vault -p 8081:80 busybox true
	assert_output_contains "internal"
}

@test "a published TCP port answers on 127.0.0.1, on the host's addresses and from outside" {
	outside_ns
	run_ct run -d --name web -p 8080:80 busybox httpd -f -p 80 -h /etc
	run curl -sf -m 5 http://127.0.0.1:8080/hostname
	[ "$output" = web ]
	run curl -sf -m 5 http://192.168.64.1:8080/hostname
	[ "$output" = web ]
	run curl -sf -m 5 http://198.51.100.1:8080/hostname
	[ "$output" = web ]
	# A real client elsewhere, through the host's outside address.
	run ip netns exec "$OUTSIDE" curl -sf -m 5 http://198.51.100.1:8080/hostname
	[ "$output" = web ]
	# Another container, through the published port (hairpin).
	run_ct run --rm busybox wget -qO- http://192.168.64.1:8080/hostname
	[ "$output" = web ]
	run_ct list
	assert_output_contains "0.0.0.0:8080->80/tcp"
	# stats counts the container's traffic (not lo's).
	run curl -sf -m 5 -o /dev/null http://127.0.0.1:8080/services
	run_ct stats --no-stream --format json web
	[ "$(jq -r '.[0].netTx' <<<"$output")" -gt 1000 ]
	[ "$(jq -r '.[0].netRx' <<<"$output")" -gt 0 ]
	run_ct stats --no-stream web
	assert_output_contains "NET I/O"
	run_ct inspect web
	[ "$(jq -c '.[0].ports' <<<"$output")" = '[{"proto":"tcp","hostIp":"","hostPort":8080,"containerPort":80,"count":1}]' ]
}

@test "ports on one address, a free port, a range and UDP" {
	run_ct run -d --name local -p 127.0.0.1:8090:80 -p 127.0.0.1::80 busybox httpd -f -p 80 -h /etc
	run curl -sf -m 5 http://127.0.0.1:8090/hostname
	[ "$output" = local ]
	run curl -s -m 2 http://192.168.64.1:8090/hostname
	[ -z "$output" ]
	local free
	free=$("$CT" inspect local | jq -r '.[0].ports[1].hostPort')
	[ "$free" -gt 0 ]
	run curl -sf -m 5 "http://127.0.0.1:$free/hostname"
	[ "$output" = local ]

	run_ct run -d --name range -p 8100-8102:80-82 busybox \
		sh -c 'httpd -p 80 -h /etc; httpd -p 81 -h /etc; httpd -p 82 -h /etc; exec sleep 600'
	for port in 8100 8101 8102; do
		run curl -sf -m 5 "http://127.0.0.1:$port/hostname"
		[ "$output" = range ]
	done
	run_ct list
	assert_output_contains "0.0.0.0:8100-8102->80-82/tcp"

	# UDP: Debian's busybox has no UDP server; a small static one goes into
	# the image.
	mkdir -p "$TEST_ROOT/udp/bin"
	cc -static -O2 -o "$TEST_ROOT/udp/bin/udp-echo" "$CONTAINER_TEST_TOP/tests/tools/udp-echo.c"
	cp "$(busybox_rootfs)" "$TEST_ROOT/udp.tar"
	tar -rf "$TEST_ROOT/udp.tar" -C "$TEST_ROOT/udp" bin/udp-echo
	run_ct image import -c 'CMD ["/bin/udp-echo", "5353"]' "$TEST_ROOT/udp.tar" udp-echo:1
	run_ct run -d --name udp -p 5353:5353/udp udp-echo:1
	local reply=""
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		exec {sock}<>/dev/udp/127.0.0.1/5353
		echo "hello over udp" >&$sock
		# One read takes one datagram (bash's read would take one byte of it).
		reply=$(timeout 1 dd bs=4096 count=1 status=none <&$sock) || true
		exec {sock}>&-
		[ -n "$reply" ] && break
	done
	[ "$reply" = "echo: hello over udp" ]
	run_ct list
	assert_output_contains "0.0.0.0:5353->5353/udp"
}

@test "a host port already in use is a clear error at run" {
	run_ct run -d --name first -p 8200:80 busybox httpd -f -p 80 -h /etc
	run_ct 125 run -d --name second -p 8200:80 busybox httpd -f -p 80 -h /etc
	assert_output_contains "8200"
	assert_output_contains "already in use"
	# Nothing of the failed start is left: no address, no veth, no rule.
	run_ct network inspect default
	[ "$(jq -r '.[0].containers | length' <<<"$output")" = 1 ]
	[ "$(nft list table inet container | grep -c 'dport 8200')" = 1 ]
	# A port a host program listens on.
	busybox nc -l -p 8201 >/dev/null 2>&1 3>&- &
	local nc=$!
	STARTED_PIDS="$STARTED_PIDS $nc"
	sleep 0.2
	run_ct 125 run --rm -p 8201:80 busybox true
	assert_output_contains "already in use"
	kill "$nc" 2>/dev/null || true
	# The same port twice in one run.
	run_ct 125 run --rm -p 8300:80 -p 8300:81 busybox true
	assert_output_contains "publish the same host port"
	run_ct 125 run --rm -p 80:80/sctp busybox true
	assert_output_contains "tcp or udp"
	run_ct 125 run --rm --network none -p 8080:80 busybox true
}

@test "the host resolves <name>.<domain> on 127.0.0.1:2053; system dns manages domains" {
	run_ct run -d --name web busybox sleep 600
	run dig +short @127.0.0.1 -p 2053 web.test
	[ "$output" = "$(addr web)" ]
	run dig @127.0.0.1 -p 2053 nobody.test
	[[ "$output" == *NXDOMAIN* ]]
	run_ct system dns create dev
	assert_output_contains "dev"
	run_ct system dns list --format json
	[ "$(jq -r 'map(.domain) | join(",")' <<<"$output")" = test,dev ]
	run dig +short @127.0.0.1 -p 2053 web.dev
	[ "$output" = "$(addr web)" ]
	# Containers answer under the new domain too.
	run_ct run --rm busybox nslookup web.dev
	assert_output_contains "$(addr web)"
	run_ct 125 system dns create dev
	run_ct 125 system dns delete test
	assert_output_contains "default DNS domain"
	run_ct system dns delete dev
	run dig +short @127.0.0.1 -p 2053 web.dev
	[ -z "$output" ]
	# Not ours: refused, never forwarded.
	run dig @127.0.0.1 -p 2053 example.org
	[[ "$output" == *REFUSED* ]]
}

@test "after SIGKILL of a helper and delete, no veth, rule or address remains" {
	run_ct run -d --name victim -p 8400:80 busybox httpd -f -p 80 -h /etc
	local id pid ip
	id=$("$CT" inspect victim | jq -r '.[0].id')
	ip=$(addr victim)
	pid=$(helper_pid victim)
	ip -o link show | grep -q "vc${id:0:12}0"
	kill -KILL "$pid"
	# The container goes with its helper; the API server sees the helper's
	# exit and releases what it held.
	wait_for 10 sh -c "! ip -o link show | grep -q vc${id:0:12}"
	wait_for 10 sh -c "! nft list table inet container | grep -q 'dport 8400'"
	run_ct network inspect default
	[ "$(jq -r '.[0].containers | length' <<<"$output")" = 0 ]
	run_ct delete victim
	! ip -o link show | grep -q "vc${id:0:12}"
	# Nor its cgroups, which its killed helper could not remove.
	! ls -d /sys/fs/cgroup/*/container/"$id" /sys/fs/cgroup/container/"$id" 2>/dev/null | grep -q .
	! nft list table inet container | grep -q "$ip"
	run curl -s -m 2 http://127.0.0.1:8400/
	[ -z "$output" ]
	# The address is free again.
	run_ct run -d --name next busybox sleep 600
	[ "$(addr next)" = "$ip" ]
}

@test "networks, addresses and ports survive a restart of the API server and of the plugin" {
	run_ct network create --subnet 10.96.0.0/24 keep
	run_ct run -d --name web --network keep -p 8500:80 busybox httpd -f -p 80 -h /etc
	local ip
	ip=$(addr web)
	kill -KILL "$(apiserver_pid)"
	start_system
	run_ct network list -q
	assert_output_contains keep
	[ "$(addr web)" = "$ip" ]
	run curl -sf -m 5 http://127.0.0.1:8500/hostname
	[ "$output" = web ]
	run dig +short @127.0.0.1 -p 2053 web.test
	[ "$output" = "$ip" ]
	# The network's plugin killed: restarted, its state kept.
	local plugin
	plugin=$("$CT" plugin get container-network-bridge.keep | jq -r .pid)
	kill -KILL "$plugin"
	wait_for 10 sh -c "[ \"\$($CT plugin get container-network-bridge.keep | jq -r .state)\" = running ] && [ \"\$($CT plugin get container-network-bridge.keep | jq -r .pid)\" != $plugin ]"
	run_ct run --rm --network keep busybox wget -qO- http://web/hostname
	[ "$output" = web ]
	run curl -sf -m 5 http://127.0.0.1:8500/hostname
	[ "$output" = web ]
	run_ct stop web
	# Stopped: its address and port are released.
	wait_for 10 sh -c "! nft list table inet container | grep -q 'dport 8500'"
	run_ct inspect web
	[ "$(jq -r '.[0].networks | length' <<<"$output")" = 0 ]
	# Started again: an address and the port again.
	run_ct start web
	[[ "$(addr web)" == 10.96.0.* ]]
	wait_for 10 curl -sf -m 2 http://127.0.0.1:8500/hostname
}

@test "--network none has only lo; --network host shares the host's interfaces" {
	run_ct run --rm --network none busybox ip -o link
	assert_output_contains "lo:"
	assert_output_lacks "eth0"
	run_ct run --rm --network host busybox ip -o link
	assert_output_contains "container0"
	run_ct 125 run --rm --network none --network default busybox true
	assert_output_contains "can't be combined"
	run_ct 125 run --rm --network nosuch busybox true
	assert_output_contains "no network named nosuch"
}

@test "network.subnet moves the default network when no container runs on it" {
	run_ct run -d --name busy busybox sleep 600
	run_ct system property set network.subnet 10.97.0.0/24
	# A container runs on it: it keeps its subnet.
	sleep 0.5
	run_ct network inspect default
	[ "$(jq -r '.[0].subnet' <<<"$output")" = 192.168.64.0/24 ]
	run_ct delete -f busy
	# The next change, or the next start of the API server, applies it.
	run_ct system property set network.subnet 10.97.0.0/24
	wait_for 10 sh -c "\"$CT\" network inspect default | jq -e '.[0].subnet == \"10.97.0.0/24\" and .[0].state == \"running\"'"
	ip -o addr show container0 | grep -q 'inet 10.97.0.1/24'
	! ip -o addr show container0 | grep -q 192.168.64.1
	run_ct run --rm busybox ip -o addr show eth0
	assert_output_contains "10.97.0.2/24"
	# A subnet that overlaps another network is not taken.
	run_ct network create --subnet 10.98.0.0/24 other
	run_ct system property set network.subnet 10.98.0.0/16
	sleep 0.5
	run_ct network inspect default
	[ "$(jq -r '.[0].subnet' <<<"$output")" = 10.97.0.0/24 ]
	run_ct system logs
	assert_output_contains "overlaps network other"
}
