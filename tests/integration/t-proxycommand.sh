#!/bin/bash
# t-proxycommand.sh: clients using ProxyCommand ssh -W %h:%p, and ssh -W to the
# device's sshd as a raw stdio stream.
. "$(dirname "$0")/lib.sh"

basic_setup
src=$(mkdata pc 1048573)
pc=(-o "ProxyCommand=ssh -F $CFG -W %h:%p jump")
ssh -F "$CFG" "${pc[@]}" root@pi-hq.acme "cat > $T/dev/pc" <"$src" || fail "upload via ProxyCommand -W"
same_file "$src" "$T/dev/pc"
ssh -F "$CFG" "${pc[@]}" root@pi-hq.acme "cat $T/dev/pc" >"$T/data/pc.back" || fail "download via ProxyCommand -W"
same_file "$src" "$T/data/pc.back"
# A raw -W stream to port 22 shows the device sshd's own identification.
timeout 20 ssh -F "$CFG" -W "$(svc_addr pi-hq.acme 22)" jump </dev/null 2>"$T/w.err" | head -c 8 >"$T/w.out"
expect_output "$T/w.out" '^SSH-2\.0-' "ssh -W to the device's sshd"
done_ok
