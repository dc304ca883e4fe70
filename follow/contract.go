// Package follow lets a service follow its active-region key in etcd: it delivers each cutover once and in order,
// acknowledges it for the orchestrator, and keeps serving the last confirmed value when etcd is unreachable.
//
// The contract with the orchestrator is defined once, in this file, and the cutover step imports it:
//   - the active-region key holds Active JSON; epochs only move forward (a restore writes a new, higher epoch);
//   - after applying an epoch, each instance writes Ack JSON at AckKey(ackPrefix, instance), attached to a lease,
//     so the ack of a dead instance vanishes; the cutover counts acks whose Epoch is at least its own.
//
// A Follower (New, Run, Current) for one key:
//   - reads the key, then watches it from the last revision it processed. After a disconnect it resumes from
//     there, so no transition is missed or delivered twice. If etcd compacted past that revision it reads the
//     current value: the epochs in between are gone from etcd and are skipped.
//   - proves the watch alive and caught up by requesting a progress notification every LeaseTTL/4; two
//     unanswered requests count as a disconnect (the client library alone would wait silently).
//   - calls the Handler for each new epoch, oldest first, and acks the epoch once the handler succeeds. A failing
//     handler is retried with backoff until it succeeds or a newer epoch arrives: the newer epoch supersedes it
//     (the retry's context is cancelled), the failing epoch and any queued behind it are dropped unacked
//     (follow_superseded_epochs_total), and the newest is delivered next, so a rollback is never held back by the
//     epoch it undoes. An epoch is applied at most once, and applied epochs only increase.
//   - reports (log + follow_ignored_values_total) and skips malformed values, deletions of the key, and epochs that
//     do not move forward; the last good value stays.
//   - with CacheFile, persists each value etcd confirmed (write, fsync, rename). When etcd is unreachable at start
//     it applies the cached value (State.FromCache, Stale) and resyncs once etcd answers.
//
// Metrics, registered when Config.Registerer is set, each with the constant label key=<Config.Key>:
// follow_epoch, follow_config_stale_seconds, follow_fallback_active, follow_watch_reconnects_total,
// follow_ignored_values_total{reason}, follow_handler_errors_total, follow_superseded_epochs_total.
package follow

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The orchestrator and every consumer share this contract: the value at the active-region key and the ack written
// under the ack prefix. It is defined here, once; the cutover step imports it.

// Active is the value stored at a service's active-region key.
type Active struct {
	Region     string `json:"region"`
	Epoch      int64  `json:"epoch"`
	WorkflowID string `json:"workflow_id,omitempty"`
	// RunID tells one failover run from the next: they share the workflow ID failover-<service>.
	RunID string    `json:"run_id,omitempty"`
	Time  time.Time `json:"time"`
	// Previous is what the key held before this cutover, so an operator can see (and undo) the last change.
	Previous *Previous `json:"previous,omitempty"`
}

// Previous is the region and epoch a cutover replaced.
type Previous struct {
	Region string `json:"region"`
	Epoch  int64  `json:"epoch"`
}

// Ack is what a consumer instance writes under the ack prefix after it has applied an epoch.
type Ack struct {
	Instance string    `json:"instance"`
	Region   string    `json:"region"`
	Epoch    int64     `json:"epoch"`
	Time     time.Time `json:"time"`
}

// AckKey is where instance writes its ack: the prefix followed by the instance name.
func AckKey(ackPrefix, instance string) string { return ackPrefix + instance }

// ParseActive decodes and checks an active-region value.
func ParseActive(b []byte) (Active, error) {
	var a Active
	if err := json.Unmarshal(b, &a); err != nil {
		return Active{}, fmt.Errorf("active-region value is not JSON {region, epoch, ...}: %w", err)
	}
	if strings.TrimSpace(a.Region) == "" {
		return Active{}, errors.New("active-region value has no region")
	}
	if a.Epoch < 1 {
		return Active{}, fmt.Errorf("active-region value has epoch %d: epochs start at 1", a.Epoch)
	}
	return a, nil
}

// ParseAck decodes and checks an ack value.
func ParseAck(b []byte) (Ack, error) {
	var a Ack
	if err := json.Unmarshal(b, &a); err != nil {
		return Ack{}, fmt.Errorf("ack value is not JSON {instance, region, epoch, time}: %w", err)
	}
	if a.Instance == "" || a.Epoch < 1 {
		return Ack{}, fmt.Errorf("ack value needs an instance and an epoch >= 1, got %q/%d", a.Instance, a.Epoch)
	}
	return a, nil
}
