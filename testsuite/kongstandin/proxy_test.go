package kongstandin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"
)

// app wires the usual failover shape through go-kong: an upstream with one target per region, a service whose
// host names the upstream, and a route on /app.
type app struct {
	c        *kong.Client
	upstream string
	a, b     *backend
}

func newApp(t *testing.T, c *kong.Client, weightA, weightB int) *app {
	t.Helper()
	ctx := context.Background()
	x := &app{c: c, upstream: "app.upstream", a: newBackend(t, "a"), b: newBackend(t, "b")}
	must[*kong.Upstream](t, "upstream")(c.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String(x.upstream)}))
	for _, tw := range []struct {
		b *backend
		w int
	}{{x.a, weightA}, {x.b, weightB}} {
		must[*kong.Target](t, "target")(c.Targets.Create(ctx, &x.upstream, &kong.Target{Target: kong.String(tw.b.addr()), Weight: kong.Int(tw.w)}))
	}
	svc := must[*kong.Service](t, "service")(c.Services.Create(ctx, &kong.Service{Name: kong.String("app"), Host: kong.String(x.upstream), Port: kong.Int(80)}))
	must[*kong.Route](t, "route")(c.Routes.Create(ctx, &kong.Route{Name: kong.String("app"), Paths: kong.StringSlice("/app"), Service: &kong.Service{ID: svc.ID}}))
	return x
}

// setWeights updates both targets, the one gaining weight first (like the orchestrator), so no intermediate
// config has both at zero.
func (x *app) setWeights(t *testing.T, weightA, weightB int) {
	t.Helper()
	order := []struct {
		b *backend
		w int
	}{{x.a, weightA}, {x.b, weightB}}
	if weightB > weightA {
		order[0], order[1] = order[1], order[0]
	}
	for _, tw := range order {
		addr := tw.b.addr()
		must[*kong.Target](t, "set weight")(x.c.Targets.Update(context.Background(), &x.upstream, &addr, &kong.Target{Target: kong.String(addr), Weight: kong.Int(tw.w)}))
	}
}

// spread sends n requests through the proxy and counts the answers per backend.
func spread(t *testing.T, s *Server, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		res, body := proxyGet(t, s, "", "/app/x")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("proxy status %d: %v", res.StatusCode, body)
		}
		got[body["backend"]]++
	}
	return got
}

func TestProxyWeightedSpreading(t *testing.T) {
	s, c := start(t, Options{})
	x := newApp(t, c, 100, 0)

	if got := spread(t, s, 20); got["a"] != 20 {
		t.Errorf("100/0 spread = %v, want all 20 on a", got)
	}
	x.setWeights(t, 50, 50)
	if got := spread(t, s, 100); got["a"] != 50 || got["b"] != 50 {
		t.Errorf("50/50 spread over 100 = %v, want exactly 50/50", got)
	}
	x.setWeights(t, 0, 100)
	if got := spread(t, s, 10); got["b"] != 10 {
		t.Errorf("0/100 spread = %v, want all on b", got)
	}
	x.setWeights(t, 75, 25)
	if got := spread(t, s, 100); got["a"] != 75 || got["b"] != 25 {
		t.Errorf("75/25 spread over 100 = %v, want exactly 75/25", got)
	}
}

func TestProxyKongHeadersAndErrors(t *testing.T) {
	s, c := start(t, Options{})
	x := newApp(t, c, 100, 0)

	res, body := proxyGet(t, s, "", "/app/orders?id=7")
	if res.StatusCode != http.StatusOK || body["path"] != "/orders?id=7" {
		t.Errorf("strip_path: upstream saw %v (status %d), want /orders?id=7", body, res.StatusCode)
	}
	if body["x_forwarded_prefix"] != "/app" || body["x_forwarded_for"] == "" || body["x_kong_request_id"] == "" {
		t.Errorf("forwarding headers seen upstream = %v", body)
	}
	if body["host"] != x.a.addr() {
		t.Errorf("upstream Host = %q, want the target %q (preserve_host off)", body["host"], x.a.addr())
	}
	if via := res.Header.Get("Via"); via != "1.1 kong/3.9.0" {
		t.Errorf("Via = %q, want Kong 3.9's %q", via, "1.1 kong/3.9.0")
	}
	for _, h := range []string{"X-Kong-Upstream-Latency", "X-Kong-Proxy-Latency", "X-Kong-Request-Id"} {
		if res.Header.Get(h) == "" {
			t.Errorf("response lacks %s", h)
		}
	}

	res, body = proxyGet(t, s, "", "/nothing-here")
	if res.StatusCode != http.StatusNotFound || body["message"] != msgNoRoute || body["request_id"] == "" {
		t.Errorf("no route = %d %v, want 404 %q", res.StatusCode, body, msgNoRoute)
	}
	if res.Header.Get("Server") != "kong/3.9.0" {
		t.Errorf("error Server header = %q", res.Header.Get("Server"))
	}

	x.setWeights(t, 0, 0)
	res, body = proxyGet(t, s, "", "/app/x")
	if res.StatusCode != http.StatusServiceUnavailable || body["message"] != msgNoPeer {
		t.Errorf("all weights 0 = %d %v, want 503 %q", res.StatusCode, body, msgNoPeer)
	}
}

func TestProxyRouting(t *testing.T) {
	s, c := start(t, Options{})
	ctx := context.Background()
	general, special, hosted := newBackend(t, "general"), newBackend(t, "special"), newBackend(t, "hosted")
	route := func(name string, b *backend, r *kong.Route) {
		host, port, _ := strings.Cut(b.addr(), ":")
		svc := must[*kong.Service](t, "service")(c.Services.Create(ctx, &kong.Service{Name: kong.String(name), URL: kong.String("http://" + host + ":" + port + "/base")}))
		r.Service = &kong.Service{ID: svc.ID}
		must[*kong.Route](t, "route")(c.Routes.Create(ctx, r))
	}
	route("general", general, &kong.Route{Paths: kong.StringSlice("/api")})
	route("special", special, &kong.Route{Paths: kong.StringSlice("/api/special"), StripPath: kong.Bool(false)})
	route("hosted", hosted, &kong.Route{Paths: kong.StringSlice("/api"), Hosts: kong.StringSlice("*.shop.test")})

	cases := []struct {
		host, path, backend, upstreamPath string
	}{
		{"", "/api/orders", "general", "/base/orders"},
		{"", "/api", "general", "/base"},
		{"", "/api/special/x", "special", "/base/api/special/x"},  // longest prefix wins; strip_path false keeps it
		{"eu.shop.test", "/api/orders", "hosted", "/base/orders"}, // hosts + paths beats paths alone
		{"shop.test", "/api/orders", "general", "/base/orders"},   // "*.shop.test" needs a subdomain
	}
	for _, tc := range cases {
		res, body := proxyGet(t, s, tc.host, tc.path)
		if res.StatusCode != http.StatusOK || body["backend"] != tc.backend || body["path"] != tc.upstreamPath {
			t.Errorf("%s%s → %d %v, want %s at %s", tc.host, tc.path, res.StatusCode, body, tc.backend, tc.upstreamPath)
		}
	}
}

func TestUpstreamURIPathHandlingV0(t *testing.T) {
	cases := []struct {
		strip             bool
		prefix, req, base string
		want              string
	}{
		{true, "/app", "/app", "/", "/"},
		{true, "/app", "/app/", "/", "/"},
		{true, "/app", "/app/x", "/", "/x"},
		{true, "/app", "/appx", "/", "/x"},
		{true, "/app", "/app/x", "/base", "/base/x"},
		{true, "/app", "/app", "/base", "/base"},
		{true, "/app", "/app/", "/base", "/base/"},
		{true, "/app", "/app/x", "/base/", "/base/x"},
		{true, "/app", "/app", "/base/", "/base"},
		{false, "/app", "/app/x", "/", "/app/x"},
		{false, "/app", "/app/x", "/base", "/base/app/x"},
		{false, "/app", "/app/x", "/base/", "/base/app/x"},
		{true, "", "/x", "/base", "/base/x"},
	}
	for _, tc := range cases {
		if got := upstreamURI(tc.strip, tc.prefix, tc.req, tc.base); got != tc.want {
			t.Errorf("strip=%v prefix=%q req=%q base=%q → %q, want %q", tc.strip, tc.prefix, tc.req, tc.base, got, tc.want)
		}
	}
}

// TestProxyPropagationDelay proves a write is invisible to the proxy until PropagationDelay has passed, and visible
// soon after, by polling with a deadline rather than sleeping.
func TestProxyPropagationDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	s, c := start(t, Options{PropagationDelay: delay})

	created := time.Now()
	x := newApp(t, c, 100, 0)
	eventually(t, 3*time.Second, "new route live in the proxy", func() bool {
		res, _ := proxyGetStatus(t, s, "/app/x")
		return res == http.StatusOK
	})
	if waited := time.Since(created); waited < delay {
		t.Errorf("route went live after %v, before the %v delay", waited, delay)
	}

	written := time.Now() // before the write, so "since written" never overstates how long the write is old
	x.setWeights(t, 0, 100)
	_, body := proxyGet(t, s, "", "/app/x")
	if stale := time.Since(written) < delay; stale && body["backend"] != "a" {
		t.Errorf("right after the write the proxy already used the new weights (%v)", body)
	}
	var switched time.Duration
	eventually(t, 3*time.Second, "new weights live in the proxy", func() bool {
		_, body := proxyGet(t, s, "", "/app/x")
		switched = time.Since(written)
		return body["backend"] == "b"
	})
	if switched < delay {
		t.Errorf("weights switched after %v, before the %v delay", switched, delay)
	}
	// The Admin API itself is read-your-writes, like Kong's database.
	tg := must[[]*kong.Target](t, "targets")(c.Targets.ListAll(context.Background(), &x.upstream))
	for _, target := range tg {
		if (kong.StringValue(target.Target) == x.a.addr()) != (intValue(target.Weight) == 0) {
			t.Errorf("admin shows %s weight %d", kong.StringValue(target.Target), intValue(target.Weight))
		}
	}
}

func proxyGetStatus(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	res, err := http.Get(s.ProxyURL() + path)
	if err != nil {
		t.Fatalf("proxy GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestProxyRetriesDeadTarget shows Kong's retry on connection failure: a dead target's share goes to the live one.
func TestProxyRetriesDeadTarget(t *testing.T) {
	s, c := start(t, Options{})
	x := newApp(t, c, 50, 50)
	x.b.srv.Close()
	got := spread(t, s, 10)
	if got["a"] != 10 {
		t.Errorf("with b down = %v, want every request answered by a", got)
	}
	x.a.srv.Close()
	res, body := proxyGet(t, s, "", "/app/x")
	if res.StatusCode != http.StatusBadGateway || body["message"] != msgBadUpstream {
		t.Errorf("all targets down = %d %v, want 502 %q", res.StatusCode, body, msgBadUpstream)
	}
}

func TestStatusCountsRequests(t *testing.T) {
	s, c := start(t, Options{})
	_ = newApp(t, c, 100, 0)
	spread(t, s, 3)
	st := must[*kong.Status](t, "status")(c.Status(context.Background()))
	if st.Server.TotalRequests < 3 || st.Server.ConnectionsAccepted < 1 {
		b, _ := json.Marshal(st)
		t.Errorf("status counters = %s", b)
	}
}
