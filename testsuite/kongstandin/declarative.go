package kongstandin

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// GET and POST /config: the declarative configuration of a node without a database (kong/api/routes/config.lua).

// notDBLess is Kong's answer to /config on a node with a database.
func notDBLess() response {
	return fail(msgError(http.StatusBadRequest, "this endpoint is only available when Kong is configured to not use a database"))
}

// getConfig answers {"config": "<YAML>"}: the current configuration exported in declarative format 3.0, entities
// top level, foreign keys as ids, like declarative.export_from_db.
func (s *Server) getConfig(q *adminRequest) response {
	if s.opts.Mode.database() != "off" {
		return notDBLess()
	}
	c := s.store.current()
	doc := map[string]any{"_format_version": "3.0", "_transform": false}
	export := func(key string, ids []string, item func(id string) map[string]any) {
		if len(ids) == 0 {
			return
		}
		slices.Sort(ids)
		list := make([]any, 0, len(ids))
		for _, id := range ids {
			list = append(list, item(id))
		}
		doc[key] = list
	}
	export("services", keysOf(c.services), func(id string) map[string]any { return exportEntity(c.services[id]) })
	export("routes", keysOf(c.routes), func(id string) map[string]any { return exportEntity(c.routes[id]) })
	export("upstreams", keysOf(c.upstreams), func(id string) map[string]any { return exportEntity(c.upstreams[id]) })
	export("targets", keysOf(c.targets), func(id string) map[string]any { return exportEntity(c.targets[id]) })
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fail(msgError(http.StatusInternalServerError, "An unexpected error occurred"))
	}
	return ok(map[string]any{"config": buf.String()})
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// exportEntity is an entity as the export writes it: nulls left out, foreign keys ({"id": x}) as the bare id.
func exportEntity(e any) map[string]any {
	m := plainNumbers(toMap(e)).(map[string]any)
	for k, v := range m {
		switch ref := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			if id, isID := ref["id"].(string); isID && len(ref) == 1 {
				m[k] = id
			}
		}
	}
	return m
}

// postConfig replaces the whole configuration with a declarative one: the JSON body itself when it has
// _format_version, else its config field (YAML or JSON text). With ?check_hash=1 a configuration identical to the
// current one is answered 304 and not loaded. The hash is an md5 of the configuration as given (Kong's is of its
// parsed form), so the same text always has the same hash.
func (s *Server) postConfig(q *adminRequest) response {
	if s.opts.Mode.database() != "off" {
		return notDBLess()
	}
	checkHash := q.r.URL.Query().Get("check_hash") == "1"
	table := q.body
	if _, isTable := table["_format_version"]; !isTable {
		text, isText := q.body["config"].(string)
		if !isText || strings.TrimSpace(text) == "" {
			return fail(msgError(http.StatusBadRequest, "expected a declarative configuration"))
		}
		table = map[string]any{}
		if err := yaml.Unmarshal([]byte(text), &table); err != nil {
			return fail(declarativeError(fmt.Sprintf("failed parsing declarative configuration: %v", err), nil))
		}
	}
	hash := declarativeHash(table)
	res := s.store.load(q.now, func() (*config, response, bool) {
		if checkHash && s.store.cur.configHash() == hash {
			return nil, response{status: http.StatusNotModified}, false
		}
		next, apiErr := loadDeclarative(table, q.now)
		if apiErr != nil {
			return nil, fail(apiErr), false
		}
		next.hash = hash
		return next, created(exportTables(next)), true
	})
	return res
}

// declarativeHash fingerprints a declarative configuration (canonical JSON: encoding/json sorts map keys).
func declarativeHash(table map[string]any) string {
	b, _ := json.Marshal(table)
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func declarativeError(msg string, fields map[string]any) *apiError {
	return daoError(http.StatusBadRequest, codeDeclarativeConfig, "invalid declarative configuration", msg, fields)
}

// loadDeclarative builds a fresh configuration from a declarative table: services (with nested routes), routes,
// upstreams (with nested targets) and targets. Foreign keys may be ids or names. Anything else is refused, so a
// test cannot load a configuration the stand-in would silently drop.
func loadDeclarative(table map[string]any, now time.Time) (*config, *apiError) {
	if v, _ := table["_format_version"].(string); v != "3.0" && v != "2.1" {
		return nil, declarativeError("expected a _format_version of 3.0", map[string]any{"_format_version": "expected 3.0"})
	}
	for k := range table {
		switch k {
		case "_format_version", "_transform", "services", "routes", "upstreams", "targets":
		default:
			return nil, declarativeError(fmt.Sprintf("the stand-in cannot load %q entities", k), map[string]any{k: "not supported by the stand-in"})
		}
	}
	c := emptyConfig()
	ts := now.Unix()
	insert := func(what string, res response, changed bool) *apiError {
		if !changed {
			return declarativeError(fmt.Sprintf("%s: %v", what, res.body), map[string]any{what: res.body})
		}
		return nil
	}
	var nestedRoutes, nestedTargets [][2]any // (parent name or id, child table)
	for i, raw := range listOf(table["services"]) {
		body, _ := raw.(map[string]any)
		if body == nil {
			return nil, declarativeError(fmt.Sprintf("services[%d] is not a record", i+1), nil)
		}
		for _, r := range listOf(body["routes"]) {
			nestedRoutes = append(nestedRoutes, [2]any{body, r})
		}
		delete(body, "routes")
		res, changed := services.insert(c, clean(body), ts)
		if err := insert(fmt.Sprintf("services[%d]", i+1), res, changed); err != nil {
			return nil, err
		}
		body["id"] = res.body.(*service).ID
	}
	for _, nr := range nestedRoutes {
		r, _ := nr[1].(map[string]any)
		if r == nil {
			return nil, declarativeError("a nested route is not a record", nil)
		}
		r["service"] = map[string]any{"id": nr[0].(map[string]any)["id"]}
		res, changed := routes.insert(c, clean(r), ts)
		if err := insert("routes", res, changed); err != nil {
			return nil, err
		}
	}
	for i, raw := range listOf(table["routes"]) {
		body, _ := raw.(map[string]any)
		if body == nil {
			return nil, declarativeError(fmt.Sprintf("routes[%d] is not a record", i+1), nil)
		}
		body["service"] = foreignKey(body["service"])
		res, changed := routes.insert(c, clean(body), ts)
		if err := insert(fmt.Sprintf("routes[%d]", i+1), res, changed); err != nil {
			return nil, err
		}
	}
	for i, raw := range listOf(table["upstreams"]) {
		body, _ := raw.(map[string]any)
		if body == nil {
			return nil, declarativeError(fmt.Sprintf("upstreams[%d] is not a record", i+1), nil)
		}
		for _, t := range listOf(body["targets"]) {
			nestedTargets = append(nestedTargets, [2]any{body, t})
		}
		delete(body, "targets")
		res, changed := upstreams.insert(c, clean(body), ts)
		if err := insert(fmt.Sprintf("upstreams[%d]", i+1), res, changed); err != nil {
			return nil, err
		}
		body["id"] = res.body.(*upstream).ID
	}
	addTarget := func(what string, upKey any, body map[string]any) *apiError {
		key := ""
		switch k := foreignKey(upKey).(type) {
		case map[string]any:
			key, _ = k["id"].(string)
			if key == "" {
				key, _ = k["name"].(string)
			}
		}
		u, found := upstreams.find(c, key)
		if !found {
			return declarativeError(fmt.Sprintf("%s: upstream %q not found", what, key), nil)
		}
		delete(body, "upstream")
		res, changed := createTarget(c, u, clean(body), now)
		return insert(what, res, changed)
	}
	for _, nt := range nestedTargets {
		body, _ := nt[1].(map[string]any)
		if body == nil {
			return nil, declarativeError("a nested target is not a record", nil)
		}
		if err := addTarget("targets", map[string]any{"id": nt[0].(map[string]any)["id"]}, body); err != nil {
			return nil, err
		}
	}
	for i, raw := range listOf(table["targets"]) {
		body, _ := raw.(map[string]any)
		if body == nil {
			return nil, declarativeError(fmt.Sprintf("targets[%d] is not a record", i+1), nil)
		}
		if err := addTarget(fmt.Sprintf("targets[%d]", i+1), body["upstream"], body); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// exportTables is POST /config's 201 body: the loaded entities by table, keyed by id.
func exportTables(c *config) map[string]any {
	out := map[string]any{}
	for name, ids := range map[string][]string{"services": keysOf(c.services), "routes": keysOf(c.routes),
		"upstreams": keysOf(c.upstreams), "targets": keysOf(c.targets)} {
		if len(ids) == 0 {
			continue
		}
		byID := map[string]any{}
		for _, id := range ids {
			switch name {
			case "services":
				byID[id] = c.services[id]
			case "routes":
				byID[id] = c.routes[id]
			case "upstreams":
				byID[id] = c.upstreams[id]
			case "targets":
				byID[id] = c.targets[id]
			}
		}
		out[name] = byID
	}
	return out
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

// foreignKey turns a declarative foreign key (an id or name string, or a record) into the record form.
func foreignKey(v any) any {
	s, isStr := v.(string)
	if !isStr {
		return v
	}
	if isUUID(s) {
		return map[string]any{"id": s}
	}
	return map[string]any{"name": s}
}

// clean drops what the generic insert sets itself (timestamps) and normalises YAML's integer types to JSON numbers.
func clean(body map[string]any) map[string]any {
	delete(body, "created_at")
	delete(body, "updated_at")
	b, _ := json.Marshal(body)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	out := map[string]any{}
	_ = d.Decode(&out)
	return out
}

// plainNumbers turns json.Number values into int64 or float64, so YAML writes them as numbers, not strings.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	}
	return v
}
