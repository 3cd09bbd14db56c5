# eidwallet — see README.md. Every target works on a fresh machine with Go;
# test also runs the interop tests when Node.js/npm are installed.
GO       ?= go
BIN      := bin/eidwallet
FUZZTIME ?= 10s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
INTEROP  := credentials/testdata/interop
JCS      := wallet/testdata/jcs
OID4VP   := openid4vp/testdata/interop
OFFLINE  := offline/testdata/interop

.PHONY: run test test-race bench lint fuzz build clean interop-deps browser-check

build:
	$(GO) build -o $(BIN) ./cmd/eidwallet

# run starts the service on the embedded store under ./data with demo data
# (SPEC §8) and prints a live QR and the command that verifies it.
run: build
	./$(BIN) serve --demo --data-dir data --addr 127.0.0.1:8080 --log-format text

# interop-deps installs the independent SD-JWT VC implementation the
# interop tests compare against, RFC 8785's reference canonicalizer for
# the activity log hashes, the independent OpenID4VP wallet and verifier,
# and the independent decoder of EIDC1: codes (skipped, with a note,
# without npm).
interop-deps:
	@if command -v npm >/dev/null 2>&1; then \
		[ -d $(INTEROP)/node_modules ] || npm ci --silent --no-audit --no-fund --prefix $(INTEROP); \
		[ -d $(JCS)/node_modules ] || npm ci --silent --no-audit --no-fund --prefix $(JCS); \
		[ -d $(OID4VP)/node_modules ] || npm ci --silent --no-audit --no-fund --prefix $(OID4VP); \
		[ -d $(OFFLINE)/node_modules ] || npm ci --silent --no-audit --no-fund --prefix $(OFFLINE); \
		[ -d sdk/ts/node_modules ] || npm ci --silent --no-audit --no-fund --prefix sdk/ts; \
	else echo "npm not found: interop tests will be skipped (apt-get install -y nodejs npm)"; fi

# browser-check says when the browser tests, or the crash test, will be
# skipped.
browser-check:
	@command -v chromium >/dev/null 2>&1 || echo "chromium not found: the browser tests will be skipped (apt-get install -y chromium)"
	@command -v strace >/dev/null 2>&1 || echo "strace not found: the crash and durability test will be skipped (apt-get install -y strace)"

# With EIDWALLET_TEST_POSTGRES_DSN set (.ci/postgres.sh), the store's
# contract suite runs on PostgreSQL too, and so do the service, client and
# HTTP suites.
test: interop-deps browser-check
	$(GO) test -count=1 ./...
	@if [ -n "$$EIDWALLET_TEST_POSTGRES_DSN" ]; then \
		echo "== the service suites again, over PostgreSQL"; \
		EIDWALLET_TEST_STORE=postgres $(GO) test -count=1 -skip Browser ./wallet/ ./client/ ./server/ ./cmd/eidwallet/; \
	else echo "EIDWALLET_TEST_POSTGRES_DSN not set: PostgreSQL tests skipped (. .ci/postgres.sh starts one)"; fi

test-race: interop-deps browser-check
	$(GO) test -count=1 -race ./...

# Benchmarks measure; ratios against the baselines in the same run are what
# docs/performance.md reports (SPEC §7).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# fuzz runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
