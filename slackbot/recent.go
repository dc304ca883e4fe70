package slackbot

import (
	"sync"
	"time"
)

// recent remembers keys (with an optional value) for a fixed time, in bounded memory. It backs the replay cache
// of the interaction endpoints and the publisher's memory of what it already posted.
//
// Entries expire in insertion order (the TTL is the same for all), so a FIFO queue prunes them in O(1) amortised.
type recent struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	items map[string]recentItem
	queue []recentKey
}

type recentItem struct {
	value string
	at    time.Time
}

type recentKey struct {
	key string
	at  time.Time
}

func newRecent(ttl time.Duration, max int) *recent {
	return &recent{ttl: ttl, max: max, items: map[string]recentItem{}}
}

// prune drops expired entries; the caller holds mu.
func (r *recent) prune(now time.Time) {
	for len(r.queue) > 0 && now.Sub(r.queue[0].at) >= r.ttl {
		k := r.queue[0]
		r.queue = r.queue[1:]
		if it, ok := r.items[k.key]; ok && it.at.Equal(k.at) {
			delete(r.items, k.key)
		}
	}
	if len(r.queue) == 0 {
		r.queue = nil // let the backing array go
	}
}

// get returns the value of an unexpired key.
func (r *recent) get(key string, now time.Time) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now)
	it, ok := r.items[key]
	return it.value, ok
}

// put stores key, evicting the oldest entry when full (for caches where forgetting only costs a lookup).
func (r *recent) put(key, value string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now)
	if _, ok := r.items[key]; !ok && len(r.items) >= r.max {
		r.evictOldest()
	}
	r.items[key] = recentItem{value: value, at: now}
	r.queue = append(r.queue, recentKey{key, now})
	if len(r.queue) > 2*r.max+16 {
		r.compact()
	}
}

// compact drops queue entries superseded by a later put or a delete, so re-putting keys cannot grow the queue.
func (r *recent) compact() {
	live := r.queue[:0]
	for _, k := range r.queue {
		if it, ok := r.items[k.key]; ok && it.at.Equal(k.at) {
			live = append(live, k)
		}
	}
	r.queue = live
}

func (r *recent) evictOldest() {
	for len(r.queue) > 0 {
		k := r.queue[0]
		r.queue = r.queue[1:]
		if it, ok := r.items[k.key]; ok && it.at.Equal(k.at) {
			delete(r.items, k.key)
			return
		}
	}
}

// delete forgets key.
func (r *recent) delete(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.items, key) // its queue entry no longer matches and is skipped when it expires
}

// firstTime records key and reports whether it was new. full means the memory holds max unexpired keys: a
// replay cache must then refuse the request rather than forget a key it may see again (fail closed).
func (r *recent) firstTime(key string, now time.Time) (first, full bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now)
	if _, ok := r.items[key]; ok {
		return false, false
	}
	if len(r.items) >= r.max {
		return false, true
	}
	r.items[key] = recentItem{at: now}
	r.queue = append(r.queue, recentKey{key, now})
	return true, false
}
