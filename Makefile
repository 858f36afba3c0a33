# mxadmin.synapse — everything a fresh machine needs is set up from here:
# the virtualenv with the pinned Synapse and ansible-core, Go modules, binaries.
#
#   make demo        throwaway Synapse + the example playbook, end to end
#   make test        every test (real Synapse, real ansible-playbook)
#   make bench       the benchmark (not part of make test)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON    ?= python3
VENV      ?= $(CURDIR)/.venv
# ansible-core as old as meta/runtime.yml allows, for the compatibility run.
VENV_OLDEST ?= $(CURDIR)/.venv-ansible-oldest
VERSION   := $(shell sed -n 's/^version: *//p' galaxy.yml)
GO        ?= go
# nethttpomithttp2: net/http without its bundled HTTP/2 (393 KB less; Synapse
# and the proxies in front of it speak HTTP/1.1). docs/binary-size.md.
GOFLAGS_BUILD := -trimpath -tags nethttpomithttp2 -ldflags='-s -w -X github.com/mxadmin/synapse/modules-src/modules.Version=$(VERSION)'
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

.PHONY: help venv venv-oldest build native test unit e2e e2e-oldest fuzz fuzz-long lint go-lint ansible-lint sanity \
        collection demo bench constraints clean ssh-server

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

# Re-pin every package after a change to requirements.txt.
constraints:
	rm -rf $(VENV).pin && $(PYTHON) -m venv $(VENV).pin
	$(VENV).pin/bin/pip install -q -r requirements.txt
	(echo "# Every package of .venv pinned: regenerate with 'make constraints' after changing requirements.txt."; \
	 $(VENV).pin/bin/pip freeze | grep -v '^-e') > constraints.txt
	rm -rf $(VENV).pin

# The SSH tests and the benchmark start Debian's sshd on loopback (their own
# config, port and keys) and become another user with sudo.
ssh-server:
	@if [ ! -x /usr/sbin/sshd ] || ! command -v sudo >/dev/null || ! command -v ssh-keygen >/dev/null; then \
		echo "==> installing openssh-server and sudo (apt-get)"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server openssh-client sudo; \
	fi

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

test: venv build lint unit fuzz e2e e2e-oldest sanity
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

e2e: venv native ssh-server
	@echo "==> end-to-end tests against real Synapse servers and ansible-playbook"
	@mkdir -p build
	$(TEST_ENV) MXADMIN_SCAN_REPORT="$(CURDIR)/build/secret-scan.txt" $(GO) test -count=1 -timeout 30m ./tests/...
	@cat build/secret-scan.txt

# The playbook and role tests again, with the oldest ansible-core that
# meta/runtime.yml claims (Synapse still comes from .venv).
e2e-oldest: venv venv-oldest native ssh-server
	@echo "==> playbook tests with ansible-core $$($(VENV_OLDEST)/bin/python -c 'import ansible.release as r; print(r.__version__)')"
	$(TEST_ENV) MXADMIN_ANSIBLE_VENV="$(VENV_OLDEST)" $(GO) test -count=1 -timeout 20m -run 'TestPlaybook|TestRole|TestModuleDocs|TestAnsibleDoc|TestSSH' ./tests/e2e/

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

bench: venv native ssh-server
	$(TEST_ENV) $(GO) run ./tests/cmd/bench $(BENCH_FLAGS)

clean:
	rm -rf dist build tests/output $(BINARIES)
