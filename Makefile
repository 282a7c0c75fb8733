# amkeeper — build, test and demo entry points. `make test` is what CI runs.

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 20000x
TESTFLAGS ?=

.PHONY: all build test deps vet fmt-check unit fuzz docs clean demo bench

all: build

build:
	$(GO) build $(PKGS)

# deps installs what the tests need on a fresh Debian machine (ZooKeeper, a JRE)
# and is a quick no-op when everything is there.
deps:
	scripts/install-deps

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# unit runs every test, including the integration tests against a real ZooKeeper,
# under the race detector.
unit:
	scripts/run-tests $(TESTFLAGS) $(PKGS)

# fuzz gives each fuzz target a short run on top of its seed corpus.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoadFlinkConf$$' -fuzztime $(FUZZTIME) ./conf
	$(GO) test -run '^$$' -fuzz '^FuzzParsePortSpec$$' -fuzztime $(FUZZTIME) ./conf

test: deps fmt-check vet unit fuzz

# demo runs the seed's counting job in an HA session on a throwaway ZooKeeper,
# SIGKILLs the AM twice and checks the committed output is exactly once.
# DEMOFLAGS=--ha none runs it without ZooKeeper.
DEMOFLAGS ?=
demo: deps
	$(GO) run ./cmd/yarn-session --log-level warn demo $(DEMOFLAGS)

# bench runs one benchmark of docs/performance.md (cmd/amkeeper-bench, not part of
# the shipped CLI), e.g. BENCH='election --rounds 100' or BENCH='recovery --jobs 10000'.
BENCH ?= failover --kills 20
bench: deps
	$(GO) run ./cmd/amkeeper-bench --log-level warn $(BENCH)

# docs regenerates docs/configuration.md from the key registry in conf/.
docs:
	$(GO) test ./conf -run '^TestConfigurationReference$$' -update

clean:
	$(GO) clean -testcache
