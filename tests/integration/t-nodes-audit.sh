#!/bin/bash
# needs: postgresql
# timeout: 120
# t-nodes-audit.sh: two outpostd nodes a and b (lib-nodes.sh: each its own
# state directory and audit.log) on one PostgreSQL store. A technician route
# through each node; each node copies its chain into the store's
# audit_records. `outpost audit` on either node shows both nodes' records
# merged by time with their node (--json and text, filters as ever), `audit
# verify` checks every node's chain against its anchor and says OK; records
# written while PostgreSQL is down reach the store once it is back (delayed,
# not dropped; outpost_audit_store_behind_records counts them meanwhile, and
# is 0 again after); a record rewritten in audit_records makes verify fail naming
# node b, and node a's chain stays OK. On a PostgreSQL of its own (stopped
# and started again).
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-nodes.sh"
require_outpost
PG_URI=	# our own cluster, stopped and started below

nodes_init a b
fleet_add acme
user_add alice acme
device_add pi-a acme
device_add pi-b acme
node_start a
MPORT_B=$(pick_port)
NODES_CONF_EXTRA="MetricsListen $(node_ip b):$MPORT_B" node_start b
# behind_b: node b's outpost_audit_store_behind_records (MetricsListen: it answers without the store)
behind_b() {
	"$PY" - "$(node_ip b)" "$MPORT_B" <<-'PYEOF'
	import sys, urllib.request
	text = urllib.request.urlopen("http://%s:%s/metrics" % (sys.argv[1], sys.argv[2]), timeout=10).read().decode()
	print([l.split()[1] for l in text.splitlines() if l.startswith("outpost_audit_store_behind_records ")][0])
	PYEOF
}
start_device_sshd
on_node a start_device pi-a acme
node_wait_on pi-a.acme a
on_node b start_device pi-b acme
DEV_B=$DEV_PID
node_wait_on pi-b.acme b
node_reach a pi-a.acme via-a || fail "route through node a"
node_reach b pi-b.acme via-b || fail "route through node b"

# The CLI as run on node N: that node's outpostd.conf (NodeName) and state directory.
cli_on() {
	local n=$1
	shift
	"$OUTPOST_BIN" -f "$T/node-$n.conf" -d "$(node_state "$n")" "$@"
}

# audit_has NODE DEVICE: `outpost audit --json` on node a holds a connect
# record of NODE for DEVICE; every record has its node, in time order.
audit_has() {
	cli_on a audit --json >"$T/json" 2>>"$CLI_LOG" || return 1
	"$PY" - "$T/json" "$1" "$2" <<-'PYEOF'
	import json, sys
	recs = json.load(open(sys.argv[1]))
	ts = [r["ts"] for r in recs]
	assert ts == sorted(ts), "not in time order"
	assert all(r.get("node") for r in recs), "a record without its node"
	sys.exit(0 if any(r["node"] == sys.argv[2] and r["event"] == "connect" and
	    r.get("device") == sys.argv[3] for r in recs) else 1)
	PYEOF
}
wait_for "node a's route in the store" 10 audit_has a pi-a.acme
wait_for "node b's route in the store" 10 audit_has b pi-b.acme
log "outpost audit --json: $(grep -o '"node":"[a-z0-9-]*"' "$T/json" | sort | uniq -c | tr -s ' \n' ' ')"
# The same from node b, in text, filtered as ever.
cli_on b audit --device pi-b >"$T/text" 2>>"$CLI_LOG" || fail "outpost audit on node b"
grep -Eq '  connect  node=b .*device=pi-b\.acme' "$T/text" || { cat "$T/text" >&2; fail "text: no connect of node b"; }
! grep -q 'device=pi-a' "$T/text" || fail "text: --device pi-b shows pi-a"
cli_on b audit --user alice >"$T/text" 2>>"$CLI_LOG" || fail "outpost audit --user"
grep -q '  node=a ' "$T/text" && grep -q '  node=b ' "$T/text" || { cat "$T/text" >&2; fail "text: --user alice lacks a node"; }

cli_on a audit verify >"$T/verify" 2>&1 || fail "audit verify: $(cat "$T/verify")"
expect_output "$T/verify" "^audit log OK: [0-9]+ records$" "verify node a's own log"
expect_output "$T/verify" "^node a: OK: [0-9]+ records, anchored at record [0-9]+$" "verify node a"
expect_output "$T/verify" "^node b: OK: [0-9]+ records, anchored at record [0-9]+$" "verify node b"
log "verify: $(tr '\n' ';' <"$T/verify")"

# PostgreSQL goes away; pi-b leaves node b meanwhile (audited); back, the
# records are copied by seq: the copy waited, nothing was dropped.
b_seq() { store_sql "SELECT coalesce(max(seq), 0) FROM audit_records WHERE node = 'b'"; }
wait_for "node b's copier caught up (metric)" 10 eval '[ "$(behind_b)" = 0 ]'
before=$(b_seq)
"$IT_DIR/../pg/pg-stop" "$PG_OWN" >>"$LOGDIR/pg-start.log" 2>&1 || fail "pg-stop failed"
stop_pid "$DEV_B" TERM
AUDIT_B=$(node_state b)/audit.log
wait_for "node b's disconnect record" 20 grep -q '"event":"disconnect","what":"session","session":[0-9]*,"kind":"device","device":"pi-b.acme"' "$AUDIT_B"
lines=$(wc -l <"$AUDIT_B")
[ "$lines" -gt "$before" ] || fail "node b wrote no record while the store was down"
wait_for "node b's records waiting, in its metrics" 10 eval '[ "$(behind_b)" -gt 0 ]'
log "node b: $(behind_b) audit records behind while the store is down"
"$IT_DIR/../pg/pg-start" "$PG_OWN" >>"$LOGDIR/pg-start.log" 2>&1 || fail "pg-start (restart) failed"
wait_for "node b's records of the outage in the store" 40 eval '[ "$(b_seq 2>/dev/null)" -ge "$lines" ]'
log "node b: $before records in the store before the outage, $lines in audit.log after it, all copied"
grep -q "cannot copy this node's records to the store" "$(node_log b)" || fail "node b did not say the copy waits"
grep -q "this node's records are in the store again" "$(node_log b)" || fail "node b did not say the copy caught up"
wait_for "node b's copier caught up again (metric)" 10 eval '[ "$(behind_b)" = 0 ]'
cli_on a audit verify >"$T/verify" 2>&1 || fail "audit verify after the outage: $(cat "$T/verify")"

# An intruder with the database rewrites one of node b's records.
seq=$(store_sql "SELECT min(seq) FROM audit_records WHERE node = 'b' AND record LIKE '%\"event\":\"connect\"%'")
[ -n "$seq" ] || fail "no connect record of node b in audit_records"
store_sql "UPDATE audit_records SET record = replace(record, 'pi-b.acme', 'pi-x.acme') WHERE node = 'b' AND seq = $seq" >/dev/null
if cli_on a audit verify >"$T/verify" 2>&1; then
	fail "verify passed a rewritten record: $(cat "$T/verify")"
fi
expect_output "$T/verify" "^node b: BROKEN: record $seq: " "verify names node b"
expect_output "$T/verify" "^node a: OK: " "node a still OK"
expect_output "$T/verify" "^outpost: .*node b: record $seq: " "the failure names node b"
log "after the rewrite: $(tr '\n' ';' <"$T/verify")"

nodes_stop_all
done_ok
