package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
)

// A drill is a real failover on purpose: the fault hook injects the outage, the real failover runs, traffic soaks
// on the target, the recovery hook ends the outage, and the real failback runs (with its own approvals and
// hold-down). It is a workflow so it is durable, visible in the Web UI and startable by a Temporal Schedule. Its
// failover and failback are child workflows with the ID of every real failover of the service, failover-<service>,
// so a drill can never run beside a real failover: the child cannot start while one is open (verdict refused), and
// a real one cannot start while the drill's child runs (an alert joins it as evidence instead).

// drillCommandHooks is the change ID under which a drill that names command hooks first checks that the worker
// declares them, before it injects anything.
const drillCommandHooks = "drill-command-hooks"

// DrillID is the workflow ID of a service's drill started by hand; a schedule's drills get the schedule's IDs.
func DrillID(service string) string { return "drill-" + service }

// Drill verdicts: DrillResult.Verdict, the drill event's Outcome, the result label of failover_drills_total.
const (
	DrillPassed   = "passed"   // failover and failback succeeded within the SLA
	DrillBreached = "breached" // both succeeded, but the SLA was missed (DrillResult.Phases say where)
	DrillFailed   = "failed"   // a hook failed, or the failover or failback did not succeed
	DrillRefused  = "refused"  // a real failover of the service was in flight: nothing was done
)

// Drill metrics: finished drills by service and result (a drill verdict), and the last drill's RTO and RPO per
// phase, as gauges, so a dashboard charts them drill after drill.
const (
	metricDrills   = "failover_drills_total"
	metricDrillRTO = "failover_drill_rto_seconds"
	metricDrillRPO = "failover_drill_rpo_seconds"
)

// DrillRequest starts a drill. Like Request it carries no secrets.
type DrillRequest struct {
	Plan     plan.Plan `json:"plan"`
	PlanHash string    `json:"plan_hash"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	// Fault injects the outage in From; nil drills a switchover (the failover is forced: nothing is down). It is an
	// HTTP request or the name of a command hook the worker declares (activities.CommandHooks): never a command.
	Fault *activities.FaultHook `json:"fault,omitempty"`
	// Recover ends the outage after the soak, before the failback (whose hold-down needs From healthy).
	Recover *activities.FaultHook `json:"recover,omitempty"`
	// Soak is how long traffic stays on To before the failback.
	Soak time.Duration `json:"soak"`
	// SkipFailback leaves traffic on To (the drill then ends after the soak).
	SkipFailback bool `json:"skip_failback,omitempty"`
	// By is who started it (a person, or the schedule's ID).
	By string `json:"by"`
}

// Validate checks a drill request before it starts.
func (r DrillRequest) Validate() error {
	fo := Request{Plan: r.Plan, PlanHash: r.PlanHash, From: r.From, To: r.To, Kind: KindFailover}
	var errs []error
	if err := fo.Validate(); err != nil {
		errs = append(errs, err)
	}
	if r.Soak < 0 {
		errs = append(errs, fmt.Errorf("soak: %s is negative: give how long traffic stays on %s, e.g. 30s", r.Soak, r.To))
	}
	for _, h := range []struct {
		field string
		hook  *activities.FaultHook
	}{{"fault", r.Fault}, {"recover", r.Recover}} {
		if h.hook == nil {
			continue
		}
		switch {
		case h.hook.Command != "" && (h.hook.Method != "" || h.hook.URL != ""):
			errs = append(errs, fmt.Errorf("%s: give an HTTP hook (--%s-url) or a command hook (--%s-hook), not both", h.field, h.field, h.field))
		case h.hook.Command != "":
			if err := activities.CheckHookName(h.hook.Command); err != nil {
				errs = append(errs, fmt.Errorf("%s: command hook %w: name a hook of the worker's hooks file (--%s-hook)", h.field, err, h.field))
			}
		case h.hook.Method == "" || h.hook.URL == "":
			errs = append(errs, fmt.Errorf("%s: give a method and an http(s) URL, e.g. POST http://region/fault", h.field))
		}
	}
	if r.Fault != nil && r.Recover == nil && !r.SkipFailback {
		errs = append(errs, errors.New("recover: a fault without a recovery hook leaves the source down, and the failback's "+
			"hold-down would never pass: give --recover-url or --recover-hook (or --no-failback)"))
	}
	return errors.Join(errs...)
}

// commandHooks are the names of the command hooks the drill runs.
func (r DrillRequest) commandHooks() []string {
	var names []string
	for _, h := range []*activities.FaultHook{r.Fault, r.Recover} {
		if h != nil && h.Command != "" {
			names = append(names, h.Command)
		}
	}
	return names
}

// DrillPhase is the failover or the failback of a drill, as the report shows it.
type DrillPhase struct {
	Name       string      `json:"name"` // failover or failback
	WorkflowID string      `json:"workflow_id"`
	RunID      string      `json:"run_id,omitempty"`
	Outcome    Outcome     `json:"outcome"`
	Reason     string      `json:"reason,omitempty"`
	RTOSeconds float64     `json:"rto_seconds,omitempty"`
	RPOSeconds *float64    `json:"rpo_seconds,omitempty"`
	SLA        *SLAVerdict `json:"sla,omitempty"`
	// Humans are the decisions people made in this phase: each one is a step that needed a human.
	Humans []string `json:"humans,omitempty"`
	// Policy is set when the plan approved the phase without people because it is a drill's failback
	// (DrillFailbackApproved, drill.failback auto).
	Policy string `json:"policy,omitempty"`
}

// DrillHook is a fault or recovery hook the drill ran, and how it ended.
type DrillHook struct {
	Name string `json:"name"` // fault or recover
	Hook string `json:"hook"` // "POST http://…" or "command NAME"
	activities.FaultHookResult
	Error string `json:"error,omitempty"`
}

// DrillResult is a drill's report.
type DrillResult struct {
	Service string `json:"service"`
	From    string `json:"from"`
	To      string `json:"to"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason,omitempty"`
	// FaultAt is when the fault hook was sent (or the failover started, without one).
	FaultAt time.Time    `json:"fault_at"`
	Phases  []DrillPhase `json:"phases"`
	// SoakSeconds is how long traffic stayed on the target between the phases.
	SoakSeconds float64 `json:"soak_seconds,omitempty"`
	// Hooks are the fault and recovery hooks it ran, in order.
	Hooks []DrillHook `json:"hooks,omitempty"`
}

// NeededHuman lists, per phase, what a person had to do.
func (r DrillResult) NeededHuman() []string {
	var out []string
	for _, p := range r.Phases {
		for _, h := range p.Humans {
			out = append(out, p.Name+": "+h)
		}
	}
	return out
}

// Drill runs a drill: fault → failover → soak → recover → failback → report.
func Drill(ctx workflow.Context, req DrillRequest) (DrillResult, error) {
	d := &drill{req: req, res: DrillResult{Service: req.Plan.Service, From: req.From, To: req.To, FaultAt: workflow.Now(ctx)}}
	if err := d.start(ctx); err != nil {
		return DrillResult{}, err
	}
	var inFlight bool
	if err := workflow.ExecuteActivity(quick(ctx, "is a failover of "+req.Plan.Service+" in flight?"), a.FailoverInFlight,
		WorkflowID(req.Plan.Service)).Get(ctx, &inFlight); err != nil {
		return d.finish(ctx, DrillRefused, fmt.Sprintf("could not tell whether a failover of %s is in flight (%v): nothing was done",
			req.Plan.Service, err))
	}
	if inFlight {
		return d.finish(ctx, DrillRefused, fmt.Sprintf("a failover of %s is in flight (%s): a drill never runs beside one; nothing was done",
			req.Plan.Service, WorkflowID(req.Plan.Service)))
	}
	if names := req.commandHooks(); len(names) > 0 && workflow.GetVersion(ctx, drillCommandHooks, workflow.DefaultVersion, 1) == 1 {
		// Both hooks must be there before the fault: a drill that could not end its outage must not start it.
		if err := workflow.ExecuteActivity(quick(ctx, fmt.Sprintf("are command hooks %v declared on the worker?", names)),
			a.CheckFaultHooks, names).Get(ctx, nil); err != nil {
			return d.finish(ctx, DrillFailed, fmt.Sprintf("%s: nothing was done", failureMessage(err)))
		}
	}
	if req.Fault != nil {
		d.res.FaultAt = workflow.Now(ctx)
		if err := d.hook(ctx, "fault", "inject the fault", *req.Fault); err != nil {
			return d.finish(ctx, DrillFailed, fmt.Sprintf("fault hook %s: %s: nothing else was started", req.Fault, failureMessage(err)))
		}
	}
	fo, refused := d.phase(ctx, KindFailover, req.From, req.To)
	if refused != "" {
		d.recover(ctx)
		return d.finish(ctx, DrillRefused, refused)
	}
	if fo.Outcome != Succeeded {
		d.recover(ctx)
		return d.finish(ctx, DrillFailed, fmt.Sprintf("the failover ended %s: %s", fo.Outcome, fo.Reason))
	}
	soakStart := workflow.Now(ctx)
	d.progress(ctx, fmt.Sprintf("soak: traffic on %s for %s", req.To, req.Soak))
	if err := sleep(ctx, req.Soak, "soak "+req.Soak.String()+" on "+req.To); err != nil {
		d.recover(ctx)
		return d.finish(ctx, DrillFailed, "soak interrupted: "+err.Error())
	}
	d.res.SoakSeconds = workflow.Now(ctx).Sub(soakStart).Seconds()
	if err := d.recover(ctx); err != nil {
		return d.finish(ctx, DrillFailed, fmt.Sprintf("recovery hook %s: %s: %s is still faulted and traffic is on %s",
			req.Recover, failureMessage(err), req.From, req.To))
	}
	if req.SkipFailback {
		return d.finish(ctx, d.verdict(), "")
	}
	fb, refused := d.phase(ctx, KindFailback, req.To, req.From)
	switch {
	case refused != "":
		return d.finish(ctx, DrillFailed, "failback: "+refused)
	case fb.Outcome != Succeeded:
		return d.finish(ctx, DrillFailed, fmt.Sprintf("the failback ended %s: %s (traffic is on %s)", fb.Outcome, fb.Reason, req.To))
	}
	return d.finish(ctx, d.verdict(), "")
}

type drill struct {
	req       DrillRequest
	res       DrillResult
	recovered bool
}

func (d *drill) start(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (DrillResult, error) { return d.res, nil }); err != nil {
		return fmt.Errorf("register drill query: %w", err)
	}
	if err := d.req.Validate(); err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("bad drill request: %v", err), "BadRequest", nil)
	}
	d.progress(ctx, "starting")
	return workflow.UpsertTypedSearchAttributes(ctx, ServiceKey.ValueSet(d.req.Plan.Service), FromKey.ValueSet(d.req.From),
		ToKey.ValueSet(d.req.To), DrillKey.ValueSet(true), StepKey.ValueSet(StepStart))
}

// hook runs a fault or recovery hook (name says which) and records how it ended. A command hook runs as long as
// the worker's hooks file lets it, so it gets options of its own; an HTTP hook is one quick request.
func (d *drill) hook(ctx workflow.Context, name, what string, h activities.FaultHook) error {
	d.progress(ctx, what+": "+h.String())
	actx := quick(ctx, what+": "+h.String())
	if h.Command != "" {
		actx = commandHooking(ctx, what+": "+h.String())
	}
	run := DrillHook{Name: name, Hook: h.String()}
	err := workflow.ExecuteActivity(actx, a.RunFaultHook, h).Get(ctx, &run.FaultHookResult)
	if err != nil {
		run.Error = failureMessage(err)
	}
	d.res.Hooks = append(d.res.Hooks, run)
	return err
}

// failureMessage is what an activity's failure says, without the SDK's wrapping (activity type, event IDs).
func failureMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// recover ends the injected outage once (also when the drill fails, so a drill never leaves a region broken).
func (d *drill) recover(ctx workflow.Context) error {
	if d.recovered || d.req.Recover == nil {
		return nil
	}
	d.recovered = true
	return d.hook(ctx, "recover", "end the fault", *d.req.Recover)
}

// phase runs the failover or failback as a child workflow failover-<service>; refused says why it could not start.
func (d *drill) phase(ctx workflow.Context, kind, from, to string) (DrillPhase, string) {
	p := DrillPhase{Name: kind, WorkflowID: WorkflowID(d.req.Plan.Service)}
	d.progress(ctx, fmt.Sprintf("%s %s → %s (%s)", kind, from, to, p.WorkflowID))
	req := Request{Plan: d.req.Plan, PlanHash: d.req.PlanHash, From: from, To: to, Kind: kind,
		Force:   kind == KindFailover && d.req.Fault == nil,
		Trigger: Trigger{Source: TriggerDrill, By: d.req.By, Drill: workflow.GetInfo(ctx).WorkflowExecution.ID}}
	if kind == KindFailover {
		req.Trigger.FaultAt = d.res.FaultAt
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:          p.WorkflowID,
		TaskQueue:           TaskQueue,
		WorkflowTaskTimeout: WorkflowTaskTimeout,
		// Cancelling the drill cancels the phase, which then rolls back as any cancelled failover does.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
		StaticSummary:         fmt.Sprintf("DRILL %s of %s: %s → %s", kind, d.req.Plan.Service, from, to),
		TypedSearchAttributes: temporal.NewSearchAttributes(DrillKey.ValueSet(true)),
	})
	fut := workflow.ExecuteChildWorkflow(cctx, Failover, req)
	var exec workflow.Execution
	if err := fut.GetChildWorkflowExecution().Get(ctx, &exec); err != nil {
		var started *temporal.ChildWorkflowExecutionAlreadyStartedError
		if errors.As(err, &started) {
			return p, fmt.Sprintf("a failover of %s is in flight (%s): a drill never runs beside one; nothing was done",
				d.req.Plan.Service, p.WorkflowID)
		}
		return p, fmt.Sprintf("%s did not start: %v", kind, err)
	}
	p.RunID = exec.RunID
	var res Result
	if err := fut.Get(ctx, &res); err != nil {
		p.Outcome, p.Reason = FailedNeedsHuman, err.Error()
	} else {
		p.Outcome, p.Reason, p.RTOSeconds, p.RPOSeconds, p.SLA = res.Outcome, res.Reason, res.RTOSeconds, res.RPOSeconds, res.SLA
		for _, ap := range res.Approvals {
			switch {
			case ap.Via != "plan":
				p.Humans = append(p.Humans, fmt.Sprintf("%s by %s via %s", ap.Decision, ap.By, ap.Via))
			case ap.Decision == DecisionDrillFailbackPolicy:
				p.Policy = DrillFailbackApproved
			}
		}
		if res.Outcome == FailedNeedsHuman {
			p.Humans = append(p.Humans, "finish by hand: "+leftoverSummary(res.StillChanged))
		}
	}
	d.res.Phases = append(d.res.Phases, p)
	return p, ""
}

// verdict is passed, or breached when a phase missed the SLA.
func (d *drill) verdict() string {
	for _, p := range d.res.Phases {
		if p.SLA != nil && p.SLA.Verdict == SLABreached {
			return DrillBreached
		}
	}
	return DrillPassed
}

// finish records the verdict in the Web UI, the audit log, Slack and failover_drills_total, and returns the report.
func (d *drill) finish(ctx workflow.Context, verdict, reason string) (DrillResult, error) {
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	d.res.Verdict, d.res.Reason = verdict, reason
	if reason == "" && verdict == DrillBreached {
		for _, p := range d.res.Phases {
			if p.SLA != nil && p.SLA.Verdict == SLABreached {
				d.res.Reason += p.Name + ": " + p.SLA.String() + ". "
			}
		}
	}
	d.progress(ctx, "done: "+verdict)
	_ = workflow.UpsertTypedSearchAttributes(ctx, StepKey.ValueSet(StepDone), OutcomeKey.ValueSet(verdict))
	h := workflow.GetMetricsHandler(ctx)
	h.WithTags(map[string]string{"service": d.req.Plan.Service, "result": verdict}).Counter(metricDrills).Inc(1)
	for _, p := range d.res.Phases {
		ph := h.WithTags(map[string]string{"service": d.req.Plan.Service, "phase": p.Name})
		if p.Outcome == Succeeded {
			ph.Gauge(metricDrillRTO).Update(p.RTOSeconds)
		}
		if p.RPOSeconds != nil {
			ph.Gauge(metricDrillRPO).Update(*p.RPOSeconds)
		}
	}
	info := workflow.GetInfo(ctx)
	e := activities.Event{Seq: 1, Time: workflow.Now(ctx), Type: activities.EventDrill, Drill: true,
		WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, Service: d.req.Plan.Service,
		Kind: "drill", From: d.req.From, To: d.req.To, PlanHash: d.req.PlanHash, Channel: d.req.Plan.Approval.SlackChannel,
		Actor: d.req.By, Outcome: verdict, Reason: d.res.Reason, Evidence: d.res.Lines()}
	for _, p := range d.res.Phases {
		e.SLABreaches = append(e.SLABreaches, p.SLA.BreachKinds()...)
	}
	if err := workflow.ExecuteActivity(auditing(ctx, "audit the drill"), a.RecordAudit, []activities.Event{e}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("drill not audited", "error", err)
	}
	if err := workflow.ExecuteActivity(notifying(ctx, "report the drill to Slack"), a.Notify,
		activities.NotifyInput{Events: []activities.Event{e}}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("drill report not delivered to Slack; the audit log has it", "error", err)
	}
	return d.res, nil
}

// progress shows where the drill is in the Web UI.
func (d *drill) progress(ctx workflow.Context, now string) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**DRILL %s: %s → %s** — %s\n\n%s", d.req.Plan.Service, d.req.From, d.req.To, now,
		joinLines(d.res.Lines())))
}

// Lines renders the report's phases, one line each, with what needed a human.
func (r DrillResult) Lines() []string {
	var out []string
	for _, p := range r.Phases {
		line := fmt.Sprintf("%s %s: RTO %.1fs, RPO %s", p.Name, p.Outcome, p.RTOSeconds, RPOString(p.RPOSeconds))
		if p.SLA != nil {
			line += ", " + p.SLA.String()
		}
		if len(p.Humans) > 0 {
			line += fmt.Sprintf("; needed a human: %v", p.Humans)
		}
		if p.Policy != "" {
			line += "; " + p.Policy
		}
		out = append(out, line)
	}
	for _, h := range r.Hooks {
		out = append(out, h.Line())
	}
	return out
}

// Line renders how a hook ended, without its output (the report's JSON and the Web UI have it).
func (h DrillHook) Line() string {
	line := fmt.Sprintf("%s hook %s: ", h.Name, h.Hook)
	switch {
	case h.Error != "":
		line += "failed: " + h.Error
	case h.ExitCode != nil:
		line += fmt.Sprintf("exit %d in %.1fs", *h.ExitCode, h.Seconds)
	default:
		line += fmt.Sprintf("HTTP %d", h.Status)
	}
	return line
}

func joinLines(lines []string) string {
	s := ""
	for _, l := range lines {
		s += "- " + l + "\n"
	}
	return s
}
