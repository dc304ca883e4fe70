package temporaldev

import (
	"context"
	"fmt"
	"log/slog"
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
