package e2e

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
)

// exportHistory returns the latest run's history as the JSON the replayer reads (like `temporal workflow show -o json`).
func exportHistory(tc client.Client, id string) ([]byte, error) {
	h, err := history(tc, id, "")
	if err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
}

// history reads a run's whole history (the latest run when runID is empty).
func history(tc client.Client, id, runID string) (*historypb.History, error) {
	it := tc.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		h.Events = append(h.Events, ev)
	}
	return &h, nil
}
