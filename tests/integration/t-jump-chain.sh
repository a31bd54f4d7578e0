#!/bin/bash
# t-jump-chain.sh: a chain of two jumps, -J hop1,jump, with a stock sshd as the
# first hop (a corporate bastion in front of the outpost jump).
. "$(dirname "$0")/lib.sh"

basic_setup
start_hop hop1
src=$(mkdata chain 1048573)
ssh -F "$CFG" -J hop1,jump root@pi-hq.acme "cat > $T/dev/chain" <"$src" || fail "upload via -J hop1,jump"
same_file "$src" "$T/dev/chain"
ssh -F "$CFG" -J hop1,jump root@pi-hq.acme "cat $T/dev/chain" >"$T/data/chain.back" || fail "download via -J hop1,jump"
same_file "$src" "$T/data/chain.back"
grep -q 'direct-tcpip\|Accepted publickey' "$LOGDIR/sshd-hop1.log" || fail "hop1 was not used"
done_ok
