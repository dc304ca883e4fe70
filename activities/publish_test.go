package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

type flakyPublisher struct {
	fails int
	calls int
	ref   string
}

func (p *flakyPublisher) Publish(_ context.Context, e Event) (string, error) {
	p.calls++
	if p.calls <= p.fails {
		return "", errors.New("slack is down")
	}
	return p.ref, nil
}

func TestPublishWritesTheAuditAndNeverFailsOnAPublisher(t *testing.T) {
	var audit bytes.Buffer
	down := &flakyPublisher{fails: 100}
	slow := &flakyPublisher{fails: 1, ref: "C1:123.456"}
	a := &Activities{Audit: NewAuditLog(&audit), Publishers: []Publisher{down, slow}}
	res, err := a.Publish(context.Background(), Event{Seq: 1, Type: EventDecision, WorkflowID: "failover-payments", Actor: "alice"})
	if err != nil {
		t.Fatalf("a failing publisher failed the event: %v", err)
	}
	if res.Ref != "C1:123.456" || down.calls != 3 || slow.calls != 2 {
		t.Fatalf("ref %q, calls %d/%d: want the working publisher's ref after retries", res.Ref, down.calls, slow.calls)
	}
	// The event, then the record of the publisher that gave up on it: never dropped silently.
	lines := strings.Split(strings.TrimSpace(audit.String()), "\n")
	var rec, drop Event
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &rec) != nil || json.Unmarshal([]byte(lines[1]), &drop) != nil {
		t.Fatalf("audit log %q: want the event and one dropped record", audit.String())
	}
	if rec.Actor != "alice" || rec.Type != EventDecision {
		t.Fatalf("audit record %+v", rec)
	}
	if drop.Type != EventDropped || drop.Seq != 1 || drop.Dropped != EventDecision || drop.Reason != DropFailed ||
		drop.Sink != "*activities.flakyPublisher" || drop.Detail != "slack is down" {
		t.Fatalf("dropped record %+v: want seq 1, the decision, reason failed, the publisher and its error", drop)
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPublishFailsWhenTheAuditCannotBeWritten(t *testing.T) {
	a := &Activities{Audit: NewAuditLog(brokenWriter{})}
	if _, err := a.Publish(context.Background(), Event{Seq: 3, WorkflowID: "w"}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v: an audit record that cannot be written must be retried", err)
	}
}

// A retried RecordAudit (the worker died after writing) must not write a record twice, also after a restart
// that reopens the file.
func TestAuditRecordsAreWrittenOncePerSequenceNumber(t *testing.T) {
	path := t.TempDir() + "/audit.jsonl"
	l, closer, err := OpenAuditFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &Activities{Audit: l}
	batch := []Event{{Seq: 1, WorkflowID: "w", RunID: "r"}, {Seq: 2, WorkflowID: "w", RunID: "r"}}
	for range 2 {
		if err := a.RecordAudit(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	closer.Close()
	l, closer, err = OpenAuditFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	a.Audit = l
	more := append(batch, Event{Seq: 1, WorkflowID: "w", RunID: "other-run"})
	if err := a.RecordAudit(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if lines := strings.Count(string(b), "\n"); lines != 3 {
		t.Fatalf("%d audit lines, want 3 (seq 1 and 2 once, then the other run's seq 1):\n%s", lines, b)
	}
}

// channelPublisher takes only events with a channel, as Slack does.
type channelPublisher struct{ flakyPublisher }

func (p *channelPublisher) Wants(e Event) bool { return e.Channel != "" }

// TestNotifySaysWhenNobodyListens: Notify reports Unheard when no publisher wants any event of the batch, so the
// workflow stops calling it; one publisher that wants them keeps it heard.
func TestNotifySaysWhenNobodyListens(t *testing.T) {
	quiet, loud := Event{Seq: 1, Type: EventStep}, Event{Seq: 1, Type: EventStep, Channel: "#ops"}
	for _, tc := range []struct {
		name       string
		publishers []Publisher
		event      Event
		unheard    bool
	}{
		{"no publisher", nil, loud, true},
		{"Slack, plan without a channel", []Publisher{&channelPublisher{}}, quiet, true},
		{"Slack, plan with a channel", []Publisher{&channelPublisher{}}, loud, false},
		{"a publisher that takes everything", []Publisher{&channelPublisher{}, &flakyPublisher{}}, quiet, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Activities{Publishers: tc.publishers}
			res, err := a.Notify(context.Background(), NotifyInput{Events: []Event{tc.event}})
			if err != nil || res.Unheard != tc.unheard {
				t.Errorf("Notify = %+v, %v; want Unheard %v", res, err, tc.unheard)
			}
		})
	}
}
