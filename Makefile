# metapipe: `make run` does everything locally, `make test` runs every test.
SHELL := /bin/bash
GO ?= go
BIN := bin/metapipe
# --version prints these (cmd/metapipe/version.go); outside a git checkout they stay empty.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
# Static (no cgo: runs on any Linux, Alpine and old glibc included), stripped (-s -w: no symbol
# table, no DWARF) and reproducible (-trimpath). `make build-debug` keeps the symbols.
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# The container image: `make image` (podman, else docker) tags $(IMAGE):latest and $(IMAGE):$(VERSION).
IMAGE ?= metapipe
CONTAINER ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
PGDIR := .pgdata
STAGE ?= stage
FUZZTIME ?= 30s

.PHONY: help build build-debug image binsize run test test-short bench bench-service lint fuzz sim pg-start pg-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: ## build bin/metapipe: static (CGO_ENABLED=0) and stripped
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/metapipe

build-debug: ## build bin/metapipe-debug with its symbols (for go tool nm, pprof, delve)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN)-debug ./cmd/metapipe

binsize: build build-debug ## the binary's size and its largest packages (go tool nm -size)
	@scripts/binsize.sh $(BIN) $(BIN)-debug

image: build ## the container image metapipe:latest (Containerfile): FROM scratch, the static binary, CA certificates, user 65532
	@test -n "$(CONTAINER)" || { echo "make image: neither podman nor docker is installed" >&2; exit 1; }
	rm -rf bin/image && mkdir -p bin/image/data/stage
	cp $(BIN) bin/image/metapipe
	cp $${CA_CERTS:-/etc/ssl/certs/ca-certificates.crt} bin/image/ca-certificates.crt
	printf 'root:x:0:0:root:/:/sbin/nologin\nmetapipe:x:65532:65532:metapipe:/data:/sbin/nologin\n' >bin/image/passwd
	printf 'root:x:0:\nmetapipe:x:65532:\n' >bin/image/group
	$(CONTAINER) build --quiet -f Containerfile --label org.opencontainers.image.version=$(or $(VERSION),devel) \
		-t $(IMAGE):latest -t $(IMAGE):$(or $(VERSION),devel) bin/image >/dev/null
	@echo "image $(IMAGE):latest ($(IMAGE):$(or $(VERSION),devel)): $$($(CONTAINER) image inspect --format '{{.Size}}' $(IMAGE):latest) bytes; $$($(CONTAINER) run --rm $(IMAGE):latest --version)"

run: build ## the whole pipeline on the simulator and a local PostgreSQL (DATABASE_URL if set)
	@url="$${DATABASE_URL:-}"; \
	if [ -z "$$url" ]; then url=$$(scripts/pg.sh start $(PGDIR)) || exit 1; echo "local PostgreSQL: $$url (stop it with make pg-stop)"; fi; \
	$(BIN) --database-url "$$url" --stage-dir $(STAGE) demo $(DEMO_FLAGS)

test: ## every test, on a throwaway PostgreSQL unless TEST_DATABASE_URL is set; says what it skipped and why
	@GO=$(GO) scripts/with-test-db.sh scripts/test.sh -race -count=1 -timeout 20m ./...

test-short: ## the tests without PostgreSQL-heavy end-to-end cases
	@GO=$(GO) scripts/with-test-db.sh scripts/test.sh -short -count=1 ./...

fuzz: ## run each fuzz target for FUZZTIME (30s); their seeds run in make test
	$(GO) test -run '^$$' -fuzz '^FuzzParseRow$$' -fuzztime $(FUZZTIME) ./extract
	$(GO) test -run '^$$' -fuzz '^FuzzGraphError$$' -fuzztime $(FUZZTIME) ./extract
	$(GO) test -run '^$$' -fuzz '^FuzzTypedRowsMatchMapRows$$' -fuzztime $(FUZZTIME) ./extract

bench: build ## benchmarks side by side; writes BENCHMARKS.md
	scripts/with-test-db.sh scripts/bench.sh

bench-service: build ## only the service's benchmarks (POST /v1/runs, 1 vs 3 workers); updates their section of BENCHMARKS.md
	scripts/with-test-db.sh env BENCH=service scripts/bench.sh

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

sim: build ## serve the Graph API simulator on 127.0.0.1:8787
	$(BIN) sim --addr 127.0.0.1:8787

pg-start: ## start (or reuse) the project-local PostgreSQL in .pgdata
	@scripts/pg.sh start $(PGDIR)

pg-stop: ## stop the project-local PostgreSQL
	@scripts/pg.sh stop $(PGDIR)

clean: ## remove build outputs, run directories and the local cluster
	scripts/pg.sh remove $(PGDIR)
	rm -rf bin $(STAGE) $(PGDIR)
