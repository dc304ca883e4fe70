package workflows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"
	"github.com/stretchr/testify/mock"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/etcdserver"
	"github.com/failover/failover/testsuite/kongstandin"
)

// The fault harness runs the failover workflow (Temporal's test environment) against a real embedded etcd and the
// Kong stand-in through the real activities, under seeded random schedules: etcd activities fail retryably or
// not, before or after their write; Kong's Admin API answers 500/400 or drops the connection before or after
// applying a write (so a weight change can fail halfway); checks fail or are inconclusive; approvals come late or
// never; alerts arrive in any order; a cancel may arrive at any time; some runs start with no active key. After
// each run it checks the invariant stated in request.go against what etcd and Kong hold, and that the audit log
// has every event exactly once.
//
// FAULT_SCHEDULES=N runs N schedules (default 300); FAULT_SEED=S runs only seed S (the reproducer a failure prints).
func TestFaultSchedules(t *testing.T) {
	w := startWorld(t)
	seeds := make([]uint64, 0, 300)
	if s := os.Getenv("FAULT_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FAULT_SEED=%q: want a number", s)
		}
		seeds = append(seeds, seed)
	} else {
		n := 300
		if s := os.Getenv("FAULT_SCHEDULES"); s != "" {
			var err error
			if n, err = strconv.Atoi(s); err != nil {
				t.Fatalf("FAULT_SCHEDULES=%q: want a number", s)
			}
		}
		for i := range n {
			seeds = append(seeds, uint64(i+1))
		}
	}
	outcomes := map[Outcome]int{}
	for _, seed := range seeds {
		began := time.Now()
		outcome, err := w.run(t, seed)
		if d := time.Since(began); d > 300*time.Millisecond {
			t.Logf("seed %d took %s (%s)", seed, d, outcome)
		}
		if err != nil {
			t.Fatalf("seed %d: %v\nreproduce: FAULT_SEED=%d go test -count=1 -run 'TestFaultSchedules$' -v ./workflows/", seed, err, seed)
		}
		outcomes[outcome]++
	}
	t.Logf("%d schedules, outcomes %v", len(seeds), outcomes)
	if len(seeds) >= 100 {
		for _, o := range []Outcome{Succeeded, RolledBack, FailedNeedsHuman, Cancelled, NotReady} {
			if outcomes[o] == 0 {
				t.Errorf("no schedule ended %s: the harness no longer reaches that path", o)
			}
		}
	}
}

// world is the real etcd and Kong the schedules run against; each schedule uses its own key and upstream.
type world struct {
	etcd      *clientv3.Client
	kongAdmin string
	kong      *kong.Client // without faults, for setting up and checking
}

func startWorld(t *testing.T) *world {
	t.Helper()
	e, err := etcdserver.Start(etcdserver.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := e.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close(); e.Stop() })
	k, err := kongstandin.Start(kongstandin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	admin := k.AdminURL()
	kc, err := kong.NewClient(&admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &world{etcd: cli, kongAdmin: admin, kong: kc}
}

// schedule draws every random choice of one run from its seed. Decisions made inside activities (which may run
// concurrently) are derived from the seed, the activity and its call count, so a seed replays the same faults.
type schedule struct {
	seed  uint64
	rng   *rand.Rand
	mu    sync.Mutex
	calls map[string]int
	// faultRate is the chance that one etcd activity call or one Kong request fails.
	faultRate float64
	log       []string
}

func (s *schedule) roll(what string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[what]++
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d", s.seed, what, s.calls[what])
	return float64(h.Sum64()%1_000_000) / 1_000_000
}

func (s *schedule) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, fmt.Sprintf(format, args...))
}

// fault decides one etcd activity call's fault: none, or retryable/non-retryable before/after the write.
func (s *schedule) fault(activity string) (before, after error) {
	r := s.roll(activity)
	if r >= s.faultRate {
		return nil, nil
	}
	retryable := errors.New("injected: etcd unavailable")
	final := temporal.NewNonRetryableApplicationError("injected: refused", "Injected", nil)
	switch q := r / s.faultRate; {
	case q < 0.4:
		s.note("%s fails retryably before writing", activity)
		return retryable, nil
	case q < 0.8:
		s.note("%s fails retryably after writing", activity)
		return nil, retryable
	case q < 0.9:
		s.note("%s fails for good before writing", activity)
		return final, nil
	default:
		s.note("%s fails for good after writing", activity)
		return nil, final
	}
}

// kongFaults is the go-kong client's transport: it fails requests before or after Kong applied them.
type kongFaults struct {
	s    *schedule
	next http.RoundTripper
}

func (k kongFaults) RoundTrip(r *http.Request) (*http.Response, error) {
	roll := k.s.roll("kong")
	if roll >= k.s.faultRate {
		return k.next.RoundTrip(r)
	}
	what := r.Method + " " + r.URL.Path
	switch q := roll / k.s.faultRate; {
	case q < 0.3:
		k.s.note("kong drops %s before applying it", what)
		return nil, errors.New("injected: connection reset")
	case q < 0.7:
		resp, err := k.next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		k.s.note("kong applies %s, then answers 500", what)
		return kongAnswer(r, 500, "An unexpected error occurred"), nil
	case q < 0.85:
		k.s.note("kong answers 503 to %s without applying it", what)
		return kongAnswer(r, 503, "name resolution failed"), nil
	default:
		k.s.note("kong answers 400 to %s", what)
		return kongAnswer(r, 400, "schema violation (injected)"), nil
	}
}

func kongAnswer(r *http.Request, code int, msg string) *http.Response {
	body, _ := json.Marshal(map[string]string{"message": msg})
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), Request: r, ProtoMajor: 1, ProtoMinor: 1}
}

const (
	fromTarget = "10.0.0.1:8080"
	toTarget   = "10.0.0.2:8080"
)

// run plays one schedule and checks the invariant; it returns the outcome.
func (w *world) run(t *testing.T, seed uint64) (Outcome, error) {
	s := &schedule{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), calls: map[string]int{}}
	s.faultRate = []float64{0, 0.05, 0.15, 0.3}[s.rng.IntN(4)]
	ctx := context.Background()

	p := testPlan()
	p.Service = fmt.Sprintf("svc%d", seed)
	p.Etcd.ActiveKey = fmt.Sprintf("/failover/%s/active", p.Service)
	p.Kong.Upstream = p.Service
	p.Verification.Count = 1 + s.rng.IntN(2)
	switch s.rng.IntN(10) {
	case 0, 1, 2, 3, 4, 5:
		p.Rollback.OnFailure = plan.RollbackAuto
	case 6, 7:
		p.Rollback.OnFailure = plan.RollbackManual
	default:
		p.Rollback.OnFailure = plan.RollbackNone
	}
	if s.rng.IntN(4) == 0 {
		p.Rollback.PointOfNoReturn = "verify"
	}
	if s.rng.IntN(3) > 0 {
		p.Approval.Mode = plan.ApprovalAuto
	}
	p.Approval.OnTimeout = []string{plan.OnTimeoutAbort, plan.OnTimeoutApprove}[s.rng.IntN(2)]
	req := request(p)
	if s.rng.IntN(2) == 0 {
		req.Trigger = Trigger{Source: TriggerAlert, By: "alertmanager"}
	}

	// Initial state: the key absent (first-ever failover) or on the source; Kong all on the source.
	var before activities.ActiveState
	if s.rng.IntN(10) >= 3 {
		v := follow.Active{Region: "us-east", Epoch: int64(1 + s.rng.IntN(9))}
		b, _ := json.Marshal(v)
		resp, err := w.etcd.Put(ctx, p.Etcd.ActiveKey, string(b))
		if err != nil {
			return "", err
		}
		before = activities.ActiveState{Exists: true, Value: v, ModRevision: resp.Header.Revision}
	}
	up := p.Kong.Upstream
	if _, err := w.kong.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String(up)}); err != nil {
		return "", err
	}
	for target, weight := range map[string]int{fromTarget: 100, toTarget: 0} {
		if _, err := w.kong.Targets.Create(ctx, &up, &kong.Target{Target: kong.String(target), Weight: kong.Int(weight)}); err != nil {
			return "", err
		}
	}

	env, audit, err := w.env(s)
	if err != nil {
		return "", err
	}
	// People and Alertmanager, at random times (the test environment's clock skips ahead).
	at := func(max time.Duration) time.Duration {
		return time.Duration(1+s.rng.Int64N(int64(max/time.Second))) * time.Second
	}
	for range s.rng.IntN(3) {
		d, update := at(12*time.Minute), []string{ApproveUpdate, ApproveUpdate, RejectUpdate}[s.rng.IntN(3)]
		s.note("%s at %s", update, d)
		vote(env, d, update, ApprovalRequest{By: []string{"alice", "bob"}[s.rng.IntN(2)], PlanHash: req.PlanHash})
	}
	for range s.rng.IntN(4) {
		al := Alert{Status: []string{"firing", "resolved"}[s.rng.IntN(2)], Alertname: "RegionDown",
			Fingerprint: []string{"a", "b"}[s.rng.IntN(2)], Labels: map[string]string{"region": []string{"us-east", "eu-west"}[s.rng.IntN(2)]}}
		d := at(5 * time.Minute)
		s.note("alert %s %s about %s at %s", al.Fingerprint, al.Status, al.Labels["region"], d)
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(AlertSignal, al) }, d)
	}
	if s.rng.IntN(4) == 0 {
		d := at(6 * time.Minute)
		s.note("cancel at %s", d)
		env.RegisterDelayedCallback(env.CancelWorkflow, d)
	}

	env.ExecuteWorkflow(Failover, req)
	fail := func(format string, args ...any) (Outcome, error) {
		return "", fmt.Errorf(format+"\nschedule: fault rate %.2f; %s", append(args, s.faultRate, strings.Join(s.log, "; "))...)
	}
	if !env.IsWorkflowCompleted() {
		return fail("the workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		return fail("workflow error: %v", err)
	}
	var res Result
	if err := env.GetWorkflowResult(&res); err != nil {
		return fail("result: %v", err)
	}
	if err := w.checkOutcome(ctx, p, before, res); err != nil {
		return fail("outcome %s (%s): %v", res.Outcome, res.Reason, err)
	}
	if err := checkAudit(audit.String(), res); err != nil {
		return fail("audit: %v", err)
	}
	return res.Outcome, nil
}

// env builds a test environment whose etcd and Kong activities are the real ones with the schedule's faults.
func (w *world) env(s *schedule) (*testsuite.TestWorkflowEnvironment, *bytes.Buffer, error) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	kc, err := kong.NewClient(&w.kongAdmin, &http.Client{Transport: kongFaults{s: s, next: http.DefaultTransport}})
	if err != nil {
		return nil, nil, err
	}
	audit := &bytes.Buffer{}
	acts := &activities.Activities{Etcd: w.etcd, Kong: kc, Logger: slog.New(slog.DiscardHandler), Audit: activities.NewAuditLog(audit)}
	env.RegisterActivity(acts)

	env.OnActivity(a.Cutover, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.CutoverInput) (activities.CutoverResult, error) {
			before, after := s.fault("cutover")
			if before != nil {
				return activities.CutoverResult{}, before
			}
			res, err := acts.Cutover(ctx, in)
			if err == nil && after != nil {
				return activities.CutoverResult{}, after
			}
			return res, err
		})
	env.OnActivity(a.RestoreActive, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.RestoreInput) (activities.RestoreResult, error) {
			before, after := s.fault("restore")
			if before != nil {
				return activities.RestoreResult{}, before
			}
			res, err := acts.RestoreActive(ctx, in)
			if err == nil && after != nil {
				return activities.RestoreResult{}, after
			}
			return res, err
		})
	env.OnActivity(a.ReadActive, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, key string) (activities.ActiveState, error) {
			if before, _ := s.fault("read-active"); before != nil {
				return activities.ActiveState{}, before
			}
			return acts.ReadActive(ctx, key)
		})
	env.OnActivity(a.RecordAudit, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, events []activities.Event) error {
			before, after := s.fault("audit")
			if before != nil {
				return before
			}
			if err := acts.RecordAudit(ctx, events); err != nil {
				return err
			}
			if after != nil {
				return errors.New("injected: audit written, then the worker died")
			}
			return nil
		})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(activities.PublishResult{Ref: "thread"}, nil)

	// Regions and checks: the source is down; the target and the checks as the schedule drew them.
	targetUp := s.rng.IntN(10) > 0
	verdicts := []activities.Verdict{activities.Pass, activities.Pass, activities.Pass, activities.Fail, activities.Inconclusive}
	gate, verify := verdicts[s.rng.IntN(len(verdicts))], verdicts[s.rng.IntN(len(verdicts))]
	acksFail := s.rng.IntN(8) == 0
	s.note("target up %v, gate %s, verify %s, acks fail %v", targetUp, gate, verify, acksFail)
	env.OnActivity(a.ProbeHealth, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ProbeInput) (activities.ProbeResult, error) {
			up := strings.Contains(in.URL, "eu-west") && targetUp
			return activities.ProbeResult{Confirmed: up == (in.Expect == "up"), Probes: in.Attempts, Evidence: []string{in.URL}}, nil
		})
	env.OnActivity(a.HTTPCheck, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.HTTPCheckInput) (activities.CheckResult, error) {
			return activities.CheckResult{Name: in.Name, Verdict: gate}, nil
		})
	env.OnActivity(a.EvaluateQuery, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.QueryInput) (activities.CheckResult, error) {
			return activities.CheckResult{Name: in.Name, Verdict: verify}, nil
		})
	env.OnActivity(a.WaitAcks, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.WaitAcksInput) (activities.WaitAcksResult, error) {
			if acksFail {
				return activities.WaitAcksResult{}, temporal.NewNonRetryableApplicationError("no acks", activities.ErrAcksTimeout, nil)
			}
			return activities.WaitAcksResult{Acked: []string{"i1"}}, nil
		})
	env.OnActivity(a.Warmup, mock.Anything, mock.Anything).Return(activities.WarmupResult{}, nil)
	return env, audit, nil
}

// checkOutcome is the invariant: the outcome matches what etcd and Kong hold now.
func (w *world) checkOutcome(ctx context.Context, p plan.Plan, before activities.ActiveState, res Result) error {
	resp, err := w.etcd.Get(ctx, p.Etcd.ActiveKey)
	if err != nil {
		return err
	}
	var now activities.ActiveState
	if len(resp.Kvs) > 0 {
		v, err := follow.ParseActive(resp.Kvs[0].Value)
		if err != nil {
			return err
		}
		now = activities.ActiveState{Exists: true, Value: v, ModRevision: resp.Kvs[0].ModRevision}
	}
	targets, err := w.kong.Targets.ListAll(ctx, &p.Kong.Upstream)
	if err != nil {
		return err
	}
	weights := map[string]int{}
	for _, t := range targets {
		weights[*t.Target] = *t.Weight
	}
	state := fmt.Sprintf("etcd %s, kong %v", describeActive(now), weights)

	// What differs from before the failover, as the run should have listed it.
	var changed []string
	if onSource := (now.Exists && now.Value.Region == "us-east") || (!now.Exists && !before.Exists); !onSource {
		changed = append(changed, p.Etcd.ActiveKey)
	}
	for target, was := range map[string]int{fromTarget: 100, toTarget: 0} {
		if weights[target] != was {
			changed = append(changed, p.Kong.Upstream+"/"+target)
		}
	}
	slices.Sort(changed)

	switch res.Outcome {
	case Succeeded:
		if !now.Exists || now.Value.Region != "eu-west" || weights[toTarget] != 100 || weights[fromTarget] != 0 {
			return fmt.Errorf("succeeded, but %s", state)
		}
	case RolledBack:
		if len(changed) > 0 {
			return fmt.Errorf("rolled-back, but %v still changed: %s", changed, state)
		}
		if now.Exists && before.Exists && now.ModRevision != before.ModRevision && now.Value.Epoch <= before.Value.Epoch {
			return fmt.Errorf("rolled-back with epoch %d, not above the original %d: followers would ignore it", now.Value.Epoch, before.Value.Epoch)
		}
	case FailedNeedsHuman:
		if err := CheckListed(res.StillChanged, changed, p.Etcd.ActiveKey); err != nil {
			return fmt.Errorf("%v: %s", err, state)
		}
	default:
		if now.Exists != before.Exists || now.ModRevision != before.ModRevision || len(changed) > 0 {
			return fmt.Errorf("nothing may change, but %s (key revision %d, was %d)", state, now.ModRevision, before.ModRevision)
		}
	}
	return nil
}

// checkAudit: every event's sequence number exactly once, in order, ending with the run's outcome.
func checkAudit(log string, res Result) error {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i, line := range lines {
		var e activities.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return fmt.Errorf("line %d: %v", i+1, err)
		}
		if e.Seq != i+1 {
			return fmt.Errorf("line %d holds seq %d: every event exactly once, in order", i+1, e.Seq)
		}
		if i == len(lines)-1 && (e.Type != activities.EventOutcome || e.Outcome != res.Outcome) {
			return fmt.Errorf("last record %s %q, want the outcome %s", e.Type, e.Outcome, res.Outcome)
		}
	}
	return nil
}
