package activities

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// AuditLog writes one JSON line per failover event, exactly once per (workflow, run, seq): an activity retried
// after its write succeeded (a worker killed before it reported back) finds the record already written and skips
// it. Safe for concurrent use.
type AuditLog struct {
	mu      sync.Mutex
	w       io.Writer
	written map[auditKey]bool
	order   []auditKey
}

// auditKey identifies one event of one run: the idempotency key of an audit record, also for log pipelines that
// merge the audit logs of several workers.
type auditKey struct {
	workflowID, runID string
	seq               int
	droppedBy         string // the sink, on the record of an event it dropped (EventDropped)
}

// auditMemory bounds how many written keys the log remembers (about 100 bytes each): far more than the events
// of the failovers a worker runs at once.
const auditMemory = 100_000

// NewAuditLog writes audit records to w (os.Stdout, a file).
func NewAuditLog(w io.Writer) *AuditLog { return &AuditLog{w: w, written: map[auditKey]bool{}} }

// OpenAuditFile appends to the audit file at path, first reading the records already in it, so that a worker
// restarted after a crash does not write an event a second time.
func OpenAuditFile(path string) (*AuditLog, io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, err
	}
	l := NewAuditLog(f)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			l.remember(keyOf(e))
		}
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read existing audit records: %w", err)
	}
	return l, f, nil
}

func keyOf(e Event) auditKey {
	k := auditKey{workflowID: e.WorkflowID, runID: e.RunID, seq: e.Seq}
	if e.Type == EventDropped {
		k.droppedBy = e.Sink
	}
	return k
}

// Write appends one record unless this event was written before.
func (l *AuditLog) Write(e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written[keyOf(e)] {
		return nil
	}
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		return err
	}
	l.remember(keyOf(e))
	return nil
}

func (l *AuditLog) remember(k auditKey) {
	if l.written[k] {
		return
	}
	l.written[k] = true
	l.order = append(l.order, k)
	if len(l.order) > auditMemory {
		delete(l.written, l.order[0])
		l.order = l.order[1:]
	}
}

// RecordAudit writes a batch of events to the audit log, in order. It fails (and Temporal retries it) until every
// record is written: the workflow never drops an audit record, and never waits on Slack for one.
func (a *Activities) RecordAudit(ctx context.Context, events []Event) error {
	if a.Audit == nil {
		return nil
	}
	for _, e := range events {
		if err := a.Audit.Write(e); err != nil {
			return fmt.Errorf("audit record %d of %s: %w", e.Seq, e.WorkflowID, err)
		}
	}
	return nil
}
