#!/bin/bash
# t-agent-pin.sh: the agent trusts only the host key its token names. A token
# naming another key, or a server (even a stock sshd at the token's address)
# presenting another key, is refused loudly before the agent authenticates:
# nothing is bound, the token is not spent. A running agent whose server comes
# back with another host key refuses it on every attempt, loudly, never
# registers, and comes back once the right key is back.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

agent_setup

# b64url SHA256:FP -> the token's host-key field.
fp_field() {
	ssh-keygen -l -f "$1" | awk '{print $2}' | sed 's/^SHA256://; y|+/|-_|'
}

# 1. A token with the wrong host-key fingerprint.
tok=$(token_create acme)
IFS=: read -r ver addr hk secret <<<"$tok"
[ "$hk" = "$(fp_field "$STATE/ssh_host_ed25519_key.pub")" ] || fail "the token does not carry the server's fingerprint ($hk)"
bad=$ver:$addr:$(fp_field "$(key other-host)"):$secret
auths=$(audit_count auth)
agent_refused "token pinning another key" \
	"presents host key SHA256:.*but the token pins SHA256:.*refusing to connect" 1 enroll "$bad" --name pi-x
[ "$(audit_count auth)" = "$auths" ] || fail "the agent authenticated to a server it does not trust"
outpost device ls | grep -q '^pi-x\.acme' && fail "pi-x bound despite the wrong pin"
outpost token ls | grep -q 'uses-left=1' || fail "the token was spent: $(outpost token ls)"
[ -f "$(agent_dir 1)/agent.conf" ] && fail "agent.conf written by a refused enrollment"

# 2. The right token sent to another server (--server: a stock sshd).
agent_refused "a stock sshd in place of the jump" \
	"127.0.0.1:$SSHD_PORT presents host key .*refusing to connect" 1 enroll "$tok" --name pi-x --server "127.0.0.1:$SSHD_PORT"
grep -q "Accepted publickey" "$LOGDIR/sshd-dev0.log" && fail "the agent authenticated to the impostor sshd"

# 3. Enrolled and running; the server comes back with another host key.
agent_enroll 1 "$tok" --name pi-hq >/dev/null
start_agent 1
wait_online pi-hq.acme
reach pi-hq.acme || fail "pi-hq.acme not reachable"
stop_outpostd
mkdir -p "$T/oldkey"
mv "$STATE"/ssh_host_* "$T/oldkey/"
regs=$(audit_count register device=pi-hq.acme)
auths=$(audit_count auth device=pi-hq.acme)
start_outpostd
cmp -s "$STATE/ssh_host_ed25519_key.pub" "$T/oldkey/ssh_host_ed25519_key.pub" && fail "outpostd kept its old key"
wait_for "the agent to refuse the new host key" 30 \
	grep -q "error\].*presents host key .*but agent.conf pins .*refusing to connect" "$LOGDIR/agent-1.log"
sleep 5		# a few more attempts
n=$(grep -c "error\].*refusing to connect" "$LOGDIR/agent-1.log")
log "refused the new key $n times; last: $(grep "refusing to connect" "$LOGDIR/agent-1.log" | tail -n 1)"
alive "$AGENT_PID" || fail "the agent gave up (it should keep trying, loudly)"
[ "$(audit_count register device=pi-hq.acme)" = "$regs" ] || fail "the agent registered with a server it does not trust"
[ "$(audit_count auth device=pi-hq.acme)" = "$auths" ] || fail "the agent authenticated to a server it does not trust"
device_online pi-hq.acme && fail "pi-hq.acme online behind an untrusted server"

# 4. The old key back: the agent reconnects by itself (backoff under the 60 s cap).
stop_outpostd
rm -f "$STATE"/ssh_host_*
mv "$T/oldkey"/ssh_host_* "$STATE/"
REG_BASE[pi-hq.acme]=$regs
start_outpostd
wait_online pi-hq.acme 75
reach pi-hq.acme back || fail "pi-hq.acme not reachable after the right key came back"
stop_agent 1
done_ok
