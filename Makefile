# Platform Portal. `make run` serves the portal; `make test` runs every test.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# Every Go module of the workspace (tools/ stays out: buf's dependencies must
# never touch ours).
MODULES := proto/gen/go platform agentkit services/agents services/provisioning services/audit services/health services/metrics gateway cmd/portal
GOMODCACHE := $(shell go env GOMODCACHE)
# Code generators are built from the go.mod that pins them (buf from tools/,
# the protoc plugins from the generated code's module so generator and runtime
# match) into .cache/bin, which buf finds on PATH.
TOOLBIN := $(CURDIR)/.cache/bin
BUF := PATH=$(TOOLBIN):$$PATH GOWORK=off $(TOOLBIN)/buf
PLUGINS := google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2

# The imported protos come from Go modules, so no registry is needed.
GRPC_GATEWAY_V1 := github.com/grpc-ecosystem/grpc-gateway@v1.16.0
PROTOVALIDATE := github.com/bufbuild/protovalidate@v1.2.2

BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/platformportal/portal/platform/buildinfo.Version=$(VERSION)

# A laptop's portal: the development login on (pick a user and role at
# /auth/dev) and cookies over plain http. Override either in the environment.
LAPTOP := AUTH_DEV_LOGIN=$${AUTH_DEV_LOGIN:-true} AUTH_COOKIE_SECURE=$${AUTH_COOKIE_SECURE:-false}

.PHONY: run
run: build ## Build and serve the portal on http://localhost:8080 (dev login on)
	$(LAPTOP) ./$(BIN)/portal

.PHONY: demo
demo: build ## Serve the portal with a live demo fleet of 14 agents (dev login on)
	$(LAPTOP) ./$(BIN)/portal -demo

.PHONY: build
build: web ## Build the web UI and the binaries into bin/ (the gateway embeds the UI)
	@mkdir -p $(BIN)
	go build -ldflags '$(LDFLAGS)' -o $(BIN)/portal ./cmd/portal
	go build -ldflags '$(LDFLAGS)' -o $(BIN)/agents ./services/agents/cmd/agents
	go build -ldflags '$(LDFLAGS)' -o $(BIN)/gateway ./gateway/cmd/gateway
	go build -ldflags '$(LDFLAGS)' -o $(BIN)/provisioning ./services/provisioning/cmd/provisioning
	go build -ldflags '$(LDFLAGS)' -o $(BIN)/audit ./services/audit/cmd/audit
	go build -ldflags '-X github.com/platformportal/portal/agentkit.Version=$(VERSION)' -o $(BIN)/agent ./agentkit/cmd/agent

.PHONY: test
test: web/node_modules ## Run every module's tests on its own (GOWORK=off) with the race detector, the web UI's, and the browser end-to-end tests (needs PostgreSQL, NATS and chromium, see README)
	@for m in $(MODULES); do echo "== go test $$m"; (cd $$m && GOWORK=off go test -race -count=1 -timeout 15m ./...); done
	@echo "== web: vitest"; cd web && npm test
	$(MAKE) test-e2e

# The browser end-to-end tests (e2e/): bin/portal on a fresh database, driven
# through Debian's chromium (apt-get install chromium) by playwright-core.
.PHONY: test-e2e
test-e2e: build ## Browser end-to-end tests: the built portal, a fresh database, chromium (needs PostgreSQL and /usr/bin/chromium)
	@echo "== e2e: browser tests"
	cd e2e && npm ci --no-audit --no-fund && node --test --test-concurrency=1

# The web UI's packages, installed from the lock file when it changes.
web/node_modules: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

.PHONY: web
web: web/node_modules ## Build the web UI and copy it where the gateway embeds it (gateway/ui/dist)
	cd web && npm run build
	find gateway/ui/dist -mindepth 1 ! -name .gitkeep -delete
	cp -R web/dist/. gateway/ui/dist/

.PHONY: test-modules
test-modules: ## Build and vet each module on its own (GOWORK=off)
	@for m in $(MODULES); do echo "== GOWORK=off $$m"; (cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./...); done

.PHONY: bench
bench: build ## Run the benchmarks (Go, then the web UI in chromium); results go to bench/results/
	@mkdir -p bench/results
	cd cmd/portal && go test -run '^$$' -bench . -benchtime 1x -timeout 20m ./... | tee ../../bench/results/latest.txt
	cd services/health && go test -run '^$$' -bench . -benchtime 1x -timeout 5m ./internal/probe/ | tee -a ../../bench/results/latest.txt
	cd services/metrics && go test -run '^$$' -bench . -benchtime 1x -timeout 5m ./internal/series/ | tee -a ../../bench/results/latest.txt
	cd e2e && npm ci --no-audit --no-fund && node bench.mjs | tee -a ../bench/results/latest.txt

third_party/proto: tools/go.mod
	go mod download $(GRPC_GATEWAY_V1) $(PROTOVALIDATE)
	rm -rf third_party/proto && mkdir -p third_party/proto/google/api third_party/proto/buf/validate
	cp $(GOMODCACHE)/$(GRPC_GATEWAY_V1)/third_party/googleapis/google/api/{annotations,http,httpbody}.proto third_party/proto/google/api/
	cp $(GOMODCACHE)/$(PROTOVALIDATE)/proto/protovalidate/buf/validate/validate.proto third_party/proto/buf/validate/
	chmod -R u+w third_party/proto

.PHONY: tools
tools: ## Build buf, staticcheck and the protoc plugins into .cache/bin
	@mkdir -p $(TOOLBIN)
	GOWORK=off go -C tools build -o $(TOOLBIN)/ github.com/bufbuild/buf/cmd/buf honnef.co/go/tools/cmd/staticcheck
	GOWORK=off go -C proto/gen/go build -o $(TOOLBIN)/ $(PLUGINS)

.PHONY: generate
generate: tools third_party/proto ## Regenerate Go code and the OpenAPI document from proto/
	$(BUF) format -w proto
	$(BUF) lint
	$(BUF) generate

.PHONY: lint
lint: tools third_party/proto ## buf lint, breaking check, gofmt, go vet, staticcheck, and a check that generated code is fresh
	$(BUF) lint
	BUF="$(TOOLBIN)/buf" scripts/buf-breaking.sh
	$(BUF) format -d --exit-code proto
	$(BUF) generate
	@if [ -n "$$(git status --porcelain -- proto/gen gateway/openapi)" ]; then \
		echo "generated code is stale: run 'make generate' and commit"; git status --porcelain -- proto/gen gateway/openapi; exit 1; fi
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go vet ./... && $(TOOLBIN)/staticcheck ./...); done
	$(MAKE) lint-web

.PHONY: lint-web
lint-web: tools third_party/proto web/node_modules ## The web UI: generated API types fresh, tsc (strict), eslint
	cd web && npm run gen
	@if [ -n "$$(git status --porcelain -- web/src/gen)" ]; then \
		echo "web/src/gen is stale: run 'cd web && npm run gen' and commit"; git status --porcelain -- web/src/gen; exit 1; fi
	cd web && npm run typecheck && npm run lint

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "%-14s %s\n", $$1, $$2}'
