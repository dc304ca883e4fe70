package deploytest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// shipped are the packages of the binaries that run in production: the worker, the starter (CLI and `starter
// serve`), and the healthcheck every image carries.
var shipped = []string{"./worker", "./starter", "./deploy/healthcheck"}

// devOnly are import path prefixes a shipped binary must not link: the embedded Temporal and etcd servers, every
// test or dev package (the local stack, the Kong stand-in, the demo region service) and the test-only loaders.
var devOnly = []string{
	"go.temporal.io/server",
	"go.etcd.io/etcd/server",
	"github.com/failover/failover/testsuite/",
	"github.com/failover/failover/deploy/regiond",
	// The deployment-file loaders deploytest uses (Docker Compose's, kustomize's, the Prometheus Operator's types).
	"github.com/compose-spec/compose-go",
	"sigs.k8s.io/kustomize",
	"github.com/prometheus-operator/prometheus-operator",
}

// devOnlyDeps lists pkg's dependencies (as the release build sees them: CGO_ENABLED=0) that match devOnly.
func devOnlyDeps(t *testing.T, pkg string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", pkg)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var bad []string
	for _, dep := range strings.Fields(string(out)) {
		for _, prefix := range devOnly {
			if strings.HasPrefix(dep, prefix) {
				bad = append(bad, dep)
				break
			}
		}
	}
	return bad
}

// TestShippedBinariesLinkNoDevCode keeps the production binaries lean: the dev stack and the demo live in
// testsuite/devstack, which may link anything.
func TestShippedBinariesLinkNoDevCode(t *testing.T) {
	for _, pkg := range shipped {
		if bad := devOnlyDeps(t, pkg); len(bad) > 0 {
			shown := bad[:min(len(bad), 10)]
			t.Errorf("%s links %d dev-only packages (move what needs them to testsuite/devstack), e.g.:\n  %s",
				pkg, len(bad), strings.Join(shown, "\n  "))
		}
	}
	// The check itself: the dev stack does link the embedded servers, so a shipped binary that imported it would fail.
	if bad := devOnlyDeps(t, "./testsuite/devstack"); len(bad) == 0 {
		t.Error("no dev-only packages found in ./testsuite/devstack: the prefixes in devOnly no longer match anything")
	}
}
