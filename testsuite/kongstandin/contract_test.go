package kongstandin

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kong/go-kong/kong"
	"gopkg.in/yaml.v3"
)

// specPath is Kong's published Admin API spec (3.9 OSS), shared by the project.
// specPath is Kong's published Admin API spec (3.9 OSS), copied from shared/kong.
const specPath = "testdata/admin-oss-3.9.openapi.yaml"

// Where Kong's OpenAPI spec and its Lua source (tag 3.9.0) disagree, the stand-in follows the source. Each entry
// names the disagreement and where the source says otherwise; the tests below assert the source's behaviour and fail
// if the spec stops disagreeing, so the list stays true.
var (
	// Endpoints the source serves that the spec does not describe.
	servedButNotInSpec = map[string]string{
		"GET /upstreams/{upstream_id_or_name}/health":                                  "kong/api/routes/upstreams.lua serves it (go-kong UpstreamNodeHealth uses it)",
		"PUT /upstreams/{upstream_id_or_name}/targets/{target_id_or_target}/healthy":   "kong/api/routes/upstreams.lua set_target_health (204; not on a control plane)",
		"PUT /upstreams/{upstream_id_or_name}/targets/{target_id_or_target}/unhealthy": "kong/api/routes/upstreams.lua set_target_health (204; not on a control plane)",
	}
	// Success statuses that differ: the spec says 200 for every POST, endpoints.lua answers created() = 201.
	statusDiffers = map[string]string{
		"POST /services":  "201 (kong/api/endpoints.lua post_collection_endpoint → created)",
		"POST /routes":    "201 (kong/api/endpoints.lua post_collection_endpoint → created)",
		"POST /upstreams": "201 (kong/api/endpoints.lua post_collection_endpoint → created)",
		"POST /services/{service_id_or_name}/routes":    "201 (kong/api/endpoints.lua post_collection_endpoint → created)",
		"POST /upstreams/{upstream_id_or_name}/targets": "201 (kong/api/endpoints.lua post_collection_endpoint → created)",
	}
	// Spec properties the source does not return.
	specOnlyFields = map[string]string{
		"Service.url":      "a shorthand input field (services.lua shorthand_fields): expanded into protocol/host/port/path, never stored",
		"Route.expression": "only exists with router_flavor = expressions (routes.lua); 3.9 defaults to traditional_compatible",
		"Route.priority":   "only exists with router_flavor = expressions (routes.lua)",
	}
	// Fields the source returns that the spec's schema lacks.
	sourceOnlyFields = map[string]string{
		"Upstream.updated_at": "upstreams.lua declares updated_at (typedefs.auto_timestamp_s)",
		"Target.updated_at":   "targets.lua declares updated_at (typedefs.auto_timestamp_ms)",
	}
	// Behaviour the spec's prose gets wrong for targets (kong/api/routes/upstreams.lua target_endpoint):
	// PUT/PATCH update in place and answer 404 for a missing target (the spec calls PUT "Create or Update"), and
	// DELETE of a missing target is 404 (the spec says 204 "or the resource didn't exist"). Asserted in
	// TestContractThroughGoKong.
)

type openAPI struct {
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas map[string]*specSchema `yaml:"schemas"`
	} `yaml:"components"`
}

type specSchema struct {
	Type       string                 `yaml:"type"`
	Required   []string               `yaml:"required"`
	Properties map[string]*specSchema `yaml:"properties"`
}

func loadSpec(t *testing.T) *openAPI {
	t.Helper()
	b, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("read Kong's OpenAPI spec: %v", err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse Kong's OpenAPI spec: %v", err)
	}
	return &doc
}

// TestContractEndpointsExistInSpec checks every (path, method) the stand-in serves against the spec's paths and
// its declared success status.
func TestContractEndpointsExistInSpec(t *testing.T) {
	doc := loadSpec(t)
	success := map[string]string{"GET": "200", "POST": "201", "PUT": "200", "PATCH": "200", "DELETE": "204"}
	seenMissing := map[string]bool{}
	seenDiffers := map[string]bool{}
	for _, rt := range adminRoutes() {
		for method := range rt.methods {
			op := method + " " + rt.pattern
			ops, found := doc.Paths[rt.pattern]
			spec, hasMethod := ops[strings.ToLower(method)].(map[string]any)
			if !found || !hasMethod {
				if _, known := servedButNotInSpec[op]; !known {
					t.Errorf("%s: served by the stand-in but not in Kong's spec", op)
				}
				seenMissing[op] = true
				continue
			}
			responses, _ := spec["responses"].(map[string]any)
			if _, declared := responses[success[method]]; !declared {
				if _, known := statusDiffers[op]; !known {
					t.Errorf("%s: stand-in answers %s, spec declares %v", op, success[method], keys(responses))
				}
				seenDiffers[op] = true
			}
		}
	}
	for op := range servedButNotInSpec {
		if !seenMissing[op] {
			t.Errorf("%s is listed as missing from the spec but the spec has it now: drop the entry", op)
		}
	}
	for op := range statusDiffers {
		if !seenDiffers[op] {
			t.Errorf("%s is listed as differing from the spec but no longer does: drop the entry", op)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkEntity compares one entity as the stand-in returned it with the spec's schema: every required field and
// every declared property is present (Kong returns unset fields as null), no undeclared field appears, and non-null
// values have the declared JSON type.
func checkEntity(t *testing.T, doc *openAPI, schemaName string, got map[string]any) {
	t.Helper()
	schema := doc.Components.Schemas[schemaName]
	if schema == nil {
		t.Fatalf("spec has no schema %s", schemaName)
	}
	for _, f := range schema.Required {
		if _, ok := got[f]; !ok {
			t.Errorf("%s: required field %q missing from %v", schemaName, f, keys(got))
		}
	}
	for f := range schema.Properties {
		if _, ok := got[f]; !ok {
			if _, known := specOnlyFields[schemaName+"."+f]; !known {
				t.Errorf("%s: spec property %q missing", schemaName, f)
			}
		} else if _, known := specOnlyFields[schemaName+"."+f]; known {
			t.Errorf("%s.%s is listed as spec-only but the stand-in returns it", schemaName, f)
		}
	}
	for f := range got {
		if _, ok := schema.Properties[f]; !ok {
			if _, known := sourceOnlyFields[schemaName+"."+f]; !known {
				t.Errorf("%s: field %q is not in the spec", schemaName, f)
			}
		}
	}
	checkTypes(t, schemaName, schema, got)
}

func checkTypes(t *testing.T, path string, schema *specSchema, got map[string]any) {
	t.Helper()
	for f, prop := range schema.Properties {
		v, ok := got[f]
		if !ok || v == nil {
			continue
		}
		p := path + "." + f
		if !jsonTypeIs(v, prop.Type) {
			t.Errorf("%s = %#v: spec says %s", p, v, prop.Type)
		}
		if sub, isObj := v.(map[string]any); isObj && len(prop.Properties) > 0 {
			checkTypes(t, p, prop, sub)
		}
	}
}

func jsonTypeIs(v any, typ string) bool {
	switch typ {
	case "":
		return true
	case "integer":
		n, ok := v.(float64)
		return ok && n == math.Trunc(n)
	case "number":
		_, ok := v.(float64)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// TestContractThroughGoKong drives every endpoint through go-kong the way the orchestrator does and checks status
// codes, error bodies and entity shapes against the spec.
func TestContractThroughGoKong(t *testing.T) {
	doc := loadSpec(t)
	_, c := start(t, Options{})
	ctx := context.Background()

	root := must[map[string]any](t, "root")(c.Root(ctx))
	if root["version"] != kongVersion {
		t.Errorf("root version = %v, want %s", root["version"], kongVersion)
	}
	for _, f := range []string{"tagline", "edition", "node_id", "hostname", "plugins", "configuration", "pids", "timers", "lua_version"} {
		if _, ok := root[f]; !ok {
			t.Errorf("GET / lacks %q", f)
		}
	}
	st0 := must[*kong.Status](t, "status")(c.Status(ctx))
	if !st0.Database.Reachable || st0.ConfigurationHash != strings.Repeat("0", 32) {
		t.Errorf("fresh status = %+v, want reachable database and the empty-config hash", st0)
	}
	hashes := map[string]bool{st0.ConfigurationHash: true}
	wrote := func(what string) {
		t.Helper()
		st := must[*kong.Status](t, "status")(c.Status(ctx))
		if hashes[st.ConfigurationHash] {
			t.Errorf("after %s configuration_hash %s did not change", what, st.ConfigurationHash)
		}
		hashes[st.ConfigurationHash] = true
	}

	// Services: POST, PUT upsert by id and by name, GET by id and name, PATCH, list with pagination, DELETE.
	svc := must[*kong.Service](t, "create service")(c.Services.Create(ctx, &kong.Service{Name: kong.String("orders"), URL: kong.String("http://orders.internal:8080/api")}))
	wrote("service create")
	if kong.StringValue(svc.Host) != "orders.internal" || intValue(svc.Port) != 8080 || kong.StringValue(svc.Path) != "/api" || intValue(svc.Retries) != 5 {
		t.Errorf("service from url = %+v", svc)
	}
	status, body := call(t, c, http.MethodGet, "/services/orders", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /services/orders = %d", status)
	}
	checkEntity(t, doc, "Service", body)
	upsertID := newUUID()
	svc2 := must[*kong.Service](t, "upsert service by id")(c.Services.Create(ctx, &kong.Service{ID: kong.String(upsertID), Name: kong.String("billing"), Host: kong.String("billing.internal")}))
	if kong.StringValue(svc2.ID) != upsertID {
		t.Errorf("PUT upsert kept id %v, want %s", kong.StringValue(svc2.ID), upsertID)
	}
	status, body = call(t, c, http.MethodPut, "/services/billing", map[string]any{"host": "billing2.internal"})
	if status != http.StatusOK || body["id"] != upsertID || body["host"] != "billing2.internal" {
		t.Errorf("PUT /services/billing (existing, by name) = %d %v, want 200 with the same id", status, body)
	}
	status, body = call(t, c, http.MethodPut, "/services/fresh", map[string]any{"host": "fresh.internal"})
	if status != http.StatusOK || body["name"] != "fresh" {
		t.Errorf("PUT /services/fresh (absent, by name) = %d %v, want 200 creating it", status, body)
	}
	got := must[*kong.Service](t, "get service")(c.Services.Get(ctx, svc.ID))
	got.ReadTimeout = kong.Int(1234)
	upd := must[*kong.Service](t, "update service")(c.Services.Update(ctx, got))
	if intValue(upd.ReadTimeout) != 1234 || kong.StringValue(upd.Host) != "orders.internal" {
		t.Errorf("PATCH service = %+v", upd)
	}
	if _, err := c.Services.Create(ctx, &kong.Service{Name: kong.String("orders"), Host: kong.String("x.internal")}); apiCode(err) != http.StatusConflict {
		t.Errorf("duplicate service name: err = %v, want 409", err)
	}
	if _, err := c.Services.Create(ctx, &kong.Service{Name: kong.String("nohost")}); apiCode(err) != http.StatusBadRequest {
		t.Errorf("service without host: err = %v, want 400", err)
	}
	page1, next, err := c.Services.List(ctx, &kong.ListOpt{Size: 2})
	if err != nil || len(page1) != 2 || next == nil {
		t.Fatalf("list services size 2 = %d items, next %v, err %v; want 2 and a next page", len(page1), next, err)
	}
	page2, next2, err := c.Services.List(ctx, next)
	if err != nil || len(page2) != 1 || next2 != nil {
		t.Errorf("second services page = %d items, next %v, err %v; want the last 1 and no next page", len(page2), next2, err)
	}
	if all := must[[]*kong.Service](t, "list all services")(c.Services.ListAll(ctx)); len(all) != 3 {
		t.Errorf("ListAll services = %d, want 3", len(all))
	}
	if _, err := c.Services.Get(ctx, kong.String("nope")); !kong.IsNotFoundErr(err) {
		t.Errorf("get missing service: err = %v, want 404", err)
	}

	// Routes, top level and under a service.
	rt := must[*kong.Route](t, "create route")(c.Routes.Create(ctx, &kong.Route{
		Name: kong.String("orders-route"), Paths: kong.StringSlice("/orders"), Hosts: kong.StringSlice("shop.test"),
		Methods: kong.StringSlice("GET", "POST"), StripPath: kong.Bool(false), PreserveHost: kong.Bool(true),
		Service: &kong.Service{ID: svc.ID},
	}))
	if boolValue(rt.StripPath) || !boolValue(rt.PreserveHost) || kong.StringValue(rt.Service.ID) != kong.StringValue(svc.ID) {
		t.Errorf("created route = %+v", rt)
	}
	status, body = call(t, c, http.MethodGet, "/routes/orders-route", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /routes/orders-route = %d", status)
	}
	checkEntity(t, doc, "Route", body)
	nested := must[*kong.Route](t, "create route in service")(c.Routes.CreateInService(ctx, svc.ID, &kong.Route{Paths: kong.StringSlice("/v2/orders")}))
	if !boolValue(nested.StripPath) {
		t.Errorf("route default strip_path = false, want true")
	}
	status, _ = call(t, c, http.MethodPost, "/services/"+*svc.ID+"/routes", map[string]any{"paths": []string{"/v3"}})
	if status != http.StatusCreated {
		t.Errorf("POST /services/{s}/routes = %d, want 201", status)
	}
	forSvc, _, err := c.Routes.ListForService(ctx, svc.ID, nil)
	if err != nil || len(forSvc) != 3 {
		t.Errorf("routes of service = %d (%v), want 3", len(forSvc), err)
	}
	status, _ = call(t, c, http.MethodGet, "/services/billing/routes/"+*rt.ID, nil)
	if status != http.StatusNotFound {
		t.Errorf("route through a service it does not belong to = %d, want 404", status)
	}
	rt.Paths = kong.StringSlice("/orders", "/orders-legacy")
	rt2 := must[*kong.Route](t, "update route")(c.Routes.Update(ctx, rt))
	if len(rt2.Paths) != 2 {
		t.Errorf("PATCH route paths = %v", stringValues(rt2.Paths))
	}
	upsertRoute := must[*kong.Route](t, "upsert route")(c.Routes.Create(ctx, &kong.Route{ID: kong.String(newUUID()), Paths: kong.StringSlice("/put"), Service: &kong.Service{ID: svc2.ID}}))
	if all := must[[]*kong.Route](t, "list routes")(c.Routes.ListAll(ctx)); len(all) != 4 {
		t.Errorf("ListAll routes = %d, want 4", len(all))
	}
	if _, err := c.Routes.Create(ctx, &kong.Route{Service: &kong.Service{ID: svc.ID}}); apiCode(err) != http.StatusBadRequest {
		t.Errorf("route without paths/hosts/methods: err = %v, want 400", err)
	}
	status, body = call(t, c, http.MethodPost, "/routes", map[string]any{"paths": []string{"/x"}, "service": map[string]any{"id": newUUID()}})
	if status != http.StatusBadRequest || body["name"] != "foreign key violation" {
		t.Errorf("route to a missing service = %d %v, want 400 foreign key violation", status, body)
	}
	if err := c.Services.Delete(ctx, svc.ID); apiCode(err) != http.StatusBadRequest {
		t.Errorf("delete a service with routes: err = %v, want 400 (routes reference it)", err)
	}
	if err := c.Routes.Delete(ctx, upsertRoute.ID); err != nil {
		t.Errorf("delete route: %v", err)
	}
	if err := c.Routes.Delete(ctx, upsertRoute.ID); err != nil {
		t.Errorf("delete an absent route: %v, want 204 like Kong", err)
	}
	if err := c.Services.Delete(ctx, svc2.ID); err != nil {
		t.Errorf("delete service: %v", err)
	}
	wrote("service delete")

	// Upstreams.
	up := must[*kong.Upstream](t, "create upstream")(c.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("orders.upstream")}))
	if kong.StringValue(up.Algorithm) != "round-robin" || intValue(up.Slots) != 10000 || up.Healthchecks == nil || up.Healthchecks.Active == nil {
		t.Errorf("upstream defaults = %+v", up)
	}
	status, body = call(t, c, http.MethodGet, "/upstreams/orders.upstream", nil)
	if status != http.StatusOK {
		t.Fatalf("GET upstream = %d", status)
	}
	checkEntity(t, doc, "Upstream", body)
	if _, err := c.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("orders.upstream")}); apiCode(err) != http.StatusConflict {
		t.Errorf("duplicate upstream: err = %v, want 409", err)
	}
	if _, err := c.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String("10.0.0.1")}); apiCode(err) != http.StatusBadRequest {
		t.Errorf("upstream named by an IP: err = %v, want 400", err)
	}
	if all := must[[]*kong.Upstream](t, "list upstreams")(c.Upstreams.ListAll(ctx)); len(all) != 1 {
		t.Errorf("ListAll upstreams = %d, want 1", len(all))
	}

	// Targets: 201, defaults, 409 duplicate, 400 weight, 404s, in-place PUT/PATCH, pagination, health.
	uname := "orders.upstream"
	status, body = call(t, c, http.MethodPost, "/upstreams/"+uname+"/targets", map[string]any{"target": "10.0.0.1"})
	if status != http.StatusCreated || body["target"] != "10.0.0.1:8000" || body["weight"] != float64(100) {
		t.Errorf("POST target = %d %v, want 201 with port 8000 and weight 100", status, body)
	}
	checkEntity(t, doc, "Target", body)
	tgt := must[*kong.Target](t, "create target")(c.Targets.Create(ctx, &uname, &kong.Target{Target: kong.String("10.0.0.2:8080"), Weight: kong.Int(0)}))
	if intValue(tgt.Weight) != 0 {
		t.Errorf("weight 0 target = %+v", tgt)
	}
	_, err = c.Targets.Create(ctx, &uname, &kong.Target{Target: kong.String("10.0.0.2:8080")})
	var apiErr *kong.APIError
	if !errors.As(err, &apiErr) || apiErr.Code() != http.StatusConflict {
		t.Fatalf("duplicate target: err = %v, want a 409 APIError", err)
	}
	status, body = call(t, c, http.MethodPost, "/upstreams/"+uname+"/targets", map[string]any{"target": "10.0.0.2:8080"})
	fields, _ := body["fields"].(map[string]any)
	if status != http.StatusConflict || body["code"] != float64(5) || body["name"] != "unique constraint violation" ||
		fields["target"] != "10.0.0.2:8080" || !strings.HasPrefix(str(body["message"]), "UNIQUE violation detected on") {
		t.Errorf("duplicate target body = %d %v", status, body)
	}
	for _, w := range []int{-1, 65536} {
		_, err := c.Targets.Create(ctx, &uname, &kong.Target{Target: kong.String("10.0.0.3"), Weight: kong.Int(w)})
		if apiCode(err) != http.StatusBadRequest {
			t.Errorf("weight %d: err = %v, want 400", w, err)
		}
	}
	status, body = call(t, c, http.MethodPost, "/upstreams/"+uname+"/targets", map[string]any{"target": "10.0.0.3", "weight": 70000})
	if f, _ := body["fields"].(map[string]any); status != 400 || body["name"] != "schema violation" || f["weight"] != "value should be between 0 and 65535" {
		t.Errorf("bad weight body = %d %v", status, body)
	}
	status, body = call(t, c, http.MethodPost, "/upstreams/"+uname+"/targets", map[string]any{"target": "not a host"})
	if f, _ := body["fields"].(map[string]any); status != 400 || f["target"] != "Invalid target; not a valid hostname or ip address" {
		t.Errorf("bad target body = %d %v", status, body)
	}
	if _, err := c.Targets.Create(ctx, kong.String("nope"), &kong.Target{Target: kong.String("10.0.0.9")}); !kong.IsNotFoundErr(err) {
		t.Errorf("target of a missing upstream: err = %v, want 404", err)
	}
	updated := must[*kong.Target](t, "update target")(c.Targets.Update(ctx, &uname, kong.String("10.0.0.2:8080"), &kong.Target{Target: kong.String("10.0.0.2:8080"), Weight: kong.Int(25)}))
	if intValue(updated.Weight) != 25 || kong.StringValue(updated.ID) != kong.StringValue(tgt.ID) {
		t.Errorf("PUT target updated %+v, want weight 25 in place (same id)", updated)
	}
	wrote("target update")
	status, body = call(t, c, http.MethodPatch, "/upstreams/"+uname+"/targets/"+*tgt.ID, map[string]any{"weight": 30})
	if status != http.StatusOK || body["weight"] != float64(30) || body["target"] != "10.0.0.2:8080" {
		t.Errorf("PATCH target by id = %d %v", status, body)
	}
	if _, err := c.Targets.Update(ctx, &uname, kong.String("10.9.9.9:80"), &kong.Target{Weight: kong.Int(5)}); !kong.IsNotFoundErr(err) {
		t.Errorf("PUT an absent target: err = %v, want 404 (PUT is not an upsert)", err)
	}
	if status, _ := call(t, c, http.MethodGet, "/upstreams/"+uname+"/targets/10.0.0.2", nil); status != http.StatusNotFound {
		t.Errorf("GET target without its port = %d, want 404 (Kong matches the stored host:port exactly)", status)
	}
	if status, body := call(t, c, http.MethodGet, "/upstreams/"+uname+"/targets/10.0.0.2:8080", nil); status != 200 || body["weight"] != float64(30) {
		t.Errorf("GET target = %d %v", status, body)
	}

	// Pagination over more than one page with a small size (targets are listed newest first, numeric offsets).
	for _, tg := range []string{"10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"} {
		must[*kong.Target](t, "create target")(c.Targets.Create(ctx, &uname, &kong.Target{Target: kong.String(tg)}))
	}
	var pages [][]*kong.Target
	for opt := (&kong.ListOpt{Size: 3}); opt != nil; {
		var page []*kong.Target
		page, opt, err = c.Targets.List(ctx, &uname, opt)
		if err != nil {
			t.Fatalf("list targets: %v", err)
		}
		pages = append(pages, page)
	}
	if len(pages) != 3 || len(pages[0]) != 3 || len(pages[2]) != 1 {
		t.Errorf("7 targets in pages of 3 = %d pages (%v)", len(pages), pageSizes(pages))
	}
	all := must[[]*kong.Target](t, "list all targets")(c.Targets.ListAll(ctx, &uname))
	if len(all) != 7 || kong.StringValue(all[0].Target) != "10.0.1.5:8000" {
		t.Errorf("ListAll targets = %d, first %v; want 7, newest first", len(all), kong.StringValue(all[0].Target))
	}
	if status, body := call(t, c, http.MethodGet, "/upstreams/"+uname+"/targets?size=2&offset=4", nil); status != 200 || body["offset"] != "6" || body["next"] != "/upstreams/"+uname+"/targets?offset=6" {
		t.Errorf("target page at offset 4 = %d %v", status, body)
	}

	// Health: no checks configured → HEALTHCHECKS_OFF for every target, like Kong.
	health := must[[]*kong.UpstreamNodeHealth](t, "health")(c.UpstreamNodeHealth.ListAll(ctx, &uname))
	if len(health) != 7 {
		t.Fatalf("health lists %d targets, want 7", len(health))
	}
	for _, h := range health {
		if kong.StringValue(h.Health) != "HEALTHCHECKS_OFF" {
			t.Errorf("health of %s = %s, want HEALTHCHECKS_OFF", kong.StringValue(h.Target), kong.StringValue(h.Health))
		}
	}
	// With active checks on, weighted targets report HEALTHY and weight-0 ones stay HEALTHCHECKS_OFF.
	upd2 := must[*kong.Upstream](t, "get upstream")(c.Upstreams.Get(ctx, &uname))
	upd2.Healthchecks.Active.Healthy.Interval = kong.Int(5)
	must[*kong.Upstream](t, "update upstream")(c.Upstreams.Update(ctx, upd2))
	must[*kong.Target](t, "weight 0")(c.Targets.Update(ctx, &uname, kong.String("10.0.0.2:8080"), &kong.Target{Weight: kong.Int(0)}))
	for _, h := range must[[]*kong.UpstreamNodeHealth](t, "health")(c.UpstreamNodeHealth.ListAll(ctx, &uname)) {
		want := "HEALTHY"
		if intValue(h.Weight) == 0 {
			want = "HEALTHCHECKS_OFF"
		}
		if kong.StringValue(h.Health) != want || h.Data == nil || len(h.Data.Addresses) != 1 {
			t.Errorf("health of %s (weight %d) = %s %+v, want %s", kong.StringValue(h.Target), intValue(h.Weight), kong.StringValue(h.Health), h.Data, want)
		}
	}
	if _, err := c.UpstreamNodeHealth.ListAll(ctx, kong.String("nope")); !kong.IsNotFoundErr(err) {
		t.Errorf("health of a missing upstream: err = %v, want 404", err)
	}

	// Deletes: a target is 204 then 404 (not Kong's generic 204-when-absent); an upstream cascades to its targets.
	if err := c.Targets.Delete(ctx, &uname, tgt.ID); err != nil {
		t.Errorf("delete target: %v", err)
	}
	if err := c.Targets.Delete(ctx, &uname, tgt.ID); !kong.IsNotFoundErr(err) {
		t.Errorf("delete an absent target: err = %v, want 404", err)
	}
	if status, body := call(t, c, http.MethodGet, "/upstreams/nope/targets", nil); status != http.StatusNotFound || body["message"] != "Not found" {
		t.Errorf("targets of a missing upstream = %d %v, want 404 {\"message\":\"Not found\"}", status, body)
	}
	if err := c.Upstreams.Delete(ctx, up.ID); err != nil {
		t.Errorf("delete upstream: %v", err)
	}
	if _, err := c.Upstreams.Get(ctx, up.ID); !kong.IsNotFoundErr(err) {
		t.Errorf("get deleted upstream: err = %v, want 404", err)
	}

	// Kong's generic answers for unknown paths and methods.
	if status, body := call(t, c, http.MethodGet, "/targets", nil); status != 404 || body["message"] != "Not found" {
		t.Errorf("GET /targets = %d %v, want 404 like Kong 3.9", status, body)
	}
	if status, _ := call(t, c, http.MethodDelete, "/upstreams/x/targets", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE on the targets collection = %d, want 405", status)
	}
	if status, body := call(t, c, http.MethodGet, "/services?size=0", nil); status != 400 || body["name"] != "invalid size" {
		t.Errorf("size=0 = %d %v, want 400 invalid size", status, body)
	}
}

func pageSizes(pages [][]*kong.Target) []int {
	var out []int
	for _, p := range pages {
		out = append(out, len(p))
	}
	return out
}

func str(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// TestServiceURLShorthandAndUnknownFields covers request validation details go-kong users hit.
func TestServiceURLShorthandAndUnknownFields(t *testing.T) {
	_, c := start(t, Options{})
	status, body := call(t, c, http.MethodPost, "/services", map[string]any{"host": "a.internal", "colour": "blue"})
	if f, _ := body["fields"].(map[string]any); status != 400 || f["colour"] != "unknown field" {
		t.Errorf("unknown field = %d %v", status, body)
	}
	status, body = call(t, c, http.MethodPost, "/services", map[string]any{"host": "a.internal", "port": "eighty"})
	if f, _ := body["fields"].(map[string]any); status != 400 || f["port"] != "expected an integer" {
		t.Errorf("wrong type = %d %v", status, body)
	}
	status, body = call(t, c, http.MethodPost, "/services", map[string]any{"url": "https://secure.internal"})
	if status != 201 || body["port"] != float64(443) || body["protocol"] != "https" || body["path"] != nil {
		t.Errorf("https url shorthand = %d %v", status, body)
	}
	if _, present := body["url"]; present {
		t.Errorf("service echoes the url shorthand: %v", body)
	}
	if !slices.Contains(keys(body), "tls_verify") {
		t.Errorf("service JSON lacks null fields: %v", keys(body))
	}
}
