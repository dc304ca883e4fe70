package kongstandin

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// config is one immutable version of everything the Admin API has written. Writes copy it, change the copy and
// publish the copy, so the proxy can keep using an older version while the Admin API moves on.
type config struct {
	version uint64
	// hash is Kong's configuration_hash of this version: set by a declarative load, else computed when first read
	// (configHash). Computing it encodes the whole config, which for an evacuation's 1,000 upstreams cost more than
	// the write itself, and most versions are never asked for theirs.
	hash      string
	hashOnce  sync.Once
	services  map[string]*service
	routes    map[string]*route
	upstreams map[string]*upstream
	targets   map[string]*target

	routerOnce sync.Once
	router     *router
}

func emptyConfig() *config {
	return &config{
		// Kong reports 32 zeros as the configuration hash of an empty configuration.
		hash:      "00000000000000000000000000000000",
		services:  map[string]*service{},
		routes:    map[string]*route{},
		upstreams: map[string]*upstream{},
		targets:   map[string]*target{},
	}
}

func (c *config) clone() *config {
	return &config{
		version:   c.version,
		services:  maps.Clone(c.services),
		routes:    maps.Clone(c.routes),
		upstreams: maps.Clone(c.upstreams),
		targets:   maps.Clone(c.targets),
	}
}

// configHash is the version's configuration hash (see hash).
func (c *config) configHash() string {
	c.hashOnce.Do(func() {
		if c.hash == "" {
			c.hash = c.computeHash()
		}
	})
	return c.hash
}

// computeHash fingerprints the config like Kong's configuration_hash (an md5 hex digest). The version is part of
// the input so every accepted write changes the hash, even one that rewrites identical values.
func (c *config) computeHash() string {
	h := md5.New()
	fmt.Fprintf(h, "%d\n", c.version)
	enc := json.NewEncoder(h)
	for _, table := range []any{c.services, c.routes, c.upstreams, c.targets} {
		_ = enc.Encode(table) // encoding/json sorts map keys, so the digest is stable
	}
	return hex.EncodeToString(h.Sum(nil))
}

// upstreamTargets lists an upstream's targets in Kong's balancer order: oldest first, ties by id.
func (c *config) upstreamTargets(upstreamID string) []*target {
	var out []*target
	for _, t := range c.targets {
		if t.Upstream.ID == upstreamID {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *target) int {
		switch {
		case a.CreatedAt < b.CreatedAt:
			return -1
		case a.CreatedAt > b.CreatedAt:
			return 1
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func (c *config) upstreamByName(name string) *upstream {
	for _, u := range c.upstreams {
		if u.Name != nil && *u.Name == name {
			return u
		}
	}
	return nil
}

// snapshot is a config and the moment it was published.
type snapshot struct {
	at  time.Time
	cfg *config
}

// store holds the current config for the Admin API and a short history of published configs for the proxy, which
// sees the config as of now minus the propagation delay (Kong's db_update_frequency).
type store struct {
	delay time.Duration
	// retain is how far back views are kept: the longest of delay and the data planes' lags.
	retain time.Duration

	mu      sync.Mutex
	cur     *config
	history []snapshot // oldest first; history[0] is the newest one at least delay old
}

func newStore(delay time.Duration, now time.Time) *store {
	c := emptyConfig()
	return &store{delay: delay, retain: delay, cur: c, history: []snapshot{{at: now, cfg: c}}}
}

// current is the config the Admin API reads: always the newest.
func (s *store) current() *config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// write runs fn on a private copy of the current config and publishes the copy when fn reports a change. Writes are
// serialised, so fn sees every earlier write.
func (s *store) write(now time.Time, fn func(c *config) (response, bool)) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.cur.clone()
	res, changed := fn(next)
	if !changed {
		return res
	}
	next.version++ // and its hash is computed when first read (configHash)
	s.cur = next
	s.history = append(s.history, snapshot{at: now, cfg: next})
	s.pruneLocked(now)
	return res
}

// load replaces the whole config with the one build returns (POST /config), unless build reports no change.
// build runs under the store's lock, so it may read s.cur.
func (s *store) load(now time.Time, build func() (*config, response, bool)) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, res, changed := build()
	if !changed {
		return res
	}
	next.version = s.cur.version + 1
	s.cur = next
	s.history = append(s.history, snapshot{at: now, cfg: next})
	s.pruneLocked(now)
	return res
}

// proxyView is the config the proxy uses at now: the newest one published at or before now-delay (or the oldest
// kept, when none is that old yet).
func (s *store) proxyView(now time.Time) *config { return s.viewAt(now, s.delay) }

// viewAt is the config as seen lag after it was published: the newest one published at or before now-lag (or the
// oldest kept). lag must not exceed retain.
func (s *store) viewAt(now time.Time, lag time.Duration) *config {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	cutoff := now.Add(-lag)
	view := s.history[0].cfg
	for _, snap := range s.history[1:] {
		if snap.at.After(cutoff) {
			break
		}
		view = snap.cfg
	}
	return view
}

// pruneLocked drops snapshots that can no longer be seen: all but the newest one at least retain old.
func (s *store) pruneLocked(now time.Time) {
	cutoff := now.Add(-s.retain)
	keep := 0
	for i, snap := range s.history {
		if !snap.at.After(cutoff) {
			keep = i
		}
	}
	if keep > 0 {
		s.history = slices.Delete(s.history, 0, keep)
	}
}

// newUUID returns a random (version 4) UUID, the id format Kong uses for entities.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newRequestID returns a 32-hex-digit id like nginx's $request_id, which Kong uses for X-Kong-Request-Id.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
