#!/bin/bash
# needs: postgresql
# timeout: 120
# t-nodes-audit.sh: two outpostd nodes (NodeName a and b, each its own state
# directory and audit.log) on one PostgreSQL store. A technician route
# through each node; each node's writer copies its chain into the store's
# audit_records. `outpost audit` on either node shows both nodes' records
# merged by time with their node (--json and text), `audit verify` checks
# every node's chain against its anchor and says OK; records written while
# PostgreSQL is down reach the store once it is back (delayed, not dropped);
# a record rewritten in audit_records makes verify fail naming node b, and
# node a's chain stays OK. On a PostgreSQL of its own (it is stopped).
. "$(dirname "$0")/lib.sh"
require_outpost
PG_URI=	# our own cluster, stopped and started below
pg_db audit
store_plumbed "$PG_DB" || skip "NO POSTGRESQL IN THIS BUILD: $PLUMB_WHY"
STORE_SPEC=$PG_DB
export OUTPOST_STORE=$PG_DB
STATE_B=$T/state-b
mkdir -p "$STATE" "$STATE_B"
# Each node's outpostd.conf sits in its state directory too, so that the CLI
# run with -d there takes the same NodeName (its chain) as the daemon.
printf 'AllowRoot yes\nStore %s\nNodeName a\n' "$PG_DB" >"$T/outpostd.conf"
printf 'AllowRoot yes\nStore %s\nNodeName b\n' "$PG_DB" >"$STATE_B/outpostd.conf"
cp "$T/outpostd.conf" "$STATE/outpostd.conf"
"$OUTPOSTD_BIN" -T -f "$T/outpostd.conf" -d "$STATE" >"$T/conf-test" 2>&1
if grep -q "unknown keyword 'NodeName'" "$T/conf-test"; then
	skip "NO NodeName IN THIS BUILD (issue 17, helper nodes)"
fi

fleet_add acme
user_add alice acme
device_add pi-a acme
device_add pi-b acme
start_jump
P_B=$(pick_port)
spawn outpostd-b "$OUTPOSTD_BIN" -f "$STATE_B/outpostd.conf" -d "$STATE_B" -l "127.0.0.1:$P_B"
PID_B=$LAST_PID
wait_for "node b listening" 30 eval "port_listening $P_B || ! alive $PID_B"
alive "$PID_B" || fail "node b did not start: $(tail -n 3 "$LOGDIR/outpostd-b.log")"
wait_for "node b's host key" 5 test -s "$STATE_B/ssh_host_ed25519_key.pub"
known_add "[127.0.0.1]:$P_B" "$STATE_B/ssh_host_ed25519_key.pub"
sed "s/^Host jump\$/Host jump-b/; s/^  Port $JUMP_PORT\$/  Port $P_B/" "$CFG" >"$T/ssh_config.b"
grep -q "Port $P_B" "$T/ssh_config.b" || fail "no client config for node b"

# pi-a registers with node a, pi-b with node b; a route through each node.
start_device_sshd
start_device pi-a acme
wait_online pi-a.acme
JUMP_PORT_A=$JUMP_PORT
JUMP_PORT=$P_B start_device pi-b acme
DEV_B=$DEV_PID
wait_for "pi-b online" 20 device_online pi-b.acme
[ "$(dev_ssh root@pi-a.acme echo via-a)" = via-a ] || fail "route through node a"
[ "$(ssh -F "$T/ssh_config.b" -J jump-b root@pi-b.acme echo via-b)" = via-b ] || fail "route through node b"
JUMP_PORT=$JUMP_PORT_A

# audit_has NODE DEVICE: `outpost audit --json` (on node a's state) holds a
# connect record of NODE for DEVICE; the records come in time order.
audit_has() {
	"$OUTPOST_BIN" -d "$STATE" audit --json >"$T/json" 2>>"$CLI_LOG" || return 1
	"$PY" - "$T/json" "$1" "$2" <<-'PYEOF'
	import json, sys
	recs = json.load(open(sys.argv[1]))
	ts = [r["ts"] for r in recs]
	assert ts == sorted(ts), "not in time order"
	assert all(r.get("node") in ("a", "b") for r in recs), "a record without its node"
	sys.exit(0 if any(r["node"] == sys.argv[2] and r["event"] == "connect" and
	    r.get("device") == sys.argv[3] for r in recs) else 1)
	PYEOF
}
wait_for "node a's route in the store" 10 audit_has a pi-a.acme
wait_for "node b's route in the store" 10 audit_has b pi-b.acme
log "outpost audit --json: $(grep -o '"node":"[ab]"' "$T/json" | sort | uniq -c | tr -s ' \n' ' ')"
# The same from node b's state directory, in text, filtered as ever.
"$OUTPOST_BIN" -d "$STATE_B" audit --device pi-b >"$T/text" 2>>"$CLI_LOG" || fail "outpost audit on node b"
grep -Eq '  connect  node=b .*device=pi-b\.acme' "$T/text" || { cat "$T/text" >&2; fail "text: no connect of node b"; }
! grep -q 'device=pi-a' "$T/text" || fail "text: --device pi-b shows pi-a"
"$OUTPOST_BIN" -d "$STATE_B" audit --user alice >"$T/text" 2>>"$CLI_LOG" || fail "outpost audit --user"
grep -q 'node=a ' "$T/text" && grep -q 'node=b ' "$T/text" || { cat "$T/text" >&2; fail "text: --user alice lacks a node"; }

"$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1 || fail "audit verify: $(cat "$T/verify")"
expect_output "$T/verify" "^node a: OK: [0-9]+ records, anchored at record [0-9]+$" "verify node a"
expect_output "$T/verify" "^node b: OK: [0-9]+ records, anchored at record [0-9]+$" "verify node b"
log "verify: $(tr '\n' ';' <"$T/verify")"

# PostgreSQL goes away; pi-b leaves node b meanwhile (audited); back, the
# record is copied by seq: the copy waited, nothing was dropped.
b_seq() { store_sql "SELECT coalesce(max(seq), 0) FROM audit_records WHERE node = 'b'"; }
before=$(b_seq)
"$IT_DIR/../pg/pg-stop" "$PG_OWN" >>"$LOGDIR/pg-start.log" 2>&1 || fail "pg-stop failed"
stop_pid "$DEV_B" TERM
wait_for "node b's disconnect record" 20 grep -q '"event":"disconnect","what":"session","session":[0-9]*,"kind":"device","device":"pi-b.acme"' "$STATE_B/audit.log"
lines=$(wc -l <"$STATE_B/audit.log")
[ "$lines" -gt "$before" ] || fail "node b wrote no record while the store was down"
"$IT_DIR/../pg/pg-start" "$PG_OWN" >>"$LOGDIR/pg-start.log" 2>&1 || fail "pg-start (restart) failed"
wait_for "node b's records of the outage in the store" 40 eval '[ "$(b_seq 2>/dev/null)" -ge "$lines" ]'
log "node b: records $before in the store before the outage, $lines in audit.log after it, all copied"
grep -q "cannot copy this node's records to the store" "$LOGDIR/outpostd-b.log" || fail "node b did not say the copy waits"
grep -q "this node's records are in the store again" "$LOGDIR/outpostd-b.log" || fail "node b did not say the copy caught up"
"$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1 || fail "audit verify after the outage: $(cat "$T/verify")"

# An intruder with the database rewrites one of node b's records.
seq=$(store_sql "SELECT min(seq) FROM audit_records WHERE node = 'b' AND record LIKE '%\"event\":\"connect\"%'")
[ -n "$seq" ] || fail "no connect record of node b in audit_records"
store_sql "UPDATE audit_records SET record = replace(record, 'pi-b.acme', 'pi-x.acme') WHERE node = 'b' AND seq = $seq" >/dev/null
if "$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1; then
	fail "verify passed a rewritten record: $(cat "$T/verify")"
fi
expect_output "$T/verify" "^node b: BROKEN: record $seq: " "verify names node b"
expect_output "$T/verify" "^node a: OK: " "node a still OK"
expect_output "$T/verify" "^outpost: .*node b: record $seq: " "the failure names node b"
log "after the rewrite: $(tr '\n' ';' <"$T/verify")"

stop_pid "$PID_B" TERM
wait_for "node b to exit" 15 exited "$PID_B"
stop_outpostd
done_ok
