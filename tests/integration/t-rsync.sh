#!/bin/bash
# t-rsync.sh: rsync -e 'ssh -F cfg -J jump' of a tree both ways, then a delta
# transfer after a small change, all byte-exact.
. "$(dirname "$0")/lib.sh"

basic_setup
mkdir -p "$T/data/tree/a/b"
head -c 1048573 /dev/urandom >"$T/data/tree/big"
head -c 1 /dev/urandom >"$T/data/tree/a/one"
: >"$T/data/tree/a/b/empty"
head -c 300001 /dev/urandom >"$T/data/tree/a/b/mid"
rsh="ssh -F $CFG -J jump"
rsync -a -e "$rsh" "$T/data/tree/" "root@pi-hq.acme:$T/dev/tree/" || fail "rsync upload"
for f in big a/one a/b/empty a/b/mid; do same_file "$T/data/tree/$f" "$T/dev/tree/$f"; done
# Delta: change 10 bytes in the middle of the big file, send again.
printf 'XXXXXXXXXX' | dd of="$T/data/tree/big" bs=1 seek=500000 conv=notrunc status=none
touch -d "@$(($(date +%s) + 10))" "$T/data/tree/big"	# same size: make the quick check see it
rsync -a --stats -e "$rsh" "$T/data/tree/" "root@pi-hq.acme:$T/dev/tree/" >"$T/stats" || fail "rsync delta upload"
same_file "$T/data/tree/big" "$T/dev/tree/big"
lit=$(sed -n 's/^Literal data: \([0-9,]*\).*/\1/p' "$T/stats" | tr -d ,)
[ -n "$lit" ] && [ "$lit" -lt 200000 ] || fail "rsync delta sent ${lit:-?} literal bytes for a 10-byte change"
rsync -a -e "$rsh" "root@pi-hq.acme:$T/dev/tree/" "$T/data/back/" || fail "rsync download"
for f in big a/one a/b/empty a/b/mid; do same_file "$T/data/tree/$f" "$T/data/back/$f"; done
done_ok
