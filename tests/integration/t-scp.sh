#!/bin/bash
# t-scp.sh: scp -J both ways, SFTP-based (OpenSSH 9 default) and legacy -O,
# single files of 0 B, 1 B and an odd 1 MiB-ish size, and a recursive tree.
. "$(dirname "$0")/lib.sh"

basic_setup
for mode in sftp legacy; do
	opt=()
	[ $mode = legacy ] && opt=(-O)
	for size in 0 1 1048573; do
		src=$(mkdata "scp-$mode-$size" "$size")
		scp -q -F "$CFG" -J jump "${opt[@]}" "$src" "root@pi-hq.acme:$T/dev/" || fail "scp ($mode) upload of $size bytes"
		same_file "$src" "$T/dev/scp-$mode-$size"
		scp -q -F "$CFG" -J jump "${opt[@]}" "root@pi-hq.acme:$T/dev/scp-$mode-$size" "$T/data/back-$mode-$size" ||
			fail "scp ($mode) download of $size bytes"
		same_file "$src" "$T/data/back-$mode-$size"
	done
done
mkdir -p "$T/data/tree/sub"
for i in 1 2 3; do head -c $((i * 77777)) /dev/urandom >"$T/data/tree/sub/f$i"; done
scp -q -r -F "$CFG" -J jump "$T/data/tree" "root@pi-hq.acme:$T/dev/" || fail "scp -r upload"
for i in 1 2 3; do same_file "$T/data/tree/sub/f$i" "$T/dev/tree/sub/f$i"; done
done_ok
