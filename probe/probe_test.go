package probe_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/probe"
)

// The demo region serves /healthz and grpc-go's own grpc.health.v1 server: probes need a 2xx and SERVING.
func TestProbeHTTPAndGRPCHealth(t *testing.T) {
	r, err := region.Start(t.Context(), region.Options{Region: "us-east", Service: "payments", GRPCAddr: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	both := probe.Target{URL: r.URL() + "/healthz", GRPC: &plan.GRPCHealth{Address: r.GRPCAddr(), Service: "payments"}}
	grpcOnly := probe.Target{GRPC: &plan.GRPCHealth{Address: r.GRPCAddr()}}
	unknown := probe.Target{GRPC: &plan.GRPCHealth{Address: r.GRPCAddr(), Service: "orders"}}
	tlsToPlain := probe.Target{GRPC: &plan.GRPCHealth{Address: r.GRPCAddr(), TLS: true}}
	p := &probe.Prober{Observer: "a"}
	other := &probe.Prober{Observer: "b"}
	t.Cleanup(p.Close)
	t.Cleanup(other.Close)

	check := func(step string, pr *probe.Prober, tg probe.Target, healthy bool, detail string) {
		t.Helper()
		res := pr.Check(t.Context(), tg, 300*time.Millisecond)
		if res.Healthy != healthy || !strings.Contains(res.Detail, detail) {
			t.Errorf("%s: %s: healthy %t (%s), want %t with %q", step, tg, res.Healthy, res.Detail, healthy, detail)
		}
	}
	check("serving", p, both, true, "/healthz: HTTP 200, grpc://"+r.GRPCAddr()+"/payments: SERVING")
	check("serving", p, grpcOnly, true, ": SERVING")
	check("unknown service", p, unknown, false, "NotFound")
	check("TLS to a plaintext server", p, tlsToPlain, false, "health check: ")

	if err := region.InjectFault(r.URL(), `{"drop_observer":"a"}`); err != nil {
		t.Fatal(err)
	}
	check("a dropped", p, grpcOnly, false, "DeadlineExceeded")
	check("a dropped", p, both, false, "deadline exceeded")
	check("b not dropped", other, both, true, ": SERVING")

	if err := region.InjectFault(r.URL(), `{"status":503,"drop_observer":""}`); err != nil {
		t.Fatal(err)
	}
	check("faulted", other, grpcOnly, false, ": NOT_SERVING")
	check("faulted", other, both, false, "/healthz: HTTP 503 in")
}
