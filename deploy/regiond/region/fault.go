package region

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/failover/failover/probe"
)

// Fault is the injected fault state, as GET/POST/DELETE /fault show it.
type Fault struct {
	// Status, when non-zero, is what /items and /healthz answer instead of serving.
	Status int `json:"status"`
	// LatencyMS is added before /items and /healthz answer.
	LatencyMS int `json:"latency_ms"`
	// ReplicationLagSeconds is reported as region_replication_lag_seconds.
	ReplicationLagSeconds float64 `json:"replication_lag_seconds"`
	// ReadyInstances is reported as region_ready_instances (default 3).
	ReadyInstances int `json:"ready_instances"`
	// DropObserver, when set, leaves unanswered every probe (HTTP /healthz, gRPC health) that names this observer
	// in probe.ObserverHeader: that one watcher is cut off from the region while everyone else sees it serve.
	DropObserver string `json:"drop_observer,omitempty"`
}

// faultPatch is the body of POST /fault: only the fields present are applied.
type faultPatch struct {
	Status                *int     `json:"status"`
	LatencyMS             *int     `json:"latency_ms"`
	ReplicationLagSeconds *float64 `json:"replication_lag_seconds"`
	ReadyInstances        *int     `json:"ready_instances"`
	DropObserver          *string  `json:"drop_observer"`
}

const maxLatencyMS = 60_000

func (p faultPatch) validate() error {
	if p.Status != nil && *p.Status != 0 && (*p.Status < 200 || *p.Status > 599) {
		return fmt.Errorf("status %d is not a final HTTP status: use 200-599, or 0 to stop faulting responses", *p.Status)
	}
	if p.LatencyMS != nil && (*p.LatencyMS < 0 || *p.LatencyMS > maxLatencyMS) {
		return fmt.Errorf("latency_ms %d is out of range: use 0-%d", *p.LatencyMS, maxLatencyMS)
	}
	if p.ReplicationLagSeconds != nil && (*p.ReplicationLagSeconds < 0 || math.IsInf(*p.ReplicationLagSeconds, 0)) {
		return fmt.Errorf("replication_lag_seconds %v must be >= 0", *p.ReplicationLagSeconds)
	}
	if p.ReadyInstances != nil && *p.ReadyInstances < 0 {
		return fmt.Errorf("ready_instances %d must be >= 0", *p.ReadyInstances)
	}
	return nil
}

func (s *Server) getFault(w http.ResponseWriter, _ *http.Request) {
	s.writeJSON(w, http.StatusOK, s.currentFault())
}

func (s *Server) setFault(w http.ResponseWriter, r *http.Request) {
	var p faultPatch
	if err := decodeStrict(w, r, &p); err != nil {
		s.writeError(w, http.StatusBadRequest, "fault: "+err.Error()+
			": fields are status, latency_ms, replication_lag_seconds, ready_instances, drop_observer")
		return
	}
	if err := p.validate(); err != nil {
		s.writeError(w, http.StatusBadRequest, "fault: "+err.Error())
		return
	}
	s.mu.Lock()
	if p.Status != nil {
		s.fault.Status = *p.Status
	}
	if p.LatencyMS != nil {
		s.fault.LatencyMS = *p.LatencyMS
	}
	if p.ReplicationLagSeconds != nil {
		s.fault.ReplicationLagSeconds = *p.ReplicationLagSeconds
	}
	if p.ReadyInstances != nil {
		s.fault.ReadyInstances = *p.ReadyInstances
	}
	if p.DropObserver != nil {
		s.fault.DropObserver = *p.DropObserver
	}
	f := s.fault
	s.mu.Unlock()
	s.syncGRPCHealth()
	s.log.Info("region: fault injected", "status", f.Status, "latency_ms", f.LatencyMS,
		"replication_lag_seconds", f.ReplicationLagSeconds, "ready_instances", f.ReadyInstances, "drop_observer", f.DropObserver)
	s.writeJSON(w, http.StatusOK, f)
}

func (s *Server) clearFault(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.fault = Fault{ReadyInstances: defaultReadyInstances}
	f := s.fault
	s.mu.Unlock()
	s.syncGRPCHealth()
	s.log.Info("region: fault cleared")
	s.writeJSON(w, http.StatusOK, f)
}

func (s *Server) currentFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

// applyLatency delays by the injected latency; false means the client left meanwhile. A probe from the dropped
// observer gets no answer at all: it waits until its client gives up.
func (s *Server) applyLatency(r *http.Request) bool {
	if d := s.currentFault().DropObserver; d != "" && r.Header.Get(probe.ObserverHeader) == d {
		<-r.Context().Done()
		return false
	}
	return wait(r.Context(), time.Duration(s.currentFault().LatencyMS)*time.Millisecond)
}

// injectFault applies latency and, when a fault status is set, answers with it. It reports whether the request
// has been answered (or abandoned) so the handler must stop.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	if !s.applyLatency(r) {
		return true
	}
	if st := s.currentFault().Status; st >= 300 {
		s.writeError(w, st, fmt.Sprintf("injected fault: %s answers %d", s.region, st))
		return true
	}
	return false
}
