#!/bin/bash
# run-all.sh: runs the unit tests and every integration scenario against one
# or more build dirs, one PASS/FAIL line per test, and ends with "N passed, N failed".
#
#   tests/run-all.sh [--unit-only|--integration-only] BUILD_DIR [ASAN_BUILD_DIR...] [FUZZ_BUILD_DIR]
#
# A build dir configured with -Dfuzz=true (build-fuzz/) runs the libFuzzer
# targets instead: each replays its tests/fuzz/regress/<target>/ inputs, then
# fuzzes from tests/fuzz/corpus/<target>/ for OUTPOST_FUZZ_SECONDS (default
# 3) seconds; a crash input is kept in the target's log directory.
#
# Scenarios are tests/integration/t-*.sh, run one at a time with
# OUTPOST_BUILD=<dir>, each in its own process group under a time limit
# (300 s, or a "# timeout: N" line in the scenario's first 10 lines). Logs
# of failed scenarios stay in tests/logs/<build>/<scenario>/; OUTPOST_TESTS
# ("t-scp t-sftp") limits the run to those scenarios. A "# flavours: build"
# line in a scenario's first 10 lines runs it on the plain build only (it is
# reported as skipped on a sanitizer build): for slow scenarios that gain
# nothing from ASan, such as latency figures and packaging.
#
# PostgreSQL: a "# stores: sqlite postgresql" line in a scenario's first 10
# lines runs it a second time, on the plain build only, against PostgreSQL
# (reported as t-name@pg; OUTPOST_TESTS may name t-name@pg alone); a
# "# needs: postgresql" line hands the scenario the test cluster on every
# build. One test PostgreSQL cluster (tests/pg/pg-start) serves the whole
# invocation: started on first need, stopped at the end; its URI reaches
# the scenario as OUTPOST_TEST_PG and lib.sh makes a fresh database per
# scenario. Without PostgreSQL 15 those runs are skipped, loudly.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
LOGROOT=$HERE/logs
DEFAULT_TIMEOUT=300
run_unit=1
run_integration=1
passed=0
failed=0
skipped=0

usage() {
	echo "usage: tests/run-all.sh [--unit-only|--integration-only] BUILD_DIR [ASAN_BUILD_DIR...]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--unit-only) run_integration=0; shift ;;
	--integration-only) run_unit=0; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage

now() { date +%s.%N; }

# ---- the test PostgreSQL, one cluster per invocation ----
PG_DIR= PG_URI= PG_WHY=
PG_BIN=${OUTPOST_PG_BIN:-/usr/lib/postgresql/15/bin}

# pg_cluster: 0 with PG_URI set once the cluster runs; 1 with PG_WHY otherwise.
pg_cluster() {
	[ -n "$PG_URI" ] && return 0
	[ -n "$PG_WHY" ] && return 1
	if [ ! -x "$PG_BIN/postgres" ] || [ ! -x "$PG_BIN/initdb" ]; then
		PG_WHY="PostgreSQL 15 is not installed ($PG_BIN/postgres missing: apt-get install postgresql-15)"
	elif [ ! -x "$HERE/pg/pg-start" ]; then
		PG_WHY="tests/pg/pg-start is missing"
	else
		PG_DIR=$(mktemp -d /tmp/outpost-pg.XXXXXX)
		PG_URI=$("$HERE/pg/pg-start" "$PG_DIR" 2>"$PG_DIR.log" | tail -n 1)
		case $PG_URI in
		postgresql://*|postgres://*) echo "run-all: test PostgreSQL at $PG_URI" >&2; rm -f "$PG_DIR.log"; return 0 ;;
		esac
		PG_WHY="tests/pg/pg-start failed: $(tail -n 1 "$PG_DIR.log")"
		PG_URI=
	fi
	echo "run-all: WARNING: the PostgreSQL runs are SKIPPED: $PG_WHY" >&2
	return 1
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	"$HERE/pg/pg-stop" "$PG_DIR" >/dev/null 2>&1
	rm -rf "$PG_DIR" "$PG_DIR.log"
	PG_DIR= PG_URI=
}
trap pg_stop EXIT
trap 'exit 130' INT TERM
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

report() {	# report PASS|FAIL|SKIP NAME BUILD SECONDS [NOTE]
	printf '%s %s (%s) %s%s\n' "$1" "$2" "$3" "$4" "${5:+  $5}"
	case $1 in
	PASS) passed=$((passed + 1)) ;;
	FAIL) failed=$((failed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	esac
}

is_fuzz() {
	grep -q 'fsanitize=fuzzer' "$1/build.ninja" 2>/dev/null
}

is_asan() {
	grep -q 'fsanitize=[a-z,]*address' "$1/build.ninja" 2>/dev/null
}

# Unit tests: one meson run, one line per meson test from testlog.json.
run_units() {
	local dir=$1 bname=$2 t0 log json rc
	t0=$(now)
	if [ ! -f "$dir/build.ninja" ]; then
		report FAIL "unit" "$bname" "$(elapsed "$t0")" "not a meson build dir: $dir"
		return
	fi
	log=$LOGROOT/$bname/unit
	mkdir -p "$log"
	json=$dir/meson-logs/testlog.json
	rm -f "$json"
	meson test -C "$dir" --print-errorlogs >"$log/meson-test.log" 2>&1
	rc=$?
	if [ ! -s "$json" ]; then
		if grep -q 'No tests defined' "$log/meson-test.log"; then
			echo "note: no unit tests defined in $bname" >&2
			rm -rf "$log"
		else
			report FAIL "unit" "$bname" "$(elapsed "$t0")" "meson test status $rc, see ${log#$ROOT/}/meson-test.log"
		fi
		return
	fi
	while IFS=$'\t' read -r res name dur; do
		case $res in
		OK|EXPECTEDFAIL) report PASS "$name" "$bname" "${dur}s" ;;
		SKIP) report SKIP "$name" "$bname" "${dur}s" ;;
		*) report FAIL "$name" "$bname" "${dur}s" "$res, see ${log#$ROOT/}/meson-test.log" ;;
		esac
	done < <(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    print("%s\t%s\t%.1f" % (t["result"], t["name"], float(t.get("duration", 0))))
' "$json")
	if [ "$rc" = 0 ]; then rm -rf "$log"; fi
}

# The build flavours a scenario runs on: "# flavours: build" in its first 10
# lines limits a slow scenario that gains nothing from the sanitizers to the
# plain build (flavours are "build" and "asan"); no line means every build.
scenario_flavours() {
	head -n 10 "$1" | sed -n 's/^# *flavours: *//p' | head -n 1
}

flavour_of() {
	if is_asan "$1"; then echo asan; else echo build; fi
}

# The stores a scenario runs on ("# stores: sqlite postgresql"; none: sqlite).
scenario_stores() {
	head -n 10 "$1" | sed -n 's/^# *stores: *//p' | head -n 1
}

# "# needs: postgresql": the scenario makes its own PostgreSQL databases.
scenario_needs_pg() {
	head -n 10 "$1" | grep -Eq '^# *needs:.*postgresql'
}

# selected NAME: OUTPOST_TESTS is unset or lists NAME.
selected() {
	[ -z "${OUTPOST_TESTS:-}" ] && return 0
	case " $OUTPOST_TESTS " in *" $1 "*) return 0 ;; esac
	return 1
}

scenario_timeout() {
	local t
	t=$(head -n 10 "$1" | sed -n 's/^# *timeout: *\([0-9][0-9]*\).*/\1/p' | head -n 1)
	echo "${t:-$DEFAULT_TIMEOUT}"
}

# One scenario in its own process group; on time-out the whole group is ended.
# run_scenario DIR BNAME SCENARIO [STORE]: STORE "postgresql" is the @pg run.
run_scenario() {
	local dir=$1 bname=$2 t=$3 store=${4:-sqlite} name limit log t0 pid rc deadline pgenv=()
	name=$(basename "$t" .sh)
	if [ "$store" = postgresql ]; then
		name=$name@pg
		pgenv=(OUTPOST_TEST_STORE=postgresql OUTPOST_TEST_PG="$PG_URI")
	elif scenario_needs_pg "$t" && pg_cluster; then
		pgenv=(OUTPOST_TEST_PG="$PG_URI")
	fi
	limit=$(scenario_timeout "$t")
	log=$LOGROOT/$bname/$name
	rm -rf "$log"
	mkdir -p "$log"
	t0=$(now)
	env "${pgenv[@]}" OUTPOST_BUILD="$dir" OUTPOST_TEST_LOGDIR="$log" setsid bash "$t" >"$log/scenario.log" 2>&1 </dev/null &
	pid=$!
	deadline=$(($(date +%s) + limit))
	while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
		# a zombie still answers kill -0: stop polling once it has exited
		[ "$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -c1)" = Z ] && break
		sleep 0.2
	done
	if [ "$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -c1)" != Z ] && kill -0 "$pid" 2>/dev/null; then
		echo "run-all: time limit ${limit}s reached, ending process group $pid" >>"$log/scenario.log"
		kill -TERM -- "-$pid" 2>/dev/null
		for _ in $(seq 1 50); do
			[ "$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -c1)" = Z ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL -- "-$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		report FAIL "$name" "$bname" "$(elapsed "$t0")" "time limit ${limit}s, see ${log#$ROOT/}/"
		return
	fi
	wait "$pid"
	rc=$?
	case $rc in
	0) report PASS "$name" "$bname" "$(elapsed "$t0")"; rm -rf "$log" ;;
	77) report SKIP "$name" "$bname" "$(elapsed "$t0")" "$(grep -m1 'SKIP:' "$log/scenario.log" | sed 's/.*SKIP: //')"; rm -rf "$log" ;;
	*) report FAIL "$name" "$bname" "$(elapsed "$t0")" "$( (grep -m1 'FAIL:' "$log/scenario.log" || tail -n 1 "$log/scenario.log") | sed 's/^\[[^]]*\] [^ ]* //' | cut -c1-200) [${log#$ROOT/}/]" ;;
	esac
}

# One libFuzzer target: regression inputs once each, then a bounded fuzz run.
run_fuzz_target() {
	local bin=$1 bname=$2 name secs log work corpus regress t0 rc runs
	name=$(basename "$bin")
	secs=${OUTPOST_FUZZ_SECONDS:-3}
	corpus=$HERE/fuzz/corpus/${name#fuzz_}
	regress=$HERE/fuzz/regress/${name#fuzz_}
	log=$LOGROOT/$bname/$name
	rm -rf "$log"
	mkdir -p "$log"
	t0=$(now)
	if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
		if ! timeout 300 "$bin" -timeout=10 "$regress"/* >"$log/regress.log" 2>&1; then
			report FAIL "$name" "$bname" "$(elapsed "$t0")" "a regression input fails again, see ${log#$ROOT/}/regress.log"
			return
		fi
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/outpost-corpus-XXXXXX")
	timeout $((secs + 120)) "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=4096 -print_final_stats=1 -artifact_prefix="$log/" \
	    "$work" "$corpus" ${OUTPOST_FUZZ_CORPUS_OUT:+"$OUTPOST_FUZZ_CORPUS_OUT"} >"$log/fuzz.log" 2>&1
	rc=$?
	rm -rf "$work"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log/fuzz.log")
	if [ $rc = 0 ]; then
		report PASS "$name" "$bname" "$(elapsed "$t0")" "${runs:-?} runs"
		rm -rf "$log"
	else
		report FAIL "$name" "$bname" "$(elapsed "$t0")" "status $rc after ${runs:-?} runs; input: $(ls "$log"/crash-* "$log"/leak-* "$log"/timeout-* "$log"/oom-* 2>/dev/null | head -n 1 | sed "s|^$ROOT/||"), see ${log#$ROOT/}/fuzz.log"
	fi
}

run_fuzz() {
	local dir=$1 bname=$2 bin
	[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=${TMPDIR:-/dev/shm}
	for bin in "$dir"/tests/fuzz/fuzz_*; do
		[ -x "$bin" ] && [ -f "$bin" ] || continue
		if [ -n "${OUTPOST_TESTS:-}" ]; then
			case " $OUTPOST_TESTS " in *" $(basename "$bin") "*) ;; *) continue ;; esac
		fi
		run_fuzz_target "$bin" "$bname"
	done
}

for dir in "$@"; do
	case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
	dir=${dir%/}
	bname=$(basename "$dir")
	if is_fuzz "$dir"; then
		unset ASAN_OPTIONS UBSAN_OPTIONS
		run_fuzz "$dir" "$bname"
		rmdir "$LOGROOT/$bname" 2>/dev/null
		continue
	fi
	if is_asan "$dir"; then
		export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	else
		unset ASAN_OPTIONS UBSAN_OPTIONS
	fi
	[ $run_unit = 1 ] && run_units "$dir" "$bname"
	if [ $run_integration = 1 ]; then
		for t in "$HERE"/integration/t-*.sh; do
			[ -f "$t" ] || continue
			tn=$(basename "$t" .sh)
			st=$(scenario_stores "$t")
			st=${st:-sqlite}
			if selected "$tn" && [[ " $st " == *" sqlite "* ]]; then
				fl=$(scenario_flavours "$t")
				case " ${fl:-$(flavour_of "$dir")} " in
				*" $(flavour_of "$dir") "*) run_scenario "$dir" "$bname" "$t" ;;
				*) report SKIP "$tn" "$bname" 0s "runs on: $fl (# flavours)" ;;
				esac
			fi
			# the @pg run: plain build only
			if [[ " $st " == *" postgresql "* ]] && { selected "$tn" || selected "$tn@pg"; } &&
			    [ "$(flavour_of "$dir")" = build ]; then
				if pg_cluster; then
					run_scenario "$dir" "$bname" "$t" postgresql
				else
					report SKIP "$tn@pg" "$bname" 0s "NO POSTGRESQL: $PG_WHY"
				fi
			fi
		done
	fi
	rmdir "$LOGROOT/$bname" 2>/dev/null
done
rmdir "$LOGROOT" 2>/dev/null
[ $skipped -gt 0 ] && echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
