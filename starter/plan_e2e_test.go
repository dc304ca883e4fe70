package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/failover/failover/testsuite/kongstandin"
	"github.com/failover/failover/testsuite/stack"
)

// TestPlanReportsKongMode: the dry run names the Kong deployment it found and exactly how the reroute would write
// it, or why readiness would stop, and changes nothing.
func TestPlanReportsKongMode(t *testing.T) {
	for _, tc := range []struct {
		mode kongstandin.Mode
		want []string
	}{
		{kongstandin.ModeTraditional, []string{"kong: Kong 3.9.0 (database postgres, role traditional): entities",
			"kong writes: PUT /upstreams/payments/targets/{target} {weight}"}},
		{kongstandin.ModeDBLess, []string{"(database off, role traditional): declarative, configuration hash ",
			"POST /config?check_hash=1", "note: DB-less"}},
		{kongstandin.ModeDataPlane, []string{"role data_plane): cannot be changed", "NOT READY: Kong at the Admin API is a hybrid-mode data plane"}},
	} {
		name := string(tc.mode)
		if name == "" {
			name = "traditional"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := stack.Start(ctx, stack.Options{NoUI: true, NoWorker: true, KongMode: tc.mode, Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Stop)
			b, err := yaml.Marshal(s.Plan)
			if err != nil {
				t.Fatal(err)
			}
			planFile := filepath.Join(t.TempDir(), "payments.yaml")
			if err := os.WriteFile(planFile, b, 0o644); err != nil {
				t.Fatal(err)
			}
			before, err := s.KongClient.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out, err := starter(t, s, "plan", "--plan", planFile, "--to", "eu-west")
			if err != nil {
				t.Fatalf("plan: %v\n%s", err, out)
			}
			t.Logf("starter plan:\n%s", out)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("plan output lacks %q:\n%s", w, out)
				}
			}
			if after, err := s.KongClient.Status(ctx); err != nil || after.ConfigurationHash != before.ConfigurationHash {
				t.Errorf("the dry run changed Kong (hash %s → %v, %v)", before.ConfigurationHash, after, err)
			}
		})
	}
}
