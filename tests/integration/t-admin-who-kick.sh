#!/bin/bash
# timeout: 120
# t-admin-who-kick.sh: `outpost who` lists the live user and device sessions
# with the right key fingerprint, source address (the client's real port),
# since (a recent UTC time) and bytes (growing with what the route carried);
# --json has the same content. `kick SESSION_ID`, `kick USER` and
# `kick NAME.FLEET` end them within 2 s (measured from kick's return to the
# client's exit) and who drops them; other sessions survive; kicking a
# nonexistent target fails with status 1 and a clear error, changing nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

fleet_add acme
user_add alice acme
user_add bob acme
device_add pi-hq acme
device_add pi-b acme
start_jump
client_configs bob
start_device_sshd
start_device pi-hq acme
hq_pid=$DEV_PID
start_device pi-b acme
pib_pid=$DEV_PID
wait_online pi-hq.acme
wait_online pi-b.acme
t_start=$(date -u +%s)

# alice moves 300000 bytes down, then holds the login open.
spawn sess-alice ssh -F "$CFG" -J jump root@pi-hq.acme "head -c 300000 /dev/zero; echo; echo READY; exec sleep 40"
alice_pid=$LAST_PID
wait_for "alice's transfer" 20 grep -q READY "$LOGDIR/sess-alice.log"
start_session bob bob pi-hq.acme 40
bob_pid=$SESS_PID
wait_ready bob

# who: one line per session, checked field by field.
wait_for "alice's bytes in who" 15 eval 'outpost who | awk '\''$3 == "alice" && $7 >= 300000 {f=1} END {exit !f}'\'
outpost who >"$T/who" || fail "who"
log "who:"$'\n'"$(cat "$T/who")"
outpost who --json >"$T/who.json" || fail "who --json"
json_ok "$T/who.json" "who --json"
"$PY" - "$T/who" "$T/who.json" "$t_start" \
	"alice=$(fp "$(key alice).pub")" "bob=$(fp "$(key bob).pub")" \
	"pi-hq.acme=$(fp "$(key dev-pi-hq.acme).pub")" "pi-b.acme=$(fp "$(key dev-pi-b.acme).pub")" <<'EOF' ||
import calendar, json, re, sys, time
text, js, t_start = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
want = dict(a.split("=", 1) for a in sys.argv[4:])
kinds = {"alice": "user", "bob": "user", "pi-hq.acme": "device", "pi-b.acme": "device"}
rows = [l.split() for l in open(text) if l.strip()]
seen = {}
for r in rows:
    assert len(r) == 7, "not 7 columns: %r" % r
    sid, kind, who, fp, src, since, nbytes = r
    assert sid.isdigit(), r
    assert who in want, "unexpected session %r" % r
    assert who not in seen, "two sessions of %s: %r" % (who, rows)
    assert kind == kinds[who], r
    assert fp == want[who], "%s: fingerprint %s, key is %s" % (who, fp, want[who])
    assert re.fullmatch(r"127\.0\.0\.1:\d+", src), "src %r" % src
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", since), "since %r" % since
    t = calendar.timegm(time.strptime(since, "%Y-%m-%dT%H:%M:%SZ"))
    assert t_start - 60 <= t <= time.time() + 1, "since %s is not recent" % since
    assert nbytes.isdigit(), r
    seen[who] = r
assert sorted(seen) == sorted(want), "who lists %s" % sorted(seen)
assert int(seen["alice"][6]) >= 300000, "alice's bytes: %s" % seen["alice"][6]
assert int(seen["pi-hq.acme"][6]) >= 300000, "pi-hq.acme's bytes: %s" % seen["pi-hq.acme"][6]
assert int(seen["pi-b.acme"][6]) < 300000, "pi-b.acme carried nothing: %s" % seen["pi-b.acme"][6]
by_id = {str(x["id"]): x for x in js}
assert len(js) == len(rows), "who --json has %d sessions, who %d" % (len(js), len(rows))
for r in rows:
    x = by_id[r[0]]
    assert (x["kind"], x["principal"], x["key_fp"], x["src"], str(x["bytes"]), x["kicked"]) == \
        (r[1], r[2], r[3], r[4], r[6], False), "json %r vs text %r" % (x, r)
    assert x["since"].startswith(r[5][:-1]), "since %r vs %r" % (x["since"], r[5])
EOF
	fail "who / who --json do not describe the live sessions"
# The source ports are the clients' real ones: the device ssh's own socket.
hq_src=$(awk '$3 == "pi-hq.acme" {print $5}' "$T/who")
ss -Htnp "sport = :${hq_src##*:}" 2>/dev/null | grep -q "pid=$hq_pid," ||
	fail "who's src $hq_src for pi-hq.acme is not its ssh's socket: $(ss -Htnp "sport = :${hq_src##*:}")"

# kick SESSION_ID (bob's).
bob_id=$(awk '$3 == "bob" {print $1}' "$T/who")
outpost kick "$bob_id" >"$T/kick" || fail "kick $bob_id"
t0=$(now_ms)
expect_output "$T/kick" '^kicked 1 session$' "kick $bob_id"
measure_exit "$bob_pid" 2000 "kick SESSION_ID (bob)" "$t0"
wait_for "bob gone from who" 3 eval '! outpost who | awk '\''$3 == "bob"'\'' | grep -q .'
alive "$alice_pid" || fail "kicking bob ended alice's session"
[ "$(audit_count admin command="kick $bob_id" target="$bob_id" sessions=1 result=ok)" = 1 ] || fail "kick $bob_id not audited"

# kick USER: every session of alice (two of them).
start_session alice-2 alice pi-b.acme 40
alice2_pid=$SESS_PID
wait_ready alice-2
outpost kick alice >"$T/kick" || fail "kick alice"
t0=$(now_ms)
expect_output "$T/kick" '^kicked 2 sessions$' "kick alice"
measure_exit "$alice_pid" 2000 "kick USER (alice, 1st session)" "$t0"
measure_exit "$alice2_pid" 2000 "kick USER (alice, 2nd session)" "$t0"
alive "$pib_pid" && alive "$hq_pid" || fail "kicking alice ended a device"

# kick NAME.FLEET: the device's ssh -R exits; the other device stays.
outpost kick pi-b.acme >"$T/kick" || fail "kick pi-b.acme"
t0=$(now_ms)
expect_output "$T/kick" '^kicked 1 session$' "kick pi-b.acme"
measure_exit "$pib_pid" 2000 "kick NAME.FLEET (pi-b.acme's ssh -R)" "$t0"
wait_offline pi-b.acme 5
alive "$hq_pid" || fail "kicking pi-b.acme ended pi-hq.acme"
device_online pi-hq.acme || fail "pi-hq.acme went offline"
# A kicked device (unlike a removed one) may come back.
start_device pi-b acme
wait_online pi-b.acme

# Nonexistent targets: status 1, a clear error, nothing kicked.
# (the byte counts may move on in between: compare the other columns)
outpost who | awk '{$7 = ""; print}' >"$T/who.before"
for target in 99999 nosuch nosuch.acme pi-hq.nofleet bob; do
	outpost kick "$target" >"$T/out" 2>"$T/err"
	rc=$?
	log "kick $target: status $rc: $(cat "$T/err")"
	[ $rc = 1 ] || fail "kick $target: status $rc, expected 1"
	grep -Eq "^outpost: kick: no live session (of )?$target\$" "$T/err" || fail "kick $target: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "kick $target printed $(cat "$T/out")"
done
outpost kick >"$T/out" 2>"$T/err"
[ $? = 2 ] || fail "kick without a target: not a usage error"
outpost who | awk '{$7 = ""; print}' >"$T/who.after"
diff "$T/who.before" "$T/who.after" >&2 || fail "a failed kick changed who"
[ "$(audit_count admin command='kick nosuch' result=failed)" = 1 ] || fail "failed kick not audited"
[ "$(dev_ssh root@pi-hq.acme echo ok)" = ok ] || fail "routing after the kicks"
done_ok
