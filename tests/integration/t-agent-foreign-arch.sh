#!/bin/bash
# timeout: 300
# flavours: build
# t-agent-foreign-arch: the agent as the Debian packages ship it to Raspberry
# Pis, cross-built for arm64 and armhf (make cross-agent: build-arm64/,
# build-armhf/, Debian's cross toolchains and multiarch -dev libraries), runs
# under qemu-user (qemu-aarch64-static, qemu-arm-static; the target's shared
# libraries are the multiarch ones in /usr/lib/<triplet>) against the native
# outpostd: enroll with a token, register, reached by name with stock ssh -J.
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib-agent.sh"
require_outpost

declare -A QEMU=([arm64]=qemu-aarch64-static [armhf]=qemu-arm-static)
declare -A MACHINE=([arm64]=AArch64 [armhf]=ARM)
declare -A TRIPLET=([arm64]=aarch64-linux-gnu [armhf]=arm-linux-gnueabihf)

# foreign_agent ARCH: path of the cross-built agent, built here if the
# toolchain is installed but build-ARCH/ is missing or stale; skips otherwise.
foreign_agent() {
	local a=$1 bin=$SRC_ROOT/build-$1/outpost-agent
	command -v "${QEMU[$a]}" >/dev/null || skip "${QEMU[$a]} missing (apt-get install qemu-user-static; make check does)"
	if ! command -v "${TRIPLET[$a]}-gcc" >/dev/null || [ ! -f "/usr/lib/${TRIPLET[$a]}/pkgconfig/libssh.pc" ]; then
		[ -x "$bin" ] || skip "no $a toolchain or libssh-dev:$a (make deps-deb installs them; make check does)"
	else
		make -C "$SRC_ROOT" --no-print-directory "build-$a/outpost-agent" >>"$LOGDIR/cross-build-$a.log" 2>&1 ||
			fail "cross build of the $a agent failed (see cross-build-$a.log)"
	fi
	readelf -h "$bin" 2>/dev/null | grep -q "Machine: *${MACHINE[$a]}\$" ||
		fail "$bin is not a ${MACHINE[$a]} program: $(readelf -h "$bin" 2>&1 | grep Machine)"
	echo "$bin"
}

agent_setup
for arch in arm64 armhf; do
	# arm64 always (make check builds it); armhf when make deb or make cross-agent built it
	if [ $arch = armhf ] && [ ! -x "$SRC_ROOT/build-armhf/outpost-agent" ]; then
		log "armhf: no build-armhf/outpost-agent (make cross-agent builds it): not run"
		continue
	fi
	bin=$(foreign_agent "$arch") || exit $?
	# The helpers of lib-agent.sh run $AGENT_BIN: here qemu running the foreign agent.
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v "${QEMU[$arch]}")" "$bin" >"$T/agent-$arch.sh"
	chmod 755 "$T/agent-$arch.sh"
	AGENT_BIN=$T/agent-$arch.sh
	[ "$(agent "$arch" --version 2>/dev/null)" = "outpost-agent $(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$SRC_ROOT/meson.build" | head -n 1)" ] ||
		fail "$arch agent under ${QEMU[$arch]}: --version says '$(agent "$arch" --version 2>&1)'"

	tok=$(token_create acme) || fail "token create"
	[ "$(agent_enroll "$arch" "$tok" --name "pi-$arch")" = "pi-$arch.acme" ] || fail "$arch: enrolled under another name"
	start_agent "$arch"
	wait_online "pi-$arch.acme" 60
	# The process that registered is the emulator running the foreign binary.
	exe=$(readlink "/proc/$AGENT_PID/exe")
	[ "$exe" = "$(readlink -f "$(command -v "${QEMU[$arch]}")")" ] || fail "$arch agent runs as $exe, not under ${QEMU[$arch]}"
	reach "pi-$arch.acme" "from-$arch" || fail "pi-$arch.acme not reachable by name through the $arch agent"
	wait_for "pi-$arch.acme's report in ls" 20 eval "ls_line pi-$arch.acme | grep -q ' agent [0-9][^ ]* on '"
	log "$arch: $(ls_line "pi-$arch.acme")"
	stop_agent "$arch"
	wait_offline "pi-$arch.acme"
done
done_ok
