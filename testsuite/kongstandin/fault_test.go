package kongstandin

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"
)

func TestAdminFaultStatusAndCount(t *testing.T) {
	s, c := start(t, Options{})
	ctx := context.Background()
	up := "u.test"
	must[*kong.Upstream](t, "upstream")(c.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String(up)}))
	must[*kong.Target](t, "target")(c.Targets.Create(ctx, &up, &kong.Target{Target: kong.String("10.0.0.1:80")}))

	s.InjectAdminFault(Fault{Status: http.StatusServiceUnavailable, Count: 2})
	for i := range 2 {
		_, err := c.Targets.ListAll(ctx, &up)
		var apiErr *kong.APIError
		if !errors.As(err, &apiErr) || apiErr.Code() != http.StatusServiceUnavailable {
			t.Fatalf("call %d under a 503 fault: err = %v, want a 503 APIError", i+1, err)
		}
	}
	if _, err := c.Targets.ListAll(ctx, &up); err != nil {
		t.Errorf("third call after Count 2 was used up: %v", err)
	}

	// Methods narrows the fault: reads pass, PUTs fail, until cleared.
	s.InjectAdminFault(Fault{Status: http.StatusInternalServerError, Methods: []string{"PUT"}})
	if _, err := c.Targets.ListAll(ctx, &up); err != nil {
		t.Errorf("GET under a PUT-only fault: %v", err)
	}
	for range 3 {
		_, err := c.Targets.Update(ctx, &up, kong.String("10.0.0.1:80"), &kong.Target{Weight: kong.Int(5)})
		if apiCode(err) != http.StatusInternalServerError {
			t.Errorf("PUT under a PUT-only fault (Count 0 = until cleared): err = %v, want 500", err)
		}
	}
	s.ClearAdminFault()
	if _, err := c.Targets.Update(ctx, &up, kong.String("10.0.0.1:80"), &kong.Target{Weight: kong.Int(5)}); err != nil {
		t.Errorf("PUT after ClearAdminFault: %v", err)
	}
	if all := must[[]*kong.Target](t, "targets")(c.Targets.ListAll(ctx, &up)); intValue(all[0].Weight) != 5 {
		t.Errorf("faulted PUTs must not change anything; weight = %d, want 5 from the one accepted PUT", intValue(all[0].Weight))
	}
}

func TestAdminFaultLatency(t *testing.T) {
	s, c := start(t, Options{})
	const latency = 300 * time.Millisecond

	// A caller with a shorter deadline sees a timeout error through go-kong.
	s.InjectAdminFault(Fault{Latency: latency, Count: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Status(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("status with a 50ms deadline under 300ms latency: err = %v, want deadline exceeded", err)
	}

	// An http.Client timeout surfaces the same way.
	slow := newClient(t, s, &http.Client{Timeout: 50 * time.Millisecond})
	s.InjectAdminFault(Fault{Latency: latency, Count: 1})
	if _, err := slow.Root(context.Background()); err == nil {
		t.Errorf("root with a 50ms client timeout under 300ms latency succeeded")
	}

	// Latency alone still serves the request, late; latency plus status fails late.
	s.InjectAdminFault(Fault{Latency: 100 * time.Millisecond, Count: 2, Methods: []string{"GET"}})
	began := time.Now()
	if _, err := c.Status(context.Background()); err != nil {
		t.Errorf("status under latency only: %v", err)
	}
	if took := time.Since(began); took < 100*time.Millisecond {
		t.Errorf("status under 100ms latency took %v", took)
	}
	s.InjectAdminFault(Fault{Latency: 50 * time.Millisecond, Status: http.StatusBadGateway, Count: 1})
	if _, err := c.Status(context.Background()); apiCode(err) != http.StatusBadGateway {
		t.Errorf("status under latency+502: err = %v, want 502", err)
	}
}

func TestAdminToken(t *testing.T) {
	const token = "s3cret"
	s, anonymous := start(t, Options{AdminToken: token})
	ctx := context.Background()

	_, err := anonymous.Root(ctx)
	var apiErr *kong.APIError
	if !errors.As(err, &apiErr) || apiErr.Code() != http.StatusUnauthorized {
		t.Fatalf("no token: err = %v, want a 401 APIError", err)
	}
	wrong := newClient(t, s, kong.HTTPClientWithHeaders(&http.Client{Timeout: 5 * time.Second}, http.Header{"Kong-Admin-Token": {"nope"}}))
	if _, err := wrong.Status(ctx); apiCode(err) != http.StatusUnauthorized {
		t.Errorf("wrong token: err = %v, want 401", err)
	}
	authed := newClient(t, s, kong.HTTPClientWithHeaders(&http.Client{Timeout: 5 * time.Second}, http.Header{"Kong-Admin-Token": {token}}))
	info := must[map[string]any](t, "root with token")(authed.Root(ctx))
	if v := kong.VersionFromInfo(info); v != kongVersion {
		t.Errorf("version = %q, want %s", v, kongVersion)
	}
	if _, err := authed.Services.Create(ctx, &kong.Service{Name: kong.String("a"), Host: kong.String("a.internal")}); err != nil {
		t.Errorf("write with token: %v", err)
	}
}

func TestCloseIsIdempotentAndReleasesPorts(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin := s.adminLn.Addr().String()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	again, err := Start(Options{AdminAddr: admin})
	if err != nil {
		t.Fatalf("restart on the released admin port %s: %v", admin, err)
	}
	_ = again.Close()
}
