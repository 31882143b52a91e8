# CSI suite. `make run` starts the suite with demo data; `make test` runs every test against
# real PostgreSQL, Redis, Consul, an S3 server and a Kubernetes API server (installed, built and
# started when absent; make test's under .run/test, make run's under .run/dev: never shared).

SHELL := /bin/bash
GO ?= go
# The suite's services and their ports: services/services.tsv (name<TAB>port, # comments), the
# one list. SERVICES are those whose command this checkout has (as make run's launcher does).
SERVICE_LIST := services/services.tsv
ALL_SERVICES := $(shell awk -F'\t' '!/^\#/ && NF == 2 {print $$1}' $(SERVICE_LIST))
SERVICES := $(foreach s,$(ALL_SERVICES),$(if $(wildcard services/$(s)/cmd/$(s)/main.go),$(s)))
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/csi-lombardia/csi/pkg/app.Version=$(VERSION) -X github.com/csi-lombardia/csi/pkg/app.Commit=$(COMMIT)
STATICCHECK_VERSION := v0.8.2

.PHONY: run test build lint fmt tidy clean stop

## run: start the suite on this machine with demo data (Ctrl-C stops everything)
run:
	@mkdir -p bin
	$(GO) build -o bin/csidev ./tools/cmd/csidev
	./bin/csidev run

## test: every module's tests with -race, against real servers, plus short fuzz runs, then make lint
test:
	./scripts/test.sh

.PHONY: bench

## bench: load bench (suite vs the floor vs pgbench) on an ambito of synthetic citizens, registry, intake and interventions (visits, statements over 10 million visits: the first run fills them once, ~40 min more); writes BENCHMARKS.md (~20 min)
bench:
	$(GO) run ./tools/cmd/csibench

.PHONY: chaos

## chaos: faults under load at half the sustained rate (Redis, PostgreSQL, SIGTERM, client retries, JWKS, registry down under intake, SIGKILL under retried creates, interventions killed mid-batch, identity down under visits, S3 away under uploads: make test's S3 server, behind a switch) with read-back checks; writes RELIABILITY.md (~12 min)
chaos:
	@eval "$$(scripts/test-env.sh)" && $(GO) run ./tools/cmd/csichaos

## build: one static binary per service, and the tools, under bin/
build:
	@mkdir -p bin
	@for s in $(SERVICES); do \
		echo "build bin/$$s"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/$$s ./services/$$s/cmd/$$s || exit 1; \
	done
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/csictl ./tools/cmd/csictl
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/csidev ./tools/cmd/csidev

## lint: gofmt, go vet and staticcheck on every module; Redocly CLI on every OpenAPI document; the dependency rule (csideps); the charts in sync (csicharts -check)
lint:
	@out=$$(gofmt -l $$($(GO) list -m -f '{{.Dir}}')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for d in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$d && $(GO) vet ./...) || exit 1; done
	@sc=$$(command -v staticcheck || echo $${CSI_CACHE_DIR:-$${XDG_CACHE_HOME:-$$HOME/.cache}/csi}/bin/staticcheck); \
	if [ ! -x "$$sc" ]; then GOBIN=$$(dirname $$sc) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) || exit 1; fi; \
	for d in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$d && $$sc ./...) || exit 1; done
	@redocly=$$(./scripts/redocly.sh) || exit 1; "$$redocly" lint --config redocly.yaml services/*/api/openapi.yaml
	@$(GO) run ./tools/cmd/csideps
	@$(GO) run ./tools/cmd/csicharts -check

fmt:
	gofmt -w $$($(GO) list -m -f '{{.Dir}}')

## tidy: go mod tidy in every module (go mod tidy ignores go.work, hence the replace lines)
tidy:
	@for d in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$d && GOWORK=off $(GO) mod tidy) || exit 1; done

SERVER_SCRIPTS := postgres redis consul s3 kube

## stop: stop the private servers of make test (.run/test) and make run (.run/dev)
# (and those of the layout before them, directly under .run)
stop:
	-@for p in test dev; do for s in $(SERVER_SCRIPTS); do CSI_PROFILE=$$p ./scripts/$$s.sh stop; done; done
	-@for s in $(SERVER_SCRIPTS); do CSI_RUN_DIR=.run ./scripts/$$s.sh stop; done

## clean: stop, then remove bin/ and .run/ (the private servers' data too)
clean: stop
	@for l in .run/pg .run/*/pg; do if [ -L "$$l" ]; then rm -rf "$$(readlink "$$l")"; fi; done
	rm -rf bin .run

# Charts and images (charts/, Dockerfile). Every service of services/services.tsv has a chart
# (charts/test checks it); csicharts writes the ports and the schemas into the charts.
CHART_SERVICES := $(ALL_SERVICES)
IMAGE_REPO ?= ghcr.io/csi-lombardia

.PHONY: charts charts-sync images

## charts-sync: write into the charts what they take from services/services.tsv and the schema parts (csicharts)
charts-sync:
	$(GO) run ./tools/cmd/csicharts

## charts: helm lint --strict and helm template on every chart, default and production values
charts:
	@helm=$$(./scripts/helm.sh) || exit 1; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export HELM_CACHE_HOME=$$tmp/helm HELM_CONFIG_HOME=$$tmp/helm HELM_DATA_HOME=$$tmp/helm; \
	cp -r charts/common $(addprefix charts/,$(CHART_SERVICES)) charts/csi "$$tmp"/ || exit 1; \
	for c in $(CHART_SERVICES) csi; do "$$helm" dependency build --skip-refresh "$$tmp/$$c" >/dev/null || exit 1; done; \
	"$$helm" lint --strict "$$tmp/common" || exit 1; \
	for c in $(CHART_SERVICES) csi; do \
		"$$helm" lint --strict "$$tmp/$$c" || exit 1; \
		"$$helm" template csi "$$tmp/$$c" >/dev/null || exit 1; \
	done; \
	"$$helm" lint --strict "$$tmp/csi" -f charts/csi/values-production.yaml || exit 1; \
	"$$helm" template csi "$$tmp/csi" -f charts/csi/values-production.yaml >/dev/null || exit 1; \
	echo "charts: lint --strict and template passed (the full checks: go test in charts/test)"

## images: one container image per service (needs a Docker engine; skipped without one)
images:
	@if ! docker info >/dev/null 2>&1; then \
		echo "images: SKIPPED - no Docker engine here ('docker info' failed); build them where one runs"; exit 0; \
	fi; \
	for s in $(SERVICES); do \
		port=$$(awk -F'\t' -v s=$$s '!/^#/ && $$1 == s {print $$2}' $(SERVICE_LIST)); \
		echo "docker build $(IMAGE_REPO)/csi-$$s:$(VERSION)"; \
		docker build --build-arg SERVICE=$$s --build-arg PORT=$$port --build-arg VERSION=$(VERSION) \
			--build-arg COMMIT=$(COMMIT) -t $(IMAGE_REPO)/csi-$$s:$(VERSION) . || exit 1; \
	done
