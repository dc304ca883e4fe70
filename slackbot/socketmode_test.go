package slackbot

import (
	"context"
	"testing"
	"time"

	"github.com/failover/failover/slackbot/internal/slackfake"
	"github.com/failover/failover/workflows"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSocketModeRoutesClicksAndAcks(t *testing.T) {
	c := newClickEnv(t, "CSOCK", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunSocketMode(ctx, Config{BotToken: "xoxb-test", AppToken: "xapp-test", APIURL: c.fake.APIURL()}, c.approvals, nil)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunSocketMode: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("RunSocketMode did not return after cancel")
		}
	}()
	eventually(t, 5*time.Second, "socket mode connects", c.fake.SocketConnected)

	approve := slackfake.Click(c.card, "U111", ActionApprove, "1700000001.000001")
	if err := c.fake.SendInteractive("env-1", approve); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "envelope env-1 acked", func() bool { return c.fake.Acked("env-1") })
	eventually(t, 5*time.Second, "the approval reaches the workflow", func() bool { return len(c.wf.decides()) == 1 })

	// Slack redelivers an envelope it thinks was not acked: same click, no second update.
	if err := c.fake.SendInteractive("env-2", approve); err != nil {
		t.Fatal(err)
	}
	reject := slackfake.Click(c.card, "U222", ActionReject, "1700000002.000001")
	if err := c.fake.SendInteractive("env-3", reject); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "env-2 and env-3 acked", func() bool { return c.fake.Acked("env-2") && c.fake.Acked("env-3") })
	eventually(t, 5*time.Second, "the rejection reaches the workflow", func() bool { return len(c.wf.decides()) == 2 })
	c.approvals.Wait()
	calls := c.wf.decides()
	if len(calls) != 2 || calls[0].update != workflows.ApproveUpdate || calls[0].req.By != "U111" ||
		calls[1].update != workflows.RejectUpdate || calls[1].req.By != "U222" || calls[1].req.Via != "slack" {
		t.Fatalf("updates %+v", calls)
	}
	if e := c.ephemeral(t, "U222"); e == "" {
		t.Fatal("U222 got no answer")
	}
}
