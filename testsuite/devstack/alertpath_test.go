package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestAlertmanagerToFailoverEndToEnd is the whole path with the real binaries, wired as the demo wires it: us-east
// is faulted, clients' requests through the gateway fail, Prometheus's RegionHighErrorRatio fires, Alertmanager
// posts it to the front door with its bearer token, and the failover it starts runs to success. A new alert right
// after needs a human (the plan's cooldown).
func TestAlertmanagerToFailoverEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	t0 := time.Now()
	door, err := startLoopbackDoor("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(door.close)
	const token = "e2e-s3cret"
	s, err := stack.Start(ctx, stack.Options{NoUI: true, Prometheus: true, WebhookURL: door.url + "/webhooks/alertmanager", WebhookToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if _, err := openDoor(door, s, s.Plan, token, discard()); err != nil {
		t.Fatal(err)
	}
	if err := waitForScrapes(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: stack up, both regions scraped", time.Since(t0).Round(100*time.Millisecond))

	traffic := startTraffic(ctx, s.Kong.ProxyURL()+"/payments/items/", 10*time.Millisecond)
	faultAt := time.Now()
	if err := region.InjectFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	run, err := awaitFailover(ctx, s, "failover-payments", alertWait, func() string { return alertPathState(s, door) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: failover %s started by the alert, %.1fs after the fault", time.Since(t0).Round(100*time.Millisecond), run.GetRunID(),
		time.Since(faultAt).Seconds())
	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	traffic.stop(faultAt, "eu-west")
	if res.Outcome != workflows.Succeeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	st, err := demoStatus(ctx, s, run)
	if err != nil {
		t.Fatal(err)
	}
	if st.Trigger.Source != "alert" || st.Trigger.Alert != "RegionHighErrorRatio" || st.Trigger.Severity != "critical" ||
		len(st.Alerts) == 0 || !st.Alerts[0].FirstSeen.After(faultAt) || st.Alerts[0].Labels["region"] != "us-east" {
		t.Fatalf("trigger %+v, alerts %+v", st.Trigger, st.Alerts)
	}
	t.Logf("%v: outcome %s; detection %.1fs (fault → alert received), RTO %.1fs (fault → verified)",
		time.Since(t0).Round(100*time.Millisecond), res.Outcome, st.Alerts[0].FirstSeen.Sub(faultAt).Seconds(),
		res.Steps[len(res.Steps)-1].Ended.Sub(faultAt).Seconds())

	// A new alert inside the plan's cooldown starts a failover that needs a human.
	resp := postFiring(t, door.url+"/webhooks/alertmanager", token, st.Alerts[0].Labels)
	if resp.Alerts[0].Action != alerts.ActionStarted || resp.Alerts[0].RunID == run.GetRunID() {
		t.Fatalf("new alert after the failover: %+v", resp)
	}
	st2, err := demoStatus(ctx, s, s.TemporalClient.GetWorkflow(ctx, "failover-payments", resp.Alerts[0].RunID))
	if err != nil {
		t.Fatal(err)
	}
	if !st2.Trigger.RequireApproval || !strings.Contains(st2.Trigger.RequireReason, "cooldown after failover-payments run "+run.GetRunID()) {
		t.Fatalf("second failover's trigger %+v: want approval required by the cooldown", st2.Trigger)
	}
	t.Logf("%v: a new alert within the cooldown: %s", time.Since(t0).Round(100*time.Millisecond), st2.Trigger.RequireReason)
}

// postFiring posts one firing alert with labels to the webhook, as Alertmanager would, and decodes the answer.
func postFiring(t *testing.T, url, token string, labels map[string]string) alerts.Response {
	t.Helper()
	body, err := json.Marshal(alerts.Payload{Version: alerts.SupportedVersion, Status: alerts.Firing, Receiver: "orchestrator",
		Alerts: []alerts.Alert{{Status: alerts.Firing, Labels: labels, StartsAt: time.Now()}}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	var out alerts.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal(text, &out) != nil || len(out.Alerts) != 1 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, text)
	}
	return out
}

// TestAlertWaitNamesTheStuckHop: when no failover starts, the wait for it ends at its limit and says where the alert
// stands. Here the front door never comes up (it answers 503, as while it starts): Prometheus fires, Alertmanager
// holds the alert and posts it, and the message shows all three hops, so the one that failed is plain.
func TestAlertWaitNamesTheStuckHop(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	door, err := startLoopbackDoor("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(door.close)
	s, err := stack.Start(ctx, stack.Options{NoUI: true, Prometheus: true, WebhookURL: door.url + "/webhooks/alertmanager", WebhookToken: "t0ken"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if err := waitForScrapes(ctx, s); err != nil {
		t.Fatal(err)
	}
	traffic := startTraffic(ctx, s.Kong.ProxyURL()+"/payments/items/", 10*time.Millisecond)
	defer traffic.stop(time.Now(), "eu-west")
	if err := region.InjectFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		t.Fatal(err)
	}
	// Past the rule's for: and Alertmanager's group_wait; the webhook's answers are retried meanwhile.
	_, err = awaitFailover(ctx, s, "failover-payments", 20*time.Second, func() string { return alertPathState(s, door) })
	if !errors.Is(err, errTimedOut) {
		t.Fatalf("awaitFailover: %v, want a timeout", err)
	}
	for _, want := range []string{"no failover failover-payments started within 20s", "Prometheus: RegionHighErrorRatio{region=us-east} firing",
		"Alertmanager: RegionHighErrorRatio{region=us-east} active", "HTTP 503 starting"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
	t.Log(err)
}
