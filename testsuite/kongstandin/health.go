package kongstandin

import "sync"

// targetHealthState is what PUT /upstreams/{u}/targets/{t}/healthy|unhealthy set on this node, by target id: the
// health checker's verdict, which Kong keeps per node and outside the configuration. Kong's passive checks never
// turn a target healthy again by themselves; only /healthy (or an active check) does.
type targetHealthState struct {
	mu        sync.Mutex
	unhealthy map[string]bool // target id → marked unhealthy
}

func (h *targetHealthState) set(targetID string, healthy bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unhealthy == nil {
		h.unhealthy = map[string]bool{}
	}
	h.unhealthy[targetID] = !healthy
}

func (h *targetHealthState) isUnhealthy(targetID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unhealthy[targetID]
}

// MarkTargetUnhealthy makes the node treat a target as a health check would after failures (passive checks): it
// gets no traffic and GET /upstreams/{u}/health reports it UNHEALTHY, whatever its weight, until
// PUT /upstreams/{u}/targets/{t}/healthy. Same as PUT …/unhealthy; for tests that model a failing target.
func (s *Server) MarkTargetUnhealthy(upstream, target string) bool {
	c := s.store.current()
	u, found := upstreams.find(c, upstream)
	if !found {
		return false
	}
	t := findTarget(c, u, target)
	if t == nil {
		return false
	}
	s.health.set(t.ID, false)
	return true
}

// setTargetHealth serves PUT /upstreams/{u}/targets/{t}/healthy and …/unhealthy (kong/api/routes/upstreams.lua
// set_target_health): 204, or 404 for an unknown upstream or target. Kong does not serve them on a control plane.
func setTargetHealth(healthy bool) adminHandler {
	return func(s *Server, q *adminRequest) response {
		if s.opts.Mode == ModeControlPlane {
			return fail(notFound())
		}
		c := s.store.current()
		u, found := upstreams.find(c, q.params[0])
		if !found {
			return fail(notFound())
		}
		t := findTarget(c, u, q.params[1])
		if t == nil {
			return fail(notFound())
		}
		s.health.set(t.ID, healthy)
		return noContent()
	}
}

// unhealthyTargets lists, by target name, the targets of upstream u marked unhealthy: the balancer skips them.
func (s *Server) unhealthyTargets(c *config, u *upstream) map[string]bool {
	out := map[string]bool{}
	for _, t := range c.upstreamTargets(u.ID) {
		if s.health.isUnhealthy(t.ID) {
			out[*t.Target] = true
		}
	}
	return out
}
