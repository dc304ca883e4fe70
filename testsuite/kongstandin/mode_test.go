package kongstandin

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"
	"gopkg.in/yaml.v3"
)

// A DB-less node, driven like the Kong Ingress Controller and decK drive one: GET / says database off, entity
// writes answer Kong's 405, the configuration is loaded and read back through /config, and check_hash skips an
// identical one.
func TestDBLessMode(t *testing.T) {
	s, kc := start(t, Options{Mode: ModeDBLess})
	ctx := context.Background()
	root := must[map[string]any](t, "GET /")(kc.Root(ctx))
	conf, _ := root["configuration"].(map[string]any)
	if conf["database"] != "off" || conf["role"] != "traditional" {
		t.Fatalf("GET / configuration database=%v role=%v, want off/traditional", conf["database"], conf["role"])
	}
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	decl := `{"_format_version":"3.0","services":[{"name":"pay","host":"payments","routes":[{"name":"r","paths":["/pay"]}]}],
	  "upstreams":[{"name":"payments","targets":[{"target":"` + blue.addr() + `","weight":100},{"target":"` + green.addr() + `","weight":0}]}]}`
	if err := kc.ReloadDeclarativeRawConfig(ctx, strings.NewReader(decl), true, false); err != nil {
		t.Fatalf("POST /config: %v", err)
	}
	hash1 := must[*kong.Status](t, "GET /status")(kc.Status(ctx)).ConfigurationHash
	if hash1 == "" || hash1 == strings.Repeat("0", 32) {
		t.Fatalf("configuration_hash after a load is %q, want a new hash", hash1)
	}
	// Identical again with check_hash: 304, nothing reloaded.
	status, _ := call(t, kc, http.MethodPost, "/config?check_hash=1", decl)
	if status != http.StatusNotModified {
		t.Errorf("POST /config?check_hash=1 of the same config = %d, want 304", status)
	}
	if _, body := proxyGet(t, s, "", "/pay"); body["backend"] != "blue" {
		t.Errorf("proxy after load went to %q, want blue", body["backend"])
	}

	up := "payments"
	target := green.addr()
	_, err := kc.Targets.Update(ctx, &up, &target, &kong.Target{Target: &target, Weight: kong.Int(100)})
	if apiCode(err) != http.StatusMethodNotAllowed || !strings.Contains(err.Error(), "cannot update 'targets' entities when not using a database") {
		t.Fatalf("target PUT on DB-less = %v, want 405 cannot update 'targets' entities", err)
	}
	if _, err := kc.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("x")}); apiCode(err) != http.StatusMethodNotAllowed {
		t.Errorf("POST /upstreams on DB-less = %v, want 405", err)
	}
	// Reads still work.
	targets := must[[]*kong.Target](t, "list targets")(kc.Targets.ListAll(ctx, &up))
	if len(targets) != 2 {
		t.Errorf("targets = %d, want 2", len(targets))
	}

	// The export is YAML with top-level entities and foreign keys as ids; changing a weight in it and posting it
	// back is how a DB-less node's targets change.
	text := must[[]byte](t, "GET /config")(kc.Config(ctx))
	var doc map[string]any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		t.Fatalf("GET /config is not YAML: %v\n%s", err, text)
	}
	if doc["_format_version"] != "3.0" || len(listOf(doc["targets"])) != 2 {
		t.Fatalf("GET /config = %v, want format 3.0 and 2 targets", doc)
	}
	for _, raw := range listOf(doc["targets"]) {
		tm := raw.(map[string]any)
		if _, isID := tm["upstream"].(string); !isID {
			t.Errorf("exported target's upstream = %v, want the bare id", tm["upstream"])
		}
		tm["weight"] = map[bool]int{true: 100, false: 0}[tm["target"] == green.addr()]
	}
	post := must[string](t, "encode")(func() (string, error) { b, err := yaml.Marshal(doc); return string(b), err }())
	if status, body := call(t, kc, http.MethodPost, "/config?check_hash=1", map[string]any{"config": post}); status != http.StatusCreated {
		t.Fatalf("POST /config with the changed export = %d %v", status, body)
	}
	if hash2 := must[*kong.Status](t, "GET /status")(kc.Status(ctx)).ConfigurationHash; hash2 == hash1 {
		t.Errorf("configuration_hash unchanged after a changed load")
	}
	eventually(t, 2*time.Second, "proxy follows the reloaded config", func() bool {
		_, body := proxyGet(t, s, "", "/pay")
		return body["backend"] == "green"
	})
}

// A hybrid data plane reports its role and refuses writes; a node with a database refuses /config.
func TestDataPlaneAndDatabaseModes(t *testing.T) {
	_, dp := start(t, Options{Mode: ModeDataPlane})
	ctx := context.Background()
	conf, _ := must[map[string]any](t, "GET /")(dp.Root(ctx))["configuration"].(map[string]any)
	if conf["database"] != "off" || conf["role"] != "data_plane" {
		t.Errorf("data plane GET / database=%v role=%v", conf["database"], conf["role"])
	}
	if _, err := dp.Services.Create(ctx, &kong.Service{Name: kong.String("s"), Host: kong.String("h")}); apiCode(err) != http.StatusMethodNotAllowed {
		t.Errorf("POST /services on a data plane = %v, want 405", err)
	}
	_, db := start(t, Options{})
	if _, err := db.Config(ctx); apiCode(err) != http.StatusBadRequest {
		t.Errorf("GET /config with a database = %v, want 400", err)
	}
	if _, err := Start(Options{Mode: "cluster"}); err == nil || !strings.Contains(err.Error(), "ModeDBLess") {
		t.Errorf("unknown mode: %v, want an error naming the modes", err)
	}
}

// A hybrid control plane takes entity writes; each data plane reports the new configuration hash only after its
// lag, in GET /clustering/data-planes.
func TestControlPlaneDataPlanesLag(t *testing.T) {
	_, kc := start(t, Options{Mode: ModeControlPlane, DataPlanes: []DataPlane{{Hostname: "dp-fast"}, {Hostname: "dp-slow", Lag: 400 * time.Millisecond}}})
	ctx := context.Background()
	conf, _ := must[map[string]any](t, "GET /")(kc.Root(ctx))["configuration"].(map[string]any)
	if conf["database"] != "postgres" || conf["role"] != "control_plane" {
		t.Fatalf("GET / database=%v role=%v, want postgres/control_plane", conf["database"], conf["role"])
	}
	hashes := func() map[string]string {
		status, body := call(t, kc, http.MethodGet, "/clustering/data-planes", nil)
		if status != http.StatusOK {
			t.Fatalf("GET /clustering/data-planes = %d %v", status, body)
		}
		out := map[string]string{}
		for _, raw := range listOf(body["data"]) {
			dp := raw.(map[string]any)
			out[dp["hostname"].(string)], _ = dp["config_hash"].(string)
		}
		return out
	}
	before := hashes()
	if _, err := kc.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("payments")}); err != nil {
		t.Fatalf("entity write on a control plane: %v", err)
	}
	want := must[*kong.Status](t, "GET /status")(kc.Status(ctx)).ConfigurationHash
	now := hashes()
	if now["dp-fast"] != want || now["dp-slow"] != before["dp-slow"] {
		t.Errorf("right after the write: %v, want dp-fast on %s and dp-slow still on %s", now, want, before["dp-slow"])
	}
	eventually(t, 2*time.Second, "dp-slow applies the write", func() bool { return hashes()["dp-slow"] == want })

	_, dp := start(t, Options{Mode: ModeDBLess})
	if status, _ := call(t, dp, http.MethodGet, "/clustering/data-planes", nil); status != http.StatusBadRequest {
		t.Errorf("GET /clustering/data-planes off a control plane = %d, want 400", status)
	}
	if _, err := Start(Options{DataPlanes: []DataPlane{{Hostname: "x"}}}); err == nil || !strings.Contains(err.Error(), "ModeControlPlane") {
		t.Errorf("data planes without a control plane: %v, want an error", err)
	}
}

// A target marked unhealthy (PUT …/unhealthy, or a failing passive check) gets no traffic and reports UNHEALTHY
// whatever its weight; a weight change does not bring it back, PUT …/healthy does.
func TestTargetHealthMarks(t *testing.T) {
	s, kc := start(t, Options{})
	ctx := context.Background()
	blue, green := newBackend(t, "blue"), newBackend(t, "green")
	up := "payments"
	must[*kong.Upstream](t, "upstream")(kc.Upstreams.Create(ctx, &kong.Upstream{Name: &up}))
	for _, b := range []*backend{blue, green} {
		must[*kong.Target](t, "target")(kc.Targets.Create(ctx, &up, &kong.Target{Target: kong.String(b.addr()), Weight: kong.Int(50)}))
	}
	must[*kong.Service](t, "service")(kc.Services.Create(ctx, &kong.Service{Name: kong.String("pay"), Host: &up}))
	must[*kong.Route](t, "route")(kc.Routes.Create(ctx, &kong.Route{Paths: kong.StringSlice("/pay"), Service: &kong.Service{Name: kong.String("pay")}}))
	health := func() map[string]string {
		out := map[string]string{}
		for _, h := range must[[]*kong.UpstreamNodeHealth](t, "health")(kc.UpstreamNodeHealth.ListAll(ctx, &up)) {
			out[*h.Target] = *h.Health
		}
		return out
	}
	if status, _ := call(t, kc, http.MethodPut, "/upstreams/payments/targets/"+green.addr()+"/unhealthy", nil); status != http.StatusNoContent {
		t.Fatalf("PUT …/unhealthy = %d, want 204", status)
	}
	must[*kong.Target](t, "raise green")(kc.Targets.Update(ctx, &up, kong.String(green.addr()), &kong.Target{Weight: kong.Int(100)}))
	if h := health(); h[green.addr()] != "UNHEALTHY" || h[blue.addr()] == "UNHEALTHY" {
		t.Errorf("health %v: want green UNHEALTHY", h)
	}
	for range 6 {
		if _, body := proxyGet(t, s, "", "/pay"); body["backend"] != "blue" {
			t.Fatalf("an unhealthy target got traffic: %v", body)
		}
	}
	if status, _ := call(t, kc, http.MethodPut, "/upstreams/payments/targets/"+green.addr()+"/healthy", nil); status != http.StatusNoContent {
		t.Fatalf("PUT …/healthy = %d, want 204", status)
	}
	if h := health(); h[green.addr()] == "UNHEALTHY" {
		t.Errorf("health %v after …/healthy: want green back", h)
	}
	if status, _ := call(t, kc, http.MethodPut, "/upstreams/payments/targets/10.9.9.9:1/healthy", nil); status != http.StatusNotFound {
		t.Errorf("PUT …/healthy of an unknown target = %d, want 404", status)
	}
}

// Konnect-style: the Admin API lives under the control plane's path and wants the bearer token; go-kong addresses
// it with that path as its base URL.
func TestKonnectPathAndToken(t *testing.T) {
	prefix := "/v2/control-planes/4b1c6a2e-1c2d-4a55-9a0e-0c1f2d3e4f50/core-entities"
	s, _ := start(t, Options{KonnectPrefix: prefix, KonnectToken: "kpat_good"})
	ctx := context.Background()
	client := func(token string) *kong.Client {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		base := s.AdminURL() + prefix
		kc, err := kong.NewClient(&base, kong.HTTPClientWithHeaders(&http.Client{Timeout: 5 * time.Second}, h))
		if err != nil {
			t.Fatal(err)
		}
		return kc
	}
	kc := client("kpat_good")
	if _, err := kc.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("payments")}); err != nil {
		t.Fatalf("create upstream under the control-plane path: %v", err)
	}
	if _, err := client("kpat_revoked").Upstreams.Get(ctx, kong.String("payments")); apiCode(err) != http.StatusUnauthorized {
		t.Errorf("wrong token: %v, want 401", err)
	}
	if _, err := kc.Root(ctx); apiCode(err) != http.StatusNotFound {
		t.Errorf("GET / on Konnect: %v, want 404 (no node information)", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer kpat_good")
	base := s.AdminURL()
	outside, _ := kong.NewClient(&base, kong.HTTPClientWithHeaders(&http.Client{Timeout: 5 * time.Second}, h))
	if _, err := outside.Upstreams.Get(ctx, kong.String("payments")); apiCode(err) != http.StatusNotFound {
		t.Errorf("outside the control-plane path: %v, want 404", err)
	}
}
