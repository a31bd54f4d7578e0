#!/bin/bash
# timeout: 120
# t-access-expiry.sh: `outpost grant bob acme --for 3s` works at once (6 s
# or 12 s on a machine too slow to open a session within 3 s); a
# session open across the expiry is closed within 2 s of it (outpostd
# re-checks open routes every second); new connections after the expiry are
# refused like a device that does not exist, and bob's `ls` is empty. A
# second, longer grant is not cut short. Times are logged and kept in
# $LOGDIR/timings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

basic_setup
user_add bob
client_configs bob
# bob was added with the jump running: it learns the key from its store
# (a change seen within 25 ms, then a copy), which on a loaded ASan run
# was later than bob's first attempt below ("Permission denied")
wait_for "bob's key known to the jump" 20 eval 'ssh -F "$(client_config bob)" jump whoami >/dev/null 2>&1'
start_session alice-long alice pi-hq.acme 40	# alice's grant has no expiry
alice_pid=$SESS_PID

# Before the grant: nothing.
CLIENT=bob expect_refusal "bob before the grant" 'no device named pi-hq\.acme' dev_ssh root@pi-hq.acme true

# The grant works at once: a session opened right after it spans the
# expiry. On a loaded machine (sanitizer builds, parallel jobs) opening it
# can take longer than 3 s; then the grant is given again for 6 s, then
# 12 s (logged), instead of failing on the machine's speed.
for grant_s in 3 6 12; do
	t_grant=$(now_ms)
	outpost grant bob acme --for "${grant_s}s" >"$T/grant.out" || fail "grant --for ${grant_s}s"
	t_expiry=$((t_grant + grant_s * 1000))
	start_session bob-long bob pi-hq.acme 30
	bob_pid=$SESS_PID
	if try_for "$grant_s" grep -q READY "$LOGDIR/sess-bob-long.log" &&
	    [ $(($(now_ms) - t_grant)) -lt $((grant_s * 1000)) ]; then
		break
	fi
	[ "$grant_s" = 12 ] && fail "bob's session did not open within a 12 s grant"
	log "bob's session did not open within ${grant_s} s of the grant (slow machine): granting longer"
	stop_pid "$bob_pid"
	wait_for "bob's grant to expire" 15 eval '! jump_cmd bob ls | grep -q .'
done
t_ok=$(($(now_ms) - t_grant))
log "grant: $(cat "$T/grant.out"); bob's session open $t_ok ms after it"
alive "$bob_pid" || fail "bob's session ended before the expiry"
expect_output "$T/grant.out" 'until [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z' "grant --for ${grant_s}s"
[ "$(audit_count admin user=bob fleet=acme result=ok)" -ge 1 ] || fail "the grant has no admin record"
expires=$("$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("event") == "admin" and r.get("command", "").startswith("grant bob"):
        e = r.get("expires")
print(e)' "$AUDIT")
[ "$expires" != never ] || fail "the grant's admin record says it never expires"

# The session is closed within 2 s of the expiry (the stored expiry is
# whole seconds: allow it to end up to 1 s early).
measure_exit "$bob_pid" $((grant_s * 1000 + 2000)) "bob's session across the expiry (from the grant)" "$t_grant"
t_end=$((t_grant + ELAPSED))
# The expiry as stored and printed (whole seconds, UTC).
stored=$(sed -n 's/.* until \([0-9T:-]*Z\).*/\1/p' "$T/grant.out")
t_stored=$(($(date -u -d "$stored" +%s) * 1000))
after=$((t_end - t_expiry)) after_stored=$((t_end - t_stored))
log "bob's session ended $after ms after the requested expiry (grant + ${grant_s} s), $after_stored ms after the stored one ($stored)"
echo "expiry-close-after-requested-expiry $after" >>"$LOGDIR/timings"
echo "expiry-close-after-stored-expiry $after_stored" >>"$LOGDIR/timings"
[ "$after_stored" -ge 0 ] || fail "bob's session ended $((-after_stored)) ms before the stored expiry $stored"
[ "$after" -ge -1000 ] || fail "bob's session ended $((-after)) ms before the requested expiry"
[ "$after_stored" -le 2000 ] || fail "bob's session ended $after_stored ms after the expiry (limit 2000)"

# New connections: refused, indistinguishable from a missing device.
CLIENT=bob expect_refusal "bob after the expiry" 'no device named pi-hq\.acme' dev_ssh root@pi-hq.acme true
CLIENT=bob expect_refusal "bob, bare name, after the expiry" 'no device named pi-hq' dev_ssh root@pi-hq true
jump_cmd bob ls >"$T/ls.bob" || fail "bob's ls after the expiry"
[ ! -s "$T/ls.bob" ] || fail "bob's ls after the expiry lists: $(cat "$T/ls.bob")"
jump_cmd bob whoami >"$T/whoami.bob" || fail "bob's whoami"
expect_output "$T/whoami.bob" '^bob +user +- ' "bob's whoami after the expiry lists no fleet"

# alice (no expiry) was not touched.
alive "$alice_pid" || fail "alice's session ended with bob's grant"
[ "$(CLIENT=alice dev_ssh root@pi-hq.acme echo alice-ok)" = alice-ok ] || fail "alice lost access"

# A 1-minute grant: works, and a session is still open 3 s later.
outpost grant bob acme --for 1m >/dev/null || fail "grant --for 1m"
start_session bob-2 bob pi-hq.acme 30
wait_ready bob-2
sleep 3
alive "$SESS_PID" || fail "bob's session under a 1-minute grant ended early"
# Granting again replaces the expiry: a 1 s grant cuts the open session.
t0=$(now_ms)
outpost grant bob acme --for 1s >/dev/null || fail "grant --for 1s"
measure_exit "$SESS_PID" 3500 "bob's session after re-granting --for 1s" "$t0"
alive "$OUTPOSTD_PID" || fail "outpostd died"
done_ok
