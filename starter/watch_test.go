package main

import (
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/workflows"
)

var watchFault = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func watchAt(s float64) time.Time { return watchFault.Add(time.Duration(s * float64(time.Second))) }

func warmingUp() workflows.Status {
	return workflows.Status{Kind: "failover", Service: "payments", From: "us-east", To: "eu-west", Step: "warmup",
		FaultAt: watchFault, StartedAt: watchAt(0), RTOSeconds: 12.5,
		Steps: []workflows.StepRecord{
			{Name: "detect", Started: watchAt(0.01), Ended: watchAt(0.67), Result: "ok", Detail: "us-east is down"},
			{Name: "readiness", Started: watchAt(0.68), Ended: watchAt(0.75), Result: "ok", Detail: "eu-west healthy"},
			{Name: "approve", Started: watchAt(0.76), Ended: watchAt(8.76), Result: "ok", Detail: "approved"},
			{Name: "cutover", Started: watchAt(8.77), Ended: watchAt(9.1), Result: "ok", Detail: "/failover/payments/active → eu-west, epoch 2 at revision 42"},
			{Name: "reroute", Started: watchAt(9.11), Ended: watchAt(11.2), Result: "ok", Detail: "payments: all traffic to eu-west"},
			{Name: "warmup", Started: watchAt(11.25)},
		}}
}

func TestRenderWatchWarmup(t *testing.T) {
	got := renderWatch(warmingUp(), &activities.WarmupProgress{Batches: 3, Total: 8, Keys: 12, HitRatio: 0.62}, watchAt(12.5), 100)
	want := `failover payments: us-east → eu-west   step warmup   12.50s since the fault
  ✔ detect         0.66s  us-east is down
  ✔ readiness      0.07s  eu-west healthy
  ✔ approve        8.00s  approved
  ✔ cutover        0.33s  /failover/payments/active → eu-west, epoch 2 at revision 42
  ✔ reroute        2.09s  payments: all traffic to eu-west
  ▶ warmup         1.25s  [#########···············]  3/8 batches, 12 keys loaded, 62% were cached
  · verify
`
	if got != want {
		t.Fatalf("frame:\n%s\nwant:\n%s", got, want)
	}
	// Before the first heartbeat.
	if got := renderWatch(warmingUp(), nil, watchAt(12.5), 100); !strings.Contains(got, "["+strings.Repeat("·", 24)+"]  starting") {
		t.Fatalf("no heartbeat yet:\n%s", got)
	}
}

func TestRenderWatchWaitingAndDone(t *testing.T) {
	st := warmingUp()
	st.Steps = st.Steps[:3]
	st.Steps[2].Ended, st.Steps[2].Result, st.Steps[2].Detail = time.Time{}, "", ""
	st.Step, st.RTOSeconds = "approve", 3
	st.Pending = &workflows.Pending{Kind: workflows.DecideFailover, Question: "failover payments from us-east to eu-west?", Needed: 2, Have: 1}
	got := renderWatch(st, nil, watchAt(3), 100)
	for _, want := range []string{"▶ approve        2.24s", "· cutover", "waiting for a decision (1/2): failover payments", "starter approve failover-payments --as NAME"} {
		if !strings.Contains(got, want) {
			t.Errorf("waiting frame lacks %q:\n%s", want, got)
		}
	}

	st = warmingUp()
	st.Steps[5].Ended, st.Steps[5].Result = watchAt(12), "ok"
	st.Steps = append(st.Steps, workflows.StepRecord{Name: "verify", Started: watchAt(12.1), Ended: watchAt(14.2), Result: "failed", Detail: "2 failed check results"},
		workflows.StepRecord{Name: "rollback", Started: watchAt(14.3), Ended: watchAt(15), Result: "ok", Detail: "undid 2 change(s)"})
	st.Step, st.Outcome, st.Reason, st.RTOSeconds = "done", workflows.RolledBack, "2 failed check results, limit 0", 0
	got = renderWatch(st, nil, watchAt(40), 60)
	for _, want := range []string{"outcome rolled-back", "✘ verify", "✔ rollback", "  2 failed check results, limit 0"} {
		if !strings.Contains(got, want) {
			t.Errorf("done frame lacks %q:\n%s", want, got)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if n := len([]rune(line)); n > 60 {
			t.Errorf("line of %d runes exceeds the width 60: %q", n, line)
		}
	}
	if strings.Contains(got, "·") {
		t.Errorf("a finished failover lists pending steps:\n%s", got)
	}
}

func TestSignatureIgnoresTheClock(t *testing.T) {
	a, b := warmingUp(), warmingUp()
	b.RTOSeconds = 13.5
	if signature(a, nil) != signature(b, nil) {
		t.Fatal("only the clock moved, but the signature changed")
	}
	if signature(a, &activities.WarmupProgress{Batches: 1}) == signature(a, &activities.WarmupProgress{Batches: 2}) {
		t.Fatal("warmup progress did not change the signature")
	}
}

// A paused failover says so, and who paused it, in `starter status` and in every `starter watch` frame; the pause
// is a new frame.
func TestStatusAndWatchShowWhoPaused(t *testing.T) {
	st := warmingUp()
	running := signature(st, nil)
	st.Paused, st.PausedBy = true, "alice"
	if signature(st, nil) == running {
		t.Fatal("a pause did not change the watch signature")
	}
	if got := renderWatch(st, nil, watchAt(3), 100); !strings.Contains(got, "PAUSED by alice: resume with starter resume failover-payments") {
		t.Errorf("watch frame lacks the pause:\n%s", got)
	}
	st.Requester = workflows.Requester{Person: "bob", Proven: workflows.RequesterSigned, Key: "SHA256:abc"}
	var b strings.Builder
	printStatus(&b, st)
	for _, want := range []string{"PAUSED by alice: holds before its next change (starter resume failover-payments)",
		"requested by: bob (signed, key SHA256:abc)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
