#!/bin/bash
# t-stock-jump.sh: the harness itself against a stock sshd as the jump (the
# seeds' setup: ssh -R PORT:localhost:22, clients -J jump -p PORT localhost):
# if this fails, the machine or the harness is broken, not outpostd.
OUTPOST_JUMP_MODE=stock
. "$(dirname "$0")/lib.sh"

basic_setup -o ExitOnForwardFailure=yes -o ServerAliveInterval=10
src=$(mkdata one-mib 1048573)
dev_ssh pi-hq.acme "cat > $T/dev/up" <"$src" || fail "upload through the stock jump"
same_file "$src" "$T/dev/up"
# The seeds' literal client form: -J jump -p PORT root@localhost.
ssh -F "$CFG" -J jump -o HostKeyAlias=pi-hq.acme -p "${RPORT[pi-hq.acme:22]}" root@localhost "cat $T/dev/up" >"$T/data/down" ||
	fail "download with the seeds' -p PORT localhost form"
same_file "$src" "$T/data/down"
scp -q -F "$CFG" -J jump "$src" "root@pi-hq.acme:$T/dev/scp" || fail "scp -J through the stock jump"
same_file "$src" "$T/dev/scp"
done_ok
