package temporaldev

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

func TestSearchAttributes(t *testing.T) {
	attrs := map[string]enumspb.IndexedValueType{
		"FailoverService": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"FailoverStep":    enumspb.INDEXED_VALUE_TYPE_INT,
	}
	s := startServer(t, Options{NoUI: true, SearchAttributes: attrs})
	c := dial(t, s)
	service := temporal.NewSearchAttributeKeyKeyword("FailoverService")

	// No worker: a started workflow is in visibility already.
	for id, value := range map[string]string{"failover-payments": "payments", "failover-search": "search"} {
		_, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             "nobody",
			TypedSearchAttributes: temporal.NewSearchAttributes(service.ValueSet(value)),
		}, approvalWorkflow)
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
	}

	// Visibility is written asynchronously by the history service: poll.
	eventually(t, 10*time.Second, "ListWorkflow by FailoverService", func(ctx context.Context) error {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.Namespace(),
			Query:     `FailoverService = "payments"`,
		})
		if err != nil {
			return err
		}
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if len(ids) != 1 || ids[0] != "failover-payments" {
			return fmt.Errorf("found %v, want [failover-payments]", ids)
		}
		return nil
	})

	t.Run("registering again keeps them", func(t *testing.T) {
		if _, err := registerSearchAttributes(t.Context(), s.Address(), s.Namespace(), attrs, slog.New(slog.DiscardHandler)); err != nil {
			t.Errorf("second registration: %v", err)
		}
	})
	t.Run("another type is an error naming the attribute", func(t *testing.T) {
		_, err := registerSearchAttributes(t.Context(), s.Address(), s.Namespace(),
			map[string]enumspb.IndexedValueType{"FailoverStep": enumspb.INDEXED_VALUE_TYPE_KEYWORD}, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "FailoverStep") {
			t.Errorf("FailoverStep as Keyword: got %v, want an error naming FailoverStep", err)
		}
	})
}

// TestSearchAttributeAddedOnRestart: a DBFile created before an attribute existed gets it at the next Start, through
// the operator service of the running server, and a workflow can use it at once (Start then forces the search
// attribute caches to read SQLite: they would learn of it only at their next refresh).
func TestSearchAttributeAddedOnRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "temporal.db")
	service := map[string]enumspb.IndexedValueType{"FailoverService": enumspb.INDEXED_VALUE_TYPE_KEYWORD}
	first := startServer(t, Options{DBFile: db, NoUI: true, SearchAttributes: service})
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	both := map[string]enumspb.IndexedValueType{"FailoverService": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"FailoverRegion": enumspb.INDEXED_VALUE_TYPE_KEYWORD}
	s := startServer(t, Options{DBFile: db, NoUI: true, SearchAttributes: both})
	c := dial(t, s)
	region := temporal.NewSearchAttributeKeyKeyword("FailoverRegion")
	if _, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: "failover-region", TaskQueue: "nobody",
		TypedSearchAttributes: temporal.NewSearchAttributes(region.ValueSet("us-east"))}, approvalWorkflow); err != nil {
		t.Fatalf("start with the attribute added on restart: %v", err)
	}
	eventually(t, 10*time.Second, "ListWorkflow by FailoverRegion", func(ctx context.Context) error {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace(),
			Query: `FailoverRegion = "us-east"`})
		if err != nil {
			return err
		}
		if len(resp.GetExecutions()) != 1 {
			return fmt.Errorf("found %d executions, want 1", len(resp.GetExecutions()))
		}
		return nil
	})
}
