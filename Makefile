# CSI suite. `make run` starts the suite with demo data; `make test` runs every test against
# real PostgreSQL, Redis and Consul (installed and started when absent).

SHELL := /bin/bash
GO ?= go
SERVICES := identity
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

## test: every module's tests with -race, against real servers, plus short fuzz runs
test:
	./scripts/test.sh

## build: one static binary per service, and the tools, under bin/
build:
	@mkdir -p bin
	@for s in $(SERVICES); do \
		echo "build bin/$$s"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/$$s ./services/$$s/cmd/$$s || exit 1; \
	done
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/csictl ./tools/cmd/csictl
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/csidev ./tools/cmd/csidev

## lint: gofmt, go vet and staticcheck on every module
lint:
	@out=$$(gofmt -l $$($(GO) list -m -f '{{.Dir}}')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@for d in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$d && $(GO) vet ./...) || exit 1; done
	@sc=$$(command -v staticcheck || echo $${XDG_CACHE_HOME:-$$HOME/.cache}/csi/bin/staticcheck); \
	if [ ! -x "$$sc" ]; then GOBIN=$$(dirname $$sc) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) || exit 1; fi; \
	for d in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$d && $$sc ./...) || exit 1; done

fmt:
	gofmt -w $$($(GO) list -m -f '{{.Dir}}')

## tidy: go mod tidy in every module (go mod tidy ignores go.work, hence the replace lines)
tidy:
	@for d in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$d && GOWORK=off $(GO) mod tidy) || exit 1; done

## stop: stop the private PostgreSQL, Redis and Consul that make run / make test started
stop:
	-./scripts/postgres.sh stop
	-./scripts/redis.sh stop
	-./scripts/consul.sh stop

clean: stop
	rm -rf bin .run
