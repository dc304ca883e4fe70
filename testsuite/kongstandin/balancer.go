package kongstandin

import (
	"strconv"
	"strings"
	"sync"
)

// balancers keeps the round-robin state of each upstream across requests. Kong's round-robin builds a wheel with
// weight/gcd slots per target and shuffles it randomly; the stand-in uses a smooth weighted round-robin instead (the
// nginx algorithm), which gives the same exact proportions over every full cycle but in a deterministic order, so
// tests can assert exact counts.
type balancers struct {
	mu    sync.Mutex
	state map[string]*wheel // by upstream id
}

// wheel is the smooth weighted round-robin over one version of an upstream's targets.
type wheel struct {
	signature string
	peers     []*peer
}

// peer is one target as the balancer sees it.
type peer struct {
	target  string // "host:port", as stored
	host    string
	port    int
	weight  int
	current int
}

// pick chooses the next target of u in the config the proxy uses, skipping the targets in exclude (those that
// already failed this request). It reports false when no target has weight left: Kong's "failure to get a peer
// from the ring-balancer".
func (b *balancers) pick(c *config, u *upstream, exclude map[string]bool) (peer, bool) {
	targets := c.upstreamTargets(u.ID)
	var sig strings.Builder
	for _, t := range targets {
		sig.WriteString(t.ID + "=" + *t.Target + "/" + strconv.Itoa(*t.Weight) + ";")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == nil {
		b.state = map[string]*wheel{}
	}
	w := b.state[u.ID]
	if w == nil || w.signature != sig.String() {
		// a changed target set or weight starts a new cycle, as Kong rebuilds its wheel
		w = &wheel{signature: sig.String()}
		for _, t := range targets {
			hp, _ := parseHostPort(*t.Target)
			host := hp.host
			if hp.kind == "ipv6" {
				host = "[" + host + "]"
			}
			w.peers = append(w.peers, &peer{target: *t.Target, host: host, port: hp.port, weight: *t.Weight})
		}
		b.state[u.ID] = w
	}
	total := 0
	var best *peer
	for _, p := range w.peers {
		if p.weight == 0 || exclude[p.target] {
			continue
		}
		p.current += p.weight
		total += p.weight
		if best == nil || p.current > best.current {
			best = p
		}
	}
	if best == nil {
		return peer{}, false
	}
	best.current -= total
	return *best, true
}
