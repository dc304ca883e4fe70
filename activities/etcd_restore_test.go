package activities

import (
	"context"
	"testing"

	"github.com/failover/failover/follow"
)

func TestRestoreActiveConverges(t *testing.T) {
	cli := startEtcd(t)
	ctx := context.Background()
	a := &Activities{Etcd: cli}
	restore := func(key string, original ActiveState) RestoreInput {
		return RestoreInput{Key: key, Original: original, Region: "us-east", CutRegion: "eu-west", WorkflowID: "failover-payments", RunID: "run-1"}
	}
	cutover := func(key string, original ActiveState) CutoverResult {
		t.Helper()
		res, err := a.Cutover(ctx, CutoverInput{Key: key, Expected: original, Region: "eu-west", WorkflowID: "failover-payments", RunID: "run-1"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	t.Run("after a cutover, twice", func(t *testing.T) {
		putActive(t, cli, "/a", follow.Active{Region: "us-east", Epoch: 4})
		original, _ := a.ReadActive(ctx, "/a")
		cutover("/a", original)
		first, err := a.RestoreActive(ctx, restore("/a", original))
		if err != nil || !first.Changed || first.Value.Region != "us-east" || first.Value.Epoch != 6 {
			t.Fatalf("restore %+v (%v), want us-east at epoch 6", first, err)
		}
		again, err := a.RestoreActive(ctx, restore("/a", original))
		if err != nil || again.Changed || again.Revision != first.Revision {
			t.Fatalf("second restore %+v (%v): a retry must find its own restore and write nothing", again, err)
		}
	})
	t.Run("the cutover never happened", func(t *testing.T) {
		putActive(t, cli, "/b", follow.Active{Region: "us-east", Epoch: 4})
		original, _ := a.ReadActive(ctx, "/b")
		res, err := a.RestoreActive(ctx, restore("/b", original))
		now, _ := a.ReadActive(ctx, "/b")
		if err != nil || res.Changed || now.ModRevision != original.ModRevision {
			t.Fatalf("restore %+v (%v), key revision %d → %d: nothing to undo, nothing written", res, err, original.ModRevision, now.ModRevision)
		}
	})
	t.Run("first-ever cutover of an absent key", func(t *testing.T) {
		res, err := a.RestoreActive(ctx, restore("/c", ActiveState{}))
		if err != nil || res.Changed {
			t.Fatalf("restore before any cutover %+v (%v): want a no-op", res, err)
		}
		cutover("/c", ActiveState{})
		res, err = a.RestoreActive(ctx, restore("/c", ActiveState{}))
		if err != nil || !res.Changed || res.Value.Region != "us-east" || res.Value.Epoch != 2 {
			t.Fatalf("restore %+v (%v), want us-east at epoch 2: followers only move forward, so never a delete", res, err)
		}
	})
	t.Run("someone else wrote after the cutover", func(t *testing.T) {
		putActive(t, cli, "/d", follow.Active{Region: "us-east", Epoch: 4})
		original, _ := a.ReadActive(ctx, "/d")
		cutover("/d", original)
		putActive(t, cli, "/d", follow.Active{Region: "ap-south", Epoch: 9, WorkflowID: "manual"})
		if _, err := a.RestoreActive(ctx, restore("/d", original)); errType(err) != ErrFenced {
			t.Fatalf("error %v, want Fenced: never overwrite someone else's value", err)
		}
		cli.Delete(ctx, "/d")
		if _, err := a.RestoreActive(ctx, restore("/d", original)); errType(err) != ErrFenced {
			t.Fatalf("error %v, want Fenced for a key deleted by someone else", err)
		}
	})
}
