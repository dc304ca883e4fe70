package kongstandin

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// adminRequest is one Admin API call after routing: the path parameters in template order and the decoded body.
type adminRequest struct {
	r      *http.Request
	params []string
	body   map[string]any
	now    time.Time
}

type adminHandler func(s *Server, req *adminRequest) response

// adminRoute is one path template of the Admin API with its handlers. The templates use the parameter names of
// Kong's OpenAPI spec so the contract test can compare them with it.
type adminRoute struct {
	pattern string
	methods map[string]adminHandler
}

// adminRoutes is every endpoint the stand-in serves.
func adminRoutes() []adminRoute {
	return []adminRoute{
		{"/", map[string]adminHandler{"GET": (*Server).root}},
		{"/status", map[string]adminHandler{"GET": (*Server).status}},

		{"/services", collection(services)},
		{"/services/{service_id_or_name}", item(services, (*Server).deleteService)},
		{"/services/{service_id_or_name}/routes", map[string]adminHandler{
			"GET":  (*Server).listServiceRoutes,
			"POST": (*Server).createServiceRoute,
		}},
		{"/services/{service_id_or_name}/routes/{route_id_or_name}", map[string]adminHandler{
			"GET":    (*Server).serviceRoute,
			"PUT":    (*Server).serviceRoute,
			"PATCH":  (*Server).serviceRoute,
			"DELETE": (*Server).serviceRoute,
		}},
		{"/routes", collection(routes)},
		{"/routes/{route_id_or_name}", item(routes, (*Server).deleteRoute)},
		{"/upstreams", collection(upstreams)},
		{"/upstreams/{upstream_id_or_name}", item(upstreams, (*Server).deleteUpstream)},
		{"/upstreams/{upstream_id_or_name}/targets", map[string]adminHandler{
			"GET":  (*Server).listTargets,
			"POST": (*Server).createTarget,
		}},
		{"/upstreams/{upstream_id_or_name}/targets/{target_id_or_target}", map[string]adminHandler{
			"GET":    (*Server).target,
			"PUT":    (*Server).target,
			"PATCH":  (*Server).target,
			"DELETE": (*Server).target,
		}},
		{"/upstreams/{upstream_id_or_name}/health", map[string]adminHandler{"GET": (*Server).upstreamHealth}},
		{"/upstreams/{upstream_id_or_name}/targets/{target_id_or_target}/healthy", map[string]adminHandler{"PUT": setTargetHealth(true)}},
		{"/upstreams/{upstream_id_or_name}/targets/{target_id_or_target}/unhealthy", map[string]adminHandler{"PUT": setTargetHealth(false)}},
		{"/config", map[string]adminHandler{"GET": (*Server).getConfig, "POST": (*Server).postConfig}},
		{"/clustering/data-planes", map[string]adminHandler{"GET": (*Server).dataPlanesList}},
	}
}

// matchAdminRoute finds the route for an escaped path; params are the unescaped path parameters.
func matchAdminRoute(table []adminRoute, path string) (adminRoute, []string, bool) {
	segs := splitPath(path)
	for _, rt := range table {
		pat := splitPath(rt.pattern)
		if len(pat) != len(segs) {
			continue
		}
		var params []string
		matched := true
		for i, p := range pat {
			if strings.HasPrefix(p, "{") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					matched = false
					break
				}
				params = append(params, v)
				continue
			}
			if p != segs[i] {
				matched = false
				break
			}
		}
		if matched {
			return rt, params, true
		}
	}
	return adminRoute{}, nil, false
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// serveAdmin is the Admin API: fault injection first (it models the network and load balancer in front of Kong),
// then the RBAC token, then routing.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.totalRequests.Add(1)
	h := w.Header()
	h.Set("Server", serverTokens)
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("X-Kong-Admin-Request-ID", newRequestID())
	res := s.adminResponse(r, start)
	h.Set("X-Kong-Admin-Latency", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	writeJSON(w, res)
	s.log.Debug("kong admin request", "method", r.Method, "path", r.URL.Path, "status", res.status)
}

func (s *Server) adminResponse(r *http.Request, start time.Time) response {
	if f, hit := s.faults.take(r.Method); hit {
		s.log.Info("kong admin fault injected", "method", r.Method, "path", r.URL.Path, "status", f.Status, "latency", f.Latency)
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return fail(msgError(499, "client closed the request"))
			}
		}
		if f.Status != 0 {
			return fail(msgError(f.Status, defaultErrorMessage(f.Status)))
		}
	}
	if s.opts.AdminToken != "" {
		got := r.Header.Get("Kong-Admin-Token")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.AdminToken)) != 1 {
			// Kong Enterprise's RBAC answer; Kong OSS has no Admin API authentication at all.
			return fail(msgError(http.StatusUnauthorized, "Invalid credentials. Token or User credentials required"))
		}
	}
	path, refused := s.konnectPath(r)
	if refused != nil {
		return fail(refused)
	}
	rt, params, found := matchAdminRoute(s.routes, path)
	if !found {
		return fail(notFound())
	}
	h, allowed := rt.methods[r.Method]
	if !allowed {
		return fail(msgError(http.StatusMethodNotAllowed, "Method not allowed"))
	}
	if res, refused := s.opts.Mode.refuseEntityWrite(r.Method, path); refused {
		return res
	}
	req := &adminRequest{r: r, params: params, now: start}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		body, err := readBody(r)
		if err != nil {
			return fail(err)
		}
		req.body = body
	}
	return h(s, req)
}

// readBody decodes a JSON (go-kong, curl -d @file) or form-encoded (curl -d a=b) request body into an object.
func readBody(r *http.Request) (map[string]any, *apiError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		return nil, msgError(http.StatusBadRequest, "Cannot read request body")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/yaml" || ct == "text/yaml" || ct == "application/x-yaml" {
		// POST /config takes a raw declarative file (the spec's application/yaml body; config.lua get_raw_body).
		return map[string]any{"config": string(raw)}, nil
	}
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, msgError(http.StatusBadRequest, "Cannot parse form body")
		}
		return formToObject(form), nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var body map[string]any
	if err := d.Decode(&body); err != nil || body == nil {
		return nil, msgError(http.StatusBadRequest, "Cannot parse JSON body")
	}
	return body, nil
}

// formToObject applies the common form conventions Kong accepts: "a[]=x" for arrays, "a.b=x" for records, and
// numbers and booleans written as text.
func formToObject(form url.Values) map[string]any {
	out := map[string]any{}
	for k, vals := range form {
		isArray := strings.HasSuffix(k, "[]")
		k = strings.TrimSuffix(k, "[]")
		conv := make([]any, len(vals))
		for i, v := range vals {
			conv[i] = formValue(v)
		}
		var val any = conv[0]
		if isArray || len(conv) > 1 {
			val = conv
		}
		parts := strings.Split(k, ".")
		cur := out
		for _, p := range parts[:len(parts)-1] {
			next, isObj := cur[p].(map[string]any)
			if !isObj {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = val
	}
	return out
}

func formValue(v string) any {
	if v == "true" || v == "false" {
		return v == "true"
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return json.Number(v)
	}
	return v
}

func writeJSON(w http.ResponseWriter, res response) {
	if res.body == nil {
		w.WriteHeader(res.status)
		return
	}
	b, err := json.Marshal(res.body)
	if err != nil {
		res.status, b = http.StatusInternalServerError, []byte(`{"message":"An unexpected error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(res.status)
	_, _ = w.Write(b)
}

// defaultErrorMessage is the body Kong sends with a bare status (kong/tools/http.lua get_default_exit_body).
func defaultErrorMessage(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusMethodNotAllowed:
		return "Method not allowed"
	case http.StatusInternalServerError:
		return "An unexpected error occurred"
	case http.StatusBadGateway:
		return "Bad gateway"
	case http.StatusServiceUnavailable:
		return "Service unavailable"
	case http.StatusGatewayTimeout:
		return "Gateway timeout"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "The upstream server responded with " + strconv.Itoa(status)
}

// Generic entity endpoints.

func getEntity[E entity](s *Server, k *kind[E], key string) response {
	e, found := k.find(s.store.current(), key)
	if !found {
		return fail(notFound())
	}
	return ok(e)
}

func listEntities[E entity](s *Server, q *adminRequest, k *kind[E]) response {
	return k.list(s.store.current(), q.r.URL.Query(), nil, "/"+k.plural, true)
}

func insertEntity[E entity](s *Server, q *adminRequest, k *kind[E]) response {
	return s.store.write(q.now, func(c *config) (response, bool) { return k.insert(c, q.body, q.now.Unix()) })
}

func upsertEntity[E entity](s *Server, q *adminRequest, k *kind[E]) response {
	return s.store.write(q.now, func(c *config) (response, bool) { return k.upsert(c, q.params[0], q.body, q.now.Unix()) })
}

func updateEntity[E entity](s *Server, q *adminRequest, k *kind[E]) response {
	return s.store.write(q.now, func(c *config) (response, bool) { return k.update(c, q.params[0], q.body, q.now.Unix()) })
}

// collection and item build the handler maps of an entity that follows Kong's generic endpoints.
func collection[E entity](k *kind[E]) map[string]adminHandler {
	return map[string]adminHandler{
		"GET":  func(s *Server, q *adminRequest) response { return listEntities(s, q, k) },
		"POST": func(s *Server, q *adminRequest) response { return insertEntity(s, q, k) },
	}
}

func item[E entity](k *kind[E], del adminHandler) map[string]adminHandler {
	return map[string]adminHandler{
		"GET":    func(s *Server, q *adminRequest) response { return getEntity(s, k, q.params[0]) },
		"PUT":    func(s *Server, q *adminRequest) response { return upsertEntity(s, q, k) },
		"PATCH":  func(s *Server, q *adminRequest) response { return updateEntity(s, q, k) },
		"DELETE": del,
	}
}

// Deletes answer 204 whether or not the entity existed, like Kong.

func (s *Server) deleteRoute(q *adminRequest) response {
	return s.store.write(q.now, func(c *config) (response, bool) {
		r, found := routes.find(c, q.params[0])
		if !found {
			return noContent(), false
		}
		delete(c.routes, r.ID)
		return noContent(), true
	})
}

// deleteService refuses while routes still use the service (Kong's foreign key restriction).
func (s *Server) deleteService(q *adminRequest) response {
	return s.store.write(q.now, func(c *config) (response, bool) {
		svc, found := services.find(c, q.params[0])
		if !found {
			return noContent(), false
		}
		for _, r := range c.routes {
			if r.Service != nil && r.Service.ID == svc.ID {
				return failed(foreignKeyRestricted("services", "routes"))
			}
		}
		delete(c.services, svc.ID)
		return noContent(), true
	})
}

// deleteUpstream removes an upstream and, like Kong's on_delete = "cascade", its targets.
func (s *Server) deleteUpstream(q *adminRequest) response {
	return s.store.write(q.now, func(c *config) (response, bool) {
		u, found := upstreams.find(c, q.params[0])
		if !found {
			return noContent(), false
		}
		for id, t := range c.targets {
			if t.Upstream.ID == u.ID {
				delete(c.targets, id)
			}
		}
		delete(c.upstreams, u.ID)
		return noContent(), true
	})
}

// Routes nested under a service.

func (s *Server) listServiceRoutes(q *adminRequest) response {
	c := s.store.current()
	svc, found := services.find(c, q.params[0])
	if !found {
		return fail(notFound())
	}
	keep := func(r *route) bool { return r.Service != nil && r.Service.ID == svc.ID }
	return routes.list(c, q.r.URL.Query(), keep, "/services/"+q.params[0]+"/routes", false)
}

func (s *Server) createServiceRoute(q *adminRequest) response {
	return s.store.write(q.now, func(c *config) (response, bool) {
		svc, found := services.find(c, q.params[0])
		if !found {
			return failed(notFound())
		}
		q.body["service"] = map[string]any{"id": svc.ID}
		return routes.insert(c, q.body, q.now.Unix())
	})
}

// serviceRoute serves /services/{s}/routes/{r}: the route must belong to the service, else 404 (PUT upserts the
// route into the service).
func (s *Server) serviceRoute(q *adminRequest) response {
	return s.store.write(q.now, func(c *config) (response, bool) {
		svc, found := services.find(c, q.params[0])
		if !found {
			return failed(notFound())
		}
		r, rFound := routes.find(c, q.params[1])
		belongs := rFound && r.Service != nil && r.Service.ID == svc.ID
		switch q.r.Method {
		case http.MethodPut:
			if rFound && !belongs {
				return failed(notFound())
			}
			q.body["service"] = map[string]any{"id": svc.ID}
			return routes.upsert(c, q.params[1], q.body, q.now.Unix())
		case http.MethodGet:
			if !belongs {
				return failed(notFound())
			}
			return ok(r), false
		case http.MethodPatch:
			if !belongs {
				return failed(notFound())
			}
			if _, given := q.body["service"]; !given {
				q.body["service"] = map[string]any{"id": svc.ID}
			}
			return routes.update(c, q.params[1], q.body, q.now.Unix())
		default: // DELETE
			if !belongs {
				return failed(notFound())
			}
			delete(c.routes, r.ID)
			return noContent(), true
		}
	})
}

// Targets and health.

func (s *Server) listTargets(q *adminRequest) response {
	c := s.store.current()
	u, found := upstreams.find(c, q.params[0])
	if !found {
		return fail(notFound())
	}
	return pageTargets(newestFirst(c, u.ID), q.r.URL.Query(), "/upstreams/"+q.params[0]+"/targets",
		func(t *target) any { return t })
}

func (s *Server) createTarget(q *adminRequest) response {
	return s.store.write(q.now, func(c *config) (response, bool) {
		u, found := upstreams.find(c, q.params[0])
		if !found {
			return failed(notFound())
		}
		return createTarget(c, u, q.body, q.now)
	})
}

func (s *Server) target(q *adminRequest) response {
	return s.store.write(q.now, func(c *config) (response, bool) {
		u, found := upstreams.find(c, q.params[0])
		if !found {
			return failed(notFound())
		}
		switch q.r.Method {
		case http.MethodGet:
			t := findTarget(c, u, q.params[1])
			if t == nil {
				return failed(notFound())
			}
			return ok(t), false
		case http.MethodDelete:
			return deleteTarget(c, u, q.params[1])
		default: // PUT, PATCH
			return updateTarget(c, u, q.params[1], q.body, q.now)
		}
	})
}

func (s *Server) upstreamHealth(q *adminRequest) response {
	c := s.store.current()
	u, found := upstreams.find(c, q.params[0])
	if !found {
		return fail(notFound())
	}
	res := pageTargets(newestFirst(c, u.ID), q.r.URL.Query(), "/upstreams/"+q.params[0]+"/health",
		func(t *target) any { return targetHealth(q.r.Context(), u, t, s.health.isUnhealthy(t.ID)) })
	if body, isMap := res.body.(map[string]any); isMap && res.status == http.StatusOK {
		body["node_id"] = s.nodeID
	}
	return res
}

// Node information.

func (s *Server) root(q *adminRequest) response {
	pid := os.Getpid()
	return ok(map[string]any{
		"tagline":     "Welcome to kong",
		"version":     kongVersion,
		"edition":     "community",
		"hostname":    s.hostname,
		"node_id":     s.nodeID,
		"lua_version": "LuaJIT 2.1.0-20231117",
		"timers":      map[string]any{"running": 0, "pending": 0},
		"plugins": map[string]any{
			"available_on_server": map[string]any{},
			"enabled_in_cluster":  []any{},
		},
		"pids": map[string]any{"master": pid, "workers": []any{pid}},
		"configuration": map[string]any{
			"database":            s.opts.Mode.database(),
			"role":                s.opts.Mode.role(),
			"router_flavor":       "traditional_compatible",
			"admin_listen":        []any{s.adminLn.Addr().String()},
			"proxy_listen":        []any{s.proxyLn.Addr().String()},
			"db_update_frequency": s.opts.PropagationDelay.Seconds(),
			"log_level":           "notice",
			"enforce_rbac":        map[bool]string{true: "on", false: "off"}[s.opts.AdminToken != ""],
		},
	})
}

// status answers GET /status. Kong in DB mode reports database.reachable and no configuration_hash; DB-less nodes
// and data planes report configuration_hash instead. The stand-in reports both so tests can watch the hash.
func (s *Server) status(q *adminRequest) response {
	accepted := s.connsAccepted.Load()
	active := s.connsActive.Load()
	idle := s.idleCount()
	return ok(map[string]any{
		"database": map[string]any{"reachable": true},
		"memory": map[string]any{
			"lua_shared_dicts": map[string]any{},
			"workers_lua_vms":  []any{map[string]any{"pid": os.Getpid(), "http_allocated_gc": "0.00 MiB"}},
		},
		"server": map[string]any{
			"connections_accepted": accepted,
			"connections_handled":  accepted,
			"connections_active":   active,
			"connections_reading":  0,
			"connections_writing":  max(active-idle, 0),
			"connections_waiting":  idle,
			"total_requests":       s.totalRequests.Load(),
		},
		"configuration_hash": s.store.current().configHash(),
	})
}
