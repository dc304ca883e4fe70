package kongstandin

import (
	"net/http"
	"time"
)

// DataPlane is a data plane connected to a stand-in control plane: it applies each configuration Lag after the
// control plane published it (Kong pushes throttled by db_update_frequency, then the data plane loads it).
type DataPlane struct {
	Hostname string
	Lag      time.Duration
	id       string
}

// SetDataPlaneLag changes a data plane's lag (e.g. to make one fall behind during a test); it must not exceed the
// longest lag given at Start.
func (s *Server) SetDataPlaneLag(hostname string, lag time.Duration) {
	s.dpMu.Lock()
	defer s.dpMu.Unlock()
	for i := range s.dataPlanes {
		if s.dataPlanes[i].Hostname == hostname {
			s.dataPlanes[i].Lag = min(lag, s.store.retain)
		}
	}
}

// dataPlanesList answers GET /clustering/data-planes (kong/api/routes/clustering.lua): each connected data plane
// with the configuration hash it runs. Only a control plane serves it.
func (s *Server) dataPlanesList(q *adminRequest) response {
	if s.opts.Mode != ModeControlPlane {
		return fail(msgError(http.StatusBadRequest, "this endpoint is only available when Kong is configured to run as Control Plane for the cluster"))
	}
	s.dpMu.Lock()
	dps := append([]DataPlane(nil), s.dataPlanes...)
	s.dpMu.Unlock()
	data := []any{}
	for _, dp := range dps {
		data = append(data, map[string]any{
			"id": dp.id, "hostname": dp.Hostname, "ip": "127.0.0.1", "version": kongVersion,
			"sync_status": "normal", "config_hash": s.store.viewAt(q.now, dp.Lag).configHash(),
			"last_seen": q.now.Unix(), "updated_at": q.now.Unix(), "ttl": 1209600, "labels": map[string]any{},
		})
	}
	return ok(map[string]any{"data": data, "next": nil})
}
