package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/kongstandin"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// TestKongFaultDrill runs seeded failovers of the demo service on the real local stack while the Kong stand-in's
// Admin API answers 400, 500 or 503 to writes, and checks after each run that the outcome tells the truth (see
// Outcomes in workflows/request.go) against what etcd and Kong hold. Each run starts from a reset state: Kong
// all on the source, the active key on the source at a new epoch or (one run in three) absent. The fault hits
// 1-3 writes, from the start or from a moment during the run; in half the runs verification fails too, so the
// rollback meets the fault. workflows/harness_test.go drills the same invariant with finer faults (a write
// applied, then failed) in Temporal's test environment; this drill runs the real server, worker and followers.
//
// DRILL_RUNS=N runs seeds 1..N (default 12); DRILL_SEED=S runs only seed S, the reproducer a failure prints.
// A seed fixes the schedule; the moment a polled fault lands can still move by one request between runs.
func TestKongFaultDrill(t *testing.T) {
	seeds := drillSeeds(t)
	s := startStack(t)
	startWorker(t, s)
	// The source stays down for the whole drill, so every run's detection confirms the outage.
	fault(t, s, "us-east", `{"status":503}`)
	d := &kongDrill{s: s, epoch: active(t, s).Value.Epoch}
	began := time.Now()
	outcomes := map[string]int{}
	for _, seed := range seeds {
		sc := drawDrillSchedule(seed)
		runBegan := time.Now()
		res, when, err := d.run(t, sc)
		took := time.Since(runBegan).Round(10 * time.Millisecond)
		if err != nil {
			t.Errorf("seed %d (%s), fault %s, after %s: %v\nreproduce: DRILL_SEED=%d go test -count=1 -run 'TestKongFaultDrill$' -v ./testsuite/e2e/",
				seed, sc, when, took, err, seed)
			outcomes["violation"]++
			continue
		}
		t.Logf("seed %d: %s, fault %s → %s in %s; now %s (%s)", seed, sc, when, res.Outcome, took, d.followers(t), res.Reason)
		outcomes[res.Outcome]++
	}
	t.Logf("%d runs in %s, outcomes %v", len(seeds), time.Since(began).Round(10*time.Millisecond), outcomes)
}

func drillSeeds(t *testing.T) []uint64 {
	t.Helper()
	if s := os.Getenv("DRILL_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("DRILL_SEED=%q: want a number", s)
		}
		return []uint64{seed}
	}
	n := 12
	if s := os.Getenv("DRILL_RUNS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("DRILL_RUNS=%q: want a number of runs, at least 1", s)
		}
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

// Moments a drill's Kong fault is injected at.
const (
	atStart   = "start"   // before the workflow starts
	atReroute = "reroute" // once the status query shows the reroute step
	atHalfway = "halfway" // once Kong shows the first traffic step (target at 50)
	// atVerify is once the status query shows the verify step, used only when verification fails: the failing
	// check takes ~0.5 s, so the fault is in place when the rollback starts (polling for the rollback step itself
	// comes too late: its first write follows within milliseconds).
	atVerify = "verify"
)

// drillSchedule is every random choice of one run, drawn from its seed.
type drillSchedule struct {
	seed      uint64
	keyAbsent bool
	// epochStep is how far above every epoch written so far the reset puts the key.
	epochStep   int64
	fault       kongstandin.Fault
	at          string
	verifyFails bool
}

// drawDrillSchedule draws a run's schedule from its seed. The status and whether verification fails go round by
// seed, so any six consecutive seeds meet each status with and without a rollback; the rest is random.
func drawDrillSchedule(seed uint64) drillSchedule {
	rng := rand.New(rand.NewPCG(seed, 0xd7111))
	sc := drillSchedule{seed: seed, keyAbsent: rng.IntN(3) == 0, epochStep: 1 + rng.Int64N(5)}
	statuses := []int{http.StatusBadRequest, http.StatusInternalServerError, http.StatusServiceUnavailable}
	sc.fault = kongstandin.Fault{Status: statuses[seed%3], Count: 1 + rng.IntN(3), Methods: []string{http.MethodPut, http.MethodPatch, http.MethodPost}}
	sc.verifyFails = seed/3%2 == 1
	moments := []string{atStart, atReroute, atHalfway}
	if sc.verifyFails {
		moments = append(moments, atVerify, atVerify) // twice as likely: it is how the rollback meets the fault
	}
	sc.at = moments[rng.IntN(len(moments))]
	return sc
}

func (sc drillSchedule) String() string {
	key := "key on source"
	if sc.keyAbsent {
		key = "key absent"
	}
	verify := "verify passes"
	if sc.verifyFails {
		verify = "verify fails"
	}
	return fmt.Sprintf("%s, Kong writes answer %d ×%d from %s, %s", key, sc.fault.Status, sc.fault.Count, sc.at, verify)
}

// kongDrill runs schedules one after another on one stack.
type kongDrill struct {
	s *stack.Stack
	// epoch is the highest epoch written so far. Followers apply only epochs that move forward, so each reset
	// writes above it, and the regions follow the cutover and restore of every run that starts with the key.
	epoch int64
}

// drillFrom and drillTo are the regions every run fails over between.
const drillFrom, drillTo = "us-east", "eu-west"

// run resets the stack, plays one schedule and checks the invariant. It returns the result and when the fault
// was injected; a non-nil error is a violation (or a stack that could not be reset), with what etcd and Kong hold.
func (d *kongDrill) run(t *testing.T, sc drillSchedule) (workflows.Result, string, error) {
	s := d.s
	before, err := d.reset(t, sc)
	if err != nil {
		return workflows.Result{}, "not injected", fmt.Errorf("reset: %w", err)
	}
	p := planWithoutPrometheus(s)
	p.Traffic.StepPause = time.Second
	p.Verification.Count = 1
	p.Etcd.AckTimeout = 3 * time.Second
	if sc.verifyFails {
		// eu-west answers, but slower than the served-by-target check allows (as in TestFailedVerificationRollsBack).
		fault(t, s, drillTo, `{"latency_ms":150}`)
		for i, c := range p.Verification.Checks {
			if c.HTTP != nil {
				h := *c.HTTP // a copy: the check is shared with s.Plan and the next runs
				h.Timeout = 50 * time.Millisecond
				p.Verification.Checks[i].HTTP = &h
			}
		}
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("drill plan: %v", err)
	}
	if sc.at == atStart {
		s.Kong.InjectAdminFault(sc.fault)
	}
	run := start(t, s, request(p, drillFrom, drillTo))
	ctx, cancel := context.WithCancel(context.Background())
	injected := make(chan string, 1)
	go func() { injected <- d.injectAt(ctx, run, sc) }()
	res, err := d.wait(run)
	cancel()
	when := <-injected
	if err != nil {
		return res, when, err
	}
	if err := d.check(p, before, res); err != nil {
		return res, when, fmt.Errorf("outcome %s (%s): %w", res.Outcome, res.Reason, err)
	}
	return res, when, nil
}

// reset puts the stack back where a failover starts: no Kong fault, eu-west healthy, Kong weights source 100 /
// target 0, and the active key on the source at a new epoch that both regions applied, or absent.
func (d *kongDrill) reset(t *testing.T, sc drillSchedule) (activities.ActiveState, error) {
	s, ctx := d.s, context.Background()
	s.Kong.ClearAdminFault()
	fault(t, s, drillTo, `{"status":0,"latency_ms":0}`)
	up := s.Plan.Kong.Upstream
	for region, weight := range map[string]int{drillFrom: 100, drillTo: 0} {
		target := s.Plan.Regions[region].KongTarget
		if _, err := s.KongClient.Targets.Update(ctx, &up, &target, &kong.Target{Target: kong.String(target), Weight: kong.Int(weight)}); err != nil {
			return activities.ActiveState{}, fmt.Errorf("set Kong weight of %s: %w", region, err)
		}
	}
	key := s.Plan.Etcd.ActiveKey
	if sc.keyAbsent {
		// Deleting the key does not reset the followers: they keep the epoch they applied last and ignore this
		// run's epochs, which start at 1 again. Only etcd and Kong are checked for such a run.
		if _, err := s.EtcdClient.Delete(ctx, key); err != nil {
			return activities.ActiveState{}, fmt.Errorf("delete %s: %w", key, err)
		}
		return active(t, s), nil
	}
	d.epoch += sc.epochStep
	v, _ := json.Marshal(follow.Active{Region: drillFrom, Epoch: d.epoch, WorkflowID: "drill-reset", Time: time.Now().UTC()})
	if _, err := s.EtcdClient.Put(ctx, key, string(v)); err != nil {
		return activities.ActiveState{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err := d.followed(d.epoch, 5*time.Second); err != nil {
		return activities.ActiveState{}, err
	}
	return active(t, s), nil
}

// followers describes the key and the epoch each region applied last.
func (d *kongDrill) followers(t *testing.T) string {
	out := "key " + describeKey(active(t, d.s)) + ", applied:"
	for _, name := range stack.RegionNames {
		out += fmt.Sprintf(" %s %d", name, d.s.Regions[name].SeenEpoch())
	}
	return out
}

// followed waits until both regions applied epoch.
func (d *kongDrill) followed(epoch int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var behind []string
		for _, name := range stack.RegionNames {
			if seen := d.s.Regions[name].SeenEpoch(); seen != epoch {
				behind = append(behind, fmt.Sprintf("%s at epoch %d", name, seen))
			}
		}
		if len(behind) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("followers did not apply epoch %d within %s: %v", epoch, within, behind)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// injectAt injects the schedule's Kong fault at its moment and says when it did, or that the run ended first.
func (d *kongDrill) injectAt(ctx context.Context, run client.WorkflowRun, sc drillSchedule) string {
	if sc.at == atStart {
		return "injected before the start"
	}
	began := time.Now()
	for {
		if reached, where := d.reached(ctx, run, sc.at); reached {
			d.s.Kong.InjectAdminFault(sc.fault)
			return fmt.Sprintf("injected at %s (%s after the start)", where, time.Since(began).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return "never injected: the run ended before " + sc.at
		case <-time.After(15 * time.Millisecond):
		}
	}
}

// reached reports whether the run got to the moment: a step the status query shows, or Kong's first traffic step.
func (d *kongDrill) reached(ctx context.Context, run client.WorkflowRun, moment string) (bool, string) {
	if moment == atHalfway {
		up := d.s.Plan.Kong.Upstream
		ws, err := (&activities.Activities{Kong: d.s.KongClient}).ReadWeights(ctx, up)
		if err != nil {
			return false, ""
		}
		for _, w := range ws {
			if w.Target == d.s.Plan.Regions[drillTo].KongTarget && w.Weight > 0 && w.Weight < 100 {
				return true, fmt.Sprintf("Kong %s at weight %d", drillTo, w.Weight)
			}
		}
		return false, ""
	}
	v, err := d.s.TemporalClient.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.StatusQuery)
	var st workflows.Status
	if err != nil || v.Get(&st) != nil {
		return false, ""
	}
	if st.Step == moment {
		return true, "step " + moment
	}
	return false, ""
}

// wait returns the run's result; a run that does not finish is terminated, so the next one can start.
func (d *kongDrill) wait(run client.WorkflowRun) (workflows.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var res workflows.Result
	err := run.Get(ctx, &res)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = d.s.TemporalClient.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "fault drill: did not finish in 45s")
		return res, fmt.Errorf("the workflow did not finish within 45s (terminated)")
	}
	if err != nil {
		return res, fmt.Errorf("workflow %s: %w", run.GetID(), err)
	}
	return res, nil
}

// check is the invariant: the outcome matches what etcd and Kong hold now. before is the key as reset left it;
// Kong was reset to source 100 / target 0.
func (d *kongDrill) check(p plan.Plan, before activities.ActiveState, res workflows.Result) error {
	s, ctx := d.s, context.Background()
	now, err := (&activities.Activities{Etcd: s.EtcdClient}).ReadActive(ctx, p.Etcd.ActiveKey)
	if err != nil {
		return fmt.Errorf("read back %s: %w", p.Etcd.ActiveKey, err)
	}
	if now.Exists && now.Value.Epoch > d.epoch {
		d.epoch = now.Value.Epoch
	}
	ws, err := (&activities.Activities{Kong: s.KongClient}).ReadWeights(ctx, p.Kong.Upstream)
	if err != nil {
		return fmt.Errorf("read back Kong: %w", err)
	}
	weight := map[string]int{} // region → weight; a missing target reads -1
	for _, region := range []string{drillFrom, drillTo} {
		weight[region] = -1
		for _, w := range ws {
			if w.Target == p.Regions[region].KongTarget {
				weight[region] = w.Weight
			}
		}
	}
	state := fmt.Sprintf("etcd %s (revision %d, was %s at revision %d), Kong %s %d / %s %d",
		describeKey(now), now.ModRevision, describeKey(before), before.ModRevision, drillFrom, weight[drillFrom], drillTo, weight[drillTo])

	// What differs from before the failover, named as the workflow names it in StillChanged.
	var changed []string
	if onSource := (now.Exists && now.Value.Region == drillFrom) || (!now.Exists && !before.Exists); !onSource {
		changed = append(changed, p.Etcd.ActiveKey)
	}
	for region, was := range map[string]int{drillFrom: 100, drillTo: 0} {
		if weight[region] != was {
			changed = append(changed, p.Kong.Upstream+"/"+p.Regions[region].KongTarget)
		}
	}
	slices.Sort(changed)
	if res.Outcome != workflows.FailedNeedsHuman && len(res.StillChanged) > 0 {
		return fmt.Errorf("outcome %s lists still-changed %v: only failed-needs-human may", res.Outcome, res.StillChanged)
	}

	switch res.Outcome {
	case workflows.Succeeded:
		if !now.Exists || now.Value.Region != drillTo || weight[drillTo] != 100 || weight[drillFrom] != 0 {
			return fmt.Errorf("succeeded, but %s", state)
		}
		if before.Exists && now.Value.Epoch <= before.Value.Epoch {
			return fmt.Errorf("succeeded with epoch %d, not above the original %d: %s", now.Value.Epoch, before.Value.Epoch, state)
		}
		if before.Exists {
			// The plan requires eu-west's ack of the new epoch; it must have applied it.
			if seen := s.Regions[drillTo].SeenEpoch(); seen < now.Value.Epoch {
				return fmt.Errorf("succeeded, but %s applied only epoch %d of %d", drillTo, seen, now.Value.Epoch)
			}
		}
	case workflows.RolledBack:
		if len(changed) > 0 {
			return fmt.Errorf("rolled-back, but %v still changed: %s", changed, state)
		}
		if before.Exists && now.ModRevision != before.ModRevision {
			// The key was written, so the cutover wrote epoch original+1, which the followers applied; the restore
			// must go above it, or they ignore it and stay on the target.
			if now.Value.Epoch <= before.Value.Epoch+1 {
				return fmt.Errorf("rolled-back with epoch %d, not above the cutover's %d: followers would ignore it: %s",
					now.Value.Epoch, before.Value.Epoch+1, state)
			}
			if err := d.followed(now.Value.Epoch, 3*time.Second); err != nil {
				return fmt.Errorf("rolled-back, but %v: %s", err, state)
			}
		}
	case workflows.FailedNeedsHuman:
		if err := workflows.CheckListed(res.StillChanged, changed, p.Etcd.ActiveKey); err != nil {
			return fmt.Errorf("%v: %s", err, state)
		}
	default:
		if now.Exists != before.Exists || now.ModRevision != before.ModRevision || len(changed) > 0 {
			return fmt.Errorf("outcome %s must change nothing, but %s", res.Outcome, state)
		}
	}
	return nil
}

func describeKey(a activities.ActiveState) string {
	if !a.Exists {
		return "absent"
	}
	return fmt.Sprintf("%s epoch %d", a.Value.Region, a.Value.Epoch)
}
