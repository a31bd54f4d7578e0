#!/bin/bash
# stores: sqlite postgresql
# timeout: 120
# t-access-revoke.sh: live sessions end when access is taken away, each
# measured from the command's return to the client's exit:
# - `revoke bob acme` with bob's -J session open: it ends within 2 s, new
#   connections are refused; bob's grant to globex and others' sessions stay;
# - `user rm carol`: her sessions (the jump session and the route) end within
#   2 s, `who` drops them, and she can no longer log in at all;
# - `device rm pi-b.acme`: the device's stock `ssh -R` is disconnected (its
#   process exits), `ls` no longer shows it; an autossh device removed the
#   same way fails authentication on every reconnect.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-access.sh"
require_outpost

fleet_add acme globex
user_add alice acme
user_add bob acme globex
user_add carol acme
device_add pi-hq acme
device_add pi-gx globex
device_add pi-b acme
device_add pi-c acme
start_jump
client_configs bob carol
start_device_sshd 0
start_device pi-hq acme
start_device pi-gx globex
start_device pi-b acme -o ExitOnForwardFailure=yes
pib_pid=$DEV_PID
start_device --autossh pi-c acme -o ExitOnForwardFailure=yes
pic_pid=$DEV_PID
for d in pi-hq.acme pi-gx.globex pi-b.acme pi-c.acme; do wait_online "$d"; done

# --- revoke ---
start_session alice alice pi-hq.acme 60
alice_pid=$SESS_PID
start_session bob-acme bob pi-hq.acme 60
bob_acme=$SESS_PID
start_session bob-gx bob pi-gx.globex 60
bob_gx=$SESS_PID
wait_ready alice
wait_ready bob-acme
wait_ready bob-gx
outpost revoke bob acme >"$T/revoke.out" || fail "revoke bob acme"
t0=$(now_ms)
measure_exit "$bob_acme" 2000 "revoke: bob's session to pi-hq.acme" "$t0"
CLIENT=bob expect_refusal "bob after revoke" 'no device named pi-hq\.acme' dev_ssh root@pi-hq.acme true
alive "$bob_gx" || fail "revoking acme ended bob's globex session"
alive "$alice_pid" || fail "revoking bob's acme ended alice's session"
[ "$(CLIENT=bob dev_ssh root@pi-gx.globex echo gx-ok)" = gx-ok ] || fail "bob lost globex"
[ "$(audit_count admin user=bob fleet=acme result=ok command='revoke bob acme')" = 1 ] || fail "revoke not audited"

# --- user rm ---
start_session carol carol pi-hq.acme 60
carol_pid=$SESS_PID
wait_ready carol
# A second session of hers: `ssh -N -L` straight to the jump (a route
# opened only when something connects to the local port).
spawn carol-jump ssh -F "$(client_config carol)" -N -o ExitOnForwardFailure=yes -L "127.0.0.1:$(pick_port):pi-hq.acme:22" jump
carol_jump=$LAST_PID
wait_for "carol's two sessions in who" 10 eval '[ "$(outpost who | awk '\''$3 == "carol"'\'' | wc -l)" -ge 2 ]'
outpost user rm carol >"$T/userrm.out" || fail "user rm carol"
t0=$(now_ms)
measure_exit "$carol_pid" 2000 "user rm: carol's -J session" "$t0"
measure_exit "$carol_jump" 2000 "user rm: carol's plain jump session" "$t0"
wait_for "carol gone from who" 3 eval '! outpost who | awk '\''$3 == "carol"'\'' | grep -q .'
timeout 30 ssh -F "$(client_config carol)" jump whoami >"$T/carol.out" 2>"$T/carol.err" &&
	fail "carol logged in after user rm: $(cat "$T/carol.out")"
grep -q 'Permission denied' "$T/carol.err" || fail "carol's login after user rm: $(cat "$T/carol.err")"
timeout 30 ssh -F "$(client_config carol)" -J jump root@pi-hq.acme true >/dev/null 2>&1 && fail "carol reached pi-hq.acme after user rm"
[ "$(audit_count auth result=failure key_fp="$(fp "$(key carol).pub")")" -ge 1 ] || fail "carol's refused login not audited"
alive "$alice_pid" || fail "user rm carol ended alice's session"
alive "$bob_gx" || fail "user rm carol ended bob's session"

# --- device rm: a plain ssh -R exits ---
outpost device rm pi-b.acme >"$T/devrm.out" || fail "device rm pi-b.acme"
t0=$(now_ms)
measure_exit "$pib_pid" 2000 "device rm: pi-b.acme's ssh -R" "$t0"
log "pi-b.acme's ssh: $(tail -n 2 "$LOGDIR/dev-pi-b.acme.log" | tr '\n' ' ')"
outpost ls >"$T/ls" || fail "ls"
! grep -q '^pi-b\.acme' "$T/ls" || fail "ls still shows pi-b.acme: $(cat "$T/ls")"
jump_cmd alice ls >"$T/ls.alice" || fail "alice's ls"
! grep -q '^pi-b\.acme' "$T/ls.alice" || fail "alice's ls still shows pi-b.acme"
expect_refusal "alice -> removed pi-b.acme" 'no device named pi-b\.acme' dev_ssh root@pi-b.acme true
! outpost who | awk '$3 == "pi-b.acme"' | grep -q . || fail "who still lists pi-b.acme"

# --- device rm: autossh reconnects and fails authentication ---
pic_fp=$(fp "$(key dev-pi-c.acme).pub")
base=$(audit_count auth result=failure key_fp="$pic_fp")
outpost device rm pi-c.acme >/dev/null || fail "device rm pi-c.acme"
t0=$(now_ms)
wait_for "pi-c.acme gone from who" 3 eval '! outpost who | awk '\''$3 == "pi-c.acme"'\'' | grep -q .'
log "device rm: pi-c.acme's session gone from who after $(($(now_ms) - t0)) ms"
wait_for "autossh's reconnect of pi-c.acme refused" 20 eval '[ "$(audit_count auth result=failure key_fp="$pic_fp")" -gt "$base" ]'
log "device rm: pi-c.acme's autossh reconnect refused (auth failure) after $(($(now_ms) - t0)) ms"
! outpost ls | grep -q '^pi-c\.acme' || fail "ls still shows pi-c.acme"
ok_before=$(audit_count auth device=pi-c.acme result=success)
sleep 2
[ "$(audit_count auth device=pi-c.acme result=success)" = "$ok_before" ] || fail "removed pi-c.acme authenticated again"
stop_pid "$pic_pid"

alive "$alice_pid" || fail "alice's session did not survive the removals"
alive "$bob_gx" || fail "bob's globex session did not survive the removals"
alive "$OUTPOSTD_PID" || fail "outpostd died"
"$OUTPOST_BIN" -d "$STATE" audit verify >"$T/verify" 2>&1 || fail "audit verify: $(cat "$T/verify")"
done_ok
