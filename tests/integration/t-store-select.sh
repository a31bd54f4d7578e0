#!/bin/bash
# timeout: 90
# t-store-select: choosing the store. outpostd (`Store sqlite:PATH` in
# outpostd.conf) and the CLI (-f CONFIG, or the state directory's
# outpostd.conf) open the same database: what the CLI adds, outpostd serves;
# OUTPOST_STORE overrides the file and --store overrides both; `outpostd -T`,
# the start log and every error show a password masked; a malformed Store
# stops outpostd and the CLI with one line naming the file and line.
. "$(dirname "$0")/lib.sh"
require_outpost

OTHER=$T/other.db
mkdir -m 700 "$STATE" || fail "mkdir $STATE"
OUTPOSTD_CONF_EXTRA="Store sqlite:$OTHER"
{ echo "AllowRoot yes"; echo "$OUTPOSTD_CONF_EXTRA"; } >"$T/outpostd.conf"

# The CLI with -f: the file's Store, the state directory (-d) for audit.log.
run_logged "$CLI_LOG" outpost "$OUTPOST_BIN" -f "$T/outpostd.conf" -d "$STATE" fleet add acme >/dev/null ||
	fail "outpost -f CONFIG fleet add"
[ -s "$OTHER" ] || fail "outpost -f CONFIG did not write $OTHER"
# The CLI without -f: the state directory's outpostd.conf (lib.sh's `outpost` passes only -d).
echo "Store sqlite:$OTHER" >"$STATE/outpostd.conf"
user_add alice acme
device_add pi-hq acme
[ ! -e "$STATE/outpost.db" ] || fail "the CLI wrote the default store $STATE/outpost.db too"
[ "$(sqlite3 "$OTHER" "SELECT count(*) FROM devices")" = 1 ] || fail "pi-hq is not in $OTHER"
grep -q "\"command\":\"device add pi-hq" "$AUDIT" || fail "the audit log left the state directory"

# outpostd on the same file: it logs the store once and serves what the CLI wrote.
start_jump
expect_output "$DAEMON_LOG" "store: sqlite $OTHER\$" "outpostd's start log"
[ "$(grep -c 'store: sqlite /' "$DAEMON_LOG")" = 1 ] || fail "outpostd logged the store more than once"
"$OUTPOSTD_BIN" -f "$T/outpostd.conf" -d "$STATE" -T >"$T/dump" || fail "outpostd -T"
expect_output "$T/dump" "^Store sqlite:$OTHER\$" "-T's Store line"
ssh -F "$CFG" -p "$JUMP_PORT" alice@127.0.0.1 ls >"$T/ls.alice" 2>"$T/ls.err" ||
	fail "alice (added by the CLI in $OTHER) cannot log in: $(cat "$T/ls.err")"
expect_output "$T/ls.alice" "^pi-hq\.acme +offline" "alice's ls from $OTHER"
stop_outpostd
[ ! -e "$STATE/outpost.db" ] || fail "outpostd opened the default store $STATE/outpost.db too"

# OUTPOST_STORE beats the state directory's outpostd.conf; --store beats both.
OUTPOST_STORE=sqlite:$T/env.db outpost fleet add envfleet >/dev/null || fail "OUTPOST_STORE fleet add"
OUTPOST_STORE=sqlite:$T/env.db outpost fleet ls >"$T/ls.env" || fail "OUTPOST_STORE fleet ls"
expect_output "$T/ls.env" "^envfleet " "OUTPOST_STORE's fleets"
! grep -q acme "$T/ls.env" || fail "OUTPOST_STORE did not override the state directory's Store"
OUTPOST_STORE=sqlite:$T/env.db outpost --store "sqlite:$OTHER" fleet ls >"$T/ls.flag" || fail "--store fleet ls"
expect_output "$T/ls.flag" "^acme " "--store's fleets"
! grep -q envfleet "$T/ls.flag" || fail "--store did not override OUTPOST_STORE"
[ "$(sqlite3 "$OTHER" "SELECT count(*) FROM fleets WHERE name = 'envfleet'")" = 0 ] ||
	fail "envfleet reached $OTHER"

# A password: masked by -T, in the start log and in every error; never printed.
port=$(pick_port)
URI="postgresql://ann:s3cret@127.0.0.1:$port/outpost"
SHOWN="postgresql://ann:\*\*\*@127.0.0.1:$port/outpost"
printf 'AllowRoot yes\nStore %s\n' "$URI" >"$T/pw.conf"
"$OUTPOSTD_BIN" -f "$T/pw.conf" -T >"$T/dump.pw" 2>&1 || fail "outpostd -T with a password"
expect_output "$T/dump.pw" "^Store $SHOWN\$" "-T's masked Store"
mkdir -m 700 "$T/state2"
spawn outpostd-pw "$OUTPOSTD_BIN" -f "$T/pw.conf" -d "$T/state2" -l "127.0.0.1:$(pick_port)"
pw_pid=$LAST_PID
wait_for "the passfile warning" 10 grep -q 'belongs in a passfile' "$LOGDIR/outpostd-pw.log"
# Without a reachable PostgreSQL outpostd stops (or, once it can, waits for it): either way say so, masked.
wait_for "outpostd to name the store it cannot reach" 10 grep -q "$SHOWN" "$LOGDIR/outpostd-pw.log"
exited "$pw_pid" || stop_pid "$pw_pid"
[ "$(grep -c 'belongs in a passfile' "$LOGDIR/outpostd-pw.log")" = 1 ] || fail "the passfile warning is not said once"
if "$OUTPOST_BIN" -f "$T/pw.conf" -d "$STATE" fleet ls >"$T/out" 2>"$T/err"; then
	fail "outpost opened an unreachable PostgreSQL store"
fi
[ "$(wc -l <"$T/err")" = 1 ] || fail "the CLI's store error is not one line: $(cat "$T/err")"
expect_output "$T/err" "^outpost: cannot open the store $SHOWN: " "the CLI's store error"
OUTPOST_STORE=$URI "$OUTPOST_BIN" -d "$STATE" fleet ls >"$T/out" 2>"$T/err.env" && fail "OUTPOST_STORE to nowhere succeeded"
expect_output "$T/err.env" "^outpost: cannot open the store $SHOWN: " "OUTPOST_STORE's store error"
"$OUTPOST_BIN" --store "$URI" -d "$STATE" fleet ls >"$T/out" 2>"$T/err.cmdline"
rc=$?
[ $rc = 2 ] || fail "outpost --store with a password exited $rc, expected 2 (usage)"
expect_output "$T/err.cmdline" "^outpost: --store: a password on the command line" "--store with a password"
! grep -rq s3cret "$T/dump.pw" "$LOGDIR" "$T/err" "$T/err.env" "$T/err.cmdline" || fail "the password was printed"

# A malformed Store: one line naming file and line, exit status 1, for both programs.
printf 'AllowRoot yes\nStore redis://ann:s3cret@127.0.0.1/0\n' >"$T/bad.conf"
for args in "-T" "-d $T/state2 -l 127.0.0.1:$(pick_port)"; do
	# shellcheck disable=SC2086
	timeout 10 "$OUTPOSTD_BIN" -f "$T/bad.conf" $args >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc = 1 ] || fail "outpostd $args with Store redis:// exited $rc, expected 1"
	expect_output "$T/err" "$T/bad.conf:2: bad value for Store: unknown store \"redis://ann:\*\*\*@127.0.0.1/0\"" \
		"outpostd's error for an unknown scheme"
done
"$OUTPOST_BIN" -f "$T/bad.conf" -d "$STATE" fleet ls >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "outpost -f bad.conf exited $rc, expected 1"
expect_output "$T/err" "^outpost: $T/bad.conf:2: bad value for Store: unknown store" "the CLI's error for an unknown scheme"
for bad in "redis://x" "sqlite:" "" "$(printf 'sqlite:/tmp/a\tb')"; do
	"$OUTPOST_BIN" --store "$bad" -d "$STATE" fleet ls >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc = 2 ] || fail "outpost --store '$bad' exited $rc, expected 2 (usage)"
	expect_output "$T/err" "^outpost: --store: (unknown store|sqlite: needs a path|empty store|store holds a control)" \
		"--store '$bad'"
done
OUTPOST_STORE=mysql://db/x "$OUTPOST_BIN" -d "$STATE" fleet ls >"$T/out" 2>"$T/err" && fail "OUTPOST_STORE=mysql:// was taken"
expect_output "$T/err" "^outpost: OUTPOST_STORE: unknown store \"mysql://db/x\"" "OUTPOST_STORE with an unknown scheme"
! grep -rq s3cret "$T/err" "$LOGDIR" || fail "the password was printed"
# help needs no store at all
"$OUTPOST_BIN" -f "$T/bad.conf" help >/dev/null || fail "outpost help read the store"
done_ok
