package region

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxBody bounds request bodies; warmup key lists and faults are small.
const maxBody = 1 << 20

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Traffic endpoints are counted in region_http_requests_total; /metrics and /fault are operator endpoints and
	// stay out of the error ratio the alert rules compute.
	mux.Handle("GET /items/{key}", s.instrument(http.HandlerFunc(s.getItem)))
	mux.Handle("GET /healthz", s.instrument(http.HandlerFunc(s.health)))
	mux.Handle("POST /warmup", s.instrument(http.HandlerFunc(s.warmup)))
	mux.HandleFunc("GET /fault", s.getFault)
	mux.HandleFunc("POST /fault", s.setFault)
	mux.HandleFunc("DELETE /fault", s.clearFault)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	return mux
}

// Item is the body of GET /items/{key}.
type Item struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Region string `json:"region"`
	// Cache is "hit" or "miss".
	Cache string `json:"cache"`
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	if s.injectFault(w, r) {
		return
	}
	key := r.PathValue("key")
	s.mu.Lock()
	value, hit := s.cache[key]
	if hit {
		s.hits++
	} else {
		s.misses++
	}
	s.mu.Unlock()
	cache := "hit"
	if !hit {
		cache = "miss"
		if !wait(r.Context(), missCost) {
			return
		}
		value = load(key)
		s.mu.Lock()
		s.cache[key] = value
		s.mu.Unlock()
	}
	s.writeJSON(w, http.StatusOK, Item{Key: key, Value: value, Region: s.region, Cache: cache})
}

// load is the simulated backing store: replicated data, so every region returns the same value for a key.
func load(key string) string { return "value-of-" + key }

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok", or "faulted" while a fault status is injected.
	Status                string  `json:"status"`
	Region                string  `json:"region"`
	Service               string  `json:"service"`
	Instance              string  `json:"instance"`
	ReadyInstances        int     `json:"ready_instances"`
	ReplicationLagSeconds float64 `json:"replication_lag_seconds"`
	// Epoch and ActiveRegion are the last active-region value applied from etcd (0 and "" without one).
	Epoch        int64  `json:"epoch"`
	ActiveRegion string `json:"active_region,omitempty"`
	// ActiveStale is true while following etcd and the value is unconfirmed (etcd unreachable, or served from the
	// cache file); always false without etcd.
	ActiveStale bool `json:"active_stale,omitempty"`
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if !s.applyLatency(r) {
		return
	}
	f := s.currentFault()
	h := Health{
		Status: "ok", Region: s.region, Service: s.service, Instance: s.instance,
		ReadyInstances: f.ReadyInstances, ReplicationLagSeconds: f.ReplicationLagSeconds,
		Epoch: s.SeenEpoch(), ActiveRegion: s.active(),
	}
	if s.follower != nil {
		_, st := s.follower.Current()
		h.ActiveStale = st.Stale
	}
	code := http.StatusOK
	if f.Status != 0 {
		code = f.Status
		if code >= 300 {
			h.Status = "faulted"
		}
	}
	s.writeJSON(w, code, h)
}

// WarmupRequest is the body of POST /warmup.
type WarmupRequest struct {
	Keys []string `json:"keys"`
}

// WarmupResult is the answer to POST /warmup.
type WarmupResult struct {
	// Loaded is how many of the keys this call loaded; repeating a warmup loads nothing.
	Loaded int `json:"loaded"`
	// Cached is how many items the cache holds afterwards.
	Cached int `json:"cached"`
	// HitRatio is the fraction of the requested keys that were already cached: how warm the cache was for them.
	HitRatio float64 `json:"hit_ratio"`
}

func (s *Server) warmup(w http.ResponseWriter, r *http.Request) {
	var req WarmupRequest
	if err := decodeStrict(w, r, &req); err != nil {
		s.writeError(w, http.StatusBadRequest, "warmup: "+err.Error()+`: send {"keys":["k1","k2"]}`)
		return
	}
	if req.Keys == nil {
		s.writeError(w, http.StatusBadRequest, `warmup: missing "keys": send {"keys":["k1","k2"]}`)
		return
	}
	unique := map[string]bool{}
	for i, k := range req.Keys {
		if k == "" {
			s.writeError(w, http.StatusBadRequest, fmt.Sprintf("warmup: keys[%d] is empty", i))
			return
		}
		unique[k] = true
	}
	s.mu.Lock()
	var missing []string
	for k := range unique {
		if _, ok := s.cache[k]; !ok {
			missing = append(missing, k)
		}
	}
	s.mu.Unlock()
	// One bulk round trip to the backing store for the whole batch.
	if len(missing) > 0 && !wait(r.Context(), missCost) {
		return
	}
	s.mu.Lock()
	loaded := 0
	for _, k := range missing {
		if _, ok := s.cache[k]; !ok { // a concurrent GET may have loaded it meanwhile
			s.cache[k] = load(k)
			loaded++
		}
	}
	cached := len(s.cache)
	s.mu.Unlock()
	ratio := 1.0
	if len(unique) > 0 {
		ratio = float64(len(unique)-len(missing)) / float64(len(unique))
	}
	s.log.Debug("region: warmup", "keys", len(unique), "loaded", loaded)
	s.writeJSON(w, http.StatusOK, WarmupResult{Loaded: loaded, Cached: cached, HitRatio: ratio})
}

// hitRatio is hits / (hits + misses) of GET /items, 0 before any request.
func (s *Server) hitRatio() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hits+s.misses == 0 {
		return 0
	}
	return float64(s.hits) / float64(s.hits+s.misses)
}

// decodeStrict decodes one JSON object, rejecting unknown fields so a typo is a 400 that names it, not a no-op.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body")
		}
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func (s *Server) writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Region", s.region)
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("region: write response", "err", err)
	}
}

// ErrorBody is the body of every non-2xx answer.
type ErrorBody struct {
	Error  string `json:"error"`
	Region string `json:"region"`
}

func (s *Server) writeError(w http.ResponseWriter, code int, msg string) {
	s.writeJSON(w, code, ErrorBody{Error: msg, Region: s.region})
}

// wait sleeps for d (simulated work or injected latency) unless the client goes away first.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
