#!/bin/bash
# timeout: 120
# t-audit-verify-cut.sh: the store anchors the head of the audit chain, so
# `outpost audit verify` fails on a log cut at its end, emptied, or with a
# rewritten tail (a new, self-consistent chain), which the chain alone
# cannot tell from an intact log; a restarted outpostd that finds its log cut
# writes an audit-cut record, and verify keeps failing. A C1 control and a
# bidi override planted in a refused connect's device name come out of
# `outpost audit` escaped.
. "$(dirname "$0")/lib.sh"
require_outpost

basic_setup
dev_ssh root@pi-hq.acme true || fail "route"
# A peer plants CSI (U+009B) and RLO (U+202E) in the host it asks for.
timeout 20 ssh -F "$(client_config alice)" -W "$(printf 'x\xc2\x9b31m\xe2\x80\xaey'):22" jump </dev/null >/dev/null 2>&1
stop_outpostd
outpost audit verify >"$T/verify" 2>&1 || fail "intact log: $(cat "$T/verify")"
expect_output "$T/verify" "^anchored: the store holds record [0-9]+ as the head" "anchored verify"
n=$(wc -l <"$AUDIT")

# C1 and bidi controls never reach the terminal raw.
outpost audit >"$T/text" || fail "outpost audit"
grep -q 'device="x\\u009b31m\\u202ey"' "$T/text" || { grep connect "$T/text" >&2; fail "C1/bidi not escaped in text mode"; }
! LC_ALL=C grep -q $'\xc2\x9b\|\xe2\x80\xae' "$T/text" || fail "raw C1 or bidi bytes in outpost audit's output"

cp "$AUDIT" "$T/intact"
check_fails() {	# check_fails DESC REGEX
	if outpost audit verify >"$T/verify" 2>&1; then
		fail "$1: verify passed: $(cat "$T/verify")"
	fi
	expect_output "$T/verify" "$2" "$1"
	log "$1: $(cat "$T/verify")"
}
# Cut at its end: the last two records gone. The chain alone still holds.
head -n $((n - 2)) "$T/intact" >"$AUDIT"
check_fails "cut" "the log ends at record $((n - 2)), but the store's anchor is record $n: it was cut at its end"
# Emptied.
: >"$AUDIT"
check_fails "emptied" "the log is empty, but the store's anchor is record $n: it was emptied"
# Tail rewritten: the last record replaced, the chain recomputed.
"$PY" - "$T/intact" "$AUDIT" <<'PYEOF' || fail "rewrite"
import hashlib, json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
rec = json.loads(lines[-1])
rec["src"] = "203.0.113.9:1"
del rec["prev"]
prev = hashlib.sha256(lines[-2].encode()).hexdigest()
body = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
lines[-1] = body[:-1] + ',"prev":"%s"}' % prev
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PYEOF
check_fails "tail rewritten" "line $n: not the record the store anchored"

# outpostd restarts on an emptied log: it says so in the chain, and verify
# still fails after more records.
: >"$AUDIT"
start_outpostd
start_device pi-hq acme
wait_online pi-hq.acme
dev_ssh root@pi-hq.acme true || fail "route after restart"
stop_outpostd
grep -q '"event":"audit-cut","anchor_seq":'"$n"',' "$AUDIT" || fail "no audit-cut record"
grep -q "audit: audit.log was cut or rewritten" "$DAEMON_LOG" || fail "the cut is not logged"
check_fails "after restart" "line 1: audit-cut: the log was cut or rewritten before this record"
done_ok
