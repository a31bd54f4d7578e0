#!/bin/bash
# needs: postgresql
# timeout: 120
# t-store-copy.sh: `outpost store copy` moves a populated single-node install
# (fleets, an admin and a technician with two keys and an expiring grant,
# devices online and offline, with reported info, a port-table port and an
# on-demand state in their rows, a used single-use token and a revoked one,
# the audit anchor) from its SQLite to a
# fresh PostgreSQL database and back to a new SQLite file: every table is
# identical on all three, row by row and id by id. A second copy into the
# populated PostgreSQL is refused (exit 1, the reason names --force) and
# changes nothing; --force replaces it. outpostd then runs on the copy
# (PostgreSQL when this build's outpostd takes `Store`, else the SQLite file
# that went through PostgreSQL): the devices register, technicians reach
# them by name, the used token stays used, and `outpost audit verify` passes.
. "$(dirname "$0")/lib.sh"
require_outpost
pg_cluster

# ---- a populated install on SQLite ----
fleet_add acme globex
user_add alice acme
user_add boss --admin
outpost user key-add alice --key "$(key alice2).pub" >/dev/null || fail "user key-add"
cat "$(key alice2).pub" >>"$T/device_authorized_keys"
outpost grant alice globex --for 2h >/dev/null || fail "grant --for"
device_add pi-hq acme
start_jump
start_device_sshd
start_device pi-hq acme
wait_online pi-hq.acme
dev_ssh pi-hq.acme true || fail "alice reaches pi-hq.acme before the copy"
. "$IT_DIR/lib-agent.sh"
tok=$(token_create globex --uses 1) || fail "token create"
k=$(key dev-pi-lab.globex)
timeout 30 ssh -F "$DEVCFG" -i "$k" -p "$JUMP_PORT" enroll@127.0.0.1 "$tok" pi-lab >"$T/enroll.out" 2>&1 ||
	fail "enroll pi-lab with a single-use token: $(cat "$T/enroll.out")"
revoked=$(token_create acme --ttl 1h) || fail "second token"
outpost token revoke "$(outpost token ls | awk '$2 == "acme" {print $1}' | head -n 1)" >/dev/null ||
	fail "token revoke"
start_device pi-lab globex
wait_online pi-lab.globex
stop_pid "$DEV_PID"	# pi-lab offline, pi-hq online: both states travel
outpost audit verify >/dev/null || fail "audit verify before the copy"
stop_outpostd
# what agents report, a port-table port and an on-demand state, as outpostd writes them
sqlite3 "$STATE/outpost.db" "UPDATE devices SET hostname = 'pi-hq-host', os = 'Debian 12', agent_version = '1.0', \
    host_keys = 'ssh-ed25519 AAAAC3Nza', booted = 1700000000, reconnects = 3, port = 22050 WHERE name = 'pi-hq'; \
    UPDATE devices SET ondemand = 'standby', ondemand_since = 1700000100 WHERE name = 'pi-lab'" ||
	fail "sqlite3 update"
outpost ls >"$T/ls.before"

# ---- SQLite -> PostgreSQL -> SQLite ----
pg_db copy
PG=$PG_DB
out=$(outpost store copy --from sqlite --to "$PG") || fail "store copy to PostgreSQL"
log "$out"
case $out in "copied "[1-9]*" records from sqlite to postgresql://"*) ;; *) fail "copy said: $out" ;; esac

# a populated target: refused, untouched
psql -XAtq "$PG" -c "INSERT INTO fleets (name, created) VALUES ('intruder', 1)" >/dev/null || fail "psql insert"
outpost store copy --from sqlite --to "$PG" >"$T/again.out" 2>"$T/again.err"
rc=$?
[ $rc = 1 ] || fail "a copy into a populated target: status $rc, not 1"
grep -q -- '--force' "$T/again.err" || fail "the refusal does not mention --force: $(cat "$T/again.err")"
[ "$(psql -XAtq "$PG" -c "SELECT count(*) FROM fleets WHERE name = 'intruder'")" = 1 ] ||
	fail "the refused copy changed the target"
# The source as this copy reads it (each `outpost` run moves the audit anchor after it)
sqlite3 "$STATE/outpost.db" ".backup '$T/snap.db'" || fail "sqlite3 .backup"
outpost store copy --from sqlite --to "$PG" --force >/dev/null || fail "store copy --force"
[ "$(psql -XAtq "$PG" -c "SELECT count(*) FROM fleets WHERE name = 'intruder'")" = 0 ] ||
	fail "--force kept the target's own rows"

outpost store copy --from "$PG" --to "sqlite:$T/back.db" >/dev/null || fail "store copy back to SQLite"

# every table, row by row, in the SQLite column order, on all three
tables=$(sqlite3 "$T/snap.db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sessions' ORDER BY name")
[ "$(echo "$tables" | wc -l)" -ge 7 ] || fail "only these tables: $tables"
for t in $tables; do
	cols=$(sqlite3 "$T/snap.db" "SELECT group_concat(name, ', ') FROM pragma_table_info('$t')")
	sqlite3 "$T/snap.db" "SELECT $cols FROM $t ORDER BY 1, 2" >"$T/$t.orig"
	sqlite3 "$T/back.db" "SELECT $cols FROM $t ORDER BY 1, 2" >"$T/$t.back"
	psql -XAtq "$PG" -c "SELECT $cols FROM $t ORDER BY 1, 2" >"$T/$t.pg" || fail "psql $t"
	cmp -s "$T/$t.orig" "$T/$t.pg" || { diff "$T/$t.orig" "$T/$t.pg" | head >&2; fail "table $t differs on PostgreSQL"; }
	cmp -s "$T/$t.orig" "$T/$t.back" || { diff "$T/$t.orig" "$T/$t.back" | head >&2; fail "table $t differs after the round trip"; }
	log "$t: $(wc -l <"$T/$t.orig") rows identical on SQLite, PostgreSQL and back"
done
for t in fleets users devices keys grants tokens audit_anchors; do
	[ -s "$T/$t.orig" ] || fail "table $t was empty: the install was not populated"
done
grep -q '|22050|[a-z0-9-]*|[0-9]*|[0-9]*$' "$T/devices.orig" && grep -q '|standby|1700000100|' "$T/devices.orig" ||
	fail "the port or on-demand columns are not in the comparison: $(cat "$T/devices.orig")"

# ---- outpostd on the copy ----
mv "$STATE/outpost.db" "$T/orig.db"
rm -f "$STATE/outpost.db-wal" "$STATE/outpost.db-shm"
if store_plumbed "$PG"; then
	log "outpostd and the CLI on PostgreSQL: $PG"
	STORE_SPEC=$PG
	export OUTPOST_STORE=$PG
	echo "Store $PG" >>"$T/outpostd.conf"
else
	log "this build cannot run outpostd on PostgreSQL ($PLUMB_WHY): it runs on the SQLite copy that went through PostgreSQL"
	cp "$T/back.db" "$STATE/outpost.db"
fi
start_jump
start_device pi-hq acme
wait_online pi-hq.acme
start_device pi-lab globex
wait_online pi-lab.globex
[ ! -e "$STATE/outpost.db" ] || [ -z "$STORE_SPEC" ] || fail "outpostd made an SQLite store beside PostgreSQL"
dev_ssh pi-hq.acme echo by-name >"$T/byname.out" || fail "alice cannot reach pi-hq.acme on the copy"
grep -qx by-name "$T/byname.out" || fail "pi-hq.acme answered: $(cat "$T/byname.out")"
dev_ssh pi-hq true || fail "alice cannot reach bare pi-hq on the copy"
dev_ssh pi-lab.globex true || fail "alice's expiring globex grant did not travel"
CLIENT=boss dev_ssh pi-lab true || fail "boss (admin) cannot reach pi-lab on the copy"
sed "s|IdentityFile .*|IdentityFile $(key alice2)|" "$CFG" >"$T/ssh_config.alice2"
ssh -F "$T/ssh_config.alice2" -J jump pi-hq.acme true || fail "alice's second key did not travel"
k=$(key dev-thief.globex)
if timeout 30 ssh -F "$DEVCFG" -i "$k" -p "$JUMP_PORT" enroll@127.0.0.1 "$tok" pi-thief >"$T/reuse.out" 2>&1; then
	fail "the used single-use token enrolled again on the copy"
fi
outpost ls >"$T/ls.after"
awk '{print $1}' "$T/ls.before" | sort >"$T/names.before"
awk '{print $1}' "$T/ls.after" | sort >"$T/names.after"
cmp -s "$T/names.before" "$T/names.after" || fail "ls differs: $(diff "$T/names.before" "$T/names.after" | tr '\n' ' ')"
outpost audit verify >"$T/verify.out" 2>&1 || fail "audit verify on the copy: $(cat "$T/verify.out")"
log "audit verify on the copy: $(head -n 1 "$T/verify.out")"
done_ok
