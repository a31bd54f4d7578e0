#!/bin/bash
# stores: sqlite postgresql
# t-audit.sh: $STATE/audit.log holds one JSON object per line with "ts" and
# "event", and records auth (success and failure), register, connect (ok and
# refused, with a reason), takeover and disconnect; a channel's disconnect
# carries its bytes and duration.
. "$(dirname "$0")/lib.sh"
require_outpost

basic_setup
src=$(mkdata audit 100000)
dev_ssh root@pi-hq.acme "cat > /dev/null" <"$src" || fail "transfer"
dev_ssh root@pi-hq.acme "head -c 70000 /dev/zero" >/dev/null || fail "transfer down"
timeout 20 ssh -F "$CFG" -J jump root@nosuch.acme true >/dev/null 2>&1 && fail "nosuch.acme reached"
timeout 20 ssh -F "$CFG" -i "$(key stranger)" -o IdentitiesOnly=yes -o IdentityFile=none -p "$JUMP_PORT" \
	-o HostKeyAlias="[127.0.0.1]:$JUMP_PORT" x@127.0.0.1 true >/dev/null 2>&1
start_device pi-hq acme
wait_online pi-hq.acme
ssh -F "$CFG" jump ls >/dev/null || fail "ls"
stop_outpostd	# flushes and ends every session: disconnect records

"$PY" "$IT_DIR/itpeer.py" audit-check "$AUDIT" >&2 || fail "audit.log is not one JSON object per line"
cp "$AUDIT" "$LOGDIR/audit.log"
need() {	# need DESC EVENT [K=V]...
	local desc=$1
	shift
	[ "$(audit_count "$@")" -ge 1 ] || fail "no audit record for $desc ($*)"
}
need "device auth" auth device=pi-hq.acme result=success
need "user auth" auth user=alice result=success
need "failed auth" auth result=failure
need "register" register device=pi-hq.acme port=22 result=ok
need "connect" connect user=alice device=pi-hq.acme port=22 result=ok
need "refused connect" connect user=alice device=nosuch.acme result=refused
need "takeover" takeover device=pi-hq.acme
need "session disconnect" disconnect
# The channel disconnects carry bytes and duration; one moved >= 100000 bytes up.
"$PY" - "$AUDIT" <<'PYEOF' || fail "disconnect records lack bytes/duration"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
chans = [r for r in recs if r["event"] == "disconnect" and r.get("device") == "pi-hq.acme" and r.get("port") == 22]
assert chans, "no channel disconnect for pi-hq.acme:22"
for r in chans:
    assert any(k.startswith("bytes") for k in r), "no bytes in %r" % r
    assert any(k.startswith("duration") for k in r), "no duration in %r" % r
up = [r for r in chans if any(k.startswith("bytes") and isinstance(v, int) and v >= 100000 for k, v in r.items())]
assert up, "no disconnect counts the 100000-byte transfer: %r" % chans
ok = [r for r in recs if r["event"] == "connect" and r.get("result") == "refused"]
assert all(r.get("reason") for r in ok), "a refused connect without a reason"
print("audit: %d records, %d channel disconnects" % (len(recs), len(chans)), file=sys.stderr)
PYEOF
done_ok
