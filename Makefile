# make demo: the failover demo on the local stack.  make test: the whole suite, as CI runs it.
export GOTOOLCHAIN := local
GO ?= go

# Packages whose tests embed the Temporal server are tested without -race: a race build of the server takes minutes
# and gigabytes on a 2-core machine. Everything else runs with the race detector. starter is here for its tests
# (they drive the CLI against testsuite/stack); its binary does not link the server (deploy/deploytest checks).
HEAVY := /control|/testsuite/temporaldev|/testsuite/stack|/testsuite/devstack|/testsuite/e2e|/starter|/slackbot/e2e
RACE_PKGS = $(shell $(GO) list ./... | grep -Ev '$(HEAVY)')
HEAVY_PKGS = $(shell $(GO) list ./... | grep -E '$(HEAVY)')

.PHONY: test demo dev deps vet bench build

# The heavy packages build like the release binaries (CGO_ENABLED=0 -trimpath, see `build` and the Dockerfile), so
# deploy/deploytest's release build of the same code reuses their compile cache instead of compiling Temporal twice.
test: deps vet
	CGO_ENABLED=0 $(GO) test -trimpath -count=1 -timeout 15m $(HEAVY_PKGS)
	$(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)

vet:
	CGO_ENABLED=0 $(GO) vet -trimpath ./...

# Prometheus and Alertmanager are real binaries from Debian; install them when absent.
deps:
	@command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null && command -v promtool >/dev/null || { \
		echo "installing prometheus and prometheus-alertmanager with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null; }
	@# proof's tests read keys written by the real ssh-keygen (proof/file_test.go).
	@command -v ssh-keygen >/dev/null || { \
		echo "installing openssh-client with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-client >/dev/null; }
	@# The HTML report test screenshots the page in headless Chromium (report/screenshot_test.go).
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		echo "installing chromium with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: deps
	$(GO) run ./testsuite/devstack demo

dev: deps
	$(GO) run ./testsuite/devstack dev

# Built like `test` builds the heavy packages, to reuse its compile cache. BenchmarkCrashCost kills real worker
# processes mid-failover, about 15 s an iteration: it runs fewer.
bench:
	CGO_ENABLED=0 $(GO) test -trimpath -run '^$$' -bench . -skip 'CrashCost|Evacuation' -benchtime 50x ./testsuite/e2e/ ./follow/
	CGO_ENABLED=0 $(GO) test -trimpath -run '^$$' -bench Evacuation -benchtime 1x -timeout 40m ./testsuite/e2e/
	CGO_ENABLED=0 $(GO) test -trimpath -run '^$$' -bench CrashCost -benchtime 10x -timeout 30m ./testsuite/e2e/

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/ ./worker ./starter
