#!/bin/bash
# stores: sqlite postgresql
# t-proxyjump.sh: ProxyJump from a config file (Host *.acme ProxyJump jump),
# the way technicians set it up once in ~/.ssh/config.
. "$(dirname "$0")/lib.sh"

basic_setup
printf 'Include %s\n\nHost *.acme\n  ProxyJump jump\n' "$CFG" >"$T/ssh_config.pj"
src=$(mkdata pj 1048573)
ssh -F "$T/ssh_config.pj" pi-hq.acme "cat > $T/dev/pj" <"$src" || fail "upload via ProxyJump in the config"
same_file "$src" "$T/dev/pj"
ssh -F "$T/ssh_config.pj" pi-hq.acme "cat $T/dev/pj" >"$T/data/pj.back" || fail "download via ProxyJump in the config"
same_file "$src" "$T/data/pj.back"
[ "$(ssh -F "$T/ssh_config.pj" pi-hq.acme 'echo $USER')" = root ] || fail "remote user"
done_ok
