#!/bin/bash
# t-roundtrip.sh: byte-exact transfers of 0 B, 1 B, odd sizes and 64 MiB in both
# directions through the jump to the device's own sshd (ssh -J), sha256-checked.
. "$(dirname "$0")/lib.sh"

basic_setup

for size in 0 1 4095 1048573 67108864; do
	src=$(mkdata "up-$size" "$size")
	t0=$(now_ms)
	dev_ssh pi-hq.acme "cat > $T/dev/up-$size" <"$src" || fail "upload of $size bytes failed"
	t1=$(now_ms)
	same_file "$src" "$T/dev/up-$size"
	dev_ssh pi-hq.acme "cat $T/dev/up-$size" >"$T/data/down-$size" || fail "download of $size bytes failed"
	t2=$(now_ms)
	same_file "$src" "$T/data/down-$size"
	log "$size bytes: up $((t1 - t0)) ms, down $((t2 - t1)) ms"
	rm -f "$T/dev/up-$size" "$T/data/down-$size"
done
# The device's own sshd saw the remote command: the session really ran end to end.
[ "$(dev_ssh pi-hq.acme 'echo $((6 * 7))')" = 42 ] || fail "remote command output"
done_ok
