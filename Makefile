# mxadmin.synapse — everything a fresh machine needs is set up from here:
# the virtualenv with the pinned Synapse and ansible-core, Go modules, binaries.
#
#   make demo        throwaway Synapse + the example playbook, end to end
#   make test        every test (real Synapse, real ansible-playbook)
#   make bench       the benchmark (not part of make test)
#   make help        every target, from the "## " comment above it

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
        collection demo bench constraints clean venv-release release-check galaxy-import docs-lint changelog-lint \
        release qemu e2e-platforms test-stages shellcheck ssh-server

# make help prints the '## ' line above each target, under its section: every
# .PHONY target has one (tests/repo checks it).
## this list
help:
	@echo "make TARGET, where TARGET is one of (make demo and make test set everything up themselves):"
	@awk '/^# --- /{ s = $$0; gsub(/^# --- | -+$$/, "", s); printf "\n%s\n", s; next } \
		/^## /{ doc = (doc == "" ? "" : doc " ") substr($$0, 4); next } \
		/^[a-zA-Z0-9_.-]+:/ && doc != "" { t = $$0; sub(/:.*/, "", t); printf "  make %-15s %s\n", t, doc } \
		{ doc = "" }' $(firstword $(MAKEFILE_LIST))

# --- setup -------------------------------------------------------------------

## the virtualenv .venv: pinned Synapse, ansible-core, ansible-lint
venv: $(VENV)/.installed

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
# through tests/cmd/testsummary and prints a summary line (run, passed,
# failed, skipped); make test ends with the tally, alone on the last line of
# stdout: "N passed, N failed, N skipped". A stage is one recipe line per
# command (ENV: variables for the command, e.g. $(TEST_ENV)):
#   $(call go_test,STAGE,GO TEST ARGS[,ENV])  go test -json: each test as it
#       finishes, failures and skips in full; counts tests and subtests; a
#       skipped test, or none run, fails the stage
#   $(call check,STAGE,COMMAND[,ENV])  any other command, its output as is:
#       one check (or the counts it writes to $$TESTSUMMARY_COUNTS, as
#       tests/run-sanity.sh does: one per sanity test)
# Calls naming one STAGE add up within a make run. No commas in arguments.
TESTSUMMARY := $(CURDIR)/build/testsummary
ifndef TESTSUMMARY_RUN
TESTSUMMARY_RUN := $(shell date +%s%N)
endif
export TESTSUMMARY_RUN
testsummary = mkdir -p build && $(GO) build -o $(TESTSUMMARY) ./tests/cmd/testsummary && env $(3) $(TESTSUMMARY)
go_test = $(testsummary) go -stage $(1) -- $(GO) test -json $(2)
check = $(testsummary) run -stage $(1) -- $(2)

## set everything up and run every stage (even after one fails), then the tally
test:
	@rm -rf build/test-counts
	@$(MAKE) --no-print-directory -k test-stages; status=$$?; \
		$(GO) build -o $(TESTSUMMARY) ./tests/cmd/testsummary && $(TESTSUMMARY) total -status $$status

# The stages of make test: a new one is a target listed here.
## the stages of make test, without the tally
test-stages: venv build lint unit fuzz e2e e2e-oldest sanity release-check e2e-platforms

## Go unit tests (race detector), the test summariser's and the Makefile's included
unit:
	@echo "==> Go unit tests"
	@$(call go_test,unit,-race -count=1 ./modules-src/... ./tests/cmd/testsummary/ ./tests/repo/)

# The fuzz target runs briefly here (a fixed number of inputs: a time limit can
# end the run mid-input and fail it with "context deadline exceeded");
# 'make fuzz-long' runs it for ten minutes.
## fuzz the args decoding and the server answers briefly (part of make test)
fuzz:
	@echo "==> fuzzing the args decoding and the server answers briefly"
	@$(call go_test,fuzz,-run '^$$' -fuzz FuzzModuleArgs -fuzztime 60000x ./modules-src/modules/)
	@$(call go_test,fuzz,-run '^$$' -fuzz FuzzServerAnswers -fuzztime 3000x ./modules-src/synapse/)

## fuzz them for ten minutes each
fuzz-long:
	$(GO) test -run '^$$' -fuzz FuzzModuleArgs -fuzztime 10m ./modules-src/modules/
	$(GO) test -run '^$$' -fuzz FuzzServerAnswers -fuzztime 10m ./modules-src/synapse/

## end-to-end tests: real Synapse servers, real ansible-playbook runs (also over SSH)
e2e: venv native ssh-server
	@echo "==> end-to-end tests against real Synapse servers and ansible-playbook"
	@mkdir -p build
	@$(call go_test,e2e,-count=1 -timeout 30m ./tests/...,$(TEST_ENV) MXADMIN_SCAN_REPORT="$(CURDIR)/build/secret-scan.txt")
	@cat build/secret-scan.txt

# The playbook and role tests again, with the oldest ansible-core that
# meta/runtime.yml claims (Synapse still comes from .venv).
## the playbook, role and docs tests with the oldest supported ansible-core
e2e-oldest: venv venv-oldest native ssh-server
	@echo "==> playbook tests with ansible-core $$($(VENV_OLDEST)/bin/python -c 'import ansible.release as r; print(r.__version__)')"
	@$(call go_test,e2e-oldest,-count=1 -timeout 20m -run 'TestPlaybook|TestRole|TestMDAD|TestModuleDocs|TestAnsibleDoc|TestSSH' ./tests/e2e/,$(TEST_ENV) MXADMIN_ANSIBLE_VENV="$(VENV_OLDEST)")

## go-lint and ansible-lint
lint: go-lint ansible-lint

## gofmt, go vet, staticcheck
go-lint:
	@echo "==> gofmt, go vet, staticcheck"
	@$(call check,go-lint,bash -c 'test -z "$$(gofmt -l modules-src tests)" || { gofmt -l modules-src tests; echo "gofmt: the files above need formatting"; exit 1; }')
	@$(call check,go-lint,$(GO) vet ./...)
	@$(call check,go-lint,$(GO) run $(STATICCHECK) ./...)

## ansible-lint on the collection
ansible-lint: venv
	@echo "==> ansible-lint"
	@$(call check,ansible-lint,$(VENV)/bin/ansible-lint,$(TEST_ENV) ANSIBLE_HOME="$(CURDIR)/build/ansible-home")

## ansible-test sanity (fails if a sanity test is skipped)
sanity: venv shellcheck
	@echo "==> ansible-test sanity"
	@$(call check,sanity,tests/run-sanity.sh,$(TEST_ENV))

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
galaxy-import: venv-release $(COLLECTION_TARBALL)
	@echo "==> galaxy-importer on $(COLLECTION_TARBALL) (ansible-test off: no container engine)"
	@$(call check,galaxy-import,$(VENV_RELEASE)/bin/python tests/release/galaxy_import.py $(COLLECTION_TARBALL) build/galaxy-import,\
		PATH="$(VENV_RELEASE)/bin:$$PATH" ANSIBLE_HOME="$(CURDIR)/build/ansible-home-release")

# The docs linter copies what git tracks when it runs inside a checkout, so
# the tarball is unpacked outside one: it lints what ships.
## antsibull-docs lint on what the tarball ships
docs-lint: venv-release $(COLLECTION_TARBALL)
	@echo "==> antsibull-docs lint-collection-docs --plugin-docs on $(COLLECTION_TARBALL)"
	@$(call check,docs-lint,bash -c 'dir="$$(mktemp -d)" && trap "rm -rf $$dir" EXIT && tar -xzf $(COLLECTION_TARBALL) -C "$$dir" && \
		cd "$$dir" && PATH="$(VENV_RELEASE)/bin:$$PATH" ANSIBLE_HOME="$$dir/.ansible-home" \
		$(VENV_RELEASE)/bin/antsibull-docs lint-collection-docs --plugin-docs .')

## antsibull-changelog lint; CHANGELOG.md is what changelogs/ generates
changelog-lint: venv-release
	@echo "==> antsibull-changelog lint"
	@$(call check,changelog-lint,$(VENV_RELEASE)/bin/antsibull-changelog lint,PATH="$(VENV_RELEASE)/bin:$$PATH")
	@$(call check,changelog-lint,$(VENV_RELEASE)/bin/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml,PATH="$(VENV_RELEASE)/bin:$$PATH")
	@$(call check,changelog-lint,bash -c 'dir="$$(mktemp -d)" && trap "rm -rf $$dir" EXIT && \
		PATH="$(VENV_RELEASE)/bin:$$PATH" $(VENV_RELEASE)/bin/antsibull-changelog generate --output "$$dir/CHANGELOG.md" && \
		diff -u CHANGELOG.md "$$dir/CHANGELOG.md" || { echo "CHANGELOG.md is not what changelogs/changelog.yaml generates: run make release"; exit 1; }')

# Cut a release: make release VERSION=x.y.z (without VERSION: the version in
# galaxy.yml, e.g. to fold fragments merged later into the unpublished release).
# Sets galaxy.yml's version, moves changelogs/fragments into
# changelogs/changelog.yaml and regenerates CHANGELOG.md.
## cut a release: make release VERSION=x.y.z (galaxy.yml, changelog)
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
e2e-platforms: venv qemu $(BINARIES)
	@echo "==> the shipped binaries of every platform (linux/arm64 under qemu-aarch64)"
	@$(call check,e2e-platforms-vet,$(GO) vet -tags platforms ./tests/e2e/)
	@$(call go_test,e2e-platforms,-tags platforms -count=1 -timeout 10m -run 'TestPlatform' ./tests/e2e/,$(TEST_ENV))

# --- demo and benchmark --------------------------------------------------------

## set everything up and show the collection against a throwaway Synapse
demo: venv native
	$(TEST_ENV) $(GO) run ./tests/cmd/demo $(DEMO_FLAGS)

## run the benchmark and write docs/benchmarks.md (not part of make test)
bench: venv native ssh-server
	$(TEST_ENV) $(GO) run ./tests/cmd/bench $(BENCH_FLAGS)
	@echo "==> the result scrub: 50,000 secrets over a 50,000-user result"
	$(GO) test -run '^$$' -bench BenchmarkScrub -benchmem ./modules-src/ansible/

## remove build/, dist/, tests/output/ and the binaries
clean:
	rm -rf dist build tests/output $(BINARIES)
