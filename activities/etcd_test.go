package activities

import (
	"context"
	"encoding/json"
	"errors"
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
