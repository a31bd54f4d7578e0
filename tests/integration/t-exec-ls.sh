#!/bin/bash
# t-exec-ls.sh: `ssh -p PORT alice@127.0.0.1 ls` prints the devices alice may
# reach, one line each: name.fleet  online|offline  last-seen  address; other
# fleets stay invisible; the jump serves the host key it wrote to the state dir.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme globex
user_add alice acme
user_add bob globex
device_add pi-hq acme
device_add pi-old acme
device_add pi-never acme
device_add pi-gx globex
start_jump
start_device_sshd
start_device pi-old acme
wait_online pi-old.acme
stop_pid "$DEV_PID"
wait_offline pi-old.acme
start_device pi-hq acme
start_device pi-gx globex
wait_online pi-hq.acme
wait_online pi-gx.globex

ssh -F "$CFG" -p "$JUMP_PORT" alice@127.0.0.1 ls >"$T/ls.alice" 2>"$T/ls.err" || fail "ssh alice@jump ls: $(cat "$T/ls.err")"
log "alice's ls:"$'\n'"$(cat "$T/ls.alice")"
[ "$(wc -l <"$T/ls.alice")" = 3 ] || fail "alice's ls has $(wc -l <"$T/ls.alice") lines, expected 3 (acme only)"
ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
expect_output "$T/ls.alice" "^pi-hq\.acme +online +$ts +127\.0\.0\.1:[0-9]+$" "online device line"
expect_output "$T/ls.alice" "^pi-old\.acme +offline +$ts +127\.0\.0\.1:[0-9]+$" "offline device line"
expect_output "$T/ls.alice" "^pi-never\.acme +offline +[^ ]+ +[^ ]+$" "never-seen device line"
! grep -q globex "$T/ls.alice" || fail "alice sees globex devices"
# Every line has exactly the four fields.
awk 'NF != 4 { exit 1 }' "$T/ls.alice" || fail "ls lines must have 4 fields"
# The address is the device's TCP peer as outpostd saw it.
addr=$(awk '$1 == "pi-hq.acme" {print $4}' "$T/ls.alice")
port=${addr##*:}
[ -n "$(ss -Htn "sport = :$port" "dport = :$JUMP_PORT")" ] || fail "pi-hq.acme's address $addr is not its connection to the jump"

CLIENT=bob
ssh -F "$(client_config bob)" -p "$JUMP_PORT" bob@127.0.0.1 ls >"$T/ls.bob" || fail "bob's ls"
[ "$(awk '{print $1, $2}' "$T/ls.bob")" = "pi-gx.globex online" ] || fail "bob's ls: $(cat "$T/ls.bob")"
unset CLIENT
# The SSH user name does not matter: the key decides who you are.
ssh -F "$CFG" -p "$JUMP_PORT" whoever@127.0.0.1 ls >"$T/ls.whoever" || fail "ls as another SSH user name"
cmp -s <(awk '{print $1, $2}' "$T/ls.alice") <(awk '{print $1, $2}' "$T/ls.whoever") || fail "ls depends on the SSH user name"
# The local CLI agrees on state.
for d in pi-hq.acme pi-old.acme pi-gx.globex; do
	[ "$(ls_line "$d" | awk '{print $2}')" = "$(cat "$T/ls.alice" "$T/ls.bob" | awk -v d=$d '$1 == d {print $2}')" ] ||
		fail "local outpost ls disagrees on $d"
done
# The host key served is the one in the state dir.
ssh-keyscan -t ed25519 -p "$JUMP_PORT" 127.0.0.1 2>/dev/null | awk '{print $2, $3}' >"$T/scanned"
[ "$(cat "$T/scanned")" = "$(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")" ] || fail "served host key differs from $STATE/ssh_host_ed25519_key.pub"
done_ok
