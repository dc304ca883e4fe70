package slackbot

import (
	"testing"
	"time"
)

func TestRecentForgetsAfterTTLAndStaysBounded(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	r := newRecent(10*time.Minute, 3)
	for i, k := range []string{"a", "b", "c"} {
		if first, full := r.firstTime(k, t0.Add(time.Duration(i)*time.Second)); !first || full {
			t.Fatalf("%s: first %v full %v", k, first, full)
		}
	}
	if first, _ := r.firstTime("a", t0.Add(9*time.Minute)); first {
		t.Fatal("a replay inside the window was taken as new")
	}
	if first, full := r.firstTime("d", t0.Add(9*time.Minute)); first || !full {
		t.Fatalf("a full replay cache must refuse (fail closed): first %v full %v", first, full)
	}
	if first, full := r.firstTime("d", t0.Add(10*time.Minute+500*time.Millisecond)); !first || full {
		t.Fatalf("after a expired, d must fit: first %v full %v", first, full)
	}
	if first, _ := r.firstTime("a", t0.Add(10*time.Minute+time.Second)); !first {
		t.Fatal("a was remembered past its TTL")
	}
}

func TestRecentPutEvictsOldestAndCompacts(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := newRecent(time.Hour, 2)
	r.put("a", "1", now)
	r.put("b", "2", now.Add(time.Second))
	r.put("c", "3", now.Add(2*time.Second))
	if _, ok := r.get("a", now.Add(3*time.Second)); ok {
		t.Fatal("a should have been evicted for c")
	}
	if v, ok := r.get("c", now.Add(3*time.Second)); !ok || v != "3" {
		t.Fatalf("c = %q %v", v, ok)
	}
	for i := 0; i < 1000; i++ {
		r.put("b", "again", now.Add(time.Duration(3+i)*time.Millisecond))
	}
	if len(r.queue) > 2*r.max+16 {
		t.Fatalf("queue grew to %d on re-puts", len(r.queue))
	}
	r.delete("b")
	if _, ok := r.get("b", now.Add(4*time.Second)); ok {
		t.Fatal("b still there after delete")
	}
}
