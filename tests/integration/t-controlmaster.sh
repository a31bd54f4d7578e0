#!/bin/bash
# t-controlmaster.sh: ControlMaster multiplexing through the jump: one master,
# several sessions and a transfer over it, one route through outpostd.
. "$(dirname "$0")/lib.sh"

basic_setup
cm=(-o "ControlPath=$T/cm-%C")
before=$(audit_count connect device=pi-hq.acme result=ok)
ssh -F "$CFG" -J jump "${cm[@]}" -o ControlMaster=yes -o ControlPersist=60 -f -N root@pi-hq.acme ||
	fail "ControlMaster did not start"
ssh -F "$CFG" -J jump "${cm[@]}" -O check root@pi-hq.acme 2>"$T/check" || fail "no master running"
log "$(cat "$T/check")"
for i in 1 2 3 4 5; do
	out=$(ssh -F "$CFG" -J jump "${cm[@]}" -o ControlMaster=no root@pi-hq.acme "echo mux-$i") || fail "muxed session $i"
	[ "$out" = "mux-$i" ] || fail "muxed session $i said '$out'"
done
src=$(mkdata mux 1048573)
for i in 1 2 3; do
	job eval 'timeout 60 ssh -F "$CFG" -J jump "${cm[@]}" -o ControlMaster=no root@pi-hq.acme "cat > $T/dev/mux-'$i'" <"$src"'
done
wait_jobs || fail "$JOBS_FAILED muxed uploads failed"
for i in 1 2 3; do same_file "$src" "$T/dev/mux-$i"; done
if [ "$JUMP_MODE" = outpost ]; then
	after=$(audit_count connect device=pi-hq.acme result=ok)
	[ $((after - before)) = 1 ] || fail "expected 1 route through outpostd for the master, saw $((after - before))"
fi
ssh -F "$CFG" -J jump "${cm[@]}" -O exit root@pi-hq.acme 2>/dev/null || fail "ssh -O exit"
done_ok
