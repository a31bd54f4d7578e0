# lib.sh: the harness every tests/integration/t-*.sh scenario sources: a temp
# dir, random free loopback ports, keys, outpostd and stock OpenSSH peers
# (sshd as the device's own sshd, as a first hop or as a stock jump), bounded
# waits, and a cleanup that stops only what the scenario started and keeps
# logs on failure. Model: OpenSSH regress/test-exec.sh.
#
# Environment:
#   OUTPOST_BUILD        build dir holding outpostd and outpost (default ./build)
#   OUTPOST_TEST_LOGDIR  where logs go (run-all.sh sets tests/logs/<build>/<t>);
#                        default: inside the temp dir, kept only on failure
#   OUTPOST_JUMP_MODE    "outpost" (default) or "stock": the jump is a stock
#                        sshd with -R ports, for the data-path scenarios (the
#                        others skip) and for benchmarks
#   OUTPOST_KEEP=1       keep the temp dir even on success
#   OUTPOST_VALGRIND=1   run outpostd under valgrind memcheck; teardown fails
#                        on any error it reports
#   OUTPOST_TEST_STORE   "sqlite" (default) or "postgresql": the scenario's
#                        store is then a fresh database on the test cluster,
#                        named to outpostd by a `Store` line and to the CLI
#                        by OUTPOST_STORE (run-all.sh sets it for the @pg run
#                        of a scenario with "# stores: sqlite postgresql")
#   OUTPOST_TEST_PG      the test cluster's URI (tests/pg/pg-start prints it;
#                        run-all.sh starts one per run); unset, a scenario that
#                        needs PostgreSQL starts its own in the temp dir
#
# Conventions: every wait is bounded in count and time; every port is random
# and checked free with ss; only PIDs this scenario spawned are signalled.
# A scenario ends with `done_ok`; `fail MSG` ends it with a failure, `skip MSG`
# with status 77.

set -u
set -o pipefail
umask 077

TEST_NAME=$(basename "$0" .sh)
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_ROOT=$(cd "$IT_DIR/../.." && pwd)
JUMP_MODE=${OUTPOST_JUMP_MODE:-outpost}
PY=/usr/bin/python3
MAIN_PID=$BASHPID

OUTPOST_BUILD=${OUTPOST_BUILD:-$SRC_ROOT/build}
case $OUTPOST_BUILD in /*) ;; *) OUTPOST_BUILD=$PWD/$OUTPOST_BUILD ;; esac
# The binaries at the top of the build dir (the contract), or where Meson puts
# executables declared in subdirectories.
OUTPOSTD_BIN=$OUTPOST_BUILD/outpostd
[ -x "$OUTPOSTD_BIN" ] || [ ! -x "$OUTPOST_BUILD/src/server/outpostd" ] || OUTPOSTD_BIN=$OUTPOST_BUILD/src/server/outpostd
OUTPOST_BIN=$OUTPOST_BUILD/outpost
[ -x "$OUTPOST_BIN" ] || [ ! -x "$OUTPOST_BUILD/src/cli/outpost" ] || OUTPOST_BIN=$OUTPOST_BUILD/src/cli/outpost

T=$(mktemp -d /tmp/outpost-it.XXXXXX) || { echo "cannot make a temp dir" >&2; exit 1; }
LOGDIR=${OUTPOST_TEST_LOGDIR:-$T/logs}
mkdir -p "$LOGDIR" "$T/keys" "$T/dev" "$T/data" "$T/devhome" || exit 1
STATE=$T/state
CFG=$T/ssh_config
DEVCFG=$T/device_ssh_config
KNOWN=$T/known_hosts
AUDIT=$STATE/audit.log
DAEMON_LOG=$LOGDIR/outpostd.log
CLI_LOG=$LOGDIR/outpost-cli.log
: >"$KNOWN"
: >"$T/jump_authorized_keys"
: >"$T/device_authorized_keys"
: >"$T/FAILURES"

declare -a PIDS=()
declare -A PID_NAME=()
declare -A PORTS_TAKEN=()
declare -A CLIENT_CFG=()	# extra technician configs: user -> 1
declare -A KNOWN_DONE=()
declare -A RPORT=()		# stock mode: "name.fleet:port" -> remote port on the jump
declare -A REG_BASE=()		# register lines seen before start_device, per device
declare -A HOP_PORTS=()
OUTPOSTD_PID=
JUMP_PORT=
JUMP_PID=
COMPLETED=0
LAST_PID=

SANITIZER_RE='ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|LeakSanitizer has encountered|ERROR SUMMARY: [1-9]'
DAEMON_WRAP=()
if [ "${OUTPOST_VALGRIND:-0}" = 1 ]; then
	DAEMON_WRAP=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)
fi

if [ -x "$OUTPOSTD_BIN" ] && ldd "$OUTPOSTD_BIN" 2>/dev/null | grep -q libasan; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

# ---- reporting ----

log() {
	printf '[%s] %s: %s\n' "$(date +%T.%3N)" "$TEST_NAME" "$*" >&2
}

# fail MSG: records the failure and ends the scenario (or the subshell it runs in).
fail() {
	printf '%s\n' "$*" >>"$T/FAILURES"
	log "FAIL: $*"
	exit 1
}

# skip MSG: the scenario does not apply here (status 77).
skip() {
	log "SKIP: $*"
	SKIPPED=1
	exit 77
}

done_ok() {
	COMPLETED=1
	exit 0
}

require_outpost() {
	[ "$JUMP_MODE" = outpost ] || skip "needs outpostd (jump mode is $JUMP_MODE)"
}

# ---- time and waiting ----

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

# wait_for DESC SECONDS CMD...: polls CMD every 50 ms, at most SECONDS (and
# 20*SECONDS+1 tries); fails the scenario on time-out.
wait_for() {
	local desc=$1 secs=$2 n=0 deadline
	shift 2
	deadline=$(($(now_ms) + secs * 1000))
	while [ $n -le $((secs * 20)) ]; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$deadline" ] && break
		sleep 0.05
		n=$((n + 1))
	done
	fail "timed out after ${secs}s waiting for $desc"
}

# try_for SECONDS CMD...: like wait_for but returns 1 instead of failing.
try_for() {
	local secs=$1 n=0 deadline
	shift
	deadline=$(($(now_ms) + secs * 1000))
	while [ $n -le $((secs * 20)) ]; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.05
		n=$((n + 1))
	done
	return 1
}

# ---- processes ----

# alive PID: running (not a zombie).
alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# spawn NAME CMD...: runs CMD in the background, stdin /dev/null, output
# appended to $LOGDIR/NAME.log; its PID is in LAST_PID.
spawn() {
	local name=$1
	shift
	"$@" </dev/null >>"$LOGDIR/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
	PID_NAME[$LAST_PID]=$name
}

forget_pid() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# stop_pid PID [SIGNAL] [SECONDS]: signals one of our children, waits (bounded),
# SIGKILLs it if needed; its exit status is left in STOP_STATUS (-1 if killed).
stop_pid() {
	local pid=$1 sig=${2:-TERM} secs=${3:-5}
	STOP_STATUS=-1
	[ -n "$pid" ] || return 0
	kill -CONT "$pid" 2>/dev/null
	kill -"$sig" "$pid" 2>/dev/null
	if ! try_for "$secs" eval '! alive '"$pid"; then
		log "pid $pid (${PID_NAME[$pid]:-?}) ignored SIG$sig for ${secs}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		forget_pid "$pid"
		return 1
	fi
	wait "$pid" 2>/dev/null
	STOP_STATUS=$?
	forget_pid "$pid"
	return 0
}

# exited PID: true once one of our children has exited; its status is in EXIT_STATUS.
exited() {
	alive "$1" && return 1
	wait "$1" 2>/dev/null
	EXIT_STATUS=$?
	forget_pid "$1"
	return 0
}

# job CMD...: runs CMD (a command or a function; give it its own timeout) in
# the background as one of a group that wait_jobs waits for. Never use a bare
# `wait`: it would wait for the daemons too.
JOBS=()
job() {
	"$@" &
	JOBS+=("$!")
	PIDS+=("$!")
	PID_NAME[$!]="job $1"
}

# wait_jobs: waits for the group; JOBS_FAILED = how many exited non-zero.
wait_jobs() {
	local p
	JOBS_FAILED=0
	for p in "${JOBS[@]}"; do
		wait "$p" || JOBS_FAILED=$((JOBS_FAILED + 1))
		forget_pid "$p"
	done
	JOBS=()
	[ "$JOBS_FAILED" = 0 ]
}

# ---- ports ----

port_listening() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# pick_port: a random TCP port below the ephemeral range that no socket uses.
pick_port() {
	local used p i lo=20000 hi=32000
	used=" $(ss -Htan 2>/dev/null | awk '{n=split($4,a,":"); printf "%s ", a[n]}') "
	for i in $(seq 1 200); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
		case $used in *" $p "*) continue ;; esac
		[ -n "${PORTS_TAKEN[$p]:-}" ] && continue
		PORTS_TAKEN[$p]=1
		echo "$p"
		return 0
	done
	fail "no free port found"
}

# ---- keys and known hosts ----

# key NAME: path of an ed25519 key pair $T/keys/NAME(.pub), made on first use.
key() {
	local k=$T/keys/$1
	if [ ! -f "$k" ]; then
		ssh-keygen -q -t ed25519 -N '' -C "$1@outpost-test" -f "$k" </dev/null >/dev/null ||
			fail "ssh-keygen $1"
	fi
	echo "$k"
}

# known_add PATTERNS PUBFILE: trusts the key in PUBFILE for the host patterns.
known_add() {
	[ -n "${KNOWN_DONE["$1 $2"]:-}" ] && return 0
	KNOWN_DONE["$1 $2"]=1
	echo "$1 $(cut -d' ' -f1,2 "$2")" >>"$KNOWN"
}

# ---- ssh client configs ----

# One ssh_config per technician, used with -F by every client (ProxyJump's
# second ssh inherits -F but not -o or -i).
write_client_config() {
	local file=$1 user=$2 k fq h
	k=$(key "$user")
	{
		if [ "$JUMP_MODE" = stock ]; then
			for h in "${!RPORT[@]}"; do
				case $h in *:22) ;; *) continue ;; esac
				fq=${h%:22}
				printf 'Host %s\n  HostName 127.0.0.1\n  Port %s\n  HostKeyAlias %s\n' \
				    "$fq" "${RPORT[$h]}" "$fq"
			done
		fi
		printf 'Host jump\n  HostName %s\n  Port %s\n  User %s\n' "${JUMP_HOST:-127.0.0.1}" "${JUMP_PORT:-1}" "$(jump_user "$user")"
		for h in "${!HOP_PORTS[@]}"; do
			printf 'Host %s\n  HostName 127.0.0.1\n  Port %s\n  User root\n' "$h" "${HOP_PORTS[$h]}"
		done
		cat <<-EOF
		Host *
		  User root
		  IdentityFile $k
		  IdentitiesOnly yes
		  UserKnownHostsFile $KNOWN
		  GlobalKnownHostsFile /dev/null
		  StrictHostKeyChecking yes
		  UpdateHostKeys no
		  CheckHostIP no
		  HashKnownHosts no
		  BatchMode yes
		  ConnectTimeout 10
		  AddressFamily inet
		  PasswordAuthentication no
		  KbdInteractiveAuthentication no
		  ForwardAgent no
		  ForwardX11 no
		  ControlMaster no
		  KexAlgorithms ^curve25519-sha256
		  LogLevel ERROR
		EOF
	} >"$file"
}

jump_user() {
	if [ "$JUMP_MODE" = stock ]; then echo root; else echo "$1"; fi
}

write_configs() {
	local u
	write_client_config "$CFG" alice
	for u in "${!CLIENT_CFG[@]}"; do
		write_client_config "$T/ssh_config.$u" "$u"
	done
	cat >"$DEVCFG" <<-EOF
	Host *
	  IdentitiesOnly yes
	  UserKnownHostsFile $KNOWN
	  GlobalKnownHostsFile /dev/null
	  StrictHostKeyChecking yes
	  UpdateHostKeys no
	  CheckHostIP no
	  BatchMode yes
	  ConnectTimeout 10
	  AddressFamily inet
	  PasswordAuthentication no
	  KbdInteractiveAuthentication no
	  LogLevel INFO
	EOF
}

# client_config USER: path of USER's ssh_config (alice's is $CFG).
client_config() {
	if [ "$1" = alice ]; then echo "$CFG"; return; fi
	if [ -z "${CLIENT_CFG[$1]:-}" ]; then
		CLIENT_CFG[$1]=1
		write_client_config "$T/ssh_config.$1" "$1"
	fi
	echo "$T/ssh_config.$1"
}

# ---- the outpost CLI and the store ----

# run_logged LOG NAME BIN ARGS...: runs BIN; its standard error goes to ours and,
# after a "$ NAME ARGS (status N)" line, to LOG; returns its status.
run_logged() {
	local log=$1 name=$2 err=$T/cmd.err.$BASHPID rc
	shift 2
	"$@" 2>"$err"
	rc=$?
	{ echo "\$ $name ${*:2} (status $rc)"; cat "$err"; } >>"$log"
	cat "$err" >&2
	rm -f "$err"
	return $rc
}

# outpost ARGS...: the CLI on this scenario's state dir; stderr is also logged.
outpost() {
	run_logged "$CLI_LOG" outpost "$OUTPOST_BIN" -d "$STATE" "$@"
}

# fleet_add F...
fleet_add() {
	local f
	[ "$JUMP_MODE" = stock ] && return 0
	for f in "$@"; do
		outpost fleet add "$f" >/dev/null || fail "outpost fleet add $f"
	done
}

# storm_tools: this build's loadgen ($LG) and delay relay ($RELAY), the
# loadgen's status file ($LGST), and the open files a 1,500-device storm needs.
storm_tools() {
	LG=$OUTPOST_BUILD/bench/outpost-loadgen
	RELAY=$OUTPOST_BUILD/bench/outpost-delayrelay
	[ -x "$LG" ] || fail "no $LG (build it first)"
	[ -x "$RELAY" ] || fail "no $RELAY (build it first)"
	LGST=$T/loadgen.status
	ulimit -n 16384 || fail "cannot raise the open-file limit"
}

# haproxy_start PORT SERVER: HAProxy in TCP mode on 127.0.0.1:PORT with one
# backend server (SERVER is its line after "server", such as
# "s1 127.0.0.1:2222 send-proxy-v2"), its admin socket $T/haproxy.sock.
haproxy_start() {
	cat >"$T/haproxy.cfg" <<EOC
global
  pidfile $T/haproxy.pid
  stats socket $T/haproxy.sock mode 600 level admin
  maxconn 6000
defaults
  mode tcp
  maxconn 6000
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend jump
  bind 127.0.0.1:$1
  default_backend outpost
backend outpost
  server $2
EOC
	spawn haproxy haproxy -db -f "$T/haproxy.cfg"
	wait_for "haproxy listening" 10 port_listening "$1"
}

# user_add NAME [--admin] [FLEET...]: a technician with key $T/keys/NAME,
# authorized on the device sshds too.
user_add() {
	local name=$1 admin= f args=()
	shift
	local k
	k=$(key "$name")
	for f in "$@"; do
		if [ "$f" = --admin ]; then args+=(--admin); else args+=(--fleet "$f"); fi
	done
	cat "$k.pub" >>"$T/device_authorized_keys"
	if [ "$JUMP_MODE" = stock ]; then
		cat "$k.pub" >>"$T/jump_authorized_keys"
		return 0
	fi
	outpost user add "$name" --key "$k.pub" "${args[@]}" >/dev/null || fail "outpost user add $name"
	# A running outpostd learns the key from its store: it looks for a change
	# every 25 ms on SQLite, then copies the store (docs/ARCHITECTURE.md, "The
	# store thread"). A login at once could come first: measured on this
	# machine, one or two first tries in ten were refused ("unknown key"), and
	# t-access-expiry and t-ondemand-wake failed on it in clean-clone runs.
	# Waiting on a login instead would add audit records the scenarios count.
	[ -z "$OUTPOSTD_PID" ] || sleep 0.2
}

# device_add NAME FLEET: a device bound to key $T/keys/dev-NAME.FLEET.
device_add() {
	local k
	k=$(key "dev-$1.$2")
	if [ "$JUMP_MODE" = stock ]; then
		cat "$k.pub" >>"$T/jump_authorized_keys"
		return 0
	fi
	outpost device add "$1" --fleet "$2" --key "$k.pub" >/dev/null || fail "outpost device add $1.$2"
}

# db_snapshot FILE: schema-agnostic picture of the store (row counts per table
# plus the user and fleet listings), for "the store is unchanged" checks.
db_snapshot() {
	local t
	{
		# sessions is live state (who is connected) and host_keys what
		# outpostd learns from devices by itself: neither is configuration.
		for t in $(store_tables 2>/dev/null); do
			case $t in sessions|host_keys) continue ;; esac
			echo "$t $(store_sql "SELECT count(*) FROM \"$t\"")"
		done
		outpost fleet ls
		outpost user ls
		outpost device ls | awk '{print $1}'
	} >"$1" 2>&1
}

# ---- the store: SQLite in the state dir, or a database on the test PostgreSQL ----

STORE_ENGINE=${OUTPOST_TEST_STORE:-sqlite}
STORE_SPEC=		# "" = outpost.db in $STATE; else the URI outpostd and the CLI use
PG_URI=${OUTPOST_TEST_PG:-}
PG_OWN=			# the cluster this scenario started itself (pg_cluster)
PG_DBS=()		# databases pg_db made, dropped at cleanup
PG_BIN=${OUTPOST_PG_BIN:-/usr/lib/postgresql/15/bin}

# pg_cluster: sets PG_URI to the test cluster (OUTPOST_TEST_PG, or one
# started for this scenario alone); skips the scenario without
# PostgreSQL 15.
pg_cluster() {
	[ -n "$PG_URI" ] && return 0
	[ -x "$PG_BIN/postgres" ] || skip "NO POSTGRESQL: $PG_BIN/postgres missing (apt-get install postgresql-15)"
	[ -x "$IT_DIR/../pg/pg-start" ] || skip "NO POSTGRESQL: tests/pg/pg-start missing"
	command -v psql >/dev/null || skip "NO POSTGRESQL: psql missing (postgresql-client-15)"
	# not under $T: the server runs as nobody when we are root
	PG_OWN=$(mktemp -d /tmp/outpost-pg.XXXXXX) || fail "cannot make a temp dir"
	PG_URI=$("$IT_DIR/../pg/pg-start" "$PG_OWN" 2>>"$LOGDIR/pg-start.log" | tail -n 1)
	case $PG_URI in postgresql://*|postgres://*) ;; *) fail "tests/pg/pg-start failed: $(tail -n 3 "$LOGDIR/pg-start.log")" ;; esac
	log "own test PostgreSQL at $PG_URI"
}

# pg_uri_db URI DB: URI naming database DB instead of its own.
pg_uri_db() {
	local base=${1%%\?*} q=
	[ "$base" = "$1" ] || q=?${1#*\?}
	echo "${base%/*}/$2$q"
}

# pg_db TAG: a fresh, empty database for this scenario on the test cluster;
# its URI in PG_DB (not printed: call it in the scenario's own shell, not
# in $(...)). Dropped at cleanup.
pg_db() {
	local db
	pg_cluster
	db=it_${TEST_NAME//[^a-z0-9]/_}_$$_$1
	psql -XAtq -v ON_ERROR_STOP=1 "$PG_URI" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
	    >>"$LOGDIR/psql.log" 2>&1 || fail "cannot create database $db on $PG_URI: $(tail -n 1 "$LOGDIR/psql.log")"
	PG_DBS+=("$db")
	PG_DB=$(pg_uri_db "$PG_URI" "$db")
}

# store_sql SQL: runs SQL on the scenario's store (sqlite3 or psql), rows
# '|'-separated, one a line.
store_sql() {
	if [ -n "$STORE_SPEC" ]; then
		psql -XAtq -v ON_ERROR_STOP=1 "$STORE_SPEC" -c "$1"
	else
		sqlite3 "$STATE/outpost.db" "$1"
	fi
}

# store_tables: the store's tables, one a line, sorted.
store_tables() {
	if [ -n "$STORE_SPEC" ]; then
		store_sql "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
	else
		store_sql "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
	fi
}

# store_check: "ok" if the store is intact (SQLite's integrity_check; on
# PostgreSQL, which a killed client cannot corrupt, that every table reads).
store_check() {
	local t
	if [ -z "$STORE_SPEC" ]; then
		store_sql 'PRAGMA integrity_check' 2>&1
		return
	fi
	for t in $(store_tables 2>&1); do
		store_sql "SELECT count(*) FROM \"$t\"" >/dev/null 2>&1 || { echo "table $t unreadable"; return; }
	done
	echo ok
}

# store_init: on PostgreSQL, a fresh database as the scenario's store.
store_init() {
	[ "$STORE_ENGINE" = postgresql ] || return 0
	pg_db main
	STORE_SPEC=$PG_DB
	export OUTPOST_STORE=$STORE_SPEC
	log "store: $STORE_SPEC"
	# A tree without the `Store` keyword or the PostgreSQL backend cannot run
	# the @pg variant at all: say so rather than fail every scenario on it.
	store_plumbed "$STORE_SPEC" || skip "NO POSTGRESQL IN THIS BUILD: $PLUMB_WHY"
}

# store_plumbed SPEC: true if outpostd takes `Store SPEC` and the CLI
# OUTPOST_STORE=SPEC (not its state dir's SQLite); else the reason in PLUMB_WHY.
store_plumbed() {
	local d=$T/probe.$BASHPID
	mkdir -p "$d"
	printf 'AllowRoot yes\nStore %s\n' "$1" >"$d/conf"
	PLUMB_WHY=
	"$OUTPOSTD_BIN" -T -f "$d/conf" -d "$d/state" >"$d/out" 2>&1
	if grep -Eq "unknown keyword 'Store'|has no PostgreSQL store" "$d/out"; then
		PLUMB_WHY="outpostd: $(grep -Em1 "unknown keyword|has no PostgreSQL" "$d/out" | sed 's/.*\] //; s/.*conf:[0-9]*: //')"
	else
		OUTPOST_STORE=$1 "$OUTPOST_BIN" -d "$d/state" fleet ls >/dev/null 2>&1
		[ -e "$d/state/outpost.db" ] && PLUMB_WHY="the outpost CLI does not take OUTPOST_STORE"
	fi
	rm -rf "$d"
	[ -z "$PLUMB_WHY" ]
}

# ---- the jump: outpostd or a stock sshd ----

start_jump() {
	if [ "$JUMP_MODE" = stock ]; then start_stock_jump; else start_outpostd "$@"; fi
}

# start_outpostd [ARGS...]: outpostd on 127.0.0.1:$JUMP_PORT (kept across
# restarts), stderr to $DAEMON_LOG; waits until it listens and trusts its host key.
start_outpostd() {
	local i
	[ -x "$OUTPOSTD_BIN" ] || fail "no outpostd in $OUTPOST_BUILD (build it first)"
	[ -x "$OUTPOST_BIN" ] || fail "no outpost in $OUTPOST_BUILD (build it first)"
	[ -n "$JUMP_PORT" ] || JUMP_PORT=$(pick_port)
	# Tests run as root; outpostd refuses that unless told (t-privileges covers
	# the drop). OUTPOSTD_CONF_EXTRA adds config lines for one scenario.
	if [ ! -f "$T/outpostd.conf" ]; then
		{ echo "AllowRoot yes"; printf '%s\n' "${OUTPOSTD_CONF_EXTRA:-}"; } >"$T/outpostd.conf"
	fi
	if [ -n "$STORE_SPEC" ] && ! grep -q '^Store ' "$T/outpostd.conf"; then
		echo "Store $STORE_SPEC" >>"$T/outpostd.conf"
	fi
	for i in 1 2 3; do
		echo "==== $(date +%T.%3N) outpostd -f $T/outpostd.conf -d $STATE -l 127.0.0.1:$JUMP_PORT $*" >>"$DAEMON_LOG"
		"${DAEMON_WRAP[@]}" "$OUTPOSTD_BIN" -f "$T/outpostd.conf" -d "$STATE" -l "127.0.0.1:$JUMP_PORT" "$@" </dev/null >>"$DAEMON_LOG" 2>&1 &
		OUTPOSTD_PID=$!
		PIDS+=("$OUTPOSTD_PID")
		PID_NAME[$OUTPOSTD_PID]=outpostd
		if try_for 30 eval 'port_listening $JUMP_PORT || ! alive $OUTPOSTD_PID' && alive "$OUTPOSTD_PID"; then
			break
		fi
		exited "$OUTPOSTD_PID" || stop_pid "$OUTPOSTD_PID" KILL
		OUTPOSTD_PID=
		if grep -qi 'address already in use' "$DAEMON_LOG" && [ $i -lt 3 ]; then
			JUMP_PORT=$(pick_port)
			continue
		fi
		tail -n 20 "$DAEMON_LOG" >&2
		fail "outpostd did not start listening"
	done
	[ -n "$OUTPOSTD_PID" ] || fail "outpostd did not start"
	# ssh_host_key.pub: the primary of the HostKeys (the generated ed25519 key if none)
	local hk=$STATE/ssh_host_key.pub
	[ -s "$hk" ] || [ -n "${OUTPOSTD_HOSTKEYS:-}" ] || hk=$STATE/ssh_host_ed25519_key.pub
	wait_for "outpostd host key" 5 test -s "$hk"
	known_add "[127.0.0.1]:$JUMP_PORT" "$hk"
	write_configs
	log "outpostd pid $OUTPOSTD_PID on 127.0.0.1:$JUMP_PORT"
}

# stop_outpostd: SIGTERM, bounded wait; fails unless it exits 0 without a
# sanitizer report.
stop_outpostd() {
	outpostd_stop_check || fail "$WHY"
}

# outpostd_stop_check: stop_outpostd that returns 1 with the reason in WHY.
outpostd_stop_check() {
	local pid=$OUTPOSTD_PID
	WHY=
	[ -n "$pid" ] || return 0
	OUTPOSTD_PID=
	if ! stop_pid "$pid" TERM 20; then
		WHY="outpostd did not exit within 20s of SIGTERM"
	elif [ "$STOP_STATUS" != 0 ]; then
		WHY="outpostd exited with status $STOP_STATUS after SIGTERM"
	fi
	log "outpostd stopped (status $STOP_STATUS)"
	sanitizer_check || WHY="${WHY:+$WHY; }$SAN_WHY"
	[ -z "$WHY" ]
}

check_sanitizers() {
	sanitizer_check || fail "$SAN_WHY"
}

# sanitizer_check: returns 1 (reason in SAN_WHY) if a daemon, CLI or agent log
# has a sanitizer report (one grep over them all: there may be hundreds).
sanitizer_check() {
	local f hit files=()
	SAN_WHY=
	for f in "$DAEMON_LOG" "$CLI_LOG" "$LOGDIR"/agent-*.log; do
		[ -f "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	hit=$(grep -El -- "$SANITIZER_RE" "${files[@]}" | head -n 1)
	[ -n "$hit" ] || return 0
	grep -E -A 12 -- "$SANITIZER_RE" "$hit" | head -n 40 >&2
	SAN_WHY="sanitizer report in $(basename "$hit")"
	return 1
}

# ---- stock sshd instances ----

# start_sshd ROLE [EXTRA_CONFIG_LINES]: a private stock sshd on a random
# 127.0.0.1 port with its own host key $T/host-ROLE; sets SSHD_PORT_<ROLE>.
# @PORT@ in the extra lines is that port (e.g. another ListenAddress).
start_sshd() {
	local role=$1 extra=${2:-} port pid i
	mkdir -p /run/sshd
	[ -f "$T/host-$role" ] || ssh-keygen -q -t ed25519 -N '' -C "$role" -f "$T/host-$role" </dev/null >/dev/null
	for i in 1 2 3; do
		port=$(pick_port)
		cat >"$T/sshd_config.$role" <<-EOF
		ListenAddress 127.0.0.1:$port
		HostKey $T/host-$role
		PidFile $T/sshd.$role.pid
		AuthorizedKeysFile $T/${SSHD_KEYS:-device_authorized_keys}
		PermitRootLogin prohibit-password
		StrictModes no
		UsePAM no
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		X11Forwarding no
		PrintMotd no
		PrintLastLog no
		UseDNS no
		MaxStartups 200:30:400
		MaxSessions 64
		LoginGraceTime 30
		LogLevel VERBOSE
		SetEnv HOME=$T/devhome
		Subsystem sftp /usr/lib/openssh/sftp-server
		${extra//@PORT@/$port}
		EOF
		/usr/sbin/sshd -t -f "$T/sshd_config.$role" || fail "bad sshd config for $role"
		spawn "sshd-$role" /usr/sbin/sshd -D -e -f "$T/sshd_config.$role"
		pid=$LAST_PID
		if try_for 10 eval "port_listening $port || ! alive $pid" && alive "$pid"; then
			eval "SSHD_PORT_${role//-/_}=$port"
			eval "SSHD_PID_${role//-/_}=$pid"
			return 0
		fi
		exited "$pid" || stop_pid "$pid" KILL
	done
	fail "sshd $role did not start"
}

# start_device_sshd [ID]: the device's own sshd (ID default 0); SSHD_PORT is
# instance 0's port. Devices forwarding to instance ID are trusted under its
# host key, so a misrouted login fails host key checking.
start_device_sshd() {
	local id=${1:-0}
	SSHD_KEYS=device_authorized_keys start_sshd "dev$id"
	[ "$id" = 0 ] && SSHD_PORT=$SSHD_PORT_dev0
	return 0
}

# start_hop NAME: a stock sshd as a first hop (ssh -J NAME,jump).
start_hop() {
	local v
	SSHD_KEYS=device_authorized_keys start_sshd "$1" "AllowTcpForwarding yes"
	v=SSHD_PORT_${1//-/_}
	HOP_PORTS[$1]=${!v}
	known_add "[127.0.0.1]:${!v}" "$T/host-$1.pub"
	write_configs
}

# start_stock_jump: a stock sshd as the jump (the seeds' setup: devices use
# -R PORT:..., GatewayPorts no), for the data-path scenarios and benchmarks.
start_stock_jump() {
	SSHD_KEYS=jump_authorized_keys start_sshd jump "AllowTcpForwarding yes
GatewayPorts no
PermitTTY no"
	JUMP_PORT=$SSHD_PORT_jump
	JUMP_PID=$SSHD_PID_jump
	known_add "[127.0.0.1]:$JUMP_PORT" "$T/host-jump.pub"
	write_configs
	log "stock sshd jump on 127.0.0.1:$JUMP_PORT"
}

# ---- devices ----

# audit_count EVENT [KEY=VALUE]...: audit.log records of EVENT with those members.
audit_count() {
	"$PY" "$IT_DIR/itpeer.py" audit "$AUDIT" "$@"
}

# start_device [--autossh] [--bind ADDR] [--sshd ID] [--key FILE]
#              [--service PORT:LOCALPORT]... NAME FLEET [SSH_FLAGS...]
# A stock `ssh -N -R NAME:22:127.0.0.1:<device sshd> ... -p $JUMP_PORT` (or
# autossh -M 0) as device NAME.FLEET; DEV_PID is its PID.
start_device() {
	local tool=ssh bind= sid=0 k= svc=() fwd=() s p lp rp fq name fleet v
	while [ $# -gt 0 ]; do
		case $1 in
		--autossh) tool=autossh; shift ;;
		--bind) bind=$2; bind_set=1; shift 2 ;;
		--sshd) sid=$2; shift 2 ;;
		--key) k=$2; shift 2 ;;
		--service) svc+=("$2"); shift 2 ;;
		*) break ;;
		esac
	done
	name=$1 fleet=$2
	shift 2
	fq=$name.$fleet
	[ -n "$k" ] || k=$T/keys/dev-$fq
	[ -f "$k" ] || fail "start_device: no key $k"
	v=SSHD_PORT_dev$sid
	[ -n "${!v:-}" ] || fail "start_device: device sshd $sid is not running"
	[ "${bind_set:-0}" = 1 ] || bind=$name
	unset bind_set
	known_add "$fq,$name,[$fq]:*,[$name]:*" "$T/host-dev$sid.pub"
	svc=("22:${!v}" "${svc[@]}")
	for s in "${svc[@]}"; do
		p=${s%%:*} lp=${s#*:}
		if [ "$JUMP_MODE" = stock ]; then
			rp=${RPORT[$fq:$p]:-$(pick_port)}
			RPORT[$fq:$p]=$rp
			fwd+=(-R "$rp:127.0.0.1:$lp")
		else
			fwd+=(-R "$bind:$p:127.0.0.1:$lp")
		fi
	done
	[ "$JUMP_MODE" = stock ] && write_configs
	REG_BASE[$fq]=$(audit_count register device="$fq" result=ok)
	local cmd=(ssh -F "$DEVCFG" -i "$k" -N "${fwd[@]}" "$@" -p "$JUMP_PORT" "$(dev_user)@${JUMP_HOST:-127.0.0.1}")
	if [ $tool = autossh ]; then
		spawn "dev-$fq" env AUTOSSH_GATETIME=0 AUTOSSH_POLL=10 AUTOSSH_LOGFILE="$LOGDIR/autossh-$fq.log" \
			autossh -M 0 "${cmd[@]:1}"
	else
		spawn "dev-$fq" "${cmd[@]}"
	fi
	DEV_PID=$LAST_PID
	log "device $fq: pid $DEV_PID: ${cmd[*]}"
}

dev_user() {
	if [ "$JUMP_MODE" = stock ]; then echo root; else echo dev; fi
}

# ls_line NAME.FLEET: the device's line in the local `outpost ls` listing.
ls_line() {
	outpost ls 2>/dev/null | awk -v d="$1" '$1 == d'
}

device_online() {
	ls_line "$1" | grep -Eq '^[^ ]+[[:space:]]+online([[:space:]]|$)'
}

device_registered() {
	local n
	n=$(audit_count register device="$1" result=ok)
	[ "$n" -gt "${REG_BASE[$1]:-0}" ]
}

stock_forwarded() {
	local h
	for h in "${!RPORT[@]}"; do
		case $h in "$1":*) port_listening "${RPORT[$h]}" || return 1 ;; esac
	done
}

# wait_online NAME.FLEET [SECONDS]: until the device is online in `outpost ls`
# and has registered its services since start_device.
wait_online() {
	local secs=${2:-20}
	if [ "$JUMP_MODE" = stock ]; then
		wait_for "$1 forwarded on the stock jump" "$secs" stock_forwarded "$1"
		return
	fi
	wait_for "$1 online" "$secs" eval "device_online $1 && device_registered $1"
}

wait_offline() {
	wait_for "$1 offline" "${2:-20}" eval "ls_line $1 | grep -Eq '^[^ ]+[[:space:]]+offline'"
}

# ---- clients ----

# dev_ssh [SSH_OPTS...] NAME.FLEET [COMMAND...]: a technician (alice unless
# CLIENT=user) logs in to the device's own sshd through the jump with -J.
dev_ssh() {
	local cfg
	cfg=$(client_config "${CLIENT:-alice}")
	ssh -F "$cfg" -J jump "$@"
}

# svc_addr NAME.FLEET PORT: what a client asks the jump for to reach a service.
svc_addr() {
	if [ "$JUMP_MODE" = stock ]; then
		echo "127.0.0.1:${RPORT[$1:$2]}"
	else
		echo "$1:$2"
	fi
}

# start_peer PORT:MODE...: the itpeer.py echo/name server.
start_peer() {
	local s pid
	spawn itpeer "$PY" "$IT_DIR/itpeer.py" serve "$@"
	pid=$LAST_PID
	for s in "$@"; do
		wait_for "itpeer on ${s%%:*}" 10 eval "port_listening ${s%%:*} || ! alive $pid"
	done
	alive "$pid" || fail "itpeer did not start"
}

# ---- data ----

# mkdata NAME SIZE: $T/data/NAME with SIZE random bytes; prints the path.
mkdata() {
	local f=$T/data/$1
	head -c "$2" /dev/urandom >"$f" || fail "mkdata $1"
	echo "$f"
}

sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

# same_file A B: byte-exact by sha256 and size.
same_file() {
	[ -f "$1" ] || fail "missing $1"
	[ -f "$2" ] || fail "missing $2"
	local a b
	a=$(sha "$1") b=$(sha "$2")
	[ "$a" = "$b" ] || fail "$(basename "$2") differs from $(basename "$1"): $(stat -c %s "$1") vs $(stat -c %s "$2") bytes"
}

# expect_output FILE REGEX DESC: FILE matches the extended REGEX.
expect_output() {
	grep -Eq -- "$2" "$1" || { log "--- $1:"; head -c 2000 "$1" >&2; fail "$3: expected /$2/"; }
}

# expect_refusal DESC REGEX CMD...: CMD (an ssh client) must fail fast, not
# hang, and print REGEX on stderr, every one of REFUSE_TRIES (5) times: the
# reason must reach the user reliably, not depending on a race.
expect_refusal() {
	local desc=$1 re=$2 i rc shown=0 tries=${REFUSE_TRIES:-5} t0
	shift 2
	if [ "$1" = dev_ssh ]; then	# timeout(1) runs programs, not functions
		shift
		set -- ssh -F "$(client_config "${CLIENT:-alice}")" -J jump "$@"
	fi
	for ((i = 1; i <= tries; i++)); do
		t0=$(now_ms)
		timeout 30 "$@" >"$T/refusal.out" 2>"$T/refusal.err"
		rc=$?
		[ $rc != 0 ] || fail "$desc: not refused"
		[ $rc != 124 ] || fail "$desc: hung instead of being refused"
		grep -Eq -- "$re" "$T/refusal.err" && shown=$((shown + 1))
		[ $i = 1 ] && log "$desc: status $rc in $(($(now_ms) - t0)) ms: $(tr '\n' ' ' <"$T/refusal.err")"
	done
	[ $shown = "$tries" ] ||
		fail "$desc: the reason /$re/ reached the client in $shown of $tries attempts (last stderr: $(tr '\n' ' ' <"$T/refusal.err"))"
}

# ---- common set-up ----

# basic_setup: fleet acme, user alice (acme), device pi-hq.acme online behind
# a device sshd, with the jump running.
basic_setup() {
	fleet_add acme
	user_add alice acme
	device_add pi-hq acme
	start_jump
	start_device_sshd
	start_device pi-hq acme "$@"
	wait_online pi-hq.acme
}

# ---- teardown ----

cleanup() {
	local rc=$? p f
	[ "$BASHPID" = "$MAIN_PID" ] || return
	trap - EXIT INT TERM HUP
	[ "$rc" = 0 ] && [ "$COMPLETED" != 1 ] && { log "FAIL: scenario ended without done_ok"; rc=1; }
	[ -s "$T/FAILURES" ] && [ "$rc" = 0 ] && rc=1
	if [ -n "$OUTPOSTD_PID" ]; then
		outpostd_stop_check || { log "FAIL: $WHY"; echo "$WHY" >>"$T/FAILURES"; rc=1; }
	fi
	for ((p = ${#PIDS[@]} - 1; p >= 0; p--)); do
		kill -CONT "${PIDS[$p]}" 2>/dev/null
		kill -TERM "${PIDS[$p]}" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		try_for 5 eval "! alive $p" || { log "SIGKILL $p (${PID_NAME[$p]:-?})"; kill -KILL "$p" 2>/dev/null; }
		wait "$p" 2>/dev/null
	done
	for f in "$T"/cm-*; do
		[ -S "$f" ] && ssh -o ControlPath="$f" -O exit x >/dev/null 2>&1
	done
	[ "$rc" = 0 ] && ! sanitizer_check && { log "FAIL: $SAN_WHY"; rc=1; }
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		[ -f "$AUDIT" ] && cp "$AUDIT" "$LOGDIR/audit.log"
		[ -f "$STATE/outpost.db" ] && sqlite3 "$STATE/outpost.db" .dump >"$LOGDIR/outpost.db.dump" 2>&1
		[ -n "$STORE_SPEC" ] && pg_dump "$STORE_SPEC" >"$LOGDIR/outpost.pg.dump" 2>&1
		cp "$T"/ssh_config* "$T"/sshd_config.* "$KNOWN" "$LOGDIR/" 2>/dev/null
		[ -s "$T/FAILURES" ] && cp "$T/FAILURES" "$LOGDIR/FAILURES"
		pg_cleanup
		if [ -z "${OUTPOST_TEST_LOGDIR:-}" ]; then
			log "logs kept in $T"
			exit "$rc"
		fi
		log "logs kept in $LOGDIR"
	fi
	pg_cleanup
	[ "${OUTPOST_KEEP:-0}" = 1 ] && { log "kept $T"; exit "$rc"; }
	rm -rf "$T"
	exit "$rc"
}

# pg_cleanup: drops this scenario's databases, stops its own cluster.
pg_cleanup() {
	local db
	for db in "${PG_DBS[@]}"; do
		psql -XAtq "$PG_URI" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >>"$LOGDIR/psql.log" 2>&1
	done
	PG_DBS=()
	if [ -n "$PG_OWN" ]; then
		"$IT_DIR/../pg/pg-stop" "$PG_OWN" >>"$LOGDIR/pg-start.log" 2>&1
		rm -rf "$PG_OWN"
	fi
	PG_OWN=
	return 0
}

on_signal() {
	log "FAIL: killed by SIG$1"
	echo "killed by SIG$1" >>"$T/FAILURES"
	exit 1
}

trap cleanup EXIT
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'on_signal HUP' HUP
write_configs
store_init
