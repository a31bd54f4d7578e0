#!/bin/bash
# peering.sh: a route through a peer node against the same route on one
# node (issue 17's benchmark; PROTOCOL.md "Peering"). Two nodes a and b on
# one test PostgreSQL (tests/integration/lib-nodes.sh), a stock `ssh -R`
# device on b: the technician logs in to b (the route on one node) or to a
# (a routes it through its peer connection to b), interleaved. Prints
# "RESULT key value" lines: throughput up and down (MiB/s, median of
# BENCH_REPS), connect latency `ssh -J node dev true` (median and p99 of
# BENCH_CONNECTS), and the ratios the issue asks for.
# BENCH_MB (default 256) sets the transfer size.
# needs: postgresql
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$(dirname "$0")/lib-bench.sh"
. "$IT_DIR/lib-nodes.sh"

MB=${BENCH_MB:-256}
CONNECTS=${BENCH_CONNECTS:-30}

# a's mirror learns b's presence and heartbeat when it is refilled: until the
# presence catch-up (helper notify) is merged, a store change makes it refill.
SYNCS=0
mirrors_sync() {
	SYNCS=$((SYNCS + 1))
	outpost fleet add "sync$SYNCS" >/dev/null 2>&1
	sleep 0.3
}

nodes_init a b
fleet_add acme
user_add alice acme
device_add pi-hq acme
for n in a b; do node_start "$n"; done
start_device_sshd
on_node b start_device pi-hq acme
node_wait_on pi-hq.acme b

src=$T/data/bench
head -c $((MB * 1024 * 1024)) /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:bench 2>/dev/null >"$src" ||
	head -c $((MB * 1024 * 1024)) /dev/urandom >"$src"
# which node the technician logs in to: b holds the device, a peers to it
label() { if [ "$1" = b ]; then echo local; else echo peer; fi; }
for rep in $(seq 1 "$REPS"); do
	for n in b a; do
		mirrors_sync
		rate "$(label $n)_up" node_ssh "$n" pi-hq.acme "cat > /dev/null" <"$src"
		mirrors_sync
		rate "$(label $n)_down" node_ssh "$n" pi-hq.acme "head -c $((MB * 1048576)) /dev/zero" >/dev/null
	done
done
for k in local_up peer_up local_down peer_down; do median "$k"; done

for n in b a; do
	: >"$T/lat.$n"
done
for i in $(seq 1 "$CONNECTS"); do
	mirrors_sync	# not timed: b's heartbeat in a's mirror (see above)
	for n in b a; do
		t0=$(now_ms)
		node_ssh "$n" pi-hq.acme true || fail "connect $i through $n failed"
		echo $(($(now_ms) - t0)) >>"$T/lat.$n"
	done
done
for n in b a; do
	sort -n "$T/lat.$n" | awk -v k="$(label $n)" '{ v[NR] = $1 } END {
		printf "RESULT %s_connect_median_ms %d\n", k, v[int((NR + 1) / 2)]
		i = int(NR * 0.99 + 0.999); if (i > NR) i = NR
		printf "RESULT %s_connect_p99_ms %d\n", k, v[i] }'
done | tee "$T/lat.results"
for d in up down; do
	awk -v a="$(sort -n "$T/rate.peer_$d" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
	    -v b="$(sort -n "$T/rate.local_$d" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
	    -v d="$d" 'BEGIN { printf "RESULT peer_throughput_ratio_%s %.2f\n", d, (b > 0 ? a / b : 0) }'
done
awk '{ v[$2] = $3 } END { printf "RESULT peer_connect_delta_ms %d\n", v["peer_connect_median_ms"] - v["local_connect_median_ms"] }' \
    "$T/lat.results"
nodes_stop_all
done_ok
