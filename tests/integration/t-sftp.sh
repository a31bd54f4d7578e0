#!/bin/bash
# t-sftp.sh: sftp -J in batch mode: put, get, rename, ls, rm, byte-exact.
. "$(dirname "$0")/lib.sh"

basic_setup
a=$(mkdata sftp-a 1048573)
b=$(mkdata sftp-b 1)
z=$(mkdata sftp-z 0)
cat >"$T/batch" <<EOB
cd $T/dev
put $a
put $b
put $z
rename sftp-a renamed-a
ls -l
get renamed-a $T/data/back-a
get sftp-b $T/data/back-b
get sftp-z $T/data/back-z
rm sftp-b
EOB
sftp -q -F "$CFG" -J jump -b "$T/batch" root@pi-hq.acme >"$T/sftp.out" 2>&1 || { cat "$T/sftp.out" >&2; fail "sftp batch failed"; }
same_file "$a" "$T/dev/renamed-a"
same_file "$a" "$T/data/back-a"
same_file "$b" "$T/data/back-b"
same_file "$z" "$T/data/back-z"
[ ! -e "$T/dev/sftp-b" ] || fail "sftp rm did not remove the file"
expect_output "$T/sftp.out" 'renamed-a' "sftp ls -l"
done_ok
