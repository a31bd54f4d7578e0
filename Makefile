# outpost: thin wrapper around Meson so that the README's two commands do all set-up.
# `make run` and `make check` install missing Debian packages first (needs root).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
STATE      ?= $(CURDIR)/state
MESON      ?= meson

# Debian 12 packages: build (also what a device needs for the agent), fuzzing, test peers.
DEPS_BUILD = gcc pkg-config meson ninja-build libssh-dev libsqlite3-dev libcmocka-dev libssl-dev libsystemd-dev libmosquitto-dev libmicrohttpd-dev libpq-dev
DEPS_FUZZ  = clang-14 libclang-rt-14-dev
DEPS_TEST  = openssh-client openssh-server rsync autossh procps iproute2 coreutils python3 python3-paramiko openssl sqlite3 valgrind mosquitto mosquitto-clients e2fsprogs prometheus ssh-audit dropbear-bin putty-tools python3-asyncssh haproxy postgresql-15
DEPS       = $(DEPS_BUILD) $(DEPS_FUZZ) $(DEPS_TEST)
# Debian packages (make deb) and their tests: debhelper, the cross toolchains
# and the -dev libraries of each foreign architecture (multiarch), qemu-user
# to run what they build, debootstrap for a clean root to install into.
DEB_DIR    ?= build-deb
DEB_ARCHES ?= amd64 arm64 armhf
DEB_NATIVE := $(shell dpkg --print-architecture 2>/dev/null)
DEB_FOREIGN = $(filter-out $(DEB_NATIVE),$(DEB_ARCHES))
DEB_LIBS   = libssh-dev libsqlite3-dev libssl-dev libsystemd-dev libmosquitto-dev libmicrohttpd-dev pkgconf
DEPS_DEB   = debhelper dpkg-dev fakeroot lintian qemu-user-static debootstrap \
	$(foreach a,$(DEB_FOREIGN),crossbuild-essential-$(a) $(DEB_LIBS:%=%:$(a)))

.PHONY: all deps deps-build build run check unit integration asan fuzz-build fuzz clean bench install-agent \
	deps-deb deb deb-native deb-arches cross-agent deb-chroot

all: build

# install_missing PACKAGES: apt-get install those not installed yet (root only).
define install_missing
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "make: installing:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then echo "make: run as root to install packages" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEPS))

deps-build:
	$(call install_missing,$(DEPS_BUILD))

# The foreign architectures first, so that apt knows their packages.
deps-deb:
	@for a in $(DEB_FOREIGN); do \
	  dpkg --print-foreign-architectures | grep -qx $$a && continue; \
	  if [ "$$(id -u)" != 0 ]; then echo "make: run as root to add architecture $$a" >&2; exit 1; fi; \
	  echo "make: dpkg --add-architecture $$a"; dpkg --add-architecture $$a || exit 1; \
	done
	$(call install_missing,$(DEPS_BUILD) $(DEPS_DEB))

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

# libFuzzer targets (tests/fuzz/): clang, -fsanitize=fuzzer-no-link,address,undefined everywhere.
$(FUZZ_BUILD)/build.ninja:
	CC=clang-14 $(MESON) setup $(FUZZ_BUILD) --buildtype=debug -Dfuzz=true -Db_lundef=false

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

fuzz-build: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

# Long fuzzing: FUZZ_SECONDS per target (make check gives each a few seconds).
fuzz: deps fuzz-build
	OUTPOST_FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run-all.sh $(FUZZ_BUILD)

# outpostd drops root for the system user `outpost` (created here if missing).
run: deps build
	@id -u outpost >/dev/null 2>&1 || useradd --system --no-create-home \
	    --home-dir $(STATE) --shell /usr/sbin/nologin outpost
	OUTPOST_STATE=$(STATE) $(BUILD)/outpostd -d $(STATE)

# make check builds the native packages (t-deb-install) and the arm64 agent
# (t-agent-foreign-arch, which also runs an armhf agent that make deb or
# make cross-agent built before).
CHECK_ARCHES ?= $(DEB_NATIVE) arm64
check: deps build asan fuzz-build
	@$(MAKE) --no-print-directory deb-native cross-agent deb-chroot DEB_ARCHES="$(CHECK_ARCHES)"
	tests/run-all.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

unit: build
	tests/run-all.sh --unit-only $(BUILD)

integration: build
	tests/run-all.sh --integration-only $(BUILD)

bench: deps build
	bench/run.sh $(BUILD)

clean:
	rm -rf --one-file-system $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(DEB_DIR) build-chroot build-cross $(DEB_FOREIGN:%=build-%)

# Debian packages from debian/, one dpkg-buildpackage per architecture (the
# foreign ones cross-built with -Pcross,nocheck) in a copy of the tracked files
# under $(DEB_DIR)/work-ARCH/; the .debs land in $(DEB_DIR)/, then lintian.
# Unit tests are not run here (nocheck): make check runs them.
deb: deps-deb
	@$(MAKE) --no-print-directory deb-arches ARCHES="$(DEB_ARCHES)"

deb-native: deps-deb
	@$(MAKE) --no-print-directory deb-arches ARCHES="$(DEB_NATIVE)"

deb-arches:
	@ver=$$(dpkg-parsechangelog -S Version); \
	mver=$$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1); \
	[ "$${ver%%[+~]*}" = "$$mver" ] || { echo "make deb: debian/changelog has $$ver, meson.build $$mver" >&2; exit 1; }
	@mkdir -p $(DEB_DIR) && set -e; \
	newest=$$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %Y 2>/dev/null | sort -n | tail -n 1); \
	for a in $(ARCHES); do \
	  old=$$(stat -c %Y $(DEB_DIR)/outpost-server_*_$$a.deb $(DEB_DIR)/outpost-agent_*_$$a.deb 2>/dev/null | sort -n | head -n 1); \
	  if [ $$(ls $(DEB_DIR)/outpost-*_$$a.deb 2>/dev/null | wc -l) = 2 ] && [ "$${old:-0}" -ge "$$newest" ]; then \
	    echo "make deb: $$a packages up to date"; continue; fi; \
	  rm -rf $(DEB_DIR)/work-$$a $(DEB_DIR)/outpost-*_$$a.deb; mkdir -p $(DEB_DIR)/work-$$a/outpost; \
	  git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(DEB_DIR)/work-$$a/outpost; \
	  prof=nocheck; [ $$a = $(DEB_NATIVE) ] || prof=cross,nocheck,pkg.outpost.nopg; \
	  echo "make deb: dpkg-buildpackage -a $$a -P$$prof (log: $(DEB_DIR)/build-$$a.log)"; \
	  (cd $(DEB_DIR)/work-$$a/outpost && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$$(nproc)" \
	      dpkg-buildpackage -a $$a -P$$prof -b -us -uc) >$(DEB_DIR)/build-$$a.log 2>&1 || \
	    { tail -n 30 $(DEB_DIR)/build-$$a.log >&2; exit 1; }; \
	  mv $(DEB_DIR)/work-$$a/*.deb $(DEB_DIR)/; rm -rf $(DEB_DIR)/work-$$a; \
	  lintian --fail-on error $(DEB_DIR)/outpost-*_$$a.deb; \
	done
	@ls -l $(DEB_DIR)/*.deb

# The agent alone, cross-built for each foreign architecture into build-ARCH/
# (the scenario t-agent-foreign-arch runs it under qemu-user).
cross-agent: deps-deb $(DEB_FOREIGN:%=build-%/outpost-agent)

$(DEB_FOREIGN:%=build-%/build.ninja): build-%/build.ninja:
	mkdir -p build-cross
	$(MESON) env2mfile --cross --debarch $* -o build-cross/$*.ini
	$(MESON) setup build-$* --cross-file build-cross/$*.ini --buildtype=debugoptimized

$(DEB_FOREIGN:%=build-%/outpost-agent): build-%/outpost-agent: build-%/build.ninja FORCE
	ninja -C build-$* outpost-agent

# A clean Debian 12 root for t-deb-install: debootstrap minbase plus what
# outpost-server depends on (read from the package), kept as a tarball that
# each run unpacks afresh. Rebuilt when missing or when those Depends change.
# (rm --one-file-system: never into a /proc or /dev an interrupted debootstrap left mounted.)
# The Debian mirror apt already uses for bookworm main (DEB_MIRROR=URI to choose another).
DEB_MIRROR ?= $(shell apt-get indextargets --format '$$(REPO_URI)' 'Identifier: Packages' 'Codename: bookworm' 'Component: main' 2>/dev/null | head -n 1)
deb-chroot:
	@ls $(DEB_DIR)/outpost-server_*_$(DEB_NATIVE).deb >/dev/null 2>&1 || { echo "make deb-chroot: build the packages first (make deb-native)" >&2; exit 1; }
	@[ -n "$(DEB_MIRROR)" ] || { echo "make deb-chroot: apt has no source for bookworm main; set DEB_MIRROR=URI" >&2; exit 1; }
	@inc=$$(dpkg-deb -f $(DEB_DIR)/outpost-server_*_$(DEB_NATIVE).deb Depends | \
	  tr ',' '\n' | sed 's/|.*//; s/(.*//; s/ //g' | grep . | sort -u | paste -sd, -); \
	if [ "$$(cat build-chroot/include 2>/dev/null)" != "$$inc" ] || [ ! -f build-chroot/bookworm-minbase.tar ]; then \
	  set -e; rm -rf --one-file-system build-chroot && mkdir -p build-chroot; \
	  echo "make: debootstrap --variant=minbase --include=$$inc bookworm (log: build-chroot/debootstrap.log)"; \
	  debootstrap --variant=minbase --include=$$inc bookworm build-chroot/root $(DEB_MIRROR) \
	    >build-chroot/debootstrap.log 2>&1 || { tail -n 20 build-chroot/debootstrap.log >&2; exit 1; }; \
	  tar -C build-chroot/root -cf build-chroot/bookworm-minbase.tar . && rm -rf build-chroot/root; \
	  echo "$$inc" >build-chroot/include; \
	fi

FORCE:

# On a device: the build packages only, the agent, its systemd unit and man page.
PREFIX ?= /usr/local
install-agent: deps-build build
	install -D -m 755 $(BUILD)/outpost-agent $(DESTDIR)$(PREFIX)/sbin/outpost-agent
	install -D -m 644 man/outpost-agent.8 $(DESTDIR)$(PREFIX)/share/man/man8/outpost-agent.8
	install -d $(DESTDIR)/etc/systemd/system
	sed 's|@sbindir@|$(PREFIX)/sbin|g' dist/systemd/outpost-agent.service.in >$(DESTDIR)/etc/systemd/system/outpost-agent.service
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "installed $(PREFIX)/sbin/outpost-agent; next: OUTPOST_AGENT_STATE=/var/lib/outpost-agent outpost-agent enroll TOKEN, then systemctl enable --now outpost-agent"
