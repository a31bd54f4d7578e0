#!/bin/bash
# needs: postgresql
# timeout: 150
# t-store-race.sh: writers racing on one PostgreSQL store, released together
# from a barrier, several rounds each:
# - two local CLIs bind one device name to two keys at once
#   (`outpost device add dN --key A` / `--key B`): exactly one wins, the
#   other is refused as taken, and the name holds the winner's key;
# - two outpostd nodes on the same database each take an `ssh enroll@jump
#   TOKEN NAME` with one single-use token at once (two keys, two names):
#   exactly one device is enrolled and the token shows used=1;
# - the same through both nodes with a multi-use token and one name for two
#   keys: exactly one binding.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost
pg_cluster
pg_db race
store_plumbed "$PG_DB" || skip "NO POSTGRESQL IN THIS BUILD: $PLUMB_WHY"
STORE_SPEC=$PG_DB
export OUTPOST_STORE=$PG_DB
ROUNDS=5

# at_go CMD...: waits for the barrier $T/go (bounded), then runs CMD.
at_go() {
	local n=0
	while [ ! -e "$T/go" ] && [ $n -lt 1000 ]; do
		sleep 0.005
		n=$((n + 1))
	done
	"$@"
}

# race OUT_A OUT_B -- CMD_A... -- CMD_B...: both at once; statuses in RA and RB.
race() {
	local oa=$1 ob=$2 a=() b=() pa pb
	shift 3
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	rm -f "$T/go"
	at_go "${a[@]}" >"$oa" 2>&1 &
	pa=$!
	at_go "${b[@]}" >"$ob" 2>&1 &
	pb=$!
	sleep 0.2	# both started and waiting
	touch "$T/go"
	wait "$pa"
	RA=$?
	wait "$pb"
	RB=$?
}

# one_won WHAT: exactly one of RA, RB is 0.
one_won() {
	if [ "$RA" = 0 ] && [ "$RB" = 0 ]; then
		fail "$1: both won"
	fi
	[ "$RA" = 0 ] || [ "$RB" = 0 ] || fail "$1: neither won (A: $(tail -n 1 "$T/ra") / B: $(tail -n 1 "$T/rb"))"
}

fp() {
	ssh-keygen -lf "$1" | awk '{print $2}'
}

fleet_add acme

# ---- two CLIs, one name, two keys ----
for i in $(seq 1 $ROUNDS); do
	ka=$(key "cli-a-$i") kb=$(key "cli-b-$i")
	race "$T/ra" "$T/rb" -- "$OUTPOST_BIN" -d "$STATE" device add "d$i" --fleet acme --key "$ka.pub" \
		-- "$OUTPOST_BIN" -d "$STATE" device add "d$i" --fleet acme --key "$kb.pub"
	one_won "device add d$i with two keys"
	if [ "$RA" = 0 ]; then want=$(fp "$ka.pub") loser=$T/rb; else want=$(fp "$kb.pub") loser=$T/ra; fi
	grep -Eqi 'exists|taken|already' "$loser" || fail "d$i: the loser was told: $(cat "$loser")"
	got=$(store_sql "SELECT k.fingerprint FROM keys k JOIN devices d ON d.id = k.device_id WHERE d.name = 'd$i'")
	[ "$got" = "$want" ] || fail "d$i holds key '$got', the winner's is $want"
done
[ "$(store_sql "SELECT count(*) FROM devices WHERE name LIKE 'd%'")" = "$ROUNDS" ] || fail "device count"
log "device add: one winner in each of $ROUNDS rounds"

# ---- two outpostd nodes on the same database ----
start_jump
P2=$(pick_port)
mkdir -p "$T/state2"
printf 'AllowRoot yes\nStore %s\nNodeName second\n' "$PG_DB" >"$T/outpostd2.conf"	# a node of its own name (a live name is refused)
spawn outpostd2 "$OUTPOSTD_BIN" -f "$T/outpostd2.conf" -d "$T/state2" -l "127.0.0.1:$P2"
N2=$LAST_PID
wait_for "the second outpostd" 30 eval "port_listening $P2 || ! alive $N2"
alive "$N2" || fail "the second outpostd did not start: $(tail -n 3 "$LOGDIR/outpostd2.log")"
wait_for "its host key" 5 test -s "$T/state2/ssh_host_ed25519_key.pub"
known_add "[127.0.0.1]:$P2" "$T/state2/ssh_host_ed25519_key.pub"

# enroll_at PORT KEY TOKEN NAME
enroll_at() {
	timeout 30 ssh -F "$DEVCFG" -i "$2" -p "$1" enroll@127.0.0.1 "$3" "$4"
}

for i in $(seq 1 $ROUNDS); do
	tok=$(token_create acme --uses 1) || fail "token create"
	ka=$(key "tok-a-$i") kb=$(key "tok-b-$i")
	race "$T/ra" "$T/rb" -- enroll_at "$JUMP_PORT" "$ka" "$tok" "ea$i" -- enroll_at "$P2" "$kb" "$tok" "eb$i"
	one_won "one single-use token enrolling twice at once"
	n=$(store_sql "SELECT count(*) FROM devices WHERE name IN ('ea$i', 'eb$i')")
	[ "$n" = 1 ] || fail "round $i: $n devices enrolled with one single-use token"
	used=$(store_sql "SELECT used FROM tokens ORDER BY id DESC LIMIT 1")
	[ "$used" = 1 ] || fail "round $i: the token shows used=$used"
done
log "single-use token: one enrollment in each of $ROUNDS rounds"

tok=$(token_create acme --uses 100) || fail "token create (100 uses)"
for i in $(seq 1 $ROUNDS); do
	ka=$(key "name-a-$i") kb=$(key "name-b-$i")
	race "$T/ra" "$T/rb" -- enroll_at "$JUMP_PORT" "$ka" "$tok" "same$i" -- enroll_at "$P2" "$kb" "$tok" "same$i"
	one_won "two keys enrolling as same$i at once"
	if [ "$RA" = 0 ]; then want=$(fp "$ka.pub"); else want=$(fp "$kb.pub"); fi
	got=$(store_sql "SELECT k.fingerprint FROM keys k JOIN devices d ON d.id = k.device_id WHERE d.name = 'same$i'")
	[ "$got" = "$want" ] || fail "same$i holds key '$got', the winner's is $want"
done
log "enroll by name: one binding in each of $ROUNDS rounds"
done_ok
