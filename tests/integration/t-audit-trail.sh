#!/bin/bash
# timeout: 120
# t-audit-trail.sh: one run with a failed authentication (unknown key), user
# and device authentications, a registration, a takeover, a connection that
# moves bytes, a refused connection, a command over SSH and administrative
# changes (local and remote, successful and failed): each is in
# $STATE/audit.log with the right members, and `outpost audit verify` says OK
# with the right count. `outpost audit` filters (--user, --device qualified
# and bare, --since as a duration and as a time, --json, combined) return
# exactly the records a reference filter in Python picks. On copies of the
# log, editing one value, deleting a line, reordering two lines or inserting
# a forged record (even with a correct prev) make verify fail with status 1
# naming the right line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

fleet_add acme globex
user_add alice acme
user_add admin --admin
device_add pi-hq acme
device_add pi-hq globex
start_jump
client_configs admin
start_device_sshd
start_device pi-hq acme
first_dev=$DEV_PID
wait_online pi-hq.acme
start_device pi-hq globex
wait_online pi-hq.globex

# A failed authentication: a key nobody has.
timeout 20 ssh -F "$CFG" -i "$(key stranger)" -o IdentityFile=none -p "$JUMP_PORT" \
	-o HostKeyAlias="[127.0.0.1]:$JUMP_PORT" mallory@127.0.0.1 true >/dev/null 2>&1 && fail "a stranger logged in"
# A connection with bytes both ways.
src=$(mkdata up 150000)
dev_ssh root@pi-hq.acme "cat >/dev/null; head -c 90000 /dev/zero" <"$src" >"$T/down" || fail "transfer"
[ "$(stat -c %s "$T/down")" = 90000 ] || fail "downloaded $(stat -c %s "$T/down") bytes"
# A refused connection.
timeout 20 ssh -F "$CFG" -J jump root@nosuch.acme true >/dev/null 2>&1 && fail "nosuch.acme reached"
# A takeover: a second ssh -R with the same key.
start_device pi-hq acme
wait_online pi-hq.acme
wait_for "the replaced device ssh to exit" 20 exited "$first_dev"
# Admin changes, local and remote, one failing.
outpost fleet add initech >/dev/null || fail "fleet add"
outpost grant alice globex --for 1h >/dev/null || fail "grant"
outpost revoke alice globex >/dev/null || fail "revoke"
outpost fleet add initech >/dev/null 2>&1 && fail "fleet add twice succeeded"
jump_cmd admin user add bob --key - --fleet acme <"$(key bob).pub" >/dev/null || fail "remote user add"
outpost device rm pi-hq.globex >/dev/null || fail "device rm"
jump_cmd alice ls >/dev/null || fail "alice's ls"
stop_outpostd	# ends every session: session disconnect records

N=$(wc -l <"$AUDIT")
cp "$AUDIT" "$LOGDIR/audit.log"
"$PY" "$IT_DIR/itpeer.py" audit-check "$AUDIT" >&2 || fail "audit.log is not one JSON object per line"
"$PY" - "$AUDIT" "$(id -un)" "alice=$(fp "$(key alice).pub")" "stranger=$(fp "$(key stranger).pub")" \
	"dev=$(fp "$(key dev-pi-hq.acme).pub")" "admin=$(fp "$(key admin).pub")" "bob=$(fp "$(key bob).pub")" <<'EOF' || fail "audit records"
import json, re, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
me = sys.argv[2]
fp = dict(a.split("=", 1) for a in sys.argv[3:])
def find(desc, **kv):
    m = [r for r in recs if all(r.get(k) == v for k, v in kv.items())]
    assert m, "no %s record with %r" % (desc, kv)
    return m
for r in recs:
    assert list(r)[:2] == ["ts", "event"] and list(r)[-1] == "prev", "member order: %r" % r
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]), r["ts"]
src_re = re.compile(r"127\.0\.0\.1:\d+")
a = find("failed auth", event="auth", result="failure", key_fp=fp["stranger"])[0]
assert a.get("reason") == "unknown key" and a.get("ssh_user") == "mallory" and src_re.fullmatch(a["src"]), a
a = find("user auth", event="auth", result="success", kind="user", user="alice", key_fp=fp["alice"])[0]
assert src_re.fullmatch(a["src"]), a
find("device auth", event="auth", result="success", kind="device", device="pi-hq.acme", key_fp=fp["dev"])
regs = find("register", event="register", device="pi-hq.acme", port=22, result="ok", key_fp=fp["dev"])
assert len(regs) >= 2 and regs[0]["bind_address"] == "pi-hq", regs
t = find("takeover", event="takeover", device="pi-hq.acme", key_fp=fp["dev"])[0]
assert isinstance(t.get("replaced_session"), int) and src_re.fullmatch(t.get("replaced_src", "")), t
c = find("connect", event="connect", user="alice", device="pi-hq.acme", port=22, result="ok", key_fp=fp["alice"])
find("refused connect", event="connect", user="alice", device="nosuch.acme", result="refused", reason="no device named nosuch.acme")
d = [r for r in find("channel disconnect", event="disconnect", what="channel", device="pi-hq.acme", port=22)
     if r["bytes_up"] >= 150000]
assert d, "no channel disconnect with the 150000-byte upload"
d = d[0]
assert d["bytes_down"] >= 90000 and d["bytes"] == d["bytes_up"] + d["bytes_down"], d
assert d["user"] == "alice" and d["key_fp"] == fp["alice"] and d["duration_ms"] >= 0, d
s = find("session disconnect", event="disconnect", what="session", kind="user", user="alice")
assert all("duration_ms" in r and r.get("reason") for r in s), s
find("session disconnect (device)", event="disconnect", what="session", kind="device", device="pi-hq.acme")
local = "local:" + me
find("fleet add", event="admin", actor=local, command="fleet add initech", fleet="initech", result="ok")
g = find("grant", event="admin", actor=local, command="grant alice globex --for 1h", user="alice", fleet="globex", result="ok")[0]
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", g["expires"]), g
find("revoke", event="admin", actor=local, command="revoke alice globex", user="alice", fleet="globex", result="ok")
f = find("failed fleet add", event="admin", actor=local, command="fleet add initech", result="failed")[0]
assert f.get("error"), f
u = find("remote user add", event="admin", actor="admin", user="bob", result="ok")[0]
assert u["key_fp"] == fp["bob"] and u["fleets"] == "acme" and u["admin"] is False, u
find("device rm", event="admin", actor=local, command="device rm pi-hq.globex", device="pi-hq.globex", result="ok")
find("command", event="command", user="alice", command="ls", status=0, key_fp=fp["alice"])
find("remote admin command", event="command", user="admin", key_fp=fp["admin"], status=0)
print("audit: %d records, all events present" % len(recs), file=sys.stderr)
EOF
outpost audit verify >"$T/verify" 2>&1 || fail "audit verify: $(cat "$T/verify")"
expect_output "$T/verify" "^audit log OK: $N records\$" "audit verify"

# --- queries against a reference filter ---
# query DESC EXPECT_PY ARGS...: `outpost audit ARGS --json` returns exactly the
# records (in log order) for which the Python expression EXPECT_PY (over r)
# holds; the text form has one line per record.
query() {
	local desc=$1 expr=$2
	shift 2
	outpost audit "$@" --json >"$T/q.json" || fail "audit $* --json"
	json_ok "$T/q.json" "audit $* --json"
	outpost audit "$@" >"$T/q.txt" || fail "audit $*"
	"$PY" - "$AUDIT" "$T/q.json" "$T/q.txt" "$expr" <<'EOF' || fail "audit $* ($desc) does not filter right"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
got = json.load(open(sys.argv[2]))
txt = [l for l in open(sys.argv[3]) if l.strip()]
want = [r for r in recs if eval(sys.argv[4], {"r": r})]
assert got == want, "got %d records, want %d; first difference: %r" % (len(got), len(want),
    next(((g, w) for g, w in zip(got, want) if g != w), None))
assert len(txt) == len(want), "text has %d lines, want %d" % (len(txt), len(want))
for l, r in zip(txt, want):
    assert l.split()[0] == r["ts"] and l.split()[1] == r["event"], (l, r)
EOF
	log "audit $*: $(wc -l <"$T/q.txt") records ($desc)"
	[ -s "$T/q.txt" ] || [ "${EMPTY_OK:-0}" = 1 ] || fail "audit $*: no records"
}
query "alice as user, actor or ssh_user" '"alice" in (r.get("user"), r.get("actor"), r.get("ssh_user"))' --user alice
query "case-insensitive" '"alice" in (r.get("user"), r.get("actor"), r.get("ssh_user"))' --user ALICE
query "the local operator" 'r.get("actor") == "local:'"$(id -un)"'"' --user "local:$(id -un)"
query "qualified device" '"pi-hq.acme" in (r.get("device"), r.get("from_device"))' --device pi-hq.acme
query "globex device" '"pi-hq.globex" in (r.get("device"), r.get("from_device"))' --device pi-hq.globex
query "bare name, every fleet" 'any(str(v).split(".")[0] == "pi-hq" for v in (r.get("device"), r.get("from_device")) if v)' --device pi-hq
query "user and device" '"alice" in (r.get("user"), r.get("actor"), r.get("ssh_user")) and r.get("device") == "pi-hq.acme"' \
	--user alice --device pi-hq.acme
query "everything in the last hour" 'True' --since 1h
mid=$("$PY" -c 'import json,sys; l=open(sys.argv[1]).readlines(); print(json.loads(l[len(l)//2])["ts"])' "$AUDIT")
query "since $mid" 'r["ts"] >= "'"$mid"'"' --since "$mid"
EMPTY_OK=1 query "nothing in the future" 'False' --since 2099-01-01
EMPTY_OK=1 query "unknown user" 'False' --user nobody
outpost audit --since yesterday-ish >/dev/null 2>&1
[ $? = 2 ] || fail "audit --since with a bad time: not a usage error"

# --- tampering, on copies ---
verify_copy "$AUDIT"
[ $VERIFY_RC = 0 ] || fail "verify of an untouched copy: $VERIFY_OUT"
k=$((N / 2))
[ $k -ge 3 ] || fail "too few records ($N)"
# tamper DESC EXPECT_LINE EXPECT_RE PY: PY edits lines (a list) in place.
tamper() {
	"$PY" - "$AUDIT" "$T/tampered" "$k" "$4" <<'EOF' || fail "could not tamper ($1)"
import hashlib, json, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
k = int(sys.argv[3]) - 1	# 0-based index of line k
exec(sys.argv[4])
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
EOF
	cmp -s "$AUDIT" "$T/tampered" && fail "$1: the copy is unchanged"
	verify_copy "$T/tampered"
	log "$1: verify status $VERIFY_RC: $VERIFY_OUT"
	[ $VERIFY_RC = 1 ] || fail "$1: audit verify status $VERIFY_RC ($VERIFY_OUT)"
	grep -Eq "^outpost: audit verify: line $2: $3" <<<"$VERIFY_OUT" || fail "$1: expected line $2 /$3/, got: $VERIFY_OUT"
}
tamper "edit one value of line $k" $((k + 1)) "prev does not match line $k \\($k records before it chain correctly\\)" \
	'r = json.loads(lines[k]); r["ts"] = r["ts"][:-2] + ("9Z" if r["ts"][-2] != "9" else "8Z"); lines[k] = json.dumps(r, separators=(",", ":"))'
tamper "edit one byte of line $k" $((k + 1)) "prev does not match line $k" \
	'lines[k] = lines[k].replace("\"event\":\"", "\"event\":\"x", 1)'
tamper "delete line $k" $k "prev does not match line $((k - 1))" 'del lines[k]'
tamper "swap lines $k and $((k + 1))" $k "prev does not match line $((k - 1))" 'lines[k], lines[k + 1] = lines[k + 1], lines[k]'
tamper "insert a forged record with a correct prev at line $k" $((k + 1)) "prev does not match line $k" \
	'lines.insert(k, json.dumps({"ts": json.loads(lines[k])["ts"], "event": "admin", "actor": "local:root", "command": "fleet add x", "fleet": "x", "result": "ok", "prev": hashlib.sha256(lines[k - 1].encode()).hexdigest()}, separators=(",", ":")))'
tamper "delete the first line" 1 "prev" 'del lines[0]'
tamper "truncate line $k" $k "" 'lines[k] = lines[k][:40]'
done_ok
