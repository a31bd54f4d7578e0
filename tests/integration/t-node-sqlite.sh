#!/bin/bash
# t-node-sqlite.sh: one outpostd on SQLite is one node, and behaves as
# before: it registers under its NodeName (default: the host name as a
# label) and beats, `outpost nodes` lists it with the device it holds,
# `ls --json` names it as the device's node, and a technician reaches the
# device. killed -9 and started again, it takes its own rows back (the
# device offline at start, online again when it reconnects) under the same
# name and node key; its session ids carry its node id.
. "$(dirname "$0")/lib.sh"

OUTPOSTD_CONF_EXTRA="NodeName solo"
basic_setup
out=$(outpost nodes) || fail "outpost nodes"
echo "$out" | grep -Eq "^solo  127\.0\.0\.1:$JUMP_PORT  up  1 device  heartbeat 20[0-9T:-]+Z\$" ||
	fail "outpost nodes: $out"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "outpost nodes: $out"
outpost ls --json | "$PY" -c '
import json, sys
d = [x for x in json.load(sys.stdin) if x["device"] == "pi-hq.acme"][0]
assert d["online"] and d["node"] == "solo", d
' || fail "ls --json: $(outpost ls --json)"
[ "$(dev_ssh root@pi-hq.acme echo hi)" = hi ] || fail "no route to pi-hq.acme"
id=$(store_sql "SELECT id FROM nodes WHERE name = 'solo'")
[ "$(store_sql "SELECT count(*) FROM sessions WHERE id >> 40 = $id")" -ge 1 ] ||
	fail "session ids outside node solo's range: $(store_sql 'SELECT id FROM sessions')"
key=$(store_sql "SELECT node_key FROM nodes")
[ "$key" = "$(cut -d' ' -f1,2 "$STATE/node_key.pub")" ] || fail "the stored node key is not node_key.pub"

# a crash: the rows stay; the next start takes them back, under the same name and key
stop_pid "$OUTPOSTD_PID" KILL
OUTPOSTD_PID=
stop_pid "$DEV_PID" TERM
[ "$(store_sql "SELECT online FROM devices WHERE name = 'pi-hq'")" = 1 ] || fail "the crash wrote the row back?"
start_outpostd
[ "$(store_sql "SELECT online FROM devices WHERE name = 'pi-hq'")" = 0 ] || fail "the restarted node did not take its rows back"
[ "$(store_sql "SELECT count(*) FROM nodes")" = 1 ] || fail "a second node row: $(store_sql 'SELECT * FROM nodes')"
[ "$(store_sql "SELECT node_key FROM nodes")" = "$key" ] || fail "the node key changed"
start_device pi-hq acme
wait_online pi-hq.acme
[ "$(dev_ssh root@pi-hq.acme echo again)" = again ] || fail "no route after the restart"

# PeerAddress as a name: registered as the address it resolves to (other
# nodes dial it from the loop, which resolves no names), with a warning
# when that is loopback
stop_outpostd
echo "PeerAddress localhost:$JUMP_PORT" >>"$T/outpostd.conf"
start_outpostd
out=$(outpost nodes) || fail "outpost nodes"
echo "$out" | grep -Eq "^solo  (127\.0\.0\.1:$JUMP_PORT|\[::1\]:$JUMP_PORT)  up " || fail "PeerAddress localhost not resolved: $out"
grep -q "PeerAddress localhost:$JUMP_PORT resolves to .*, a loopback address" "$DAEMON_LOG" ||
	fail "no warning about a loopback PeerAddress in the log"

# without NodeName: the host name, as a label
[ "$("$OUTPOSTD_BIN" -T -d "$T/other" | awk '$1 == "NodeName" { print $2 }')" = \
    "$(hostname | cut -d. -f1 | tr 'A-Z_' 'a-z-')" ] || fail "the default NodeName is not the host name"
stop_outpostd
done_ok
