package probe_test

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/probe"
	"github.com/failover/failover/testsuite/testpki"
)

// tlsHealthServer serves grpc-go's grpc.health.v1 over TLS with a certificate from ca (valid for 127.0.0.1 and
// localhost), answering SERVING for "payments".
func tlsHealthServer(t *testing.T, ca *testpki.CA) string {
	t.Helper()
	pair := ca.Issue(t, testpki.Leaf{Name: "region-grpc", Server: true})
	creds, err := credentials.NewServerTLSFromFile(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(creds))
	h := health.NewServer()
	h.SetServingStatus("payments", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, h)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// A region whose gRPC server has a certificate from a private CA is healthy only to probes that trust that CA
// (grpc.caFile), and only under the name the certificate carries (grpc.serverName).
func TestProbeGRPCHealthOverTLSWithThePlansCA(t *testing.T) {
	ca := testpki.NewCA(t, "regions")
	addr := tlsHealthServer(t, ca)
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, err := os.ReadFile(testpki.NewCA(t, "other").CertFile)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	p := &probe.Prober{Observer: "a"}
	t.Cleanup(p.Close)
	for _, tc := range []struct {
		name    string
		g       plan.GRPCHealth
		healthy bool
		detail  string
	}{
		{"the plan's CA", plan.GRPCHealth{Address: addr, Service: "payments", TLS: true, CAPEM: string(caPEM)}, true, ": SERVING"},
		{"server name override", plan.GRPCHealth{Address: addr, Service: "payments", TLS: true, ServerName: "localhost", CAPEM: string(caPEM)}, true, ": SERVING"},
		{"by host name", plan.GRPCHealth{Address: "localhost:" + port, Service: "payments", TLS: true, CAPEM: string(caPEM)}, true, ": SERVING"},
		{"system roots only", plan.GRPCHealth{Address: addr, Service: "payments", TLS: true}, false, "certificate signed by unknown authority"},
		{"another CA", plan.GRPCHealth{Address: addr, Service: "payments", TLS: true, CAPEM: string(otherPEM)}, false, "certificate signed by unknown authority"},
		{"a name the certificate lacks", plan.GRPCHealth{Address: addr, Service: "payments", TLS: true, ServerName: "payments.internal", CAPEM: string(caPEM)}, false, "payments.internal"},
		{"a broken CA", plan.GRPCHealth{Address: addr, TLS: true, CAPEM: "junk"}, false, "grpc.caFile of " + addr + ": no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := p.Check(t.Context(), probe.Target{GRPC: &tc.g}, 5*time.Second)
			if res.Healthy != tc.healthy || !strings.Contains(res.Detail, tc.detail) {
				t.Fatalf("healthy %t (%s), want %t with %q", res.Healthy, res.Detail, tc.healthy, tc.detail)
			}
		})
	}
}
