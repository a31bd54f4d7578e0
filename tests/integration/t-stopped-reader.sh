#!/bin/bash
# timeout: 300
# t-stopped-reader.sh: flow control, not unbounded buffering. pi-hq.acme
# offers two raw TCP services (8080 sends 64 MiB, 8081 sends 100 MiB).
# Technician bob opens 8080 with `ssh -W` and his ssh is stopped (SIGSTOP:
# nobody reads his channel or his socket). While he is stopped, alice
# streams 100 MiB from the same device session twice, once raw (`ssh -W`
# to 8081) and once through the device's own sshd (`ssh -J`), each
# byte-exact within 120 s. outpostd's RSS stays within 16 MiB of where it
# started (peak reported): bob's bytes wait in the device and the kernel,
# not in outpostd. Once bob's ssh is continued his 64 MiB arrive
# byte-exact too: his channel was held, not dropped.
. "$(dirname "$0")/lib.sh"
require_outpost
[ "${OUTPOST_VALGRIND:-0}" = 1 ] && skip "200 MiB through memcheck outlasts the time limit; memory growth is measured on the plain and ASan builds"
# ASan keeps freed memory in quarantine (256 MiB by default): keep it small so
# that RSS shows what outpostd holds, not what it freed.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64"

small=$(mkdata small $((64 << 20)))
big=$(mkdata big $((100 << 20)))
p_small=$(pick_port)
p_big=$(pick_port)
start_peer "$p_small:file=$small" "$p_big:file=$big"
fleet_add acme
user_add alice acme
user_add bob acme
device_add pi-hq acme
start_jump
start_device_sshd
start_device --service "8080:$p_small" --service "8081:$p_big" pi-hq acme
wait_online pi-hq.acme
bcfg=$(client_config bob)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$OUTPOSTD_PID/status"; }
peak=0
sample() { local r; r=$(rss); [ "${r:-0}" -gt "$peak" ] && peak=$r; return 0; }
rss0=$(rss)

# bob: his ssh stops once the stream has begun to arrive.
ssh -F "$bcfg" -W pi-hq.acme:8080 jump </dev/null >"$T/data/bob.out" 2>"$LOGDIR/bob.err" &
bob=$!
PIDS+=("$bob")
PID_NAME[$bob]=bob
wait_for "bob's first bytes" 20 eval '[ "$(stat -c %s "$T/data/bob.out")" -gt 0 ]'
kill -STOP "$bob" || fail "cannot stop bob's ssh"
log "bob's ssh stopped after $(stat -c %s "$T/data/bob.out") bytes"
for _ in $(seq 1 30); do sample; sleep 0.1; done	# the device keeps sending for 3 s

# alice_get ROUND CMD...: 100 MiB into alice.out within 120 s, sampling RSS.
alice_get() {
	local round=$1 t0 n=0 a ms
	shift
	t0=$(now_ms)
	"$@" </dev/null >"$T/data/alice.out" 2>"$LOGDIR/alice.err" &
	a=$!
	while kill -0 "$a" 2>/dev/null && [ $n -lt 1200 ]; do
		sample
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 "$a" 2>/dev/null; then
		kill "$a"
		wait "$a"
		fail "$round: alice's 100 MiB did not arrive within 120 s ($(stat -c %s "$T/data/alice.out") bytes)"
	fi
	wait "$a" || fail "$round: alice's download failed: $(cat "$LOGDIR/alice.err")"
	ms=$(($(now_ms) - t0))
	same_file "$big" "$T/data/alice.out"
	log "$round: 100 MiB byte-exact in $ms ms ($((100 * 1000 / (ms > 0 ? ms : 1))) MiB/s) while bob is stopped"
	rm -f "$T/data/alice.out"
}
alice_get "raw (ssh -W :8081)" ssh -F "$CFG" -W pi-hq.acme:8081 jump
alice_get "through the device's sshd (ssh -J)" ssh -F "$CFG" -J jump root@pi-hq.acme "cat $big"

[ "$(sed 's/.*) //' "/proc/$bob/stat" | cut -c1)" = T ] || fail "bob's ssh is not stopped any more"
got=$(stat -c %s "$T/data/bob.out")
[ "$got" -lt $((64 << 20)) ] || fail "bob got all 64 MiB while stopped: his reader was not stopped in time"
alive "$DEV_PID" || fail "the device session was dropped"
log "bob had $got of 64 MiB when stopped; outpostd RSS ${rss0} kB at start, peak ${peak} kB, $(rss) kB now"
[ $((peak - rss0)) -lt 16384 ] || fail "outpostd grew by $((peak - rss0)) kB while a reader was stopped"

kill -CONT "$bob"
wait_for "bob's stream to end after SIGCONT" 60 exited "$bob"
[ "$EXIT_STATUS" = 0 ] || fail "bob's ssh -W failed after SIGCONT (status $EXIT_STATUS): $(cat "$LOGDIR/bob.err")"
same_file "$small" "$T/data/bob.out"
log "bob's 64 MiB byte-exact after SIGCONT"
done_ok
