package kongstandin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/kong/go-kong/kong"

	"github.com/failover/failover/testsuite/kongstandin"
)

// Example configures the stand-in through go-kong exactly as against a real Kong, then sends traffic through its
// proxy: an upstream with two regional targets at 50/50, a service naming the upstream, a route on /app.
func Example() {
	s, err := kongstandin.Start(kongstandin.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	var regions []*httptest.Server
	defer func() {
		for _, r := range regions {
			r.Close()
		}
	}()
	region := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
		regions = append(regions, srv)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	ctx := context.Background()
	admin := s.AdminURL()
	c, _ := kong.NewClient(&admin, nil)
	upstream := "app.upstream"
	_, _ = c.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String(upstream)})
	_, _ = c.Targets.Create(ctx, &upstream, &kong.Target{Target: kong.String(region("eu")), Weight: kong.Int(50)})
	_, _ = c.Targets.Create(ctx, &upstream, &kong.Target{Target: kong.String(region("us")), Weight: kong.Int(50)})
	svc, _ := c.Services.Create(ctx, &kong.Service{Name: kong.String("app"), Host: kong.String(upstream)})
	_, _ = c.Routes.Create(ctx, &kong.Route{Paths: kong.StringSlice("/app"), Service: &kong.Service{ID: svc.ID}})

	for range 4 {
		res, _ := http.Get(s.ProxyURL() + "/app")
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Print(string(b), " ")
	}
	fmt.Println()
	// Output: eu us eu us
}
