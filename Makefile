# mxadmin.synapse — everything a fresh machine needs is set up from here:
# the virtualenv with the pinned Synapse and ansible-core, Go modules, binaries.
#
#   make demo        throwaway Synapse + the example playbook, end to end
#   make test        every test (real Synapse, real ansible-playbook)
#   make bench       the benchmark (not part of make test)
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
VERSION   := $(shell sed -n 's/^version: *//p' galaxy.yml)
GO        ?= go
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
GOFLAGS_BUILD := -trimpath -ldflags='-s -w -X github.com/mxadmin/synapse/modules-src/modules.Version=$(VERSION)'
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

.PHONY: help venv venv-oldest build native test unit e2e e2e-oldest e2e-synapse-oldest e2e-synapse-locked-unlisted e2e-postgres e2e-ansible-newest postgresql fuzz fuzz-long lint go-lint ansible-lint sanity \
        collection demo bench constraints clean

help:
	@echo "make demo        set everything up and show the collection against a throwaway Synapse"
	@echo "make test        set everything up and run every test"
	@echo "make bench       run the benchmark and write docs/benchmarks.md"
	@echo "make build       cross-compile the module binaries into plugins/modules/"
	@echo "make collection  build the collection tarball into dist/"

# --- setup -------------------------------------------------------------------

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	@echo "==> creating the virtualenv $(VENV) (Synapse, ansible-core, ansible-lint; about a minute the first time)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar on -q --upgrade pip
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar on -r requirements.txt -c constraints.txt
	@touch $@

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

# PostgreSQL for 'make e2e SYNAPSE_DB=postgres': Debian's package; the tests
# start a server of their own from its binaries (no cluster of the package is used).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "==> installing PostgreSQL (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }

# Re-pin every package after a change to requirements.txt.
constraints:
	rm -rf $(VENV).pin && $(PYTHON) -m venv $(VENV).pin
	$(VENV).pin/bin/pip install -q -r requirements.txt
	(echo "# Every package of .venv pinned: regenerate with 'make constraints' after changing requirements.txt."; \
	 $(VENV).pin/bin/pip freeze | grep -v '^-e') > constraints.txt
	rm -rf $(VENV).pin

# --- build -------------------------------------------------------------------

build: $(BINARIES)

native: $(NATIVE)

plugins/modules/__mxadmin_synapse_%: $(GO_SOURCES)
	@echo "==> building $@"
	CGO_ENABLED=0 GOOS=$(word 1,$(subst _, ,$*)) GOARCH=$(word 2,$(subst _, ,$*)) \
		$(GO) build $(GOFLAGS_BUILD) -o $@ ./modules-src/cmd/mxadmin-synapse

collection: $(COLLECTION_TARBALL)

$(COLLECTION_TARBALL): venv $(BINARIES) $(shell git ls-files 2>/dev/null | grep -v '^modules-src/\|^tests/e2e/\|^tests/synapsetest/')
	@mkdir -p $(DIST)
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(DIST) .

# --- tests -------------------------------------------------------------------

test: venv build lint unit fuzz e2e e2e-oldest e2e-synapse-oldest e2e-synapse-locked-unlisted e2e-postgres e2e-ansible-newest sanity
	@echo "==> all tests passed"

unit:
	@echo "==> Go unit tests"
	$(GO) test -race -count=1 ./modules-src/...

# The fuzz target runs briefly here (a fixed number of inputs: a time limit can
# end the run mid-input and fail it with "context deadline exceeded");
# 'make fuzz-long' runs it for ten minutes.
fuzz:
	@echo "==> fuzzing the args decoding and the server answers briefly"
	$(GO) test -run '^$$' -fuzz FuzzModuleArgs -fuzztime 60000x ./modules-src/modules/
	$(GO) test -run '^$$' -fuzz FuzzServerAnswers -fuzztime 3000x ./modules-src/synapse/

fuzz-long:
	$(GO) test -run '^$$' -fuzz FuzzModuleArgs -fuzztime 10m ./modules-src/modules/
	$(GO) test -run '^$$' -fuzz FuzzServerAnswers -fuzztime 10m ./modules-src/synapse/

e2e: venv native $(E2E_SYNAPSE_VENV:%=%/.installed) $(E2E_ANSIBLE_VENV:%=%/.installed) $(if $(filter postgres,$(SYNAPSE_DB)),postgresql)
	@echo "==> end-to-end tests against real Synapse servers ($(or $(SYNAPSE_VERSION),$(SYNAPSE_PINNED)), $(SYNAPSE_DB)) and ansible-playbook"
	@mkdir -p build
	$(E2E_ENV) MXADMIN_SCAN_REPORT="$(CURDIR)/build/secret-scan.txt" $(GO) test -count=1 -timeout 30m $(if $(E2E_RUN),-run '$(E2E_RUN)') ./tests/...
	@cat build/secret-scan.txt

# The playbook and role tests again, with the oldest ansible-core that
# meta/runtime.yml claims (Synapse still comes from .venv).
e2e-oldest: venv venv-oldest native
	@echo "==> playbook tests with ansible-core $$($(VENV_OLDEST)/bin/python -c 'import ansible.release as r; print(r.__version__)')"
	$(TEST_ENV) MXADMIN_ANSIBLE_VENV="$(VENV_OLDEST)" $(GO) test -count=1 -timeout 20m -run 'TestPlaybook|TestRole|TestModuleDocs|TestAnsibleDoc|TestInstalledCollectionTarball' ./tests/e2e/

# The e2e suite against the oldest supported Synapse, and against the pinned
# one on PostgreSQL.
e2e-synapse-oldest:
	$(MAKE) --no-print-directory e2e SYNAPSE_VERSION=$(SYNAPSE_OLDEST)

e2e-postgres:
	$(MAKE) --no-print-directory e2e SYNAPSE_DB=postgres

e2e-synapse-locked-unlisted:
	$(MAKE) --no-print-directory e2e SYNAPSE_VERSION=$(SYNAPSE_LOCKED_UNLISTED) E2E_RUN='Locked|TestEachFieldChangedAlone|TestCheckModePredicts|TestSelfProtection'

# The playbook, role and docs tests with the newest ansible-core on the
# newest Python (Synapse still comes from .venv).
e2e-ansible-newest: venv native $(CURDIR)/.venv-ansible-$(ANSIBLE_NEWEST)/.installed
	@echo "==> playbook tests with ansible-core $$($(CURDIR)/.venv-ansible-$(ANSIBLE_NEWEST)/bin/python -c 'import ansible.release as r, sys; print(r.__version__, "on Python", sys.version.split()[0])')"
	$(TEST_ENV) MXADMIN_ANSIBLE_VENV="$(CURDIR)/.venv-ansible-$(ANSIBLE_NEWEST)" $(GO) test -count=1 -timeout 20m -run 'TestPlaybook|TestRole|TestModuleDocs|TestAnsibleDoc|TestInstalledCollectionTarball' ./tests/e2e/

lint: go-lint ansible-lint

go-lint:
	@echo "==> gofmt, go vet, staticcheck"
	@test -z "$$(gofmt -l modules-src tests)" || { gofmt -l modules-src tests; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

ansible-lint: venv
	@echo "==> ansible-lint"
	$(TEST_ENV) ANSIBLE_HOME="$(CURDIR)/build/ansible-home" $(VENV)/bin/ansible-lint

sanity: venv
	@echo "==> ansible-test sanity"
	$(TEST_ENV) tests/run-sanity.sh

# --- demo and benchmark --------------------------------------------------------

demo: venv native
	$(TEST_ENV) $(GO) run ./tests/cmd/demo $(DEMO_FLAGS)

bench: venv native
	$(TEST_ENV) $(GO) run ./tests/cmd/bench $(BENCH_FLAGS)

clean:
	rm -rf dist build tests/output $(BINARIES)
