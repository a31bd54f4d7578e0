#!/bin/bash
# t-import-sshd.sh: `outpost import sshd` takes over seed 000's jump host: its
# authorized_keys (keys made by ssh-keygen here, comments like auvik-acme-hq,
# one line with sshd options) and its port table. A bad file is refused with
# its line numbers and writes nothing; --dry-run prints the plan and writes
# nothing; the import makes the devices and binds each its port-table port,
# so before any device ever dialled the table names it (offline) and a
# device dialling another's port is refused. Each then dials with the seed's
# own unit line (-N, ServerAliveInterval=60, ServerAliveCountMax=3,
# ExitOnForwardFailure=yes, -R PORT:localhost:SSHD) and is reached by name
# (`-J jump -p PORT root@NAME.FLEET`) and by port (seed 000's `-J jump -p
# PORT root@localhost`) with stock ssh. Users are imported over SSH from
# standard input (refused whole past its cap) and reach a device both ways.
. "$(dirname "$0")/lib.sh"
require_outpost

fleet_add acme
user_add admin --admin
NAMES=(auvik-acme-hq auvik-globex-main auvik-initech-office)
PORTS=(22050 22051 22052)
OLD=$T/old-jump
mkdir -p "$OLD"
for n in "${NAMES[@]}"; do
	ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$OLD/$n" </dev/null || fail "ssh-keygen $n"
done
pub() { cut -d' ' -f1,2 "$OLD/$1.pub"; }

# The old jump's files: ~jumpuser/.ssh/authorized_keys and the port table.
cat >"$OLD/authorized_keys" <<-EOF2
	# viyu.net collectors
	$(cat "$OLD/auvik-acme-hq.pub")
	restrict,port-forwarding,permitlisten="localhost:22051" $(pub auvik-globex-main) auvik-globex-main
	command="/bin/false",no-pty $(cat "$OLD/auvik-initech-office.pub")
EOF2
cat >"$OLD/ports" <<-'EOF2'
	# Collector port assignments (docs: "Port Assignment")
	22050	auvik-acme-hq		# Acme Corp
	22051	auvik-globex-main	# Globex Inc
	22052	auvik-initech-office	# Initech
EOF2

start_jump
devices() { outpost device ls | awk '{print $1}' | sort | tr '\n' ' '; }
[ -z "$(devices)" ] || fail "devices before the import: $(devices)"

# A bad file: every problem with its line number, nothing written.
{
	cat "$OLD/authorized_keys"
	cat "$OLD/auvik-acme-hq.pub"						# line 5: same key as line 2
	echo "from=\"10.0.0.0/8\" $(pub auvik-globex-main) other"		# line 6
	echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBroken broken"		# line 7
} >"$OLD/bad"
outpost import sshd --authorized-keys "$OLD/bad" --fleet acme --ports "$OLD/ports" \
	>"$T/bad.out" 2>"$T/bad.err" && fail "a bad file was imported"
for want in "bad:5: the same key as line 2" "bad:6: from=" "bad:7: not a valid ssh-ed25519 key" \
    "3 problems; nothing imported"; do
	grep -qF "$want" "$T/bad.err" || fail "no '$want' in: $(cat "$T/bad.err")"
done
[ -z "$(devices)" ] || fail "a refused import wrote devices: $(devices)"

# The plan: one line per device, its fingerprint and where its port comes from.
outpost import sshd --authorized-keys "$OLD/authorized_keys" --fleet acme --ports "$OLD/ports" \
	--dry-run >"$T/plan" 2>"$T/plan.err" || fail "dry run: $(cat "$T/plan.err")"
for i in 0 1 2; do
	n=${NAMES[$i]}
	fp=$(ssh-keygen -lf "$OLD/$n.pub" | awk '{print $2}')
	grep -qxF "$n.acme  $fp  port ${PORTS[$i]} port-table  line $((i + 2))" "$T/plan" ||
		fail "no plan line for $n: $(cat "$T/plan")"
done
grep -qF '#   line 4: command="/bin/false" ignored' "$T/plan" || fail "the plan does not note command=: $(cat "$T/plan")"
[ -z "$(devices)" ] || fail "--dry-run wrote devices: $(devices)"

outpost import sshd --authorized-keys "$OLD/authorized_keys" --fleet acme --ports "$OLD/ports" \
	>"$T/import" 2>"$T/import.err" || fail "import: $(cat "$T/import.err")"
grep -qF "# imported 3 devices into fleet acme" "$T/import" || fail "import said: $(cat "$T/import")"
[ "$(devices)" = "auvik-acme-hq.acme auvik-globex-main.acme auvik-initech-office.acme " ] ||
	fail "devices after the import: $(devices)"
[ "$(audit_count admin import=devices count=3 ports=3 result=ok)" = 1 ] || fail "no admin record of the import"

# The ports are bound from the import on, before any device dialled: the
# table names each device (offline), `ssh-config --port-table` prints them.
for i in 0 1 2; do
	REFUSE_TRIES=1 expect_refusal "port ${PORTS[$i]} before ${NAMES[$i]} dialled" "device ${NAMES[$i]}\.acme is offline \(last seen never\)" \
		ssh -F "$(client_config admin)" -J jump -p "${PORTS[$i]}" root@localhost true
done
ls_line auvik-globex-main.acme | grep -q '  offline  never  -  port 22051$' || fail "outpost ls after the import: $(outpost ls)"
outpost ssh-config --port-table --server "127.0.0.1:$JUMP_PORT" >"$T/pt.conf" || fail "ssh-config --port-table"
grep -A2 -x 'Host auvik-globex-main.acme auvik-globex-main' "$T/pt.conf" | grep -qx '    Port 22051' ||
	fail "ssh-config --port-table after the import: $(cat "$T/pt.conf")"
# A device dialling another's port (a unit copied without editing) is
# refused: the port is auvik-acme-hq's from the import, not the first caller's.
spawn "dev-wrong-port" ssh -F "$DEVCFG" -i "$OLD/auvik-globex-main" \
	-N -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes \
	-R 22050:localhost:22 -p "$JUMP_PORT" jumpuser@127.0.0.1
wait_for "the unit on auvik-acme-hq's port to exit" 20 exited "$LAST_PID"
grep -q 'remote port forwarding failed for listen port 22050' "$LOGDIR/dev-wrong-port.log" ||
	fail "a device took another's imported port"
[ "$(audit_count register device=auvik-globex-main.acme port=22050 result=refused \
	reason='port 22050 is bound to device auvik-acme-hq.acme')" = 1 ] || fail "the refusal of an imported port not audited"
wait_offline auvik-globex-main.acme

# Users over SSH, the file on standard input.
k=$(key bob-tech)
echo "$(cut -d' ' -f1,2 "$k.pub") Bob Tech" >"$OLD/users"
cat "$k.pub" >>"$T/device_authorized_keys"
timeout 30 ssh -F "$(client_config admin)" jump import sshd --users - --fleet acme <"$OLD/users" \
	>"$T/users.out" 2>"$T/users.err" || fail "remote users import: $(cat "$T/users.err")"
grep -q "^bob-tech  SHA256:.*  grant acme  line 1\$" "$T/users.out" || fail "users import said: $(cat "$T/users.out")"

# Standard input past its cap (32 KiB) fails whole instead of arriving cut.
{ for i in $(seq 1 700); do echo "# padding line $i of a file too large to send over SSH"; done
  echo "$(cut -d' ' -f1,2 "$(key carol-tech).pub") carol-tech"; } >"$OLD/big-users"
timeout 30 ssh -F "$(client_config admin)" jump import sshd --users - --fleet acme <"$OLD/big-users" \
	>"$T/big.out" 2>"$T/big.err" && fail "a cut standard input was imported: $(cat "$T/big.out")"
grep -q "standard input is larger than" "$T/big.err" || fail "big stdin: $(cat "$T/big.err")"
outpost user ls | grep -q '^carol-tech ' && fail "carol-tech imported from a cut file"

# Each device with the seed's unit line, to its own sshd; reached by name
# and by port.
for i in 0 1 2; do
	n=${NAMES[$i]}
	start_device_sshd "$i"
	v=SSHD_PORT_dev$i
	known_add "$n.acme" "$T/host-dev$i.pub"
	known_add "[localhost]:${PORTS[$i]}" "$T/host-dev$i.pub"
	spawn "dev-$n" ssh -F "$DEVCFG" -i "$OLD/$n" \
		-N -o ServerAliveInterval=60 -o ServerAliveCountMax=3 -o ExitOnForwardFailure=yes \
		-R "${PORTS[$i]}:localhost:${!v}" -p "$JUMP_PORT" jumpuser@127.0.0.1
done
for n in "${NAMES[@]}"; do wait_online "$n.acme"; done
# Seed 000's "verify the tunnel" (`ss -tlnp | grep 22050` on the jump): outpost ls.
for i in 0 1 2; do
	ls_line "${NAMES[$i]}.acme" | grep -Eq "^${NAMES[$i]}\.acme  online  .*  port ${PORTS[$i]}\$" || fail "outpost ls: $(outpost ls)"
done
for i in 0 1 2; do
	n=${NAMES[$i]}
	for u in admin bob-tech; do
		out=$(timeout 30 ssh -F "$(client_config $u)" -J jump -p "${PORTS[$i]}" "root@$n.acme" echo "reached-$n" \
			2>"$T/reach.err") || fail "$u: ssh -J jump -p ${PORTS[$i]} root@$n.acme: $(cat "$T/reach.err")"
		[ "$out" = "reached-$n" ] || fail "$u reached '$out', want $n"
		out=$(timeout 30 ssh -F "$(client_config $u)" -J jump -p "${PORTS[$i]}" root@localhost echo "port-$n" \
			2>"$T/reach.err") || fail "$u: ssh -J jump -p ${PORTS[$i]} root@localhost: $(cat "$T/reach.err")"
		[ "$out" = "port-$n" ] || fail "$u reached '$out' on port ${PORTS[$i]}, want $n"
	done
done
[ "$(audit_count connect user=bob-tech device=auvik-initech-office.acme port=22052 result=ok)" -ge 2 ] ||
	fail "bob-tech's routes to auvik-initech-office not audited"

# Importing the same file again changes nothing.
outpost import sshd --authorized-keys "$OLD/authorized_keys" --fleet acme --ports "$OLD/ports" \
	>"$T/again" 2>&1 || fail "second import: $(cat "$T/again")"
grep -qF "# imported 0 devices into fleet acme (3 already there)" "$T/again" || fail "second import: $(cat "$T/again")"
done_ok
