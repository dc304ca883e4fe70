package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestWebUIApproves sends the approve Update through the Temporal Web UI's own HTTP API (the call its "Update"
// button makes, CSRF token included) and sees the failover go ahead.
func TestWebUIApproves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	startWorker(t, s)
	fault(t, s, "us-east", `{"status":503}`)
	p := planWithoutPrometheus(s)
	p.Approval.Mode = plan.ApprovalManual
	run := start(t, s, request(p, "us-east", "eu-west"))
	eventually(t, 30*time.Second, "waiting for approval", func() bool {
		v, err := s.TemporalClient.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.StatusQuery)
		var st workflows.Status
		return err == nil && v.Get(&st) == nil && st.Pending != nil
	})

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := browser.Get(s.Temporal.UIURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var csrf string
	for _, c := range jar.Cookies(resp.Request.URL) {
		if c.Name == "_csrf" {
			csrf = c.Value
		}
	}
	if csrf == "" {
		t.Fatal("the Web UI set no _csrf cookie")
	}
	args, err := converter.GetDefaultDataConverter().ToPayloads(workflows.ApprovalRequest{By: "alice", PlanHash: p.Hash(), Via: "web-ui"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&workflowservice.UpdateWorkflowExecutionRequest{
		Namespace:         "default",
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: run.GetID()},
		WaitPolicy:        &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED},
		Request: &updatepb.Request{
			Meta:  &updatepb.Meta{UpdateId: "web-ui-approval-1", Identity: "web-ui"},
			Input: &updatepb.Input{Name: workflows.ApproveUpdate, Args: args},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("%s/api/v1/namespaces/default/workflows/%s/update/%s", s.Temporal.UIURL(), run.GetID(), workflows.ApproveUpdate)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Web UI update: HTTP %d: %s", resp.StatusCode, answer)
	}
	res := result(t, run)
	wantOutcome(t, res, workflows.Succeeded)
	v, err := s.TemporalClient.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.StatusQuery)
	var st workflows.Status
	if err != nil || v.Get(&st) != nil || len(st.Approvals) != 1 || st.Approvals[0].Via != "web-ui" || st.Approvals[0].By != "alice" {
		t.Fatalf("approvals %+v (%v)", st.Approvals, err)
	}
}
