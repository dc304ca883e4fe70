package kongstandin

import (
	"testing"
	"time"
)

// TestStoreProxyViewAndHistory checks the snapshot history on a fake clock: the proxy sees each version exactly
// from publish time + delay, and snapshots nobody can see any more are dropped.
func TestStoreProxyViewAndHistory(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	const delay = 5 * time.Second
	s := newStore(delay, t0)
	bump := func(at time.Time) uint64 {
		s.write(at, func(*config) (response, bool) { return ok(nil), true })
		return s.current().version
	}
	v1 := bump(t0.Add(1 * time.Second))
	v2 := bump(t0.Add(2 * time.Second))
	if s.current().version != v2 || v2 != v1+1 {
		t.Fatalf("versions %d then %d, current %d", v1, v2, s.current().version)
	}
	for _, tc := range []struct {
		at   time.Duration
		want uint64
	}{
		{0, 0}, {5900 * time.Millisecond, 0}, {6 * time.Second, v1}, {6999 * time.Millisecond, v1}, {7 * time.Second, v2}, {time.Hour, v2},
	} {
		if got := s.proxyView(t0.Add(tc.at)).version; got != tc.want {
			t.Errorf("proxy view at t0+%v = version %d, want %d", tc.at, got, tc.want)
		}
	}
	if len(s.history) != 1 {
		t.Errorf("history keeps %d snapshots an hour later, want only the visible one", len(s.history))
	}
	s.write(t0.Add(time.Hour), func(*config) (response, bool) { return noContent(), false })
	if s.current().version != v2 {
		t.Errorf("a write that changed nothing bumped the version")
	}
}
