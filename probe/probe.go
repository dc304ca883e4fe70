// Package probe checks a region's health directly, not through the gateway: an HTTP GET that must answer 2xx and,
// where the plan names one, a grpc.health.v1 Check that must answer SERVING. The failover's detection, readiness
// and hold-down probes (package activities) and the front door's region watcher (package watcher) all use it.
package probe

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/failover/failover/plan"
)

// ObserverHeader names the prober in every HTTP probe (and, lower-cased, in gRPC metadata), so a region's logs
// (and the demo region's per-observer faults) can tell the watchers apart.
const ObserverHeader = "X-Failover-Observer"

// Target is what one probe checks: the HTTP health URL, and the gRPC health check when set.
type Target struct {
	URL  string           `json:"url"`
	GRPC *plan.GRPCHealth `json:"grpc,omitempty"`
}

// TargetOf is the probe target of a plan's region.
func TargetOf(r plan.Region) Target { return Target{URL: r.HealthURL, GRPC: r.GRPC} }

// String names the target in evidence and logs.
func (t Target) String() string {
	var parts []string
	if t.URL != "" {
		parts = append(parts, t.URL)
	}
	if t.GRPC != nil {
		parts = append(parts, grpcName(*t.GRPC))
	}
	return strings.Join(parts, " + ")
}

// grpcName names a gRPC health check: grpc://address/service.
func grpcName(g plan.GRPCHealth) string {
	s := "grpc://" + g.Address
	if g.Service != "" {
		s += "/" + g.Service
	}
	return s
}

// Result is one probe's verdict and what it saw.
type Result struct {
	Healthy bool
	Detail  string
	Took    time.Duration
}

// Prober probes targets. It keeps one gRPC connection per address, so sub-second probes do not dial every time.
// The zero value works; Close releases the connections.
type Prober struct {
	// HTTP is the client for HTTP probes; default http.DefaultClient.
	HTTP *http.Client
	// Observer, when set, is sent as ObserverHeader.
	Observer string

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// Check probes t once within timeout: healthy only when the HTTP URL (if any) answers 2xx and the gRPC health
// check (if any) answers SERVING. A slow answer is a failure, like no answer.
func (p *Prober) Check(ctx context.Context, t Target, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var details []string
	healthy := t.URL != "" || t.GRPC != nil
	if t.URL != "" {
		ok, d := p.checkHTTP(ctx, t.URL)
		healthy = healthy && ok
		details = append(details, t.URL+": "+d)
	}
	if t.GRPC != nil && healthy {
		ok, d := p.checkGRPC(ctx, *t.GRPC)
		healthy = healthy && ok
		details = append(details, grpcName(*t.GRPC)+": "+d)
	}
	took := time.Since(start)
	if len(details) == 0 {
		details = append(details, "nothing to probe: no health URL or gRPC health check")
	}
	return Result{Healthy: healthy, Took: took, Detail: fmt.Sprintf("probe %s in %s", strings.Join(details, ", "), took.Round(time.Millisecond))}
}

func (p *Prober) checkHTTP(ctx context.Context, url string) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	if p.Observer != "" {
		req.Header.Set(ObserverHeader, p.Observer)
	}
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode < 300, fmt.Sprintf("HTTP %d", resp.StatusCode)
}

func (p *Prober) checkGRPC(ctx context.Context, g plan.GRPCHealth) (bool, string) {
	conn, err := p.conn(g)
	if err != nil {
		return false, err.Error()
	}
	if p.Observer != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, strings.ToLower(ObserverHeader), p.Observer)
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: g.Service})
	if err != nil {
		return false, "health check: " + err.Error()
	}
	st := resp.GetStatus()
	return st == healthpb.HealthCheckResponse_SERVING, st.String()
}

func (p *Prober) conn(g plan.GRPCHealth) (*grpc.ClientConn, error) {
	key := fmt.Sprintf("%s|%t|%s|%x", g.Address, g.TLS, g.ServerName, sha256.Sum256([]byte(g.CAPEM)))
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[key]; ok {
		return c, nil
	}
	creds := insecure.NewCredentials()
	if g.TLS {
		name := g.ServerName
		if name == "" {
			name, _, _ = net.SplitHostPort(g.Address)
		}
		roots, err := g.CertPool() // nil: the system roots
		if err != nil {
			return nil, fmt.Errorf("grpc.caFile of %s: %w", g.Address, err)
		}
		creds = credentials.NewTLS(&tls.Config{ServerName: name, RootCAs: roots, MinVersion: tls.VersionTLS12})
	}
	c, err := grpc.NewClient(g.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", g.Address, err)
	}
	if p.conns == nil {
		p.conns = map[string]*grpc.ClientConn{}
	}
	p.conns[key] = c
	return c, nil
}

// Close closes the gRPC connections.
func (p *Prober) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.conns {
		c.Close()
		delete(p.conns, k)
	}
}
