package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// Temporal is what the webhook needs from a Temporal client (through package control); client.Client has it.
type Temporal interface {
	control.Describer
	control.Starter
	control.Signaler
	control.Joiner
	control.Querier
}

// Options configure the webhook handler.
type Options struct {
	Temporal Temporal
	Router   *Router
	// Auth must have at least one credential: the handler refuses every request otherwise.
	Auth Auth
	// Metrics defaults to counters registered nowhere.
	Metrics *Metrics
	Logger  *slog.Logger
	// MaxBody bounds the request body; default DefaultMaxBody. Larger bodies get 413.
	MaxBody int64
	// Timeout bounds the Temporal calls of one request; default 10s. Past it the answer is 503 and Alertmanager
	// retries. A request held for the region's evacuation (Settle) gets the whole Timeout again after the hold.
	Timeout time.Duration
	// Settle is how long a firing per-service alert about a region with a region-wide route may be held for that
	// region's evacuation, counted from when the alert began (settle.go); 0 takes DefaultSettle, negative holds
	// nothing.
	Settle time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Sleep waits out a hold, returning early with ctx's error (tests); default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Handler is the POST /webhooks/alertmanager endpoint. For every alert that matches a route it signals the
// service's failover workflow (failover-<service>) with workflows.AlertSignal: a firing alert starts the failover
// when none runs (Signal-With-Start, so concurrent duplicates attach to one run), a resolved alert only reaches a
// running one. An alert that matches a region-wide route (evacuation:) starts the evacuation of its region instead
// (evacuate.go), or joins the running one, and while it runs a per-service alert for a service it still has to
// move is answered covered (covered.go); a resolved one starts and stops nothing. A firing per-service alert
// that may have come just before its region's evacuation is held in the request for it first (settle.go). Answers: 200 with what became of each alert, including those rejected one by one (a required label
// or field missing: Alertmanager drops a notification answered 4xx, so one bad alert must not cost its group);
// 400 (with the reason) for a notification that cannot be read as a whole (malformed JSON, another payload
// version); 401 without valid credentials; 413 for an oversized body; 503 when Temporal does not answer or the
// body could not be read to its end (a broken or slow connection), so Alertmanager retries. README "HTTP answers
// and retries" lists every endpoint's answers.
type Handler struct {
	o Options
	// started remembers, per workflow ID, the run this process counted as started: Signal-With-Start does not say
	// whether it started the run, and concurrent duplicates all see "no failover yet" before they send.
	mu      sync.Mutex
	started map[string]string
	// scopes remembers, per evacuation ID, what its running evacuation still has to move (covered.go).
	scopes map[string]*evacuationScope
}

// NewHandler checks the options and fills the defaults.
func NewHandler(o Options) (*Handler, error) {
	switch {
	case o.Temporal == nil:
		return nil, errors.New("alerts: Options.Temporal is nil")
	case o.Router == nil:
		return nil, errors.New("alerts: Options.Router is nil: load the routes file")
	case !o.Auth.Configured():
		return nil, errors.New("alerts: no credentials: set a bearer token or basic-auth user and password")
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Settle == 0 {
		o.Settle = DefaultSettle
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	return &Handler{o: o, started: map[string]string{}, scopes: map[string]*evacuationScope{}}, nil
}

// Response is the body of a 200 answer.
type Response struct {
	Alerts []Result `json:"alerts"`
}

// Result is what became of one alert.
type Result struct {
	Alertname   string `json:"alertname"`
	Fingerprint string `json:"fingerprint"`
	Status      string `json:"status"`
	// Action is started, attached, ignored, unmatched, rejected or covered.
	Action     string `json:"action"`
	WorkflowID string `json:"workflow_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, OutcomeBadMethod, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if !h.o.Auth.Allow(r) {
		h.o.Logger.Warn("webhook: rejected a request without valid credentials", "remote", r.RemoteAddr,
			"user_agent", r.UserAgent())
		w.Header().Set("WWW-Authenticate", `Bearer realm="failover", Basic realm="failover"`)
		h.fail(w, OutcomeUnauthorized, http.StatusUnauthorized, "missing or wrong credentials: send the bearer token or basic auth")
		return
	}
	if r.ContentLength > h.o.MaxBody {
		h.fail(w, OutcomeTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body of %d bytes: the limit is %d (lower the receiver's max_alerts)", r.ContentLength, h.o.MaxBody))
		return
	}
	p, err := Decode(http.MaxBytesReader(w, r.Body, h.o.MaxBody), h.o.MaxBody)
	if errors.Is(err, ErrTooLarge) {
		h.fail(w, OutcomeTooLarge, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	if errors.Is(err, ErrUnreadable) {
		// Not the notification's fault: a 4xx would make Alertmanager drop it with every alert in it.
		h.o.Logger.Warn("webhook: body not read to its end; answering 503 so Alertmanager retries", "err", err, "remote", r.RemoteAddr)
		h.fail(w, OutcomeUnreadable, http.StatusServiceUnavailable, err.Error()+": retry")
		return
	}
	if err != nil {
		h.o.Logger.Warn("webhook: bad notification", "err", err, "remote", r.RemoteAddr)
		h.fail(w, OutcomeBadRequest, http.StatusBadRequest, err.Error())
		return
	}
	received := h.o.Now()

	// Check and route every alert before acting on any. An alert that cannot be acted on as sent is rejected on its
	// own; its siblings are still delivered.
	results := make([]Result, len(p.Alerts))
	targets := make([]*Target, len(p.Alerts))
	for i, a := range p.Alerts {
		results[i] = Result{Alertname: a.Name(), Fingerprint: a.Fingerprint, Status: a.Status}
		if err := a.Validate(); err != nil {
			results[i].Action, results[i].Reason = ActionRejected, fmt.Sprintf("alerts[%d]: %v", i, err)
			continue
		}
		t, ok, err := h.o.Router.Route(a)
		switch {
		case !ok:
			results[i].Action, results[i].Reason = ActionUnmatched, "no route matches its labels"
		case errors.Is(err, ErrMissingLabel) || errors.Is(err, ErrWrongRegion):
			results[i].Action, results[i].Reason = ActionRejected, fmt.Sprintf("alerts[%d]: %v", i, err)
		case err != nil:
			results[i].Action, results[i].Reason = ActionIgnored, err.Error()
		default:
			targets[i] = &t
			results[i].WorkflowID = workflows.WorkflowID(t.Plan.Service)
			if t.Evacuation != nil {
				results[i].WorkflowID = workflows.EvacuationID(workflows.KindFailover, t.From)
			}
		}
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	for i, a := range p.Alerts {
		res := &results[i]
		if t := targets[i]; t != nil {
			sig := workflows.Alert{Status: a.Status, Alertname: a.Name(), Fingerprint: a.Fingerprint, GroupKey: p.GroupKey,
				Severity: a.Labels["severity"], Labels: a.Labels, StartsAt: a.StartsAt, EndsAt: a.EndsAt, ReceivedAt: received}
			trigger := workflows.Trigger{Source: workflows.TriggerAlert, By: "alertmanager", Alert: a.Name(),
				Severity: a.Labels["severity"], FaultAt: a.StartsAt}
			switch {
			case t.Evacuation != nil && a.Status == Firing:
				err = h.evacuate(ctx, res, *t, sig, trigger, nil)
			case t.Evacuation != nil:
				res.Action, res.Reason = ActionIgnored, fmt.Sprintf("a resolved region-wide alert starts and stops nothing: "+
					"a running evacuation of %s goes on (`starter abort %s` stops it)", t.From, res.WorkflowID)
			case a.Status == Firing:
				var held bool
				held, err = h.settle(ctx, r.Context(), *t, sig, received)
				if held {
					// The Temporal calls after the hold get the whole Timeout.
					heldCtx, cancelHeld := context.WithTimeout(r.Context(), h.o.Timeout)
					defer cancelHeld()
					ctx = heldCtx
				}
				if err == nil {
					err = h.fire(ctx, res, *t, sig, trigger)
				}
			default:
				err = h.resolve(ctx, res, *t, sig)
			}
			if errors.Is(err, errHoldCut) {
				h.o.Logger.Warn("webhook: the request ended during the hold; answering 503 so Alertmanager retries",
					"alertname", res.Alertname, "fingerprint", res.Fingerprint, "workflow", res.WorkflowID, "err", err)
				h.fail(w, OutcomeUnavailable, http.StatusServiceUnavailable, err.Error()+": retry")
				return
			}
			if err != nil {
				// Alerts before this one were delivered; on the retry they arrive again and attach as repeats.
				h.o.Logger.Error("webhook: Temporal did not take the alert; answering 503 so Alertmanager retries",
					"alertname", res.Alertname, "fingerprint", res.Fingerprint, "workflow", res.WorkflowID, "err", err)
				h.fail(w, OutcomeUnavailable, http.StatusServiceUnavailable, fmt.Sprintf("temporal: %v: retry later", err))
				return
			}
		}
		h.o.Metrics.Alerts.WithLabelValues(res.Action).Inc()
		level := slog.LevelInfo
		if res.Action == ActionRejected {
			level = slog.LevelWarn
		}
		h.o.Logger.Log(ctx, level, "webhook: alert", "action", res.Action, "alertname", res.Alertname, "status", res.Status,
			"fingerprint", res.Fingerprint, "workflow", res.WorkflowID, "run", res.RunID, "reason", res.Reason,
			"labels", a.Labels, "group", p.GroupKey)
	}
	h.o.Metrics.Requests.WithLabelValues(OutcomeOK).Inc()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Response{Alerts: results})
}

func (h *Handler) fail(w http.ResponseWriter, outcome string, code int, msg string) {
	h.o.Metrics.Requests.WithLabelValues(outcome).Inc()
	http.Error(w, msg, code)
}

// fire delivers a firing alert: a service the running evacuation of the alert's region still has to move is
// covered by it and nothing starts (covered.go); otherwise it joins the running failover (as evidence only when
// that failover moves away from another region), or starts one unless the latest run, a failover away from this
// alert's region, already handled it; inside the plan's cooldown after a successful failover it asks for a human. Read and start are two calls;
// a deadline on the start and the hold of alert-started runs make the pair start at most one run per outage
// (workflows/outage.go explains why, and why Temporal's request-ID dedup does not).
func (h *Handler) fire(ctx context.Context, res *Result, t Target, sig workflows.Alert, trigger workflows.Trigger) error {
	if ok, err := h.covered(ctx, res, t); ok || err != nil {
		return err
	}
	id := res.WorkflowID
	for attempt := 1; ; attempt++ {
		// The start decided on from this read must reach Temporal within workflows.AlertJoinWindow of the read:
		// with the hold of alert-started runs that makes "one run per outage" hold (workflows/outage.go).
		read := time.Now()
		desc, err := control.Latest(ctx, h.o.Temporal, id)
		if err != nil {
			return err
		}
		if desc != nil && desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			// Signal that very run: if it closes meanwhile the signal fails (rather than starting a second
			// failover for an alert the first one handled) and the decision is made again.
			run := desc.WorkflowExecution.RunID
			err := control.Signal(ctx, h.o.Temporal, id, run, sig)
			if control.IsNotFound(err) && attempt < 3 {
				continue
			}
			if err != nil {
				return err
			}
			res.Action, res.RunID = ActionAttached, run
			if from, ok := desc.TypedSearchAttributes.GetKeyword(workflows.FromKey); ok && from != t.From {
				// The workflow records it as about another region and does not count it as its source's alert.
				res.Reason = fmt.Sprintf("about %s, the running failover moves %s away from %s: recorded as evidence only",
					t.From, t.Plan.Service, from)
			}
			return nil
		}
		if desc != nil && desc.WorkflowCloseTime != nil {
			closed, run := *desc.WorkflowCloseTime, desc.WorkflowExecution.RunID
			outcome, _ := desc.TypedSearchAttributes.GetKeyword(workflows.OutcomeKey)
			// Only a run that moved away from the alert's region handled it: one that moved traffic to that region
			// (or between others) merely saw it. A run without the attribute is taken as this alert's, as resolve does.
			from, known := desc.TypedSearchAttributes.GetKeyword(workflows.FromKey)
			if (!known || from == t.From) && !sig.StartsAt.After(closed) {
				res.Action, res.RunID = ActionIgnored, run
				res.Reason = fmt.Sprintf("already handled: the alert began at %s, before run %s closed at %s with outcome %q; "+
					"start another failover with `starter start` if one is needed",
					sig.StartsAt.Format(time.RFC3339), run, closed.Format(time.RFC3339), outcome)
				return nil
			}
			if since := h.o.Now().Sub(closed); desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED &&
				outcome == workflows.Succeeded && since < t.Plan.Cooldown {
				trigger.RequireApproval = true
				trigger.RequireReason = fmt.Sprintf("within the %s cooldown after %s run %s (succeeded %s ago)",
					t.Plan.Cooldown, id, run, since.Round(time.Second))
				res.Reason = trigger.RequireReason + ": needs approval"
			}
		}
		req := workflows.Request{Plan: t.Plan, PlanHash: t.Plan.Hash(), From: t.From, To: t.To, Kind: workflows.KindFailover,
			Trigger: trigger}
		if err := req.Validate(); err != nil {
			// The routes were checked against the plans at startup; this is a bug, not the alert's fault.
			return fmt.Errorf("build the request for %s: %w", id, err)
		}
		joinCtx, cancel := context.WithDeadline(ctx, read.Add(workflows.AlertJoinWindow))
		run, err := control.Join(joinCtx, h.o.Temporal, req, sig)
		cancel()
		if err != nil {
			return err
		}
		res.Action, res.RunID = h.claimStart(id, run.GetRunID()), run.GetRunID()
		return nil
	}
}

// resolve delivers a resolved alert to the running failover away from the alert's region (before the cutover the
// workflow then stops with outcome source-recovered). It never starts a failover.
func (h *Handler) resolve(ctx context.Context, res *Result, t Target, sig workflows.Alert) error {
	id := res.WorkflowID
	desc, err := control.Latest(ctx, h.o.Temporal, id)
	if err != nil {
		return err
	}
	if desc == nil || desc.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		res.Action, res.Reason = ActionIgnored, "no failover of "+t.Plan.Service+" is running"
		return nil
	}
	run := desc.WorkflowExecution.RunID
	if from, ok := desc.TypedSearchAttributes.GetKeyword(workflows.FromKey); ok && from != t.From {
		res.Action, res.RunID = ActionIgnored, run
		res.Reason = fmt.Sprintf("the running failover moves %s away from %s, not from %s", t.Plan.Service, from, t.From)
		return nil
	}
	err = control.Signal(ctx, h.o.Temporal, id, run, sig)
	if control.IsNotFound(err) {
		res.Action, res.RunID, res.Reason = ActionIgnored, run, "the failover finished meanwhile"
		return nil
	}
	if err != nil {
		return err
	}
	res.Action, res.RunID = ActionAttached, run
	return nil
}

// Fire delivers a firing alert from another source than Alertmanager (the region watcher, package watcher) through
// the webhook's own path: the same workflow ID, read and Signal-With-Start, join window and hold, so it starts at
// most one run per outage together with the alerts and the other front doors. sig.StartsAt is when the outage
// began; trigger says who starts the failover. An error means Temporal did not take it: try again later.
func (h *Handler) Fire(ctx context.Context, t Target, sig workflows.Alert, trigger workflows.Trigger) (Result, error) {
	res := Result{Alertname: sig.Alertname, Fingerprint: sig.Fingerprint, Status: sig.Status, WorkflowID: workflows.WorkflowID(t.Plan.Service)}
	ctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	defer cancel()
	err := h.fire(ctx, &res, t, sig, trigger)
	return res, err
}

// Resolve delivers a resolved alert from another source than Alertmanager, as the webhook delivers one.
func (h *Handler) Resolve(ctx context.Context, t Target, sig workflows.Alert) (Result, error) {
	res := Result{Alertname: sig.Alertname, Fingerprint: sig.Fingerprint, Status: sig.Status, WorkflowID: workflows.WorkflowID(t.Plan.Service)}
	ctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	defer cancel()
	err := h.resolve(ctx, &res, t, sig)
	return res, err
}

func (h *Handler) claimStart(id, run string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started[id] == run {
		return ActionAttached
	}
	h.started[id] = run
	return ActionStarted
}
