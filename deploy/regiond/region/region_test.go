package region

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func startRegion(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Region == "" {
		opts.Region = "us-east"
	}
	if opts.Service == "" {
		opts.Service = "payments"
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	r := do(t, http.MethodGet, s.URL()+"/metrics", "")
	if r.code != http.StatusOK {
		t.Fatalf("/metrics = %d", r.code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, r.body)
	}
	return mf
}

// gauge returns the value of a label-less gauge.
func gauge(t *testing.T, mf map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := mf[name]
	if !ok || len(f.Metric) != 1 {
		t.Fatalf("%s missing or not a single series", name)
	}
	return f.Metric[0].GetGauge().GetValue()
}

// requests returns region_http_requests_total by code.
func requests(t *testing.T, mf map[string]*dto.MetricFamily) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range mf["region_http_requests_total"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "code" {
				out[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func TestItemsCacheMissThenHit(t *testing.T) {
	s := startRegion(t, Options{Region: "eu-west"})

	r := do(t, http.MethodGet, s.URL()+"/items/user-1", "")
	if r.code != http.StatusOK || r.header.Get("X-Region") != "eu-west" {
		t.Fatalf("first GET = %d X-Region %q: %s", r.code, r.header.Get("X-Region"), r.body)
	}
	want := Item{Key: "user-1", Value: "value-of-user-1", Region: "eu-west", Cache: "miss"}
	if got := decode[Item](t, r); got != want {
		t.Fatalf("first GET = %+v, want %+v", got, want)
	}
	want.Cache = "hit"
	if got := decode[Item](t, do(t, http.MethodGet, s.URL()+"/items/user-1", "")); got != want {
		t.Fatalf("second GET = %+v, want %+v", got, want)
	}
	if got := decode[Item](t, do(t, http.MethodGet, s.URL()+"/items/user-2", "")); got.Cache != "miss" {
		t.Fatalf("other key = %+v, want a miss", got)
	}
	mf := scrape(t, s)
	if got := gauge(t, mf, "region_cache_hit_ratio"); got < 0.333 || got > 0.334 {
		t.Errorf("region_cache_hit_ratio = %v, want 1/3", got)
	}
	if got := requests(t, mf)["200"]; got != 3 {
		t.Errorf(`region_http_requests_total{code="200"} = %v, want 3`, got)
	}
	if r := do(t, http.MethodGet, s.URL()+"/items/", ""); r.code != http.StatusNotFound {
		t.Errorf("GET /items/ = %d, want 404", r.code)
	}
}

func TestWarmupLoadsOnceAndIsIdempotent(t *testing.T) {
	s := startRegion(t, Options{})
	do(t, http.MethodGet, s.URL()+"/items/c", "") // already cached before the warmup

	r := do(t, http.MethodPost, s.URL()+"/warmup", `{"keys":["a","b","a","c"]}`)
	if r.code != http.StatusOK {
		t.Fatalf("warmup = %d %s", r.code, r.body)
	}
	if got, want := decode[WarmupResult](t, r), (WarmupResult{Loaded: 2, Cached: 3, HitRatio: 1.0 / 3}); got != want {
		t.Fatalf("first warmup = %+v, want %+v", got, want)
	}
	r = do(t, http.MethodPost, s.URL()+"/warmup", `{"keys":["a","b","c"]}`)
	if got, want := decode[WarmupResult](t, r), (WarmupResult{Loaded: 0, Cached: 3, HitRatio: 1}); got != want {
		t.Fatalf("repeated warmup = %+v, want %+v", got, want)
	}
	for _, k := range []string{"a", "b"} {
		if got := decode[Item](t, do(t, http.MethodGet, s.URL()+"/items/"+k, "")); got.Cache != "hit" {
			t.Errorf("GET %s after warmup = %+v, want a hit", k, got)
		}
	}
	// Warmup is not traffic: the ratio counts only GETs (miss c, hit a, hit b).
	if got := gauge(t, scrape(t, s), "region_cache_hit_ratio"); got < 0.666 || got > 0.667 {
		t.Errorf("region_cache_hit_ratio = %v, want 2/3", got)
	}

	for _, tc := range []struct{ body, want string }{
		{`{"key":["a"]}`, `unknown field \"key\"`},
		{`{}`, `missing \"keys\"`},
		{`{"keys":["a",""]}`, `keys[1] is empty`},
		{`{"keys":"a"}`, `keys`},
		{``, `empty body`},
	} {
		r := do(t, http.MethodPost, s.URL()+"/warmup", tc.body)
		if r.code != http.StatusBadRequest || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("warmup %q = %d %s, want 400 containing %s", tc.body, r.code, r.body, tc.want)
		}
	}
}

func TestFaultsAndClear(t *testing.T) {
	s := startRegion(t, Options{})
	if r := do(t, http.MethodGet, s.URL()+"/healthz", ""); r.code != 200 ||
		decode[Health](t, r) != (Health{Status: "ok", Region: "us-east", Service: "payments", Instance: "payments-us-east-1", ReadyInstances: 3}) {
		t.Fatalf("healthz = %d %s", r.code, r.body)
	}

	r := do(t, http.MethodPost, s.URL()+"/fault", `{"status":503,"replication_lag_seconds":2.5,"ready_instances":0}`)
	if r.code != 200 || decode[Fault](t, r) != (Fault{Status: 503, ReplicationLagSeconds: 2.5}) {
		t.Fatalf("POST /fault = %d %s", r.code, r.body)
	}
	for _, path := range []string{"/items/k", "/healthz"} {
		r := do(t, http.MethodGet, s.URL()+path, "")
		if r.code != 503 || r.header.Get("X-Region") != "us-east" {
			t.Errorf("GET %s under fault = %d X-Region %q %s, want 503", path, r.code, r.header.Get("X-Region"), r.body)
		}
	}
	mf := scrape(t, s) // /metrics never faults
	if got := requests(t, mf)["503"]; got != 2 {
		t.Errorf(`region_http_requests_total{code="503"} = %v, want 2`, got)
	}
	if lag, ready := gauge(t, mf, "region_replication_lag_seconds"), gauge(t, mf, "region_ready_instances"); lag != 2.5 || ready != 0 {
		t.Errorf("lag %v ready %v, want 2.5 and 0", lag, ready)
	}

	// Only present fields change: adding latency keeps the 503.
	r = do(t, http.MethodPost, s.URL()+"/fault", `{"latency_ms":50}`)
	if got := decode[Fault](t, r); got != (Fault{Status: 503, LatencyMS: 50, ReplicationLagSeconds: 2.5}) {
		t.Fatalf("patched fault = %+v", got)
	}
	t0 := time.Now()
	if r := do(t, http.MethodGet, s.URL()+"/healthz", ""); r.code != 503 {
		t.Errorf("healthz = %d", r.code)
	}
	if took := time.Since(t0); took < 50*time.Millisecond {
		t.Errorf("healthz took %v with 50ms injected latency", took)
	}

	if r := do(t, http.MethodDelete, s.URL()+"/fault", ""); r.code != 200 || decode[Fault](t, r) != (Fault{ReadyInstances: 3}) {
		t.Fatalf("DELETE /fault = %d %s", r.code, r.body)
	}
	if r := do(t, http.MethodGet, s.URL()+"/items/k", ""); r.code != 200 {
		t.Errorf("items after clear = %d", r.code)
	}
	mf = scrape(t, s)
	if lag, ready := gauge(t, mf, "region_replication_lag_seconds"), gauge(t, mf, "region_ready_instances"); lag != 0 || ready != 3 {
		t.Errorf("after clear: lag %v ready %v, want 0 and 3", lag, ready)
	}
}

func TestFaultRejectsBadInput(t *testing.T) {
	s := startRegion(t, Options{})
	for _, tc := range []struct{ body, want string }{
		{`{"stauts":503}`, `unknown field \"stauts\"`},
		{`{"status":"503"}`, `status`},
		{`{"latency_ms":-1}`, `latency_ms -1`},
		{`{"status":99}`, `status 99`},
		{`{"ready_instances":-2}`, `ready_instances -2`},
		{`{"replication_lag_seconds":-1}`, `replication_lag_seconds`},
		{`{"status":503} {}`, `trailing data`},
		{`not json`, `invalid character`},
	} {
		r := do(t, http.MethodPost, s.URL()+"/fault", tc.body)
		if r.code != http.StatusBadRequest || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("POST /fault %s = %d %s, want 400 containing %s", tc.body, r.code, r.body, tc.want)
		}
	}
	if got := decode[Fault](t, do(t, http.MethodGet, s.URL()+"/fault", "")); got != (Fault{ReadyInstances: 3}) {
		t.Errorf("rejected faults changed state: %+v", got)
	}
}

func TestMetricsExposition(t *testing.T) {
	s := startRegion(t, Options{})
	do(t, http.MethodGet, s.URL()+"/items/a", "")
	do(t, http.MethodGet, s.URL()+"/healthz", "")
	do(t, http.MethodPost, s.URL()+"/fault", `{"status":500}`)
	do(t, http.MethodGet, s.URL()+"/items/a", "")
	mf := scrape(t, s)

	for name, typ := range map[string]dto.MetricType{
		"region_http_requests_total":           dto.MetricType_COUNTER,
		"region_http_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"region_cache_hit_ratio":               dto.MetricType_GAUGE,
		"region_replication_lag_seconds":       dto.MetricType_GAUGE,
		"region_ready_instances":               dto.MetricType_GAUGE,
		"region_active_epoch":                  dto.MetricType_GAUGE,
	} {
		f, ok := mf[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s is %v, want %v", name, f.GetType(), typ)
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "region" || l.GetName() == "service" {
					t.Errorf("%s has a %s label; Prometheus adds it from the target", name, l.GetName())
				}
			}
		}
	}
	if got, want := requests(t, mf), map[string]float64{"200": 2, "500": 1, "400": 0, "404": 0, "503": 0}; !equalMaps(got, want) {
		t.Errorf("requests by code = %v, want %v (fault and metrics calls are not traffic)", got, want)
	}
	if h := mf["region_http_request_duration_seconds"].Metric[0].GetHistogram(); h.GetSampleCount() != 3 {
		t.Errorf("duration histogram count = %d, want 3", h.GetSampleCount())
	}
	if got := gauge(t, mf, "region_ready_instances"); got != 3 {
		t.Errorf("region_ready_instances = %v, want 3", got)
	}
	if got := gauge(t, mf, "region_active_epoch"); got != 0 {
		t.Errorf("region_active_epoch = %v, want 0 without etcd", got)
	}
	if _, ok := mf["go_goroutines"]; ok {
		t.Error("go_goroutines exported: the instance must use its own registry only")
	}
}

func equalMaps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestStartErrors(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"port in use", Options{Region: "us-east", Service: "p", Addr: held.Addr().String()}, "address already in use (is the port in use?"},
		{"no region", Options{Service: "p"}, "Options.Region is empty"},
		{"no service", Options{Region: "us-east"}, "Options.Service is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(t.Context(), tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %q: want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestCloseIsIdempotentAndContextEndCloses(t *testing.T) {
	s := startRegion(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("still listening after Close")
	}

	ctx, cancel := context.WithCancel(t.Context())
	s2, err := Start(ctx, Options{Region: "eu-west", Service: "payments", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	cancel()
	select {
	case <-s2.serveDone:
	case <-time.After(10 * time.Second):
		t.Fatal("still serving 10s after its context ended")
	}
}
