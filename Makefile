# mxadmin.synapse — everything a fresh machine needs is set up from here:
# the virtualenv with the pinned Synapse and ansible-core, Go modules, binaries.
#
#   make demo        throwaway Synapse + the example playbook, end to end
#   make test        every test (real Synapse, real ansible-playbook); needs
#                    root and network, installs packages (docs/development.md)
#   make check       the fast loop: lint and unit tests
#   make bench       the benchmark (not part of make test)
#   make help        every target, from the "## " comment above it
#
# Other Synapse releases, PostgreSQL and other ansible-core releases:
#   make e2e SYNAPSE_VERSION=1.98.0  the e2e suite against that Synapse (its own
#                                    virtualenv .venv-synapse-1.98.0, installed
#                                    with the dependencies of its release date)
#   make e2e SYNAPSE_DB=postgres     on a PostgreSQL server the tests start
#                                    themselves (Debian's postgresql package)
#   make e2e ANSIBLE_CORE=2.21       with the newest ansible-core 2.21.x on the
#                                    newest Python the machine has

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON    ?= python3
VENV      ?= $(CURDIR)/.venv
# ansible-core as old as meta/runtime.yml allows, for the compatibility run.
VENV_OLDEST ?= $(CURDIR)/.venv-ansible-oldest
# Galaxy's importer, antsibull-docs and antsibull-changelog (they pin their own ansible-core).
VENV_RELEASE ?= $(CURDIR)/.venv-release
VERSION   := $(shell sed -n 's/^version: *//p' galaxy.yml)
GO        ?= go
# nethttpomithttp2: net/http without its bundled HTTP/2 (393 KB less; Synapse
# and the proxies in front of it speak HTTP/1.1). docs/binary-size.md.
GOFLAGS_BUILD := -trimpath -tags nethttpomithttp2 -ldflags='-s -w -X github.com/mxadmin/synapse/modules-src/internal/modules.Version=$(VERSION)'
# The Synapse and the database the e2e tests run against (see the top).
SYNAPSE_VERSION ?=
SYNAPSE_DB      ?= sqlite
ANSIBLE_CORE    ?=
# The oldest Synapse the collection supports: make test runs the e2e suite
# against it (README "Supported versions" says why this one).
SYNAPSE_OLDEST  := 1.90.0
# The releases that can lock users but whose user list does not say who is
# locked (1.91, 1.92): the locked tests run against the last of them.
SYNAPSE_LOCKED_UNLISTED := 1.92.3
# E2E_RUN limits 'make e2e' to the tests matching it (go test -run).
E2E_RUN         ?=
# The tests of what Ansible does with the collection (playbooks, the role,
# MDAD checkouts, docs, the tarball, SSH): they run again with the oldest and
# the newest ansible-core, and are left out of the runs against another
# Synapse or database, whose differences the module-level tests meet (the role
# and the playbooks send what the module sends).
PLAYBOOK_TESTS  := ^(TestPlaybook|TestRole|TestMDAD|TestModuleDocs|TestAnsibleDoc|TestInstalledCollectionTarball|TestSSH|TestCtrlC)
# E2E_SKIP leaves tests out of 'make e2e' (go test -skip).
E2E_SKIP        ?= $(MAS_TESTS)
# The stage name 'make e2e' counts its tests under (make test runs it several ways).
E2E_STAGE       ?= e2e
SYNAPSE_PINNED  := $(shell sed -n 's/^matrix-synapse==//p' requirements.txt)
# The newest ansible-core, pinned in requirements-ansible-newest.txt.
ANSIBLE_NEWEST  := 2.21
# A pip that knows --uploaded-prior-to (added in pip 26.0; the venv's bundled
# pip is older, so it is upgraded to this one first).
PIP_DATED       := pip==26.3
# The newest Python the machine has (ansible-core 2.20+ needs 3.12+): a
# python3.N on PATH, else a pyenv-installed one, newest first.
PYTHON_NEWEST ?= $(shell for n in 14 13 12; do \
	for p in $$(command -v python3.$$n) $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.$$n.*/bin/python3.$$n; do \
	  if [ -x "$$p" ] && "$$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then echo "$$p"; exit 0; fi; \
	done; done)
PLATFORMS := linux_amd64 linux_arm64 darwin_amd64 darwin_arm64
BINARIES  := $(addprefix plugins/modules/__mxadmin_synapse_,$(PLATFORMS))
NATIVE    := plugins/modules/__mxadmin_synapse_$(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)
GO_SOURCES := go.mod go.sum $(shell find modules-src -name '*.go' -not -name '*_test.go')
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DIST      ?= dist
COLLECTION_TARBALL := $(DIST)/mxadmin-synapse-$(VERSION).tar.gz

# The tests need the venv's ansible-playbook, ansible-doc and python on PATH,
# and must never skip a Synapse test.
TEST_ENV := PATH="$(VENV)/bin:$$PATH" MXADMIN_VENV="$(VENV)" MXADMIN_REQUIRE_SYNAPSE=1 ANSIBLE_NOCOLOR=1

ifneq ($(filter-out sqlite postgres,$(SYNAPSE_DB)),)
$(error SYNAPSE_DB is "$(SYNAPSE_DB)": use sqlite (the default) or postgres)
endif
# Which Synapse virtualenv 'make e2e' uses: .venv unless another release or
# PostgreSQL (psycopg2 is not in .venv) is asked for.
ifneq ($(SYNAPSE_VERSION)$(filter-out sqlite,$(SYNAPSE_DB)),)
E2E_SYNAPSE_VENV := $(CURDIR)/.venv-synapse-$(or $(SYNAPSE_VERSION),$(SYNAPSE_PINNED))
endif
ifneq ($(ANSIBLE_CORE),)
E2E_ANSIBLE_VENV := $(CURDIR)/.venv-ansible-$(ANSIBLE_CORE)
endif
E2E_ENV := $(TEST_ENV) MXADMIN_SYNAPSE_DB=$(SYNAPSE_DB) \
	$(if $(E2E_SYNAPSE_VENV),MXADMIN_SYNAPSE_VENV="$(E2E_SYNAPSE_VENV)") \
	$(if $(E2E_ANSIBLE_VENV),MXADMIN_ANSIBLE_VENV="$(E2E_ANSIBLE_VENV)")

.PHONY: help venv venv-oldest build native test unit e2e e2e-oldest fuzz fuzz-long lint go-lint ansible-lint sanity \
        collection demo bench constraints clean venv-release release-check galaxy-import docs-lint changelog-lint \
        release qemu e2e-platforms test-stages shellcheck ssh-server \
        e2e-synapse-oldest e2e-synapse-locked-unlisted e2e-postgres e2e-ansible-newest postgresql e2e-mas \
        check demo-start demo-stop e2e-demo ssh-cleanup

# --- start here --------------------------------------------------------------

# Synapse and the demo's files go to DEMO_DIR (build/demo unless given).
DEMO_DIR ?=
DEMO := $(TEST_ENV) $(GO) run ./tests/cmd/demo

## a throwaway Synapse and the example playbook, end to end, in build/demo (about a minute)
##> on a terminal its Synapse keeps running (make demo-stop); into a file or a pipe it stops at the end
##> DEMO_FLAGS=-keep        keep it running, also into a file or a pipe
##> DEMO_FLAGS=-keep=false  stop it at the end, also on a terminal
##> DEMO_DIR=dir            another folder than build/demo (for demo-start and demo-stop too)
demo: venv native
	@$(DEMO) $(DEMO_FLAGS) $(if $(DEMO_DIR),-dir "$(DEMO_DIR)")

# What make test installs and changes, said at its start (docs/development.md
# says the same, with how long each stage takes).
define TEST_BANNER
==> make test runs every test stage, about 35 minutes on this 2-core machine (docs/development.md). It needs root
    and network, and changes the machine:
    - apt-get installs what is missing: openssh-server, sudo, postgresql, shellcheck, qemu-user
    - pip creates the virtualenvs that are missing in the checkout: .venv, .venv-ansible-oldest, .venv-release,
      .venv-ansible-$(ANSIBLE_NEWEST), .venv-synapse-{$(SYNAPSE_OLDEST),$(SYNAPSE_LOCKED_UNLISTED),$(SYNAPSE_PINNED)}; go fetches the Go modules
    - the SSH tests add the user mxadmin-ssh and sudoers drop-ins /etc/sudoers.d/mxadmin-ssh-e2e-*, and mount a
      noexec tmpfs in a temp dir; all undone when they end (a killed run's: by the next one, or make ssh-cleanup)
    The fast loop is make check: lint and unit tests, no root, no Synapse.
endef
export TEST_BANNER

## every test, then the tally CI reads (about 35 minutes here; the stages: make test-stages)
##> needs root and network: installs Debian packages and virtualenvs, adds a user (docs/development.md)
##> E2E_RUN=regexp          only the matching tests, in the stages that run the whole e2e suite
test:
	@echo "$$TEST_BANNER"
	@[ "$$(id -u)" = 0 ] || { echo "make test needs root (apt-get, sshd and the SSH tests' user): run it as root, or make check"; \
		echo "0 passed, 1 failed, 0 skipped"; exit 1; }
	@rm -rf build/test-counts
	@start=$$(date +%s); $(MAKE) --no-print-directory -k test-stages; status=$$?; \
		$(MAKE) --no-print-directory ssh-cleanup || status=1; \
		$(MAKE) --no-print-directory $(TESTSUMMARY) && $(TESTSUMMARY) total -status $$status -started $$start

# The fast loop: the lint stages and the unit tests as go test caches them
# (a package whose code and tests did not change is not run again), two at
# a time. make test runs the unit tests under the race detector, uncached,
# with the coverage floors.
## the fast loop: go-lint, ansible-lint and the unit tests, cached (about 30 s here; no root, no Synapse)
check: venv
	@$(MAKE) --no-print-directory -j2 --output-sync=target go-lint ansible-lint unit UNIT_QUICK=1

# --- the demo's Synapse ----------------------------------------------------------

## start the demo's Synapse again, in the background, with its users (after make demo-stop, or make demo into a file)
demo-start:
	@$(DEMO) start $(if $(DEMO_DIR),-dir "$(DEMO_DIR)")

## stop the demo's Synapse (its users and files stay in build/demo until the next make demo)
demo-stop:
	@$(GO) run ./tests/cmd/demo stop $(if $(DEMO_DIR),-dir "$(DEMO_DIR)")

# --- setup -------------------------------------------------------------------

# build/collections: the collections path of ./ansible.cfg, so that
# ansible-doc and ansible-playbook run from the checkout find this collection
# (ansible-doc mxadmin.synapse.matrix_user).
COLLECTION_LINK := build/collections/ansible_collections/mxadmin/synapse

## the virtualenv .venv: pinned Synapse, ansible-core, ansible-lint; and build/collections, which ./ansible.cfg names
venv: $(VENV)/.installed $(COLLECTION_LINK)

$(COLLECTION_LINK):
	@mkdir -p $(@D) && ln -sfn ../../../.. $@

$(VENV)/.installed: requirements.txt constraints.txt
	@echo "==> creating the virtualenv $(VENV) (Synapse, ansible-core, ansible-lint; about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar on -q --upgrade pip
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar on -r requirements.txt -c constraints.txt
	@touch $@

## the virtualenv .venv-ansible-oldest: the oldest supported ansible-core
venv-oldest: $(VENV_OLDEST)/.installed

$(VENV_OLDEST)/.installed: requirements-ansible-oldest.txt
	@echo "==> creating $(VENV_OLDEST) with the oldest supported ansible-core"
	$(PYTHON) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/pip install --disable-pip-version-check --progress-bar on -r requirements-ansible-oldest.txt
	@touch $@

# A Synapse release in a virtualenv of its own (make e2e SYNAPSE_VERSION=...),
# installed with the dependencies of its release date (a newer dependency can
# break an old Synapse), with psycopg2 for PostgreSQL and authlib (the oidc
# extra: MAS delegation before 1.136 needs it). PIP_FIND_LINKS is
# cleared: local wheels carry no upload date to filter on.
$(CURDIR)/.venv-synapse-%/.installed:
	@echo "==> creating $(@D): Synapse $* with the dependencies of its release date (minutes the first time)"
	rm -rf $(@D) && $(PYTHON) -m venv $(@D)
	$(@D)/bin/pip install --disable-pip-version-check -q --upgrade $(PIP_DATED)
	date=$$($(PYTHON) tests/tools/pypi-upload-date.py matrix-synapse $*) && echo "    packages uploaded before $$date" && \
	  PIP_FIND_LINKS= $(@D)/bin/pip install --disable-pip-version-check -q --uploaded-prior-to "$$date" \
	    "matrix-synapse[oidc]==$*" psycopg2-binary
	@touch $@

# ansible-core in a virtualenv of its own on the newest Python (make e2e
# ANSIBLE_CORE=2.21): the newest one from requirements-ansible-newest.txt,
# others as the newest patch release of that line. ANSIBLE_PYTHON picks
# another interpreter (ansible-core 2.16 does not support Python 3.13).
ANSIBLE_PYTHON ?= $(PYTHON_NEWEST)
$(CURDIR)/.venv-ansible-%/.installed: requirements-ansible-newest.txt
	@test -n "$(ANSIBLE_PYTHON)" || { echo "no Python 3.12 or newer found (python3.12+ on PATH or in pyenv): install one or set ANSIBLE_PYTHON"; exit 1; }
	@echo "==> creating $(@D): ansible-core $* on $$($(ANSIBLE_PYTHON) --version)"
	rm -rf $(@D) && $(ANSIBLE_PYTHON) -m venv $(@D)
	$(@D)/bin/pip install --disable-pip-version-check -q \
	  $(if $(filter $*,$(ANSIBLE_NEWEST)),-r requirements-ansible-newest.txt,"ansible-core==$*.*")
	@touch $@

# PostgreSQL for 'make e2e SYNAPSE_DB=postgres' and 'make e2e-mas': Debian's package; the tests
# start a server of their own from its binaries (no cluster of the package is used).
## install PostgreSQL (apt-get) for make e2e SYNAPSE_DB=postgres and make e2e-mas
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "==> installing PostgreSQL (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }

# Re-pin every package after a change to requirements.txt.
## re-pin constraints.txt after a change to requirements.txt
constraints:
	rm -rf $(VENV).pin && $(PYTHON) -m venv $(VENV).pin
	$(VENV).pin/bin/pip install -q -r requirements.txt
	(echo "# Every package of .venv pinned: regenerate with 'make constraints' after changing requirements.txt."; \
	 $(VENV).pin/bin/pip freeze | grep -v '^-e') > constraints.txt
	rm -rf $(VENV).pin

# The SSH tests and the benchmark start Debian's sshd on loopback (their own
# config, port and keys) and become another user with sudo.
## install openssh-server and sudo (apt-get) for the SSH tests
ssh-server:
	@if [ ! -x /usr/sbin/sshd ] || ! command -v sudo >/dev/null || ! command -v ssh-keygen >/dev/null; then \
		echo "==> installing openssh-server and sudo (apt-get)"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server openssh-client sudo; \
	fi

# --- build -------------------------------------------------------------------

## cross-compile the module binaries of every platform into plugins/modules/
build: $(BINARIES)

## the module binary of this machine only
native: $(NATIVE)

plugins/modules/__mxadmin_synapse_%: $(GO_SOURCES)
	@echo "==> building $@"
	CGO_ENABLED=0 GOOS=$(word 1,$(subst _, ,$*)) GOARCH=$(word 2,$(subst _, ,$*)) \
		$(GO) build $(GOFLAGS_BUILD) -o $@ ./modules-src/cmd/mxadmin-synapse

## build the collection tarball into dist/
collection: $(COLLECTION_TARBALL)

$(COLLECTION_TARBALL): venv $(BINARIES) $(shell git ls-files 2>/dev/null | grep -v '^modules-src/\|^tests/e2e/\|^tests/synapsetest/')
	@mkdir -p $(DIST)
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(DIST) .

# --- tests -------------------------------------------------------------------

# Each stage of make test records what it ran in build/test-counts/STAGE.json
# through tests/cmd/testsummary and prints a summary line, once, at its end
# (run, passed, failed, skipped, time); make test ends with every stage's
# line, the total time and the tally, alone on the last line of stdout: "N
# passed, N failed, N skipped". A stage is a target (with $(TESTSUMMARY)
# among its prerequisites) of one recipe line per command (ENV: variables
# for the command, e.g. $(TEST_ENV)), then its end:
#   $(call go_test,STAGE,GO TEST ARGS[,ENV])  go test -json: each test as it
#       finishes, failures and skips in full; counts tests and subtests; a
#       skipped test, or none run, fails the stage
#   $(call check,STAGE,COMMAND[,ENV])  any other command, its output as is:
#       one check (or the counts it writes to $$TESTSUMMARY_COUNTS, as
#       tests/run-sanity.sh does: one per sanity test)
#   $(call stage_end,STAGE)  the stage's line; fails the target when a
#       command of the stage failed (each goes on after a failed one, so
#       that the stage runs all its commands: tests/repo checks that every
#       stage has its end)
# Calls naming one STAGE add up within a make run. No commas in arguments.
TESTSUMMARY := $(CURDIR)/build/testsummary
ifndef TESTSUMMARY_RUN
TESTSUMMARY_RUN := $(shell date +%s%N)
endif
export TESTSUMMARY_RUN
testsummary = env $(3) $(TESTSUMMARY)
go_test = $(testsummary) go -stage $(1) -keep-going -- $(GO) test -json $(2)
check = $(testsummary) run -stage $(1) -keep-going -- $(2)
stage_end = $(TESTSUMMARY) end -stage $(1)

$(TESTSUMMARY): go.mod go.sum $(wildcard tests/cmd/testsummary/*.go)
	@mkdir -p $(@D) && $(GO) build -o $@ ./tests/cmd/testsummary

# The stages of make test: a new one is a target listed here.
## the stages of make test, without the tally
test-stages: venv build lint unit fuzz e2e e2e-demo e2e-oldest e2e-synapse-oldest e2e-synapse-locked-unlisted \
	e2e-postgres e2e-ansible-newest e2e-mas sanity release-check e2e-platforms

# Unit-test coverage floors (PACKAGE:PERCENT): the runner and the modules are
# tested without a server (reconcile's Client interface); the e2e suite is the
# proof against a real Synapse, these keep the logic changeable.
COVER_FLOORS := reconcile:85 modules:85 audit:85

# UNIT_QUICK=1 (make check): as go test caches them, without the race
# detector and the coverage floors.
## Go unit tests (race detector), the test summariser's and the Makefile's included; coverage per package
unit: $(TESTSUMMARY)
	@echo "==> Go unit tests$(if $(UNIT_QUICK), (cached: no race detector and no coverage floors; make unit runs them))"
	@$(call go_test,unit,$(if $(UNIT_QUICK),,-race -count=1 -coverprofile=build/unit.cover) ./modules-src/... ./tests/cmd/testsummary/ ./tests/repo/)
	@$(if $(UNIT_QUICK),true,$(call check,unit,tests/tools/coverage-floor.sh build/unit.cover $(COVER_FLOORS)))
	@$(call stage_end,unit)

# The fuzz target runs briefly here (a fixed number of inputs: a time limit can
# end the run mid-input and fail it with "context deadline exceeded");
# 'make fuzz-long' runs it for ten minutes.
## fuzz the args decoding and the server answers briefly (part of make test)
fuzz: $(TESTSUMMARY)
	@echo "==> fuzzing the args decoding and the server answers briefly"
	@$(call go_test,fuzz,-run '^$$' -fuzz FuzzModuleArgs -fuzztime 60000x ./modules-src/internal/modules/)
	@$(call go_test,fuzz,-run '^$$' -fuzz FuzzServerAnswers -fuzztime 3000x ./modules-src/internal/synapse/)
	@$(call stage_end,fuzz)

## fuzz them for ten minutes each
fuzz-long:
	$(GO) test -run '^$$' -fuzz FuzzModuleArgs -fuzztime 10m ./modules-src/internal/modules/
	$(GO) test -run '^$$' -fuzz FuzzServerAnswers -fuzztime 10m ./modules-src/internal/synapse/

## end-to-end tests: real Synapse servers, real ansible-playbook runs (also over SSH, as root)
##> E2E_RUN=regexp          only the tests matching it (go test -run)
##> SYNAPSE_VERSION=x.y.z   against that Synapse release (its own virtualenv .venv-synapse-x.y.z)
##> SYNAPSE_DB=postgres     on PostgreSQL (Debian's package; a server of the tests' own)
##> ANSIBLE_CORE=2.21       with that ansible-core on the newest Python (ANSIBLE_PYTHON=python3.N: another)
e2e: venv native ssh-server $(TESTSUMMARY) $(E2E_SYNAPSE_VENV:%=%/.installed) $(E2E_ANSIBLE_VENV:%=%/.installed) $(if $(filter postgres,$(SYNAPSE_DB)),postgresql)
	@echo "==> end-to-end tests against real Synapse servers ($(or $(SYNAPSE_VERSION),$(SYNAPSE_PINNED)), $(SYNAPSE_DB)) and ansible-playbook"
	@mkdir -p build && rm -f build/secret-scan.txt
	@$(call go_test,$(E2E_STAGE),-count=1 -timeout 30m $(if $(E2E_RUN),-run '$(E2E_RUN)') -skip '$(E2E_SKIP)' ./tests/...,$(E2E_ENV) MXADMIN_SCAN_REPORT="$(CURDIR)/build/secret-scan.txt")
	@cat build/secret-scan.txt 2>/dev/null || echo "(no secret scan: the e2e tests did not get to their end)"
	@$(call stage_end,$(E2E_STAGE))

# The demo as users run it: make demo into a pipe and on a terminal (script),
# its printed commands, make demo-stop and make demo-start, each in a folder
# of its own (DEMO_DIR), so that a demo in build/demo is left alone.
## the demo's tests: make demo into a pipe and on a terminal, the commands it prints, make demo-stop and demo-start
e2e-demo: venv native $(TESTSUMMARY)
	@echo "==> the demo: make demo, the commands it prints, make demo-stop and make demo-start"
	@$(call go_test,e2e-demo,-tags demo -count=1 -timeout 15m $(if $(E2E_RUN),-run '$(E2E_RUN)') ./tests/cmd/demo/,$(TEST_ENV))
	@$(call stage_end,e2e-demo)

# The playbook and role tests again, with the oldest ansible-core that
# meta/runtime.yml claims (Synapse still comes from .venv).
## the playbook, role and docs tests with the oldest supported ansible-core
e2e-oldest: venv venv-oldest native ssh-server $(TESTSUMMARY)
	@echo "==> playbook tests with ansible-core $$($(VENV_OLDEST)/bin/python -c 'import ansible.release as r; print(r.__version__)')"
	@$(call go_test,e2e-oldest,-count=1 -timeout 20m -run '$(PLAYBOOK_TESTS)' ./tests/e2e/,$(TEST_ENV) MXADMIN_ANSIBLE_VENV="$(VENV_OLDEST)")
	@$(call stage_end,e2e-oldest)

# The e2e suite against the oldest supported Synapse, and against the pinned
# one on PostgreSQL.
## the e2e suite but PLAYBOOK_TESTS against the oldest supported Synapse (SYNAPSE_OLDEST)
e2e-synapse-oldest:
	@$(MAKE) --no-print-directory e2e SYNAPSE_VERSION=$(SYNAPSE_OLDEST) E2E_STAGE=$@ E2E_SKIP='$(MAS_TESTS)|$(PLAYBOOK_TESTS)'

## the e2e suite but PLAYBOOK_TESTS against the pinned Synapse on PostgreSQL
e2e-postgres:
	@$(MAKE) --no-print-directory e2e SYNAPSE_DB=postgres E2E_STAGE=$@ E2E_SKIP='$(MAS_TESTS)|$(PLAYBOOK_TESTS)'

## the locked tests against a Synapse whose user list lacks locked (1.91, 1.92)
e2e-synapse-locked-unlisted:
	@$(MAKE) --no-print-directory e2e SYNAPSE_VERSION=$(SYNAPSE_LOCKED_UNLISTED) E2E_STAGE=$@ E2E_RUN='Locked|TestEachFieldChangedAlone|TestCheckModePredicts|TestSelfProtection'

# The tests against a real Matrix Authentication Service: run-mas.sh (from
# ../shared/mas, or MXADMIN_MAS_DIR) starts PostgreSQL (Debian's package), MAS
# and a Synapse of .venv delegating to it; MAS_BIN=<mas-cli> runs another
# mas-cli. Without them the tests fail, saying what to provide: never a skip.
MAS_BIN         ?=
MXADMIN_MAS_DIR ?=
# The tests that need a real MAS are named TestWithMAS...: they run in e2e-mas
# only (the other e2e stages skip them; the oldest Synapse cannot delegate).
MAS_TESTS       := ^TestWithMAS
## the tests against a real MAS + Synapse pair
##> MAS_BIN=path            another mas-cli
##> MXADMIN_MAS_DIR=dir     the folder of run-mas.sh (default: shared/mas in a folder above the checkout)
e2e-mas: venv postgresql $(TESTSUMMARY)
	@echo "==> end-to-end tests against a real Matrix Authentication Service and a Synapse delegating to it"
	@$(call go_test,e2e-mas,-count=1 -timeout 20m -run '$(MAS_TESTS)' ./tests/...,$(TEST_ENV) $(if $(MAS_BIN),MAS_BIN="$(MAS_BIN)") $(if $(MXADMIN_MAS_DIR),MXADMIN_MAS_DIR="$(MXADMIN_MAS_DIR)"))
	@$(call stage_end,e2e-mas)

# The playbook, role and docs tests with the newest ansible-core on the
# newest Python (Synapse still comes from .venv).
## the playbook, role, docs and SSH tests with the newest ansible-core on the newest Python
e2e-ansible-newest: venv native ssh-server $(TESTSUMMARY) $(CURDIR)/.venv-ansible-$(ANSIBLE_NEWEST)/.installed
	@echo "==> playbook tests with ansible-core $$($(CURDIR)/.venv-ansible-$(ANSIBLE_NEWEST)/bin/python -c 'import ansible.release as r, sys; print(r.__version__, "on Python", sys.version.split()[0])')"
	@$(call go_test,e2e-ansible-newest,-count=1 -timeout 20m -run '$(PLAYBOOK_TESTS)' ./tests/e2e/,$(TEST_ENV) MXADMIN_ANSIBLE_VENV="$(CURDIR)/.venv-ansible-$(ANSIBLE_NEWEST)")
	@$(call stage_end,e2e-ansible-newest)

## go-lint and ansible-lint
lint: go-lint ansible-lint

## gofmt, go vet, staticcheck
go-lint: $(TESTSUMMARY)
	@echo "==> gofmt, go vet, staticcheck"
	@$(call check,go-lint,bash -c 'test -z "$$(gofmt -l modules-src tests)" || { gofmt -l modules-src tests; echo "gofmt: the files above need formatting"; exit 1; }')
	@$(call check,go-lint,$(GO) vet -tags demo ./...)
	@$(call check,go-lint,$(GO) run $(STATICCHECK) ./...)
	@$(call stage_end,go-lint)

# ansible-lint installs the collection under its ANSIBLE_HOME; ./ansible.cfg's
# build/collections would be a second copy of it.
## ansible-lint on the collection
ansible-lint: venv $(TESTSUMMARY)
	@echo "==> ansible-lint"
	@$(call check,ansible-lint,$(VENV)/bin/ansible-lint,$(TEST_ENV) ANSIBLE_HOME="$(CURDIR)/build/ansible-home" \
		ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/build/ansible-home/collections")
	@$(call stage_end,ansible-lint)

## ansible-test sanity (fails if a sanity test is skipped)
sanity: venv shellcheck $(TESTSUMMARY)
	@echo "==> ansible-test sanity"
	@$(call check,sanity,tests/run-sanity.sh,$(TEST_ENV))
	@$(call stage_end,sanity)

# shellcheck (Debian's package), which ansible-test sanity runs on the shell
# scripts; without it that sanity test would be skipped, which fails the run.
## install shellcheck (apt-get) for ansible-test sanity
shellcheck:
	@command -v shellcheck >/dev/null || { \
		echo "==> installing shellcheck with apt-get"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends shellcheck; }
	@command -v shellcheck >/dev/null

# --- release ------------------------------------------------------------------

## the virtualenv .venv-release: galaxy-importer, antsibull-docs, antsibull-changelog
venv-release: $(VENV_RELEASE)/.installed

$(VENV_RELEASE)/.installed: requirements-release.txt
	@echo "==> creating $(VENV_RELEASE) (galaxy-importer, antsibull-docs, antsibull-changelog)"
	$(PYTHON) -m venv $(VENV_RELEASE)
	$(VENV_RELEASE)/bin/pip install --disable-pip-version-check -q --upgrade pip
	$(VENV_RELEASE)/bin/pip install --disable-pip-version-check -q -r requirements-release.txt
	@touch $@

# What Galaxy checks on upload, the docs linter, and the changelog.
## galaxy-import, docs-lint and changelog-lint
release-check: galaxy-import docs-lint changelog-lint

## Galaxy's importer on the collection tarball
galaxy-import: venv-release $(COLLECTION_TARBALL) $(TESTSUMMARY)
	@echo "==> galaxy-importer on $(COLLECTION_TARBALL) (ansible-test off: no container engine)"
	@$(call check,galaxy-import,$(VENV_RELEASE)/bin/python tests/release/galaxy_import.py $(COLLECTION_TARBALL) build/galaxy-import,\
		PATH="$(VENV_RELEASE)/bin:$$PATH" ANSIBLE_HOME="$(CURDIR)/build/ansible-home-release")
	@$(call stage_end,galaxy-import)

# The docs linter copies what git tracks when it runs inside a checkout, so
# the tarball is unpacked outside one: it lints what ships.
## antsibull-docs lint on what the tarball ships
docs-lint: venv-release $(COLLECTION_TARBALL) $(TESTSUMMARY)
	@echo "==> antsibull-docs lint-collection-docs --plugin-docs on $(COLLECTION_TARBALL)"
	@$(call check,docs-lint,bash -c 'dir="$$(mktemp -d)" && trap "rm -rf $$dir" EXIT && tar -xzf $(COLLECTION_TARBALL) -C "$$dir" && \
		cd "$$dir" && PATH="$(VENV_RELEASE)/bin:$$PATH" ANSIBLE_HOME="$$dir/.ansible-home" \
		$(VENV_RELEASE)/bin/antsibull-docs lint-collection-docs --plugin-docs .')
	@$(call stage_end,docs-lint)

## antsibull-changelog lint; CHANGELOG.md is what changelogs/ generates
changelog-lint: venv-release $(TESTSUMMARY)
	@echo "==> antsibull-changelog lint"
	@$(call check,changelog-lint,$(VENV_RELEASE)/bin/antsibull-changelog lint,PATH="$(VENV_RELEASE)/bin:$$PATH")
	@$(call check,changelog-lint,$(VENV_RELEASE)/bin/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml,PATH="$(VENV_RELEASE)/bin:$$PATH")
	@$(call check,changelog-lint,bash -c 'dir="$$(mktemp -d)" && trap "rm -rf $$dir" EXIT && \
		PATH="$(VENV_RELEASE)/bin:$$PATH" $(VENV_RELEASE)/bin/antsibull-changelog generate --output "$$dir/CHANGELOG.md" && \
		diff -u CHANGELOG.md "$$dir/CHANGELOG.md" || { echo "CHANGELOG.md is not what changelogs/changelog.yaml generates: run make release"; exit 1; }')
	@$(call stage_end,changelog-lint)

# Cut a release: make release VERSION=x.y.z (without VERSION: the version in
# galaxy.yml, e.g. to fold fragments merged later into the unpublished release).
# Sets galaxy.yml's version, moves changelogs/fragments into
# changelogs/changelog.yaml and regenerates CHANGELOG.md.
## cut a release: galaxy.yml's version, the changelog (docs/release.md)
##> VERSION=x.y.z           the version (without it: galaxy.yml's, to fold in fragments merged later)
release: venv-release
	@echo "$(VERSION)" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$$' || { echo "VERSION=$(VERSION) is not x.y.z"; exit 1; }
	@echo "==> releasing $(VERSION)"
	sed -i 's/^version: .*/version: $(VERSION)/' galaxy.yml
	PATH="$(VENV_RELEASE)/bin:$$PATH" $(VENV_RELEASE)/bin/antsibull-changelog release --version $(VERSION)
	@echo "==> review and commit galaxy.yml, changelogs/ and CHANGELOG.md, then tag v$(VERSION)"

# --- other platforms ------------------------------------------------------------

# qemu-aarch64 (Debian's qemu-user) runs the linux/arm64 binary on this machine.
## install qemu-aarch64 (apt-get) for e2e-platforms
qemu:
	@command -v qemu-aarch64 >/dev/null || { \
		echo "==> installing qemu-user (qemu-aarch64) with apt-get"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends qemu-user; }
	@command -v qemu-aarch64 >/dev/null

# The shipped binaries of the other platforms: linux/arm64 run under qemu
# against a real Synapse, darwin checked as Mach-O with the same version.
## the shipped binaries: linux/arm64 under qemu against Synapse, darwin checked
e2e-platforms: venv qemu $(BINARIES) $(TESTSUMMARY)
	@echo "==> the shipped binaries of every platform (linux/arm64 under qemu-aarch64)"
	@$(call check,e2e-platforms-vet,$(GO) vet -tags platforms ./tests/e2e/)
	@$(call stage_end,e2e-platforms-vet)
	@$(call go_test,e2e-platforms,-tags platforms -count=1 -timeout 10m -run 'TestPlatform' ./tests/e2e/,$(TEST_ENV))
	@$(call stage_end,e2e-platforms)

# --- benchmark and the rest --------------------------------------------------------

# The benchmark's parts (docs/benchmarks.md has a section for each): basic,
# ssh, scale, profile, create, hosts; BENCH_FLAGS='-only scale,profile' runs
# some and replaces only their sections. SYNAPSE_DB=postgres runs its Synapses
# on PostgreSQL (the many-homeserver part too).
## run the benchmark and write docs/benchmarks.md (not part of make test)
##> BENCH_FLAGS='-only PART,...'  picks parts (basic, ssh, scale, profile, create, hosts; go run ./tests/cmd/bench -h)
##> SYNAPSE_DB=postgres           runs its Synapses on PostgreSQL
bench: venv native ssh-server $(E2E_SYNAPSE_VENV:%=%/.installed) $(if $(filter postgres,$(SYNAPSE_DB)),postgresql)
	$(E2E_ENV) $(GO) run ./tests/cmd/bench $(BENCH_FLAGS)
	@echo "==> the result scrub: 50,000 secrets over a 50,000-user result"
	$(GO) test -run '^$$' -bench BenchmarkScrub -benchmem ./modules-src/internal/ansible/

# The SSH tests undo what they change on the machine when they end; a run
# killed before (SIGKILL, a test binary's timeout) leaves it to the next one,
# or to this.
## remove what killed SSH tests left: the user mxadmin-ssh and its sudoers drop-ins (root; never a running test's)
ssh-cleanup:
	@$(GO) run ./tests/sshtest/cmd/ssh-cleanup

## stop the demo's Synapse, remove build/, dist/, tests/output/ and the binaries
clean: demo-stop
	rm -rf dist build tests/output $(BINARIES)

# make help prints the '## ' lines above each target, under its section, and
# the '##> ' lines (its variables) under it: every .PHONY target has one
# (tests/repo checks it). Sections follow the README: demo, test and check first.
## this list
help:
	@echo "make TARGET, where TARGET is one of (make demo and make test set everything up themselves):"
	@awk '/^# --- /{ s = $$0; gsub(/^# --- | -+$$/, "", s); printf "\n%s\n", s; next } \
		/^##> /{ flags = flags sprintf("%23s%s\n", "", substr($$0, 5)); next } \
		/^## /{ doc = (doc == "" ? "" : doc " ") substr($$0, 4); next } \
		/^[a-zA-Z0-9_.-]+:/ && doc != "" { t = $$0; sub(/:.*/, "", t); printf "  make %-15s %s\n%s", t, doc, flags } \
		{ doc = ""; flags = "" }' $(firstword $(MAKEFILE_LIST))
