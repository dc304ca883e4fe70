package activities

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/failover/failover/plan"
)

// Readiness and hold-down need SERVING from a region with a gRPC health check, whatever its HTTP health says; a
// region whose gRPC health fails counts as down for detection.
func TestProbeHealthNeedsGRPCServing(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(web.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	g := &plan.GRPCHealth{Address: ln.Addr().String(), Service: "payments"}
	a := &Activities{}
	probe := func(expect string) ProbeResult {
		t.Helper()
		res, err := a.ProbeHealth(context.Background(), ProbeInput{URL: web.URL, GRPC: g, Attempts: 2, Interval: 10 * time.Millisecond,
			Timeout: time.Second, Expect: expect})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	hs.SetServingStatus("payments", healthpb.HealthCheckResponse_NOT_SERVING)
	if res := probe("up"); res.Confirmed || !strings.Contains(res.Evidence[0], "HTTP 200, grpc://"+g.Address+"/payments: NOT_SERVING") {
		t.Fatalf("readiness of a region whose HTTP health is 200 but gRPC NOT_SERVING: %+v", res)
	}
	if res := probe("down"); !res.Confirmed {
		t.Fatalf("detection of a region NOT_SERVING: %+v", res)
	}
	hs.SetServingStatus("payments", healthpb.HealthCheckResponse_SERVING)
	if res := probe("up"); !res.Confirmed || !strings.Contains(res.Evidence[0], "/payments: SERVING") {
		t.Fatalf("readiness of a SERVING region: %+v", res)
	}
}
