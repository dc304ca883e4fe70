package activities

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProbeOriginsNamesTheServicesDown probes the region of three plans, two sharing one health endpoint (probed
// once), one with its own failing endpoint; a plan that does not load counts as down.
func TestProbeOriginsNamesTheServicesDown(t *testing.T) {
	var sharedHits atomic.Int64
	shared := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { sharedHits.Add(1) }))
	t.Cleanup(shared.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(broken.Close)
	base, err := os.ReadFile("../deploy/evacuation/plans/payments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, url := range map[string]string{"a": shared.URL, "b": shared.URL, "c": broken.URL} {
		y := strings.ReplaceAll(string(base), "payments", name)
		y = strings.Replace(y, "http://10.10.1.20:8080", url, 1)
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("service: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := (&Activities{}).ProbeOrigins(context.Background(), OriginProbe{Dir: dir, Region: "us-east",
		Files: []string{"a.yaml", "b.yaml", "c.yaml", "bad.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Probed != 4 || len(res.Down) != 2 || res.Down[0].Service != "bad.yaml" || res.Down[1].Service != "c" ||
		!strings.Contains(res.Down[1].Detail, "503") {
		t.Fatalf("result %+v, want bad.yaml (does not load) and c (503) down", res)
	}
	if n := sharedHits.Load(); n != 1 {
		t.Fatalf("the shared endpoint was probed %d times, want once for a and b", n)
	}
	if _, err := (&Activities{}).ProbeOrigins(context.Background(), OriginProbe{Dir: dir, Files: []string{"a.yaml"}}); err == nil {
		t.Fatal("no region: want a bad-input error")
	}
}
