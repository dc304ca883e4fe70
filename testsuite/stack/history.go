package stack

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// ExportHistory is a run's whole history as the JSON worker.NewWorkflowReplayer reads (the latest run when runID
// is empty): how testsuite/histories are recorded.
func (s *Stack) ExportHistory(ctx context.Context, id, runID string) ([]byte, error) {
	it := s.TemporalClient.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		h.Events = append(h.Events, ev)
	}
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
}
