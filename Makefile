# Entry points for building, running the local control plane, and testing.
# `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Try it

.PHONY: demo
demo: prometheus meshprobe ## Play the bookinfo canary story on the local control plane (DEMO_INTERACTIVE=1 to approve by hand).
	hack/demo.sh

##@ Local control plane

.PHONY: tools
tools: ## Build etcd, Kubernetes, kwok, vela-core and vela into the cache (~25 min cold, instant when cached).
	hack/build-tools.sh

.PHONY: prometheus
prometheus: ## Put a Prometheus server for the analysis tests into the cache (apt-get download, no service; seconds, once).
	hack/prometheus.sh >/dev/null

.PHONY: cluster-up
cluster-up: prometheus ## Start the local cluster with its Prometheus (or reuse a healthy one); writes .cluster/env.
	$(GO) run ./hack/cluster up

.PHONY: cluster-down
cluster-down: ## Stop exactly the processes cluster-up started and remove .cluster.
	$(GO) run ./hack/cluster down

.PHONY: cluster-status
cluster-status: ## Tell whether the local cluster is healthy.
	$(GO) run ./hack/cluster status

##@ Addon

.PHONY: addon-up
addon-up: cluster-up ## Build the provider, run it on 127.0.0.1 and enable the addon from the working tree (packaged, from a local addon registry).
	hack/addon.sh up

.PHONY: addon-down
addon-down: ## Disable the addon and stop the local provider and addon registry.
	hack/addon.sh down

.PHONY: package
package: ## Package the addon for a Helm addon registry: .package/istio-canary-<version>.tgz and its index.yaml (VELA= picks the vela CLI).
	hack/addon.sh package .package

.PHONY: image
image: ## Build the provider image without a container engine into .image/ (OCI layout and tarball); prints its digest.
	$(GO) run ./hack/image

.PHONY: def-check
def-check: ## cue fmt and vela def vet every definition.
	hack/def-check.sh

##@ Generated files

.PHONY: generate
generate: ## Write the generated CUE: the canary steps (internal/defgen/steps), the provider schema copies, the shared fragments.
	$(GO) run ./hack/defgen

##@ Documentation

.PHONY: docs
docs: ## Regenerate README.md's reference section from definitions/*.cue and parameter.cue.
	$(GO) run ./hack/docgen

##@ Tests

.PHONY: test-unit
test-unit: prometheus ## Run the unit tests (no cluster needed; test/prometheus runs a real Prometheus).
	$(GO) test ./...

.PHONY: test-e2e
test-e2e: prometheus meshprobe ## Run the end-to-end tests; they bring the local cluster up themselves and leave it running.
	$(GO) test -tags e2e ./test/e2e/... -count=1 -parallel 4 -timeout 60m

.PHONY: bench-analysis
bench-analysis: prometheus ## Time from a failing canary's first bad sample in Prometheus to 100% stable, woken vs left to vela's backoff (~8 min).
	hack/bench-analysis.sh

.PHONY: meshprobe
meshprobe: ## Build the mesh probe into the cache (Istio's control plane: 10 to 20 minutes cold, instant when cached).
	hack/meshprobe.sh -build >/dev/null

.PHONY: mesh-probe
mesh-probe: ## A component's traffic split measured on Istio's own xDS and a gRPC client, as JSON (COMPONENT=, APP=, NAMESPACE=default, REQUESTS=1000, HEADERS='x-canary=true', OUTPUT=json|text).
	@hack/meshprobe.sh -component '$(COMPONENT)' -app '$(APP)' -namespace '$(or $(NAMESPACE),default)' -requests '$(or $(REQUESTS),1000)' -o '$(or $(OUTPUT),json)' $(foreach h,$(HEADERS),-header '$(h)')

.PHONY: lint
lint: ## gofmt and golangci-lint, go vet's analyzers included (pinned in hack/lint.sh, installed into the cache on first use).
	hack/lint.sh

.PHONY: test-meshprobe
test-meshprobe: meshprobe ## The mesh probe's own tests (its module; built with the probe's flags so that they reuse its build).
	cd hack/tools/meshprobe && $(GO) test -trimpath -vet=off -count=1 ./...

.PHONY: test-fuzz
test-fuzz: ## A few seconds of fuzzing of each fuzz target (FUZZTIME=5s by default; their corpora run in test-unit).
	hack/fuzz.sh

.PHONY: fuzz
fuzz: ## A long fuzzing run: a million executions of each fuzz target (FUZZTIME=1000000x), with the count and time of each.
	FUZZTIME=$(or $(FUZZTIME),1000000x) hack/fuzz.sh

.PHONY: test-cue09
test-cue09: ## The render tests with CUE v0.9, the one of vela v1.10 (test/render/cue09: a module of its own, as a module holds one CUE).
	cd test/render/cue09 && $(GO) test ./...

# tree-test runs end-to-end tests in a copy of the tree, on a cluster of
# their own that it stops at the end: $(1) the copy's directory, $(2) the
# environment (NAME=value ...) of the cluster and the tests, $(3) the tests
# (-run), $(4) a commit to copy instead of the working tree, $(5) go test's
# flags other than -run (default: -tags e2e; a -timeout there overrides the
# 60 minutes). hack/addon.sh
# keeps the provider and the addon registry in <root>/.cluster, so the
# copy's cluster is its own, beside make test-e2e's. The copy is a git
# repository whose HEAD is the commit (or HEAD, the working tree's changes
# left uncommitted), borrowing this repository's objects read-only
# (alternates): make image reads the revision from git.
comma := ,
TREE_TEST_CACHE := $(or $(ISTIO_CANARY_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/istio-canary)
define tree-test
	tree='$(1)'; rev=$$(git rev-parse --verify '$(or $(4),HEAD)^{commit}'); \
	objects=$$(git rev-parse --path-format=absolute --git-common-dir)/objects; \
	mkdir -p "$$tree"; \
	find "$$tree" -mindepth 1 -maxdepth 1 ! -name .cluster -exec rm -rf {} +; \
	if [[ -n '$(4)' ]]; then git archive "$$rev"; else tar -c --exclude=./.git --exclude=./.cluster --exclude=./.image --exclude=./.package --exclude=./bin .; fi | tar -x -C "$$tree"; \
	git -C "$$tree" init -q; echo "$$objects" >"$$tree/.git/objects/info/alternates"; \
	git -C "$$tree" update-ref HEAD "$$rev"; git -C "$$tree" reset -q; \
	cd "$$tree"; unset ISTIO_CANARY_BIN KUBECONFIG; \
	export $(2) ISTIO_CANARY_CLUSTER_DIR="$$tree/.cluster"; \
	status=0; $(GO) test -timeout 60m $(or $(5),-tags e2e) ./test/e2e/ -run '$(3)' -count=1 -v || status=$$?; \
	$(GO) run ./hack/cluster down; exit $$status
endef

COMPAT_DIR ?= $(TREE_TEST_CACHE)/compat-vela-1.10
COMPAT_TESTS ?= ^TestBookinfo

.PHONY: test-compat
test-compat: prometheus meshprobe ## The bookinfo canary end-to-end tests on vela-core and vela v1.10.9, in a cluster of their own, stopped at the end (COMPAT_REF=<commit>, COMPAT_TESTS=<-run>).
	$(call tree-test,$(COMPAT_DIR),ISTIO_CANARY_VELA_TOOLS=vela-1.10,$(COMPAT_TESTS),$(COMPAT_REF))

AUTH_DIR ?= $(TREE_TEST_CACHE)/auth
AUTH_TESTS ?= ^TestAuth

.PHONY: test-auth
test-auth: prometheus meshprobe ## The seed flow by a user of an app team with vela's authentication on (vela-core impersonates the user), in a cluster of its own, stopped at the end (AUTH_REF=<commit>, AUTH_TESTS=<-run>).
	$(call tree-test,$(AUTH_DIR),ISTIO_CANARY_VELA_AUTH=1,$(AUTH_TESTS),$(AUTH_REF))

# The benchmark suite writes its rows to BENCH_OUT, outside the copy of the
# tree (tree-test empties the copy's directory), after a header naming the
# machine, the date and the commit.
BENCH_DIR ?= $(TREE_TEST_CACHE)/bench
BENCH_OUT ?= $(TREE_TEST_CACHE)/bench-results.md
BENCH_APPS ?= 200
BENCH_TESTS ?= ^TestBench
# Each phase of the scale figure (all Applications to 90/10, then to 100%)
# may take this long, and the whole suite BENCH_TIMEOUT: at 200
# Applications on 2 cores, vela-core's evaluation of the steps takes most
# of an hour.
BENCH_PHASE_MINUTES ?= 45
BENCH_TIMEOUT ?= 150m

.PHONY: bench
bench: prometheus meshprobe ## The benchmark suite (docs/benchmarks.md): provider calls, step overhead, render cost, rollback time, BENCH_APPS (200) Applications at once; in a cluster of its own, stopped at the end; prints the results (BENCH_REF=<commit>, BENCH_TESTS=<-run>).
	@rev=$$(git rev-parse --short '$(or $(BENCH_REF),HEAD)'); \
	if [[ -z '$(BENCH_REF)' ]] && [[ -n $$(git status --porcelain) ]]; then rev="$$rev with uncommitted changes"; fi; \
	{ echo "machine: $$(nproc) cores, $$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $$(awk '/MemTotal/ {printf "%.0f GiB", $$2 / 1048576}' /proc/meminfo)"; \
	  echo "date: $$(date -u '+%Y-%m-%d %H:%M UTC')"; echo "commit: $$rev"; echo "applications at once: $(BENCH_APPS)"; echo; \
	  echo "| figure | measured | baseline | ratio / difference | goal | |"; echo "|---|---|---|---|---|---|"; } >'$(BENCH_OUT)'
	$(call tree-test,$(BENCH_DIR),ISTIO_CANARY_BENCH_OUT=$(BENCH_OUT) ISTIO_CANARY_BENCH_APPS=$(BENCH_APPS) ISTIO_CANARY_BENCH_PHASE_MINUTES=$(BENCH_PHASE_MINUTES),$(BENCH_TESTS),$(BENCH_REF),-tags e2e$(comma)bench -timeout $(BENCH_TIMEOUT))
	@cat '$(BENCH_OUT)'

FAULTS_DIR ?= $(TREE_TEST_CACHE)/faults
FAULTS_TESTS ?= ^TestFault

.PHONY: test-faults
test-faults: prometheus meshprobe ## The fault matrix: releases while the provider, vela-core or the API server die, after hand edits, with a new version in the middle, ..., in a cluster of its own, stopped at the end (~5 min; FAULTS_REF=<commit>, FAULTS_TESTS=<-run>).
	$(call tree-test,$(FAULTS_DIR),,$(FAULTS_TESTS),$(FAULTS_REF),-tags e2e$(comma)faults -parallel 4)

.PHONY: test
test: test-unit test-fuzz test-cue09 test-meshprobe lint def-check test-e2e ## Run the unit tests (the mesh probe's and CUE v0.9's too), the linters, the definition checks and the end-to-end tests.
