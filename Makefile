# Server4Agent — the two commands of the README:
#
#   make serve   installs what it needs, builds, and starts the control plane on embedded
#                defaults (SQLite and a local CA in ./.s4a, https://localhost:8443)
#   make test    installs what it needs, checks the module graph, builds, starts a throwaway
#                PostgreSQL on loopback, runs the Swift suites (SQLite and PostgreSQL) and the
#                black-box tests in tests/ against the real binary, then stops PostgreSQL
#
#   make install builds a release binary, puts it in $(PREFIX)/bin (s4a on the PATH) and
#                installs a systemd unit for `s4a serve` (Restart=always), started when
#                systemd runs this machine
#
# Other targets: test-fast (no root, runc, PostgreSQL or browser: seconds), check-imports (the
# module graph, scripts/module-graph.txt, against every import and Package.swift), deps,
# deps-lite, build, bench, pg-start, pg-stop.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

SWIFT ?= swift
PYTHON ?= python3
BIN ?= .build/debug/s4a
S4A_DATA_DIR ?= ./.s4a
S4A_LISTEN ?= 127.0.0.1:8443

# The toolchain lives in /opt/swift on the build machines.
export PATH := $(PATH):/opt/swift/usr/bin

export PIP_ROOT_USER_ACTION := ignore
export PIP_DISABLE_PIP_VERSION_CHECK := 1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

# The Python that runs tests/: a virtualenv in .venv when deps had to make one (Debian's
# own python3 is "externally managed", PEP 668), else $(PYTHON). Expanded when used.
PY = $(if $(wildcard .venv/bin/python),.venv/bin/python,$(PYTHON))

.PHONY: deps deps-lite deps-system deps-python build serve test test-fast check-imports bench pg-start pg-stop install

PREFIX ?= /usr/local
UNIT_DIR ?= /etc/systemd/system
# What install installs: a release build, made here; the tests give the binary they test.
INSTALL_BIN ?= .build/release/s4a

# apt-get only when something is missing, so that a ready machine pays nothing.
# $(1): the packages to consider: "base" (curl, openssl) or "all" (+ postgresql, python, pebble,
# chromium for the dashboard, gdb for the stacks of a serve that will not stop).
define apt_missing
missing=""; \
command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing="$$missing ca-certificates"; \
command -v runc >/dev/null 2>&1 || missing="$$missing runc"; \
[ -x /usr/bin/tini-static ] || missing="$$missing tini"; \
[ -x /usr/bin/slirp4netns ] || missing="$$missing slirp4netns"; \
[ -x /usr/sbin/nft ] || missing="$$missing nftables"; \
command -v mkfs.ext4 >/dev/null 2>&1 || missing="$$missing e2fsprogs"; \
command -v losetup >/dev/null 2>&1 || missing="$$missing mount"; \
[ -f /usr/include/zlib.h ] || missing="$$missing zlib1g-dev"; \
[ -x /usr/bin/python3 ] || missing="$$missing python3-minimal"; \
[ -x /usr/bin/git ] || missing="$$missing git"; \
[ -x /usr/bin/ps ] || missing="$$missing procps"; \
if [ "$(1)" = all ]; then \
  { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && id -u postgres >/dev/null 2>&1; } \
    || missing="$$missing postgresql"; \
  command -v $(PYTHON) >/dev/null 2>&1 || missing="$$missing python3"; \
  { $(PYTHON) -m pip --version >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; } \
    || missing="$$missing python3-pip python3-venv"; \
  [ -x /usr/bin/pebble ] || missing="$$missing pebble"; \
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing="$$missing chromium chromium-driver"; \
  [ -x /usr/bin/gdb ] || missing="$$missing gdb"; \
fi; \
if [ -n "$$missing" ]; then \
  echo "== installing:$$missing"; \
  $(APT_GET) update; \
  $(APT_GET) install -y $$missing; \
fi
endef

deps: deps-system deps-python

deps-system:
	@$(call apt_missing,all)

deps-python: deps-system
	@if $(PYTHON) -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then \
	  [ -x .venv/bin/python ] || $(PYTHON) -m venv .venv; \
	  .venv/bin/python -m pip install -q -r tests/requirements.txt; \
	else \
	  $(PYTHON) -m pip install -q -r tests/requirements.txt; \
	fi

# What `make serve` needs beyond the toolchain: no PostgreSQL, no Python.
deps-lite:
	@command -v $(SWIFT) >/dev/null 2>&1 || { echo "error: no Swift toolchain on PATH (6.2 or newer; expected in /opt/swift)" >&2; exit 1; }
	@$(call apt_missing,base)

build:
	$(SWIFT) build

serve: deps-lite build
	exec $(BIN) serve --data-dir "$(S4A_DATA_DIR)" --listen "$(S4A_LISTEN)"

# A module that imports one it must not fails here, before the long build.
check-imports:
	$(PYTHON) scripts/check-imports.py

# PostgreSQL is stopped whatever happens (trap), and the first failing exit code wins.
test: deps check-imports
	$(SWIFT) build --build-tests
	@trap 'scripts/postgres-test.sh stop' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	pg_url=$$(scripts/postgres-test.sh start); \
	rc=0; \
	echo "== swift test (PostgreSQL: $$pg_url)"; \
	S4A_TEST_POSTGRES_URL="$$pg_url" S4A_REQUIRE_POSTGRES=1 S4A_REQUIRE_PEBBLE=1 $(SWIFT) test || rc=$$?; \
	echo "== pytest tests (S4A_BIN=$(BIN))"; \
	S4A_TEST_POSTGRES_URL="$$pg_url" S4A_REQUIRE_POSTGRES=1 S4A_REQUIRE_PEBBLE=1 S4A_BIN="$(abspath $(BIN))" \
	  $(PY) -m pytest -q tests || { r=$$?; [ "$$rc" -ne 0 ] || rc=$$r; }; \
	exit $$rc

# The inner loop: the module graph, then every Swift suite but those tagged as needing runc
# (root), PostgreSQL, pebble or a browser (domain logic, the services over the in-memory runtime,
# the web boundary, the dashboard's rendering), in seconds.
test-fast: check-imports
	$(SWIFT) build --build-tests
	S4A_SKIP_TAGS=runc,postgres,pebble,browser $(SWIFT) test --skip-build

install: deps-lite
	@if [ "$(INSTALL_BIN)" = .build/release/s4a ]; then $(SWIFT) build -c release --product s4a; fi
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/s4a
	sed 's|@BINDIR@|$(PREFIX)/bin|' packaging/s4a.service > s4a.service.tmp
	install -D -m 0644 s4a.service.tmp $(DESTDIR)$(UNIT_DIR)/s4a.service && rm s4a.service.tmp
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
	  systemctl daemon-reload && systemctl enable --now s4a.service && echo "== s4a.service enabled and started"; \
	else \
	  echo "== installed $(DESTDIR)$(PREFIX)/bin/s4a and $(DESTDIR)$(UNIT_DIR)/s4a.service (systemd is not running here: start it with systemctl enable --now s4a)"; \
	fi

bench: build
	$(BIN) bench api

pg-start:
	@scripts/postgres-test.sh start

pg-stop:
	@scripts/postgres-test.sh stop
