#!/bin/bash
# timeout: 600
# flavours: build
# t-deb-install: the amd64 packages (make deb-native: build-deb/) in a clean
# Debian 12 root (make deb-chroot: debootstrap --variant=minbase bookworm plus
# outpost-server's Depends, unpacked afresh into the temp dir). dpkg -i
# creates the system user `outpost` and /var/lib/outpost; outpostd runs from
# the installed files, as the unit's ExecStart says, as that user (chroot
# --userspec) on a loopback port, and a stock ssh from the host runs `ls` as
# an admin. An upgrade to a rebuilt package with a bumped version keeps the
# state (host key, store), `dpkg -r` keeps it and `dpkg -P` deletes it.
. "$(dirname "$0")/lib.sh"
require_outpost

[ "$(id -u)" = 0 ] || skip "needs root (chroot, dpkg in the root)"
ARCH=$(dpkg --print-architecture)
TARBALL=$SRC_ROOT/build-chroot/bookworm-minbase.tar
DEBS=$SRC_ROOT/build-deb
server_deb=$(ls "$DEBS"/outpost-server_*_"$ARCH".deb 2>/dev/null | tail -n 1)
agent_deb=$(ls "$DEBS"/outpost-agent_*_"$ARCH".deb 2>/dev/null | tail -n 1)
[ -n "$server_deb" ] && [ -n "$agent_deb" ] || skip "no $ARCH packages in build-deb/ (make deb-native; make check does)"
[ -f "$TARBALL" ] || skip "no clean root $TARBALL (make deb-chroot; make check does)"
VERSION=$(dpkg-deb -f "$server_deb" Version)

R=$T/root
mkdir -p "$R"
tar -C "$R" -xf "$TARBALL" || fail "cannot unpack $TARBALL"
log "root unpacked from $(basename "$TARBALL") ($(du -sm "$R" | cut -f1) MB)"

# root_argv [--user UID:GID] CMD...: ROOT_ARGV runs CMD in the root with its
# own /proc, in a mount namespace that ends with it (nothing to unmount);
# unshare, sh, chroot and env exec one another, so its PID is CMD's.
root_argv() {
	local spec=()
	[ "$1" = --user ] && { spec=(--userspec="$2" --groups=); shift 2; }
	ROOT_ARGV=(unshare -m -- sh -c 'r=$1; shift; mount -t proc proc "$r/proc" && exec chroot "$@"'
		sh "$R" "${spec[@]}" "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
		DEBIAN_FRONTEND=noninteractive "$@")
}

in_root() {
	root_argv "$@"
	"${ROOT_ARGV[@]}"
}

# dpkg_root ARGS...: dpkg in the root; fails the scenario on error.
dpkg_root() {
	echo "\$ dpkg $*" >>"$LOGDIR/dpkg.log"
	in_root dpkg "$@" >>"$LOGDIR/dpkg.log" 2>&1 || fail "dpkg $* failed in the root (see dpkg.log)"
}

# 1. Install: the user and the state directory come from the maintainer scripts.
cp "$server_deb" "$agent_deb" "$R/tmp/"
dpkg_root -i "/tmp/$(basename "$server_deb")" "/tmp/$(basename "$agent_deb")"
pw=$(in_root getent passwd outpost) || fail "no user outpost after dpkg -i"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/outpost ] && [ "$shell" = /usr/sbin/nologin ] ||
	fail "user outpost is not a system user with home /var/lib/outpost: $pw"
[ "$(in_root getent group outpost | cut -d: -f3)" = "$gid" ] || fail "no group outpost ($gid) after dpkg -i"
# (uids are the root's: compare numbers, the host's names differ)
[ "$(stat -c '%u:%g %a' "$R/var/lib/outpost")" = "$uid:$gid 700" ] ||
	fail "/var/lib/outpost is $(stat -c '%u:%g %a' "$R/var/lib/outpost" 2>&1), want $uid:$gid 700"
for f in usr/sbin/outpostd usr/bin/outpost usr/sbin/outpost-agent; do
	[ -x "$R/$f" ] || fail "/$f not installed"
done
for f in usr/share/man/man8/outpostd.8.gz usr/share/man/man1/outpost.1.gz usr/share/man/man5/outpostd.conf.5.gz usr/share/man/man8/outpost-agent.8.gz; do
	[ -f "$R/$f" ] || fail "/$f not installed"
done
grep -qx 'ExecStart=/usr/sbin/outpost-agent --syslog run' "$R/lib/systemd/system/outpost-agent.service" ||
	fail "outpost-agent.service: $(grep ExecStart "$R/lib/systemd/system/outpost-agent.service")"
exec_start=$(sed -n 's/^ExecStart=//p' "$R/lib/systemd/system/outpostd.service")
case $exec_start in /usr/sbin/outpostd\ *) ;; *) fail "outpostd.service: ExecStart=$exec_start" ;; esac
[ "$(in_root /usr/sbin/outpost-agent --version)" = "outpost-agent ${VERSION%%[+~]*}" ] || fail "installed agent: $(in_root /usr/sbin/outpost-agent --version 2>&1)"
log "installed $VERSION; outpost is $pw; ExecStart=$exec_start"

# start_root_outpostd: the unit's ExecStart as user outpost, on our port.
JUMP_PORT=$(pick_port)
ROOT_PID=
start_root_outpostd() {
	local e
	read -ra e <<<"$exec_start"
	echo "==== $(date +%T.%3N) chroot --userspec=outpost ${e[*]} -l 127.0.0.1:$JUMP_PORT" >>"$DAEMON_LOG"
	root_argv --user "$uid:$gid" "${e[@]}" -l "127.0.0.1:$JUMP_PORT"
	spawn outpostd "${ROOT_ARGV[@]}"
	ROOT_PID=$LAST_PID
	wait_for "outpostd in the root listening" 30 eval "port_listening $JUMP_PORT || ! alive $ROOT_PID"
	alive "$ROOT_PID" || { tail -n 20 "$LOGDIR/outpostd.log" >&2; fail "outpostd in the root exited"; }
	[ "$(readlink "/proc/$ROOT_PID/exe")" = "$R/usr/sbin/outpostd" ] ||
		fail "pid $ROOT_PID is $(readlink "/proc/$ROOT_PID/exe"), not the installed outpostd"
	[ "$(awk '$1 == "Uid:" {print $2 "/" $3}' "/proc/$ROOT_PID/status")" = "$uid/$uid" ] ||
		fail "outpostd in the root does not run as outpost (uid $uid)"
}
stop_root_outpostd() {
	stop_pid "$ROOT_PID" TERM 20 || fail "outpostd in the root ignored SIGTERM"
	[ "$STOP_STATUS" = 0 ] || fail "outpostd in the root exited with status $STOP_STATUS"
}

# admin_ssh CMD...: a stock ssh from the host to the root's outpostd as admin.
admin_ssh() {
	timeout 30 ssh -F "$(client_config admin)" -p "$JUMP_PORT" admin@127.0.0.1 "$@" 2>>"$LOGDIR/ssh.log"
}

# 2. outpostd from the installed files; an admin made with the installed CLI.
start_root_outpostd
wait_for "host key in /var/lib/outpost" 10 test -s "$R/var/lib/outpost/ssh_host_ed25519_key.pub"
[ "$(stat -c %u "$R/var/lib/outpost/ssh_host_ed25519_key")" = "$uid" ] || fail "host key not owned by outpost"
host_fp=$(ssh-keygen -lf "$R/var/lib/outpost/ssh_host_ed25519_key.pub" | awk '{print $2}')
k=$(key admin)
cp "$k.pub" "$R/tmp/admin.pub" && chmod 644 "$R/tmp/admin.pub"
in_root --user "$uid:$gid" /usr/bin/outpost -d /var/lib/outpost user add admin --admin --key /tmp/admin.pub >>"$CLI_LOG" 2>&1 ||
	fail "outpost user add admin in the root failed"
in_root --user "$uid:$gid" /usr/bin/outpost -d /var/lib/outpost fleet add acme >>"$CLI_LOG" 2>&1 || fail "outpost fleet add in the root"
known_add "[127.0.0.1]:$JUMP_PORT" "$R/var/lib/outpost/ssh_host_ed25519_key.pub"
admin_ssh ls >"$T/ls.out" || fail "ssh admin@ ls through the installed outpostd failed: $(tail -n 3 "$LOGDIR/ssh.log")"
[ "$(admin_ssh whoami | awk '{print $1}')" = admin ] || fail "whoami through the installed outpostd: $(admin_ssh whoami 2>&1)"
admin_ssh fleet ls | grep -q acme || fail "fleet acme not listed over ssh"
log "ssh admin@127.0.0.1:$JUMP_PORT ls: ok (host key $host_fp)"

# 3. Upgrade to the same packages rebuilt with a bumped version, as a newer
# build of the tree would be: the state stays, outpostd starts on it again.
NEW=$VERSION+t1
for d in "$server_deb" "$agent_deb"; do
	rm -rf "$T/repack"
	dpkg-deb -R "$d" "$T/repack" || fail "dpkg-deb -R $d"
	sed -i "s/^Version: .*/Version: $NEW/" "$T/repack/DEBIAN/control"
	b=$(basename "$d")
	dpkg-deb --root-owner-group -b "$T/repack" "$R/tmp/${b/_${VERSION}_/_${NEW}_}" >/dev/null || fail "dpkg-deb -b"
done
mkdir -p "$R/var/lib/outpost-agent" && echo "name pi" >"$R/var/lib/outpost-agent/agent.conf"
dpkg_root -i "/tmp/outpost-server_${NEW}_$ARCH.deb" "/tmp/outpost-agent_${NEW}_$ARCH.deb"
[ "$(in_root dpkg-query -W -f='${Version}' outpost-server)" = "$NEW" ] || fail "outpost-server not upgraded to $NEW"
stop_root_outpostd
start_root_outpostd
[ "$(ssh-keygen -lf "$R/var/lib/outpost/ssh_host_ed25519_key.pub" | awk '{print $2}')" = "$host_fp" ] ||
	fail "the upgrade changed the host key"
[ "$(stat -c '%u:%g %a' "$R/var/lib/outpost")" = "$uid:$gid 700" ] || fail "the upgrade changed /var/lib/outpost"
admin_ssh fleet ls | grep -q acme || fail "fleet acme lost in the upgrade"
[ "$(admin_ssh whoami | awk '{print $1}')" = admin ] || fail "admin lost in the upgrade"
log "upgraded to $NEW: host key, fleet and admin kept"
stop_root_outpostd

# 4. Remove: programs gone, state kept. 5. Purge: state gone.
dpkg_root -r outpost-server outpost-agent
[ ! -e "$R/usr/sbin/outpostd" ] && [ ! -e "$R/usr/sbin/outpost-agent" ] || fail "programs left after dpkg -r"
[ -s "$R/var/lib/outpost/outpost.db" ] && [ -s "$R/var/lib/outpost/ssh_host_ed25519_key" ] || fail "dpkg -r deleted the state"
[ -s "$R/var/lib/outpost-agent/agent.conf" ] || fail "dpkg -r deleted the agent's state"
dpkg_root -P outpost-server outpost-agent
[ ! -e "$R/var/lib/outpost" ] || fail "/var/lib/outpost left after dpkg -P"
[ ! -e "$R/var/lib/outpost-agent" ] || fail "/var/lib/outpost-agent left after dpkg -P"
in_root dpkg-query -W outpost-server >/dev/null 2>&1 && fail "outpost-server still known to dpkg after purge"
log "removed (state kept), purged (state gone)"
done_ok
