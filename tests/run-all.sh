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
# ("t-scp t-sftp") limits the run to those scenarios.
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

scenario_timeout() {
	local t
	t=$(head -n 10 "$1" | sed -n 's/^# *timeout: *\([0-9][0-9]*\).*/\1/p' | head -n 1)
	echo "${t:-$DEFAULT_TIMEOUT}"
}

# One scenario in its own process group; on time-out the whole group is ended.
run_scenario() {
	local dir=$1 bname=$2 t=$3 name limit log t0 pid rc deadline
	name=$(basename "$t" .sh)
	limit=$(scenario_timeout "$t")
	log=$LOGROOT/$bname/$name
	rm -rf "$log"
	mkdir -p "$log"
	t0=$(now)
	OUTPOST_BUILD=$dir OUTPOST_TEST_LOGDIR=$log setsid bash "$t" >"$log/scenario.log" 2>&1 </dev/null &
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
			if [ -n "${OUTPOST_TESTS:-}" ]; then
				case " $OUTPOST_TESTS " in *" $(basename "$t" .sh) "*) ;; *) continue ;; esac
			fi
			# "# flavours: plain" (or "asan") in the first 10 lines: run
			# only on those builds (a long RSS measurement gains nothing
			# from ASan).
			fl=$(head -n 10 "$t" | sed -n 's/^# *flavours: *//p' | head -n 1)
			if [ -n "$fl" ]; then
				if is_asan "$dir"; then f=asan; else f=plain; fi
				case " $fl " in *" $f "*) ;; *) skipped=$((skipped + 1)); continue ;; esac
			fi
			run_scenario "$dir" "$bname" "$t"
		done
	fi
	rmdir "$LOGROOT/$bname" 2>/dev/null
done
rmdir "$LOGROOT" 2>/dev/null
[ $skipped -gt 0 ] && echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
