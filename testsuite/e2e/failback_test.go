package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/failover/failover/workflows"
)

// TestFailbackAfterRecovery fails over, lets the original region recover, then fails back: the hold-down passes
// only while us-east stays healthy, and a person must approve.
func TestFailbackAfterRecovery(t *testing.T) {
	s := startStack(t)
	startWorker(t, s)
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Failback.HoldDown, p.Failback.ProbeInterval = 2*time.Second, 500*time.Millisecond
	wantOutcome(t, result(t, start(t, s, request(p, "us-east", "eu-west"))), workflows.Succeeded)

	req, err := http.NewRequest(http.MethodDelete, s.Regions["us-east"].URL()+"/fault", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back := request(p, "eu-west", "us-east")
	back.Kind = workflows.KindFailback
	run := start(t, s, back)
	eventually(t, 30*time.Second, "failback waits for approval after the hold-down", func() bool {
		v, err := s.TemporalClient.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), workflows.StatusQuery)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Pending != nil
	})
	approve(t, s, run.GetID(), p.Hash(), "bob")
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	if res.Steps[0].Name != "hold-down" || res.Steps[0].Seconds() < 2 {
		t.Fatalf("first step %+v, want a hold-down of at least 2s", res.Steps[0])
	}
	if a := active(t, s); a.Value.Region != "us-east" || a.Value.Epoch != 3 {
		t.Fatalf("etcd after failback: %+v", a.Value)
	}
	if w := weights(t, s); w["us-east"] != 100 || w["eu-west"] != 0 {
		t.Fatalf("kong after failback: %v", w)
	}
}
