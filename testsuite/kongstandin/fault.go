package kongstandin

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Fault makes the Admin API misbehave, to test how callers cope with a sick Kong.
type Fault struct {
	// Status, when non-zero, is answered instead of serving the request (e.g. 503), with Kong's error body.
	Status int
	// Latency delays each affected request before it is answered or served.
	Latency time.Duration
	// Count is how many requests the fault affects; 0 means every request until ClearAdminFault.
	Count int
	// Methods limits the fault to these HTTP methods (e.g. "PUT"); empty means all.
	Methods []string
}

// faultState holds the injected fault and how many more requests it may affect.
type faultState struct {
	mu     sync.Mutex
	active *Fault
	left   int
}

func (fs *faultState) set(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.Methods = slices.Clone(f.Methods)
	fs.active, fs.left = &f, f.Count
}

func (fs *faultState) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.active = nil
}

// take returns the fault that applies to a request with this method and uses up one of its Count.
func (fs *faultState) take(method string) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.active
	if f == nil {
		return Fault{}, false
	}
	if len(f.Methods) > 0 && !slices.ContainsFunc(f.Methods, func(m string) bool { return strings.EqualFold(m, method) }) {
		return Fault{}, false
	}
	if f.Count > 0 {
		fs.left--
		if fs.left <= 0 {
			fs.active = nil
		}
	}
	return *f, true
}
