package activities

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.temporal.io/sdk/temporal"

	"github.com/failover/failover/follow"
	"github.com/failover/failover/testsuite/etcdserver"
)

func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	srv, err := etcdserver.Start(etcdserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := srv.NewClient()
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		srv.Stop()
	})
	return cli
}

func putActive(t *testing.T, cli *clientv3.Client, key string, v follow.Active) {
	t.Helper()
	b, _ := json.Marshal(v)
	if _, err := cli.Put(context.Background(), key, string(b)); err != nil {
		t.Fatal(err)
	}
}

func errType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

func TestCutoverIsFencedAndIdempotent(t *testing.T) {
	ctx := context.Background()
	cli := startEtcd(t)
	a := &Activities{Etcd: cli}
	const key = "/failover/payments/active"
	putActive(t, cli, key, follow.Active{Region: "us-east", Epoch: 4})
	before, err := a.ReadActive(ctx, key)
	if err != nil || !before.Exists || before.Value.Epoch != 4 {
		t.Fatalf("read %+v %v", before, err)
	}
	in := CutoverInput{Key: key, Expected: before, Region: "eu-west", WorkflowID: "failover-payments", RunID: "run-1"}
	first, err := a.Cutover(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Value.Epoch != 5 || first.Value.Previous == nil || first.Value.Previous.Region != "us-east" || first.AlreadyApplied {
		t.Fatalf("first cutover %+v", first)
	}
	// A retry after a crash finds its own write and succeeds without writing again.
	again, err := a.Cutover(ctx, in)
	if err != nil || !again.AlreadyApplied || again.Revision != first.Revision {
		t.Fatalf("retry %+v %v, want already applied at revision %d", again, err, first.Revision)
	}
	// Another run with the same stale read is fenced.
	other := in
	other.RunID = "run-2"
	if _, err := a.Cutover(ctx, other); errType(err) != ErrFenced {
		t.Fatalf("stale cutover by another run: %v, want Fenced", err)
	}
	now, _ := a.ReadActive(ctx, key)
	if now.Value.Epoch != 5 || now.Value.Region != "eu-west" || now.ModRevision != first.Revision {
		t.Fatalf("key after fenced write %+v", now)
	}
}

func TestCutoverFencedWhenSomeoneElseWrote(t *testing.T) {
	ctx := context.Background()
	cli := startEtcd(t)
	a := &Activities{Etcd: cli}
	const key = "/failover/svc/active"
	putActive(t, cli, key, follow.Active{Region: "us-east", Epoch: 1})
	before, _ := a.ReadActive(ctx, key)
	putActive(t, cli, key, follow.Active{Region: "us-east", Epoch: 2, WorkflowID: "manual-fix"})
	_, err := a.Cutover(ctx, CutoverInput{Key: key, Expected: before, Region: "eu-west", RunID: "r"})
	if errType(err) != ErrFenced {
		t.Fatalf("got %v, want Fenced", err)
	}
}

func TestCutoverCreatesAMissingKey(t *testing.T) {
	ctx := context.Background()
	cli := startEtcd(t)
	a := &Activities{Etcd: cli}
	res, err := a.Cutover(ctx, CutoverInput{Key: "/failover/new/active", Region: "eu-west", RunID: "r"})
	if err != nil || res.Value.Epoch != 1 || res.Value.Previous != nil {
		t.Fatalf("%+v %v", res, err)
	}
}

// A key deleted by hand (or never written) while consumers still hold acks of a later epoch: the cutover starts
// above those acks, so consumers follow it and their old acks do not count for it.
func TestCutoverOnAMissingKeyStartsAboveOldAcks(t *testing.T) {
	ctx := context.Background()
	cli := startEtcd(t)
	a := &Activities{Etcd: cli}
	const key, prefix = "/failover/payments/active", "/failover/payments/acks/"
	for instance, epoch := range map[string]int64{"api-1": 21, "api-2": 20} {
		b, _ := json.Marshal(follow.Ack{Instance: instance, Region: "us-east", Epoch: epoch, Time: time.Now()})
		if _, err := cli.Put(ctx, follow.AckKey(prefix, instance), string(b)); err != nil {
			t.Fatal(err)
		}
	}
	in := CutoverInput{Key: key, Region: "eu-west", WorkflowID: "failover-payments", RunID: "run-1", AckPrefix: prefix}
	res, err := a.Cutover(ctx, in)
	if err != nil || res.Value.Epoch != 22 {
		t.Fatalf("got %+v %v, want epoch 22 (above the highest ack, 21)", res, err)
	}
	// A consumer acks the new epoch; a retry of the same cutover still recognises its own write.
	b, _ := json.Marshal(follow.Ack{Instance: "api-1", Region: "eu-west", Epoch: 22, Time: time.Now()})
	if _, err := cli.Put(ctx, follow.AckKey(prefix, "api-1"), string(b)); err != nil {
		t.Fatal(err)
	}
	again, err := a.Cutover(ctx, in)
	if err != nil || !again.AlreadyApplied || again.Value.Epoch != 22 || again.Revision != res.Revision {
		t.Fatalf("retry: got %+v %v, want the first write (epoch 22, revision %d) already applied", again, err, res.Revision)
	}
	// The stale ack of api-2 (epoch 20) does not count for epoch 22.
	_, err = a.WaitAcks(ctx, WaitAcksInput{AckPrefix: prefix, Epoch: 22, Required: []string{"api-1", "api-2"}, Timeout: 300 * time.Millisecond})
	if errType(err) != ErrAcksTimeout || !strings.Contains(err.Error(), "api-2") {
		t.Fatalf("got %v, want AcksTimeout missing api-2", err)
	}
}

func TestReadActiveRejectsGarbage(t *testing.T) {
	cli := startEtcd(t)
	if _, err := cli.Put(context.Background(), "/k", "not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Activities{Etcd: cli}).ReadActive(context.Background(), "/k"); errType(err) != ErrBadInput {
		t.Fatalf("got %v, want BadInput", err)
	}
}

func TestWaitAcks(t *testing.T) {
	ctx := context.Background()
	cli := startEtcd(t)
	a := &Activities{Etcd: cli}
	const prefix = "/failover/payments/acks/"
	ack := func(instance string, epoch int64) {
		b, _ := json.Marshal(follow.Ack{Instance: instance, Region: "eu-west", Epoch: epoch, Time: time.Now()})
		if _, err := cli.Put(ctx, follow.AckKey(prefix, instance), string(b)); err != nil {
			t.Error(err)
		}
	}
	ack("a", 4) // an old epoch does not count
	done := make(chan error, 1)
	var res WaitAcksResult
	go func() {
		var err error
		res, err = a.WaitAcks(ctx, WaitAcksInput{AckPrefix: prefix, Epoch: 5, Required: []string{"a"}, MinAcks: 2, Timeout: 10 * time.Second})
		done <- err
	}()
	ack("a", 5)
	ack("b", 6)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(res.Acked) != 2 || res.Acked[0] != "a" || res.Acked[1] != "b" {
		t.Fatalf("acked %v", res.Acked)
	}
	_, err := a.WaitAcks(ctx, WaitAcksInput{AckPrefix: prefix, Epoch: 7, Required: []string{"a"}, Timeout: 300 * time.Millisecond})
	if errType(err) != ErrAcksTimeout {
		t.Fatalf("got %v, want AcksTimeout", err)
	}
}
