# outpost: thin wrapper around Meson so that the README's two commands do all set-up.
# `make run` and `make check` install missing Debian packages first (needs root).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
STATE      ?= $(CURDIR)/state
MESON      ?= meson

# Debian 12 packages: build (also what a device needs for the agent), fuzzing, test peers.
DEPS_BUILD = gcc pkg-config meson ninja-build libssh-dev libsqlite3-dev libcmocka-dev libssl-dev libsystemd-dev libmosquitto-dev
DEPS_FUZZ  = clang-14 libclang-rt-14-dev
DEPS_TEST  = openssh-client openssh-server rsync autossh procps iproute2 coreutils python3 openssl sqlite3 valgrind mosquitto mosquitto-clients e2fsprogs python3-paramiko
DEPS       = $(DEPS_BUILD) $(DEPS_FUZZ) $(DEPS_TEST)

.PHONY: all deps deps-build build run check unit integration asan fuzz-build fuzz clean bench install-agent

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

check: deps build asan fuzz-build
	tests/run-all.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

unit: build
	tests/run-all.sh --unit-only $(BUILD)

integration: build
	tests/run-all.sh --integration-only $(BUILD)

bench: deps build
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# On a device: the build packages only, the agent, its systemd unit and man page.
PREFIX ?= /usr/local
install-agent: deps-build build
	install -D -m 755 $(BUILD)/outpost-agent $(DESTDIR)$(PREFIX)/sbin/outpost-agent
	install -D -m 644 man/outpost-agent.8 $(DESTDIR)$(PREFIX)/share/man/man8/outpost-agent.8
	install -D -m 644 dist/systemd/outpost-agent.service $(DESTDIR)/etc/systemd/system/outpost-agent.service
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "installed $(PREFIX)/sbin/outpost-agent; next: OUTPOST_AGENT_STATE=/var/lib/outpost-agent outpost-agent enroll TOKEN, then systemctl enable --now outpost-agent"
