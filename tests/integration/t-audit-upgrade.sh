#!/bin/bash
# timeout: 90
# t-audit-upgrade.sh: a single-node SQLite install from before nodes (schema
# 9: one anchor row in audit_anchor) upgrades without `outpost audit verify`
# failing: migration 10 keeps the anchor as the pre-nodes chain's, the CLI
# (or outpostd) of the node whose audit.log it is claims it, verify checks
# the log against it, and outpostd chains on without an audit-cut record.
. "$(dirname "$0")/lib.sh"
require_outpost
command -v sqlite3 >/dev/null || skip "NO sqlite3 (apt-get install sqlite3)"

basic_setup
dev_ssh root@pi-hq.acme true || fail "route"
stop_outpostd
outpost audit verify >"$T/verify" 2>&1 || fail "verify before: $(cat "$T/verify")"
n=$(wc -l <"$AUDIT")
node=$(sqlite3 "$STATE/outpost.db" "SELECT node FROM audit_anchors")
[ -n "$node" ] || fail "no node anchored"
log "node $node anchored at record $(sqlite3 "$STATE/outpost.db" "SELECT seq FROM audit_anchors")"

# Back to schema 9, the anchor where version 9 kept it (as a 9 would have left it).
sqlite3 "$STATE/outpost.db" "
INSERT INTO audit_anchor (id, seq, size, hash, updated) SELECT 1, seq, size, hash, updated FROM audit_anchors;
DROP TABLE audit_anchors; DROP TABLE audit_records; DROP TABLE nodes; DROP INDEX devices_by_pseq;
ALTER TABLE devices DROP COLUMN node; ALTER TABLE devices DROP COLUMN gen; ALTER TABLE devices DROP COLUMN pseq;
PRAGMA user_version = 9;" || fail "cannot make a schema 9 store"
[ "$(sqlite3 "$STATE/outpost.db" "PRAGMA user_version")" = 9 ] || fail "not at schema 9"

outpost audit verify >"$T/verify" 2>&1 || fail "verify after the upgrade: $(cat "$T/verify")"
expect_output "$T/verify" "^audit log OK: $n records\$" "verify after the upgrade"
expect_output "$T/verify" "^anchored: the store holds record $n as the head" "the old anchor still checked"
[ "$(sqlite3 "$STATE/outpost.db" "PRAGMA user_version")" -ge 10 ] || fail "not migrated"
[ "$(sqlite3 "$STATE/outpost.db" "SELECT node || ' ' || seq FROM audit_anchors")" = "$node $n" ] ||
	fail "the anchor is not the node's: $(sqlite3 "$STATE/outpost.db" "SELECT * FROM audit_anchors")"

# outpostd chains on from it: no audit-cut, verify OK, the anchor moves on.
start_outpostd
start_device pi-hq acme
wait_online pi-hq.acme
dev_ssh root@pi-hq.acme true || fail "route after the upgrade"
stop_outpostd
! grep -q '"event":"audit-cut"' "$AUDIT" || fail "an audit-cut record after the upgrade"
outpost audit verify >"$T/verify" 2>&1 || fail "verify after restart: $(cat "$T/verify")"
seq=$(sqlite3 "$STATE/outpost.db" "SELECT seq FROM audit_anchors WHERE node = '$node'")
[ "$seq" -gt "$n" ] || fail "the anchor did not move on ($seq, was $n)"
log "after restart: $(tr '\n' ';' <"$T/verify")"
done_ok
