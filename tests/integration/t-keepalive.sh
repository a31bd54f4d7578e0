#!/bin/bash
# t-keepalive.sh: outpostd answers the devices' keepalive@openssh.com (a
# device with ServerAliveInterval=1 stays up), and drops a silent device
# (SIGSTOPped ssh) within KeepaliveInterval x KeepaliveCountMax plus slack,
# marking it offline; the embedded default is at most 90 s.
. "$(dirname "$0")/lib.sh"
require_outpost

if "$OUTPOSTD_BIN" -T >"$T/defaults" 2>/dev/null; then
	iv=$(awk 'tolower($1) == "keepaliveinterval" {print $2}' "$T/defaults")
	cm=$(awk 'tolower($1) == "keepalivecountmax" {print $2}' "$T/defaults")
	log "default keepalive: ${iv:-?} s x ${cm:-?}"
	[ -n "$iv" ] && [ -n "$cm" ] && [ $((iv * cm)) -le 90 ] || fail "default keepalive ${iv:-?} x ${cm:-?} exceeds 90 s"
fi
ka_conf=$'KeepaliveInterval 1\nKeepaliveCountMax 3'
fleet_add acme
user_add alice acme
device_add pi-chatty acme
device_add pi-silent acme
if declare -f start_outpostd | grep -q OUTPOSTD_CONF_EXTRA; then
	OUTPOSTD_CONF_EXTRA=$ka_conf start_jump	# lib.sh writes the one config file
else
	printf '%s\n' "$ka_conf" >"$T/keepalive.conf"
	start_jump -f "$T/keepalive.conf"
fi
start_device_sshd
start_device pi-chatty acme -o ServerAliveInterval=1 -o ServerAliveCountMax=2 -o ExitOnForwardFailure=yes
chatty=$DEV_PID
start_device pi-silent acme -o ExitOnForwardFailure=yes
silent=$DEV_PID
wait_online pi-chatty.acme
wait_online pi-silent.acme
kill -STOP "$silent"
t0=$(now_ms)
wait_for "pi-silent.acme dropped" 15 eval "ls_line pi-silent.acme | grep -q ' offline '"
log "silent device dropped after $(($(now_ms) - t0)) ms"
[ $(($(now_ms) - t0)) -ge 2000 ] || fail "silent device dropped too early ($(($(now_ms) - t0)) ms < 3 keepalive intervals)"
# The chatty device answered keepalives throughout and still serves.
sleep 2
alive "$chatty" || fail "the device sending keepalive@openssh.com every second was dropped: $(tail -n 3 "$LOGDIR/dev-pi-chatty.acme.log")"
device_online pi-chatty.acme || fail "pi-chatty.acme not online"
[ "$(dev_ssh root@pi-chatty.acme echo ok)" = ok ] || fail "pi-chatty.acme unreachable"
expect_refusal "the dropped device" 'device pi-silent\.acme is offline' dev_ssh root@pi-silent.acme true
kill -CONT "$silent"
done_ok
