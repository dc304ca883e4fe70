package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// hookToken is a value the hooks get from the worker's environment: it must never show in a drill's report.
const hookToken = "drill-hook-token-7f3a"

// TestMain runs this test binary as the program the command hooks of TestCommandHookDrills run, when told so by
// HOOK_HELPER_PROCESS: a curl-free HTTP client that sets the demo region's fault. Otherwise it runs the tests.
func TestMain(m *testing.M) {
	if os.Getenv("HOOK_HELPER_PROCESS") == "1" {
		hookHelperProcess()
	}
	os.Exit(m.Run())
}

// hookHelperProcess is the hook program. Arguments after "--": METHOD [BODY]; the region's URL comes from
// DRILL_REGION_URL.
func hookHelperProcess() {
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: -- METHOD [BODY]")
		os.Exit(2)
	}
	body := ""
	if len(args) > 2 {
		body = args[2]
	}
	req, err := http.NewRequest(args[1], os.Getenv("DRILL_REGION_URL")+"/fault", strings.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp.Body.Close()
	fmt.Printf("%s /fault: HTTP %d (token %s)\n", args[1], resp.StatusCode, os.Getenv("FAULT_TOKEN"))
	if resp.StatusCode >= 300 {
		os.Exit(1)
	}
	os.Exit(0)
}

// hookStack starts the local stack (no Prometheus) whose worker declares the command hooks: us-east-down and
// us-east-up set the demo region's fault through the helper program, hang sleeps past its 1 s timeout. The plan
// approves failovers by itself and its drills' failbacks too (drill.failback auto).
func hookStack(ctx context.Context, t *testing.T) (s *stack.Stack, planFile, hooksFile string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOK_HELPER_PROCESS", "1")
	t.Setenv("FAULT_TOKEN", hookToken)
	t.Setenv("DRILL_REGION_URL", "set once the stack runs") // the worker reads it when a hook runs
	helper := fmt.Sprintf("[%s, --", self)
	file := filepath.Join(t.TempDir(), "hooks.yaml")
	drillWriteFile(t, file, `hooks:
  us-east-down:
    argv: `+helper+`, POST, '{"status":503}']
    env: [HOOK_HELPER_PROCESS, DRILL_REGION_URL, FAULT_TOKEN]
    timeout: 20s
  us-east-up:
    argv: `+helper+`, DELETE]
    env: [HOOK_HELPER_PROCESS, DRILL_REGION_URL, FAULT_TOKEN]
    timeout: 20s
  hang:
    argv: [sh, -c, "echo hanging; sleep 60"]
    timeout: 1s
`)
	hooks, err := activities.LoadCommandHooks(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err = stack.Start(ctx, stack.Options{NoUI: true, Logger: discard(), DrillHooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	t.Setenv("DRILL_REGION_URL", s.Regions["us-east"].URL())
	p := drillPlan(s)
	p.Approval.Mode = plan.ApprovalAuto
	p.Drill = &plan.Drill{Failback: plan.DrillFailbackAuto}
	return s, writeStackPlan(t, p), file
}

// regionFault is the demo region's injected status (0: none).
func regionFault(t *testing.T, s *stack.Stack, region string) int {
	t.Helper()
	resp, err := http.Get(s.Regions[region].URL() + "/fault")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f struct{ Status int }
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	return f.Status
}

// noFailoverStarted fails the test when failover-payments ever ran.
func noFailoverStarted(ctx context.Context, t *testing.T, s *stack.Stack) {
	t.Helper()
	_, err := s.TemporalClient.DescribeWorkflowExecution(ctx, workflows.WorkflowID("payments"), "")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		t.Fatalf("failover-payments: %v: want none started", err)
	}
}

// TestCommandHookDrills runs drills whose hooks are commands the worker declares, on the local stack:
//   - a recovery hook the worker does not declare: refused with the hook, the file and the fix; nothing runs;
//   - a fault hook that runs past its timeout: killed, the drill fails naming it; no failover starts;
//   - a scheduled drill with nobody there: the fault hook breaks us-east, the failover moves traffic to eu-west,
//     the recovery hook heals us-east, and the failback, after its hold-down, is approved by the plan's drill
//     failback policy. The report shows each hook's exit code and output, the token it was given redacted.
func TestCommandHookDrills(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, file, hooksFile := hookStack(ctx, t)
	drill := []string{"drill", "--plan", file, "--to", "eu-west", "--soak", "1s"}

	_, err := starter(t, s, append(drill, "--fault-hook", "us-east-down", "--recover-hook", "us-east-upp")...)
	want := `drill failed: command hook "us-east-upp" is not declared in the worker's hooks file ` + hooksFile +
		` (it declares hang, us-east-down, us-east-up): add it there and restart the worker, or name a declared hook: nothing was done`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("unknown hook: %v\nwant %q", err, want)
	}
	if st := regionFault(t, s, "us-east"); st != 0 {
		t.Fatalf("us-east faulted (%d) by a drill whose recovery hook is unknown", st)
	}
	noFailoverStarted(ctx, t, s)

	_, err = starter(t, s, append(drill, "--fault-hook", "hang", "--recover-hook", "us-east-up")...)
	want = `drill failed: fault hook command hang: command hook hang timed out after 1s and was killed (its whole process group); ` +
		`output: "hanging\n": nothing else was started`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("hanging hook: %v\nwant %q", err, want)
	}
	noFailoverStarted(ctx, t, s)

	if _, err := starter(t, s, "drill", "schedule", "create", "gameday", "--every", "2s", "--plan", file, "--to", "eu-west",
		"--fault-hook", "us-east-down", "--recover-hook", "us-east-up", "--soak", "1s"); err != nil {
		t.Fatal(err)
	}
	var fired string
	drillWithin(t, 30*time.Second, "the schedule fires a drill", func() bool {
		entries, err := control.ListDrillSchedules(ctx, s.TemporalClient)
		if err == nil && len(entries) == 1 && len(entries[0].LastRuns) > 0 {
			fired = entries[0].LastRuns[0]
		}
		return fired != ""
	})
	if _, err := starter(t, s, "drill", "schedule", "pause", "drill-payments-gameday"); err != nil {
		t.Fatal(err)
	}
	var res workflows.DrillResult
	if err := s.TemporalClient.GetWorkflow(ctx, fired, "").Get(ctx, &res); err != nil {
		t.Fatalf("drill %s: %v", fired, err)
	}
	t.Logf("scheduled drill %s: %s %s\n%s", fired, res.Verdict, res.Reason, strings.Join(res.Lines(), "\n"))
	if res.Verdict != workflows.DrillPassed || len(res.Phases) != 2 || len(res.NeededHuman()) != 0 {
		t.Fatalf("drill %+v: want passed, failover and failback, nobody needed", res)
	}
	if fb := res.Phases[1]; fb.Name != workflows.KindFailback || fb.Outcome != workflows.Succeeded || fb.Policy != workflows.DrillFailbackApproved {
		t.Fatalf("failback %+v: want succeeded, approved by the drill failback policy", fb)
	}
	if len(res.Hooks) != 2 {
		t.Fatalf("hooks %+v: want the fault and the recovery", res.Hooks)
	}
	for i, h := range res.Hooks {
		wantHook := []string{"command us-east-down", "command us-east-up"}[i]
		if h.Hook != wantHook || h.Error != "" || h.ExitCode == nil || *h.ExitCode != 0 ||
			!strings.Contains(h.Output, "/fault: HTTP 200 (token [redacted $FAULT_TOKEN])") || strings.Contains(h.Output, hookToken) {
			t.Errorf("hook %d %+v: want %s, exit 0, its output with the token redacted", i, h, wantHook)
		}
	}
	// The failback's own record: approved by the plan's policy, after its hold-down; the key is back on us-east.
	st, err := control.Status(ctx, s.TemporalClient, workflows.WorkflowID("payments"), res.Phases[1].RunID)
	if err != nil {
		t.Fatal(err)
	}
	var policy []workflows.Approval
	for _, ap := range st.Approvals {
		if ap.Decision == workflows.DecisionDrillFailbackPolicy {
			policy = append(policy, ap)
		}
	}
	if len(policy) != 1 || policy[0].By != "policy" || !strings.HasPrefix(policy[0].Comment, workflows.DrillFailbackApproved+" (plan drill.failback auto, drill "+fired+")") {
		t.Fatalf("failback approvals %+v: want one by the drill failback policy naming drill %s", st.Approvals, fired)
	}
	if st.EtcdAfter == nil || st.EtcdAfter.Region != "us-east" || regionFault(t, s, "us-east") != 0 {
		t.Fatalf("after the drill: key %+v, us-east fault %d: want traffic back on a healed us-east", st.EtcdAfter, regionFault(t, s, "us-east"))
	}
	// RECORD_HISTORIES=1 pins the drill with command hooks and its failback approved by the policy for the replay test.
	recordDrillHistory(t, s, fired, "", "drill-command-hooks")
	recordDrillHistory(t, s, res.Phases[1].WorkflowID, res.Phases[1].RunID, "drill-failback-policy")
}
